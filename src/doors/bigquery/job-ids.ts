/**
 * Caller-chosen identifiers, namespaced per principal before they reach the upstream, so that one
 * principal's `requestId` or `jobId` can never name, collide with or return another's job:
 *
 * - a jobId the caller chose (jobs.insert `jobReference.jobId`) runs upstream, and is recorded, as
 *   `bqgate_<owner tag>_<jobId>`; the caller keeps seeing and using its own `<jobId>`. The owner
 *   tag is 16 hex digits of SHA-256(issuer, subject): two principals' namespaces never meet.
 * - ids the gateway mints (`bqgate_<32 hex>`) and ids the upstream assigns (jobs.query) are
 *   random and stay as they are; a caller finds them only among its own jobs.
 * - a jobs.query `requestId` goes upstream as a UUID derived from HMAC-SHA256 keyed by the
 *   principal (issuer, subject) over the caller's requestId: a retry by the same caller is still
 *   deduplicated upstream, another caller's identical requestId is a different one.
 */
import { createHash, createHmac, randomUUID } from 'node:crypto';
import type { JobStore, JobRecord } from '../../state/index.js';
import { handOn, takeHandedOn } from '../../request-scope.js';

/** Who owns a job: the principal's issuer and subject. */
export interface Owner { issuer: string; subject: string }

/** 16 hex digits naming `o`'s job namespace. */
export const ownerTag = (o: Owner): string => createHash('sha256').update(`${o.issuer}\0${o.subject}`).digest('hex').slice(0, 16);

/** The upstream (and recorded) id of the job the caller `o` named `jobId`. */
export const upstreamJobId = (o: Owner, jobId: string): string => `bqgate_${ownerTag(o)}_${jobId}`;

/** A job id chosen by the gateway (used as is upstream; 32 hex digits after `bqgate_`). */
export const mintJobId = (): string => `bqgate_${randomUUID().replace(/-/g, '')}`;

/** The id the owner of `job` knows it by: its own jobId when it chose one, else the recorded id. */
export function callerJobId(job: Pick<JobRecord, 'jobId' | 'ownerIssuer' | 'ownerSubject'>): string {
  const prefix = `bqgate_${ownerTag({ issuer: job.ownerIssuer, subject: job.ownerSubject })}_`;
  return job.jobId.startsWith(prefix) ? job.jobId.slice(prefix.length) : job.jobId;
}

/** The upstream requestId for the caller `o`'s `requestId`: a UUID (version 8 layout) from HMAC-SHA256. */
export function upstreamRequestId(o: Owner, requestId: string): string {
  const h = createHmac('sha256', `${o.issuer}\0${o.subject}`).update(requestId).digest();
  h[6] = (h[6] & 0x0f) | 0x80;
  h[8] = (h[8] & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
}

/**
 * The caller's job named `jobId` (as the caller knows it), or undefined: first its own namespaced
 * job of that name, then a job recorded under exactly that id (minted or upstream-assigned) that
 * the caller owns.
 */
export async function findOwnJob(store: JobStore, o: Owner, projectId: string, jobId: string): Promise<JobRecord | undefined> {
  const handed = takeHandedOn<JobRecord | undefined>(ownJobKey(o, projectId, jobId));
  if (handed) return handed.value;
  return (await store.getJob(projectId, upstreamJobId(o, jobId), o.issuer, o.subject)) ?? store.getJob(projectId, jobId, o.issuer, o.subject);
}

/**
 * `findOwnJob`, whose answer the request's next `findOwnJob` of the same job then takes instead of
 * reading the store again (once; request-scope.ts handOn). Errors are not handed on.
 */
export async function prefetchOwnJob(store: JobStore, o: Owner, projectId: string, jobId: string): Promise<JobRecord | undefined> {
  const job = await findOwnJob(store, o, projectId, jobId);
  handOn(ownJobKey(o, projectId, jobId), job);
  return job;
}

const ownJobKey = (o: Owner, projectId: string, jobId: string) => `ownJob\0${o.issuer}\0${o.subject}\0${projectId}\0${jobId}`;

/**
 * Whether `job`'s anonymous results may be read by name as `_bqgate_results.<jobId>` (jobs.get's
 * resultsTable; the Storage Read API door): `'readable'` for a SELECT job that neither waited for an
 * approval nor carries a row cap; `'capped'` for such a job with a policy row cap (getQueryResults
 * applies the cap; a read session would pass it, so the door refuses it with its own message);
 * `'not-results'` otherwise (DML, DDL, scripts, approved jobs: their results are not a table the
 * caller reads by name). One predicate for both doors.
 */
export function resultsTableAccess(job: Pick<JobRecord, 'statementType' | 'approvalId' | 'maxRows'>): 'readable' | 'capped' | 'not-results' {
  if (job.statementType !== 'SELECT' || job.approvalId) return 'not-results';
  return job.maxRows === undefined ? 'readable' : 'capped';
}
