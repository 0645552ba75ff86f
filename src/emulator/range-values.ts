/**
 * RANGE values between DuckDB and BigQuery's REST form (translate-range.ts says how a RANGE is held in DuckDB: the struct
 * `{"$range_start", "$range_end"[, "$datetime"]}`).
 *
 * - `rangeField(name, struct)`: the schema field of such a struct, `{type: 'RANGE', rangeElementType: {type}}`
 *   (https://cloud.google.com/bigquery/docs/reference/rest/v2/tables#TableFieldSchema.FIELDS.range_element_type), else
 *   undefined: DATE bounds → DATE, a `$datetime` mark → DATETIME, other bounds → TIMESTAMP.
 * - `rangeText(value, elementType, encode)`: the cell `[lower, upper)`, `UNBOUNDED` for an open end, each bound as a cell
 *   of the element type is (`encode`: a TIMESTAMP bound is int64 µs or float seconds as the request asked), as the REST
 *   API sends it and @google-cloud/bigquery's `BigQueryRange.fromSchemaValue_` reads it (CONTRACT.md §7).
 * - `rangeDuckType(elementType, duck)`: the DuckDB column type of a RANGE<T> table column (`duck`: T's DuckDB type).
 */
import { DuckDBStructValue, DuckDBTypeId, type DuckDBStructType, type DuckDBValue } from '@duckdb/node-api';

const START = '$range_start';
const END = '$range_end';
const DATETIME_MARK = '$datetime';

export function rangeField(name: string, st: DuckDBStructType): { name: string; type: 'RANGE'; mode: 'NULLABLE'; rangeElementType: { type: string } } | undefined {
  const names = st.entryNames;
  if (names[0] !== START || names[1] !== END || names.length > 3 || (names.length === 3 && names[2] !== DATETIME_MARK)) return undefined;
  const t = names.length === 3 ? 'DATETIME' : st.entryTypes[0].typeId === DuckDBTypeId.DATE ? 'DATE' : 'TIMESTAMP';
  return { name, type: 'RANGE', mode: 'NULLABLE', rangeElementType: { type: t } };
}

export function rangeText(value: DuckDBValue, elementType: string, encode: (bound: DuckDBValue, type: string) => unknown): string | null {
  if (!(value instanceof DuckDBStructValue)) return null;
  const bound = (v: DuckDBValue | undefined) => (v === null || v === undefined ? 'UNBOUNDED' : String(encode(v, elementType)));
  return `[${bound(value.entries[START])}, ${bound(value.entries[END])})`;
}

export function rangeDuckType(elementType: string | undefined, duck: string): string {
  return `STRUCT("${START}" ${duck}, "${END}" ${duck}${elementType === 'DATETIME' ? `, "${DATETIME_MARK}" BOOLEAN` : ''})`;
}
