/**
 * The state in SQLite (better-sqlite3, WAL) for a single replica: jobs in `<dataDir>/bqgate.sqlite`
 * (synchronous=NORMAL: operational state, the audit log is the durable record) and approvals in
 * `<dataDir>/approvals.sqlite` (synchronous=FULL: a decision must survive a crash).
 */
import type Database from 'better-sqlite3';
import { openSqlite } from '../sqlite.js';
import { BigQueryError } from '../bigquery/errors.js';
import { stateDown, type ApprovalRow, type ApprovalTable, type JobRecord, type JobStore, type State } from './index.js';
import { JOB_COLUMNS, guard, jobValues, rowToJob } from './rows.js';
import { SqliteUploads } from './upload-sessions.js';
import { SqliteMcpSessions } from './mcp-sessions.js';

class SqliteJobs implements JobStore {
  constructor(private readonly db: Database.Database) {
    db.exec(`
      CREATE TABLE IF NOT EXISTS jobs (
        project_id TEXT NOT NULL, job_id TEXT NOT NULL, location TEXT NOT NULL,
        owner_issuer TEXT NOT NULL, owner_subject TEXT NOT NULL,
        query TEXT NOT NULL, upstream_query TEXT NOT NULL, statement_type TEXT NOT NULL,
        created_at INTEGER NOT NULL, request_id TEXT, backstop_columns TEXT, max_rows INTEGER, session_key TEXT,
        PRIMARY KEY (project_id, job_id));
      CREATE INDEX IF NOT EXISTS jobs_owner ON jobs(owner_issuer, owner_subject, created_at);
      CREATE TABLE IF NOT EXISTS job_page_tokens (project_id TEXT NOT NULL, job_id TEXT NOT NULL, page_token TEXT NOT NULL, start_row INTEGER NOT NULL,
        PRIMARY KEY (project_id, job_id, page_token));
    `);
    // Stores made before jobs had these columns.
    const cols = (db.prepare('PRAGMA table_info(jobs)').all() as Array<{ name: string }>).map((c) => c.name);
    for (const c of ['session_key', 'approval_id', 'pending_config', 'upstream_identity']) if (!cols.includes(c)) db.exec(`ALTER TABLE jobs ADD COLUMN ${c} TEXT`);
  }

  async insertJob(j: JobRecord) {
    try {
      this.db.prepare(`INSERT INTO jobs (${JOB_COLUMNS.join(', ')}) VALUES (${JOB_COLUMNS.map(() => '?').join(',')})`).run(...jobValues(j));
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') throw new BigQueryError('duplicate', `Already Exists: Job ${j.projectId}:${j.location}.${j.jobId}`);
      throw stateDown();
    }
  }

  private one(sql: string, ...args: unknown[]) {
    return guard(() => { const r = this.db.prepare(sql).get(...args); return r ? rowToJob(r) : undefined; });
  }

  async getJob(projectId: string, jobId: string, issuer: string, subject: string) {
    return this.one('SELECT * FROM jobs WHERE project_id = ? AND job_id = ? AND owner_issuer = ? AND owner_subject = ?', projectId, jobId, issuer, subject);
  }

  async getJobAnyOwner(projectId: string, jobId: string) {
    return this.one('SELECT * FROM jobs WHERE project_id = ? AND job_id = ?', projectId, jobId);
  }

  async markSubmitted(projectId: string, jobId: string) {
    return guard(() => this.db.prepare('UPDATE jobs SET pending_config = NULL WHERE project_id = ? AND job_id = ? AND pending_config IS NOT NULL').run(projectId, jobId).changes === 1);
  }

  async getJobByRequestId(projectId: string, requestId: string, issuer: string, subject: string) {
    return this.one('SELECT * FROM jobs WHERE project_id = ? AND request_id = ? AND owner_issuer = ? AND owner_subject = ?', projectId, requestId, issuer, subject);
  }

  async listJobs(projectId: string, issuer: string, subject: string, limit: number, offset = 0) {
    return guard(() => this.db.prepare('SELECT * FROM jobs WHERE project_id = ? AND owner_issuer = ? AND owner_subject = ? ORDER BY created_at DESC, rowid DESC LIMIT ? OFFSET ?')
      .all(projectId, issuer, subject, limit, offset).map(rowToJob));
  }

  async setPageStart(projectId: string, jobId: string, pageToken: string, startRow: number) {
    await guard(() => this.db.prepare('INSERT OR REPLACE INTO job_page_tokens VALUES (?,?,?,?)').run(projectId, jobId, pageToken, startRow));
  }

  async pageStart(projectId: string, jobId: string, pageToken: string) {
    const r = await guard(() => this.db.prepare('SELECT start_row FROM job_page_tokens WHERE project_id = ? AND job_id = ? AND page_token = ?').get(projectId, jobId, pageToken)) as { start_row: number } | undefined;
    return r?.start_row;
  }
}

class SqliteApprovals implements ApprovalTable {
  constructor(private readonly db: Database.Database) {
    db.exec(`CREATE TABLE IF NOT EXISTS approvals (
      id TEXT PRIMARY KEY, status TEXT NOT NULL, created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,
      requester_issuer TEXT NOT NULL, requester_subject TEXT NOT NULL, binding TEXT NOT NULL, policy_version TEXT NOT NULL,
      record TEXT NOT NULL);
      CREATE INDEX IF NOT EXISTS approvals_status ON approvals(status, created_at);
      CREATE INDEX IF NOT EXISTS approvals_binding ON approvals(requester_issuer, requester_subject, binding);`);
  }

  private write(r: ApprovalRow) {
    this.db.prepare('INSERT INTO approvals VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET status = excluded.status, record = excluded.record')
      .run(r.id, r.status, r.createdAt, r.expiresAt, r.requester.issuer, r.requester.subject, r.binding, r.policyVersion, JSON.stringify(r));
  }

  private read(id: string): ApprovalRow | undefined {
    const row = this.db.prepare('SELECT record FROM approvals WHERE id = ?').get(id) as { record: string } | undefined;
    return row ? JSON.parse(row.record) : undefined;
  }

  async insert(r: ApprovalRow) { await guard(() => this.write(r)); }
  async get(id: string) { return guard(() => this.read(id)); }

  async update(id: string, change: (r: ApprovalRow) => ApprovalRow | undefined) {
    let out: ApprovalRow | undefined;
    const tx = this.db.transaction(() => {
      const r = this.read(id);
      if (!r) return;
      const next = change(r);
      if (next) this.write(next);
      out = next ?? r;
    });
    try {
      tx.immediate();
    } catch (err) {
      if (err instanceof Error && !(err as { code?: string }).code?.startsWith('SQLITE')) throw err; // the change's own refusal
      throw stateDown();
    }
    return out;
  }

  async ids(o: { status?: string; limit: number }) {
    return guard(() => (this.db.prepare('SELECT id FROM approvals WHERE (? IS NULL OR status = ?) ORDER BY created_at DESC LIMIT ?').all(o.status ?? null, o.status ?? null, o.limit) as Array<{ id: string }>).map((r) => r.id));
  }

  async countPending(now: number) {
    return guard(() => (this.db.prepare("SELECT COUNT(*) AS n FROM approvals WHERE status = 'pending' AND expires_at > ?").get(now) as { n: number }).n);
  }

  async approvedFor(issuer: string, subject: string, binding: string, policyVersion: string) {
    return guard(() => (this.db.prepare(`SELECT id FROM approvals WHERE requester_issuer = ? AND requester_subject = ? AND binding = ? AND policy_version = ? AND status = 'approved' ORDER BY created_at DESC`)
      .all(issuer, subject, binding, policyVersion) as Array<{ id: string }>).map((r) => r.id));
  }
}

export class SqliteState implements State {
  readonly kind = 'sqlite' as const;
  readonly jobs: SqliteJobs;
  readonly approvals: SqliteApprovals;
  readonly uploads: SqliteUploads;
  readonly mcpSessions: SqliteMcpSessions;
  private readonly jobsDb: Database.Database;
  private readonly approvalsDb: Database.Database;

  constructor(dataDir: string) {
    this.jobsDb = openSqlite(dataDir, 'bqgate.sqlite', 'NORMAL');
    this.approvalsDb = openSqlite(dataDir, 'approvals.sqlite', 'FULL');
    this.jobs = new SqliteJobs(this.jobsDb);
    this.approvals = new SqliteApprovals(this.approvalsDb);
    this.uploads = new SqliteUploads(this.jobsDb);
    this.mcpSessions = new SqliteMcpSessions(this.jobsDb);
  }

  async ping() { this.jobsDb.prepare('SELECT 1').get(); this.approvalsDb.prepare('SELECT 1').get(); }
  async close() { this.jobsDb.close(); this.approvalsDb.close(); }
}
