/**
 * The BigQuery resources a caller receives, each built from an allowlist of fields (the REST
 * reference and CONTRACT.md §3/§6: what `bq` and the Node SDK read), never by spreading an
 * upstream object. Whatever the upstream adds — the rewritten SQL (keyed-mask pads, RANDOM_HASH
 * salts, row-filter predicates), query plans, destination tables, access lists, the gateway's
 * identity — stays inside. A job shows the caller's own SQL, job id and owner.
 */
import { redactMaskSecrets } from '../rewrite/index.js';
import { BigQueryError } from '../bigquery/errors.js';

type Obj = Record<string, any>;

/** The keys of `o` listed in `keys` that are set, copied as they are (scalars and plain values only). */
const only = (o: Obj | undefined, keys: readonly string[]): Obj => {
  const out: Obj = {};
  for (const k of keys) if (o?.[k] !== undefined && o[k] !== null) out[k] = o[k];
  return out;
};

/** `f` applied to `o[k]` when set. */
const sub = <T>(o: Obj | undefined, k: string, f: (v: any) => T): Obj => (o?.[k] !== undefined && o[k] !== null ? { [k]: f(o[k]) } : {});

/** An upstream error message as a caller may read it: keyed-mask material redacted. */
export const callerMessage = (m: unknown): string => redactMaskSecrets(String(m ?? ''));

/**
 * `err` as a caller may receive it: a BigQueryError's message redacted of keyed-mask material (in
 * place, so what the pipeline attached — the decision, the analysis — stays); anything else as is.
 */
export function callerError<E>(err: E): E {
  if (err instanceof BigQueryError) err.message = callerMessage(err.message);
  return err;
}

/** One `ErrorProto` (`status.errorResult`, `status.errors[]`, `errors[]`): reason, message, location. */
export const errorProto = (e: Obj) => ({ ...only(e, ['reason', 'location']), message: callerMessage(e?.message) });

const FIELD_KEYS = ['name', 'type', 'mode', 'description', 'maxLength', 'precision', 'scale', 'roundingMode', 'collation'] as const;

/**
 * A schema field (recursively): name, type, mode, nested fields, range element type; with
 * `described`, a table's descriptive attributes too (description, policy tags, length limits).
 */
export function schemaField(f: Obj, described = false): Obj {
  const out = only(f, described ? FIELD_KEYS : ['name', 'type', 'mode']);
  if (described && f.policyTags?.names) out.policyTags = { names: [...f.policyTags.names].map(String) };
  if (f.rangeElementType?.type) out.rangeElementType = { type: String(f.rangeElementType.type) };
  if (Array.isArray(f.fields)) out.fields = f.fields.map((c: Obj) => schemaField(c, described));
  return out;
}

/** `{fields:[…]}` of a result (no descriptions) or, with `described`, of a table. */
export const schema = (s: Obj | undefined, described = false) => ({ fields: (s?.fields ?? []).map((f: Obj) => schemaField(f, described)) });

/** A job as its caller knows it: the caller's job id and SQL, the owner shown as `user_email`. */
export interface JobView {
  projectId: string;
  /** The job id the caller uses (not the upstream's namespaced one); absent for a dry run. */
  jobId?: string;
  location?: string;
  /** The caller's own SQL (for query jobs). */
  query?: string;
  /** Principal email, else subject. */
  owner?: string;
  /** The caller's own labels (the gateway's `bqgate_*` are left out). */
  labels?: Record<string, string>;
  /**
   * The name the caller reads this query job's anonymous results by (`P._bqgate_results.<jobId>`,
   * bigquery/index.ts RESULTS_DATASET), shown as `configuration.query.destinationTable` in place of
   * the upstream's `_…` table; absent: the anonymous table is not shown at all.
   */
  resultsTable?: { projectId: string; datasetId: string; tableId: string };
}

const QUERY_CONFIG_KEYS = ['defaultDataset', 'parameterMode', 'queryParameters', 'priority', 'useQueryCache', 'maximumBytesBilled', 'createDisposition', 'writeDisposition', 'destinationTable'] as const;
const QUERY_STATS_KEYS = ['statementType', 'totalBytesProcessed', 'totalBytesProcessedAccuracy', 'totalBytesBilled', 'billingTier', 'cacheHit', 'totalSlotMs', 'numDmlAffectedRows', 'ddlOperationPerformed', 'estimatedBytesProcessed', 'totalPartitionsProcessed'] as const;

/** What copy, extract and load configurations show (the caller's own settings). */
const NON_QUERY_KEYS: Record<string, readonly string[]> = {
  copy: ['sourceTable', 'sourceTables', 'destinationTable', 'createDisposition', 'writeDisposition', 'operationType'],
  extract: ['sourceTable', 'destinationUri', 'destinationUris', 'destinationFormat', 'compression', 'fieldDelimiter', 'printHeader'],
  load: ['destinationTable', 'sourceUris', 'sourceFormat', 'createDisposition', 'writeDisposition', 'autodetect'],
};

/**
 * What the statistics of copy, extract and load jobs show: the counters of JobStatistics4/5 and
 * JobStatistics3 (https://cloud.google.com/bigquery/docs/reference/rest/v2/Job#jobstatistics3 …
 * #jobstatistics5); no timeline or internal field.
 */
const NON_QUERY_STATS_KEYS: Record<string, readonly string[]> = {
  copy: ['copiedRows', 'copiedLogicalBytes'],
  extract: ['destinationUriFileCounts', 'inputBytes'],
  load: ['inputFiles', 'inputFileBytes', 'outputRows', 'outputBytes', 'badRecords'],
};

/** A table reference (`ddlTargetTable`): project, dataset, table ids only. */
const tableRef = (t: Obj) => only(t, ['projectId', 'datasetId', 'tableId']);

/**
 * `statistics` of a job: times, bytes, slot ms; the query's statement type, bytes, result schema
 * and DDL target (`ddlOperationPerformed`, `ddlTargetTable`, `ddlTargetDataset`, `ddlTargetRoutine`: what `bq` prints
 * as "Created …"); the counters of a copy, extract or load job.
 */
function jobStatistics(s: Obj | undefined): Obj {
  const out = only(s, ['creationTime', 'startTime', 'endTime', 'totalBytesProcessed', 'totalSlotMs', 'numChildJobs', 'finalExecutionDurationMs']);
  if (s?.query) {
    out.query = only(s.query, QUERY_STATS_KEYS);
    if (s.query.schema) out.query.schema = schema(s.query.schema);
    if (s.query.dmlStats) out.query.dmlStats = only(s.query.dmlStats, ['insertedRowCount', 'deletedRowCount', 'updatedRowCount']);
    Object.assign(out.query, sub(s.query, 'ddlTargetTable', tableRef), sub(s.query, 'ddlTargetDataset', (d) => only(d, ['projectId', 'datasetId'])),
      sub(s.query, 'ddlTargetRoutine', (r) => only(r, ['projectId', 'datasetId', 'routineId'])));
  }
  for (const [k, keys] of Object.entries(NON_QUERY_STATS_KEYS)) if (s?.[k]) out[k] = only(s[k], keys);
  return out;
}

/** `status`: state, and the error result and errors of a failed job (messages redacted). */
function jobStatus(st: Obj | undefined): Obj {
  const out: Obj = { state: String(st?.state ?? 'DONE') };
  if (st?.errorResult) out.errorResult = errorProto(st.errorResult);
  if (Array.isArray(st?.errors)) out.errors = st.errors.map(errorProto);
  return out;
}

/** `configuration`: the job type and dry-run flag, the caller's labels, the caller's query (text and options). */
function jobConfiguration(c: Obj | undefined, v: JobView): Obj {
  const out: Obj = { ...only(c, ['jobType', 'dryRun', 'jobTimeoutMs']) };
  if (v.labels && Object.keys(v.labels).length) out.labels = v.labels;
  if (c?.query || v.query !== undefined) {
    out.query = { ...only(c?.query, QUERY_CONFIG_KEYS), query: v.query ?? '', useLegacySql: false };
    // The caller's own destination; BigQuery's anonymous result table (a dataset named `_…`) stays inside,
    // shown as the name the caller reads it by (`v.resultsTable`) when there is one.
    if (out.query.destinationTable) {
      if (!String(out.query.destinationTable.datasetId ?? '_').startsWith('_')) out.query.destinationTable = tableRef(out.query.destinationTable);
      else if (v.resultsTable) out.query.destinationTable = { ...v.resultsTable };
      else delete out.query.destinationTable;
    }
  }
  for (const [k, keys] of Object.entries(NON_QUERY_KEYS)) if (c?.[k]) out[k] = only(c[k], keys);
  return out;
}

/**
 * A job resource (`bigquery#job`) for the caller from an upstream job (or a gateway-made one):
 * kind, id, jobReference, status, statistics, configuration, user_email — the reference, SQL,
 * labels and owner from `v`.
 */
export function jobResource(up: Obj | undefined, v: JobView): Obj {
  const location = v.location ?? up?.jobReference?.location;
  const ref = { projectId: v.projectId, ...(v.jobId !== undefined ? { jobId: v.jobId } : {}), ...(location ? { location } : {}) };
  return {
    kind: 'bigquery#job',
    ...(v.jobId !== undefined ? { id: `${v.projectId}:${location ?? 'US'}.${v.jobId}` } : {}),
    jobReference: ref,
    status: jobStatus(up?.status),
    statistics: jobStatistics(up?.statistics),
    configuration: jobConfiguration(up?.configuration, v),
    ...(v.owner !== undefined ? { user_email: v.owner } : {}),
  };
}

/** A `jobs.list` entry: the job resource plus `state` (and `errorResult`) at the top, as `bq ls -j` reads them. */
export function jobListEntry(up: Obj | undefined, v: JobView): Obj {
  const job = jobResource(up, v);
  return { ...job, state: job.status.state, ...(job.status.errorResult ? { errorResult: job.status.errorResult } : {}) };
}

/**
 * A jobs.query / getQueryResults answer: kind, jobReference (`ref`, the caller's), jobComplete
 * (always a boolean), and for a complete job schema, rows, totalRows, pageToken, bytes, cache hit,
 * DML counts and errors.
 */
export function queryResponse(up: Obj, kind: 'bigquery#queryResponse' | 'bigquery#getQueryResultsResponse', ref: { projectId: string; jobId?: string; location?: string }): Obj {
  const out: Obj = { kind, jobReference: ref, jobComplete: up?.jobComplete === true };
  if (!out.jobComplete) return out;
  Object.assign(out, only(up, ['totalRows', 'pageToken', 'totalBytesProcessed', 'totalBytesBilled', 'cacheHit', 'numDmlAffectedRows']));
  if (up.schema) out.schema = schema(up.schema);
  if (Array.isArray(up.rows)) out.rows = up.rows;
  if (up.dmlStats) out.dmlStats = only(up.dmlStats, ['insertedRowCount', 'deletedRowCount', 'updatedRowCount']);
  if (Array.isArray(up.errors)) out.errors = up.errors.map(errorProto);
  return out;
}

/** A jobs.query dry-run answer: no job id; bytes, cache hit and the result schema. */
export function dryRunResponse(up: Obj, ref: { projectId: string; location?: string }): Obj {
  return {
    kind: 'bigquery#queryResponse', jobReference: ref, jobComplete: true,
    ...only(up, ['totalBytesProcessed', 'cacheHit']), ...(up?.schema ? { schema: schema(up.schema) } : {}),
  };
}

/** A tabledata.list page: kind, totalRows, rows, pageToken. */
export const tableDataList = (up: Obj) => ({ kind: 'bigquery#tableDataList', ...only(up, ['totalRows', 'pageToken']), rows: Array.isArray(up?.rows) ? up.rows : [] });

const TABLE_KEYS = ['id', 'type', 'numRows', 'numBytes', 'numLongTermBytes', 'numPhysicalBytes', 'numTotalLogicalBytes', 'creationTime', 'lastModifiedTime', 'expirationTime', 'location', 'description', 'friendlyName', 'labels', 'requirePartitionFilter', 'defaultCollation'] as const;

/** Partitioning and clustering of a table (shown by `bq show` / `bq ls`). */
const layout = (t: Obj) => ({
  ...sub(t, 'timePartitioning', (p) => only(p, ['type', 'field', 'expirationMs', 'requirePartitionFilter'])),
  ...sub(t, 'rangePartitioning', (p) => ({ ...only(p, ['field']), ...sub(p, 'range', (r) => only(r, ['start', 'end', 'interval'])) })),
  ...sub(t, 'clustering', (c) => only(c, ['fields'])),
});

/** A tables.get answer: the table's reference, metadata, layout, view definition and `fields` (already filtered by policy). */
export function tableResource(up: Obj, fields: Obj[] | undefined): Obj {
  return {
    kind: 'bigquery#table', ...only(up, TABLE_KEYS),
    tableReference: only(up?.tableReference, ['projectId', 'datasetId', 'tableId']),
    ...(fields ? { schema: { fields: fields.map((f) => schemaField(f, true)) } } : {}),
    ...layout(up ?? {}),
    ...sub(up, 'view', (v) => only(v, ['query', 'useLegacySql'])),
    ...sub(up, 'materializedView', (v) => only(v, ['query', 'enableRefresh', 'refreshIntervalMs', 'lastRefreshTime'])),
  };
}

/** A tables.list answer for `tables` (already filtered by policy). */
export function tableList(up: Obj, tables: Obj[]): Obj {
  return {
    kind: 'bigquery#tableList', ...only(up, ['nextPageToken']), totalItems: tables.length,
    tables: tables.map((t) => ({
      kind: 'bigquery#table', ...only(t, ['id', 'type', 'creationTime', 'expirationTime', 'friendlyName', 'labels']),
      tableReference: only(t.tableReference, ['projectId', 'datasetId', 'tableId']), ...layout(t), ...sub(t, 'view', (v) => only(v, ['useLegacySql'])),
    })),
  };
}

const DATASET_KEYS = ['id', 'location', 'creationTime', 'lastModifiedTime', 'description', 'friendlyName', 'labels', 'type', 'defaultTableExpirationMs', 'defaultPartitionExpirationMs', 'defaultCollation', 'isCaseInsensitive', 'maxTimeTravelHours', 'storageBillingModel'] as const;

/** A datasets.get answer (no access list). */
export const datasetResource = (up: Obj) => ({ kind: 'bigquery#dataset', ...only(up, DATASET_KEYS), datasetReference: only(up?.datasetReference, ['projectId', 'datasetId']) });

/** A datasets.list answer for `datasets` (already filtered by policy). */
export function datasetList(up: Obj, datasets: Obj[]): Obj {
  return {
    kind: 'bigquery#datasetList', ...only(up, ['nextPageToken']),
    datasets: datasets.map((d) => ({ kind: 'bigquery#dataset', ...only(d, ['id', 'location', 'friendlyName', 'labels']), datasetReference: only(d.datasetReference, ['projectId', 'datasetId']) })),
  };
}

/** A projects.list answer for `projects` (already filtered by policy). */
export function projectList(up: Obj, projects: Obj[]): Obj {
  return {
    kind: 'bigquery#projectList', ...only(up, ['nextPageToken']), totalItems: projects.length,
    projects: projects.map((p) => ({ kind: 'bigquery#project', ...only(p, ['id', 'numericId', 'friendlyName']), projectReference: only(p.projectReference, ['projectId']) })),
  };
}
