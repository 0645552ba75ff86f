/**
 * The approvals API (`/bqgate/v1/approvals`: list, get, approve, deny), served through the
 * gateway's authenticated, audited pipeline; approvers act with their own token. A requester sees
 * its own approvals; an approver those it may decide. The rewritten SQL and the binding stay
 * inside (the SQL carries keyed-mask material).
 */
import { BigQueryError, type Operation } from '../bigquery/index.js';
import type { AuditLog } from '../audit/index.js';
import type { JobStore } from '../state/index.js';
import type { Ctx, Outcome } from '../pipeline/context.js';
import { ApprovalError, type ApprovalRecord, type ApprovalStore } from './index.js';
import type { ApprovalGate } from './gate.js';
import { person } from '../doors/bigquery/jobs.js';
import { callerJobId } from '../doors/bigquery/job-ids.js';
import { createHash } from 'node:crypto';


/**
 * An approval as the API shows it (the rewritten SQL stays inside: it carries keyed-mask
 * material); `jobId` is the id the requester's client knows the job by (job-ids.ts).
 */
const approvalView = (r: ApprovalRecord) => {
  const { upstreamSql: _sql, binding: _b, ...view } = r;
  return { kind: 'bqgate#approval', ...view, jobId: callerJobId({ jobId: r.jobId, ownerIssuer: r.requester.issuer, ownerSubject: r.requester.subject }), createdAt: new Date(r.createdAt).toISOString(), expiresAt: new Date(r.expiresAt).toISOString(), ...(r.decidedAt ? { decidedAt: new Date(r.decidedAt).toISOString() } : {}) };
};

export interface ApiDeps { approvals: ApprovalStore; gate: ApprovalGate; store: JobStore; auditLog: AuditLog }

export function approvalOperations(d: ApiDeps): Pick<Record<Operation, (c: Ctx) => Promise<Outcome>>, 'approvals.list' | 'approvals.get' | 'approvals.approve' | 'approvals.deny'> {
  const { approvals, gate, store, auditLog } = d;

  /**
   * An approver's decision. The step is recorded in the approver's request and in the requester's
   * session; an approval that is complete sends the job upstream before the answer.
   */
  async function decideApproval(c: Ctx, decision: 'approve' | 'deny'): Promise<Outcome> {
    const id = c.req.params.approvalId!;
    const comment = typeof c.req.body?.comment === 'string' ? c.req.body.comment.slice(0, 2000) : undefined;
    let r: ApprovalRecord;
    try {
      r = await approvals.decide(id, person(c), decision, comment);
    } catch (err) {
      if (err instanceof ApprovalError) throw new BigQueryError(err.reason, err.message);
      throw err;
    }
    const step = r.steps[r.steps.length - 1];
    const data = { step: decision, approvalId: id, approver: c.principal.subject, approverActor: c.principal.actor, comment, breakGlass: step.breakGlass, status: r.status };
    (c.events ??= []).push({ type: 'approval', data: { ...data, requester: r.requester.subject } });
    await auditLog.append([{ type: 'approval', requestId: r.requestId, principal: r.requester.subject, issuer: r.requester.issuer, actor: r.requester.actor, sessionKey: r.sessionKey, data }]);
    if (r.status === 'approved') {
      const job = await store.getJobAnyOwner(r.projectId, r.jobId);
      // Submitted now when it can be; otherwise (e.g. the job runs with the requester's federated
      // credential, not at hand here) the requester's next poll submits it.
      if (job) await gate.ensureSubmitted(job).catch(() => undefined);
    }
    return { body: approvalView(r) };
  }

  /** A requester sees its own approvals; an approver (or break-glass member) those it may decide. */
  const visible = (c: Ctx, r: ApprovalRecord) => (r.requester.subject === c.principal.subject && r.requester.issuer === c.principal.issuer)
    || r.requirements.some((q) => [...q.approverGroups, ...q.breakGlassGroups].some((g) => c.principal.groups.includes(g)));

  return {
    /**
     * `?status=` pending (default) | approved | denied | expired | cancelled | any. Live updates by
     * long poll: `?ifChanged=<etag of the last answer>&timeoutMs=` (≤ 25 000) answers when the list
     * differs from that etag, or when the time is up (with the same etag).
     */
    'approvals.list': async (c) => {
      const q = c.req.query;
      const status = q.status === 'any' ? undefined : (q.status ?? 'pending') as ApprovalRecord['status'];
      const read = async () => {
        const items = (await approvals.list({ status, limit: 200 })).filter((r) => visible(c, r)).map(approvalView);
        return { items, etag: createHash('sha256').update(JSON.stringify(items)).digest('base64url').slice(0, 22) };
      };
      let now = await read();
      const until = Date.now() + Math.min(25_000, Math.max(0, Number(q.timeoutMs ?? 20_000) || 0));
      while (q.ifChanged && now.etag === q.ifChanged && Date.now() < until) {
        await new Promise((r) => setTimeout(r, 500));
        now = await read();
      }
      return { body: { kind: 'bqgate#approvalList', etag: now.etag, approvals: now.items } };
    },
    'approvals.get': async (c) => {
      const r = await approvals.get(c.req.params.approvalId!);
      if (!r || !visible(c, r)) throw new BigQueryError('notFound', `Not found: approval ${c.req.params.approvalId}`);
      return { body: approvalView(r!) };
    },
    'approvals.approve': (c) => decideApproval(c, 'approve'),
    'approvals.deny': (c) => decideApproval(c, 'deny'),
  };
}
