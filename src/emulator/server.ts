/**
 * The emulator's REST surface: BigQuery v2 over DuckDB, as the real clients use it (CONTRACT.md §3).
 *
 * Served under both `/bigquery/v2/projects/…` and `/projects/…` (BIGQUERY_EMULATOR_HOST is used
 * verbatim by the SDK), plus `GET /$discovery/rest` for `bq`. Query jobs run asynchronously and are
 * kept in memory; getQueryResults long-polls up to `timeoutMs` (default 10 000 ms). The emulator
 * trusts its caller: it is a local upstream, reachable on loopback only, and checks no token.
 */
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { randomUUID } from 'node:crypto';
import { BigQueryError } from '../bigquery/errors.js';
import { installBigQueryHttp, pageToken, fromPageToken } from '../bigquery/http.js';
import { encodeRow, type BqField } from './encode.js';
import { Engine, statementType, type RunResult, type QueryParameter, type TableMeta } from './engine.js';

const LOCATION = 'US';
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
  error?: BigQueryError;
  done: Promise<void>;
}

type Q = Record<string, string | undefined>;
type Req = FastifyRequest<{ Params: Record<string, string>; Querystring: Q; Body: any }>;

const int64Ts = (q: Q, body?: any) => q['formatOptions.useInt64Timestamp'] === 'true' || body?.formatOptions?.useInt64Timestamp === true;

/** One request as the emulator saw it (for `onRequest`): method, path and query, bearer token. */
export interface SeenRequest { method: string; url: string; authorization?: string; userProject?: string; body?: any }

/**
 * Builds the emulator's fastify app over an opened Engine. `onRequest` sees every request (the
 * credential a caller used, for tests that check which one reached "BigQuery").
 */
export function buildEmulatorApp(engine: Engine, opts: { logger?: boolean; onRequest?: (r: SeenRequest) => void } = {}): FastifyInstance {
  const app = Fastify({ logger: opts.logger ?? false, bodyLimit: 10 * 1024 * 1024 });
  const jobs = new Map<string, Job>();
  /** jobs.query requestId → job key: a retried jobs.query runs once (BigQuery's idempotency). */
  const byRequestId = new Map<string, string>();
  if (opts.onRequest) {
    const seen = opts.onRequest;
    app.addHook('preHandler', async (req) => { seen({ method: req.method, url: req.url, authorization: req.headers.authorization, userProject: req.headers['x-goog-user-project'] as string | undefined, body: req.body }); });
  }

  installBigQueryHttp(app, 'the emulator');


  const datasets = (p: string) => [...new Set(engine.listTables().filter((t) => t.projectId === p).map((t) => t.datasetId))];
  const projects = () => [...new Set(engine.listTables().map((t) => t.projectId))];
  const mustDataset = (p: string, d: string) => {
    if (!datasets(p).includes(d)) throw new BigQueryError('notFound', `Not found: Dataset ${p}:${d}`);
  };
  const mustTable = (p: string, d: string, t: string): TableMeta => {
    const m = engine.getTable(p, d, t);
    if (!m) throw new BigQueryError('notFound', `Not found: Table ${p}:${d}.${t} was not found in location ${LOCATION}`);
    return m;
  };
  const tableResource = (t: TableMeta) => ({
    kind: 'bigquery#table', id: `${t.projectId}:${t.datasetId}.${t.tableId}`, etag: `"${t.numRows}"`,
    tableReference: { projectId: t.projectId, datasetId: t.datasetId, tableId: t.tableId },
    schema: { fields: t.schema }, type: t.viewQuery ? 'VIEW' : 'TABLE', numRows: String(t.numRows), numBytes: String(t.numRows * 64),
    creationTime: String(t.creationTime), lastModifiedTime: String(t.creationTime), location: LOCATION,
    ...(t.viewQuery ? { view: { query: t.viewQuery, useLegacySql: false } } : {}),
  });
  const datasetResource = (p: string, d: string) => ({
    kind: 'bigquery#dataset', id: `${p}:${d}`, datasetReference: { projectId: p, datasetId: d }, location: LOCATION,
    creationTime: String(Date.UTC(2026, 10, 1)), lastModifiedTime: String(Date.UTC(2026, 10, 1)), type: 'DEFAULT',
  });

  const jobResource = (j: Job) => {
    const status: Record<string, unknown> = { state: j.state };
    if (j.error) { status.errorResult = j.error.toErrorProto(); status.errors = [j.error.toErrorProto()]; }
    const query: Record<string, unknown> = {
      statementType: j.result?.statementType ?? statementType(String(j.configuration.query?.query ?? '')),
      totalBytesProcessed: '0', totalBytesBilled: '0', cacheHit: false,
    };
    if (j.result?.numDmlAffectedRows !== undefined) query.numDmlAffectedRows = String(j.result.numDmlAffectedRows);
    if (j.result && j.result.statementType === 'SELECT') query.schema = { fields: j.result.schema };
    return {
      kind: 'bigquery#job', etag: `"${j.state}"`, id: `${j.projectId}:${j.location}.${j.jobId}`,
      jobReference: { projectId: j.projectId, jobId: j.jobId, location: j.location },
      configuration: { ...j.configuration, jobType: 'QUERY' },
      status, user_email: 'emulator@localhost',
      statistics: {
        creationTime: String(j.creationTime), ...(j.startTime ? { startTime: String(j.startTime) } : {}),
        ...(j.endTime ? { endTime: String(j.endTime) } : {}), totalBytesProcessed: '0', query,
      },
    };
  };

  const startJob = (projectId: string, jobId: string, location: string, configuration: Record<string, any>): Job => {
    const q = configuration.query ?? {};
    const job: Job = { projectId, jobId, location, configuration, state: 'RUNNING', creationTime: Date.now(), startTime: Date.now(), done: Promise.resolve() };
    job.done = (async () => {
      try {
        if (q.useLegacySql !== false) throw new BigQueryError('invalidQuery', 'Legacy SQL is not supported by the emulator; set useLegacySql=false (bq --nouse_legacy_sql).', { location: 'query' });
        job.result = await engine.run(String(q.query ?? ''), {
          projectId, defaultDataset: q.defaultDataset, queryParameters: q.queryParameters as QueryParameter[] | undefined,
        });
      } catch (err) {
        job.error = err instanceof BigQueryError ? err : new BigQueryError('internalError', String((err as Error).message));
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
    const r = job.result!;
    const total = r.rows.length;
    const start = fromPageToken(q.pageToken) ?? q.startIndex ?? 0;
    const max = q.maxResults && q.maxResults > 0 ? q.maxResults : 100_000;
    const end = Math.min(total, start + max);
    const out: Record<string, unknown> = {
      jobReference: { projectId: job.projectId, jobId: job.jobId, location: job.location },
      jobComplete: true, totalRows: String(total), totalBytesProcessed: '0', cacheHit: false,
      schema: { fields: r.schema },
    };
    if (r.statementType === 'SELECT') out.rows = r.rows.slice(start, end).map((row) => encodeRow(row, r.schema as BqField[], q.int64));
    else out.numDmlAffectedRows = String(r.numDmlAffectedRows ?? 0);
    if (end < total) out.pageToken = pageToken(end);
    return out;
  };

  const num = (s: unknown) => (s === undefined || s === null || s === '' ? undefined : Number(s));

  const routes = (app: FastifyInstance, prefix: string) => {
    app.get(`${prefix}/projects`, async () => ({
      kind: 'bigquery#projectList', totalItems: projects().length,
      projects: projects().map((p) => ({ kind: 'bigquery#project', id: p, numericId: '1', projectReference: { projectId: p }, friendlyName: p })),
    }));
    app.get(`${prefix}/projects/:p/datasets`, async (req: Req) => ({
      kind: 'bigquery#datasetList', datasets: datasets(req.params.p).map((d) => datasetResource(req.params.p, d)),
    }));
    app.get(`${prefix}/projects/:p/datasets/:d`, async (req: Req) => {
      mustDataset(req.params.p, req.params.d);
      return datasetResource(req.params.p, req.params.d);
    });
    app.get(`${prefix}/projects/:p/datasets/:d/tables`, async (req: Req) => {
      mustDataset(req.params.p, req.params.d);
      const ts = engine.listTables().filter((t) => t.projectId === req.params.p && t.datasetId === req.params.d);
      return { kind: 'bigquery#tableList', totalItems: ts.length, tables: ts.map((t) => { const { schema: _s, ...rest } = tableResource(t); return rest; }) };
    });
    app.get(`${prefix}/projects/:p/datasets/:d/tables/:t`, async (req: Req) => tableResource(mustTable(req.params.p, req.params.d, req.params.t)));
    app.get(`${prefix}/projects/:p/datasets/:d/tables/:t/data`, async (req: Req) => {
      const t = mustTable(req.params.p, req.params.d, req.params.t);
      const start = fromPageToken(req.query.pageToken) ?? num(req.query.startIndex) ?? 0;
      const max = num(req.query.maxResults) ?? 100_000;
      const selected = req.query.selectedFields?.split(',').map((s) => s.trim()).filter(Boolean);
      const { schema, rows } = await engine.readTable(t, start, max, selected);
      const out: Record<string, unknown> = {
        kind: 'bigquery#tableDataList', totalRows: String(t.numRows),
        rows: rows.map((r) => encodeRow(r, schema, int64Ts(req.query))),
      };
      if (start + rows.length < t.numRows) out.pageToken = pageToken(start + rows.length);
      return out;
    });

    app.post(`${prefix}/projects/:p/queries`, async (req: Req) => {
      const b: any = req.body ?? {};
      if (typeof b.query !== 'string' || !b.query.trim()) throw new BigQueryError('invalid', 'Required parameter is missing: query');
      const config = { query: { query: b.query, useLegacySql: b.useLegacySql, defaultDataset: b.defaultDataset, queryParameters: b.queryParameters, parameterMode: b.parameterMode }, ...(b.labels ? { labels: b.labels } : {}), ...(b.dryRun ? { dryRun: true } : {}) };
      if (b.dryRun) return dryRun(req.params.p, config);
      const known = typeof b.requestId === 'string' ? jobs.get(byRequestId.get(`${req.params.p}/${b.requestId}`) ?? '') : undefined;
      const job = known ?? startJob(req.params.p, `job_${randomUUID().replace(/-/g, '')}`, b.location ?? LOCATION, config);
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
    app.post(`${prefix}/projects/:p/jobs`, async (req: Req, reply: FastifyReply) => {
      const b: any = req.body ?? {};
      const cfg = b.configuration ?? {};
      if (!cfg.query) throw new BigQueryError('invalid', 'The emulator runs query jobs only; extract, copy and load jobs are not supported.');
      if (cfg.dryRun) return dryRun(req.params.p, cfg);
      const jobId = b.jobReference?.jobId ?? `job_${randomUUID().replace(/-/g, '')}`;
      if (jobs.has(`${req.params.p}/${jobId}`)) {
        reply.code(409);
        throw new BigQueryError('duplicate', `Already Exists: Job ${req.params.p}:${LOCATION}.${jobId}`);
      }
      const job = startJob(req.params.p, jobId, b.jobReference?.location ?? LOCATION, cfg);
      await waitFor(job, 50);
      return jobResource(job);
    });
    app.get(`${prefix}/projects/:p/jobs`, async (req: Req) => ({
      kind: 'bigquery#jobList',
      jobs: [...jobs.values()].filter((j) => j.projectId === req.params.p).reverse()
        .slice(0, num(req.query.maxResults) ?? 1000).map((j) => ({ ...jobResource(j), state: j.state })),
    }));
    app.get(`${prefix}/projects/:p/jobs/:j`, async (req: Req) => jobResource(getJob(req.params.p, req.params.j)));
    app.post(`${prefix}/projects/:p/jobs/:j/cancel`, async (req: Req) => {
      const job = getJob(req.params.p, req.params.j);
      if (job.state !== 'DONE') {
        job.state = 'DONE'; job.endTime = Date.now();
        job.error = new BigQueryError('stopped', 'Job execution was cancelled: User requested cancellation');
      }
      return { kind: 'bigquery#jobCancelResponse', job: jobResource(job) };
    });
  };

  const dryRun = async (projectId: string, cfg: Record<string, any>) => {
    const q = cfg.query ?? {};
    if (q.useLegacySql !== false) throw new BigQueryError('invalidQuery', 'Legacy SQL is not supported by the emulator; set useLegacySql=false.', { location: 'query' });
    // A dry run validates by running with no rows wanted; the emulator has no planner estimate.
    const r = await engine.run(`SELECT * FROM (${String(q.query)}) AS dry_run LIMIT 0`, { projectId, defaultDataset: q.defaultDataset, queryParameters: q.queryParameters })
      .catch(async (err) => { if (statementType(String(q.query)) === 'SELECT') throw err; return { schema: [] } as unknown as RunResult; });
    return {
      kind: 'bigquery#job', jobReference: { projectId, location: LOCATION }, configuration: { ...cfg, jobType: 'QUERY' },
      status: { state: 'DONE' },
      statistics: { totalBytesProcessed: '0', query: { statementType: statementType(String(q.query)), totalBytesProcessed: '0', totalBytesProcessedAccuracy: 'PRECISE', schema: { fields: r.schema } } },
      jobComplete: true, totalBytesProcessed: '0', cacheHit: false, schema: { fields: r.schema },
    };
  };

  app.register(async (scoped) => routes(scoped, '/bigquery/v2'));
  app.register(async (scoped) => routes(scoped, ''));
  return app;
}
