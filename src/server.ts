/**
 * The gateway, wired: its parts (the ZetaSQL analyzer, the catalog, the upstream and its
 * credentials, the embedded emulator when the upstream is `emulator`), its stores (jobs and
 * approvals in state/, the audit log), the pipeline every request goes through (pipeline/:
 * analyze → decide → approval → rewrite → upstream → deliver → record), and the doors that feed
 * it: the BigQuery REST door (rest/), the web console (console/), the development issuer (auth/).
 * `createGateway(config)` returns a listening fastify server.
 */
import Fastify, { type FastifyRequest } from 'fastify';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createSecretFile, readSecretFile } from './secret-file.js';
import { createAuthenticator, type Principal } from './auth/index.js';
import { loadDevIssuer } from './auth/dev-issuer.js';
import { installDevLogin, devLoginMetadata, demoPersonas } from './auth/dev-login.js';
import { installConsole, consoleOperations } from './doors/console/index.js';
import { installMcpDoor, createMcpAuth } from './doors/mcp/index.js';
import { installBigQueryHttp } from './bigquery/index.js';
import { Catalog } from './catalog/index.js';
import { Analyzer } from './sql/index.js';
import { ZetaSqlPool } from './sql/pool.js';
import { reexecuteOperations } from './pipeline/reexecute.js';
import { PolicyStore } from './policy/store.js';
import { Upstream, UpstreamCredentials, upstreamError, storedIdentity, declaredOf } from './upstream/index.js';
import { AuditLog, SinkRunner, sinkTarget } from './audit/index.js';
import { createPipeline, enc, pick } from './pipeline/index.js';
import { startEmulator, newEmulatorSecret, writeSecretFile, emulatorSecretFile, type RunningEmulator } from './emulator/index.js';
import { devIssuerUrl, type Config } from './config.js';
import { ApprovalStore } from './approvals/index.js';
import { openState, type State } from './state/index.js';
import { createApprovalGate } from './approvals/gate.js';
import { approvalOperations } from './approvals/api.js';
import { GatewayMetrics, startTracing } from './telemetry/index.js';
import { limitedServerFactory, installRateLimit, rateLimiter, LocalRateCounter, ConcurrencyCaps } from './limits.js';
import { installResponseLog } from './response-log.js';
import { installRestDoor, metadataOperations, methodOperations, jobOperations, UploadProxy } from './doors/bigquery/index.js';
import { startStorageDoor, storageOperations, StorageUpstream, type StorageDoor } from './doors/storage/index.js';

/**
 * The gateway's HMAC_SHA256 masking key: `BQGATE_HMAC_KEY` (hex) when set, else the hex in
 * `BQGATE_HMAC_KEY_FILE` (a mounted secret shared by replicas), else 32 random bytes created on
 * first start in `<dataDir>/keys/hmac.key` (mode 0600). Never sent to callers.
 */
export function loadHmacKey(dataDir: string): Buffer {
  if (process.env.BQGATE_HMAC_KEY) return Buffer.from(process.env.BQGATE_HMAC_KEY, 'hex');
  const file = process.env.BQGATE_HMAC_KEY_FILE || join(dataDir, 'keys', 'hmac.key');
  if (!process.env.BQGATE_HMAC_KEY_FILE && !existsSync(file)) createSecretFile(file, randomBytes(32).toString('hex'));
  return Buffer.from(readSecretFile(file, 'the HMAC key').toString('utf8').trim(), 'hex');
}

export interface Gateway {
  url: string;
  /** The Storage Read API door's host:port (gRPC), when it is on (BQGATE_STORAGE_PORT). */
  storageAddress?: string;
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

export async function createGateway(cfg: Config): Promise<Gateway> {
  // ── the parts ─────────────────────────────────────────────────────────────
  // Read first: a key file other users can open refuses the start before anything runs (secret-file.ts).
  const hmacKey = loadHmacKey(cfg.dataDir);
  let emulator: RunningEmulator | undefined;
  // The embedded emulator serves only this gateway: a secret per start, kept in the data dir (0600) for local tools and tests.
  const emulatorSecret = cfg.upstream === 'emulator' ? newEmulatorSecret() : undefined;
  const upstreamUrl = emulatorSecret
    // gs:// of the embedded emulator is <dataDir>/gcs (extract writes there, load reads there).
    ? (emulator = await startEmulator({ host: '127.0.0.1', port: cfg.emulatorPort, storagePort: cfg.storage.emulatorPort, fixturesDir: cfg.fixturesDir, secret: emulatorSecret, bucketRoot: join(cfg.dataDir, 'gcs') })).url
    : cfg.upstream;
  if (emulatorSecret) writeSecretFile(emulatorSecretFile(cfg.dataDir), emulatorSecret);
  const credentials = await UpstreamCredentials.create(emulatorSecret ? { ...cfg.upstreamAuth, localToken: emulatorSecret } : cfg.upstreamAuth);
  const upstream = new Upstream({
    baseUrl: upstreamUrl, authClient: credentials.gateway, retries: cfg.upstreamAuth.retries, quotaProject: cfg.upstreamAuth.quotaProject,
    onRetry: (attempt, why) => { metrics.upstreamRetry(); app.log.warn({ attempt, why }, 'upstream call retried'); },
    onResponse: (status) => metrics.upstreamResponse(status),
  });
  const catalog = new Catalog(upstream);
  // The upstream BigQueryRead service: the embedded emulator's (loopback, plaintext) or BQGATE_UPSTREAM_STORAGE (TLS unless loopback).
  const storageAt = emulator?.storageAddress ?? cfg.storage.upstream;
  const storageUpstream = storageAt ? new StorageUpstream({ address: storageAt, tls: !emulator && !/^(127\.|localhost:|\[::1\]:)/.test(storageAt), quotaProject: cfg.upstreamAuth.quotaProject }) : undefined;
  const zetasql = new ZetaSqlPool({ size: cfg.analyzer.processes, deadlineMs: cfg.analyzer.deadlineMs, quarantineMs: cfg.analyzer.quarantineMs });
  await zetasql.start();
  const analyzer = new Analyzer(zetasql, catalog);
  const state = await openState({ dataDir: cfg.dataDir, postgresUrl: cfg.statePostgresUrl, inflightLeaseMs: cfg.limits.inflightLeaseMs });
  const store = state.jobs;
  const sinks: SinkRunner[] = [];
  const auditLog = await AuditLog.open(cfg.dataDir, { ...cfg.audit, onCommit: () => { for (const r of sinks) r.kick(); } });
  const approvals = new ApprovalStore(state.approvals);
  const tracing = startTracing();
  const metrics = new GatewayMetrics({
    pendingApprovals: () => approvals.countPending(),
    auditEvents: () => auditLog.size(),
    auditCommits: () => auditLog.stats(),
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
  const mcpAuth = createMcpAuth(cfg, { issuer, jwks: dev?.jwks }); // /mcp: tokens for the MCP resource (mcp/auth.ts)

  // ── HTTP ──────────────────────────────────────────────────────────────────
  const app = Fastify({ logger: { level: cfg.logLevel }, bodyLimit: cfg.limits.maxBodyBytes, genReqId: () => randomUUID(), serverFactory: limitedServerFactory(cfg.limits) });
  // The caller's token is verified once per request, for the rate limit's key and for the pipeline.
  // /mcp: its own verification (MCP audience, scopes), kept whole for the MCP door.
  const verified = new WeakMap<FastifyRequest, Promise<{ principal?: Principal; error?: unknown }>>();
  const mcpVerified = new WeakMap<FastifyRequest, ReturnType<typeof mcpAuth.verify>>();
  const verifyMcp = (req: FastifyRequest) => {
    let v = mcpVerified.get(req);
    if (!v) mcpVerified.set(req, v = mcpAuth.verify(req.headers.authorization));
    return v;
  };
  const verify = (req: FastifyRequest) => {
    let v = verified.get(req);
    if (!v) {
      const mcp = req.url === '/mcp' || req.url.startsWith('/mcp?');
      verified.set(req, v = mcp
        ? verifyMcp(req).then((r) => (r.ok ? { principal: r.principal } : { error: r.error }))
        : authenticate(req.headers.authorization).then((principal) => ({ principal }), (error) => ({ error })));
    }
    return v;
  };
  // With PostgreSQL state the replicas share the counters (state/pg-limits.ts); with SQLite they are this process's.
  // One counter for every door (REST, MCP, the Storage Read API), so a principal has one budget.
  const rateCounter = state.limits ?? new LocalRateCounter();
  await installRateLimit(app, cfg.limits, async (req) => (await verify(req)).principal, () => metrics.refused('rateLimitExceeded'), rateCounter, Boolean(state.limits));
  const rateOf = rateLimiter(cfg.limits, rateCounter, Boolean(state.limits));
  const caps = new ConcurrencyCaps(cfg.limits.maxConcurrent, state.limits);
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

  // ── the pipeline and its doors ────────────────────────────────────────────
  const pipeline = createPipeline({
    cfg, analyzer, zetasql, catalog, policies, auditLog, store, hmacKey, metrics, tracing, caps,
    onError: (err, call) => app.log.error({ err, reqId: call.requestId }, 'operation failed'),
    operations: (check) => {
      const metadata = metadataOperations({ upstream, catalog, hmacKey, analyzer, waitMs: cfg.defaultWaitMs, dataCredential: async (c) => (await credentials.forJob(c.principal, c.callerToken)).client });
      return {
        ...metadata,
        ...methodOperations({ upstream, catalog, credentials, store, check, tableGet: metadata['tables.get'] }),
        ...jobOperations({ cfg, store, upstream, catalog, gate, check, credentials, uploads: new UploadProxy(upstream, cfg.limits.maxBodyBytes, state.uploads, cfg.publicUrl) }),
        ...approvalOperations({ approvals, gate, store, auditLog }),
        ...reexecuteOperations({ auditLog, store, analyzer, upstream, hmacKey, credentials }),
        ...storageOperations({ cfg, store, upstream, storage: storageUpstream, credentials, zetasql, hmacKey, check }),
        ...consoleOperations({ auditLog, analyzer, catalog, hmacKey, sessionGapMs: cfg.audit.sessionGapMs, precheck: (sql) => zetasql.precheck(sql, cfg.analyzer.sqlLimits) }),
      };
    },
  });
  await installRestDoor(app, { pipeline, verify, maxBodyBytes: cfg.limits.maxBodyBytes });
  await installMcpDoor(app, { pipeline, auth: mcpAuth, verify: verifyMcp, policies, sessions: state.mcpSessions, maxSessions: cfg.mcp.sessions.total, maxSessionsPerPrincipal: cfg.mcp.sessions.perPrincipal, sessionIdleMs: cfg.mcp.sessions.idleMs, version: '0.1.0' });
  // The Storage Read API (gRPC), beside the REST port: its callers verified exactly as REST's.
  const storageDoor: StorageDoor | undefined = cfg.storage.port === undefined ? undefined : await startStorageDoor({
    pipeline, host: cfg.host, port: cfg.storage.port, tls: cfg.storage.tls, hmacKey, streamDeadlineMs: cfg.storage.streamDeadlineMs,
    // Verified as REST's callers are, and counted in the same per-principal rate limit.
    verify: (authorization) => authenticate(authorization).then(async (principal) => {
      try { await rateOf(principal); } catch (error) { metrics.refused('rateLimitExceeded'); return { error }; }
      return { principal };
    }, (error) => ({ error })),
  });
  if (storageDoor) app.log.info({ storage: storageDoor.address, tls: Boolean(cfg.storage.tls) }, 'BigQuery Storage Read API listening');
  app.addHook('onSend', async (_req, reply) => { if (draining) reply.header('connection', 'close'); }); // keep-alive connections end with this response

  await app.listen({ host: cfg.host, port: cfg.port });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : cfg.port;
  return {
    url: `http://${cfg.host}:${port}`,
    storageAddress: storageDoor?.address,
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
      await storageDoor?.close();
      storageUpstream?.close();
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
