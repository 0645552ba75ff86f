/**
 * DuckDB values → the plain values the Storage Read API's formats carry, by BigQuery column type
 * (https://cloud.google.com/bigquery/docs/reference/storage#arrow_schema_details,
 * https://cloud.google.com/bigquery/docs/reference/storage#avro_schema_details):
 *
 * | BigQuery | plain value |
 * |---|---|
 * | INT64 | bigint |
 * | FLOAT64 | number |
 * | NUMERIC / BIGNUMERIC | bigint, the value × 10^9 / × 10^38 (the unscaled decimal) |
 * | BOOL | boolean |
 * | STRING, JSON, GEOGRAPHY | string |
 * | BYTES | Uint8Array |
 * | DATE | number, days since 1970-01-01 |
 * | TIMESTAMP, DATETIME | bigint, µs since 1970-01-01 00:00:00 (UTC for TIMESTAMP, civil for DATETIME) |
 * | TIME | bigint, µs since midnight |
 * | REPEATED | array of the element's plain values (never null: an absent array is `[]`) |
 * | RECORD | object by field name |
 *
 * NULL is `null`. Throws `StorageError('UNIMPLEMENTED')` for a type the emulator does not serve
 * (INTERVAL, RANGE): the session is refused rather than sent in a shape BigQuery would not use.
 */
import {
  DuckDBListValue, DuckDBArrayValue, DuckDBStructValue, DuckDBDateValue, DuckDBTimestampValue, DuckDBTimestampTZValue,
  DuckDBDecimalValue, DuckDBBlobValue, DuckDBTimeValue, type DuckDBValue,
} from '@duckdb/node-api';
import type { BqField } from '../encode.js';
import { StorageError } from './errors.js';

/** The plain value of one cell (table above). */
export type Plain = null | bigint | number | boolean | string | Uint8Array | Plain[] | { [name: string]: Plain };

/** Scales of the decimal types as BigQuery serves them: NUMERIC decimal(38,9), BIGNUMERIC decimal(76,38). */
export const DECIMAL_SCALE: Record<string, { precision: number; scale: number; bits: 128 | 256 }> = {
  NUMERIC: { precision: 38, scale: 9, bits: 128 }, BIGNUMERIC: { precision: 76, scale: 38, bits: 256 },
};

const SERVED = new Set(['INTEGER', 'INT64', 'FLOAT', 'FLOAT64', 'NUMERIC', 'BIGNUMERIC', 'BOOLEAN', 'BOOL', 'STRING', 'BYTES', 'DATE', 'DATETIME', 'TIME', 'TIMESTAMP', 'JSON', 'GEOGRAPHY', 'RECORD', 'STRUCT']);

/** BigQuery's standard name of a legacy type name (INTEGER → INT64, RECORD → STRUCT, …). */
export function typeName(t: string): string {
  return ({ INTEGER: 'INT64', FLOAT: 'FLOAT64', BOOLEAN: 'BOOL', RECORD: 'STRUCT' } as Record<string, string>)[t] ?? t;
}

/** Throws UNIMPLEMENTED naming the first column (path) whose type the emulator does not serve. */
export function checkServed(fields: BqField[], path = ''): void {
  for (const f of fields) {
    if (!SERVED.has(f.type)) throw new StorageError('UNIMPLEMENTED', `The emulator's Storage Read API does not serve column ${path}${f.name} of type ${f.type}; read it with tabledata.list or a query.`);
    if (f.fields) checkServed(f.fields, `${path}${f.name}.`);
  }
}

const pow10 = (n: number) => 10n ** BigInt(n);

/** One DuckDB value as the plain value of a `field` cell. */
export function plainValue(v: DuckDBValue, field: BqField): Plain {
  if (field.mode === 'REPEATED') {
    const items = v instanceof DuckDBListValue || v instanceof DuckDBArrayValue ? v.items : [];
    const inner = { ...field, mode: 'NULLABLE' as const };
    return items.map((x) => plainValue(x, inner));
  }
  if (v === null || v === undefined) return null;
  const t = typeName(field.type);
  switch (t) {
    case 'STRUCT': {
      const e = v instanceof DuckDBStructValue ? v.entries : {};
      return Object.fromEntries((field.fields ?? []).map((c) => [c.name, plainValue(e[c.name] ?? null, c)]));
    }
    case 'INT64': return typeof v === 'bigint' ? v : BigInt(v as number);
    case 'FLOAT64': return Number(v);
    case 'NUMERIC': case 'BIGNUMERIC': {
      if (!(v instanceof DuckDBDecimalValue)) throw new StorageError('INTERNAL', `column ${field.name}: expected a DECIMAL value`);
      const want = DECIMAL_SCALE[t].scale;
      return want >= v.scale ? v.value * pow10(want - v.scale) : v.value / pow10(v.scale - want);
    }
    case 'BOOL': return Boolean(v);
    case 'BYTES': return v instanceof DuckDBBlobValue ? v.bytes : new TextEncoder().encode(String(v));
    case 'DATE': return v instanceof DuckDBDateValue ? v.days : Number(v);
    case 'TIMESTAMP': case 'DATETIME': return v instanceof DuckDBTimestampValue || v instanceof DuckDBTimestampTZValue ? v.micros : BigInt(v as number);
    case 'TIME': return v instanceof DuckDBTimeValue ? v.micros : BigInt(v as number);
    default: return String(v);
  }
}

/** Rows of DuckDB values (one per field, in order) as objects of plain values by field name. */
export function plainRows(rows: readonly (readonly DuckDBValue[])[], fields: BqField[]): Array<Record<string, Plain>> {
  return rows.map((r) => Object.fromEntries(fields.map((f, i) => [f.name, plainValue(r[i], f)])));
}
