/**
 * `audit/`: what the gateway records.
 * - The audit log (log.ts): append-only events per request (events.ts), durable before the
 *   response leaves, in an RFC 6962 Merkle tree with signed Ed25519 checkpoints (merkle.ts,
 *   signer.ts); SQLite or PostgreSQL (backend.ts); export and offline verification (verify.ts);
 *   sessions and timelines (sessions.ts).
 * - The job store (`Store`, SQLite via better-sqlite3, WAL, synchronous=NORMAL): every job the gateway
 *   created, with its owner (issuer + subject), so a caller reads only its own jobs.
 */
import type Database from 'better-sqlite3';
import { openSqlite } from '../sqlite.js';
import { BigQueryError } from '../bigquery/errors.js';
import { auditDown } from './log.js';

export interface JobRecord {
  projectId: string;
  jobId: string;
  location: string;
  ownerIssuer: string;
  ownerSubject: string;
  /** The SQL the caller sent (what jobs.get shows back). */
  query: string;
  /** The SQL sent upstream. */
  upstreamQuery: string;
  statementType: string;
  createdAt: number;
  requestId?: string;
  /** Result column indexes the delivery backstop scans (deliver/). */
  backstopColumns?: number[];
  /** Policy cap on result rows delivered for this job. */
  maxRows?: number;
  /** The audit session key the job was created in (its polls join that session). */
  sessionKey?: string;
  /** The approval the job waits for (approvals/), if it needed one. */
  approvalId?: string;
  /** The upstream job configuration to submit once approved; cleared when submitted. */
  pendingConfiguration?: Record<string, unknown>;
  /** Which credential runs the job upstream (upstream/credentials.ts): `gateway`, `sa:<email>` or `user`. */
  upstreamIdentity?: string;
}

export class Store {
  private db: Database.Database;

  /** Opens (creating) `<dataDir>/bqgate.sqlite`. */
  constructor(dataDir: string) {
    // Jobs are operational state (the audit log is the durable record): WAL with synchronous=NORMAL
    // survives a crash of the process, and spares the query path an fsync.
    this.db = openSqlite(dataDir, 'bqgate.sqlite', 'NORMAL');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS jobs (
        project_id TEXT NOT NULL, job_id TEXT NOT NULL, location TEXT NOT NULL,
        owner_issuer TEXT NOT NULL, owner_subject TEXT NOT NULL,
        query TEXT NOT NULL, upstream_query TEXT NOT NULL, statement_type TEXT NOT NULL,
        created_at INTEGER NOT NULL, request_id TEXT, backstop_columns TEXT, max_rows INTEGER, session_key TEXT,
        PRIMARY KEY (project_id, job_id));
      CREATE INDEX IF NOT EXISTS jobs_owner ON jobs(owner_issuer, owner_subject, created_at);
    `);
    // Stores made before jobs had session keys.
    const cols = (this.db.prepare('PRAGMA table_info(jobs)').all() as Array<{ name: string }>).map((c) => c.name);
    for (const c of ['session_key', 'approval_id', 'pending_config', 'upstream_identity']) if (!cols.includes(c)) this.db.exec(`ALTER TABLE jobs ADD COLUMN ${c} TEXT`);
  }

  /** Records a job before it is sent upstream. Throws BigQueryError(duplicate) if the id exists. */
  insertJob(j: JobRecord): void {
    try {
      this.db.prepare(`INSERT INTO jobs (project_id, job_id, location, owner_issuer, owner_subject, query, upstream_query, statement_type, created_at, request_id, backstop_columns, max_rows, session_key, approval_id, pending_config, upstream_identity)
        VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`).run(
        j.projectId, j.jobId, j.location, j.ownerIssuer, j.ownerSubject, j.query, j.upstreamQuery, j.statementType, j.createdAt, j.requestId ?? null,
        JSON.stringify(j.backstopColumns ?? []), j.maxRows ?? null, j.sessionKey ?? null, j.approvalId ?? null, j.pendingConfiguration ? JSON.stringify(j.pendingConfiguration) : null, j.upstreamIdentity ?? null);
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') throw new BigQueryError('duplicate', `Already Exists: Job ${j.projectId}:${j.location}.${j.jobId}`);
      throw auditDown();
    }
  }

  /** A job of this owner, or undefined (also when it exists but belongs to someone else). */
  getJob(projectId: string, jobId: string, issuer: string, subject: string): JobRecord | undefined {
    const r = this.db.prepare(`SELECT * FROM jobs WHERE project_id = ? AND job_id = ? AND owner_issuer = ? AND owner_subject = ?`).get(projectId, jobId, issuer, subject) as any;
    return r ? rowToJob(r) : undefined;
  }

  /** A job whoever owns it (the approval flow submits a requester's job when an approver decides). */
  getJobAnyOwner(projectId: string, jobId: string): JobRecord | undefined {
    const r = this.db.prepare(`SELECT * FROM jobs WHERE project_id = ? AND job_id = ?`).get(projectId, jobId) as any;
    return r ? rowToJob(r) : undefined;
  }

  /** Marks a waiting job as sent upstream; false if it already was (another request did it). */
  markSubmitted(projectId: string, jobId: string): boolean {
    return this.db.prepare(`UPDATE jobs SET pending_config = NULL WHERE project_id = ? AND job_id = ? AND pending_config IS NOT NULL`).run(projectId, jobId).changes === 1;
  }

  /** A job of this owner created with `requestId` (jobs.query idempotency). */
  getJobByRequestId(projectId: string, requestId: string, issuer: string, subject: string): JobRecord | undefined {
    const r = this.db.prepare(`SELECT * FROM jobs WHERE project_id = ? AND request_id = ? AND owner_issuer = ? AND owner_subject = ?`).get(projectId, requestId, issuer, subject) as any;
    return r ? rowToJob(r) : undefined;
  }

  /** The owner's jobs, newest first. */
  listJobs(projectId: string, issuer: string, subject: string, limit: number, offset = 0): JobRecord[] {
    return (this.db.prepare(`SELECT * FROM jobs WHERE project_id = ? AND owner_issuer = ? AND owner_subject = ? ORDER BY created_at DESC, rowid DESC LIMIT ? OFFSET ?`)
      .all(projectId, issuer, subject, limit, offset) as any[]).map(rowToJob);
  }

  /** A round trip to the store (readiness); throws when it cannot be read. */
  ping(): void { this.db.prepare('SELECT 1').get(); }

  close(): void { this.db.close(); }
}


function rowToJob(r: any): JobRecord {
  return {
    projectId: r.project_id, jobId: r.job_id, location: r.location, ownerIssuer: r.owner_issuer, ownerSubject: r.owner_subject,
    query: r.query, upstreamQuery: r.upstream_query, statementType: r.statement_type, createdAt: r.created_at, requestId: r.request_id ?? undefined,
    backstopColumns: r.backstop_columns ? JSON.parse(r.backstop_columns) : [],
    maxRows: r.max_rows ?? undefined,
    sessionKey: r.session_key ?? undefined,
    approvalId: r.approval_id ?? undefined,
    pendingConfiguration: r.pending_config ? JSON.parse(r.pending_config) : undefined,
    upstreamIdentity: r.upstream_identity ?? undefined,
  };
}

export { AuditLog, auditDown, type AuditLogOptions } from './log.js';
export type { AuditEvent, AuditEventInput, AuditEventType, Checkpoint, EventQuery } from './events.js';
export { exportLog, verifyExport, type ExportLine, type VerifyReport } from './verify.js';
export { requestsOf, sessionsOf, renderTimeline, type RequestRecord, type Session } from './sessions.js';
export { RequestRecorder, type RequestSummary, type ResponseRecord } from './request.js';
export { SinkRunner, sinkTarget, jsonlTarget, webhookTarget, syslogTarget, syslogMessage, type SinkTarget } from './sinks.js';
