/**
 * The audit log in PostgreSQL (node-postgres), for several gateway replicas sharing one log.
 * Writers take a transaction-scoped advisory lock, so seq (the leaf index) follows commit order
 * across replicas; a batch is one transaction, durable at COMMIT (synchronous_commit on, the
 * server default). Same schema and contract as sqlite-log.ts (backend.ts).
 */
import type pg from 'pg';
import { logSchema, type LogBackend, type PendingEvent } from './backend.js';
import { canonicalData, type AuditEvent, type Checkpoint, type EventQuery } from './events.js';
import { eventFilter, rowToCheckpoint, rowToEvent, rowToStored, sealBatch } from './sqlite-log.js';

/** Advisory lock key of the audit log's writer (an arbitrary constant: "bqgate" in ASCII). */
const WRITER_LOCK = 0x627167617465;

const SCHEMA = logSchema('BIGINT', 'JSONB');

export class PostgresLog implements LogBackend {
  readonly kind = 'postgres' as const;
  private constructor(private readonly pool: pg.Pool) {}

  /** Connects to `url` (postgres://…) and creates the tables if missing. */
  static async open(url: string): Promise<PostgresLog> {
    const { default: { Pool } } = await import('pg'); // loaded only for a PostgreSQL log (≈8 MB resident otherwise)
    const pool = new Pool({ connectionString: url, max: 8, connectionTimeoutMillis: 5000 });
    pool.on('error', () => { /* an idle client died; the next query reconnects */ });
    const c = await pool.connect();
    try {
      await c.query('SELECT pg_advisory_lock($1)', [WRITER_LOCK]); // replicas starting together
      await c.query(SCHEMA);
    } finally {
      await c.query('SELECT pg_advisory_unlock($1)', [WRITER_LOCK]).catch(() => {});
      c.release();
    }
    return new PostgresLog(pool);
  }

  /**
   * Runs `fn` in a transaction holding the writer lock. BEGIN, the lock and `head` (a statement
   * without parameters, e.g. the log's end) go in one round trip (simple query protocol); `fn` gets
   * head's rows.
   */
  private async locked<T>(fn: (c: pg.PoolClient, head: any[]) => Promise<T>, head?: string): Promise<T> {
    const c = await this.pool.connect();
    try {
      const r = await c.query(`BEGIN; SELECT pg_advisory_xact_lock(${WRITER_LOCK})${head ? `; ${head}` : ''}`) as unknown as pg.QueryResult[];
      const out = await fn(c, r[r.length - 1].rows);
      await c.query('COMMIT');
      return out;
    } catch (err) {
      await c.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      c.release();
    }
  }

  /**
   * One transaction per batch, three round trips (BEGIN + lock + the log's end; INSERT; COMMIT). The
   * events' data is canonicalized before the lock is taken, so the lock is held for the round trips
   * and the leaf hashes only: the lock's hold time bounds the commits/s of all replicas together.
   */
  async append(batch: PendingEvent[]): Promise<AuditEvent[]> {
    const dataJson = batch.map((p) => p.dataJson ?? canonicalData(p.data));
    return this.locked(async (c, head) => {
      const size = Number(head[0].n);
      const sealed = sealBatch(batch, size, dataJson);
      const cols = 14;
      const values: unknown[] = [];
      const tuples = sealed.map(({ event: e, body, index }, i) => {
        values.push(e.seq, e.id, e.ts, e.type, e.requestId, e.sessionKey ?? null, e.principal, e.issuer, e.actor ?? null, index.decision ?? null, index.tables ?? null, index.columns ?? null, body, e.leaf);
        return `(${Array.from({ length: cols }, (_, j) => `$${i * cols + j + 1}`).join(',')})`;
      });
      await c.query(`INSERT INTO audit_log (seq, id, ts, type, request_id, session_key, principal, issuer, actor, decision, tables, columns, body, leaf) VALUES ${tuples.join(',')}`, values);
      return sealed.map((s) => s.event);
    }, 'SELECT COALESCE(MAX(seq) + 1, 0) AS n FROM audit_log');
  }

  async checkpoint(make: (latest: Checkpoint | undefined, leavesAfter: Buffer[]) => Checkpoint | undefined) {
    return this.locked(async (c) => {
      const l = (await c.query('SELECT * FROM audit_checkpoints ORDER BY tree_size DESC LIMIT 1')).rows[0];
      const latest = l ? rowToCheckpoint(l) : undefined;
      const leaves = (await c.query('SELECT leaf FROM audit_log WHERE seq >= $1 ORDER BY seq', [latest?.treeSize ?? 0])).rows.map((r) => Buffer.from(r.leaf, 'hex'));
      const cp = make(latest, leaves);
      if (cp) await c.query('INSERT INTO audit_checkpoints VALUES ($1,$2,$3,$4,$5,$6) ON CONFLICT DO NOTHING', [cp.treeSize, cp.root, cp.ts, cp.signature, cp.keyId, JSON.stringify(cp.range)]);
      return cp;
    });
  }

  async events(q: EventQuery) {
    const { sql, args } = eventFilter(q, '$');
    args.push(q.limit ?? 100_000);
    return (await this.pool.query(`SELECT * FROM audit_log WHERE ${sql} ORDER BY seq LIMIT $${args.length}`, args)).rows.map(rowToEvent);
  }

  async entries(fromSeq: number, toSeq: number) {
    return (await this.pool.query('SELECT * FROM audit_log WHERE seq >= $1 AND seq < $2 ORDER BY seq', [fromSeq, toSeq])).rows.map(rowToStored);
  }

  async checkpoints() { return (await this.pool.query('SELECT * FROM audit_checkpoints ORDER BY tree_size')).rows.map(rowToCheckpoint); }
  async ping() { await this.pool.query('SELECT 1'); }
  async size() { return Number((await this.pool.query('SELECT COALESCE(MAX(seq) + 1, 0) AS n FROM audit_log')).rows[0].n); }

  async prune(beforeTs: number) {
    const r = await this.pool.query(`UPDATE audit_log SET body = NULL, tables = NULL, columns = NULL
      WHERE ts < $1 AND seq < (SELECT COALESCE(MAX(tree_size), 0) FROM audit_checkpoints) AND body IS NOT NULL`, [beforeTs]);
    return r.rowCount ?? 0;
  }

  /** The lease is a transaction holding a per-sink advisory lock (try-lock: another replica skips). */
  async leaseSink(name: string) {
    const c = await this.pool.connect();
    let open = true;
    const end = async (sql: string) => { if (!open) return; open = false; try { await c.query(sql); } finally { c.release(); } };
    try {
      await c.query('BEGIN');
      const got = (await c.query('SELECT pg_try_advisory_xact_lock($1, hashtext($2)) AS ok', [WRITER_LOCK & 0x7fffffff, `sink:${name}`])).rows[0].ok;
      if (!got) { await end('ROLLBACK'); return undefined; }
      await c.query('INSERT INTO audit_sink_cursors (name, next_seq) VALUES ($1, 0) ON CONFLICT DO NOTHING', [name]);
      const next = Number((await c.query('SELECT next_seq FROM audit_sink_cursors WHERE name = $1', [name])).rows[0].next_seq);
      return {
        next,
        advance: async (n: number) => { try { await c.query('UPDATE audit_sink_cursors SET next_seq = $2 WHERE name = $1', [name, n]); } finally { await end('COMMIT'); } },
        release: () => end('ROLLBACK'),
      };
    } catch (err) {
      await end('ROLLBACK').catch(() => {});
      throw err;
    }
  }

  async close() { await this.pool.end(); }
}
