/**
 * Resumable upload sessions (state/index.ts `UploadSessionTable`) in SQLite (one replica, the jobs
 * database) and PostgreSQL (shared by replicas): a chunk may land on any replica. The caps are
 * counted and the session inserted under one lock, so replicas opening together cannot pass them.
 */
import type Database from 'better-sqlite3';
import type pg from 'pg';
import { type UploadCaps, type UploadSession, type UploadSessionTable } from './index.js';
import { guard, lockedTransaction } from './rows.js';

const COLUMNS = ['id', 'issuer', 'subject', 'project_id', 'job_id', 'upstream_id', 'total_bytes', 'received', 'opened_at', 'expires_at'] as const;

/** Advisory lock key held while counting and opening sessions (PostgreSQL): "bqupld". */
const OPEN_LOCK = 0x627175706c64;

/** The table in PostgreSQL (created with the other tables, under their schema lock). */
export const PG_UPLOADS_SCHEMA = `
  CREATE TABLE IF NOT EXISTS bqgate_upload_sessions (
    id TEXT PRIMARY KEY, issuer TEXT NOT NULL, subject TEXT NOT NULL, project_id TEXT NOT NULL, job_id TEXT NOT NULL,
    upstream_id TEXT NOT NULL, total_bytes BIGINT, received BIGINT NOT NULL, opened_at BIGINT NOT NULL, expires_at BIGINT NOT NULL);
  CREATE INDEX IF NOT EXISTS bqgate_upload_sessions_owner ON bqgate_upload_sessions(issuer, subject);
  CREATE INDEX IF NOT EXISTS bqgate_upload_sessions_expiry ON bqgate_upload_sessions(expires_at);
`;

const values = (s: UploadSession) => [s.id, s.issuer, s.subject, s.projectId, s.jobId, s.upstreamId, s.totalBytes ?? null, s.received, s.openedAt, s.expiresAt];

const fromRow = (r: any): UploadSession => ({
  id: r.id, issuer: r.issuer, subject: r.subject, projectId: r.project_id, jobId: r.job_id, upstreamId: r.upstream_id,
  ...(r.total_bytes !== null && r.total_bytes !== undefined ? { totalBytes: Number(r.total_bytes) } : {}),
  received: Number(r.received), openedAt: Number(r.opened_at), expiresAt: Number(r.expires_at),
});

/** Which cap `s` would pass, given the open sessions in all and of its principal. */
const capReached = (all: number, own: number, caps: UploadCaps) =>
  all >= caps.total ? { cap: 'total' as const, count: all } : own >= caps.perPrincipal ? { cap: 'perPrincipal' as const, count: own } : null;

export class SqliteUploads implements UploadSessionTable {
  constructor(private readonly db: Database.Database) {
    db.exec(`CREATE TABLE IF NOT EXISTS upload_sessions (
      id TEXT PRIMARY KEY, issuer TEXT NOT NULL, subject TEXT NOT NULL, project_id TEXT NOT NULL, job_id TEXT NOT NULL,
      upstream_id TEXT NOT NULL, total_bytes INTEGER, received INTEGER NOT NULL, opened_at INTEGER NOT NULL, expires_at INTEGER NOT NULL);
      CREATE INDEX IF NOT EXISTS upload_sessions_owner ON upload_sessions(issuer, subject);`);
  }

  async open(s: UploadSession, caps: UploadCaps, now: number) {
    const tx = this.db.transaction(() => {
      this.db.prepare('DELETE FROM upload_sessions WHERE expires_at <= ?').run(now);
      const all = (this.db.prepare('SELECT COUNT(*) AS n FROM upload_sessions').get() as { n: number }).n;
      const own = (this.db.prepare('SELECT COUNT(*) AS n FROM upload_sessions WHERE issuer = ? AND subject = ?').get(s.issuer, s.subject) as { n: number }).n;
      const refused = capReached(all, own, caps);
      if (!refused) this.db.prepare(`INSERT INTO upload_sessions (${COLUMNS.join(', ')}) VALUES (${COLUMNS.map(() => '?').join(',')})`).run(...values(s));
      return refused;
    });
    return guard(() => tx.immediate());
  }

  async get(id: string, now: number) {
    return guard(() => {
      const r = this.db.prepare('SELECT * FROM upload_sessions WHERE id = ? AND expires_at > ?').get(id, now);
      return r ? fromRow(r) : undefined;
    });
  }

  async bind(id: string, upstreamId: string) {
    await guard(() => this.db.prepare('UPDATE upload_sessions SET upstream_id = ? WHERE id = ?').run(upstreamId, id));
  }

  async progress(id: string, received: number, totalBytes: number | undefined) {
    await guard(() => this.db.prepare('UPDATE upload_sessions SET received = ?, total_bytes = COALESCE(?, total_bytes) WHERE id = ?').run(received, totalBytes ?? null, id));
  }

  async remove(id: string) {
    await guard(() => this.db.prepare('DELETE FROM upload_sessions WHERE id = ?').run(id));
  }
}

export class PgUploads implements UploadSessionTable {
  constructor(private readonly pool: pg.Pool) {}

  async open(s: UploadSession, caps: UploadCaps, now: number) {
    return lockedTransaction(this.pool, OPEN_LOCK, async (c) => {
      await c.query('DELETE FROM bqgate_upload_sessions WHERE expires_at <= $1', [now]);
      const n = (await c.query('SELECT COUNT(*) AS total, COUNT(*) FILTER (WHERE issuer = $1 AND subject = $2) AS own FROM bqgate_upload_sessions', [s.issuer, s.subject])).rows[0];
      const refused = capReached(Number(n.total), Number(n.own), caps);
      if (!refused) await c.query(`INSERT INTO bqgate_upload_sessions (${COLUMNS.join(', ')}) VALUES (${COLUMNS.map((_, i) => `$${i + 1}`).join(',')})`, values(s));
      return refused;
    });
  }

  async get(id: string, now: number) {
    return guard(async () => {
      const r = (await this.pool.query('SELECT * FROM bqgate_upload_sessions WHERE id = $1 AND expires_at > $2', [id, now])).rows[0];
      return r ? fromRow(r) : undefined;
    });
  }

  async bind(id: string, upstreamId: string) {
    await guard(() => this.pool.query('UPDATE bqgate_upload_sessions SET upstream_id = $2 WHERE id = $1', [id, upstreamId]));
  }

  async progress(id: string, received: number, totalBytes: number | undefined) {
    await guard(() => this.pool.query('UPDATE bqgate_upload_sessions SET received = $2, total_bytes = COALESCE($3, total_bytes) WHERE id = $1', [id, received, totalBytes ?? null]));
  }

  async remove(id: string) {
    await guard(() => this.pool.query('DELETE FROM bqgate_upload_sessions WHERE id = $1', [id]));
  }
}
