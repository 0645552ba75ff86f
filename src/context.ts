/**
 * What every operation of the gateway works with: the authenticated request (`Ctx`), what it
 * returns (`Outcome`), and small helpers shared by the operations.
 */
import type { Principal } from './auth/index.js';
import type { ApiRequest } from './bigquery/index.js';
import type { Decision, Policy } from './policy/index.js';
import type { AuditFinish } from './audit/index.js';

/** What an operation handler returns: the HTTP answer plus what the audit record should add. */
export interface Outcome { status?: number; body: unknown; audit?: Partial<AuditFinish> }

/** One authenticated request: who, what, and the id of its audit record. */
export interface Ctx {
  principal: Principal; req: ApiRequest; auditId: string; policy: Policy;
  /** What the audit record should hold even if a later stage fails (the decision, the SQL sent). */
  audit: Partial<AuditFinish>;
}


export const enc = encodeURIComponent;

/** The audit fields of an allow decision and the SQL sent upstream. */
export const decisionAudit = (d: Decision, sql: string): Partial<AuditFinish> => ({ decision: 'allow', matchedRules: d.matchedRules, reasons: d.reasons, policyVersion: d.policyVersion, upstreamSql: sql });

/** The keys of `o` that are set. */
export const pick = (o: any, keys: string[]) => Object.fromEntries(keys.filter((k) => o?.[k] !== undefined).map((k) => [k, o[k]]));
