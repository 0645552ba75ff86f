/**
 * Legacy (2025-era) MCP sessions (state/index.ts `McpSessionTable`) in SQLite (one replica, the jobs
 * database) and PostgreSQL (shared by replicas): a session opened on one replica is served by any,
 * bound to the principal that opened it. Opening counts the caps and evicts under one lock, so
 * replicas opening together cannot pass them; idle sessions are dropped as they are read or opened.
 * Times in ms since epoch.
 */
import type Database from 'better-sqlite3';
import type pg from 'pg';
import { type McpSession, type McpSessionCaps, type McpSessionTable } from './index.js';
import { guard, lockedTransaction } from './rows.js';

const COLUMNS = ['id', 'issuer', 'subject', 'protocol_version', 'client', 'created_at', 'last_seen'] as const;

/** Advisory lock key held while counting, evicting and opening sessions (PostgreSQL): "bqmcps". */
const OPEN_LOCK = 0x62716d637073;

/** The table in PostgreSQL (created with the other tables, under their schema lock). */
export const PG_MCP_SESSIONS_SCHEMA = `
  CREATE TABLE IF NOT EXISTS bqgate_mcp_sessions (
    id TEXT PRIMARY KEY, issuer TEXT NOT NULL, subject TEXT NOT NULL, protocol_version TEXT, client TEXT,
    created_at BIGINT NOT NULL, last_seen BIGINT NOT NULL);
  CREATE INDEX IF NOT EXISTS bqgate_mcp_sessions_owner ON bqgate_mcp_sessions(issuer, subject, last_seen);
  CREATE INDEX IF NOT EXISTS bqgate_mcp_sessions_seen ON bqgate_mcp_sessions(last_seen);
`;

const values = (s: McpSession) => [s.id, s.issuer, s.subject, s.protocolVersion ?? null, s.client ?? null, s.createdAt, s.lastSeen];

const fromRow = (r: any): McpSession => ({
  id: r.id, issuer: r.issuer, subject: r.subject, createdAt: Number(r.created_at), lastSeen: Number(r.last_seen),
  ...(r.protocol_version ? { protocolVersion: r.protocol_version } : {}), ...(r.client ? { client: r.client } : {}),
});

/** How many sessions opening one more must close: the principal's own at its cap, else anyone's at the total. */
const toEvict = (all: number, own: number, caps: McpSessionCaps) =>
  own >= caps.perPrincipal ? { own: true, n: own - caps.perPrincipal + 1 } : all >= caps.total ? { own: false, n: all - caps.total + 1 } : undefined;

export class SqliteMcpSessions implements McpSessionTable {
  constructor(private readonly db: Database.Database) {
    db.exec(`CREATE TABLE IF NOT EXISTS mcp_sessions (
      id TEXT PRIMARY KEY, issuer TEXT NOT NULL, subject TEXT NOT NULL, protocol_version TEXT, client TEXT,
      created_at INTEGER NOT NULL, last_seen INTEGER NOT NULL);
      CREATE INDEX IF NOT EXISTS mcp_sessions_owner ON mcp_sessions(issuer, subject, last_seen);`);
  }

  async open(s: McpSession, caps: McpSessionCaps, now: number) {
    const tx = this.db.transaction(() => {
      this.db.prepare('DELETE FROM mcp_sessions WHERE last_seen <= ?').run(now - caps.idleMs);
      const all = (this.db.prepare('SELECT COUNT(*) AS n FROM mcp_sessions').get() as { n: number }).n;
      const own = (this.db.prepare('SELECT COUNT(*) AS n FROM mcp_sessions WHERE issuer = ? AND subject = ?').get(s.issuer, s.subject) as { n: number }).n;
      const evict = toEvict(all, own, caps);
      const closed = evict
        ? (evict.own
          ? this.db.prepare('SELECT id FROM mcp_sessions WHERE issuer = ? AND subject = ? ORDER BY last_seen LIMIT ?').all(s.issuer, s.subject, evict.n)
          : this.db.prepare('SELECT id FROM mcp_sessions ORDER BY last_seen LIMIT ?').all(evict.n)) as Array<{ id: string }>
        : [];
      for (const c of closed) this.db.prepare('DELETE FROM mcp_sessions WHERE id = ?').run(c.id);
      this.db.prepare(`INSERT INTO mcp_sessions (${COLUMNS.join(', ')}) VALUES (${COLUMNS.map(() => '?').join(',')})`).run(...values(s));
      return closed.map((c) => c.id);
    });
    return guard(() => tx.immediate());
  }

  async touch(id: string, idleMs: number, now: number) {
    return guard(() => {
      const r = this.db.prepare('UPDATE mcp_sessions SET last_seen = ? WHERE id = ? AND last_seen > ? RETURNING *').get(now, id, now - idleMs);
      if (!r) this.db.prepare('DELETE FROM mcp_sessions WHERE id = ? AND last_seen <= ?').run(id, now - idleMs);
      return r ? fromRow(r) : undefined;
    });
  }

  async get(id: string) {
    return guard(() => { const r = this.db.prepare('SELECT * FROM mcp_sessions WHERE id = ?').get(id); return r ? fromRow(r) : undefined; });
  }

  async remove(id: string) {
    await guard(() => this.db.prepare('DELETE FROM mcp_sessions WHERE id = ?').run(id));
  }
}

export class PgMcpSessions implements McpSessionTable {
  constructor(private readonly pool: pg.Pool) {}

  async open(s: McpSession, caps: McpSessionCaps, now: number) {
    return lockedTransaction(this.pool, OPEN_LOCK, async (c) => {
      await c.query('DELETE FROM bqgate_mcp_sessions WHERE last_seen <= $1', [now - caps.idleMs]);
      const n = (await c.query('SELECT COUNT(*) AS total, COUNT(*) FILTER (WHERE issuer = $1 AND subject = $2) AS own FROM bqgate_mcp_sessions', [s.issuer, s.subject])).rows[0];
      const evict = toEvict(Number(n.total), Number(n.own), caps);
      const closed: string[] = evict
        ? (await (evict.own
          ? c.query('DELETE FROM bqgate_mcp_sessions WHERE id IN (SELECT id FROM bqgate_mcp_sessions WHERE issuer = $1 AND subject = $2 ORDER BY last_seen LIMIT $3) RETURNING id', [s.issuer, s.subject, evict.n])
          : c.query('DELETE FROM bqgate_mcp_sessions WHERE id IN (SELECT id FROM bqgate_mcp_sessions ORDER BY last_seen LIMIT $1) RETURNING id', [evict.n]))).rows.map((r) => r.id)
        : [];
      await c.query(`INSERT INTO bqgate_mcp_sessions (${COLUMNS.join(', ')}) VALUES (${COLUMNS.map((_, i) => `$${i + 1}`).join(',')})`, values(s));
      return closed;
    });
  }

  async touch(id: string, idleMs: number, now: number) {
    return guard(async () => {
      const r = (await this.pool.query('UPDATE bqgate_mcp_sessions SET last_seen = $2 WHERE id = $1 AND last_seen > $3 RETURNING *', [id, now, now - idleMs])).rows[0];
      if (!r) await this.pool.query('DELETE FROM bqgate_mcp_sessions WHERE id = $1 AND last_seen <= $2', [id, now - idleMs]);
      return r ? fromRow(r) : undefined;
    });
  }

  async get(id: string) {
    return guard(async () => { const r = (await this.pool.query('SELECT * FROM bqgate_mcp_sessions WHERE id = $1', [id])).rows[0]; return r ? fromRow(r) : undefined; });
  }

  async remove(id: string) {
    await guard(() => this.pool.query('DELETE FROM bqgate_mcp_sessions WHERE id = $1', [id]));
  }
}
