/**
 * The SQLite audit log's durability off the event loop (src/audit/wal-sync.ts, sqlite-log.ts):
 * commits with synchronous=NORMAL, each append resolved only after an fdatasync of the WAL. When the
 * WAL cannot be synced (here: the file is gone from under the connection), the append in flight and
 * every later one reject with backendError, and `ping` (readiness) reports the log down — fail closed.
 * Appends started while another commit is in flight get seq in call order and resolve in order.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { AuditLog, type AuditEventInput } from '../src/audit/index.ts';

const dirs: string[] = [];
const tmp = () => { const d = mkdtempSync(join(tmpdir(), 'bqgate-wal-')); dirs.push(d); return d; };
afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });
const ev = (requestId: string, type: AuditEventInput['type'] = 'request'): AuditEventInput => ({ requestId, type, principal: 'agent-7', issuer: 'http://issuer.test', data: { requestId } });

describe('SQLite audit log, synced off the event loop', () => {
  it('resolves appends in seq order while their commits overlap (each its own commit, started during the previous one\'s sync)', async () => {
    const dir = tmp();
    const log = await AuditLog.open(dir);
    const order: number[] = [];
    // One append per turn, so each is its own commit, started while the one before is still syncing.
    const all: Array<Promise<unknown>> = [];
    for (let i = 0; i < 20; i++) {
      all.push(log.append([ev(`r${i}`)]).then((s) => { order.push(s[0].seq); }));
      await new Promise((r) => setImmediate(r));
    }
    await Promise.all(all);
    const stats = log.stats();
    console.log(`20 appends: ${stats.commits} commits, resolved in seq order ${JSON.stringify(order)}`);
    expect(order).toEqual(Array.from({ length: 20 }, (_, i) => i));
    const db = new Database(join(dir, 'audit.sqlite'), { readonly: true });
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect((db.prepare('SELECT COUNT(*) AS n FROM audit_log').get() as { n: number }).n).toBe(20);
    db.close();
    await log.close();
  });

  it('fails the append in flight and every later one closed when the WAL cannot be synced, and ping says down', async () => {
    const dir = tmp();
    const log = await AuditLog.open(dir);
    await log.append([ev('before')]);
    unlinkSync(join(dir, 'audit.sqlite-wal')); // the WAL is gone: nothing written to it can be made durable
    const failed = await log.append([ev('after', 'request'), ev('after', 'decision')]).then(() => 'resolved', (e) => e);
    console.log(`append after the WAL vanished: ${failed.reason ?? failed}: ${failed.message ?? ''}`);
    expect(failed).toMatchObject({ reason: 'backendError' });
    await expect(log.append([ev('later')])).rejects.toMatchObject({ reason: 'backendError' });
    await expect(log.ping()).rejects.toThrow(/WAL could not be synced/);
    expect((await log.events()).map((e) => e.requestId)).toEqual(['before']); // reads stop at what was synced
  });
});
