/**
 * The audit log in SQLite (better-sqlite3): `<dataDir>/audit.sqlite`, WAL journal. One connection
 * writes; a batch is one transaction (group commit). Implements backend.ts.
 *
 * Durability: each write (append, checkpoint, sink cursor, prune) commits with synchronous=NORMAL
 * and then resolves only once wal-sync.ts has fdatasynced the WAL on libuv's threadpool — durable at
 * the same point as with synchronous=FULL, without blocking the event loop for the disk (a FULL
 * commit fsyncs inside better-sqlite3's synchronous call, stalling every request in flight). A
 * batch committed while an earlier one's flush is in flight starts its own flush at once; flushes
 * resolve in order. Reads through this connection see only what is durable (`durable`: the end
 * of the synced events); a failed sync breaks the log (every later write and `ping` reject).
 */
import type Database from 'better-sqlite3';
import { openSqlite } from '../sqlite.js';
import { logSchema, type LogBackend, type PendingEvent, type StoredEvent } from './backend.js';
import { indexFields, leafBytes, leafBytesWith, type AuditEvent, type Checkpoint, type EventQuery } from './events.js';
import { leafHash } from './merkle.js';
import { WalSync } from './wal-sync.js';

const SCHEMA = logSchema('INTEGER', 'TEXT');

export function rowToEvent(r: any): AuditEvent {
  const b = JSON.parse(r.body);
  return { id: b.id, seq: Number(r.seq), ts: Number(b.ts), type: b.type, requestId: b.requestId, principal: b.principal, issuer: b.issuer,
    ...(b.actor !== null ? { actor: b.actor } : {}), ...(b.sessionKey !== null ? { sessionKey: b.sessionKey } : {}), data: b.data, leaf: r.leaf };
}
export const rowToStored = (r: any): StoredEvent => (r.body === null ? { seq: Number(r.seq), ts: Number(r.ts), leaf: r.leaf, pruned: true } : rowToEvent(r));
export const rowToCheckpoint = (r: any): Checkpoint => ({ treeSize: Number(r.tree_size), root: r.root, ts: Number(r.ts), signature: r.signature, keyId: r.key_id, range: typeof r.range === 'string' ? JSON.parse(r.range) : r.range });

/** Numbers and seals a batch after `size` existing events; `dataJson[i]`: batch[i]'s data in canonical JSON, when computed already. */
export function sealBatch(batch: PendingEvent[], size: number, dataJson?: string[]) {
  return batch.map(({ dataJson: own, ...p }, i) => {
    const e = { ...p, seq: size + i };
    const json = dataJson?.[i] ?? own;
    const body = json !== undefined ? leafBytesWith(e, json) : leafBytes(e);
    return { event: { ...e, leaf: leafHash(body).toString('hex') } as AuditEvent, body, index: indexFields(p) };
  });
}

export class SqliteLog implements LogBackend {
  readonly kind = 'sqlite' as const;
  private db: Database.Database;
  private next: number;
  /** Events with seq below this are on disk (synced); reads stop here. */
  private durable: number;
  private readonly wal: WalSync;
  private readonly ins: Database.Statement;

  constructor(dataDir: string) {
    this.db = openSqlite(dataDir, 'audit.sqlite', 'NORMAL');
    this.db.exec(SCHEMA);
    this.wal = new WalSync(`${this.db.name}-wal`);
    this.next = Number((this.db.prepare('SELECT COALESCE(MAX(seq) + 1, 0) AS n FROM audit_log').get() as { n: number }).n);
    this.durable = this.next;
    this.ins = this.db.prepare(`INSERT INTO audit_log (seq, id, ts, type, request_id, session_key, principal, issuer, actor, decision, tables, columns, body, leaf)
      VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)`);
  }

  /** Runs the synchronous write `fn` (one transaction), then waits until it is on disk. */
  private async write<T>(fn: () => T): Promise<T> {
    if (this.wal.failure) throw this.wal.failure;
    const out = fn();
    await this.wal.flush();
    return out;
  }

  async append(batch: PendingEvent[]): Promise<AuditEvent[]> {
    return (await this.appendSealed(batch)).events;
  }

  /**
   * Appends the batch in one transaction; its leaves (hex) and first seq. The worker thread
   * (sqlite-worker.ts) answers with these alone, not the events it was sent.
   */
  async appendLeaves(batch: PendingEvent[]): Promise<{ first: number; leaves: string[] }> {
    const { events } = await this.appendSealed(batch);
    return { first: events[0]?.seq ?? this.next, leaves: events.map((e) => e.leaf) };
  }

  private async appendSealed(batch: PendingEvent[]): Promise<{ events: AuditEvent[] }> {
    if (this.wal.failure) throw this.wal.failure;
    const sealed = sealBatch(batch, this.next);
    const { ins } = this;
    this.db.transaction(() => {
      for (const { event: e, body, index } of sealed) {
        ins.run(e.seq, e.id, e.ts, e.type, e.requestId, e.sessionKey ?? null, e.principal, e.issuer, e.actor ?? null, index.decision ?? null, index.tables ?? null, index.columns ?? null, body, e.leaf);
      }
    })();
    this.next += sealed.length;
    const end = this.next;
    await this.wal.flush();
    this.durable = Math.max(this.durable, end);
    return { events: sealed.map((s) => s.event) };
  }

  async checkpoint(make: (latest: Checkpoint | undefined, leavesAfter: Buffer[]) => Checkpoint | undefined) {
    const { latest, leaves } = await this.checkpointInputs();
    const cp = make(latest, leaves.map((l) => Buffer.from(l, 'hex')));
    if (cp) await this.insertCheckpoint(cp);
    return cp;
  }

  /** The latest checkpoint and the hex leaf hashes after it (a checkpoint's inputs). */
  async checkpointInputs(): Promise<{ latest?: Checkpoint; leaves: string[] }> {
    const latestRow = this.db.prepare('SELECT * FROM audit_checkpoints ORDER BY tree_size DESC LIMIT 1').get();
    const latest = latestRow ? rowToCheckpoint(latestRow) : undefined;
    const leaves = (this.db.prepare('SELECT leaf FROM audit_log WHERE seq >= ? AND seq < ? ORDER BY seq').all(latest?.treeSize ?? 0, this.durable) as Array<{ leaf: string }>).map((r) => r.leaf);
    return { latest, leaves };
  }

  async insertCheckpoint(cp: Checkpoint): Promise<void> {
    await this.write(() => this.db.prepare('INSERT OR IGNORE INTO audit_checkpoints VALUES (?,?,?,?,?,?)').run(cp.treeSize, cp.root, cp.ts, cp.signature, cp.keyId, JSON.stringify(cp.range)));
  }

  async events(q: EventQuery): Promise<AuditEvent[]> {
    const { sql, args } = eventFilter(q, '?');
    return (this.db.prepare(`SELECT * FROM audit_log WHERE ${sql} AND seq < ? ORDER BY seq LIMIT ?`).all(...args, this.durable, q.limit ?? 100_000) as any[]).map(rowToEvent);
  }

  async entries(fromSeq: number, toSeq: number) {
    return (this.db.prepare('SELECT * FROM audit_log WHERE seq >= ? AND seq < ? ORDER BY seq').all(fromSeq, Math.min(toSeq, this.durable)) as any[]).map(rowToStored);
  }

  async checkpoints() { return (this.db.prepare('SELECT * FROM audit_checkpoints ORDER BY tree_size').all() as any[]).map(rowToCheckpoint); }
  async size() { return this.durable; }
  async ping() { if (this.wal.failure) throw this.wal.failure; this.db.prepare('SELECT 1').get(); }

  async prune(beforeTs: number) {
    const covered = (this.db.prepare('SELECT COALESCE(MAX(tree_size), 0) AS n FROM audit_checkpoints').get() as { n: number }).n;
    return this.write(() => this.db.prepare('UPDATE audit_log SET body = NULL, tables = NULL, columns = NULL WHERE ts < ? AND seq < ? AND body IS NOT NULL').run(beforeTs, covered).changes);
  }

  async sinkCursor(name: string): Promise<number> {
    return Number((this.db.prepare('SELECT next_seq FROM audit_sink_cursors WHERE name = ?').get(name) as { next_seq: number } | undefined)?.next_seq ?? 0);
  }

  async setSinkCursor(name: string, next: number): Promise<void> {
    await this.write(() => this.db.prepare('INSERT INTO audit_sink_cursors (name, next_seq) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET next_seq = excluded.next_seq').run(name, next));
  }

  /** One process owns a SQLite log, so the lease is just the cursor. */
  async leaseSink(name: string) {
    return { next: await this.sinkCursor(name), advance: (n: number) => this.setSinkCursor(name, n), release: async () => {} };
  }

  async close() { this.db.close(); this.wal.close(); }
}

/**
 * The WHERE clause of an event query, with placeholders `?` (SQLite) or `$n` (PostgreSQL).
 * Table / column / decision select whole requests: every event of a request whose decision matched.
 */
export function eventFilter(q: EventQuery, ph: '?' | '$'): { sql: string; args: unknown[] } {
  const args: unknown[] = [];
  const p = (v: unknown) => { args.push(v); return ph === '?' ? '?' : `$${args.length}`; };
  const where = ['body IS NOT NULL'];
  if (q.principal) where.push(`principal = ${p(q.principal)}`);
  if (q.actor) where.push(`actor = ${p(q.actor)}`);
  if (q.requestId) where.push(`request_id = ${p(q.requestId)}`);
  if (q.since !== undefined) where.push(`ts >= ${p(q.since)}`);
  if (q.until !== undefined) where.push(`ts <= ${p(q.until)}`);
  if (q.fromSeq !== undefined) where.push(`seq >= ${p(q.fromSeq)}`);
  const sub: string[] = [];
  if (q.table) sub.push(`tables LIKE ${p(`% ${q.table} %`)}`);
  if (q.column) sub.push(`columns LIKE ${p(`% ${q.column} %`)}`);
  if (q.decision) sub.push(`decision = ${p(q.decision)}`);
  if (sub.length) where.push(`request_id IN (SELECT request_id FROM audit_log WHERE type = 'decision' AND ${sub.join(' AND ')})`);
  return { sql: where.join(' AND '), args };
}
