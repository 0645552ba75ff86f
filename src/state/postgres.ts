/**
 * The state in PostgreSQL (node-postgres) for several replicas: any replica reads any job, and an
 * approval decision is a row-locked read-modify-write (SELECT … FOR UPDATE), so two approvers on
 * two replicas cannot lose each other's step. Commits are durable (synchronous_commit, the server
 * default). Same contract as sqlite.ts.
 */
import type pg from 'pg';
import { BigQueryError } from '../bigquery/errors.js';
import { stateDown, type ApprovalRow, type ApprovalTable, type JobRecord, type JobStore, type State } from './index.js';
import { JOB_COLUMNS, guard, jobValues, rowToJob } from './rows.js';
import { PgUploads, PG_UPLOADS_SCHEMA } from './upload-sessions.js';
import { PgLimits, PG_LIMITS_SCHEMA } from './pg-limits.js';
import { PgMcpSessions, PG_MCP_SESSIONS_SCHEMA } from './mcp-sessions.js';

/** Advisory lock key taken while creating the tables (replicas starting together): "bqstate". */
const SCHEMA_LOCK = 0x627173746174;

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS bqgate_jobs (
    project_id TEXT NOT NULL, job_id TEXT NOT NULL, location TEXT NOT NULL,
    owner_issuer TEXT NOT NULL, owner_subject TEXT NOT NULL,
    query TEXT NOT NULL, upstream_query TEXT NOT NULL, statement_type TEXT NOT NULL,
    created_at BIGINT NOT NULL, request_id TEXT, backstop_columns TEXT, max_rows BIGINT, session_key TEXT,
    approval_id TEXT, pending_config TEXT, upstream_identity TEXT, seq BIGSERIAL,
    PRIMARY KEY (project_id, job_id));
  CREATE INDEX IF NOT EXISTS bqgate_jobs_owner ON bqgate_jobs(owner_issuer, owner_subject, created_at);
  CREATE INDEX IF NOT EXISTS bqgate_jobs_request ON bqgate_jobs(project_id, request_id) WHERE request_id IS NOT NULL;
  CREATE TABLE IF NOT EXISTS bqgate_job_page_tokens (project_id TEXT NOT NULL, job_id TEXT NOT NULL, page_token TEXT NOT NULL, start_row BIGINT NOT NULL,
    PRIMARY KEY (project_id, job_id, page_token));
  CREATE TABLE IF NOT EXISTS bqgate_approvals (
    id TEXT PRIMARY KEY, status TEXT NOT NULL, created_at BIGINT NOT NULL, expires_at BIGINT NOT NULL,
    requester_issuer TEXT NOT NULL, requester_subject TEXT NOT NULL, binding TEXT NOT NULL, policy_version TEXT NOT NULL,
    record JSONB NOT NULL);
  CREATE INDEX IF NOT EXISTS bqgate_approvals_status ON bqgate_approvals(status, created_at);
  CREATE INDEX IF NOT EXISTS bqgate_approvals_binding ON bqgate_approvals(requester_issuer, requester_subject, binding);
`;

class PgJobs implements JobStore {
  constructor(private readonly pool: pg.Pool) {}

  async insertJob(j: JobRecord) {
    try {
      await this.pool.query(`INSERT INTO bqgate_jobs (${JOB_COLUMNS.join(', ')}) VALUES (${JOB_COLUMNS.map((_, i) => `$${i + 1}`).join(',')})`, jobValues(j));
    } catch (err) {
      if ((err as { code?: string }).code === '23505') throw new BigQueryError('duplicate', `Already Exists: Job ${j.projectId}:${j.location}.${j.jobId}`);
      throw stateDown();
    }
  }

  private async one(sql: string, ...args: unknown[]) {
    return guard(async () => { const r = (await this.pool.query(sql, args)).rows[0]; return r ? rowToJob(r) : undefined; });
  }

  getJob(projectId: string, jobId: string, issuer: string, subject: string) {
    return this.one('SELECT * FROM bqgate_jobs WHERE project_id = $1 AND job_id = $2 AND owner_issuer = $3 AND owner_subject = $4', projectId, jobId, issuer, subject);
  }

  getJobAnyOwner(projectId: string, jobId: string) {
    return this.one('SELECT * FROM bqgate_jobs WHERE project_id = $1 AND job_id = $2', projectId, jobId);
  }

  markSubmitted(projectId: string, jobId: string) {
    return guard(async () => (await this.pool.query('UPDATE bqgate_jobs SET pending_config = NULL WHERE project_id = $1 AND job_id = $2 AND pending_config IS NOT NULL', [projectId, jobId])).rowCount === 1);
  }

  getJobByRequestId(projectId: string, requestId: string, issuer: string, subject: string) {
    return this.one('SELECT * FROM bqgate_jobs WHERE project_id = $1 AND request_id = $2 AND owner_issuer = $3 AND owner_subject = $4', projectId, requestId, issuer, subject);
  }

  listJobs(projectId: string, issuer: string, subject: string, limit: number, offset = 0) {
    return guard(async () => (await this.pool.query('SELECT * FROM bqgate_jobs WHERE project_id = $1 AND owner_issuer = $2 AND owner_subject = $3 ORDER BY created_at DESC, seq DESC LIMIT $4 OFFSET $5',
      [projectId, issuer, subject, limit, offset])).rows.map(rowToJob));
  }

  async setPageStart(projectId: string, jobId: string, pageToken: string, startRow: number) {
    await guard(() => this.pool.query('INSERT INTO bqgate_job_page_tokens VALUES ($1,$2,$3,$4) ON CONFLICT (project_id, job_id, page_token) DO UPDATE SET start_row = excluded.start_row',
      [projectId, jobId, pageToken, startRow]));
  }

  async pageStart(projectId: string, jobId: string, pageToken: string) {
    const r = await guard(async () => (await this.pool.query('SELECT start_row FROM bqgate_job_page_tokens WHERE project_id = $1 AND job_id = $2 AND page_token = $3', [projectId, jobId, pageToken])).rows[0]);
    return r ? Number(r.start_row) : undefined;
  }
}

class PgApprovals implements ApprovalTable {
  constructor(private readonly pool: pg.Pool) {}

  private static args(r: ApprovalRow) {
    return [r.id, r.status, r.createdAt, r.expiresAt, r.requester.issuer, r.requester.subject, r.binding, r.policyVersion, JSON.stringify(r)];
  }

  async insert(r: ApprovalRow) {
    await guard(() => this.pool.query('INSERT INTO bqgate_approvals VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)', PgApprovals.args(r)));
  }

  async get(id: string) {
    return guard(async () => (await this.pool.query('SELECT record FROM bqgate_approvals WHERE id = $1', [id])).rows[0]?.record as ApprovalRow | undefined);
  }

  async update(id: string, change: (r: ApprovalRow) => ApprovalRow | undefined) {
    let c: pg.PoolClient;
    try { c = await this.pool.connect(); } catch { throw stateDown(); }
    let refusal: unknown;
    try {
      await c.query('BEGIN');
      const r = (await c.query('SELECT record FROM bqgate_approvals WHERE id = $1 FOR UPDATE', [id])).rows[0]?.record as ApprovalRow | undefined;
      if (!r) { await c.query('ROLLBACK'); return undefined; }
      let next: ApprovalRow | undefined;
      try { next = change(r); } catch (err) { refusal = err; throw err; }
      if (next) await c.query('UPDATE bqgate_approvals SET status = $2, record = $3 WHERE id = $1', [id, next.status, JSON.stringify(next)]);
      await c.query('COMMIT');
      return next ?? r;
    } catch (err) {
      await c.query('ROLLBACK').catch(() => {});
      if (err === refusal) throw err;
      throw stateDown();
    } finally {
      c.release();
    }
  }

  async ids(o: { status?: string; limit: number }) {
    return guard(async () => (await this.pool.query('SELECT id FROM bqgate_approvals WHERE ($1::text IS NULL OR status = $1) ORDER BY created_at DESC LIMIT $2', [o.status ?? null, o.limit])).rows.map((r) => r.id as string));
  }

  async countPending(now: number) {
    return guard(async () => Number((await this.pool.query("SELECT COUNT(*) AS n FROM bqgate_approvals WHERE status = 'pending' AND expires_at > $1", [now])).rows[0].n));
  }

  async approvedFor(issuer: string, subject: string, binding: string, policyVersion: string) {
    return guard(async () => (await this.pool.query(`SELECT id FROM bqgate_approvals WHERE requester_issuer = $1 AND requester_subject = $2 AND binding = $3 AND policy_version = $4 AND status = 'approved' ORDER BY created_at DESC`,
      [issuer, subject, binding, policyVersion])).rows.map((r) => r.id as string));
  }
}

export class PostgresState implements State {
  readonly kind = 'postgres' as const;
  readonly jobs: PgJobs;
  readonly approvals: PgApprovals;
  readonly uploads: PgUploads;
  /** The abuse limits' counters, shared by the replicas (pg-limits.ts). */
  readonly limits: PgLimits;
  readonly mcpSessions: PgMcpSessions;

  private constructor(private readonly pool: pg.Pool, inflightLeaseMs: number) {
    this.jobs = new PgJobs(pool);
    this.approvals = new PgApprovals(pool);
    this.uploads = new PgUploads(pool);
    this.limits = new PgLimits(pool, inflightLeaseMs);
    this.mcpSessions = new PgMcpSessions(pool);
  }

  /**
   * Connects to `url` (postgres://…) and creates the tables if missing; rejects when unreachable.
   * `inflightLeaseMs`: how long a dead replica's in-flight slots keep counting (pg-limits.ts).
   */
  static async open(url: string, inflightLeaseMs = 30_000): Promise<PostgresState> {
    // query_timeout: a store that stops answering fails the request (stateDown) instead of holding it.
    const { default: { Pool } } = await import('pg'); // loaded only for a PostgreSQL store (≈8 MB resident otherwise)
    const pool = new Pool({ connectionString: url, max: 10, connectionTimeoutMillis: 5000, query_timeout: 30_000 });
    pool.on('error', () => { /* an idle client died; the next query reconnects */ });
    const c = await pool.connect();
    try {
      await c.query('SELECT pg_advisory_lock($1)', [SCHEMA_LOCK]);
      await c.query(SCHEMA);
      await c.query(PG_UPLOADS_SCHEMA);
      await c.query(PG_LIMITS_SCHEMA);
      await c.query(PG_MCP_SESSIONS_SCHEMA);
    } finally {
      await c.query('SELECT pg_advisory_unlock($1)', [SCHEMA_LOCK]).catch(() => {});
      c.release();
    }
    return new PostgresState(pool, inflightLeaseMs);
  }

  async ping() { await this.pool.query('SELECT 1'); }
  async close() { await this.limits.close(); await this.pool.end(); }
}
