/**
 * Script variables as BigQuery query parameters: a statement that uses a variable runs with the
 * variable's reference replaced by a named parameter (`@_sv_<name>`) bound to its value, so a
 * value never becomes SQL text. Values come from a statement's result (a DuckDB value and the
 * BigQuery field it was read as) and are kept as `QueryParameter` type and value
 * (https://cloud.google.com/bigquery/docs/reference/rest/v2/QueryParameter).
 */
import { DuckDBListValue, DuckDBArrayValue, DuckDBStructValue, DuckDBTimestampValue, DuckDBTimestampTZValue, type DuckDBValue } from '@duckdb/node-api';
import { encodeCell, type BqField } from './encode.js';
import type { ParameterType, ParameterValue } from './params.js';

/** A variable's type and current value (NULL: `{value: null}`). */
export interface ScriptValue { type: ParameterType; value: ParameterValue }

const SCALAR: Record<string, string> = { INTEGER: 'INT64', FLOAT: 'FLOAT64', BOOLEAN: 'BOOL' };

/** The parameter type of a result field. */
export function fieldType(f: BqField): ParameterType {
  const inner: ParameterType = f.type === 'RECORD' || f.type === 'STRUCT'
    ? { type: 'STRUCT', structTypes: (f.fields ?? []).map((c) => ({ name: c.name, type: fieldType(c) })) }
    : { type: SCALAR[f.type] ?? f.type };
  return f.mode === 'REPEATED' ? { type: 'ARRAY', arrayType: inner } : inner;
}

/** The parameter value of one DuckDB value of `t`. */
function toValue(v: DuckDBValue, t: ParameterType): ParameterValue {
  if (t.type === 'ARRAY') {
    if (v === null || v === undefined) return { arrayValues: [] }; // BigQuery has no NULL arrays in results
    const items = v instanceof DuckDBListValue || v instanceof DuckDBArrayValue ? v.items : [];
    return { arrayValues: items.map((x) => toValue(x, t.arrayType!)) };
  }
  if (v === null || v === undefined) return { value: null };
  if (t.type === 'STRUCT') {
    const entries = v instanceof DuckDBStructValue ? v.entries : {};
    return { structValues: Object.fromEntries((t.structTypes ?? []).map((s) => [s.name!, toValue(entries[s.name!] ?? null, s.type)])) };
  }
  if (v instanceof DuckDBTimestampValue || v instanceof DuckDBTimestampTZValue) {
    const us = v.micros;
    const secs = us >= 0n ? us / 1_000_000n : (us - 999_999n) / 1_000_000n;
    const frac = String(us - secs * 1_000_000n).padStart(6, '0');
    return { value: `${new Date(Number(secs) * 1000).toISOString().slice(0, 19).replace('T', ' ')}.${frac}+00:00` };
  }
  return { value: encodeCell(v, { name: 'v', type: t.type === 'INT64' ? 'INTEGER' : t.type, mode: 'NULLABLE' }, true) };
}

/** A variable value from column `i` of a result row. */
export function fromResult(schema: BqField[], row: readonly DuckDBValue[] | undefined, i = 0): ScriptValue {
  const type = fieldType(schema[i]);
  return { type, value: row ? toValue(row[i], type) : { value: null } };
}

/** A STRUCT value of a whole result row (a FOR…IN loop variable). */
export function rowStruct(schema: BqField[], row: readonly DuckDBValue[]): ScriptValue {
  const structTypes = schema.map((f) => ({ name: f.name, type: fieldType(f) }));
  return { type: { type: 'STRUCT', structTypes }, value: { structValues: Object.fromEntries(schema.map((f, i) => [f.name, toValue(row[i], structTypes[i].type)])) } };
}

/** The fields of a STRUCT value, in order (SET (a, b) = …). */
export function structFields(v: ScriptValue): ScriptValue[] {
  return (v.type.structTypes ?? []).map((s) => ({ type: s.type, value: v.value.structValues?.[s.name!] ?? { value: null } }));
}

/** A STRING value. */
export const stringValue = (s: string | null): ScriptValue => ({ type: { type: 'STRING' }, value: { value: s } });
/** An INT64 value. */
export const intValue = (n: number | null): ScriptValue => ({ type: { type: 'INT64' }, value: { value: n === null ? null : String(n) } });

/** Whether a BOOL value is TRUE (NULL and FALSE are not). */
export const isTrue = (v: ScriptValue): boolean => v.value.value === 'true' || v.value.value === true;

/** The GoogleSQL type of a parameter type, for CAST (`ARRAY<STRUCT<a INT64>>`). */
export function typeText(t: ParameterType): string {
  if (t.type === 'ARRAY') return `ARRAY<${typeText(t.arrayType!)}>`;
  if (t.type === 'STRUCT') return `STRUCT<${(t.structTypes ?? []).map((s) => `\`${s.name}\` ${typeText(s.type)}`).join(', ')}>`;
  return t.type;
}
