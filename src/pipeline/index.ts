/**
 * `pipeline/`: one request through bqgate, whichever door it came in by (DESIGN.md):
 *
 *   (door: authenticate) → analyze → decide → approval → rewrite → upstream → deliver → record
 *
 * A door (rest/, mcp/) turns its protocol's request into a `PipelineCall` — plain data: the BigQuery
 * operation, the principal it authenticated (or why it could not), the resource's path parameters,
 * the request body in the BigQuery REST shape — and `Pipeline.run` answers a `PipelineResult`: the
 * BigQuery resource (status, body, the exact serialized payload the audit log hashed) or the
 * `BigQueryError` refusal. Every call, refused or not, leaves its audit events (request, decision,
 * upstream, delivery, response) durable before `run` resolves; `request` and `decision` are durable
 * before anything goes upstream (the request scope's gate). If the audit log cannot write, the
 * result is the error `backendError` and nothing (more) happens.
 *
 * `check` is the statement stage (analyze → decide → rewrite) the job operations call; the
 * operations themselves (REST-shaped BigQuery methods, rest/) are handed in by `createGateway`.
 */
import type { Principal } from '../auth/index.js';
import { BigQueryError, asBigQueryError, validateRequest, type ApiRequest, type MediaUpload, type Operation } from '../bigquery/index.js';
import type { Catalog } from '../catalog/index.js';
import type { Analyzer, QueryAnalysis } from '../sql/index.js';
import type { ZetaSqlPool } from '../sql/pool.js';
import type { Decision } from '../policy/index.js';
import type { PolicyStore } from '../policy/store.js';
import { auditDown, RequestRecorder, type AuditLog } from '../audit/index.js';
import type { JobStore } from '../state/index.js';
import type { GatewayMetrics } from '../telemetry/index.js';
import { endSpan, type startTracing } from '../telemetry/index.js';
import type { ConcurrencyCaps } from '../limits.js';
import type { Config } from '../config.js';
import { stage, withScope, untilAborted, withinMs, type RequestScope, type Timings } from '../request-scope.js';
import { prefetchOwnJob } from '../doors/bigquery/job-ids.js';
import { sentPage } from '../deliver/stream.js';
import { analysisAudit, createCheck, type Check } from './check.js';
import type { Ctx, Outcome } from './context.js';

export type { Ctx, Outcome, AuditSummary } from './context.js';
export { enc, pick, decisionAudit, requireAuditor } from './context.js';
export type { Check, Checked } from './check.js';

/** The front door a call came in by; jobs it starts carry it as the label `bqgate_door`. */
export type Door = 'rest' | 'mcp' | 'storage';

/** A verified caller, or why the door could not verify one. */
export type Identity = { principal: Principal; callerToken?: string } | { error: unknown };

/** One call into the pipeline, as plain data. */
export interface PipelineCall {
  door: Door;
  /** The BigQuery (or bqgate API) operation, bigquery/index.ts `Operation`. */
  op: Operation;
  /**
   * Who the door authenticated, with the verified bearer token (only ever a federation's subject
   * token), or why it could not; or the door's verification, run and timed as the `auth` stage.
   */
  identity: Identity | (() => Promise<Identity>);
  /** The gateway's id of this request: the audit record id, the `bqgate_request` label. */
  requestId: string;
  /** Path parameters: projectId, datasetId, tableId, routineId, modelId, jobId, … */
  params: ApiRequest['params'] & Record<string, string | undefined>;
  /** URL query parameters (maxResults, pageToken, location, timeoutMs, …), strings as on the wire. */
  query?: Record<string, string | undefined>;
  /** The request body in the BigQuery REST shape (jobs.query: a QueryRequest). */
  body?: any;
  /** The client's name: the HTTP user agent, or an MCP client's `name/version`. */
  client?: string;
  /** The audit session key (x-bqgate-session, the bqgate_session label); a job's polls join the job's session when unset. */
  sessionKey?: string;
  /** Door fields added to the `request` audit event (mcp: tool, arguments, protocol revision). */
  requestAudit?: Record<string, unknown>;
  /** W3C trace context headers the request span continues (traceparent, tracestate). */
  traceHeaders?: Record<string, string | string[] | undefined>;
  /** The HTTP verb and path as received (REST; names a refused method). */
  method?: string;
  url?: string;
  /** An upload request's media (REST jobs.upload / jobs.uploadChunk). */
  upload?: MediaUpload;
  /** Why the door could not read the request (a malformed upload): refused after authentication, audited. */
  unreadable?: unknown;
  /**
   * The door's rendering of a successful answer (mcp: the tool result), run inside `run` so that the
   * audit hashes what the door writes: `payload` is the serialization the door sends (the delivery
   * event's `bytes` and `sha256` are of it, UTF-8), `delivered` the same page in the BigQuery shape
   * (`schema`, `rows` as f/v cells, `pageToken`) for the delivery event's rows, sample and rowsSha256.
   * Absent (REST): the payload is `JSON.stringify(body)` and the body itself is what was delivered.
   */
  render?: Render;
  /**
   * Statement kinds this call may run (QueryAnalysis.statementKind, e.g. `['SELECT']` for MCP's
   * execute_sql_readonly): another kind is refused `accessDenied` after analysis, before the policy
   * decides, with `why` (what the caller can do instead) in the message.
   */
  statementKinds?: { kinds: string[]; why: string };
  /**
   * A streamed answer's writer (the storage door's ReadRows): the operation hands each message to
   * `Ctx.emit` with its `delivery` audit event, which is made durable before the message is written.
   */
  emit?: (message: unknown) => Promise<void>;
  /** This call's deadline, ms, instead of BQGATE_DEADLINE_MS (a long-lived stream: the storage door's ReadRows). */
  deadlineMs?: number;
}

/** A door's rendering of a BigQuery answer body (PipelineCall.render). Pure; a throw is the call's backendError. */
export type Render = (body: any) => { payload: string; delivered: unknown };

/** What a call answers: the BigQuery resource and its exact serialized bytes, or the refusal. Timings: stage → ms. */
export type PipelineResult =
  | { ok: true; status: number; body: any; payload: string | Buffer; headers?: Record<string, string>; timings: Timings }
  | { ok: false; error: BigQueryError; timings: Timings };

type DistributiveOmit<T, K extends keyof any> = T extends unknown ? Omit<T, K> : never;

export interface Pipeline {
  /** Runs one call end to end; never throws (a failure is `{ ok: false }`, its audit durable). */
  run(call: PipelineCall): Promise<PipelineResult>;
}

/** An operation handler: the authenticated request in, the BigQuery resource out; throws the refusal. */
export type OperationHandler = (c: Ctx) => Promise<Outcome>;

export interface PipelineParts {
  cfg: Config;
  analyzer: Analyzer;
  zetasql: ZetaSqlPool;
  catalog: Catalog;
  policies: PolicyStore;
  auditLog: AuditLog;
  store: JobStore;
  hmacKey: Buffer;
  metrics: GatewayMetrics;
  tracing: ReturnType<typeof startTracing>;
  caps: ConcurrencyCaps;
  /** The operations (rest/, approvals/, console/): given the statement stage, each operation's handler. */
  operations(check: Check): Record<Operation, OperationHandler>;
  /** Unexpected (non-BigQueryError) failures, for the log. */
  onError(err: unknown, call: PipelineCall): void;
}

/** What the `request` audit event says about a call (SQL, parameters, configuration; never a token). */
function requestData(call: PipelineCall) {
  const { op } = call;
  const body = call.body ?? {};
  const jobConfig = op === 'jobs.insert' || op === 'jobs.upload' ? body.configuration : undefined;
  const p = call.params;
  const resource = op === 'method.refused' ? `${call.method} ${(call.url ?? '').split('?')[0]}` : [p.projectId, p.datasetId, p.tableId ?? p.routineId ?? p.modelId ?? p.jobId].filter(Boolean).join('/');
  const query = call.query ?? {};
  return {
    operation: op, door: call.door, projectId: p.projectId, resource, sql: op === 'jobs.query' ? body.query : jobConfig?.query?.query, client: call.client,
    parameters: (op === 'jobs.query' ? body.queryParameters : jobConfig?.query?.queryParameters) ?? undefined,
    ...(op === 'jobs.query' ? { defaultDataset: body.defaultDataset, formatOptions: body.formatOptions } : {}),
    configuration: jobConfig ? { ...jobConfig, query: jobConfig.query ? { ...jobConfig.query, query: undefined } : undefined } : undefined,
    query: Object.keys(query).length ? query : undefined,
    ...call.requestAudit,
  };
}

/** The answer to a request past its deadline (BQGATE_DEADLINE_MS): BigQuery's `timeout` reason, HTTP 504. */
const deadlineExceeded = (ms: number) => new BigQueryError('timeout',
  `The request passed bqgate's deadline of ${ms} ms (BQGATE_DEADLINE_MS) before it completed; its upstream calls were aborted. Retry; for long queries use jobs.insert (or jobs.query with timeoutMs) and poll getQueryResults.`,
  { httpStatus: 504 });

/** The session key a call names: explicit, else the bqgate_session label of its job configuration or body. */
const namedSession = (call: PipelineCall) => call.sessionKey || call.body?.configuration?.labels?.bqgate_session || call.body?.labels?.bqgate_session || undefined;

/**
 * Builds the pipeline over the gateway's parts. `operations` is called once, with the statement
 * stage, to build the operation table.
 */
export function createPipeline(parts: PipelineParts): Pipeline {
  const { cfg, auditLog, store, metrics, tracing, caps, policies } = parts;
  const check = createCheck(parts);
  const operations = parts.operations(check);

  async function run(call: PipelineCall): Promise<PipelineResult> {
    const span = tracing.requestSpan(call.op, call.traceHeaders ?? {});
    const scope: RequestScope = { timings: {}, startStage: (name) => { const s = tracing.stageSpan(name, span); return (err) => endSpan(s, err); } };
    const t0 = performance.now();
    const result = await withScope(scope, () => serve(call, scope, t0, span));
    return { ...result, timings: scope.timings } as PipelineResult;
  }

  async function serve(call: PipelineCall, scope: RequestScope, t0: number, span: ReturnType<typeof tracing.requestSpan>): Promise<DistributiveOmit<PipelineResult, 'timings'>> {
    const { op } = call;
    const api: ApiRequest = { op, params: call.params, query: call.query ?? {}, body: call.body ?? {}, client: call.client, method: call.method, url: call.url, upload: call.upload };
    const data = requestData(call);
    const sessionKey = namedSession(call);
    const finish = async (rec: RequestRecorder, summary: Ctx['audit'], page: Parameters<RequestRecorder['finish']>[1], status: number, e?: BigQueryError) => {
      let durable = true;
      try {
        // Bounded too: an audit store that hangs makes the answer 503 (not durable), not a request that never ends.
        await stage('audit', () => withinMs(rec.finish(summary, page, { status, errorReason: e?.reason, errorMessage: e?.message, durationMs: performance.now() - t0, timings: scope.timings }), cfg.deadlineMs, () => new Error('the audit write passed the deadline')));
      } catch {
        durable = false;
      }
      const answered = durable ? status : 503;
      const reason = durable ? e?.reason : 'backendError';
      metrics.request({ operation: op, status: answered, durationMs: performance.now() - t0, timings: scope.timings, effect: summary?.decision, reason });
      span.setAttributes({ 'http.response.status_code': answered, ...(summary?.decision ? { 'bqgate.decision': summary.decision } : {}), ...(reason ? { 'bqgate.error_reason': reason } : {}) });
      endSpan(span, reason ? new Error(reason) : undefined);
      return durable;
    };
    const refuse = async (rec: RequestRecorder, summary: Ctx['audit'], e: BigQueryError) => ({ ok: false as const, error: (await finish(rec, summary, undefined, e.httpStatus, e)) ? e : auditDown() });

    const identity = typeof call.identity === 'function' ? await stage('auth', call.identity as () => Promise<Identity>) : call.identity;
    if ('error' in identity) {
      const rec = new RequestRecorder(auditLog, { requestId: call.requestId, principal: '(unauthenticated)', issuer: '', sessionKey }, 0);
      rec.add('request', data);
      return refuse(rec, { decision: 'deny' }, asBigQueryError(identity.error));
    }
    const { principal, callerToken } = identity;
    span.setAttribute('enduser.id', principal.subject);
    if (principal.actor) span.setAttribute('bqgate.actor', principal.actor);
    // A job's polls (jobs.get, getQueryResults, cancel) join the session the job was created in; the
    // operation's own lookup of the job takes this one (prefetchOwnJob) instead of reading it again.
    const jobSession = !sessionKey && call.params.jobId
      ? (await prefetchOwnJob(store, principal, call.params.projectId ?? '', call.params.jobId).catch(() => undefined))?.sessionKey : undefined;
    const rec = new RequestRecorder(auditLog, { requestId: call.requestId, principal: principal.subject, issuer: principal.issuer, actor: principal.actor, sessionKey: sessionKey ?? jobSession }, cfg.audit.rowsCap);
    rec.add('request', { ...data, groups: principal.groups, email: principal.email });
    let release: () => void;
    try {
      release = await caps.enter(principal); // the principal's slot is held until the call is answered
    } catch (err) {
      return refuse(rec, { decision: 'deny' }, err as BigQueryError);
    }
    const ctx: Ctx = { principal, callerToken, door: call.door, statementKinds: call.statementKinds, req: api, auditId: call.requestId, sessionKey: sessionKey ?? jobSession, policy: policies.current(), audit: {} };
    scope.beforeUpstream = () => rec.flush(ctx.audit);
    // A streamed answer: each message's delivery event is durable before the door writes the message.
    if (call.emit) ctx.emit = async (delivery, message) => { rec.add('delivery', delivery); await rec.flush(ctx.audit); await call.emit!(message); };
    // The request's deadline: the operation is answered `timeout` once it passes, and its upstream calls are aborted (request-scope.ts).
    const deadline = new AbortController();
    scope.signal = deadline.signal;
    const limitMs = call.deadlineMs ?? cfg.deadlineMs;
    const timer = setTimeout(() => deadline.abort(deadlineExceeded(limitMs)), limitMs);
    try {
      let out: Outcome;
      try {
        if (call.unreadable) throw call.unreadable;
        validateRequest(api); // typed parameters (bigquery/params.ts), before anything runs
        out = await untilAborted(operations[op](ctx), deadline.signal);
      } catch (err) {
        const e = err instanceof BigQueryError ? err : asBigQueryError(err);
        if (!(err instanceof BigQueryError)) parts.onError(err, call);
        const denial = (err as { decision?: Decision; analysis?: QueryAnalysis });
        const summary = {
          ...ctx.audit,
          ...(denial.analysis ? analysisAudit(denial.analysis) : {}),
          ...(denial.decision || e.reason === 'accessDenied' ? { decision: 'deny' as const, matchedRules: denial.decision?.matchedRules, reasons: denial.decision?.reasons ?? [e.message], policyVersion: denial.decision?.policyVersion ?? ctx.policy.version } : {}),
        };
        for (const ev of ctx.events ?? []) rec.add(ev.type, ev.data);
        return refuse(rec, summary, e);
      }
      // Serialized once — by the door's render when it has one (mcp), else streamed (deliver/stream.ts)
      // or JSON.stringify: what is hashed into the audit is byte for byte what the caller receives.
      let page: ReturnType<typeof sentPage>;
      let body: unknown;
      try {
        const r = call.render?.(out.body);
        page = r ? { body: r.delivered, payload: r.payload } : sentPage(out);
        body = r ? out.body : page.body;
      } catch (err) {
        parts.onError(err, call);
        for (const e of ctx.events ?? []) rec.add(e.type, e.data);
        return refuse(rec, { ...ctx.audit, ...out.audit }, new BigQueryError('backendError', `bqgate could not render the answer for the ${call.door} door: ${(err as Error).message}`));
      }
      for (const e of ctx.events ?? []) rec.add(e.type, e.data);
      const status = out.status ?? 200;
      if (!(await finish(rec, { ...ctx.audit, ...out.audit }, page, status))) return { ok: false, error: auditDown() };
      return { ok: true, status, body, payload: page.payload, headers: out.headers };
    } finally {
      clearTimeout(timer);
      release();
    }
  }

  return { run };
}

