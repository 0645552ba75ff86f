/**
 * The approval gate in the job path: decides whether a checked statement must wait, parks its job
 * as PENDING, answers polls while it waits, submits it upstream once approved, and fails it when
 * denied or expired. Its collaborators come in as functions (plain data in and out), so this stage
 * does not reach into the others.
 *
 * Polls follow BigQuery's contract: jobs.get answers `status.state: PENDING`; getQueryResults and
 * jobs.query long-poll up to `timeoutMs` and answer `jobComplete: false`; a denied or expired job
 * is DONE with `errorResult.reason: accessDenied` (jobs.get), and getQueryResults answers that error.
 */
import { ApprovalStore, bindingOf, notificationPayloads, refusalMessage, type ApprovalRecord, type Person } from './index.js';
import type { ApprovalRequirement } from '../policy/index.js';

export interface GateDeps {
  approvals: ApprovalStore;
  /** Estimated bytes a statement processes (upstream dry run of the SQL that will run). */
  estimateBytes(projectId: string, sql: string, query: Record<string, unknown>): Promise<number | undefined>;
  /** Submits a parked job upstream (jobs.insert with its stored configuration); a duplicate is fine. */
  submit(projectId: string, jobId: string, location: string, configuration: Record<string, unknown>): Promise<void>;
  /** Marks a parked job submitted; false if it already was. */
  markSubmitted(projectId: string, jobId: string): Promise<boolean>;
  /** Notification targets: generic JSON webhooks and Slack incoming webhooks. */
  webhooks: { generic: string[]; slack: string[] };
  /** Base URL of the gateway, for links. */
  baseUrl: string;
  warn(msg: string): void;
}

/** What a statement needs before it runs: nothing, or these requirements (and the binding). */
export interface Hold { requirements: ApprovalRequirement[]; binding: string; bytesEstimate?: number }

/** A job as the gate sees it. */
export interface GatedJob { projectId: string; jobId: string; location: string; approvalId?: string; pendingConfiguration?: Record<string, unknown> }

export function createApprovalGate(d: GateDeps) {
  /**
   * The hold a statement needs, or undefined: no require_approval rule matched, the byte estimate
   * is under every matched rule's minimum, or a reusable approval of the same binding covers it
   * (`reused` is then set).
   */
  async function needs(o: { requester: Person; projectId: string; requirements?: ApprovalRequirement[]; fingerprint: string; parameters: unknown; policyVersion: string; sql: string; query: Record<string, unknown> }): Promise<{ hold?: Hold; reused?: ApprovalRecord }> {
    let reqs = o.requirements ?? [];
    if (!reqs.length) return {};
    let bytes: number | undefined;
    if (reqs.some((q) => q.minBytesProcessed !== undefined)) {
      bytes = await d.estimateBytes(o.projectId, o.sql, o.query);
      reqs = reqs.filter((q) => q.minBytesProcessed === undefined || (bytes ?? Infinity) >= q.minBytesProcessed);
      if (!reqs.length) return {};
    }
    const binding = bindingOf(o.fingerprint, o.parameters);
    const reused = await d.approvals.reuse(o.requester, binding, o.policyVersion, bytes);
    if (reused) return { reused };
    return { hold: { requirements: reqs, binding, bytesEstimate: bytes } };
  }

  /** Creates the pending approval for a parked job and sends the notifications (not awaited). */
  async function park(o: { hold: Hold; requester: Person; projectId: string; jobId: string; policyVersion: string; sql: string; upstreamSql: string; tables: string[]; columns?: string[]; requestId: string; sessionKey?: string }): Promise<ApprovalRecord> {
    const rec = await d.approvals.create({
      requester: o.requester, projectId: o.projectId, jobId: o.jobId, binding: o.hold.binding, policyVersion: o.policyVersion,
      bytesEstimate: o.hold.bytesEstimate, requirements: o.hold.requirements, sql: o.sql, upstreamSql: o.upstreamSql, tables: o.tables, columns: o.columns,
      requestId: o.requestId, sessionKey: o.sessionKey,
    });
    void notify(rec);
    return rec;
  }

  async function notify(rec: ApprovalRecord) {
    const p = notificationPayloads(rec, `${d.baseUrl}/bqgate/v1/approvals/${rec.id}`);
    const send = async (url: string, body: unknown) => {
      for (let attempt = 0; attempt < 3; attempt++) {
        try {
          const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(5000) });
          await r.arrayBuffer();
          if (r.ok) return;
        } catch { /* retried */ }
        await new Promise((res) => setTimeout(res, 500 * 2 ** attempt));
      }
      d.warn(`approval notification to ${new URL(url).origin} failed after 3 attempts (approval ${rec.id})`);
    };
    await Promise.all([...d.webhooks.generic.map((u) => send(u, p.generic)), ...d.webhooks.slack.map((u) => send(u, p.slack))]);
  }

  /** Sends an approved job upstream once (idempotent across requests and replicas). */
  async function ensureSubmitted(job: GatedJob) {
    if (!job.pendingConfiguration) return;
    await d.submit(job.projectId, job.jobId, job.location, job.pendingConfiguration);
    await d.markSubmitted(job.projectId, job.jobId);
  }

  /**
   * The approval state of a job, waiting up to `waitMs` while it is pending (long-poll). Approved
   * jobs are submitted upstream before this returns.
   */
  async function state(job: GatedJob, waitMs = 0): Promise<{ status: 'none' | 'pending' | 'approved' | 'refused'; record?: ApprovalRecord }> {
    if (!job.approvalId) return { status: 'none' };
    const end = Date.now() + waitMs;
    let rec = await d.approvals.get(job.approvalId);
    while (rec?.status === 'pending' && Date.now() < end) {
      await new Promise((r) => setTimeout(r, Math.min(200, Math.max(1, end - Date.now()))));
      rec = await d.approvals.get(job.approvalId);
    }
    if (!rec) return { status: 'refused' };
    if (rec.status === 'pending') return { status: 'pending', record: rec };
    if (rec.status === 'approved') { await ensureSubmitted(job); return { status: 'approved', record: rec }; }
    return { status: 'refused', record: rec };
  }

  /** The BigQuery reason of a job refused at approval: `stopped` once cancelled, else `accessDenied`. */
  const refusalReason = (rec: ApprovalRecord | undefined) => (rec?.status === 'cancelled' ? 'stopped' as const : 'accessDenied' as const);

  /** A job resource for a job that has not reached the upstream (pending, or refused by approval). */
  function jobResource(job: GatedJob & { createdAt: number }, rec: ApprovalRecord | undefined, configuration: unknown, userEmail: string) {
    const base = {
      kind: 'bigquery#job', id: `${job.projectId}:${job.location}.${job.jobId}`, jobReference: { projectId: job.projectId, jobId: job.jobId, location: job.location },
      configuration, user_email: userEmail, statistics: { creationTime: String(job.createdAt) },
    };
    if (!rec || rec.status === 'pending') return { ...base, status: { state: 'PENDING' } };
    const message = refusalMessage(rec);
    const reason = refusalReason(rec);
    return { ...base, status: { state: 'DONE', errorResult: { reason, message }, errors: [{ reason, message }] }, statistics: { ...base.statistics, endTime: String(rec.decidedAt ?? Date.now()) } };
  }

  /**
   * jobs.cancel of a job parked for approval: a pending approval is withdrawn (the job ends DONE with
   * reason `stopped`, as a cancelled BigQuery job does); the record after it, undefined for a job
   * that was never parked.
   */
  async function cancel(job: GatedJob): Promise<ApprovalRecord | undefined> {
    return job.approvalId ? d.approvals.cancel(job.approvalId) : undefined;
  }

  return { needs, park, state, ensureSubmitted, jobResource, refusalMessage, refusalReason, cancel };
}

export type ApprovalGate = ReturnType<typeof createApprovalGate>;
