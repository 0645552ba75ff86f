/** What the SQLite and PostgreSQL stores share: the failure guard, the jobs table's columns and row mapping. */
import type pg from 'pg';
import { BigQueryError } from '../bigquery/errors.js';
import { stateDown, type JobRecord } from './index.js';

/** Runs a store call; a driver failure (connection, server, SQLite) becomes stateDown, a BigQueryError passes through. */
export async function guard<T>(fn: () => T | Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof BigQueryError) throw err;
    throw stateDown();
  }
}

/**
 * Runs `fn` in a PostgreSQL transaction holding the advisory lock `key` (released at COMMIT or
 * ROLLBACK), so that replicas counting and inserting together are serialized; any failure rolls
 * back and becomes stateDown.
 */
export async function lockedTransaction<T>(pool: pg.Pool, key: number, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
  let c: pg.PoolClient;
  try { c = await pool.connect(); } catch { throw stateDown(); }
  try {
    await c.query('BEGIN');
    await c.query('SELECT pg_advisory_xact_lock($1)', [key]);
    const out = await fn(c);
    await c.query('COMMIT');
    return out;
  } catch {
    await c.query('ROLLBACK').catch(() => {});
    throw stateDown();
  } finally {
    c.release();
  }
}

export const JOB_COLUMNS = ['project_id', 'job_id', 'location', 'owner_issuer', 'owner_subject', 'query', 'upstream_query', 'statement_type', 'created_at',
  'request_id', 'backstop_columns', 'max_rows', 'session_key', 'approval_id', 'pending_config', 'upstream_identity'] as const;

/** A job's values in JOB_COLUMNS order. */
export const jobValues = (j: JobRecord): unknown[] => [
  j.projectId, j.jobId, j.location, j.ownerIssuer, j.ownerSubject, j.query, j.upstreamQuery, j.statementType, j.createdAt, j.requestId ?? null,
  JSON.stringify(j.backstopColumns ?? []), j.maxRows ?? null, j.sessionKey ?? null, j.approvalId ?? null,
  j.pendingConfiguration ? JSON.stringify(j.pendingConfiguration) : null, j.upstreamIdentity ?? null,
];

export function rowToJob(r: any): JobRecord {
  return {
    projectId: r.project_id, jobId: r.job_id, location: r.location, ownerIssuer: r.owner_issuer, ownerSubject: r.owner_subject,
    query: r.query, upstreamQuery: r.upstream_query, statementType: r.statement_type, createdAt: Number(r.created_at), requestId: r.request_id ?? undefined,
    backstopColumns: r.backstop_columns ? JSON.parse(r.backstop_columns) : [],
    maxRows: r.max_rows ?? undefined,
    sessionKey: r.session_key ?? undefined,
    approvalId: r.approval_id ?? undefined,
    pendingConfiguration: r.pending_config ? JSON.parse(r.pending_config) : undefined,
    upstreamIdentity: r.upstream_identity ?? undefined,
  };
}
