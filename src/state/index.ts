/**
 * `state/`: the gateway's operational state — jobs (with their owners and row-cap page tokens),
 * approval records and resumable upload sessions — in SQLite under the data directory (one
 * replica) or in PostgreSQL shared by several replicas, so any replica answers any poll of any
 * job, any approver's decision and any chunk of any upload.
 *
 * The audit log (audit/) is the durable record; this is what the running gateway needs to answer.
 * Every method is async (node-postgres); a store that cannot be reached throws BigQueryError
 * (backendError, `stateDown`) so the request fails closed with a message an agent can act on.
 */
import { BigQueryError } from '../bigquery/errors.js';
import { SqliteState } from './sqlite.js';
import { PostgresState } from './postgres.js';
import type { SharedLimitTable } from './pg-limits.js';

export type { SharedLimitTable } from './pg-limits.js';

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
  /** ms since epoch. */
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

/** Jobs the gateway created, by owner (issuer + subject): a caller reads only its own. */
export interface JobStore {
  /** Records a job before it is sent upstream. Throws BigQueryError(duplicate) if the id exists. */
  insertJob(j: JobRecord): Promise<void>;
  /** A job of this owner, or undefined (also when it exists but belongs to someone else). */
  getJob(projectId: string, jobId: string, issuer: string, subject: string): Promise<JobRecord | undefined>;
  /** A job whoever owns it (the approval flow submits a requester's job when an approver decides). */
  getJobAnyOwner(projectId: string, jobId: string): Promise<JobRecord | undefined>;
  /** Marks a waiting job as sent upstream; false if it already was (another request or replica did it). */
  markSubmitted(projectId: string, jobId: string): Promise<boolean>;
  /** A job of this owner created with `requestId` (jobs.query idempotency). */
  getJobByRequestId(projectId: string, requestId: string, issuer: string, subject: string): Promise<JobRecord | undefined>;
  /** The owner's jobs, newest first. */
  listJobs(projectId: string, issuer: string, subject: string, limit: number, offset?: number): Promise<JobRecord[]>;
  /** Remembers the first row (0-based) of the page `pageToken` of a row-capped job. */
  setPageStart(projectId: string, jobId: string, pageToken: string, startRow: number): Promise<void>;
  /** The first row of the page `pageToken` of a row-capped job, if it was handed out. */
  pageStart(projectId: string, jobId: string, pageToken: string): Promise<number | undefined>;
}

/** What the approval table indexes of a record (the rest is stored as JSON). */
export interface ApprovalRow {
  id: string;
  status: string;
  createdAt: number;
  expiresAt: number;
  requester: { issuer: string; subject: string };
  binding: string;
  policyVersion: string;
}

/** Approval records (approvals/ owns their meaning); `update` is atomic across replicas (row lock). */
export interface ApprovalTable<R extends ApprovalRow = ApprovalRow> {
  insert(r: R): Promise<void>;
  get(id: string): Promise<R | undefined>;
  /**
   * Reads the record under a row lock, applies `change` and writes what it returns (undefined:
   * nothing to write). Resolves with the record after, or undefined for an unknown id; an error
   * thrown by `change` rolls back and is rethrown.
   */
  update(id: string, change: (r: R) => R | undefined): Promise<R | undefined>;
  /** Ids, newest first; `status` filters, `limit` caps. */
  ids(o: { status?: string; limit: number }): Promise<string[]>;
  /** Records still pending and not yet expired at `now` (ms since epoch), counted in the store. */
  countPending(now: number): Promise<number>;
  /** Ids of approved records of this requester for this binding and policy version, newest first. */
  approvedFor(issuer: string, subject: string, binding: string, policyVersion: string): Promise<string[]>;
}

/**
 * A resumable upload session (upload.ts) as replicas share it: the principal it is bound to, the
 * load job it belongs to, the upstream's upload id, and how far it got. Times in ms since epoch,
 * sizes in bytes.
 */
export interface UploadSession {
  /** The gateway's upload id (128 random bits, base64url), what the caller's session URL carries. */
  id: string;
  issuer: string;
  subject: string;
  projectId: string;
  /** The load job's id as stored (state jobs table), decided when the session was opened. */
  jobId: string;
  /** The upstream's own upload id (its session URL is rebuilt from it on the upstream's origin). */
  upstreamId: string;
  /** The file's size: declared by X-Upload-Content-Length when opened, else from the first chunk stating it. */
  totalBytes?: number;
  /** Bytes the upstream has acknowledged (its 308 `Range`): the offset the next chunk starts at. */
  received: number;
  openedAt: number;
  expiresAt: number;
}

/** Caps on open sessions, counted in the store so that they hold across replicas. */
export interface UploadCaps { total: number; perPrincipal: number }

/** Resumable upload sessions (upload.ts owns their meaning); `open` is atomic across replicas. */
export interface UploadSessionTable {
  /**
   * Removes sessions expired at `now`, then inserts `s` unless `caps` are reached — counted and
   * inserted under one lock (SQLite IMMEDIATE transaction, PostgreSQL advisory lock), so replicas
   * opening together cannot pass a cap. Resolves with the cap that refused it and the count, or null.
   */
  open(s: UploadSession, caps: UploadCaps, now: number): Promise<{ cap: 'total' | 'perPrincipal'; count: number } | null>;
  /** Records the upstream's upload id once the upstream opened its session (`open` stores it empty). */
  bind(id: string, upstreamId: string): Promise<void>;
  /** The session, or undefined when unknown or expired at `now`. */
  get(id: string, now: number): Promise<UploadSession | undefined>;
  /** Records the acknowledged offset and the file's size once known. */
  progress(id: string, received: number, totalBytes: number | undefined): Promise<void>;
  /** Forgets a finished or abandoned session. */
  remove(id: string): Promise<void>;
}

/**
 * A legacy (2025-era) MCP session (doors/mcp/): the principal it is bound to (issuer + subject), the
 * protocol revision and client (`name/version`) its initialize named. Times in ms since epoch.
 */
export interface McpSession {
  /** The Mcp-Session-Id (a random UUID). */
  id: string;
  issuer: string;
  subject: string;
  protocolVersion?: string;
  client?: string;
  createdAt: number;
  lastSeen: number;
}

/** Caps on legacy MCP sessions, counted in the store so that they hold across replicas. */
export interface McpSessionCaps { total: number; perPrincipal: number; idleMs: number }

/** Legacy MCP sessions (doors/mcp/sessions.ts owns their meaning); `open` is atomic across replicas. */
export interface McpSessionTable {
  /**
   * Drops sessions idle `idleMs` or longer, closes the least recently seen ones a cap requires (the
   * opener's own when it is at `perPrincipal`, else anyone's at `total`) and records `s`, under one
   * lock. Resolves with the ids it closed.
   */
  open(s: McpSession, caps: McpSessionCaps, now: number): Promise<string[]>;
  /** The session, marked seen at `now`; undefined when unknown or idle `idleMs` or longer (then dropped). */
  touch(id: string, idleMs: number, now: number): Promise<McpSession | undefined>;
  /** The session as stored (no idle check, not marked seen). */
  get(id: string): Promise<McpSession | undefined>;
  /** Ends a session (DELETE /mcp). */
  remove(id: string): Promise<void>;
}

export interface State {
  readonly kind: 'sqlite' | 'postgres';
  jobs: JobStore;
  approvals: ApprovalTable<any>;
  /** Resumable upload sessions, shared by the replicas that share the store. */
  uploads: UploadSessionTable;
  /**
   * The rate limit's and in-flight cap's counters when replicas share them (PostgreSQL); absent
   * for SQLite (one node: limits.ts counts in the process).
   */
  limits?: SharedLimitTable;
  /** Legacy MCP sessions, shared by the replicas that share the store. */
  mcpSessions: McpSessionTable;
  /** A round trip to the store (readiness); rejects when it cannot be read. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** The refusal while the state store cannot be reached (fail closed). */
export const stateDown = () => new BigQueryError('backendError', "bqgate's job and approval store cannot be reached, so the request was not run (fail closed). Retry later.");

/**
 * Opens the state: PostgreSQL at `postgresUrl` (postgres://…, tables created if missing) when
 * given, else SQLite files `<dataDir>/bqgate.sqlite` (jobs) and `<dataDir>/approvals.sqlite`.
 * Rejects when PostgreSQL cannot be reached at start. `inflightLeaseMs` (PostgreSQL only): how long
 * the in-flight slots of a replica that died keep counting.
 */
export async function openState(o: { dataDir: string; postgresUrl?: string; inflightLeaseMs?: number }): Promise<State> {
  return o.postgresUrl ? PostgresState.open(o.postgresUrl, o.inflightLeaseMs) : new SqliteState(o.dataDir);
}
