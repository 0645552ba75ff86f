/**
 * `state/`: the gateway's operational state — jobs (with their owners and row-cap page tokens) and
 * approval records — in SQLite under the data directory (one replica) or in PostgreSQL shared by
 * several replicas, so any replica answers any poll of any job and any approver's decision.
 *
 * The audit log (audit/) is the durable record; this is what the running gateway needs to answer.
 * Every method is async (node-postgres); a store that cannot be reached throws BigQueryError
 * (backendError, `stateDown`) so the request fails closed with a message an agent can act on.
 */
import { BigQueryError } from '../bigquery/errors.js';
import { SqliteState } from './sqlite.js';
import { PostgresState } from './postgres.js';

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

export interface State {
  readonly kind: 'sqlite' | 'postgres';
  jobs: JobStore;
  approvals: ApprovalTable<any>;
  /** A round trip to the store (readiness); rejects when it cannot be read. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** The refusal while the state store cannot be reached (fail closed). */
export const stateDown = () => new BigQueryError('backendError', "bqgate's job and approval store cannot be reached, so the request was not run (fail closed). Retry later.");

/**
 * Opens the state: PostgreSQL at `postgresUrl` (postgres://…, tables created if missing) when
 * given, else SQLite files `<dataDir>/bqgate.sqlite` (jobs) and `<dataDir>/approvals.sqlite`.
 * Rejects when PostgreSQL cannot be reached at start.
 */
export async function openState(o: { dataDir: string; postgresUrl?: string }): Promise<State> {
  return o.postgresUrl ? PostgresState.open(o.postgresUrl) : new SqliteState(o.dataDir);
}
