/**
 * INFORMATION_SCHEMA views served from the emulator's catalog (issue 20), with BigQuery's column
 * names and types, dataset-qualified (`[project.]dataset.INFORMATION_SCHEMA.VIEW`) or
 * region-qualified (`` [project.]`region-us`.INFORMATION_SCHEMA.VIEW ``: every dataset of the
 * project). Each view's columns follow its BigQuery page (URL beside each). A reference in the
 * statement is replaced, before translation, by a placeholder that becomes a DuckDB subquery of
 * literal rows (`infoSchemaSubquery`): it scans no table, so the statement reads nothing else.
 *
 * JOBS (also JOBS_BY_PROJECT) and JOBS_BY_USER, region-qualified only, are the query, copy, extract
 * and load jobs the emulator's REST server holds (`InfoSource.jobs`); a job's user is its
 * `bqgate_principal` label (the gateway's principal) or `emulator@localhost`, and JOBS_BY_USER keeps
 * the jobs of the running job's user. Views not listed in VIEWS below are refused with notFound
 * naming the served views.
 * Errors: notFound (dataset or view), invalidQuery (a qualifier the view does not take).
 */
import { BigQueryError } from '../bigquery/errors.js';
import type { BqField } from './encode.js';
import type { DatasetMeta, TableMeta } from './catalog.js';
import { scan } from './translate.js';

/** The placeholder a reference becomes: `bqgate_infoschema__<n>` (polyglot passes it through as a table name). */
export const INFO_PREFIX = 'bqgate_infoschema__';

/** A reference: project, scope (dataset id or `region-…`), view name (upper case). */
export interface InfoRef { project: string; scope: string; region: boolean; view: string }

/** What a view's rows are built from. */
export interface InfoSource {
  tables: TableMeta[];
  datasets: DatasetMeta[];
  routines: Array<Record<string, any>>;
  location: string;
  /** The emulator's jobs (server.ts), for JOBS / JOBS_BY_USER; absent: none. */
  jobs?: InfoJob[];
  /** The user the statement runs as (JOBS_BY_USER). */
  user?: string;
}

/** One job as JOBS shows it (https://cloud.google.com/bigquery/docs/information-schema-jobs#schema). */
export interface InfoJob {
  projectId: string; jobId: string; userEmail: string; jobType: string; statementType: string | null; query: string | null;
  state: string; creationTime: number; startTime: number | null; endTime: number | null;
  totalBytesProcessed: number | null; totalBytesBilled: number | null; parentJobId: string | null;
  error: { reason: string; location: string | null; message: string } | null; labels: Record<string, string>;
}

type Col = [name: string, duckType: 'VARCHAR' | 'BIGINT' | 'TIMESTAMPTZ' | 'VARCHAR[]' | 'BOOLEAN' | typeof ERROR_TYPE | typeof LABELS_TYPE];
type Row = Array<string | number | boolean | null | string[] | Record<string, string | null> | Array<[string, string]>>;

/** JOBS.error_result: STRUCT<reason, location, debug_info, message>. */
const ERROR_TYPE = 'STRUCT(reason VARCHAR, location VARCHAR, debug_info VARCHAR, message VARCHAR)';
/** JOBS.labels: ARRAY<STRUCT<key, value>>. */
const LABELS_TYPE = 'STRUCT(key VARCHAR, value VARCHAR)[]';

const S = (n: string): Col => [n, 'VARCHAR'];
const I = (n: string): Col => [n, 'BIGINT'];
const T = (n: string): Col => [n, 'TIMESTAMPTZ'];

/** BigQuery's GoogleSQL type name of a field (INT64, ARRAY<STRING>, STRUCT<a INT64, …>). */
export function dataType(f: BqField): string {
  const legacy: Record<string, string> = { INTEGER: 'INT64', FLOAT: 'FLOAT64', BOOLEAN: 'BOOL', RECORD: 'STRUCT' };
  const t = legacy[f.type] ?? f.type;
  const base = t === 'STRUCT' ? `STRUCT<${(f.fields ?? []).map((c) => `${c.name} ${dataType(c)}`).join(', ')}>` : t;
  return f.mode === 'REPEATED' ? `ARRAY<${base}>` : base;
}

const tableType = (t: TableMeta) => (t.viewQuery !== undefined ? 'VIEW' : 'BASE TABLE');
const tags = (f: BqField) => ((f as { policyTags?: { names?: string[] } }).policyTags?.names ?? []);
const q = (s: string) => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

/** Every field path of a column: the column, then its STRUCT subfields (`address.street`). */
function fieldPaths(f: BqField, prefix = ''): Array<[string, BqField]> {
  const path = prefix + f.name;
  return [[path, f], ...(f.type === 'RECORD' || f.type === 'STRUCT' ? (f.fields ?? []).flatMap((c) => fieldPaths(c, `${path}.`)) : [])];
}

const tableKey = (t: TableMeta): Row => [t.projectId, t.datasetId, t.tableId];

/** The served views: their columns and rows. */
const VIEWS: Record<string, { doc: string; region?: 'only' | 'never'; cols: Col[]; rows(src: InfoSource): Row[] }> = {
  SCHEMATA: {
    doc: 'https://cloud.google.com/bigquery/docs/information-schema-datasets-schemata', region: 'only',
    cols: [S('catalog_name'), S('schema_name'), S('schema_owner'), T('creation_time'), T('last_modified_time'), S('location'), S('ddl'), S('default_collation_name')],
    rows: (s) => s.datasets.map((d) => [d.projectId, d.datasetId, null, d.creationTime, d.lastModifiedTime, s.location, `CREATE SCHEMA \`${d.projectId}.${d.datasetId}\``, null]),
  },
  TABLES: {
    doc: 'https://cloud.google.com/bigquery/docs/information-schema-tables',
    cols: [S('table_catalog'), S('table_schema'), S('table_name'), S('table_type'), S('is_insertable_into'), S('is_typed'), S('is_change_history_enabled'), T('creation_time'),
      S('base_table_catalog'), S('base_table_schema'), S('base_table_name'), T('snapshot_time_ms'), S('ddl'), S('default_collation_name'), T('upsert_stream_apply_watermark')],
    rows: (s) => s.tables.map((t) => [...tableKey(t), tableType(t), t.viewQuery !== undefined ? 'NO' : 'YES', 'NO', 'NO', t.creationTime, null, null, null, null, ddl(t), null, null]),
  },
  COLUMNS: {
    doc: 'https://cloud.google.com/bigquery/docs/information-schema-columns',
    cols: [S('table_catalog'), S('table_schema'), S('table_name'), S('column_name'), I('ordinal_position'), S('is_nullable'), S('data_type'), S('is_generated'), S('generation_expression'),
      S('is_stored'), S('is_hidden'), S('is_updatable'), S('is_system_defined'), S('is_partitioning_column'), I('clustering_ordinal_position'), S('collation_name'), S('column_default'), S('rounding_mode'), ['policy_tags', 'VARCHAR[]']],
    rows: (s) => s.tables.flatMap((t) => t.schema.map((f, i) => [...tableKey(t), f.name, i + 1, f.mode === 'REQUIRED' ? 'NO' : 'YES', dataType(f), 'NEVER', null, null, 'NO', null, 'NO', 'NO', null, 'NULL', 'NULL', null, tags(f)])),
  },
  COLUMN_FIELD_PATHS: {
    doc: 'https://cloud.google.com/bigquery/docs/information-schema-column-field-paths',
    cols: [S('table_catalog'), S('table_schema'), S('table_name'), S('column_name'), S('field_path'), S('data_type'), S('description'), S('collation_name'), S('rounding_mode'), ['policy_tags', 'VARCHAR[]']],
    rows: (s) => s.tables.flatMap((t) => t.schema.flatMap((f) => fieldPaths(f).map(([path, sub]) => [...tableKey(t), f.name, path, dataType(sub), sub.description ?? null, 'NULL', null, tags(sub)]))),
  },
  TABLE_OPTIONS: {
    doc: 'https://cloud.google.com/bigquery/docs/information-schema-table-options',
    cols: [S('table_catalog'), S('table_schema'), S('table_name'), S('option_name'), S('option_type'), S('option_value')],
    rows: (s) => s.tables.flatMap((t) => tableOptions(t).map(([n, ty, v]) => [...tableKey(t), n, ty, v])),
  },
  VIEWS: {
    doc: 'https://cloud.google.com/bigquery/docs/information-schema-views',
    cols: [S('table_catalog'), S('table_schema'), S('table_name'), S('view_definition'), S('check_option'), S('use_standard_sql')],
    rows: (s) => s.tables.filter((t) => t.viewQuery !== undefined).map((t) => [...tableKey(t), t.viewQuery!, null, 'YES']),
  },
  PARTITIONS: {
    doc: 'https://cloud.google.com/bigquery/docs/information-schema-partitions', region: 'never',
    cols: [S('table_catalog'), S('table_schema'), S('table_name'), S('partition_id'), I('total_rows'), I('total_logical_bytes'), I('total_billable_bytes'), T('last_modified_time'), S('storage_tier')],
    // The emulator does not partition: one row per table, partition_id NULL, as BigQuery shows an unpartitioned table. Byte sizes are not kept: NULL.
    rows: (s) => s.tables.filter((t) => t.viewQuery === undefined).map((t) => [...tableKey(t), null, t.numRows, null, null, t.lastModifiedTime ?? t.creationTime, 'ACTIVE']),
  },
  ROUTINES: {
    doc: 'https://cloud.google.com/bigquery/docs/information-schema-routines',
    cols: [S('specific_catalog'), S('specific_schema'), S('specific_name'), S('routine_catalog'), S('routine_schema'), S('routine_name'), S('routine_type'), S('data_type'), S('routine_body'),
      S('routine_definition'), S('external_language'), S('is_deterministic'), S('security_type'), T('created'), T('last_altered'), S('ddl'), S('connection')],
    rows: (s) => s.routines.map((r) => {
      const { projectId: p, datasetId: d, routineId: n } = r.routineReference;
      const sql = (r.language ?? 'SQL') === 'SQL';
      return [p, d, n, p, d, n, ROUTINE_TYPES[r.routineType] ?? r.routineType, r.returnType ? typeText(r.returnType) : null, sql ? 'SQL' : 'EXTERNAL', r.definitionBody ?? null,
        sql ? null : r.language, r.determinismLevel === 'DETERMINISTIC' ? 'YES' : r.determinismLevel === 'NOT_DETERMINISTIC' ? 'NO' : null, r.securityMode ?? null,
        Number(r.creationTime), Number(r.lastModifiedTime), null, r.remoteFunctionOptions?.connection ?? null];
    }),
  },
  PARAMETERS: {
    doc: 'https://cloud.google.com/bigquery/docs/information-schema-parameters',
    cols: [S('specific_catalog'), S('specific_schema'), S('specific_name'), I('ordinal_position'), S('parameter_mode'), S('is_result'), S('parameter_name'), S('data_type'), S('parameter_default'), S('is_aggregate')],
    rows: (s) => s.routines.flatMap((r) => {
      const { projectId: p, datasetId: d, routineId: n } = r.routineReference;
      const args = (r.arguments ?? []).map((a: any, i: number) => [p, d, n, i + 1, a.mode ?? 'IN', 'NO', a.name ?? null, a.argumentKind === 'ANY_TYPE' ? 'ANY TYPE' : a.dataType ? typeText(a.dataType) : null, null, a.isAggregate ? 'YES' : 'NO']);
      return r.returnType ? [[p, d, n, 0, 'OUT', 'YES', null, typeText(r.returnType), null, 'NO'], ...args] : args;
    }),
  },
};

/** JOBS columns (https://cloud.google.com/bigquery/docs/information-schema-jobs#schema): those the emulator knows; the rest are NULL. */
const JOB_COLS: Col[] = [T('creation_time'), S('project_id'), I('project_number'), S('user_email'), S('principal_subject'), S('job_id'), S('job_type'), S('statement_type'), S('priority'),
  T('start_time'), T('end_time'), S('query'), S('state'), S('reservation_id'), I('total_bytes_processed'), I('total_slot_ms'), ['error_result', ERROR_TYPE], ['cache_hit', 'BOOLEAN'],
  ['labels', LABELS_TYPE], I('total_bytes_billed'), S('transaction_id'), S('parent_job_id')];

function jobRows(s: InfoSource, byUser: boolean): Row[] {
  return (s.jobs ?? []).filter((j) => !byUser || j.userEmail === s.user).map((j) => [
    j.creationTime, j.projectId, null, j.userEmail, `user:${j.userEmail}`, j.jobId, j.jobType, j.statementType, 'INTERACTIVE', j.startTime, j.endTime, j.query, j.state, null,
    j.totalBytesProcessed, null, j.error && { reason: j.error.reason, location: j.error.location, debug_info: null, message: j.error.message }, j.jobType === 'QUERY' ? false : null,
    Object.entries(j.labels), j.totalBytesBilled, null, j.parentJobId,
  ]);
}

for (const [name, byUser] of [['JOBS', false], ['JOBS_BY_PROJECT', false], ['JOBS_BY_USER', true]] as const) {
  VIEWS[name] = { doc: 'https://cloud.google.com/bigquery/docs/information-schema-jobs', region: 'only', cols: JOB_COLS, rows: (s) => jobRows(s, byUser) };
}

const ROUTINE_TYPES: Record<string, string> = { SCALAR_FUNCTION: 'FUNCTION', TABLE_VALUED_FUNCTION: 'TABLE FUNCTION', PROCEDURE: 'PROCEDURE', AGGREGATE_FUNCTION: 'AGGREGATE FUNCTION' };

/** A routines resource StandardSqlDataType as GoogleSQL text (INT64, ARRAY<STRING>, STRUCT<a INT64>). */
function typeText(t: any): string {
  if (t?.typeKind === 'ARRAY') return `ARRAY<${typeText(t.arrayElementType)}>`;
  if (t?.typeKind === 'STRUCT') return `STRUCT<${(t.structType?.fields ?? []).map((f: any) => `${f.name} ${typeText(f.type)}`).join(', ')}>`;
  return String(t?.typeKind ?? 'ANY TYPE');
}

/** A table's options as TABLE_OPTIONS shows them: [name, type, value as GoogleSQL literal text]. */
function tableOptions(t: TableMeta): Array<[string, string, string]> {
  const out: Array<[string, string, string]> = [];
  if (t.description !== undefined) out.push(['description', 'STRING', q(t.description)]);
  if (t.friendlyName !== undefined) out.push(['friendly_name', 'STRING', q(t.friendlyName)]);
  if (t.expirationTime !== undefined) out.push(['expiration_timestamp', 'TIMESTAMP', `TIMESTAMP "${new Date(t.expirationTime).toISOString().replace('T', ' ').replace('Z', '+00')}"`]);
  if (t.labels && Object.keys(t.labels).length) out.push(['labels', 'ARRAY<STRUCT<STRING, STRING>>', `[${Object.entries(t.labels).map(([k, v]) => `STRUCT(${q(k)}, ${q(v)})`).join(', ')}]`]);
  return out;
}

/** A CREATE statement that makes the table or view as it is (its columns; a view's query). */
function ddl(t: TableMeta): string {
  const name = `\`${t.projectId}.${t.datasetId}.${t.tableId}\``;
  if (t.viewQuery !== undefined) return `CREATE VIEW ${name}\nAS ${t.viewQuery};`;
  return `CREATE TABLE ${name}\n(\n${t.schema.map((f) => `  ${f.name} ${dataType(f)}${f.mode === 'REQUIRED' ? ' NOT NULL' : ''}`).join(',\n')}\n);`;
}

const SEG = '(?:`[^`]+`|[A-Za-z_][A-Za-z0-9_-]*)';
const PATH = new RegExp(`${SEG}(?:\\s*\\.\\s*${SEG})*`, 'g');

/**
 * Replaces every INFORMATION_SCHEMA path in `sql` (outside strings and comments) by a placeholder
 * (`INFO_PREFIX` + index into the returned refs). `defaultDataset` scopes an unqualified one.
 * Throws invalidQuery for a path with the wrong shape.
 */
export function extractInfoSchema(sql: string, projectId: string, defaultDataset?: string): { sql: string; refs: InfoRef[] } {
  if (!/INFORMATION_SCHEMA/i.test(sql)) return { sql, refs: [] };
  const skip: Array<[number, number]> = [];
  scan(sql, (kind, s, e) => { if (kind === 'string' || kind === 'comment') skip.push([s, e]); });
  const refs: InfoRef[] = [];
  const edits: Array<[number, number, string]> = [];
  for (const m of sql.matchAll(PATH)) {
    const at = m.index!;
    if (skip.some(([s, e]) => at >= s && at < e)) continue;
    const parts = [...m[0].matchAll(new RegExp(SEG, 'g'))].flatMap(([p]) => (p.startsWith('`') ? p.slice(1, -1).split('.') : [p]));
    const is = parts.findIndex((p) => p.toUpperCase() === 'INFORMATION_SCHEMA');
    if (is < 0) continue;
    if (is !== parts.length - 2 || is > 2) throw new BigQueryError('invalidQuery', `Invalid INFORMATION_SCHEMA name ${m[0]}: expected [project.]dataset-or-region.INFORMATION_SCHEMA.VIEW.`, { location: 'query' });
    const scope = is >= 1 ? parts[is - 1] : defaultDataset;
    if (!scope) throw new BigQueryError('invalidQuery', `${m[0]} needs a dataset or region qualifier (e.g. \`region-us\`.INFORMATION_SCHEMA.TABLES).`, { location: 'query' });
    refs.push({ project: is === 2 ? parts[0] : projectId, scope, region: /^region-/i.test(scope), view: parts[is + 1].toUpperCase() });
    edits.push([at, at + m[0].length, INFO_PREFIX + (refs.length - 1)]);
  }
  let out = sql;
  for (const [s, e, text] of edits.reverse()) out = out.slice(0, s) + text + out.slice(e);
  return { sql: out, refs };
}

const lit = (v: Row[number], type: Col[1]): string => {
  if (v === null) return `CAST(NULL AS ${type})`;
  if (type === LABELS_TYPE) return `CAST([${(v as Array<[string, string]>).map(([k, x]) => `{'key': ${lit(k, 'VARCHAR')}, 'value': ${lit(x, 'VARCHAR')}}`).join(', ')}] AS ${LABELS_TYPE})`;
  if (type === ERROR_TYPE) return `CAST({${Object.entries(v as Record<string, string | null>).map(([k, x]) => `'${k}': ${lit(x, 'VARCHAR')}`).join(', ')}} AS ${ERROR_TYPE})`;
  if (type === 'BOOLEAN') return v ? 'TRUE' : 'FALSE';
  if (Array.isArray(v)) return `CAST([${v.map((x) => lit(x, 'VARCHAR')).join(', ')}] AS VARCHAR[])`;
  if (type === 'TIMESTAMPTZ') return `to_timestamp(${Math.round(Number(v))} / 1000.0)`;
  if (type === 'BIGINT') return `CAST(${Math.trunc(Number(v))} AS BIGINT)`;
  return `'${String(v).replace(/'/g, "''")}'`;
};

/**
 * The DuckDB subquery of one view's rows for `ref` (the source already narrowed to its scope by
 * `sourceFor`): `(SELECT … UNION ALL …)`, typed as BigQuery types the columns; no rows: `LIMIT 0`.
 * Throws notFound for a view the emulator does not serve; invalidQuery for a qualifier it does not take.
 */
export function infoSchemaSubquery(ref: InfoRef, src: InfoSource): string {
  const v = VIEWS[ref.view];
  if (!v) throw new BigQueryError('notFound', `Not found: ${ref.project}.${ref.scope}.INFORMATION_SCHEMA.${ref.view}; the emulator serves INFORMATION_SCHEMA.${Object.keys(VIEWS).join(', ')}.`);
  if (v.region === 'only' && !ref.region) throw new BigQueryError('invalidQuery', `INFORMATION_SCHEMA.${ref.view} takes a region qualifier (\`region-us\`.INFORMATION_SCHEMA.${ref.view}), not a dataset (${v.doc}).`, { location: 'query' });
  if (v.region === 'never' && ref.region) throw new BigQueryError('invalidQuery', `INFORMATION_SCHEMA.${ref.view} takes a dataset qualifier (dataset.INFORMATION_SCHEMA.${ref.view}), not a region (${v.doc}).`, { location: 'query' });
  const rows = v.rows(src);
  const select = (r: Row | null) => `SELECT ${v.cols.map(([n, t], i) => `${lit(r ? r[i] : null, t)} AS "${n}"`).join(', ')}`;
  return rows.length ? `(${rows.map(select).join(' UNION ALL ')})` : `(${select(null)} LIMIT 0)`;
}

/** The source narrowed to a reference's scope: one dataset (notFound if missing) or, for a region, the project's datasets. */
export function sourceFor(ref: InfoRef, all: InfoSource): InfoSource {
  const inScope = (p: string, d: string) => p === ref.project && (ref.region || d === ref.scope);
  if (!ref.region && !all.datasets.some((d) => inScope(d.projectId, d.datasetId))) throw new BigQueryError('notFound', `Not found: Dataset ${ref.project}:${ref.scope} was not found in location ${all.location}`);
  if (ref.region && ref.scope.toLowerCase() !== `region-${all.location.toLowerCase()}`) throw new BigQueryError('notFound', `Not found: the emulator's datasets are in location ${all.location}; ${ref.scope} has none.`);
  return {
    location: all.location,
    datasets: all.datasets.filter((d) => inScope(d.projectId, d.datasetId)),
    tables: all.tables.filter((t) => inScope(t.projectId, t.datasetId)),
    routines: all.routines.filter((r) => inScope(r.routineReference.projectId, r.routineReference.datasetId)),
    jobs: ref.region ? all.jobs?.filter((j) => j.projectId === ref.project) : [], user: all.user,
  };
}
