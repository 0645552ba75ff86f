/**
 * What every operation of the gateway works with: the authenticated request (`Ctx`), what it
 * returns (`Outcome`), and small helpers shared by the operations.
 */
import type { Principal } from '../auth/index.js';
import type { ApiRequest } from '../bigquery/index.js';
import { hasRole, type Decision, type Policy } from '../policy/index.js';
import { BigQueryError } from '../bigquery/errors.js';
import type { RequestSummary } from '../audit/index.js';
import type { StreamedPage } from '../deliver/stream.js';
import { redactMaskSecrets } from '../rewrite/index.js';

/**
 * What a request's audit events say beyond the request itself (server.ts hands it to the
 * request's recorder, which turns it into `decision`, `upstream`, `delivery` and `response` events).
 */
export type AuditSummary = RequestSummary;

/** What an operation handler returns: the HTTP answer plus what the audit record should add. */
export interface Outcome {
  status?: number; body: unknown; audit?: AuditSummary; /** Response headers (the upload endpoint's Location, Range). */ headers?: Record<string, string>;
  /** A result page delivered by streaming (deliver/stream.ts): its exact bytes, sent instead of `body` serialized. */
  streamed?: StreamedPage;
}

/** One authenticated request: who, what, and the gateway's request id (shared by its audit events). */
export interface Ctx {
  principal: Principal; req: ApiRequest; auditId: string; policy: Policy;
  /** The front door the request came in by (pipeline/index.ts `Door`): stamped on its jobs as `bqgate_door`. */
  door?: 'rest' | 'mcp' | 'storage';
  /** Statement kinds the request may run (PipelineCall.statementKinds); any when absent. */
  statementKinds?: { kinds: string[]; why: string };
  /**
   * The caller's verified bearer token: only ever the subject token of a federation exchange
   * (upstream/credentials.ts); never logged, audited or forwarded to BigQuery.
   */
  callerToken?: string;
  /** The audit session key of the request (x-bqgate-session, the bqgate_session label, or the job's). */
  sessionKey?: string;
  /** Further audit events of this request (e.g. approval steps), recorded with its response. */
  events?: Array<{ type: 'approval'; data: Record<string, unknown> }>;
  /** What the audit record should hold even if a later stage fails (the decision, the SQL sent). */
  audit: AuditSummary;
  /**
   * A streamed answer (PipelineCall.emit): records `delivery` as a durable `delivery` audit event
   * (with the decision, if not yet written), then writes `message` to the caller. Throws the audit's
   * backendError (nothing is written then) or the door's write failure (the caller went away).
   */
  emit?: (delivery: Record<string, unknown>, message: unknown) => Promise<void>;
}


export const enc = encodeURIComponent;

/** The audit fields of an allow decision and the SQL sent upstream. */
export const decisionAudit = (d: Decision, sql: string): AuditSummary => ({ decision: 'allow', matchedRules: d.matchedRules, reasons: d.reasons, policyVersion: d.policyVersion, upstreamSql: redactMaskSecrets(sql) });

/** The keys of `o` that are set. */
export const pick = (o: any, keys: string[]) => Object.fromEntries(keys.filter((k) => o?.[k] !== undefined).map((k) => [k, o[k]]));

/**
 * Throws BigQueryError(accessDenied) unless the caller holds the auditor role (policy
 * roles.auditors, or roles.admins); the message names `what` was refused, the groups that hold the
 * role, and the caller's groups.
 */
export function requireAuditor(c: Ctx, what: string): void {
  if (hasRole(c.policy, c.principal.groups, 'auditors')) return;
  const roles = c.policy.roles;
  throw new BigQueryError('accessDenied', `Access Denied: ${what} is for auditors (policy roles.auditors: ${JSON.stringify(roles?.auditors ?? [])}, or roles.admins: ${JSON.stringify(roles?.admins ?? [])}); ${c.principal.subject} is in ${JSON.stringify(c.principal.groups)}.`);
}
