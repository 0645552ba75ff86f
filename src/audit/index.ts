/**
 * `audit/`: the state store (SQLite via better-sqlite3, WAL, synchronous=FULL) with
 * - `jobs`: every job the gateway created, with its owner (issuer + subject), so a caller reads only
 *   its own jobs;
 * - `audit_events`: one record per request (principal, actor, operation, SQL, decision, matched
 *   rules, job id, rows returned, HTTP status, duration in ms), written durably before the response
 *   leaves: `begin()` before anything reaches the upstream (fail closed if it cannot be written),
 *   `finish()` before the response is sent.
 * Sessions: a principal's records grouped by an idle gap (default 30 min).
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { BigQueryError } from '../bigquery/errors.js';

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
}

export interface AuditBegin {
  principal: string;
  issuer: string;
  actor?: string;
  groups: string[];
  operation: string;
  projectId?: string;
  jobId?: string;
  resource?: string;
  sql?: string;
  client?: string;
}

export interface AuditFinish {
  status: number;
  decision?: 'allow' | 'deny';
  matchedRules?: string[];
  reasons?: string[];
  policyVersion?: string;
  jobId?: string;
  upstreamSql?: string;
  rowsReturned?: number;
  errorReason?: string;
  errorMessage?: string;
  /** What the delivery backstop found and redacted, by detector. */
  detections?: Record<string, number>;
}

export interface AuditRecord extends AuditBegin, AuditFinish {
  id: string;
  ts: number;
  durationMs?: number;
}

export interface Session {
  id: string;
  principal: string;
  actor?: string;
  start: number;
  end: number;
  requests: number;
  denied: number;
}

export class Store {
  private db: Database.Database;

  /** Opens (creating) `<dataDir>/bqgate.sqlite`. */
  constructor(dataDir: string) {
    mkdirSync(dataDir, { recursive: true });
    this.db = new Database(join(dataDir, 'bqgate.sqlite'));
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS jobs (
        project_id TEXT NOT NULL, job_id TEXT NOT NULL, location TEXT NOT NULL,
        owner_issuer TEXT NOT NULL, owner_subject TEXT NOT NULL,
        query TEXT NOT NULL, upstream_query TEXT NOT NULL, statement_type TEXT NOT NULL,
        created_at INTEGER NOT NULL, request_id TEXT, backstop_columns TEXT, max_rows INTEGER,
        PRIMARY KEY (project_id, job_id));
      CREATE INDEX IF NOT EXISTS jobs_owner ON jobs(owner_issuer, owner_subject, created_at);
      CREATE TABLE IF NOT EXISTS audit_events (
        id TEXT PRIMARY KEY, ts INTEGER NOT NULL, principal TEXT NOT NULL, issuer TEXT NOT NULL,
        actor TEXT, groups_json TEXT NOT NULL, operation TEXT NOT NULL, project_id TEXT, job_id TEXT,
        resource TEXT, sql TEXT, client TEXT, status INTEGER, decision TEXT, matched_rules TEXT,
        reasons TEXT, policy_version TEXT, upstream_sql TEXT, rows_returned INTEGER, error_reason TEXT,
        error_message TEXT, duration_ms INTEGER, detections TEXT);
      CREATE INDEX IF NOT EXISTS audit_principal ON audit_events(principal, ts);
    `);
  }

  /** Records a job before it is sent upstream. Throws BigQueryError(duplicate) if the id exists. */
  insertJob(j: JobRecord): void {
    try {
      this.db.prepare(`INSERT INTO jobs VALUES (?,?,?,?,?,?,?,?,?,?,?,?)`).run(
        j.projectId, j.jobId, j.location, j.ownerIssuer, j.ownerSubject, j.query, j.upstreamQuery, j.statementType, j.createdAt, j.requestId ?? null,
        JSON.stringify(j.backstopColumns ?? []), j.maxRows ?? null);
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

  /** Writes the start of an audit record; returns its id. Throws BigQueryError(backendError) if it cannot be written. */
  begin(e: AuditBegin): string {
    const id = randomUUID();
    try {
      this.db.prepare(`INSERT INTO audit_events (id, ts, principal, issuer, actor, groups_json, operation, project_id, job_id, resource, sql, client) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)`)
        .run(id, Date.now(), e.principal, e.issuer, e.actor ?? null, JSON.stringify(e.groups), e.operation, e.projectId ?? null, e.jobId ?? null, e.resource ?? null, e.sql ?? null, e.client ?? null);
    } catch {
      throw auditDown();
    }
    return id;
  }

  /** Completes an audit record. Throws BigQueryError(backendError) if it cannot be written. */
  finish(id: string, f: AuditFinish, durationMs: number): void {
    try {
      this.db.prepare(`UPDATE audit_events SET status=?, decision=?, matched_rules=?, reasons=?, policy_version=?, job_id=COALESCE(?, job_id), upstream_sql=?, rows_returned=?, error_reason=?, error_message=?, duration_ms=?, detections=? WHERE id=?`)
        .run(f.status, f.decision ?? null, f.matchedRules ? JSON.stringify(f.matchedRules) : null, f.reasons ? JSON.stringify(f.reasons) : null,
          f.policyVersion ?? null, f.jobId ?? null, f.upstreamSql ?? null, f.rowsReturned ?? null, f.errorReason ?? null, f.errorMessage ?? null, Math.round(durationMs),
          f.detections && Object.keys(f.detections).length ? JSON.stringify(f.detections) : null, id);
    } catch {
      throw auditDown();
    }
  }

  /** Audit records, newest first, optionally of one principal and/or since a time (ms epoch). */
  events(opts: { principal?: string; since?: number; until?: number; limit?: number } = {}): AuditRecord[] {
    const rows = this.db.prepare(`SELECT * FROM audit_events WHERE (? IS NULL OR principal = ?) AND ts >= ? AND ts <= ? ORDER BY ts DESC, rowid DESC LIMIT ?`)
      .all(opts.principal ?? null, opts.principal ?? null, opts.since ?? 0, opts.until ?? Number.MAX_SAFE_INTEGER, opts.limit ?? 1000) as any[];
    return rows.map(rowToEvent);
  }

  /** Sessions: each principal's records split where the idle gap exceeds `gapMs` (default 30 min). Newest first. */
  sessions(gapMs = 30 * 60_000): Session[] {
    const rows = (this.db.prepare(`SELECT principal, actor, ts, decision, status FROM audit_events ORDER BY principal, ts`).all() as any[]);
    const out: Session[] = [];
    let cur: Session | undefined;
    for (const r of rows) {
      if (!cur || cur.principal !== r.principal || r.ts - cur.end > gapMs) {
        cur = { id: '', principal: r.principal, actor: r.actor ?? undefined, start: r.ts, end: r.ts, requests: 0, denied: 0 };
        out.push(cur);
      }
      cur.end = r.ts;
      cur.requests++;
      if (r.decision === 'deny' || (r.status ?? 0) === 403) cur.denied++;
    }
    for (const s of out) s.id = `${s.principal}@${new Date(s.start).toISOString()}`;
    return out.sort((a, b) => b.start - a.start);
  }

  close(): void { this.db.close(); }
}

function auditDown() {
  return new BigQueryError('backendError', 'The bqgate audit log cannot be written, so the request was not run (fail closed). Retry later.');
}

function rowToJob(r: any): JobRecord {
  return {
    projectId: r.project_id, jobId: r.job_id, location: r.location, ownerIssuer: r.owner_issuer, ownerSubject: r.owner_subject,
    query: r.query, upstreamQuery: r.upstream_query, statementType: r.statement_type, createdAt: r.created_at, requestId: r.request_id ?? undefined,
    backstopColumns: r.backstop_columns ? JSON.parse(r.backstop_columns) : [],
    maxRows: r.max_rows ?? undefined,
  };
}

function rowToEvent(r: any): AuditRecord {
  return {
    id: r.id, ts: r.ts, principal: r.principal, issuer: r.issuer, actor: r.actor ?? undefined, groups: JSON.parse(r.groups_json),
    operation: r.operation, projectId: r.project_id ?? undefined, jobId: r.job_id ?? undefined, resource: r.resource ?? undefined,
    sql: r.sql ?? undefined, client: r.client ?? undefined, status: r.status, decision: r.decision ?? undefined,
    matchedRules: r.matched_rules ? JSON.parse(r.matched_rules) : undefined, reasons: r.reasons ? JSON.parse(r.reasons) : undefined,
    policyVersion: r.policy_version ?? undefined, upstreamSql: r.upstream_sql ?? undefined, rowsReturned: r.rows_returned ?? undefined,
    errorReason: r.error_reason ?? undefined, errorMessage: r.error_message ?? undefined, durationMs: r.duration_ms ?? undefined,
    detections: r.detections ? JSON.parse(r.detections) : undefined,
  };
}
