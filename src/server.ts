/**
 * The gateway: one request, end to end (DESIGN.md):
 *
 *   authenticate → route → analyze → decide → rewrite → upstream → deliver → record
 *
 * `createGateway(config)` starts the ZetaSQL analyzer, the embedded emulator when the upstream is
 * `emulator`, opens the store and returns a listening fastify server. Every refusal is a BigQuery
 * error envelope; every request, refused or not, leaves an audit record written before its response.
 */
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createAuthenticator, type Principal } from './auth/index.js';
import { loadDevIssuer } from './auth/dev-issuer.js';
import { ROUTES, BigQueryError, asBigQueryError, installBigQueryHttp, sendError, type ApiRequest, type Operation } from './bigquery/index.js';
import { Catalog } from './catalog/index.js';
import { Analyzer, ZetaSqlServer, type QueryAnalysis } from './sql/index.js';
import { decide, decideStatement, backstopColumns, type Decision } from './policy/index.js';
import { PolicyStore } from './policy/store.js';
import { rewriteQuery, verifyRewrite, isGoverned } from './rewrite/index.js';
import { Upstream, upstreamError } from './upstream/index.js';
import { deliverPage, deliverJob } from './deliver/index.js';
import { Store, AuditLog, RequestRecorder, SinkRunner, sinkTarget, auditDown, type JobRecord } from './audit/index.js';
import { metadataOperations } from './metadata.js';
import { enc, pick, decisionAudit, type Ctx, type Outcome } from './context.js';
import { startEmulator, type RunningEmulator } from './emulator/index.js';
import type { BqField } from './emulator/encode.js';
import { devIssuerUrl, type Config } from './config.js';
import { stage, withScope, serverTiming, type RequestScope } from './request-scope.js';
import { ApprovalStore, ApprovalError, type ApprovalRecord, type Person } from './approvals/index.js';
import { createApprovalGate, type Hold } from './approvals/gate.js';

/**
 * Applies a row cap to a delivered page that starts at row `start`: rows past `max` are dropped, the
 * page token goes once the cap is reached, totalRows says at most `max`. `remember` records where
 * the next page (if any) starts.
 */
function capRows(page: { body: any; rows: number }, start: number, max: number, remember: (token: string, next: number) => void) {
  const rows: unknown[] = page.body.rows ?? [];
  const allowed = Math.max(0, max - start);
  if (rows.length > allowed) page.body.rows = rows.slice(0, allowed);
  page.rows = page.body.rows?.length ?? 0;
  if (page.body.totalRows !== undefined && Number(page.body.totalRows) > max) page.body.totalRows = String(max);
  if (start + page.rows >= max) delete page.body.pageToken;
  else if (page.body.pageToken) remember(page.body.pageToken, start + page.rows);
}

/**
 * The gateway's HMAC_SHA256 masking key: `BQGATE_HMAC_KEY` (hex) when set, else 32 random bytes
 * created on first start in `<dataDir>/keys/hmac.key` (mode 0600). Never sent to callers.
 */
export function loadHmacKey(dataDir: string): Buffer {
  if (process.env.BQGATE_HMAC_KEY) return Buffer.from(process.env.BQGATE_HMAC_KEY, 'hex');
  const file = join(dataDir, 'keys', 'hmac.key');
  if (!existsSync(file)) {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    writeFileSync(file, randomBytes(32).toString('hex'), { mode: 0o600, flag: 'wx' });
  }
  return Buffer.from(readFileSync(file, 'utf8').trim(), 'hex');
}

export interface Gateway {
  url: string;
  upstreamUrl: string;
  store: Store;
  auditLog: AuditLog;
  zetasql: ZetaSqlServer;
  close(): Promise<void>;
}

/**
 * Labels stamped on every upstream job so BigQuery's own audit logs and INFORMATION_SCHEMA.JOBS join
 * back to bqgate's records: the principal, the actor and the audit record id. Label values are
 * lowercased and limited to [a-z0-9_-], 63 characters (BigQuery's label rules).
 */
export function jobLabels(c: { principal: Principal; auditId: string }, client: Record<string, string> = {}): Record<string, string> {
  const v = (s: string) => s.toLowerCase().replace(/[^a-z0-9_-]/g, '_').slice(0, 63);
  return {
    ...client,
    bqgate_principal: v(c.principal.subject),
    ...(c.principal.actor ? { bqgate_actor: v(c.principal.actor) } : {}),
    bqgate_request: v(c.auditId),
  };
}

/** A job id chosen by the gateway. */
const newJobId = () => `bqgate_${randomUUID().replace(/-/g, '')}`;

/** The tables and columns a statement touches, for the audit `decision` event. */
const analysisAudit = (a: QueryAnalysis) => ({
  statementKind: a.statementKind,
  tables: [...new Set([...a.tablesRead, ...a.tablesWritten])],
  columns: [...new Set(a.columnsRead.map((c) => `${c.table}.${c.column}`))],
});

/** The caller as an approvals party. */
const person = (c: Ctx): Person => ({ subject: c.principal.subject, issuer: c.principal.issuer, email: c.principal.email, actor: c.principal.actor, groups: c.principal.groups });

/** An approval as the API shows it (the rewritten SQL stays inside: it carries keyed-mask material). */
const approvalView = (r: ApprovalRecord) => {
  const { upstreamSql: _sql, binding: _b, ...view } = r;
  return { kind: 'bqgate#approval', ...view, createdAt: new Date(r.createdAt).toISOString(), expiresAt: new Date(r.expiresAt).toISOString(), ...(r.decidedAt ? { decidedAt: new Date(r.decidedAt).toISOString() } : {}) };
};

/** How a job's owner is shown in `user_email`. */
const owner = (c: Ctx) => c.principal.email ?? c.principal.subject;

export async function createGateway(cfg: Config): Promise<Gateway> {
  // ── the parts ─────────────────────────────────────────────────────────────
  let emulator: RunningEmulator | undefined;
  const upstreamUrl = cfg.upstream === 'emulator'
    ? (emulator = await startEmulator({ host: '127.0.0.1', port: cfg.emulatorPort, fixturesDir: cfg.fixturesDir })).url
    : cfg.upstream;
  const upstream = new Upstream({ baseUrl: upstreamUrl });
  const catalog = new Catalog(upstream);
  const zetasql = new ZetaSqlServer();
  await zetasql.start();
  const analyzer = new Analyzer(zetasql, catalog);
  const store = new Store(cfg.dataDir);
  const sinks: SinkRunner[] = [];
  const auditLog = await AuditLog.open(cfg.dataDir, { ...cfg.audit, onCommit: () => { for (const r of sinks) r.kick(); } });
  const hmacKey = loadHmacKey(cfg.dataDir);
  const approvals = new ApprovalStore(cfg.dataDir);
  const gate = createApprovalGate({
    approvals,
    async estimateBytes(projectId, sql, query) {
      const r = await upstream.call('POST', `/projects/${enc(projectId)}/queries`, { body: { ...pick(query, ['defaultDataset', 'queryParameters', 'parameterMode']), query: sql, useLegacySql: false, dryRun: true } });
      if (r.status >= 300) throw upstreamError(r);
      return r.body.totalBytesProcessed !== undefined ? Number(r.body.totalBytesProcessed) : undefined;
    },
    async submit(projectId, jobId, location, configuration) {
      const r = await upstream.call('POST', `/projects/${enc(projectId)}/jobs`, { body: { jobReference: { projectId, jobId, location }, configuration } });
      if (r.status >= 300 && r.status !== 409) throw upstreamError(r);
    },
    markSubmitted: (projectId, jobId) => store.markSubmitted(projectId, jobId),
    webhooks: { generic: cfg.approvals.webhooks, slack: cfg.approvals.slackWebhooks },
    baseUrl: `http://${cfg.host}:${cfg.port}`,
    warn: (msg) => app.log.warn(msg),
  });

  const issuer = cfg.auth.issuer || devIssuerUrl(cfg);
  const dev = cfg.auth.jwksUrl ? undefined : await loadDevIssuer(cfg.dataDir, issuer, cfg.auth.audience);
  const authenticate = createAuthenticator({ ...cfg.auth, issuer, jwks: dev?.jwks, jwksUrl: cfg.auth.jwksUrl });

  // ── HTTP ──────────────────────────────────────────────────────────────────
  const app = Fastify({ logger: { level: cfg.logLevel }, bodyLimit: 10 * 1024 * 1024, genReqId: () => randomUUID() });
  const policies = new PolicyStore(cfg.policiesDir, (level, msg) => app.log[level](msg));
  for (const address of cfg.audit.sinks) {
    sinks.push(new SinkRunner(auditLog, address, sinkTarget(address), { onError: (err) => app.log.warn({ sink: address, err: err.message }, 'audit sink delivery failed; retrying') }).start());
  }
  policies.watch();
  installBigQueryHttp(app, 'bqgate');

  app.get('/.well-known/jwks.json', async () => dev?.jwks ?? { keys: [] });
  app.get('/.well-known/openid-configuration', async () => ({ issuer, jwks_uri: `${issuer}/.well-known/jwks.json`, id_token_signing_alg_values_supported: ['ES256'] }));
  app.get('/healthz', async () => ({ status: 'ok' }));
  /** The Ed25519 public key (SPKI PEM) that signs audit checkpoints, for `bqgate audit verify --public-key`. */
  app.get('/bqgate/v1/audit/public-key', async (_req, reply) => reply.type('application/x-pem-file').send(auditLog.signer.publicKeyPem));
  app.get('/readyz', async (_req, reply) => {
    const z = zetasql.status();
    return reply.code(z.ready ? 200 : 503).send({ zetasql: z.ready ? 'ready' : 'down', policyVersion: policies.current().version });
  });

  // authenticate → route → (operation) → record
  const handle = (op: Operation) => async (req: FastifyRequest<{ Params: any; Querystring: any; Body: any }>, reply: FastifyReply) => {
    const scope: RequestScope = { timings: {} };
    const t0 = performance.now();
    scopes.set(req, { scope, t0 });
    return withScope(scope, () => serve(op, req, reply, t0, scope));
  };
  // Server-Timing: the stages of this request (ms), set just before the response is written.
  const scopes = new WeakMap<FastifyRequest, { scope: RequestScope; t0: number }>();
  app.addHook('onSend', async (req, reply) => {
    const st = scopes.get(req);
    if (st) reply.header('server-timing', serverTiming({ ...st.scope.timings, total: performance.now() - st.t0 }));
  });

  /**
   * One request through the pipeline. Its audit events: `request` and `decision` are durable before
   * anything goes upstream (the scope's gate), the rest before the response leaves; if the log
   * cannot write, the caller gets backendError and nothing (more) happens.
   */
  async function serve(op: Operation, req: FastifyRequest<{ Params: any; Querystring: any; Body: any }>, reply: FastifyReply, t0: number, scope: RequestScope) {
    const api: ApiRequest = { op, params: req.params ?? {}, query: (req.query ?? {}) as Record<string, string | undefined>, body: req.body ?? {}, client: req.headers['user-agent'] };
    const jobConfig = op === 'jobs.insert' ? api.body.configuration : undefined;
    const sql = op === 'jobs.query' ? api.body.query : jobConfig?.query?.query;
    const resource = [api.params.projectId, api.params.datasetId, api.params.tableId ?? api.params.jobId].filter(Boolean).join('/');
    const header = req.headers['x-bqgate-session'];
    const sessionKey = (Array.isArray(header) ? header[0] : header) || jobConfig?.labels?.bqgate_session || api.body?.labels?.bqgate_session || undefined;
    const requestData = {
      operation: op, projectId: api.params.projectId, resource, sql, client: api.client,
      parameters: (op === 'jobs.query' ? api.body.queryParameters : jobConfig?.query?.queryParameters) ?? undefined,
      configuration: jobConfig ? { ...jobConfig, query: jobConfig.query ? { ...jobConfig.query, query: undefined } : undefined } : undefined,
      query: Object.keys(api.query).length ? api.query : undefined,
    };
    const finish = async (rec: RequestRecorder, summary: Ctx['audit'], page: { body: unknown; payload: string } | undefined, status: number, e?: BigQueryError) => {
      try {
        await stage('audit', () => rec.finish(summary, page, { status, errorReason: e?.reason, errorMessage: e?.message, durationMs: performance.now() - t0, timings: scope.timings }));
        return true;
      } catch {
        return false;
      }
    };
    let principal: Principal;
    try {
      principal = await stage('auth', () => authenticate(req.headers.authorization));
    } catch (err) {
      const e = asBigQueryError(err);
      const rec = new RequestRecorder(auditLog, { requestId: req.id, principal: '(unauthenticated)', issuer: '', sessionKey }, 0);
      rec.add('request', requestData);
      return sendError(reply, (await finish(rec, { decision: 'deny' }, undefined, e.httpStatus, e)) ? e : auditDown());
    }
    // A job's polls (jobs.get, getQueryResults, cancel) join the session the job was created in.
    const jobSession = !sessionKey && api.params.jobId ? store.getJob(api.params.projectId ?? '', api.params.jobId, principal.issuer, principal.subject)?.sessionKey : undefined;
    const rec = new RequestRecorder(auditLog, { requestId: req.id, principal: principal.subject, issuer: principal.issuer, actor: principal.actor, sessionKey: sessionKey ?? jobSession }, cfg.audit.rowsCap);
    rec.add('request', { ...requestData, groups: principal.groups, email: principal.email });
    const ctx: Ctx = { principal, req: api, auditId: req.id, sessionKey: sessionKey ?? jobSession, policy: policies.current(), audit: {} };
    scope.beforeUpstream = () => rec.flush(ctx.audit);
    let out: Outcome;
    try {
      out = await operations[op](ctx);
    } catch (err) {
      const e = err instanceof BigQueryError ? err : asBigQueryError(err);
      if (!(err instanceof BigQueryError)) req.log.error({ err }, 'operation failed');
      const denial = (err as { decision?: Decision; analysis?: QueryAnalysis });
      const summary = {
        ...ctx.audit,
        ...(denial.analysis ? analysisAudit(denial.analysis) : {}),
        ...(denial.decision || e.reason === 'accessDenied' ? { decision: 'deny' as const, matchedRules: denial.decision?.matchedRules, reasons: denial.decision?.reasons ?? [e.message], policyVersion: denial.decision?.policyVersion ?? ctx.policy.version } : {}),
      };
      for (const ev of ctx.events ?? []) rec.add(ev.type, ev.data);
      return sendError(reply, (await finish(rec, summary, undefined, e.httpStatus, e)) ? e : auditDown());
    }
    // Serialized once: what is hashed into the audit is byte for byte what the caller receives.
    const payload = JSON.stringify(out.body);
    for (const e of ctx.events ?? []) rec.add(e.type, e.data);
    if (!(await finish(rec, { ...ctx.audit, ...out.audit }, { body: out.body, payload }, out.status ?? 200))) return sendError(reply, auditDown());
    return reply.code(out.status ?? 200).type('application/json; charset=UTF-8').send(payload);
  }

  // ── the query pipeline: analyze → decide → rewrite ───────────────────────
  /** Analyzes, decides and rewrites one statement; throws the refusal (with its decision attached). */
  async function check(c: Ctx, projectId: string, q: { query?: unknown; useLegacySql?: unknown; defaultDataset?: any; queryParameters?: any[]; [k: string]: unknown }) {
    const { policy, principal } = c;
    if (typeof q.query !== 'string' || !q.query.trim()) throw new BigQueryError('invalid', 'Required parameter is missing: query');
    // Job options whose effect the analysis cannot see are refused (fail closed).
    if (q.tableDefinitions) throw new BigQueryError('accessDenied', 'Access Denied: tableDefinitions (external tables defined in the job) are refused by bqgate; query tables by name.');
    if (Array.isArray(q.userDefinedFunctionResources) && q.userDefinedFunctionResources.length) throw new BigQueryError('accessDenied', 'Access Denied: userDefinedFunctionResources (JavaScript UDF code attached to the job) are refused by bqgate.');
    if (q.createSession || (Array.isArray(q.connectionProperties) && q.connectionProperties.some((p: any) => p?.key === 'session_id'))) {
      throw new BigQueryError('accessDenied', 'Access Denied: session mode (createSession / session_id) is refused by bqgate: session state (temp tables, variables) is invisible to its analysis. Send self-contained statements.');
    }
    if (q.useLegacySql !== false) {
      throw new BigQueryError('invalidQuery', 'bqgate accepts GoogleSQL only; legacy SQL is refused. Set useLegacySql=false (bq: --nouse_legacy_sql, or "[query] --use_legacy_sql=false" in ~/.bigqueryrc).', { location: 'q' });
    }
    const text = q.query;
    const analysis: QueryAnalysis = await stage('analyze', () => analyzer.analyze({ sql: text, projectId, defaultDataset: q.defaultDataset, queryParameters: q.queryParameters }));
    const decision = await stage('policy', () => decideStatement(policy, principal, analysis));
    if (decision.effect === 'deny') throw Object.assign(new BigQueryError('accessDenied', decision.reasons[0]), { decision, analysis });
    if (/^(CREATE|ALTER|DROP|TRUNCATE|LOAD|SCRIPT)/.test(analysis.statementKind)) {
      for (const t of analysis.tablesWritten) catalog.invalidate(t); // DDL through the gateway: the schema cache must not outlive it
    }
    const rewritten = await stage('rewrite', () => rewriteQuery(analysis.effectiveSql, analysis, decision, hmacKey));
    if (rewritten.sql !== q.query) {
      const again = await stage('analyze', () => analyzer.analyze({ sql: rewritten.sql, projectId, defaultDataset: q.defaultDataset, queryParameters: q.queryParameters }));
      verifyRewrite(again, rewritten, decision);
    }
    c.audit = { ...decisionAudit(decision, rewritten.sql), ...analysisAudit(analysis) };
    return { analysis, decision, sql: rewritten.sql };
  }

  /** The caller's job, or notFound (also for another principal's job: its existence is not revealed). */
  const ownJob = (c: Ctx, id?: string) => {
    const { projectId } = c.req.params;
    const jobId = id ?? c.req.params.jobId;
    const j = store.getJob(projectId!, jobId!, c.principal.issuer, c.principal.subject);
    if (!j) throw new BigQueryError('notFound', `Not found: Job ${projectId}:${jobId}`);
    return j;
  };

  const resultsQuery = (q: Record<string, string | undefined>, extra: Record<string, string | undefined> = {}) => ({
    location: q.location, maxResults: q.maxResults, pageToken: q.pageToken, startIndex: q.startIndex,
    timeoutMs: String(Math.min(Number(q.timeoutMs ?? cfg.defaultWaitMs), cfg.defaultWaitMs)),
    'formatOptions.useInt64Timestamp': q['formatOptions.useInt64Timestamp'], ...extra,
  });

  /** Creates the job upstream under a gateway-chosen id, recorded (with its owner) first. */
  /** The job record and upstream configuration of a checked query job (limits applied). */
  function prepareJob(c: Ctx, original: string, checked: { sql: string; analysis: QueryAnalysis; decision: Decision }, queryConfig: any, extra: any, requestId?: string) {
    const { maximumBytesBilled: cap, maximumRows } = checked.decision.limits;
    if (cap !== undefined) {
      const asked = queryConfig.maximumBytesBilled !== undefined ? Number(queryConfig.maximumBytesBilled) : Infinity;
      queryConfig = { ...queryConfig, maximumBytesBilled: String(Math.min(asked, cap)) };
    }
    return {
      rec: {
        query: original, upstreamQuery: checked.sql, statementType: checked.analysis.statementKind, requestId,
        backstopColumns: backstopColumns(c.policy, checked.analysis.lineage, checked.analysis.tables), maxRows: maximumRows,
      },
      configuration: { ...extra, query: { ...queryConfig, query: checked.sql, useLegacySql: false } },
    };
  }

  /**
   * Runs a checked query job: parked as PENDING when it needs approval (returns the job resource
   * the caller sees), else recorded and submitted upstream (returns the upstream job).
   */
  async function insertJob(c: Ctx, jobId: string, location: string | undefined, original: string, checked: { sql: string; analysis: QueryAnalysis; decision: Decision }, queryConfig: any, extra: any, requestId?: string) {
    const prepared = prepareJob(c, original, checked, queryConfig, extra, requestId);
    const hold = await approvalHold(c, checked, queryConfig);
    if (!hold) return submitJob(c, jobId, location, prepared.rec, prepared.configuration);
    return parkJob(c, jobId, location, original, checked, prepared, hold).resource;
  }

  /** Records a job that waits for approval, and its pending approval; nothing goes upstream. */
  function parkJob(c: Ctx, jobId: string, location: string | undefined, original: string, checked: { sql: string; analysis: QueryAnalysis; decision: Decision }, prepared: ReturnType<typeof prepareJob>, hold: Hold) {
    const projectId = c.req.params.projectId!;
    const apr = gate.park({
      hold, requester: person(c), projectId, jobId, policyVersion: checked.decision.policyVersion, sql: original, upstreamSql: checked.sql,
      tables: [...new Set([...checked.analysis.tablesRead, ...checked.analysis.tablesWritten])], requestId: c.auditId, sessionKey: c.sessionKey,
    });
    const job: JobRecord = {
      ...prepared.rec, projectId, jobId, location: location ?? 'US', ownerIssuer: c.principal.issuer, ownerSubject: c.principal.subject, createdAt: Date.now(),
      sessionKey: c.sessionKey, approvalId: apr.id, pendingConfiguration: { ...prepared.configuration, labels: jobLabels(c, prepared.configuration.labels) },
    };
    store.insertJob(job);
    (c.events ??= []).push({ type: 'approval', data: { step: 'requested', approvalId: apr.id, requirements: hold.requirements.map((q) => q.ruleId), bytesEstimate: hold.bytesEstimate, expiresAt: apr.expiresAt } });
    return { job, resource: gate.jobResource(job, apr, { query: { query: original, useLegacySql: false } }, owner(c)) };
  }

  /** The approval hold of a checked statement, if it needs one (reused approvals are audited). */
  async function approvalHold(c: Ctx, checked: { sql: string; analysis: QueryAnalysis; decision: Decision }, query: Record<string, unknown>): Promise<Hold | undefined> {
    const { hold, reused } = await gate.needs({
      requester: person(c), projectId: c.req.params.projectId!, requirements: checked.decision.approvals, fingerprint: checked.analysis.fingerprint,
      parameters: query.queryParameters, policyVersion: checked.decision.policyVersion, sql: checked.sql, query,
    });
    if (reused) (c.events ??= []).push({ type: 'approval', data: { step: 'reused', approvalId: reused.id, uses: reused.used } });
    return hold;
  }


  /**
   * Records a job with its owner (before anything reaches the upstream), then creates it upstream
   * under the same id with `configuration` plus bqgate's labels. Returns the upstream job resource.
   */
  async function submitJob(c: Ctx, jobId: string, location: string | undefined, rec: Pick<JobRecord, 'query' | 'upstreamQuery' | 'statementType'> & Partial<JobRecord>, configuration: any) {
    const projectId = c.req.params.projectId!;
    store.insertJob({ ...rec, projectId, jobId, location: location ?? 'US', ownerIssuer: c.principal.issuer, ownerSubject: c.principal.subject, createdAt: Date.now(), sessionKey: c.sessionKey });
    const r = await upstream.call('POST', `/projects/${enc(projectId)}/jobs`, {
      body: { jobReference: { projectId, jobId, ...(location ? { location } : {}) }, configuration: { ...configuration, labels: jobLabels(c, configuration.labels) } },
    });
    if (r.status >= 300) throw upstreamError(r);
    return r.body;
  }

  const QUERY_KEYS = ['defaultDataset', 'queryParameters', 'parameterMode', 'maximumBytesBilled', 'useQueryCache', 'priority'];

  const operations: Record<Operation, (c: Ctx) => Promise<Outcome>> = {
    ...metadataOperations({ upstream, catalog, hmacKey, waitMs: cfg.defaultWaitMs }),
    // ── approvals API (/bqgate/v1/approvals): approvers act with their own token ──
    'approvals.list': async (c) => {
      const mine = (r: ApprovalRecord) => r.requester.subject === c.principal.subject && r.requester.issuer === c.principal.issuer;
      const canDecide = (r: ApprovalRecord) => r.requirements.some((q) => [...q.approverGroups, ...q.breakGlassGroups].some((g) => c.principal.groups.includes(g)));
      const status = c.req.query.status as ApprovalRecord['status'] | undefined;
      const items = approvals.list({ status: status ?? 'pending' }).filter((r) => mine(r) || canDecide(r));
      return { body: { kind: 'bqgate#approvalList', approvals: items.map(approvalView) } };
    },
    'approvals.get': async (c) => {
      const r = approvals.get(c.req.params.approvalId!);
      const visible = r && ((r.requester.subject === c.principal.subject && r.requester.issuer === c.principal.issuer) || r.requirements.some((q) => [...q.approverGroups, ...q.breakGlassGroups].some((g) => c.principal.groups.includes(g))));
      if (!visible) throw new BigQueryError('notFound', `Not found: approval ${c.req.params.approvalId}`);
      return { body: approvalView(r!) };
    },
    'approvals.approve': (c) => decideApproval(c, 'approve'),
    'approvals.deny': (c) => decideApproval(c, 'deny'),
    'jobs.query': async (c) => {
      const b = c.req.body;
      const projectId = c.req.params.projectId!;
      if (b.requestId) {
        const prior = store.getJobByRequestId(projectId, String(b.requestId), c.principal.issuer, c.principal.subject);
        if (prior) return results(c, prior, 'bigquery#queryResponse', { maxResults: b.maxResults, timeoutMs: b.timeoutMs, 'formatOptions.useInt64Timestamp': b.formatOptions?.useInt64Timestamp ? 'true' : undefined });
      }
      const checked = await check(c, projectId, b);
      if (b.dryRun) {
        const r = await upstream.ok('POST', `/projects/${enc(projectId)}/queries`, { body: { ...b, query: checked.sql, useLegacySql: false } });
        return { body: { ...r, kind: 'bigquery#queryResponse' }, audit: decisionAudit(checked.decision, checked.sql) };
      }
      const hold = await approvalHold(c, checked, b);
      if (hold) {
        // Parked: the caller long-polls like any slow query, and gets the result once approved.
        const { job } = parkJob(c, newJobId(), b.location, b.query, checked, prepareJob(c, b.query, checked, pick(b, QUERY_KEYS), pick(b, ['labels']), b.requestId ? String(b.requestId) : undefined), hold);
        const q = { maxResults: b.maxResults !== undefined ? String(b.maxResults) : undefined, timeoutMs: b.timeoutMs !== undefined ? String(b.timeoutMs) : undefined, 'formatOptions.useInt64Timestamp': b.formatOptions?.useInt64Timestamp ? 'true' : undefined };
        const page = await gatedResults(c, job, 'bigquery#queryResponse', q);
        return { ...page, audit: { ...decisionAudit(checked.decision, checked.sql), ...page.audit, jobId: job.jobId } };
      }
      // One upstream round trip (jobs.query), as the client asked; the job is recorded as the
      // caller's before its id is returned to anyone.
      const { maximumBytesBilled: cap, maximumRows } = checked.decision.limits;
      const q: Record<string, unknown> = pick(b, [...QUERY_KEYS, 'maxResults', 'formatOptions', 'location', 'requestId']);
      if (cap !== undefined) q.maximumBytesBilled = String(Math.min(b.maximumBytesBilled !== undefined ? Number(b.maximumBytesBilled) : Infinity, cap));
      const timeoutMs = Math.min(Number(b.timeoutMs ?? cfg.defaultWaitMs), cfg.defaultWaitMs);
      const r = await upstream.call('POST', `/projects/${enc(projectId)}/queries`, { body: { ...q, timeoutMs, query: checked.sql, useLegacySql: false, labels: jobLabels(c, b.labels) } });
      if (r.status >= 300) throw upstreamError(r);
      const ref = r.body.jobReference;
      if (!ref?.jobId) throw new BigQueryError('backendError', 'The upstream answered jobs.query without a job reference; the result cannot be delivered.');
      const job: JobRecord = {
        projectId, jobId: ref.jobId, location: ref.location ?? b.location ?? 'US', ownerIssuer: c.principal.issuer, ownerSubject: c.principal.subject,
        query: b.query, upstreamQuery: checked.sql, statementType: checked.analysis.statementKind, createdAt: Date.now(),
        requestId: b.requestId ? String(b.requestId) : undefined, sessionKey: c.sessionKey, maxRows: maximumRows,
        backstopColumns: backstopColumns(c.policy, checked.analysis.lineage, checked.analysis.tables),
      };
      store.insertJob(job);
      const jobId = job.jobId;
      const page = present(job, r.body, 'bigquery#queryResponse', 0);
      return { ...page, audit: { ...decisionAudit(checked.decision, checked.sql), ...page.audit, jobId } };
    },

    'jobs.getQueryResults': async (c) => gatedResults(c, ownJob(c), 'bigquery#getQueryResultsResponse', c.req.query),

    'jobs.insert': async (c) => {
      const b = c.req.body;
      const cfgIn = b.configuration ?? {};
      if (!cfgIn.query) return nonQueryJob(c, b);
      if (cfgIn.query.destinationTable) throw new BigQueryError('accessDenied', 'Access Denied: destinationTable is refused by bqgate: results may not be copied into a table.');
      const projectId = c.req.params.projectId!;
      const checked = await check(c, projectId, cfgIn.query);
      if (cfgIn.dryRun) {
        const r = await upstream.ok('POST', `/projects/${enc(projectId)}/jobs`, { body: { ...b, configuration: { ...cfgIn, query: { ...cfgIn.query, query: checked.sql } } } });
        return { body: deliverJob(r, cfgIn.query.query, owner(c)), audit: decisionAudit(checked.decision, checked.sql) };
      }
      const jobId = String(b.jobReference?.jobId ?? newJobId());
      const job = await insertJob(c, jobId, b.jobReference?.location, cfgIn.query.query, checked, pick(cfgIn.query, QUERY_KEYS), pick(cfgIn, ['labels', 'jobTimeoutMs']));
      return { body: deliverJob(job, cfgIn.query.query, owner(c)), audit: { ...decisionAudit(checked.decision, checked.sql), jobId } };
    },

    'jobs.get': async (c) => {
      const j = ownJob(c);
      const st = await gate.state(j);
      if (st.status === 'pending' || st.status === 'refused') return { body: gate.jobResource(j, st.record, { query: { query: j.query, useLegacySql: false } }, owner(c)) };
      const r = await upstream.ok('GET', `/projects/${enc(j.projectId)}/jobs/${enc(j.jobId)}`, { query: { location: c.req.query.location ?? j.location } });
      return { body: deliverJob(r, j.query, owner(c)) };
    },

    'jobs.cancel': async (c) => {
      const j = ownJob(c);
      const r = await upstream.ok('POST', `/projects/${enc(j.projectId)}/jobs/${enc(j.jobId)}/cancel`, { query: { location: c.req.query.location ?? j.location } });
      return { body: { ...r, job: deliverJob(r.job, j.query, owner(c)) } };
    },

    'jobs.list': async (c) => {
      const projectId = c.req.params.projectId!;
      const max = Math.min(Number(c.req.query.maxResults ?? 50), 1000);
      const offset = c.req.query.pageToken ? Number(Buffer.from(c.req.query.pageToken, 'base64url').toString()) || 0 : 0;
      const mine = store.listJobs(projectId, c.principal.issuer, c.principal.subject, max + 1, offset);
      const jobs = await Promise.all(mine.slice(0, max).map(async (j) => {
        const r = await upstream.call('GET', `/projects/${enc(projectId)}/jobs/${enc(j.jobId)}`, { query: { location: j.location } });
        const job = r.status < 300 ? deliverJob(r.body, j.query, owner(c)) : { kind: 'bigquery#job', jobReference: { projectId, jobId: j.jobId, location: j.location }, status: { state: 'DONE' }, configuration: { query: { query: j.query } }, statistics: { creationTime: String(j.createdAt) } };
        return { ...job, state: job.status?.state ?? 'DONE', id: `${projectId}:${j.location}.${j.jobId}` };
      }));
      const body: Record<string, unknown> = { kind: 'bigquery#jobList', jobs };
      if (mine.length > max) body.nextPageToken = Buffer.from(String(offset + max)).toString('base64url');
      return { body };
    },

  };

  /**
   * Row offsets of the page tokens handed out for jobs with a row cap (`jobId\0token` → first row),
   * so a later page knows where it starts. Tokens from before a restart are unknown: refused.
   */
  const tokenStarts = new Map<string, number>();

  /**
   * Copy, extract and load jobs: decided like statements whose verb (COPY, EXTRACT, LOAD) applies
   * to the tables named — sources are read whole, so every column counts — with extract
   * destinations checked against export_destinations. A source with masks, denied columns or row
   * filters for the caller is refused: these jobs would move raw values. Allowed jobs are recorded
   * with their owner and sent upstream unchanged (with bqgate's labels).
   */
  async function nonQueryJob(c: Ctx, b: any): Promise<Outcome> {
    const cfg = b.configuration ?? {};
    const name = (t: any) => (t ? `${t.projectId ?? c.req.params.projectId}.${t.datasetId}.${t.tableId}` : undefined);
    let verb: 'COPY' | 'EXTRACT' | 'LOAD';
    let sources: string[] = [];
    let targets: string[];
    let uris: string[] | undefined;
    if (cfg.copy) { verb = 'COPY'; sources = [...(cfg.copy.sourceTables ?? []), ...(cfg.copy.sourceTable ? [cfg.copy.sourceTable] : [])].map(name) as string[]; targets = [name(cfg.copy.destinationTable)!]; }
    else if (cfg.extract) { verb = 'EXTRACT'; sources = [name(cfg.extract.sourceTable)!]; targets = sources; uris = cfg.extract.destinationUris ?? (cfg.extract.destinationUri ? [cfg.extract.destinationUri] : []); }
    else if (cfg.load) { verb = 'LOAD'; targets = [name(cfg.load.destinationTable)!]; }
    else throw new BigQueryError('invalid', 'The job configuration names no query, copy, extract or load.');
    if ([...sources, ...targets].some((t) => !t || t.includes('undefined'))) throw new BigQueryError('invalid', `The ${verb.toLowerCase()} job does not name its tables fully.`);
    const tables: Record<string, BqField[]> = {};
    for (const t of sources) tables[t] = (await catalog.getTable(t)).schema;
    const analysis = {
      statementKind: verb, tablesRead: sources, tablesWritten: targets, tables,
      columnsRead: sources.flatMap((t) => tables[t].map((f) => ({ table: t, column: f.name }))),
      flags: { exportUris: uris },
    };
    const decision = decide(c.policy, c.principal, analysis);
    if (decision.effect === 'deny') throw Object.assign(new BigQueryError('accessDenied', decision.reasons[0]), { decision, analysis });
    const governed = sources.find((t) => isGoverned(decision, t));
    if (governed) throw Object.assign(new BigQueryError('accessDenied', `Access Denied: ${verb.toLowerCase()} of ${governed} is refused: it has masked, denied or filtered rows or columns for ${c.principal.subject}, and a ${verb.toLowerCase()} job would move raw values. Use a query instead.`), { decision });
    const jobId = String(b.jobReference?.jobId ?? newJobId());
    const job = await submitJob(c, jobId, b.jobReference?.location, { query: '', upstreamQuery: '', statementType: verb }, cfg);
    return { body: deliverJob(job, undefined, owner(c)), audit: { ...decisionAudit(decision, ''), jobId } };
  }

  /** getQueryResults upstream → deliver (backstop columns, row cap), for jobs.query and jobs.getQueryResults. */
  /**
   * An approver's decision. The step is recorded in the approver's request and in the requester's
   * session; an approval that is complete sends the job upstream before the answer.
   */
  async function decideApproval(c: Ctx, decision: 'approve' | 'deny'): Promise<Outcome> {
    const id = c.req.params.approvalId!;
    const comment = typeof c.req.body?.comment === 'string' ? c.req.body.comment.slice(0, 2000) : undefined;
    let r: ApprovalRecord;
    try {
      r = approvals.decide(id, person(c), decision, comment);
    } catch (err) {
      if (err instanceof ApprovalError) throw new BigQueryError(err.reason, err.message);
      throw err;
    }
    const step = r.steps[r.steps.length - 1];
    const data = { step: decision, approvalId: id, approver: c.principal.subject, approverActor: c.principal.actor, comment, breakGlass: step.breakGlass, status: r.status };
    (c.events ??= []).push({ type: 'approval', data: { ...data, requester: r.requester.subject } });
    await auditLog.append([{ type: 'approval', requestId: r.requestId, principal: r.requester.subject, issuer: r.requester.issuer, actor: r.requester.actor, sessionKey: r.sessionKey, data }]);
    if (r.status === 'approved') {
      const job = store.getJobAnyOwner(r.projectId, r.jobId);
      if (job) await gate.ensureSubmitted(job);
    }
    return { body: approvalView(r) };
  }

  /**
   * Results of a job that may wait for approval: long-polls while pending (jobComplete false),
   * answers accessDenied once denied or expired, and reads the upstream once approved.
   */
  async function gatedResults(c: Ctx, job: JobRecord, kind: 'bigquery#queryResponse' | 'bigquery#getQueryResultsResponse', q: Record<string, any>): Promise<Outcome> {
    if (job.approvalId) {
      const st = await gate.state(job, Math.min(Number(q.timeoutMs ?? cfg.defaultWaitMs), cfg.defaultWaitMs));
      if (st.status === 'pending') return { body: { kind, jobReference: { projectId: job.projectId, jobId: job.jobId, location: job.location }, jobComplete: false }, audit: { jobId: job.jobId } };
      if (st.status === 'refused') throw new BigQueryError('accessDenied', gate.refusalMessage(st.record!));
    }
    return results(c, job, kind, q);
  }

  async function results(c: Ctx, job: JobRecord, kind: 'bigquery#queryResponse' | 'bigquery#getQueryResultsResponse', q: Record<string, any>): Promise<Outcome> {
    let start = 0;
    if (job.maxRows !== undefined && q.pageToken) {
      const known = tokenStarts.get(`${job.jobId}\0${q.pageToken}`);
      if (known === undefined) throw new BigQueryError('invalid', 'This page token is not known to bqgate (it may predate a restart); read the results again from startIndex=0.');
      start = known;
    } else if (q.startIndex !== undefined) start = Number(q.startIndex);
    const r = await upstream.call('GET', `/projects/${enc(job.projectId)}/queries/${enc(job.jobId)}`, { query: resultsQuery(q, { location: q.location ?? job.location }) });
    if (r.status >= 300) throw upstreamError(r);
    return present(job, r.body, kind, start);
  }

  /** An upstream result page as the caller may receive it: backstop, row cap from `start`. */
  function present(job: JobRecord, body: any, kind: 'bigquery#queryResponse' | 'bigquery#getQueryResultsResponse', start: number): Outcome {
    const page = deliverPage(body, kind, job.backstopColumns);
    if (job.maxRows !== undefined && page.body.jobComplete) capRows(page, start, job.maxRows, (token, next) => tokenStarts.set(`${job.jobId}\0${token}`, next));
    return { body: page.body, audit: { jobId: job.jobId, rowsReturned: page.rows, detections: page.detections } };
  }


  app.get('/bqgate/v1/approvals', handle('approvals.list'));
  app.get('/bqgate/v1/approvals/:approvalId', handle('approvals.get'));
  app.post('/bqgate/v1/approvals/:approvalId/approve', handle('approvals.approve'));
  app.post('/bqgate/v1/approvals/:approvalId/deny', handle('approvals.deny'));
  for (const r of ROUTES) {
    for (const prefix of ['/bigquery/v2', '']) app.route({ method: r.method, url: prefix + r.path, handler: handle(r.op) });
  }

  await app.listen({ host: cfg.host, port: cfg.port });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : cfg.port;
  return {
    url: `http://${cfg.host}:${port}`,
    upstreamUrl,
    store,
    auditLog,
    zetasql,
    async close() {
      policies.close();
      await app.close();
      await zetasql.stop();
      await emulator?.close();
      store.close();
      approvals.close();
      for (const r of sinks) await r.stop();
      await auditLog.close();
    },
  };
}
