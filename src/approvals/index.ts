/**
 * `approvals/`: just-in-time approval of risky statements.
 *
 * A statement that matched require_approval rules (policy Decision.approvals) becomes a pending
 * approval bound to the requester (issuer + subject), the statement fingerprint (resolved
 * structure, sql/) plus parameter values, the policy version and the dry-run byte estimate. The
 * job stays PENDING until:
 * - every requirement has its count of distinct approvers from its groups (N of M), or one member
 *   of a break-glass group approves (flagged in the audit) → approved, and the gateway submits the
 *   job upstream;
 * - an approver denies → denied; the job ends DONE with accessDenied and the approver's comment;
 * - `expires_after_seconds` pass → expired, likewise.
 * Nobody approves their own request. An approval is single-use unless its rule gives
 * `reuse_seconds`: then the same principal may run the same bound statement again in that window.
 *
 * Records live in the state store (state/): `<dataDir>/approvals.sqlite` (WAL, synchronous=FULL) or
 * PostgreSQL shared by replicas, so pending approvals survive a restart and any replica answers
 * them. Times are ms since epoch.
 */
import { createHash, randomUUID } from 'node:crypto';
import canonicalize from 'canonicalize';
import type { ApprovalRequirement } from '../policy/index.js';
import type { ApprovalTable } from '../state/index.js';

export type ApprovalStatus = 'pending' | 'approved' | 'denied' | 'expired' | 'cancelled';

export interface Person { subject: string; issuer: string; email?: string; actor?: string; groups: string[] }

export interface ApprovalStep { approver: Person; decision: 'approve' | 'deny'; comment?: string; at: number; breakGlass: boolean; requirements: string[] }

export interface ApprovalRecord {
  id: string;
  status: ApprovalStatus;
  createdAt: number;
  expiresAt: number;
  decidedAt?: number;
  /** Until when the approval may be reused (approved, reusable rules only). */
  reusableUntil?: number;
  used: number;
  requester: Person;
  projectId: string;
  jobId: string;
  /** The binding: statement fingerprint + parameter values (SHA-256 hex), policy version, bytes. */
  binding: string;
  policyVersion: string;
  bytesEstimate?: number;
  requirements: ApprovalRequirement[];
  steps: ApprovalStep[];
  /** The caller's SQL and the SQL that will be sent (masks applied). */
  sql: string;
  upstreamSql: string;
  tables: string[];
  /** Columns the statement reads (`project.dataset.table.column`); absent on records made before they were kept. */
  columns?: string[];
  /** The gateway request that asked, and its audit session key. */
  requestId: string;
  sessionKey?: string;
}

/** The binding of a statement: SHA-256 of its fingerprint and its parameters' values (canonical JSON). */
export function bindingOf(fingerprint: string, queryParameters: unknown): string {
  return createHash('sha256').update(fingerprint).update('\0').update(canonicalize(queryParameters ?? []) ?? '').digest('hex');
}

/** Why an approver's decision is refused (BigQuery-style reasons: accessDenied, invalid, notFound). */
export class ApprovalError extends Error {
  constructor(readonly reason: 'accessDenied' | 'invalid' | 'notFound', message: string) { super(message); }
}

const same = (a: Person, b: Person) => a.subject === b.subject && a.issuer === b.issuer;

/** Requirement ids satisfied by `steps` (approvals only). */
export function satisfied(r: Pick<ApprovalRecord, 'requirements' | 'steps'>): { done: boolean; missing: string[] } {
  const approvals = r.steps.filter((s) => s.decision === 'approve');
  if (approvals.some((s) => s.breakGlass)) return { done: true, missing: [] };
  const missing = r.requirements.filter((q) => new Set(approvals.filter((s) => s.requirements.includes(q.ruleId)).map((s) => `${s.approver.issuer}\0${s.approver.subject}`)).size < q.count)
    .map((q) => `${q.ruleId} (${q.count} of ${q.approverGroups.join('/')})`);
  return { done: missing.length === 0, missing };
}

/**
 * Approval records and their rules (decide, cancel, expire, reuse) over a state table (state/):
 * SQLite for one replica, PostgreSQL shared by several. Every change is a row-locked
 * read-modify-write, so concurrent approvers on different replicas each count. Store failures
 * reject with BigQueryError(backendError); rule violations with ApprovalError.
 */
export class ApprovalStore {
  constructor(private readonly table: ApprovalTable<ApprovalRecord>) {}

  /** Creates a pending approval; `expiresAt` from the shortest expiry of its requirements. */
  async create(r: Omit<ApprovalRecord, 'id' | 'status' | 'createdAt' | 'expiresAt' | 'steps' | 'used'>, now = Date.now()): Promise<ApprovalRecord> {
    const rec: ApprovalRecord = {
      ...r, id: `apr_${randomUUID().replace(/-/g, '')}`, status: 'pending', createdAt: now, used: 0, steps: [],
      expiresAt: now + 1000 * Math.min(...r.requirements.map((q) => q.expiresAfterSeconds)),
    };
    await this.table.insert(rec);
    return rec;
  }

  /** The record, with a pending one past its expiry turned expired (and saved). */
  async get(id: string, now = Date.now()): Promise<ApprovalRecord | undefined> {
    const r = await this.table.get(id);
    if (!r || r.status !== 'pending' || now < r.expiresAt) return r;
    return this.table.update(id, expire(now));
  }

  /** Records, newest first; `status` filters, `limit` caps (200). */
  async list(o: { status?: ApprovalStatus; limit?: number } = {}, now = Date.now()): Promise<ApprovalRecord[]> {
    const ids = await this.table.ids({ status: o.status, limit: o.limit ?? 200 });
    const all = await Promise.all(ids.map((id) => this.get(id, now)));
    return all.filter((r): r is ApprovalRecord => !!r && (!o.status || r.status === o.status));
  }

  /** How many approvals wait for a decision now (expired ones are not counted, whether or not marked yet). */
  countPending(now = Date.now()): Promise<number> { return this.table.countPending(now); }

  /**
   * An approver's decision. Throws ApprovalError: notFound; invalid (not pending any more, or this
   * approver already approved); accessDenied (own request, or not in an approver or break-glass
   * group of a requirement still missing). Resolves with the record after the step.
   */
  async decide(id: string, approver: Person, decision: 'approve' | 'deny', comment: string | undefined, now = Date.now()): Promise<ApprovalRecord> {
    const out = await this.table.update(id, (r) => {
      expire(now)(r);
      if (r.status !== 'pending') throw new ApprovalError('invalid', `Approval ${id} is ${r.status}; it can no longer be decided.`);
      if (same(r.requester, approver)) throw new ApprovalError('accessDenied', `Access Denied: ${approver.subject} requested ${id} and cannot decide it; nobody approves their own request.`);
      const open = r.requirements.filter((q) => satisfied({ requirements: [q], steps: r.steps }).done === false);
      const mine = open.filter((q) => q.approverGroups.some((g) => approver.groups.includes(g))).map((q) => q.ruleId);
      const breakGlass = mine.length === 0 && r.requirements.some((q) => q.breakGlassGroups.some((g) => approver.groups.includes(g)));
      if (!mine.length && !breakGlass) {
        throw new ApprovalError('accessDenied', `Access Denied: ${approver.subject} is in none of the approver groups still needed for ${id} (${open.map((q) => q.approverGroups.join('/')).join('; ') || 'none'}).`);
      }
      if (decision === 'approve' && r.steps.some((s) => same(s.approver, approver) && s.decision === 'approve')) {
        throw new ApprovalError('invalid', `${approver.subject} already approved ${id}; N-of-M approvals need distinct approvers.`);
      }
      r.steps.push({ approver, decision, comment, at: now, breakGlass, requirements: mine });
      if (decision === 'deny') { r.status = 'denied'; r.decidedAt = now; }
      else if (satisfied(r).done) {
        r.status = 'approved';
        r.decidedAt = now;
        const reuse = Math.min(...r.requirements.map((q) => q.reuseSeconds));
        if (reuse > 0) r.reusableUntil = now + reuse * 1000;
      }
      return r;
    });
    if (!out) throw new ApprovalError('notFound', `Not found: approval ${id}`);
    return out;
  }

  /**
   * The requester withdraws a pending approval (jobs.cancel of the parked job). Resolves with the
   * record; one no longer pending is returned unchanged. Throws ApprovalError(notFound) for an unknown id.
   */
  async cancel(id: string, now = Date.now()): Promise<ApprovalRecord> {
    const out = await this.table.update(id, (r) => {
      if (expire(now)(r)) return r;
      if (r.status !== 'pending') return undefined;
      r.status = 'cancelled';
      r.decidedAt = now;
      return r;
    });
    if (!out) throw new ApprovalError('notFound', `Not found: approval ${id}`);
    return out;
  }

  /**
   * An approved, reusable approval of this requester for this binding and policy version whose
   * byte estimate covers `bytes`; counts the use. Single-use approvals are never returned.
   */
  async reuse(requester: Person, binding: string, policyVersion: string, bytes: number | undefined, now = Date.now()): Promise<ApprovalRecord | undefined> {
    for (const id of await this.table.approvedFor(requester.issuer, requester.subject, binding, policyVersion)) {
      const usable = (r: ApprovalRecord) => !!r.reusableUntil && now <= r.reusableUntil && (bytes === undefined || r.bytesEstimate === undefined || bytes <= r.bytesEstimate);
      let taken = false;
      const r = await this.table.update(id, (x) => {
        if (x.status !== 'approved' || !usable(x)) return undefined;
        x.used++;
        taken = true;
        return x;
      });
      if (taken) return r;
    }
    return undefined;
  }
}

/** A change that turns a pending record past its expiry into expired; undefined when nothing changes. */
const expire = (now: number) => (r: ApprovalRecord): ApprovalRecord | undefined => {
  if (r.status !== 'pending' || now < r.expiresAt) return undefined;
  r.status = 'expired';
  r.decidedAt = r.expiresAt;
  return r;
};

/** The error a denied or expired approval gives the job (accessDenied), with the approver's comment. */
export function refusalMessage(r: ApprovalRecord): string {
  if (r.status === 'cancelled') return `Job execution was cancelled: the requester cancelled the job while approval ${r.id} was pending; the statement was not run.`;
  if (r.status === 'expired') return `Access Denied: approval ${r.id} expired at ${new Date(r.expiresAt).toISOString()} without a decision; the statement was not run. Send it again to request a new approval.`;
  const d = [...r.steps].reverse().find((s) => s.decision === 'deny');
  return `Access Denied: approval ${r.id} was denied by ${d?.approver.email ?? d?.approver.subject ?? 'an approver'}${d?.comment ? `: "${d.comment}"` : ''}; the statement was not run.`;
}

/**
 * Notifications of a new pending approval: a Slack-compatible incoming-webhook payload
 * (`text` + `blocks`) and a generic JSON one. `link` points at the approval in the REST API.
 */
export function notificationPayloads(r: ApprovalRecord, link: string) {
  const who = `${r.requester.email ?? r.requester.subject}${r.requester.actor ? ` (agent ${r.requester.actor})` : ''}`;
  const needs = r.requirements.map((q) => `${q.count} of ${q.approverGroups.join('/')} (rule ${q.ruleId}${q.description ? `: ${q.description}` : ''})`).join('; ');
  const text = `bqgate: ${who} asks to run a statement on ${r.tables.join(', ') || 'BigQuery'} — needs ${needs}. Approve or deny: ${link}`;
  return {
    slack: {
      text,
      blocks: [
        { type: 'section', text: { type: 'mrkdwn', text: `*bqgate approval ${r.id}*\n*Requester:* ${who}\n*Needs:* ${needs}${r.bytesEstimate !== undefined ? `\n*Estimated bytes:* ${r.bytesEstimate}` : ''}` } },
        { type: 'section', text: { type: 'mrkdwn', text: '```' + r.sql.slice(0, 2800) + '```' } },
        { type: 'section', text: { type: 'mrkdwn', text: `<${link}|Open the approval> · expires ${new Date(r.expiresAt).toISOString()}` } },
      ],
    },
    generic: { kind: 'bqgate#approvalRequest', id: r.id, requester: r.requester, sql: r.sql, tables: r.tables, bytesEstimate: r.bytesEstimate, requirements: r.requirements, expiresAt: new Date(r.expiresAt).toISOString(), link },
  };
}
