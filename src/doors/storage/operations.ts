/**
 * The Storage Read API's operations, for the gateway's pipeline (each call one audited request):
 *
 * - `storage.createReadSession` — over a table: the session is decided as
 *   `SELECT selected_fields FROM table WHERE (row_restriction)` by the pipeline's statement stage
 *   (statement.ts builds and parse-checks it; `check`: analysis, column rules, masks, row filters,
 *   limits), then ALWAYS materialized: the governed (masked, filtered, row-capped) statement runs
 *   upstream as a query job of the caller's (recorded as its own), and the upstream session is
 *   opened on that job's anonymous result table. Always, not only when masks or filters apply: a
 *   restriction passed on as text would be read by the upstream's parser, not the analyzer's, and
 *   the upstream session then never names a raw table at all. Over a job's result table (a dataset
 *   named `_…`, BigQuery's anonymous results): readable as is when it is the result of a query job the
 *   caller owns (masked at the scan when it ran); another caller's is refused. An approval rule, a
 *   content backstop or a row cap on such a job refuse the session (use jobs.query / getQueryResults).
 * - `storage.readRows` — a stream the caller's session has (names.ts: sealed, bound to the owner),
 *   relayed from the upstream batch by batch; each batch's `delivery` event (rows, bytes, SHA-256 of
 *   the serialized batch as delivered) is durable before the batch is written (`Ctx.emit`).
 * - `storage.splitReadStream` — the upstream's split, its halves sealed for the same owner.
 *
 * Sources: https://cloud.google.com/bigquery/docs/reference/storage/rpc/google.cloud.bigquery.storage.v1,
 * https://cloud.google.com/bigquery/docs/reference/storage (sessions, streams, offsets).
 * Throws BigQueryError: invalid / invalidQuery (INVALID_ARGUMENT), accessDenied (PERMISSION_DENIED,
 * naming the rule), notFound, backendError; upstream gRPC errors as the nearest reason.
 */
import { createHash } from 'node:crypto';
import { status as Status } from '@grpc/grpc-js';
import { BigQueryError, RESULTS_DATASET, type Operation, type Reason } from '../../bigquery/index.js';
import { backstopColumns } from '../../policy/index.js';
import { declaredOf, storedIdentity, type Upstream, type UpstreamCredentials } from '../../upstream/index.js';
import type { ZetaSqlPool } from '../../sql/pool.js';
import type { JobStore, JobRecord } from '../../state/index.js';
import type { Config } from '../../config.js';
import { enc, type Ctx, type Outcome } from '../../pipeline/context.js';
import type { Check, Checked } from '../../pipeline/check.js';
import { jobLabels } from '../bigquery/jobs.js';
import { callerJobId, findOwnJob, resultsTableAccess, upstreamRequestId } from '../bigquery/job-ids.js';
import { checkParse, checkShape, fullName, parseTableName, selectedFields, sessionStatement, type TableName } from './statement.js';
import { namesKey, openStream, sealStream, type StreamGrant } from './names.js';
import type { StorageUpstream } from './upstream.js';
import { scanBatch, scanCodecs, type ScanCodecs, type ScanPlan } from './scan.js';

export interface StorageDeps {
  cfg: Config;
  store: JobStore;
  /** The upstream BigQuery REST API (the materializing query jobs). */
  upstream: Upstream;
  /** The upstream BigQueryRead service; undefined when none is configured (every call refused). */
  storage?: StorageUpstream;
  credentials: UpstreamCredentials;
  zetasql: ZetaSqlPool;
  hmacKey: Buffer;
  check: Check;
}

export type StorageOps = 'storage.createReadSession' | 'storage.readRows' | 'storage.splitReadStream';

const FORMATS = ['ARROW', 'AVRO'];
/** `_bqgate_results.<jobId>`: a caller's own query job's results (bigquery/index.ts). */
export { RESULTS_DATASET };

/** An upstream gRPC error as the caller's refusal (reason by status code; message the upstream's). */
function fromUpstream(err: unknown): BigQueryError {
  if (err instanceof BigQueryError) return err;
  const e = err as { code?: number; details?: string; message?: string };
  const reason: Reason = ({ [Status.INVALID_ARGUMENT]: 'invalid', [Status.NOT_FOUND]: 'notFound', [Status.PERMISSION_DENIED]: 'accessDenied', [Status.RESOURCE_EXHAUSTED]: 'rateLimitExceeded', [Status.OUT_OF_RANGE]: 'invalid', [Status.FAILED_PRECONDITION]: 'invalid' } as Record<number, Reason>)[e.code ?? -1] ?? 'backendError';
  return new BigQueryError(reason, `The upstream BigQuery Storage API refused the call: ${e.details ?? e.message ?? 'unknown error'}`);
}

/** The backstop's plan for a session: its schema and the names of the scanned result columns. */
function scanPlan(format: string, up: any, backstop: number[], selected: string[], resultColumns: string[] | undefined, { tableFromIPC }: ScanCodecs): ScanPlan {
  const schema = format === 'ARROW' ? Buffer.from(up.arrowSchema?.serializedSchema ?? []).toString('base64') : String(up.avroSchema?.schema ?? '');
  const names = resultColumns ?? (format === 'ARROW' ? tableFromIPC(Buffer.from(schema, 'base64')).schema.fields.map((f) => f.name) : (JSON.parse(schema).fields ?? []).map((f: { name: string }) => f.name));
  // The result columns in the job's order; a session with selected fields reads those of them only.
  const cols = backstop.map((i) => names[i]).filter((n): n is string => typeof n === 'string');
  return { format, schema, columns: selected.length ? cols.filter((n) => selected.includes(n)) : cols };
}

const sameOwner = (c: Ctx, g: { issuer: string; subject: string }) => g.issuer === c.principal.issuer && g.subject === c.principal.subject;

export function storageOperations(d: StorageDeps): Record<StorageOps, (c: Ctx) => Promise<Outcome>> {
  const { cfg, store, upstream, credentials, zetasql, hmacKey, check } = d;
  const key = namesKey(hmacKey);
  const storage = d.storage ?? new Proxy({} as StorageUpstream, { get: () => () => { throw new BigQueryError('backendError', 'bqgate has no upstream BigQuery Storage API configured (BQGATE_UPSTREAM_STORAGE, host:port); read with jobs.query / getQueryResults.'); } });

  /** The caller's grant of a stream name; accessDenied for a name it did not get (or that expired). */
  const grantOf = (c: Ctx, name: unknown): StreamGrant => {
    const g = typeof name === 'string' ? openStream(key, name) : undefined;
    if (!g || !sameOwner(c, g)) throw new BigQueryError('accessDenied', `Access Denied: read stream ${JSON.stringify(String(name ?? '').slice(0, 120))} is not one of ${c.principal.subject}'s read sessions: streams are readable only by the caller that created their session (CreateReadSession through bqgate).`);
    if (g.expires < Date.now()) throw new BigQueryError('notFound', `Not found: read stream of a session that expired at ${new Date(g.expires).toISOString()}; create a new read session.`);
    return g;
  };

  /**
   * The caller's query job whose results `table` names: `_bqgate_results.<jobId>`, the job by the id
   * the caller knows it by (job-ids.ts findOwnJob: another caller's id finds nothing), with the
   * result's columns and its upstream table. Upstream anonymous tables (`_…`) are never shown to
   * callers (deliver/resources.ts), so they are not looked up by name: a guessed one finds nothing,
   * at the cost of no upstream call.
   */
  async function ownJobOf(c: Ctx, table: TableName): Promise<{ job: JobRecord; columns: string[]; source: TableName } | undefined> {
    if (table.datasetId !== RESULTS_DATASET) return undefined;
    const j = await findOwnJob(store, c.principal, table.projectId, table.tableId);
    if (!j || resultsTableAccess(j) === 'not-results') return undefined;
    const cred = await credentials.forJob(c.principal, c.callerToken, storedIdentity(j.upstreamIdentity)).catch(() => undefined);
    const r = await upstream.call('GET', `/projects/${enc(j.projectId)}/jobs/${enc(j.jobId)}`, { query: { location: j.location }, as: cred?.client });
    const dest = r.status < 300 ? r.body?.configuration?.query?.destinationTable : undefined;
    if (!dest?.datasetId) throw new BigQueryError('notFound', `Not found: the result table of job ${table.tableId} (the job has not finished, failed, or was not a query).`);
    const source = { projectId: dest.projectId ?? j.projectId, datasetId: dest.datasetId, tableId: dest.tableId };
    // The result's columns in order (the backstop's indexes are into them).
    const fields = r.body?.statistics?.query?.schema?.fields
      ?? (await upstream.ok('GET', `/projects/${enc(source.projectId)}/datasets/${enc(source.datasetId)}/tables/${enc(source.tableId)}`, { as: cred?.client })).schema?.fields ?? [];
    return { job: j, columns: fields.map((f: { name: string }) => f.name), source };
  }

  /** Runs the governed statement as the caller's query job; returns the job and its result table. */
  async function materialize(c: Ctx, projectId: string, built: string, checked: Checked): Promise<{ job: JobRecord; table: TableName }> {
    const cred = await credentials.forJob(c.principal, c.callerToken, undefined, checked.decision.upstreamServiceAccount);
    const location = cfg.upstreamAuth.location;
    const cap = checked.decision.limits.maximumBytesBilled;
    const wait = String(cfg.defaultWaitMs);
    const body = {
      query: checked.sql, useLegacySql: false, requestId: upstreamRequestId(c.principal, `bqgate-storage:${c.auditId}`), timeoutMs: cfg.defaultWaitMs, maxResults: 0,
      labels: jobLabels(c), ...(location ? { location } : {}), ...(cap !== undefined ? { maximumBytesBilled: String(cap) } : {}),
    };
    let r = await upstream.ok('POST', `/projects/${enc(projectId)}/queries`, { body, as: cred.client, declared: declaredOf(checked.sent) });
    const ref = r.jobReference;
    if (!ref?.jobId) throw new BigQueryError('backendError', 'The upstream answered jobs.query without a job reference; the read session cannot be opened.');
    const job: JobRecord = {
      projectId, jobId: String(ref.jobId), location: ref.location ?? location ?? 'US', ownerIssuer: c.principal.issuer, ownerSubject: c.principal.subject,
      query: built, upstreamQuery: checked.sql, statementType: 'SELECT', createdAt: Date.now(), sessionKey: c.sessionKey, upstreamIdentity: cred.identity,
    };
    await store.insertJob(job);
    c.audit = { ...c.audit, jobId: job.jobId };
    const q = { location: job.location, maxResults: '0', timeoutMs: wait };
    while (!r.jobComplete) r = await upstream.ok('GET', `/projects/${enc(projectId)}/queries/${enc(job.jobId)}`, { query: q, as: cred.client });
    const up = await upstream.ok('GET', `/projects/${enc(projectId)}/jobs/${enc(job.jobId)}`, { query: { location: job.location }, as: cred.client });
    if (up.status?.errorResult) throw new BigQueryError('invalidQuery', `The read session's query failed upstream: ${up.status.errorResult.message ?? 'unknown error'}`);
    const dest = up.configuration?.query?.destinationTable;
    if (!dest?.datasetId || !dest?.tableId) throw new BigQueryError('backendError', `The upstream did not name the result table of job ${job.jobId}; the read session cannot be opened.`);
    return { job, table: { projectId: dest.projectId ?? projectId, datasetId: dest.datasetId, tableId: dest.tableId } };
  }

  /** The governed statement of a table session: parse-checked, decided, shape-checked, row-capped. */
  async function decideTable(c: Ctx, projectId: string, table: TableName, fields: string[], restriction: string | undefined): Promise<{ built: string; checked: Checked; backstop: number[] }> {
    const s = sessionStatement(table, fields, restriction);
    let parsed: any;
    try {
      parsed = (await zetasql.call('parse', { sqlStatement: s.sql, allowScript: false })).parsedStatement;
    } catch (err) {
      throw new BigQueryError('invalidQuery', `Invalid read_options.row_restriction: ${(err as { details?: string }).details ?? (err as Error).message}`);
    }
    checkParse(s, parsed);
    const q = { query: s.sql, useLegacySql: false };
    let checked = await check(c, projectId, q);
    checkShape(checked.analysis, fullName(table));
    if (checked.decision.approvals?.length) {
      throw Object.assign(new BigQueryError('accessDenied', `Access Denied: reading ${fullName(table)} needs approval (${checked.decision.approvals.map((a) => `rule ${a.ruleId}`).join(', ')}), and a read session cannot wait for one. Run the query as a job (jobs.insert), and read its results once approved.`), { decision: { ...checked.decision, effect: 'deny' as const } });
    }
    const cap = checked.decision.limits.maximumRows;
    let built = s.sql;
    if (cap !== undefined) {
      // The policy's row cap: the read is the capped statement (its own text, analyzed and decided again).
      built = sessionStatement(table, fields, restriction, cap).sql;
      checked = await check(c, projectId, { query: built, useLegacySql: false });
      checkShape(checked.analysis, fullName(table));
    }
    return { built, checked, backstop: backstopColumns(c.policy, checked.analysis.lineage, checked.analysis.tables) };
  }

  /** The upstream session, renamed for the caller: its streams sealed, the caller's table and options. */
  function present(c: Ctx, up: any, asked: any, grant: Omit<StreamGrant, 'upstream' | 'expires'>) {
    const expires = up.expireTime?.seconds ? Number(up.expireTime.seconds) * 1000 : Date.now() + 6 * 3600_000;
    const seal = (s: any) => ({ ...s, name: sealStream(key, { ...grant, upstream: s.name, expires }) });
    return { ...up, table: asked.table, readOptions: asked.readOptions ?? null, tableModifiers: null, streams: (up.streams ?? []).map(seal) };
  }

  return {
    'storage.createReadSession': async (c) => {
      const b = c.req.body ?? {};
      const rs = b.readSession ?? {};
      const parent = typeof b.parent === 'string' ? /^projects\/([a-z0-9:.-]{1,128})$/.exec(b.parent)?.[1] : undefined;
      if (!parent) throw new BigQueryError('invalid', `Invalid parent ${JSON.stringify(String(b.parent ?? '').slice(0, 200))}: it must be projects/PROJECT (the project billed for the read).`);
      c.req.params.projectId = parent;
      const table = parseTableName(rs.table);
      if (!FORMATS.includes(rs.dataFormat)) throw new BigQueryError('invalid', `Invalid read_session.data_format ${JSON.stringify(rs.dataFormat)}: it must be ARROW or AVRO.`);
      if (rs.tableModifiers?.snapshotTime) throw new BigQueryError('invalid', 'read_session.table_modifiers (snapshot_time) is not served by bqgate: read the table as it is now, or query it FOR SYSTEM_TIME AS OF with jobs.query.');
      const opts = rs.readOptions ?? {};
      const fields = selectedFields(opts.selectedFields);
      const restriction = typeof opts.rowRestriction === 'string' && opts.rowRestriction !== '' ? opts.rowRestriction : undefined;
      if (opts.samplePercentage !== undefined && opts.samplePercentage !== null) throw new BigQueryError('invalid', 'read_options.sample_percentage is not served by bqgate.');
      const maxStreams = Math.max(0, Math.min(Number(b.maxStreamCount ?? 0) || 0, 1000));
      let source: TableName;
      let upstreamFields: string[] = [];
      let identity: string;
      let jobId: string;
      /** Result column indexes the content backstop scans (policy backstopColumns). */
      let backstop: number[];
      let resultColumns: string[] | undefined;
      if (table.datasetId.startsWith('_')) {
        // A job's anonymous result table: the caller's own job only.
        const own = await ownJobOf(c, table);
        const job = own?.job;
        resultColumns = own?.columns;
        if (!job || !own) throw new BigQueryError('accessDenied', `Access Denied: Table ${fullName(table)}: it is not the result table of a query job of ${c.principal.subject}. Name your own query job's results as ${table.projectId}.${RESULTS_DATASET}.<jobId> (jobs.get shows it as configuration.query.destinationTable), or read a table the policy lets you read.`);
        if (restriction) throw new BigQueryError('invalid', `read_options.row_restriction is not served on a job's result table (${callerJobId(job)}): filter in the query itself.`);
        if (resultsTableAccess(job) === 'capped') throw new BigQueryError('accessDenied', `Access Denied: the results of job ${callerJobId(job)} are capped at ${job.maxRows} rows for ${c.principal.subject}; a read session would pass the cap. Read them with getQueryResults.`);
        source = own.source;
        upstreamFields = fields;
        identity = job.upstreamIdentity ?? 'gateway';
        jobId = job.jobId;
        backstop = job.backstopColumns ?? [];
        c.audit = { decision: 'allow', reasons: [`the result table of job ${callerJobId(job)}, a query job of ${c.principal.subject} (governed when it ran)`], policyVersion: c.policy.version, statementKind: 'SELECT', tables: [fullName(table)], jobId };
      } else {
        const { built, checked, backstop: scanned } = await decideTable(c, parent, table, fields, restriction);
        backstop = scanned;
        const m = await materialize(c, parent, built, checked);
        source = m.table;
        identity = m.job.upstreamIdentity ?? 'gateway';
        jobId = m.job.jobId;
      }
      const cred = await credentials.forJob(c.principal, c.callerToken, storedIdentity(identity));
      const request = {
        parent: `projects/${parent}`, maxStreamCount: maxStreams, preferredMinStreamCount: Number(b.preferredMinStreamCount ?? 0) || 0,
        readSession: {
          table: `projects/${source.projectId}/datasets/${source.datasetId}/tables/${source.tableId}`, dataFormat: rs.dataFormat,
          readOptions: { selectedFields: upstreamFields, ...(opts.arrowSerializationOptions ? { arrowSerializationOptions: opts.arrowSerializationOptions } : {}), ...(opts.avroSerializationOptions ? { avroSerializationOptions: opts.avroSerializationOptions } : {}) },
        },
      };
      const up = await storage.createReadSession(request, cred.client).catch((err) => { throw fromUpstream(err); });
      const scan = backstop.length ? scanPlan(rs.dataFormat, up, backstop, upstreamFields, resultColumns, await scanCodecs()) : undefined;
      const body = present(c, up, rs, { ...(scan ? { scan } : {}), issuer: c.principal.issuer, subject: c.principal.subject, identity, sessionKey: c.sessionKey, createdBy: c.auditId, format: rs.dataFormat, table: fullName(table) });
      return { body, audit: { ...c.audit, jobId } };
    },

    'storage.readRows': async (c) => {
      const b = c.req.body ?? {};
      const g = grantOf(c, b.readStream);
      const offset = Number(b.offset ?? 0);
      if (!Number.isSafeInteger(offset) || offset < 0) throw new BigQueryError('invalid', `Invalid offset ${JSON.stringify(b.offset)}: a row offset ≥ 0 into the stream.`);
      c.audit = { decision: 'allow', reasons: [`a stream of ${c.principal.subject}'s read session (created by request ${g.createdBy})`], policyVersion: c.policy.version, statementKind: 'SELECT', tables: [g.table] };
      const cred = await credentials.forJob(c.principal, c.callerToken, storedIdentity(g.identity));
      let rows = 0;
      let bytes = 0;
      let batches = 0;
      const codecs = g.scan ? await scanCodecs() : undefined;
      try {
        for await (const msg of storage.readRows({ readStream: g.upstream, offset: String(offset) }, cred.client)) {
          const data: Buffer = msg.arrowRecordBatch?.serializedRecordBatch ?? msg.avroRows?.serializedBinaryRows ?? Buffer.alloc(0);
          const n = Number(msg.rowCount ?? msg.arrowRecordBatch?.rowCount ?? msg.avroRows?.rowCount ?? 0);
          const delivery = { format: g.format, offset: offset + rows, rows: n, bytes: data.length, sha256: createHash('sha256').update(data).digest('hex') };
          const hit = g.scan && codecs && data.length ? scanBatch(g.scan, data, codecs) : undefined;
          if (hit) throw new BigQueryError('accessDenied', `Access Denied: a batch of this stream holds a value that looks like ${hit.kind === 'ssn' ? 'a social security number' : hit.kind === 'card' ? 'a payment card number' : hit.kind === 'iban' ? 'an IBAN' : 'an email address'} in column ${hit.column}, which the policy does not declare; bqgate redacts such values in REST pages but cannot in binary batches, so the stream is stopped. Read these rows with jobs.query / getQueryResults, or ask the policy owner to declare the column.`);
          if (!c.emit) throw new BigQueryError('backendError', 'storage.readRows needs a streaming door.');
          await c.emit(delivery, msg);
          rows += n; bytes += data.length; batches++;
        }
      } catch (err) {
        throw fromUpstream(err);
      }
      return { body: { readStream: 'relayed', rows, bytes, batches }, audit: { ...c.audit, rowsReturned: rows } };
    },

    'storage.splitReadStream': async (c) => {
      const b = c.req.body ?? {};
      const g = grantOf(c, b.name);
      const fraction = Number(b.fraction ?? 0);
      if (!(fraction >= 0 && fraction < 1)) throw new BigQueryError('invalid', `Invalid fraction ${JSON.stringify(b.fraction)}: it must be in [0, 1).`);
      c.audit = { decision: 'allow', reasons: [`a split of a stream of ${c.principal.subject}'s read session (created by request ${g.createdBy})`], policyVersion: c.policy.version, tables: [g.table] };
      const cred = await credentials.forJob(c.principal, c.callerToken, storedIdentity(g.identity));
      const up = await storage.splitReadStream({ name: g.upstream, fraction }, cred.client).catch((err) => { throw fromUpstream(err); });
      const seal = (s: any) => (s?.name ? { ...s, name: sealStream(key, { ...g, upstream: s.name }) } : s ?? null);
      return { body: { primaryStream: seal(up.primaryStream), remainderStream: seal(up.remainderStream) } };
    },
  } satisfies Record<StorageOps, (c: Ctx) => Promise<Outcome>> as Record<Extract<Operation, StorageOps>, (c: Ctx) => Promise<Outcome>>;
}
