/**
 * The approvals API (`/bqgate/v1/approvals`: list, get, approve, deny), served through the
 * gateway's authenticated, audited pipeline; approvers act with their own token. A requester sees
 * its own approvals; an approver those it may decide. The rewritten SQL and the binding stay
 * inside (the SQL carries keyed-mask material).
 */
import { BigQueryError, type Operation } from '../bigquery/index.js';
import type { AuditLog } from '../audit/index.js';
import type { JobStore } from '../state/index.js';
import type { Ctx, Outcome } from '../context.js';
import { ApprovalError, type ApprovalRecord, type ApprovalStore } from './index.js';
import type { ApprovalGate } from './gate.js';
import { person } from '../jobs.js';


/** An approval as the API shows it (the rewritten SQL stays inside: it carries keyed-mask material). */
const approvalView = (r: ApprovalRecord) => {
  const { upstreamSql: _sql, binding: _b, ...view } = r;
  return { kind: 'bqgate#approval', ...view, createdAt: new Date(r.createdAt).toISOString(), expiresAt: new Date(r.expiresAt).toISOString(), ...(r.decidedAt ? { decidedAt: new Date(r.decidedAt).toISOString() } : {}) };
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
    'approvals.list': async (c) => {
      const status = c.req.query.status as ApprovalRecord['status'] | undefined;
      const items = (await approvals.list({ status: status ?? 'pending' }))
        .filter((r) => visible(c, r));
      return { body: { kind: 'bqgate#approvalList', approvals: items.map(approvalView) } };
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
