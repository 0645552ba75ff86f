/**
 * The gateway: one request, end to end (DESIGN.md):
 *
 *   authenticate → route → analyze → decide → rewrite → upstream → deliver → record
 *
 * `createGateway(config)` starts the ZetaSQL analyzer, the embedded emulator when the upstream is
 * `emulator`, opens the store and returns a listening fastify server. Every refusal is a BigQuery
 * error envelope; every request, refused or not, leaves audit events (audit/) durable before its
 * response. Jobs and their results: jobs.ts; metadata reads: metadata.ts; approvals: approvals/;
 * the media upload endpoint of load jobs (/upload/bigquery/v2/…/jobs): upload.ts.
 */
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import type { Span } from '@opentelemetry/api';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createAuthenticator, bearerToken, type Principal } from './auth/index.js';
import { loadDevIssuer } from './auth/dev-issuer.js';
import { installDevLogin, devLoginMetadata, demoPersonas } from './auth/dev-login.js';
import { installConsole, consoleOperations } from './console/index.js';
import { createMcpAuth } from './mcp/auth.js';
import { ROUTES, BigQueryError, asBigQueryError, installBigQueryHttp, sendError, validateRequest, type ApiRequest, type Operation } from './bigquery/index.js';
import { Catalog } from './catalog/index.js';
import { Analyzer, type QueryAnalysis } from './sql/index.js';
import { ZetaSqlPool } from './sql/pool.js';
import { reexecuteOperations } from './reexecute.js';
import { allowsExternalConnection, decideStatement, requireAnyAllow, type Decision } from './policy/index.js';
import { PolicyStore } from './policy/store.js';
import { upstreamStatement } from './pipeline/statement.js';
import { Upstream, UpstreamCredentials, upstreamError, storedIdentity, declaredOf } from './upstream/index.js';
import { AuditLog, RequestRecorder, SinkRunner, sinkTarget, auditDown } from './audit/index.js';
import { metadataOperations } from './metadata.js';
import { methodOperations, matchMethod, CATALOGUE_ROUTED } from './methods/index.js';
import { enc, pick, decisionAudit, type Ctx, type Outcome } from './context.js';
import { startEmulator, newEmulatorSecret, writeSecretFile, emulatorSecretFile, type RunningEmulator } from './emulator/index.js';
import { devIssuerUrl, type Config } from './config.js';
import { stage, withScope, serverTiming, type RequestScope } from './request-scope.js';
import { ApprovalStore } from './approvals/index.js';
import { openState, type State } from './state/index.js';
import { createApprovalGate } from './approvals/gate.js';
import { approvalOperations } from './approvals/api.js';
import { jobOperations } from './jobs.js';
import { findOwnJob } from './job-ids.js';
import { GatewayMetrics, startTracing, endSpan } from './telemetry/index.js';
import { limitedServerFactory, installRateLimit, ConcurrencyCaps } from './limits.js';
import { installResponseLog } from './response-log.js';
import { UploadProxy, parseUpload } from './upload.js';
import { installMcpDoor } from './mcp/index.js';
import { standinPipeline } from './mcp/standin.js';

/**
 * The gateway's HMAC_SHA256 masking key: `BQGATE_HMAC_KEY` (hex) when set, else the hex in
 * `BQGATE_HMAC_KEY_FILE` (a mounted secret shared by replicas), else 32 random bytes created on
 * first start in `<dataDir>/keys/hmac.key` (mode 0600). Never sent to callers.
 */
export function loadHmacKey(dataDir: string): Buffer {
  if (process.env.BQGATE_HMAC_KEY) return Buffer.from(process.env.BQGATE_HMAC_KEY, 'hex');
  if (process.env.BQGATE_HMAC_KEY_FILE) return Buffer.from(readFileSync(process.env.BQGATE_HMAC_KEY_FILE, 'utf8').trim(), 'hex');
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
  /** Jobs and approvals (state/): SQLite, or PostgreSQL shared with other replicas. */
  state: State;
  auditLog: AuditLog;
  /** The ZetaSQL analyzer processes (sql/pool.ts). */
  zetasql: ZetaSqlPool;
  /**
   * Graceful shutdown: /readyz answers 503 (draining) for `cfg.shutdown.delayMs`, then the listener
   * closes and in-flight requests finish (their audit events durable), up to
   * `cfg.shutdown.timeoutMs` after which open connections are cut; then the ZetaSQL server, the
   * sinks, the state and the audit log (a final checkpoint) are closed.
   */
  close(): Promise<void>;
}

/** The tables and columns a statement touches, for the audit `decision` event. */
const analysisAudit = (a: QueryAnalysis) => ({
  statementKind: a.statementKind,
  tables: [...new Set([...a.tablesRead, ...a.tablesWritten])],
  columns: [...new Set(a.columnsRead.map((c) => `${c.table}.${c.column}`))],
});

export async function createGateway(cfg: Config): Promise<Gateway> {
  // ── the parts ─────────────────────────────────────────────────────────────
  let emulator: RunningEmulator | undefined;
  // The embedded emulator serves only this gateway: a secret per start, kept in the data dir (0600) for local tools and tests.
  const emulatorSecret = cfg.upstream === 'emulator' ? newEmulatorSecret() : undefined;
  const upstreamUrl = emulatorSecret
    // gs:// of the embedded emulator is <dataDir>/gcs (extract writes there, load reads there).
    ? (emulator = await startEmulator({ host: '127.0.0.1', port: cfg.emulatorPort, fixturesDir: cfg.fixturesDir, secret: emulatorSecret, bucketRoot: join(cfg.dataDir, 'gcs') })).url
    : cfg.upstream;
  if (emulatorSecret) writeSecretFile(emulatorSecretFile(cfg.dataDir), emulatorSecret);
  const credentials = await UpstreamCredentials.create(emulatorSecret ? { ...cfg.upstreamAuth, localToken: emulatorSecret } : cfg.upstreamAuth);
  const upstream = new Upstream({
    baseUrl: upstreamUrl, authClient: credentials.gateway, retries: cfg.upstreamAuth.retries, quotaProject: cfg.upstreamAuth.quotaProject,
    onRetry: (attempt, why) => { metrics.upstreamRetry(); app.log.warn({ attempt, why }, 'upstream call retried'); },
    onResponse: (status) => metrics.upstreamResponse(status),
  });
  const catalog = new Catalog(upstream);
  const zetasql = new ZetaSqlPool({ size: cfg.analyzer.processes, deadlineMs: cfg.analyzer.deadlineMs, quarantineMs: cfg.analyzer.quarantineMs });
  await zetasql.start();
  const analyzer = new Analyzer(zetasql, catalog);
  const state = await openState({ dataDir: cfg.dataDir, postgresUrl: cfg.statePostgresUrl });
  const store = state.jobs;
  const sinks: SinkRunner[] = [];
  const auditLog = await AuditLog.open(cfg.dataDir, { ...cfg.audit, onCommit: () => { for (const r of sinks) r.kick(); } });
  const hmacKey = loadHmacKey(cfg.dataDir);
  const approvals = new ApprovalStore(state.approvals);
  const tracing = startTracing();
  const metrics = new GatewayMetrics({
    pendingApprovals: () => approvals.countPending(),
    auditEvents: () => auditLog.size(),
    sinks: () => sinks.map((r) => ({ name: r.name, nextSeq: r.stats.nextSeq })),
    zetasql: () => { const z = zetasql.status(); return { ready: z.ready, restarts: z.restarts }; },
  });
  /**
   * What the upstream is told to expect for a parked statement's query configuration: from a fresh
   * (usually cached) analysis of the generated text that is sent, as every other path declares.
   */
  const declaredFor = async (projectId: string, q: Record<string, unknown>) => (typeof q.query === 'string'
    ? declaredOf(await analyzer.analyze({ sql: q.query, projectId, defaultDataset: q.defaultDataset as never, queryParameters: q.queryParameters as never }))
    : undefined);
  const gate = createApprovalGate({
    approvals,
    async estimateBytes(projectId, sql, query) {
      const declared = await declaredFor(projectId, { ...query, query: sql });
      const r = await upstream.call('POST', `/projects/${enc(projectId)}/queries`, { body: { ...pick(query, ['defaultDataset', 'queryParameters', 'parameterMode']), query: sql, useLegacySql: false, dryRun: true }, declared });
      if (r.status >= 300) throw upstreamError(r);
      return r.body.totalBytesProcessed !== undefined ? Number(r.body.totalBytesProcessed) : undefined;
    },
    async submit(projectId, jobId, location, configuration) {
      // With the credential the job was parked with; a federated one only while the requester's
      // exchange is cached here (else the requester's next poll submits it).
      const job = await store.getJobAnyOwner(projectId, jobId);
      const cred = await credentials.forJob({ issuer: job?.ownerIssuer ?? '', subject: job?.ownerSubject ?? '', groups: [] }, undefined, storedIdentity(job?.upstreamIdentity));
      const declared = await declaredFor(projectId, (configuration as { query?: Record<string, unknown> }).query ?? {});
      await upstream.insertJobIdempotent(projectId, { jobReference: { projectId, jobId, location }, configuration }, cred.client, declared);
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
  const app = Fastify({ logger: { level: cfg.logLevel }, bodyLimit: cfg.limits.maxBodyBytes, genReqId: () => randomUUID(), serverFactory: limitedServerFactory(cfg.limits) });
  // The caller's token is verified once per request, for the rate limit's key and for the pipeline.
  const verified = new WeakMap<FastifyRequest, Promise<{ principal?: Principal; error?: unknown }>>();
  const verify = (req: FastifyRequest) => {
    let v = verified.get(req);
    if (!v) verified.set(req, v = authenticate(req.headers.authorization).then((principal) => ({ principal }), (error) => ({ error })));
    return v;
  };
  await installRateLimit(app, cfg.limits, async (req) => (await verify(req)).principal, () => metrics.refused('rateLimitExceeded'));
  const caps = new ConcurrencyCaps(cfg.limits.maxConcurrent);
  const policies = new PolicyStore(cfg.policiesDir, (level, msg) => app.log[level](msg));
  for (const address of cfg.audit.sinks) {
    sinks.push(new SinkRunner(auditLog, address, sinkTarget(address), { onError: (err) => app.log.warn({ sink: address, err: err.message }, 'audit sink delivery failed; retrying') }).start());
  }
  policies.watch();
  installBigQueryHttp(app, 'bqgate');
  installResponseLog(app); // opt-in (BQGATE_TEST_RESPONSE_LOG): the test harness's check for internals in responses

  app.get('/.well-known/jwks.json', async () => dev?.jwks ?? { keys: [] });
  app.get('/.well-known/openid-configuration', async () => ({ issuer, jwks_uri: `${issuer}/.well-known/jwks.json`, id_token_signing_alg_values_supported: ['ES256'], ...(dev && cfg.console.devLogin ? devLoginMetadata(issuer) : {}) }));
  if (dev && cfg.console.devLogin) await installDevLogin(app, dev, demoPersonas(policies.current()), { resources: [cfg.mcp.resource] });
  await installConsole(app, { issuer, console: cfg.console });
  const mcpAuth = createMcpAuth(cfg, { issuer, jwks: dev?.jwks });
  mcpAuth.install(app);
  app.get('/healthz', async () => ({ status: 'ok' }));
  /** Prometheus metrics (telemetry/metrics.ts); no principal, table or statement in any label. */
  app.get('/metrics', async (_req, reply) => { const m = await metrics.expose(); return reply.type(m.contentType).send(m.body); });
  /** The Ed25519 public key (SPKI PEM) that signs audit checkpoints, for `bqgate audit verify --public-key`. */
  app.get('/bqgate/v1/audit/public-key', async (_req, reply) => reply.type('application/x-pem-file').send(auditLog.signer.publicKeyPem));
  /**
   * Readiness: the ZetaSQL server, the job store, the audit log's store and the upstream (a
   * projects.list with the gateway credential, no retries, 3 s timeout, its answer kept 10 s) must
   * all answer; 503 names what is down.
   */
  const probe = new Upstream({ baseUrl: upstreamUrl, authClient: credentials.gateway, retries: 0, timeoutMs: 3000, quotaProject: cfg.upstreamAuth.quotaProject });
  let upstreamSeen = { at: 0, state: 'ready' };
  let draining = false;
  app.get('/readyz', async (_req, reply) => {
    if (draining) return reply.code(503).send({ draining: true });
    const z = zetasql.status();
    const audit = await auditLog.ping().then(() => 'ready', () => 'down');
    const jobStore = await state.ping().then(() => 'ready', () => 'down');
    if (Date.now() - upstreamSeen.at > 10_000) {
      const state = await probe.call('GET', '/projects', { query: { maxResults: '1' } }).then((r) => (r.status < 500 && r.status !== 401 ? 'ready' : `down (HTTP ${r.status})`), () => 'down');
      upstreamSeen = { at: Date.now(), state };
    }
    const parts = { zetasql: z.ready ? 'ready' : 'down', store: jobStore, audit, upstream: upstreamSeen.state };
    const ok = Object.values(parts).every((v) => v === 'ready');
    return reply.code(ok ? 200 : 503).send({ ...parts, policyVersion: policies.current().version });
  });

  // authenticate → route → (operation) → record
  const handle = (op: Operation) => async (req: FastifyRequest<{ Params: any; Querystring: any; Body: any }>, reply: FastifyReply) => {
    const span = tracing.requestSpan(op, req.headers);
    const scope: RequestScope = { timings: {}, startStage: (name) => { const s = tracing.stageSpan(name, span); return (err) => endSpan(s, err); } };
    const t0 = performance.now();
    scopes.set(req, { scope, t0 });
    return withScope(scope, () => serve(op, req, reply, t0, scope, span));
  };
  // Server-Timing: the stages of this request (ms), set just before the response is written.
  const scopes = new WeakMap<FastifyRequest, { scope: RequestScope; t0: number }>();
  app.addHook('onSend', async (req, reply) => {
    if (draining) reply.header('connection', 'close'); // keep-alive connections end with this response
    const st = scopes.get(req);
    if (st) reply.header('server-timing', serverTiming({ ...st.scope.timings, total: performance.now() - st.t0 }));
  });

  /**
   * One request through the pipeline. Its audit events: `request` and `decision` are durable before
   * anything goes upstream (the scope's gate), the rest before the response leaves; if the log
   * cannot write, the caller gets backendError and nothing (more) happens.
   */
  async function serve(op: Operation, req: FastifyRequest<{ Params: any; Querystring: any; Body: any }>, reply: FastifyReply, t0: number, scope: RequestScope, span: Span) {
    const api: ApiRequest = { op, params: req.params ?? {}, query: (req.query ?? {}) as Record<string, string | undefined>, body: req.body ?? {}, client: req.headers['user-agent'], method: req.method, url: req.url };
    // An upload's bytes are read here (its Job resource becomes the body); a malformed one is refused after authentication, audited.
    let unreadable: unknown;
    if (op === 'jobs.upload' || op === 'jobs.uploadChunk') {
      const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      const h = (k: string) => { const v = req.headers[k]; return Array.isArray(v) ? v[0] : v; };
      api.body = {};
      try {
        const u = parseUpload(req.method, api.query, h('content-type'), raw);
        api.body = u.job;
        api.upload = { media: u.media, mediaType: u.mediaType, contentRange: h('content-range'), uploadLength: h('x-upload-content-length'), origin: `${req.protocol}://${req.headers.host ?? `${cfg.host}:${cfg.port}`}` };
      } catch (err) { unreadable = err; }
    }
    const jobConfig = op === 'jobs.insert' || op === 'jobs.upload' ? api.body.configuration : undefined;
    const sql = op === 'jobs.query' ? api.body.query : jobConfig?.query?.query;
    const resource = op === 'method.refused' ? `${req.method} ${req.url.split('?')[0]}` : [api.params.projectId, api.params.datasetId, api.params.tableId ?? api.params.routineId ?? api.params.modelId ?? api.params.jobId].filter(Boolean).join('/');
    const header = req.headers['x-bqgate-session'];
    const sessionKey = (Array.isArray(header) ? header[0] : header) || jobConfig?.labels?.bqgate_session || api.body?.labels?.bqgate_session || undefined;
    const requestData = {
      operation: op, projectId: api.params.projectId, resource, sql, client: api.client,
      parameters: (op === 'jobs.query' ? api.body.queryParameters : jobConfig?.query?.queryParameters) ?? undefined,
      ...(op === 'jobs.query' ? { defaultDataset: api.body.defaultDataset, formatOptions: api.body.formatOptions } : {}),
      configuration: jobConfig ? { ...jobConfig, query: jobConfig.query ? { ...jobConfig.query, query: undefined } : undefined } : undefined,
      query: Object.keys(api.query).length ? api.query : undefined,
    };
    const finish = async (rec: RequestRecorder, summary: Ctx['audit'], page: { body: unknown; payload: string } | undefined, status: number, e?: BigQueryError) => {
      let durable = true;
      try {
        await stage('audit', () => rec.finish(summary, page, { status, errorReason: e?.reason, errorMessage: e?.message, durationMs: performance.now() - t0, timings: scope.timings }));
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
    let principal: Principal;
    try {
      const v = await stage('auth', () => verify(req));
      if (!v.principal) throw v.error;
      principal = v.principal;
      span.setAttribute('enduser.id', principal.subject);
      if (principal.actor) span.setAttribute('bqgate.actor', principal.actor);
    } catch (err) {
      const e = asBigQueryError(err);
      const rec = new RequestRecorder(auditLog, { requestId: req.id, principal: '(unauthenticated)', issuer: '', sessionKey }, 0);
      rec.add('request', requestData);
      return sendError(reply, (await finish(rec, { decision: 'deny' }, undefined, e.httpStatus, e)) ? e : auditDown());
    }
    // A job's polls (jobs.get, getQueryResults, cancel) join the session the job was created in.
    const jobSession = !sessionKey && api.params.jobId
      ? (await findOwnJob(store, principal, api.params.projectId ?? '', api.params.jobId).catch(() => undefined))?.sessionKey : undefined;
    const rec = new RequestRecorder(auditLog, { requestId: req.id, principal: principal.subject, issuer: principal.issuer, actor: principal.actor, sessionKey: sessionKey ?? jobSession }, cfg.audit.rowsCap);
    rec.add('request', { ...requestData, groups: principal.groups, email: principal.email });
    try {
      reply.raw.once('close', caps.enter(principal)); // the slot is held until the response is done
    } catch (err) {
      const e = err as BigQueryError;
      return sendError(reply, (await finish(rec, { decision: 'deny' }, undefined, e.httpStatus, e)) ? e : auditDown());
    }
    const ctx: Ctx = { principal, callerToken: bearerToken(req.headers.authorization), req: api, auditId: req.id, sessionKey: sessionKey ?? jobSession, policy: policies.current(), audit: {} };
    scope.beforeUpstream = () => rec.flush(ctx.audit);
    let out: Outcome;
    try {
      if (unreadable) throw unreadable;
      validateRequest(api); // typed parameters (bigquery/params.ts), before anything runs
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
    return reply.code(out.status ?? 200).headers(out.headers ?? {}).type('application/json; charset=UTF-8').send(payload);
  }

  // ── the query pipeline: analyze → decide → rewrite ───────────────────────
  /** Analyzes, decides and rewrites one statement; throws the refusal (with its decision attached). */
  async function check(c: Ctx, projectId: string, q: { query?: unknown; useLegacySql?: unknown; defaultDataset?: any; queryParameters?: any[]; [k: string]: unknown }) {
    const { policy, principal } = c;
    if (typeof q.query !== 'string' || !q.query.trim()) throw new BigQueryError('invalid', 'Required parameter is missing: query');
    requireAnyAllow(policy, principal); // before any analysis: nobody without an allow rule reaches the analyzer
    zetasql.precheck(q.query, cfg.analyzer.sqlLimits); // structural limits, quarantined statements
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
    // EXTERNAL_QUERY columns bqgate must ask the upstream for: only on connections this caller may use.
    const externalConnectionAllowed = (conn: string) => allowsExternalConnection(policy, principal, conn);
    const analysis: QueryAnalysis = await stage('analyze', () => analyzer.analyze({ sql: text, projectId, defaultDataset: q.defaultDataset, queryParameters: q.queryParameters, externalConnectionAllowed }));
    const decision = await stage('policy', () => decideStatement(policy, principal, analysis));
    if (decision.effect === 'deny') throw Object.assign(new BigQueryError('accessDenied', decision.reasons[0]), { decision, analysis });
    if (/^(CREATE|ALTER|DROP|TRUNCATE|LOAD|SCRIPT)/.test(analysis.statementKind)) {
      for (const t of analysis.tablesWritten) catalog.invalidate(t); // DDL through the gateway: the schema cache must not outlive it
    }
    // What goes upstream is generated from the analysis, never the caller's bytes (pipeline/statement.ts).
    const sent = await upstreamStatement(analyzer, { sql: text, projectId, defaultDataset: q.defaultDataset, queryParameters: q.queryParameters, externalConnectionAllowed }, analysis, decision, hmacKey);
    c.audit = { ...decisionAudit(decision, sent.sql), ...analysisAudit(analysis) };
    return { analysis, decision, sql: sent.sql, sent: sent.analysis };
  }

  const metadata = metadataOperations({ upstream, catalog, hmacKey, analyzer, waitMs: cfg.defaultWaitMs, dataCredential: async (c) => (await credentials.forJob(c.principal, c.callerToken)).client });
  const operations: Record<Operation, (c: Ctx) => Promise<Outcome>> = {
    ...metadata,
    ...methodOperations({ upstream, catalog, credentials, store, check, tableGet: metadata['tables.get'] }),
    ...jobOperations({ cfg, store, upstream, catalog, gate, check, credentials, uploads: new UploadProxy(upstream, cfg.limits.maxBodyBytes) }),
    ...approvalOperations({ approvals, gate, store, auditLog }),
    ...reexecuteOperations({ auditLog, store, analyzer, upstream, hmacKey, credentials }),
    ...consoleOperations({ auditLog, analyzer, hmacKey, sessionGapMs: cfg.audit.sessionGapMs, precheck: (sql) => zetasql.precheck(sql, cfg.analyzer.sqlLimits) }),
  };

  app.get('/bqgate/v1/approvals', handle('approvals.list'));
  app.get('/bqgate/v1/approvals/:approvalId', handle('approvals.get'));
  app.post('/bqgate/v1/approvals/:approvalId/approve', handle('approvals.approve'));
  app.post('/bqgate/v1/approvals/:approvalId/deny', handle('approvals.deny'));
  app.post('/bqgate/v1/audit/requests/:requestId/reexecute', handle('audit.reexecute'));
  app.get('/bqgate/v1/me', handle('console.me'));
  app.get('/bqgate/v1/sessions', handle('sessions.list'));
  app.get('/bqgate/v1/sessions/:sessionId', handle('sessions.get'));
  app.post('/bqgate/v1/policy/explain', handle('policy.explain'));
  app.get('/bqgate/v1/audit/stats', handle('audit.stats'));
  // The media upload endpoint (upload.ts): raw bytes up to the gateway's body limit, read by `serve`.
  await app.register(async (scoped) => {
    scoped.removeAllContentTypeParsers();
    scoped.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: cfg.limits.maxBodyBytes }, (_req, body, done) => done(null, body));
    scoped.post('/upload/bigquery/v2/projects/:projectId/jobs', handle('jobs.upload'));
    scoped.put('/upload/bigquery/v2/projects/:projectId/jobs', handle('jobs.uploadChunk'));
  });
  for (const r of ROUTES) {
    for (const prefix of ['/bigquery/v2', '']) app.route({ method: r.method, url: prefix + r.path, handler: handle(r.op) });
  }
  // Every other BigQuery v2 method (methods/catalogue.ts), and any other path under it: refused with
  // accessDenied naming it, after authentication, audited — never a 404.
  const ALL: Array<'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'> = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];
  // Governed methods whose paths fastify cannot template (`…:getIamPolicy`) are matched here by the catalogue.
  const catalogueRoute = (req: FastifyRequest<{ Params: any; Querystring: any; Body: any }>, reply: FastifyReply) => {
    const m = matchMethod(req.method, req.url);
    if (!m || m.wrongVerb || !CATALOGUE_ROUTED.has(m.id)) return handle('method.refused')(req, reply);
    req.params = m.params;
    return handle(m.id as Operation)(req, reply);
  };
  for (const url of ['/bigquery/v2', '/bigquery/v2/*', '/projects/*']) app.route({ method: ALL, url, handler: catalogueRoute });
  app.route({ method: ['POST', 'PUT', 'PATCH', 'DELETE'], url: '/projects', handler: handle('method.refused') });

  // The MCP front door (mcp/): POST /mcp, both protocol eras, tools through the pipeline.
  await installMcpDoor(app, { pipeline: standinPipeline(app), auth: mcpAuth, policies, version: '0.1.0' });

  await app.listen({ host: cfg.host, port: cfg.port });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : cfg.port;
  return {
    url: `http://${cfg.host}:${port}`,
    upstreamUrl,
    state,
    auditLog,
    zetasql,
    async close() {
      draining = true;
      if (cfg.shutdown.delayMs > 0) await new Promise((r) => setTimeout(r, cfg.shutdown.delayMs));
      policies.close();
      const cut = setTimeout(() => app.server.closeAllConnections(), cfg.shutdown.timeoutMs);
      await app.close();
      clearTimeout(cut);
      await zetasql.stop();
      await emulator?.close();
      await state.close();
      for (const r of sinks) await r.stop();
      await auditLog.close();
      await tracing.shutdown().catch(() => {});
    },
  };
}
