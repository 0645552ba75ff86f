/**
 * The abuse limits' counters in PostgreSQL, so that N replicas give one principal one limit, not N
 * (limits.ts owns their meaning). Times are the database's clock (`clock_timestamp()`, ms), so
 * replicas whose clocks disagree still count one window.
 *
 * - Rate: a fixed window per key (`bqgate_rate_windows`): the first request opens a window of
 *   `windowMs`, each request in it adds one, one upsert per request (row lock on the key).
 * - In flight: a row per request being served (`bqgate_inflight`) with a lease. Each replica
 *   renews the leases it holds every `leaseMs / 3` (one UPDATE for all of them); a replica that
 *   dies (SIGKILL, lost host) stops renewing, and its rows stop counting once their lease ends,
 *   so its slots are reclaimed after at most `leaseMs`. Counting and inserting happen under a
 *   transaction-scoped advisory lock on the key, so replicas admitting together cannot pass the cap.
 *
 * Keys are SHA-256 of the caller's key (PostgreSQL text cannot hold the NUL limits.ts separates
 * issuer and subject with, and the table need not hold subjects). A failing database throws
 * stateDown (BigQueryError backendError): the request is refused, never let through unlimited.
 */
import type pg from 'pg';
import { createHash, randomUUID } from 'node:crypto';
import { guard } from './rows.js';
import { stateDown } from './index.js';

export const PG_LIMITS_SCHEMA = `
  CREATE TABLE IF NOT EXISTS bqgate_rate_windows (key TEXT PRIMARY KEY, window_start BIGINT NOT NULL, hits BIGINT NOT NULL);
  CREATE TABLE IF NOT EXISTS bqgate_inflight (id TEXT PRIMARY KEY, key TEXT NOT NULL, replica TEXT NOT NULL, expires_at BIGINT NOT NULL);
  CREATE INDEX IF NOT EXISTS bqgate_inflight_key ON bqgate_inflight(key, expires_at);
  CREATE INDEX IF NOT EXISTS bqgate_inflight_replica ON bqgate_inflight(replica);
`;

/** The database's clock, ms since epoch. */
const NOW = '(extract(epoch from clock_timestamp()) * 1000)::bigint';

const hashKey = (key: string) => createHash('sha256').update(key).digest('hex');

/** Shared counters for the rate limit and the in-flight cap (state/index.ts `State.limits`). */
export interface SharedLimitTable {
  /**
   * Counts one request of `key` in its current window of `windowMs` (a new window when the last
   * one ended). Resolves with the count in this window including this request and the ms left.
   */
  hit(key: string, windowMs: number): Promise<{ count: number; ttlMs: number }>;
  /**
   * Takes an in-flight slot for `key` unless `max` unexpired leases of `key` exist. Resolves with
   * the lease id (give it to `release`), or with the count that refused it.
   */
  acquire(key: string, max: number): Promise<{ lease: string } | { refused: number }>;
  /** Gives a slot back (idempotent). */
  release(lease: string): Promise<void>;
  /** Leases this replica holds, for tests and metrics. */
  readonly held: number;
  /** Stops renewing (the leases of this replica then lapse); resolves when the last renewal ended. */
  close(): Promise<void>;
}

export class PgLimits implements SharedLimitTable {
  /** This process's id in `bqgate_inflight.replica`. */
  readonly replica = randomUUID();
  private readonly leases = new Set<string>();
  private readonly timer: NodeJS.Timeout;
  private renewing: Promise<unknown> = Promise.resolve();
  private lastSweep = 0;

  /** `leaseMs`: how long a slot of a replica that stopped renewing keeps counting (BQGATE_INFLIGHT_LEASE_MS). */
  constructor(private readonly pool: pg.Pool, readonly leaseMs: number) {
    this.timer = setInterval(() => { this.renewing = this.renew(); }, Math.max(100, Math.floor(leaseMs / 3)));
    this.timer.unref();
  }

  get held() { return this.leases.size; }

  async hit(key: string, windowMs: number) {
    const k = hashKey(key);
    const r = await guard(() => this.pool.query(
      `INSERT INTO bqgate_rate_windows AS w VALUES ($1, ${NOW}, 1)
       ON CONFLICT (key) DO UPDATE SET
         hits = CASE WHEN w.window_start + $2 <= ${NOW} THEN 1 ELSE w.hits + 1 END,
         window_start = CASE WHEN w.window_start + $2 <= ${NOW} THEN ${NOW} ELSE w.window_start END
       RETURNING hits, w.window_start + $2 - ${NOW} AS ttl`, [k, windowMs]));
    this.sweep(windowMs);
    const row = r.rows[0];
    return { count: Number(row.hits), ttlMs: Math.max(0, Number(row.ttl)) };
  }

  async acquire(key: string, max: number) {
    const k = hashKey(key);
    let c: pg.PoolClient;
    try { c = await this.pool.connect(); } catch { throw stateDown(); }
    try {
      await c.query('BEGIN');
      await c.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [k]);
      const n = Number((await c.query(`SELECT COUNT(*) AS n FROM bqgate_inflight WHERE key = $1 AND expires_at > ${NOW}`, [k])).rows[0].n);
      if (n >= max) { await c.query('ROLLBACK'); return { refused: n }; }
      const lease = randomUUID();
      await c.query(`INSERT INTO bqgate_inflight VALUES ($1, $2, $3, ${NOW} + $4)`, [lease, k, this.replica, this.leaseMs]);
      await c.query('COMMIT');
      this.leases.add(lease);
      return { lease };
    } catch {
      await c.query('ROLLBACK').catch(() => {});
      throw stateDown();
    } finally {
      c.release();
    }
  }

  async release(lease: string) {
    if (!this.leases.delete(lease)) return;
    // A release that fails leaves the row to lapse with its lease (no renewal: it is no longer held).
    await this.pool.query('DELETE FROM bqgate_inflight WHERE id = $1', [lease]).catch(() => {});
  }

  /** Extends every lease of this replica by `leaseMs`; a failure is retried at the next tick. */
  private async renew() {
    if (!this.leases.size) return;
    await this.pool.query(`UPDATE bqgate_inflight SET expires_at = ${NOW} + $2 WHERE replica = $1`, [this.replica, this.leaseMs]).catch(() => {});
  }

  /** At most once per window, per replica: removes ended windows and lapsed leases (any replica's). */
  private sweep(windowMs: number) {
    const now = Date.now();
    if (now - this.lastSweep < windowMs) return;
    this.lastSweep = now;
    void this.pool.query(`DELETE FROM bqgate_rate_windows WHERE window_start + $1 <= ${NOW}`, [windowMs]).catch(() => {});
    void this.pool.query(`DELETE FROM bqgate_inflight WHERE expires_at <= ${NOW}`).catch(() => {});
  }

  async close() {
    clearInterval(this.timer);
    await this.renewing;
  }
}
