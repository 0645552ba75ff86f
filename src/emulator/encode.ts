/**
 * DuckDB ⇄ BigQuery types and the BigQuery f/v row encoding (CONTRACT.md §7).
 *
 * - `bqToDuck(field)`: a BigQuery schema field → DuckDB column type text.
 * - `duckToField(name, type)`: a DuckDB result column → BigQuery schema field (legacy type names).
 * - `encodeCell(value, field, int64Ts)`: one DuckDB value → one `v` cell: scalars as strings,
 *   REPEATED as `[{v}]` (never null), RECORD as `{f:[…]}`, TIMESTAMP as int64 µs text when
 *   `int64Ts` (formatOptions.useInt64Timestamp) else float seconds text (`1.6725744E9`).
 */
import {
  DuckDBTypeId, DuckDBListValue, DuckDBStructValue, DuckDBDateValue, DuckDBTimestampValue,
  DuckDBTimestampTZValue, DuckDBDecimalValue, DuckDBBlobValue, DuckDBTimeValue, DuckDBArrayValue,
  DuckDBIntervalValue, DuckDBUUIDValue,
  type DuckDBType, type DuckDBValue, DuckDBStructType, DuckDBListType, DuckDBArrayType, type DuckDBDecimalType,
} from '@duckdb/node-api';
import { decimalText, decimalTypeName } from './decimal-values.js';
import { rangeDuckType, rangeField, rangeText } from './range-values.js';

/** A BigQuery `schema.fields[]` entry. */
export interface BqField {
  name: string;
  type: string;
  mode?: 'NULLABLE' | 'REQUIRED' | 'REPEATED';
  fields?: BqField[];
  /** A RANGE column's element type (`DATE`, `DATETIME` or `TIMESTAMP`): https://cloud.google.com/bigquery/docs/reference/rest/v2/tables#TableFieldSchema.FIELDS.range_element_type */
  rangeElementType?: { type: string };
  description?: string;
  policyTags?: { names: string[] };
}

const SCALAR_TO_DUCK: Record<string, string> = {
  INTEGER: 'BIGINT', INT64: 'BIGINT', FLOAT: 'DOUBLE', FLOAT64: 'DOUBLE', NUMERIC: 'DECIMAL(38,9)',
  BIGNUMERIC: 'DECIMAL(38,19)', BOOLEAN: 'BOOLEAN', BOOL: 'BOOLEAN', STRING: 'VARCHAR', BYTES: 'BLOB',
  DATE: 'DATE', DATETIME: 'TIMESTAMP', TIME: 'TIME', TIMESTAMP: 'TIMESTAMP', JSON: 'JSON',
  GEOGRAPHY: 'VARCHAR', INTERVAL: 'INTERVAL',
};

/** DuckDB column type for a BigQuery field; throws on a type the emulator cannot store. */
export function bqToDuck(f: BqField): string {
  let t: string;
  if (f.type === 'RECORD' || f.type === 'STRUCT') {
    t = `STRUCT(${(f.fields ?? []).map((c) => `"${c.name}" ${bqToDuck(c)}`).join(', ')})`;
  } else if (f.type === 'RANGE') {
    t = rangeDuckType(f.rangeElementType?.type, SCALAR_TO_DUCK[f.rangeElementType?.type ?? ''] ?? 'DATE');
  } else {
    const s = SCALAR_TO_DUCK[f.type];
    if (!s) throw new Error(`unsupported BigQuery type ${f.type}`);
    t = s;
  }
  return f.mode === 'REPEATED' ? `${t}[]` : t;
}

/** BigQuery schema field for a DuckDB result column. DuckDB TIMESTAMP is reported as TIMESTAMP (UTC). */
export function duckToField(name: string, type: DuckDBType): BqField {
  if (type.typeId === DuckDBTypeId.LIST || type.typeId === DuckDBTypeId.ARRAY) {
    const inner = duckToField(name, (type as DuckDBListType | DuckDBArrayType).valueType);
    return { ...inner, mode: 'REPEATED' };
  }
  if (type.typeId === DuckDBTypeId.STRUCT) {
    const st = type as DuckDBStructType;
    const range = rangeField(name, st); // a RANGE held as a struct (translate-range.ts)
    if (range) return range;
    return { name, type: 'RECORD', mode: 'NULLABLE', fields: st.entryNames.map((n, i) => duckToField(n, st.entryTypes[i])) };
  }
  if (type.typeId === DuckDBTypeId.VARCHAR && type.alias === 'JSON') return { name, type: 'JSON', mode: 'NULLABLE' };
  if (type.typeId === DuckDBTypeId.DECIMAL) return { name, type: decimalTypeName((type as DuckDBDecimalType).scale), mode: 'NULLABLE' }; // decimal-values.ts
  return { name, type: scalarName(type.typeId), mode: 'NULLABLE' };
}

function scalarName(id: DuckDBTypeId): string {
  switch (id) {
    case DuckDBTypeId.BOOLEAN: return 'BOOLEAN';
    case DuckDBTypeId.TINYINT: case DuckDBTypeId.SMALLINT: case DuckDBTypeId.INTEGER: case DuckDBTypeId.BIGINT:
    case DuckDBTypeId.UTINYINT: case DuckDBTypeId.USMALLINT: case DuckDBTypeId.UINTEGER: case DuckDBTypeId.UBIGINT:
    case DuckDBTypeId.HUGEINT: case DuckDBTypeId.UHUGEINT: return 'INTEGER';
    case DuckDBTypeId.FLOAT: case DuckDBTypeId.DOUBLE: return 'FLOAT';
    case DuckDBTypeId.DECIMAL: return 'NUMERIC';
    case DuckDBTypeId.DATE: return 'DATE';
    case DuckDBTypeId.TIME: case DuckDBTypeId.TIME_TZ: return 'TIME';
    case DuckDBTypeId.TIMESTAMP: case DuckDBTypeId.TIMESTAMP_TZ: case DuckDBTypeId.TIMESTAMP_S:
    case DuckDBTypeId.TIMESTAMP_MS: case DuckDBTypeId.TIMESTAMP_NS: return 'TIMESTAMP';
    case DuckDBTypeId.BLOB: return 'BYTES';
    case DuckDBTypeId.INTERVAL: return 'INTERVAL';
    default: return 'STRING';
  }
}

/** float seconds in Java `Double.toString` style, as `bq` expects (`1.672574400123456E9`). */
function floatSeconds(micros: bigint): string {
  const neg = micros < 0n;
  const abs = neg ? -micros : micros;
  const secs = Number(abs / 1_000_000n) + Number(abs % 1_000_000n) / 1e6;
  if (secs === 0) return '0.0';
  const exp = Math.floor(Math.log10(secs));
  const mant = (secs / 10 ** exp).toPrecision(16).replace(/0+$/, '').replace(/\.$/, '.0');
  return `${neg ? '-' : ''}${mant}E${exp}`;
}

/**
 * An INTERVAL (months, days, microseconds: DuckDB's and BigQuery's parts) in BigQuery's canonical
 * text `[-]Y-M [-]D [-]H:M:S[.F]`, as the REST API lists it and CAST(… AS STRING) prints it
 * (https://cloud.google.com/bigquery/docs/reference/standard-sql/data-types#interval_type):
 * `1-2 3 4:5:6.789`, `0-0 0 10:20:30`, `-1-6 0 0:0:0`; the fraction without trailing zeros.
 */
export function intervalText(months: number, days: number, micros: bigint): string {
  const ym = `${months < 0 ? '-' : ''}${Math.trunc(Math.abs(months) / 12)}-${Math.abs(months) % 12}`;
  const neg = micros < 0n;
  const us = neg ? -micros : micros;
  const frac = (us % 1_000_000n).toString().padStart(6, '0').replace(/0+$/, '');
  const secs = us / 1_000_000n;
  const time = `${neg ? '-' : ''}${secs / 3600n}:${(secs / 60n) % 60n}:${secs % 60n}${frac ? `.${frac}` : ''}`;
  return `${ym} ${days} ${time}`;
}

/** Encodes one value as a BigQuery `v` cell for `field`. */
export function encodeCell(value: DuckDBValue, field: BqField, int64Ts: boolean): unknown {
  if (field.mode === 'REPEATED') {
    if (value === null || value === undefined) return [];
    const items = value instanceof DuckDBListValue || value instanceof DuckDBArrayValue ? value.items : [];
    const inner = { ...field, mode: 'NULLABLE' as const };
    return items.map((x) => ({ v: encodeCell(x, inner, int64Ts) }));
  }
  if (value === null || value === undefined) return null;
  if (field.type === 'RANGE') return rangeText(value, field.rangeElementType?.type ?? 'DATE', (b, type) => encodeCell(b, { name: field.name, type }, int64Ts));
  if (field.type === 'RECORD') {
    const entries = value instanceof DuckDBStructValue ? value.entries : {};
    return { f: (field.fields ?? []).map((c) => ({ v: encodeCell(entries[c.name] ?? null, c, int64Ts) })) };
  }
  // A DATETIME column (stored as DuckDB TIMESTAMP) is civil time text, as BigQuery lists it: YYYY-MM-DDThh:mm:ss[.ffffff].
  if (field.type === 'DATETIME' && value instanceof DuckDBTimestampValue) return value.toString().replace(' ', 'T').replace(/\.(\d{1,5})$/, (_m, f: string) => `.${f.padEnd(6, '0')}`);
  if (value instanceof DuckDBTimestampValue || value instanceof DuckDBTimestampTZValue) {
    return int64Ts ? value.micros.toString() : floatSeconds(value.micros);
  }
  if (value instanceof DuckDBDateValue) return value.toString();
  if (value instanceof DuckDBTimeValue) return value.toString().replace(/\.(\d{1,5})$/, (_m, f: string) => `.${f.padEnd(6, '0')}`); // BigQuery: hh:mm:ss[.ffffff]
  if (value instanceof DuckDBDecimalValue) return decimalText(value);
  if (value instanceof DuckDBBlobValue) return Buffer.from(value.bytes).toString('base64');
  if (value instanceof DuckDBIntervalValue) return intervalText(value.months, value.days, value.micros);
  if (value instanceof DuckDBUUIDValue) return value.toString();
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') {
    if (Number.isNaN(value)) return 'NaN';
    if (!Number.isFinite(value)) return value > 0 ? 'Infinity' : '-Infinity';
    return String(value);
  }
  if (typeof value === 'bigint') return value.toString();
  return String(value);
}

/** Encodes a row as `{f:[{v}…]}` in schema order. */
export function encodeRow(row: readonly DuckDBValue[], fields: BqField[], int64Ts: boolean) {
  return { f: fields.map((fld, i) => ({ v: encodeCell(row[i], fld, int64Ts) })) };
}
