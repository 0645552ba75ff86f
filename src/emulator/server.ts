/**
 * The emulator's REST surface: BigQuery v2 over DuckDB, as the real clients use it (CONTRACT.md §3).
 *
 * Served under both `/bigquery/v2/projects/…` and `/projects/…` (BIGQUERY_EMULATOR_HOST is used
 * verbatim by the SDK), plus `GET /$discovery/rest` for `bq`. Datasets, tables and table data are
 * resources.ts (insertAll: insert.ts), routines routines.ts, models models.ts, the load upload
 * endpoint upload.ts. Jobs (query; copy, extract and load: transfer.ts; a query's
 * `destinationTable`) run asynchronously and are kept in memory until jobs.delete;
 * getQueryResults long-polls up to `timeoutMs` (default 10 000 ms).
 *
 * It trusts no one on the host: every request must carry `Authorization: Bearer <secret>`, the
 * secret its starter chose (compared in constant time; otherwise 401 authError). A query job runs
 * through the engine's checks (guard.ts), and, when the gateway sends `x-bqgate-declared` (the
 * statement kind and tables it analyzed), only if the statement matches that declaration. Jobs
 * wait in a per-principal queue (scheduler.ts, by the `bqgate_principal` label), are interrupted on
 * jobs.cancel, stopped after the statement timeout (reason `timeout`), and refused
 * (`bytesBilledLimitExceeded`) when they would bill more than their maximumBytesBilled.
 */
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import { BigQueryError } from '../bigquery/errors.js';
import { installBigQueryHttp, pageToken, fromPageToken } from '../bigquery/http.js';
import { encodeRow, type BqField } from './encode.js';
import { Engine, statementType, type RunResult, type QueryParameter } from './engine.js';
import { parseDeclared, DECLARED_HEADER, type Declared } from './guard.js';
import { Scheduler, type SchedulerLimits } from './scheduler.js';
import { installRoutines } from './routines.js';
import { ModelStore, modelRoutes } from './models.js';
import { resourceRoutes, LOCATION } from './resources.js';
import { runCopy, runExtract, runLoad, materialize } from './transfer.js';
import { uploadRoutes } from './upload.js';
import type { AnonTables } from './storage/index.js';

const DEFAULT_WAIT_MS = 10_000;

interface Job {
  projectId: string;
  jobId: string;
  location: string;
  configuration: Record<string, any>;
  state: 'PENDING' | 'RUNNING' | 'DONE';
  creationTime: number;
  startTime?: number;
  endTime?: number;
  result?: RunResult;
  /** A copy, extract or load job's statistics (`{copy: …}`, `{extract: …}`, `{load: …}`). */
  stats?: Record<string, unknown>;
  error?: BigQueryError;
  done: Promise<void>;
  /** Aborted by jobs.cancel and the statement timeout: DuckDB is interrupted. */
  abort: AbortController;
  /** A finished SELECT job's anonymous result table (opts.anon), reported as configuration.query.destinationTable. */
  anonTable?: { projectId: string; datasetId: string; tableId: string };
}

type Q = Record<string, string | undefined>;
type Req = FastifyRequest<{ Params: Record<string, string>; Querystring: Q; Body: any }>;

const int64Ts = (q: Q, body?: any) => q['formatOptions.useInt64Timestamp'] === 'true' || body?.formatOptions?.useInt64Timestamp === true;

/** One request as the emulator saw it (for `onRequest`): method, path and query, bearer token. */
export interface SeenRequest { method: string; url: string; authorization?: string; userProject?: string; body?: any }

export interface EmulatorAppOptions {
  logger?: boolean;
  /**
   * Where a finished SELECT query job without a destinationTable keeps its result as an anonymous
   * table (storage/anon.ts): jobs.get reports it as `configuration.query.destinationTable`, tables.get
   * and the Storage Read API read it. Absent: results are kept on the job only.
   */
  anon?: AnonTables;
  /** Sees every authorized request (the credential a caller used, for tests that check which one reached "BigQuery"). */
  onRequest?: (r: SeenRequest) => void;
  /**
   * The bearer token every request must carry; `null` accepts any (only for an in-process stand-in
   * for BigQuery whose callers' tokens a test inspects through `onRequest`).
   */
  secret: string | null;
  /** A statement running longer is interrupted and its job fails with reason `timeout`, ms. */
  statementTimeoutMs: number;
  /** Statements running at once per principal and in all, and waiting per principal (scheduler.ts). */
  limits: SchedulerLimits;
  /** Where `<project>/<dataset>/<model>.model.json` files are (models.ts); no models when absent. */
  fixturesDir?: string;
  /** The directory standing in for Cloud Storage: `gs://b/o` is `<bucketRoot>/b/o` (extract writes, load reads). */
  bucketRoot: string;
  /** Largest upload (load job media) and `gs://` file a load reads, bytes. */
  maxUploadBytes: number;
  /**
   * Tests only (BQGATE_EMULATOR_TEST_SLOW_MS): a slow upstream. Requests whose URL matches
   * `testSlowUrl` (BQGATE_EMULATOR_TEST_SLOW_URL, a regular expression; default: one containing
   * SLOW_MARKER) are answered this many ms late, and query jobs whose SQL contains SLOW_MARKER
   * start this many ms late (a cancel or the job's abort ends the wait). 0 or absent: off.
   */
  testSlowMs?: number;
  testSlowUrl?: string;
}

/** What marks a request or a statement as slow under `testSlowMs`. */
export const SLOW_MARKER = 'bqgate_test_slow';

/** A job's type from its configuration. */
const jobType = (cfg: Record<string, any>) => (cfg.copy ? 'COPY' : cfg.extract ? 'EXTRACT' : cfg.load ? 'LOAD' : 'QUERY');

/** Whether `authorization` is `Bearer <secret>` (constant-time over the SHA-256 of both). */
export function bearerMatches(authorization: string | undefined, secret: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(authorization ?? ''), digest(`Bearer ${secret}`));
}

/** Builds the emulator's fastify app over an opened Engine. */
export function buildEmulatorApp(engine: Engine, opts: EmulatorAppOptions): FastifyInstance {
  const app = Fastify({ logger: opts.logger ?? false, bodyLimit: 10 * 1024 * 1024 });
  const jobs = new Map<string, Job>();
  /** jobs.query requestId → job key: a retried jobs.query runs once (BigQuery's idempotency). */
  const byRequestId = new Map<string, string>();
  const scheduler = new Scheduler(opts.limits);
  const secret = opts.secret;
  if (secret !== null) {
    app.addHook('onRequest', async (req) => {
      if (!bearerMatches(req.headers.authorization, secret)) throw new BigQueryError('authError', 'Request is missing the emulator\'s credential (Authorization: Bearer <secret>); the emulator serves only the gateway that started it.');
    });
  }
  if (opts.onRequest) {
    const seen = opts.onRequest;
    app.addHook('preHandler', async (req) => { seen({ method: req.method, url: req.url, authorization: req.headers.authorization, userProject: req.headers['x-goog-user-project'] as string | undefined, body: req.body }); });
  }

  installBigQueryHttp(app, 'the emulator');
  const slowMs = opts.testSlowMs ?? 0;
  const slowUrl = new RegExp(opts.testSlowUrl || SLOW_MARKER);
  if (slowMs > 0) app.addHook('preHandler', async (req) => { if (slowUrl.test(req.url)) await new Promise((r) => setTimeout(r, slowMs)); });


  const jobResource = (j: Job) => {
    const status: Record<string, unknown> = { state: j.state };
    if (j.error) { status.errorResult = j.error.toErrorProto(); status.errors = [j.error.toErrorProto()]; }
    const type = jobType(j.configuration);
    if (type !== 'QUERY') {
      return {
        kind: 'bigquery#job', etag: `"${j.state}"`, id: `${j.projectId}:${j.location}.${j.jobId}`,
        jobReference: { projectId: j.projectId, jobId: j.jobId, location: j.location }, configuration: { ...j.configuration, jobType: type },
        status, user_email: 'emulator@localhost',
        statistics: { creationTime: String(j.creationTime), ...(j.startTime ? { startTime: String(j.startTime) } : {}), ...(j.endTime ? { endTime: String(j.endTime) } : {}), ...(j.stats ?? {}) },
      };
    }
    const query: Record<string, unknown> = {
      statementType: j.result?.statementType ?? statementType(String(j.configuration.query?.query ?? '')),
      totalBytesProcessed: String(j.result?.totalBytesProcessed ?? 0), totalBytesBilled: String(j.result?.totalBytesBilled ?? 0), cacheHit: false,
    };
    if (j.result?.numDmlAffectedRows !== undefined) query.numDmlAffectedRows = String(j.result.numDmlAffectedRows);
    if (j.result?.ddl) {
      query.ddlOperationPerformed = j.result.ddl.operation;
      if (j.result.ddl.table) query.ddlTargetTable = j.result.ddl.table;
      if (j.result.ddl.dataset) query.ddlTargetDataset = j.result.ddl.dataset;
      if (j.result.ddl.routine) query.ddlTargetRoutine = j.result.ddl.routine;
    }
    if (j.result && j.result.statementType === 'SELECT') query.schema = { fields: j.result.schema };
    return {
      kind: 'bigquery#job', etag: `"${j.state}"`, id: `${j.projectId}:${j.location}.${j.jobId}`,
      jobReference: { projectId: j.projectId, jobId: j.jobId, location: j.location },
      configuration: { ...j.configuration, jobType: 'QUERY', ...(j.anonTable ? { query: { ...j.configuration.query, destinationTable: j.anonTable } } : {}) },
      status, user_email: 'emulator@localhost',
      statistics: {
        creationTime: String(j.creationTime), ...(j.startTime ? { startTime: String(j.startTime) } : {}),
        ...(j.endTime ? { endTime: String(j.endTime) } : {}), totalBytesProcessed: String(j.result?.totalBytesProcessed ?? 0), query,
      },
    };
  };

  /**
   * Queues a query job (PENDING) and runs it when the scheduler gives its principal a slot
   * (RUNNING); cancel and the statement timeout abort it, which interrupts DuckDB.
   */
  const startJob = (projectId: string, jobId: string, location: string, configuration: Record<string, any>, declared?: Declared, upload?: Buffer): Job => {
    const q = configuration.query ?? {};
    const job: Job = { projectId, jobId, location, configuration, state: 'PENDING', creationTime: Date.now(), done: Promise.resolve(), abort: new AbortController() };
    const signal = job.abort.signal;
    const principal = String(configuration.labels?.bqgate_principal ?? '');
    const limitMs = Math.min(opts.statementTimeoutMs, Number(configuration.jobTimeoutMs ?? q.jobTimeoutMs) || Infinity);
    const maxBilled = q.maximumBytesBilled !== undefined && q.maximumBytesBilled !== null ? Number(q.maximumBytesBilled) : undefined;
    job.done = (async () => {
      try {
        const type = jobType(configuration);
        if (type !== 'QUERY') {
          const stats = await scheduler.run(principal, async () => {
            job.state = 'RUNNING'; job.startTime = Date.now();
            if (type === 'COPY') return runCopy(engine, projectId, configuration.copy, declared);
            if (type === 'EXTRACT') return runExtract(engine, opts.bucketRoot, projectId, configuration.extract, declared);
            return runLoad(engine, opts.bucketRoot, projectId, configuration.load, upload, opts.maxUploadBytes, declared);
          }, signal);
          if (job.state !== 'DONE') job.stats = stats;
          return;
        }
        if (q.useLegacySql !== false) throw new BigQueryError('invalidQuery', 'Legacy SQL is not supported by the emulator; set useLegacySql=false (bq --nouse_legacy_sql).', { location: 'query' });
        if (slowMs > 0 && String(q.query ?? '').includes(SLOW_MARKER)) {
          job.state = 'RUNNING'; job.startTime = Date.now();
          await new Promise((r) => { const t = setTimeout(r, slowMs); signal.addEventListener('abort', () => { clearTimeout(t); r(undefined); }, { once: true }); });
        }
        const result = await scheduler.run(principal, async () => {
          job.state = 'RUNNING'; job.startTime = Date.now();
          const timer = setTimeout(() => job.abort.abort(new BigQueryError('timeout', `Job timed out after ${limitMs} ms: the emulator stops a statement that runs longer.`)), limitMs);
          try {
            return await engine.run(String(q.query ?? ''), { projectId, defaultDataset: q.defaultDataset, queryParameters: q.queryParameters as QueryParameter[] | undefined },
              { declared, signal, maximumBytesBilled: Number.isFinite(maxBilled) ? maxBilled : undefined });
          } finally { clearTimeout(timer); }
        }, signal);
        if (q.destinationTable && result.statementType === 'SELECT') await materialize(engine, projectId, q, result, declared);
        if (job.state !== 'DONE') job.result = result;
        if (job.state !== 'DONE' && !q.destinationTable && result.statementType === 'SELECT' && opts.anon) {
          job.anonTable = opts.anon.add(projectId, { jobId, schema: result.schema, rows: result.rows, totalBytes: result.totalBytesProcessed, creationTime: Date.now() });
        }
      } catch (err) {
        if (job.state !== 'DONE') job.error = err instanceof BigQueryError ? err : new BigQueryError('internalError', String((err as Error).message));
      } finally {
        if (job.state !== 'DONE') { job.state = 'DONE'; job.endTime = Date.now(); }
      }
    })();
    jobs.set(`${projectId}/${jobId}`, job);
    return job;
  };

  const getJob = (p: string, j: string): Job => {
    const job = jobs.get(`${p}/${j}`);
    if (!job) throw new BigQueryError('notFound', `Not found: Job ${p}:${j}`);
    return job;
  };

  const waitFor = async (job: Job, ms: number) => {
    if (job.state === 'DONE' || ms <= 0) return;
    await Promise.race([job.done, new Promise((r) => setTimeout(r, ms))]);
  };

  /** The rows part of a jobs.query / getQueryResults response for a DONE job. */
  const resultPage = (job: Job, q: { maxResults?: number; startIndex?: number; pageToken?: string; int64: boolean }) => {
    if (job.error) throw job.error;
    if (!job.result) return { jobReference: { projectId: job.projectId, jobId: job.jobId, location: job.location }, jobComplete: true, totalRows: '0', schema: { fields: [] } };
    const r = job.result;
    const total = r.rows.length;
    const start = fromPageToken(q.pageToken) ?? q.startIndex ?? 0;
    const max = q.maxResults && q.maxResults > 0 ? q.maxResults : 100_000;
    const end = Math.min(total, start + max);
    const out: Record<string, unknown> = {
      jobReference: { projectId: job.projectId, jobId: job.jobId, location: job.location },
      jobComplete: true, totalRows: String(total), totalBytesProcessed: String(r.totalBytesProcessed), cacheHit: false,
      schema: { fields: r.schema },
    };
    if (r.statementType === 'SELECT') out.rows = r.rows.slice(start, end).map((row) => encodeRow(row, r.schema as BqField[], q.int64));
    else if (r.numDmlAffectedRows !== undefined) out.numDmlAffectedRows = String(r.numDmlAffectedRows);
    if (end < total) out.pageToken = pageToken(end);
    return out;
  };

  const num = (s: unknown) => (s === undefined || s === null || s === '' ? undefined : Number(s));

  const models = new ModelStore(opts.fixturesDir);
  const routes = (app: FastifyInstance, prefix: string) => {
    modelRoutes(app, prefix, models);
    resourceRoutes(app, prefix, engine, opts.anon);
    app.post(`${prefix}/projects/:p/queries`, async (req: Req) => {
      const b: any = req.body ?? {};
      if (typeof b.query !== 'string' || !b.query.trim()) throw new BigQueryError('invalid', 'Required parameter is missing: query');
      const config = {
        query: { query: b.query, useLegacySql: b.useLegacySql, defaultDataset: b.defaultDataset, queryParameters: b.queryParameters, parameterMode: b.parameterMode, ...(b.maximumBytesBilled !== undefined ? { maximumBytesBilled: b.maximumBytesBilled } : {}) },
        ...(b.labels ? { labels: b.labels } : {}), ...(b.dryRun ? { dryRun: true } : {}), ...(b.jobTimeoutMs !== undefined ? { jobTimeoutMs: b.jobTimeoutMs } : {}),
      };
      const declared = parseDeclared(req.headers[DECLARED_HEADER]);
      if (b.dryRun) return dryRun(req.params.p, config, declared);
      const known = typeof b.requestId === 'string' ? jobs.get(byRequestId.get(`${req.params.p}/${b.requestId}`) ?? '') : undefined;
      const job = known ?? startJob(req.params.p, `job_${randomUUID().replace(/-/g, '')}`, b.location ?? LOCATION, config, declared);
      if (typeof b.requestId === 'string') byRequestId.set(`${req.params.p}/${b.requestId}`, `${job.projectId}/${job.jobId}`);
      await waitFor(job, num(b.timeoutMs) ?? DEFAULT_WAIT_MS);
      if (job.state !== 'DONE') return { kind: 'bigquery#queryResponse', jobReference: jobResource(job).jobReference, jobComplete: false };
      return { kind: 'bigquery#queryResponse', ...resultPage(job, { maxResults: num(b.maxResults), int64: int64Ts({}, b) }) };
    });
    app.get(`${prefix}/projects/:p/queries/:j`, async (req: Req) => {
      const job = getJob(req.params.p, req.params.j);
      await waitFor(job, num(req.query.timeoutMs) ?? DEFAULT_WAIT_MS);
      if (job.state !== 'DONE') return { kind: 'bigquery#getQueryResultsResponse', jobReference: jobResource(job).jobReference, jobComplete: false };
      return {
        kind: 'bigquery#getQueryResultsResponse',
        ...resultPage(job, { maxResults: num(req.query.maxResults), startIndex: num(req.query.startIndex), pageToken: req.query.pageToken, int64: int64Ts(req.query) }),
      };
    });
    app.post(`${prefix}/projects/:p/jobs`, async (req: Req) => insertJob(req.params.p, req.body ?? {}, parseDeclared(req.headers[DECLARED_HEADER])));
    app.get(`${prefix}/projects/:p/jobs`, async (req: Req) => ({
      kind: 'bigquery#jobList',
      jobs: [...jobs.values()].filter((j) => j.projectId === req.params.p).reverse()
        .slice(0, num(req.query.maxResults) ?? 1000).map((j) => ({ ...jobResource(j), state: j.state })),
    }));
    app.get(`${prefix}/projects/:p/jobs/:j`, async (req: Req) => jobResource(getJob(req.params.p, req.params.j)));
    // jobs.delete (https://cloud.google.com/bigquery/docs/reference/rest/v2/jobs/delete): a finished job's metadata.
    app.delete(`${prefix}/projects/:p/jobs/:j/delete`, async (req: Req, reply: FastifyReply) => {
      const job = getJob(req.params.p, req.params.j);
      if (job.state !== 'DONE') throw new BigQueryError('invalid', `Job ${req.params.p}:${job.jobId} is still ${job.state}; cancel it before deleting it.`);
      jobs.delete(`${req.params.p}/${req.params.j}`);
      opts.anon?.dropJob(req.params.p, job.jobId);
      return reply.code(204).send();
    });
    app.post(`${prefix}/projects/:p/jobs/:j/cancel`, async (req: Req) => {
      const job = getJob(req.params.p, req.params.j);
      if (job.state !== 'DONE') {
        job.state = 'DONE'; job.endTime = Date.now();
        job.error = new BigQueryError('stopped', 'Job execution was cancelled: User requested cancellation');
        job.abort.abort(job.error); // interrupts DuckDB, or takes the job out of the queue
      }
      return { kind: 'bigquery#jobCancelResponse', job: jobResource(job) };
    });
  };

  /**
   * jobs.insert (and the upload endpoint, with the uploaded `upload`): a query, copy, extract or
   * load job; 409 duplicate for a job id in use. Answers the job resource (after up to 50 ms).
   */
  const insertJob = async (projectId: string, b: any, declared?: Declared, upload?: Buffer) => {
    const cfg = b.configuration ?? {};
    const kinds = ['query', 'copy', 'extract', 'load'].filter((k) => cfg[k]);
    if (kinds.length !== 1) throw new BigQueryError('invalid', 'A job configuration needs exactly one of query, copy, extract or load.');
    if (upload !== undefined && !cfg.load) throw new BigQueryError('invalid', 'Only a load job takes an uploaded file.');
    if (cfg.query && cfg.dryRun) return dryRun(projectId, cfg, declared);
    if (cfg.dryRun) throw new BigQueryError('invalid', 'The emulator dry-runs query jobs only.');
    const jobId = b.jobReference?.jobId ?? `job_${randomUUID().replace(/-/g, '')}`;
    if (jobs.has(`${projectId}/${jobId}`)) throw new BigQueryError('duplicate', `Already Exists: Job ${projectId}:${LOCATION}.${jobId}`);
    const job = startJob(projectId, jobId, b.jobReference?.location ?? LOCATION, cfg, declared, upload);
    await waitFor(job, 50);
    return jobResource(job);
  };

  /** A dry run: the statement checked and planned (not run); its schema and the bytes it would process. */
  const dryRun = async (projectId: string, cfg: Record<string, any>, declared?: Declared) => {
    const q = cfg.query ?? {};
    if (q.useLegacySql !== false) throw new BigQueryError('invalidQuery', 'Legacy SQL is not supported by the emulator; set useLegacySql=false.', { location: 'query' });
    const r = await engine.run(String(q.query), { projectId, defaultDataset: q.defaultDataset, queryParameters: q.queryParameters }, { declared, dryRun: true });
    const bytes = String(r.totalBytesProcessed);
    return {
      kind: 'bigquery#job', jobReference: { projectId, location: LOCATION }, configuration: { ...cfg, jobType: 'QUERY' },
      status: { state: 'DONE' },
      statistics: { totalBytesProcessed: bytes, query: { statementType: r.statementType, totalBytesProcessed: bytes, totalBytesBilled: String(r.totalBytesBilled), totalBytesProcessedAccuracy: 'PRECISE', schema: { fields: r.schema } } },
      jobComplete: true, totalBytesProcessed: bytes, cacheHit: false, schema: { fields: r.schema },
    };
  };

  app.register(async (scoped) => uploadRoutes(scoped, opts.maxUploadBytes, insertJob));
  app.register(async (scoped) => { routes(scoped, '/bigquery/v2'); installRoutines(scoped, engine, '/bigquery/v2'); });
  app.register(async (scoped) => { routes(scoped, ''); installRoutines(scoped, engine, ''); });
  return app;
}
