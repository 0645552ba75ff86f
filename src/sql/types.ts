/**
 * BigQuery types → ZetaSQL TypeProto (zetasql/public/type.proto), for catalog columns and query
 * parameters. Throws `BigQueryError('invalid')` on a parameter type bqgate cannot declare.
 */
import { BigQueryError } from '../bigquery/errors.js';
import type { BqField } from '../emulator/encode.js';

export interface TypeProto {
  typeKind: string;
  arrayType?: { elementType: TypeProto };
  structType?: { field: Array<{ fieldName: string; fieldType: TypeProto }> };
  rangeType?: { elementType: TypeProto };
}

/** RANGE's element types (https://cloud.google.com/bigquery/docs/reference/standard-sql/data-types#range_type). */
const RANGE_ELEMENTS = new Set(['DATE', 'DATETIME', 'TIMESTAMP']);

const SCALARS: Record<string, string> = {
  INTEGER: 'TYPE_INT64', INT64: 'TYPE_INT64', FLOAT: 'TYPE_DOUBLE', FLOAT64: 'TYPE_DOUBLE',
  NUMERIC: 'TYPE_NUMERIC', BIGNUMERIC: 'TYPE_BIGNUMERIC', BOOLEAN: 'TYPE_BOOL', BOOL: 'TYPE_BOOL',
  STRING: 'TYPE_STRING', BYTES: 'TYPE_BYTES', DATE: 'TYPE_DATE', DATETIME: 'TYPE_DATETIME',
  TIME: 'TYPE_TIME', TIMESTAMP: 'TYPE_TIMESTAMP', GEOGRAPHY: 'TYPE_GEOGRAPHY', JSON: 'TYPE_JSON',
  INTERVAL: 'TYPE_INTERVAL',
};

/**
 * A table column's type, REPEATED mode included; a RANGE column (`rangeElementType` DATE, DATETIME
 * or TIMESTAMP) is `RANGE<T>`. Throws BigQueryError('invalid') on a RANGE without a valid element type.
 */
export function fieldType(f: BqField): TypeProto {
  let t: TypeProto;
  if (f.type === 'RANGE') {
    const e = f.rangeElementType?.type;
    if (!e || !RANGE_ELEMENTS.has(e)) throw new BigQueryError('invalid', `Column ${f.name} is a RANGE without a DATE, DATETIME or TIMESTAMP rangeElementType, so bqgate cannot type it`);
    t = { typeKind: 'TYPE_RANGE', rangeType: { elementType: { typeKind: SCALARS[e] } } };
  } else if (f.type === 'RECORD' || f.type === 'STRUCT') {
    t = { typeKind: 'TYPE_STRUCT', structType: { field: (f.fields ?? []).map((c) => ({ fieldName: c.name, fieldType: fieldType(c) })) } };
  } else {
    t = { typeKind: SCALARS[f.type] ?? 'TYPE_STRING' };
  }
  return f.mode === 'REPEATED' ? { typeKind: 'TYPE_ARRAY', arrayType: { elementType: t } } : t;
}

/** A BigQuery `parameterType` ({type, arrayType?, structTypes?}) as ZetaSQL declares it. */
export function parameterType(p: { type: string; arrayType?: any; structTypes?: Array<{ name?: string; type: any }>; rangeElementType?: { type: string } }): TypeProto {
  if (p.type === 'ARRAY') {
    if (!p.arrayType) throw new BigQueryError('invalid', 'Query parameter of type ARRAY needs parameterType.arrayType');
    return { typeKind: 'TYPE_ARRAY', arrayType: { elementType: parameterType(p.arrayType) } };
  }
  if (p.type === 'STRUCT') {
    return { typeKind: 'TYPE_STRUCT', structType: { field: (p.structTypes ?? []).map((s) => ({ fieldName: s.name ?? '', fieldType: parameterType(s.type) })) } };
  }
  if (p.type === 'RANGE') { // https://cloud.google.com/bigquery/docs/reference/rest/v2/QueryParameter#QueryParameterType.FIELDS.range_element_type
    const e = p.rangeElementType?.type;
    if (!e || !RANGE_ELEMENTS.has(e)) throw new BigQueryError('invalid', 'Query parameter of type RANGE needs parameterType.rangeElementType DATE, DATETIME or TIMESTAMP');
    return { typeKind: 'TYPE_RANGE', rangeType: { elementType: { typeKind: SCALARS[e] } } };
  }
  const k = SCALARS[p.type];
  if (!k) throw new BigQueryError('invalid', `Unsupported query parameter type ${p.type}`);
  return { typeKind: k };
}

/** GoogleSQL type text for a column (for CAST in rewritten SQL), e.g. `ARRAY<STRING>`. */
export function typeSql(f: BqField): string {
  const names: Record<string, string> = { INTEGER: 'INT64', FLOAT: 'FLOAT64', BOOLEAN: 'BOOL' };
  const base = f.type === 'RECORD' || f.type === 'STRUCT'
    ? `STRUCT<${(f.fields ?? []).map((c) => `\`${c.name}\` ${typeSql(c)}`).join(', ')}>`
    : f.type === 'RANGE' ? `RANGE<${f.rangeElementType?.type ?? ''}>` : (names[f.type] ?? f.type);
  return f.mode === 'REPEATED' ? `ARRAY<${base}>` : base;
}

const KIND_NAMES: Record<string, string> = Object.fromEntries(Object.entries(SCALARS).filter(([k]) => !['INT64', 'FLOAT64', 'BOOL'].includes(k)).map(([bq, kind]) => [kind, bq]));

/** A ZetaSQL type as a BigQuery schema field (for tables a script creates). */
export function typeToField(name: string, t: TypeProto): BqField {
  if (t.typeKind === 'TYPE_ARRAY' && t.arrayType) return { ...typeToField(name, t.arrayType.elementType), mode: 'REPEATED' };
  if (t.typeKind === 'TYPE_STRUCT') return { name, type: 'RECORD', mode: 'NULLABLE', fields: (t.structType?.field ?? []).map((f) => typeToField(f.fieldName, f.fieldType)) };
  if (t.typeKind === 'TYPE_RANGE' && t.rangeType) return { name, type: 'RANGE', mode: 'NULLABLE', rangeElementType: { type: KIND_NAMES[t.rangeType.elementType.typeKind] ?? 'STRING' } };
  return { name, type: KIND_NAMES[t.typeKind] ?? 'STRING', mode: 'NULLABLE' };
}
