/**
 * tabledata.insertAll (streaming inserts) as BigQuery answers it
 * (https://cloud.google.com/bigquery/docs/reference/rest/v2/tabledata/insertAll):
 *
 * - each `rows[i].json` is checked against the table's schema: a field the table lacks is
 *   `invalid` ("no such field: x.") unless `ignoreUnknownValues`; a REQUIRED field missing or null,
 *   or a value that does not read as its column's type (params.ts), is `invalid` with the field as
 *   `location`;
 * - without `skipInvalidRows` one invalid row stops the whole request: nothing is inserted, the
 *   invalid rows carry their errors and every other row `{reason: "stopped"}`; with it the valid
 *   rows are inserted and only the invalid ones reported;
 * - `insertId` deduplicates, best effort as BigQuery does: a row whose insertId the same table saw
 *   in the last minute is accepted and not inserted again.
 *
 * The answer is `{kind: "bigquery#tableDataInsertAllResponse", insertErrors?: [{index, errors}]}`.
 */
import type { DuckDBType, DuckDBValue } from '@duckdb/node-api';
import { BigQueryError } from '../bigquery/errors.js';
import type { BqField } from './encode.js';
import type { Engine } from './engine.js';
import type { TableMeta } from './catalog.js';
import { typedParameter, type ParameterType, type ParameterValue } from './params.js';

const DEDUP_WINDOW_MS = 60_000;
/** Rows per request, as BigQuery's recommended maximum (a larger request is refused). */
export const MAX_INSERT_ROWS = 50_000;

export interface RowError { reason: string; location: string; debugInfo: string; message: string }

const seen = new WeakMap<Engine, Map<string, number>>();

/** A BigQuery field as a query parameter type (REPEATED → ARRAY, RECORD → STRUCT). */
export function fieldType(f: BqField): ParameterType {
  const inner: ParameterType = f.type === 'RECORD' || f.type === 'STRUCT'
    ? { type: 'STRUCT', structTypes: (f.fields ?? []).map((c) => ({ name: c.name, type: fieldType(c) })) }
    : { type: f.type };
  return f.mode === 'REPEATED' ? { type: 'ARRAY', arrayType: inner } : inner;
}

/** A JSON value as a query parameter value for `t`; throws `why` for an unknown nested field. */
function fieldValue(t: ParameterType, v: unknown, path: string, ignoreUnknown: boolean, why: (loc: string, msg: string) => never): ParameterValue {
  if (v === null || v === undefined) return { value: null };
  if (t.type === 'ARRAY') {
    if (!Array.isArray(v)) why(path, `Expected an array for repeated field: ${path}.`);
    return { arrayValues: (v as unknown[]).map((x) => fieldValue(t.arrayType!, x, path, ignoreUnknown, why)) };
  }
  if (t.type === 'STRUCT') {
    if (typeof v !== 'object' || Array.isArray(v)) why(path, `This field: ${path} is a record and needs a JSON object.`);
    const names = new Set((t.structTypes ?? []).map((s) => s.name));
    for (const k of Object.keys(v as object)) if (!names.has(k) && !ignoreUnknown) why(`${path}.${k}`, `no such field: ${path}.${k}.`);
    return { structValues: Object.fromEntries((t.structTypes ?? []).map((s) => [s.name!, fieldValue(s.type, (v as any)[s.name!], `${path}.${s.name}`, ignoreUnknown, why)])) };
  }
  if (Array.isArray(v)) why(path, `Array specified for non-repeated field: ${path}.`);
  if (typeof v === 'object') why(path, `This field: ${path} is not a record.`);
  return { value: v };
}

export type TypedRow = Array<{ value: DuckDBValue; type: DuckDBType }>;

/**
 * One JSON row checked and converted for `schema`: `{values}` (one per field, in order) or
 * `{errors}` (one `invalid` error naming the field) as insertAll reports it. Load jobs use it too.
 */
export function rowValues(schema: BqField[], json: any, ignoreUnknown: boolean): { values: TypedRow } | { errors: RowError[] } {
  try {
    const why = (location: string, message: string): never => { throw Object.assign(new Error(message), { location }); };
    if (!json || typeof json !== 'object' || Array.isArray(json)) why('', 'Each row needs a json object.');
    for (const k of Object.keys(json)) if (!schema.some((f) => f.name === k) && !ignoreUnknown) why(k, `no such field: ${k}.`);
    return {
      values: schema.map((f) => {
        const v = json[f.name];
        if ((v === null || v === undefined) && f.mode === 'REQUIRED') why(f.name, `Missing required field: ${f.name}.`);
        try { return typedParameter({ name: f.name, parameterType: fieldType(f), parameterValue: fieldValue(fieldType(f), v, f.name, ignoreUnknown, why) }); } catch (err) {
          if (err instanceof BigQueryError) why(f.name, `Cannot convert value to ${f.type}: ${err.message.replace(/^Query parameter '[^']*': /, '')}`);
          throw err;
        }
      }),
    };
  } catch (err) {
    const e = err as Error & { location?: string };
    return { errors: [{ reason: 'invalid', location: e.location ?? '', debugInfo: '', message: e.message }] };
  }
}

/** Runs one insertAll request against `t` (a table, not a view). */
export async function insertAll(engine: Engine, t: TableMeta, body: any): Promise<Record<string, unknown>> {
  if (t.viewQuery !== undefined) throw new BigQueryError('invalid', `Cannot insert rows into the view ${t.projectId}:${t.datasetId}.${t.tableId}.`);
  const rows: any[] = Array.isArray(body.rows) ? body.rows : [];
  if (rows.length > MAX_INSERT_ROWS) throw new BigQueryError('invalid', `Too many rows in one insertAll request: ${rows.length} (at most ${MAX_INSERT_ROWS}).`);
  const skipInvalid = body.skipInvalidRows === true;
  const ignoreUnknown = body.ignoreUnknownValues === true;
  const checked = rows.map((r) => rowValues(t.schema, r?.json, ignoreUnknown));
  const bad = checked.map((c, index) => ('errors' in c ? { index, errors: c.errors } : undefined)).filter((x) => x !== undefined);
  if (bad.length && !skipInvalid) {
    return {
      kind: 'bigquery#tableDataInsertAllResponse',
      insertErrors: checked.map((c, index) => ({ index, errors: 'errors' in c ? c.errors : [{ reason: 'stopped', location: '', debugInfo: '', message: '' }] })),
    };
  }
  const recent = seen.get(engine) ?? new Map<string, number>();
  seen.set(engine, recent);
  const now = Date.now();
  for (const [k, at] of recent) if (now - at > DEDUP_WINDOW_MS) recent.delete(k);
  const key = `${t.projectId}.${t.datasetId}.${t.tableId}`;
  const fresh: TypedRow[] = [];
  checked.forEach((c, i) => {
    if (!('values' in c)) return;
    const id = rows[i]?.insertId;
    if (typeof id === 'string' && id) {
      if (recent.has(`${key}/${id}`)) return;
      recent.set(`${key}/${id}`, now);
    }
    fresh.push(c.values);
  });
  await engine.insertTyped(t, fresh);
  return { kind: 'bigquery#tableDataInsertAllResponse', ...(bad.length ? { insertErrors: bad } : {}) };
}
