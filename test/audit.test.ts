/**
 * The audit log (src/audit): the same suite against SQLite and a real PostgreSQL server — durable
 * appends with contiguous seq under concurrency, signed checkpoints, export + offline verification,
 * and verification failing on each kind of tampering with the stored events or the export.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { AuditLog, exportLog, verifyExport, requestsOf, sessionsOf, type AuditEventInput, type ExportLine } from '../src/audit/index.ts';
import { startPostgres, type TestPostgres } from './helpers/postgres.ts';

let pgServer: TestPostgres;
const dirs: string[] = [];
const tmp = () => { const d = mkdtempSync(join(tmpdir(), 'bqgate-audit-')); dirs.push(d); return d; };

beforeAll(async () => { pgServer = await startPostgres(); }, 120_000);
afterAll(() => { pgServer?.stop(); for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

const ev = (requestId: string, type: AuditEventInput['type'], data: Record<string, unknown> = {}, principal = 'agent-7'): AuditEventInput =>
  ({ requestId, type, principal, issuer: 'http://issuer.test', actor: 'bot-1', data });

/** Raw SQL on the store behind a log, to tamper with it as an attacker with database access would. */
interface Raw { exec(sql: string): Promise<void>; close(): Promise<void> }

const stores: Array<{ name: string; open: (dir: string) => Promise<{ log: AuditLog; raw: () => Promise<Raw>; reopen: () => Promise<AuditLog> }> }> = [
  {
    name: 'SQLite',
    open: async (dir) => ({
      log: await AuditLog.open(dir, { checkpointEvery: 10 }),
      raw: async () => { const db = new Database(join(dir, 'audit.sqlite')); return { exec: async (sql) => { db.exec(sql); }, close: async () => { db.close(); } }; },
      reopen: () => AuditLog.open(dir, { checkpointEvery: 10 }),
    }),
  },
  {
    name: 'SQLite on a worker thread',
    open: async (dir) => ({
      log: await AuditLog.open(dir, { checkpointEvery: 10, sqliteThread: true }),
      raw: async () => { const db = new Database(join(dir, 'audit.sqlite')); return { exec: async (sql) => { db.exec(sql); }, close: async () => { db.close(); } }; },
      reopen: () => AuditLog.open(dir, { checkpointEvery: 10, sqliteThread: true }),
    }),
  },
  {
    name: 'PostgreSQL',
    open: async (dir) => {
      const schema = `t${Math.random().toString(36).slice(2, 10)}`;
      const admin = new pg.Client(pgServer.url);
      await admin.connect();
      await admin.query(`CREATE SCHEMA ${schema}`);
      await admin.end();
      const url = `${pgServer.url}?options=${encodeURIComponent(`-c search_path=${schema}`)}`;
      return {
        log: await AuditLog.open(dir, { checkpointEvery: 10, postgresUrl: url }),
        raw: async () => { const c = new pg.Client(url); await c.connect(); return { exec: async (sql) => { await c.query(sql); }, close: () => c.end() }; },
        reopen: () => AuditLog.open(dir, { checkpointEvery: 10, postgresUrl: url }),
      };
    },
  },
];

async function exported(log: AuditLog): Promise<ExportLine[]> {
  const lines: ExportLine[] = [];
  for await (const l of exportLog(log)) lines.push(JSON.parse(JSON.stringify(l)));
  return lines;
}

describe.each(stores)('audit log on $name', ({ open }) => {
  it('numbers concurrent appends without gaps, each request\'s events in order, durable when resolved', async () => {
    const dir = tmp();
    const { log, reopen } = await open(dir);
    const results = await Promise.all(Array.from({ length: 60 }, (_, i) => log.append([ev(`r${i}`, 'request', { i }), ev(`r${i}`, 'response', { status: 200 })])));
    const seqs = results.flat().map((e) => e.seq).sort((a, b) => a - b);
    expect(seqs).toEqual(Array.from({ length: 120 }, (_, i) => i));
    for (const r of results) expect(r[1].seq).toBe(r[0].seq + 1);
    expect(await log.size()).toBe(120);
    await log.close();
    // Reopened (a restart): everything is there, and appends continue the numbering.
    const again = await reopen();
    expect((await again.events()).length).toBe(120);
    expect((await again.append([ev('late', 'request')]))[0].seq).toBe(120);
    expect(verifyExport(await exported(again)).ok).toBe(true);
    await again.close();
  });

  it('signs checkpoints; an untouched export verifies; queries select by principal, table and decision', async () => {
    const { log } = await open(tmp());
    await log.append([ev('a', 'request', { sql: 'SELECT 1' }), ev('a', 'decision', { effect: 'allow', matchedRules: ['r1'], reasons: [], tables: ['p.shop.orders'], columns: ['p.shop.orders.order_id'] })]);
    await log.append([ev('b', 'request', {}, 'agent-8'), ev('b', 'decision', { effect: 'deny', matchedRules: ['no-ssn'], reasons: ['ssn'], tables: ['p.shop.customers'], columns: ['p.shop.customers.ssn'] }, 'agent-8')]);
    for (let i = 0; i < 25; i++) await log.append([ev(`c${i}`, 'request', { i })]);
    const lines = await exported(log);
    const report = verifyExport(lines);
    expect(report).toMatchObject({ ok: true, events: 29, treeSize: 29 });
    expect(report.checkpoints).toBeGreaterThanOrEqual(3); // every 10 events, and one at export
    expect((await log.events({ principal: 'agent-8' })).map((e) => e.type)).toEqual(['request', 'decision']);
    expect(new Set((await log.events({ table: 'p.shop.orders' })).map((e) => e.requestId))).toEqual(new Set(['a']));
    expect(new Set((await log.events({ column: 'p.shop.customers.ssn' })).map((e) => e.requestId))).toEqual(new Set(['b']));
    expect(new Set((await log.events({ decision: 'deny' })).map((e) => e.requestId))).toEqual(new Set(['b']));
    await log.close();
  });

  it('fails verification when a stored event is altered, deleted or reordered, and names it', async () => {
    const tamper = async (sql: (size: number) => string) => {
      const dir = tmp();
      const { log, raw } = await open(dir);
      for (let i = 0; i < 12; i++) await log.append([ev(`r${i}`, 'request', { sql: `SELECT ${i}` })]);
      await log.checkpoint();
      const r = await raw();
      await r.exec(sql(12));
      await r.close();
      const report = verifyExport(await exported(log));
      await log.close();
      return report;
    };
    // Altered content (the leaf hash left as it was).
    const altered = await tamper(() => `UPDATE audit_log SET body = REPLACE(body, 'SELECT 5', 'SELECT 6') WHERE seq = 5`);
    expect(altered.ok).toBe(false);
    expect(altered.failure).toMatchObject({ kind: 'altered', seq: 5 });
    // Altered content with a recomputed-looking leaf: not in the signed tree.
    const releafed = await tamper(() => `UPDATE audit_log SET leaf = (SELECT leaf FROM audit_log WHERE seq = 3), body = (SELECT body FROM audit_log WHERE seq = 3) WHERE seq = 4`);
    expect(releafed.ok).toBe(false);
    expect(['reordered', 'altered', 'inclusion']).toContain(releafed.failure?.kind);
    // Deleted.
    const deleted = await tamper(() => 'DELETE FROM audit_log WHERE seq = 7');
    expect(deleted.failure).toMatchObject({ kind: 'missing', seq: 7 });
    // Reordered: two events swap places.
    const swapped = await tamper(() => 'UPDATE audit_log SET seq = -1 WHERE seq = 2; UPDATE audit_log SET seq = 2 WHERE seq = 3; UPDATE audit_log SET seq = 3 WHERE seq = -1;');
    expect(swapped.ok).toBe(false);
    expect(swapped.failure?.seq).toBe(2);
  });

  it('keeps checkpoints verifiable after retention prunes old event bodies', async () => {
    const { log } = await open(tmp());
    for (let i = 0; i < 8; i++) await log.append([ev(`r${i}`, 'request', { i })]);
    await log.checkpoint();
    expect(await log.prune(Date.now() + 1)).toBe(8);
    await log.append([ev('new', 'request', {})]);
    const report = verifyExport(await exported(log));
    expect(report).toMatchObject({ ok: true, pruned: 8, events: 1, treeSize: 9 });
    expect(await log.events()).toHaveLength(1);
    await log.close();
  });
});

describe('export tampering (offline)', () => {
  it('fails on an edited, dropped or swapped line and on a forged checkpoint', async () => {
    const log = await AuditLog.open(tmp(), { checkpointEvery: 4 });
    for (let i = 0; i < 10; i++) await log.append([ev(`r${i}`, 'request', { rows: i })]);
    const lines = await exported(log);
    await log.close();
    expect(verifyExport(lines).ok).toBe(true);
    const copy = () => JSON.parse(JSON.stringify(lines)) as any[];

    const edited = copy();
    edited[4].data.rows = 999;
    expect(verifyExport(edited).failure).toMatchObject({ kind: 'altered', seq: 3 });

    const dropped = copy();
    dropped.splice(6, 1);
    expect(verifyExport(dropped).failure).toMatchObject({ kind: 'missing', seq: 5 });

    const swapped = copy();
    [swapped[2], swapped[3]] = [swapped[3], swapped[2]];
    expect(verifyExport(swapped).failure).toMatchObject({ kind: 'reordered', seq: 1 });

    const forged = copy();
    const cp = forged.find((l) => l.kind === 'checkpoint');
    cp.root = Buffer.alloc(32).toString('base64');
    expect(verifyExport(forged).failure?.kind).toBe('signature');

    // Edited and re-hashed consistently: the leaf matches, but the signed tree does not include it.
    const rehashed = copy();
    const { leafBytes } = await import('../src/audit/events.ts');
    const { leafHash } = await import('../src/audit/merkle.ts');
    rehashed[2].data.rows = 42;
    const { kind: _k, proof: _p, proofSize: _s, ...event } = rehashed[2];
    rehashed[2].leaf = leafHash(leafBytes(event)).toString('hex');
    expect(verifyExport(rehashed).failure).toMatchObject({ kind: 'inclusion', seq: 1 });
  });
});

describe('sessions', () => {
  it('group by explicit session key, else by idle gap', () => {
    const at = (requestId: string, ts: number, principal: string, sessionKey?: string) => ({ requestId, type: 'request' as const, principal, issuer: 'i', sessionKey, data: { operation: 'jobs.query' }, id: requestId, seq: ts, ts, leaf: '' });
    const min = 60_000;
    const requests = requestsOf([at('a', 0, 'p1'), at('b', 10 * min, 'p1'), at('c', 50 * min, 'p1'), at('d', 5 * min, 'p2', 'job-42'), at('e', 120 * min, 'p2', 'job-42')]);
    const s = sessionsOf(requests, 30 * min);
    expect(s.map((x) => [x.principal, x.requestIds])).toEqual(expect.arrayContaining([['p1', ['a', 'b']], ['p1', ['c']], ['p2', ['d', 'e']]]));
    expect(s.find((x) => x.principal === 'p2')!.id).toBe('key:p2:job-42');
  });
});
