/**
 * Bytes processed and billed, as BigQuery counts them for on-demand queries
 * (https://cloud.google.com/bigquery/pricing#data_size_calculation): a query processes every
 * value of each column it reads in each table it scans — filters and LIMIT do not reduce it — at
 * BigQuery's sizes per type: INT64, FLOAT64, DATE, DATETIME, TIME, TIMESTAMP 8 bytes; BOOL 1;
 * NUMERIC 16; BIGNUMERIC 32; INTERVAL 16; STRING and BYTES 2 + their length in bytes; JSON the
 * length of its text; GEOGRAPHY 16 + its text's length (the emulator keeps WKT, not vertices);
 * STRUCT the sum of its fields; ARRAY the sum of its elements; NULL 0. Billed bytes are the
 * processed bytes rounded up to 1 MiB, at least 10 MiB when anything is processed.
 *
 * `sizeExpression(field, expr)` is the DuckDB SQL computing one row's size of a column, so the
 * engine can sum it per column in one pass over a table.
 */
import type { BqField } from './encode.js';

const MIB = 1024 * 1024;
/** BigQuery's minimum billed bytes for a query that processes anything (10 MiB). */
export const MIN_BILLED_BYTES = 10 * MIB;

const FIXED: Record<string, number> = {
  INTEGER: 8, INT64: 8, FLOAT: 8, FLOAT64: 8, DATE: 8, DATETIME: 8, TIME: 8, TIMESTAMP: 8,
  BOOLEAN: 1, BOOL: 1, NUMERIC: 16, BIGNUMERIC: 32, INTERVAL: 16,
};

/** DuckDB SQL for the size in bytes (0 for NULL) of `expr`, a value of BigQuery field `f`. */
export function sizeExpression(f: BqField, expr: string, depth = 0): string {
  if (f.mode === 'REPEATED') {
    const x = `bqgate_x${depth}`;
    return `coalesce(list_sum(list_transform(${expr}, lambda ${x}: ${sizeExpression({ ...f, mode: 'NULLABLE' }, x, depth + 1)})), 0)`;
  }
  if (f.type === 'RECORD' || f.type === 'STRUCT') {
    const parts = (f.fields ?? []).map((c) => sizeExpression(c, `struct_extract(${expr}, '${c.name.replace(/'/g, "''")}')`, depth));
    return parts.length ? `(CASE WHEN ${expr} IS NULL THEN 0 ELSE ${parts.join(' + ')} END)` : '0';
  }
  const w = FIXED[f.type];
  if (w !== undefined) return `(CASE WHEN ${expr} IS NULL THEN 0 ELSE ${w} END)`;
  const extra = f.type === 'STRING' || f.type === 'BYTES' ? 2 : f.type === 'GEOGRAPHY' ? 16 : 0;
  const length = f.type === 'BYTES' ? `octet_length(CAST(${expr} AS BLOB))` : `strlen(CAST(${expr} AS VARCHAR))`; // strlen: bytes of the UTF-8 text
  return `coalesce(${extra} + ${length}, 0)`;
}

/** Billed bytes for `processed` bytes: 0 when nothing is processed, else rounded up to 1 MiB, at least 10 MiB. */
export function billedBytes(processed: number): number {
  if (processed <= 0) return 0;
  return Math.max(MIN_BILLED_BYTES, Math.ceil(processed / MIB) * MIB);
}
