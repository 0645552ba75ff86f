/**
 * GoogleSQL functions that @polyglot-sql/sdk (0.12) passes to DuckDB unchanged or with another
 * meaning, and that DuckDB has no built-in for, as DuckDB macros the engine creates once at open
 * (`createNativeFunctions`) in its default catalog (`memory.main`, reachable by qualified name
 * from every connection whatever its `USE`; a macro cannot touch a table, so the emulator's
 * guards are unchanged).
 *
 * Translation (translate.ts) renames a call `F(` of a function here to `bqgate_fn__F(` before
 * polyglot reads the statement (polyglot passes unknown functions through, so it cannot mistranslate
 * them) and `bqgate_fn__F(` to `memory.main.bq_f(` after (`nativeCalls`). Each macro follows the
 * BigQuery page of its function (URL per group below); where a BigQuery function raises an error
 * the macro raises one too (a failing `CAST('<why>' AS INTEGER)`: DuckDB's `error()` is volatile,
 * which TRY refuses), and SAFE. variants become DuckDB's `TRY(…)`
 * (https://duckdb.org/docs/stable/sql/expressions/try), which turns an evaluation error into NULL
 * as BigQuery's SAFE. prefix does (https://cloud.google.com/bigquery/docs/reference/standard-sql/functions-reference#safe_prefix).
 */
import { scan } from './translate.js';
import { closing } from './native-masks.js';
import { DATETIME_MACROS } from './translate-datetime.js';

const RENAMED = 'bqgate_fn__';
const SAFE = 'bqgate_safe__';

/** name (GoogleSQL, upper case; `NET.X` for the NET group) → [DuckDB macro parameters, body]. */
export const MACROS: Record<string, [string, string]> = {
  ...DATETIME_MACROS, // INTERVAL functions (translate-datetime.ts)
  // https://cloud.google.com/bigquery/docs/reference/standard-sql/mathematical_functions
  CSC: ['x', 'CASE WHEN sin(x) = 0 THEN CAST(\'division by zero: CSC(0)\' AS INTEGER) ELSE 1 / sin(x) END'],
  SEC: ['x', '1 / cos(x)'],
  COT: ['x', 'CASE WHEN tan(x) = 0 THEN CAST(\'division by zero: COT(0)\' AS INTEGER) ELSE 1 / tan(x) END'],
  CSCH: ['x', 'CASE WHEN x = 0 THEN CAST(\'division by zero: CSCH(0)\' AS INTEGER) ELSE 2 / (exp(x) - exp(-x)) END'],
  SECH: ['x', '2 / (exp(x) + exp(-x))'],
  COTH: ['x', 'CASE WHEN x = 0 THEN CAST(\'division by zero: COTH(0)\' AS INTEGER) ELSE (exp(x) + exp(-x)) / (exp(x) - exp(-x)) END'],
  RANGE_BUCKET: ['p, a', 'CASE WHEN p IS NULL OR a IS NULL OR isnan(p::DOUBLE) THEN NULL ELSE len(list_filter(a, lambda e: e <= p)) END'],
  COSINE_DISTANCE: ['a, b', 'CASE WHEN len(a) <> len(b) THEN CAST(\'COSINE_DISTANCE: the arrays differ in length\' AS INTEGER) ELSE 1 - list_cosine_similarity(a::DOUBLE[], b::DOUBLE[]) END'],
  EUCLIDEAN_DISTANCE: ['a, b', 'CASE WHEN len(a) <> len(b) THEN CAST(\'EUCLIDEAN_DISTANCE: the arrays differ in length\' AS INTEGER) ELSE list_distance(a::DOUBLE[], b::DOUBLE[]) END'],
  // https://cloud.google.com/bigquery/docs/reference/standard-sql/string_functions
  TO_CODE_POINTS: ['s', 'CASE WHEN s IS NULL THEN NULL WHEN s = \'\' THEN []::BIGINT[] ELSE list_transform(string_split(s, \'\'), lambda c: unicode(c)::BIGINT) END'],
  CODE_POINTS_TO_STRING: ['a', 'CASE WHEN a IS NULL OR list_contains(a, NULL) THEN NULL ELSE array_to_string(list_transform(a, lambda c: chr(c::INTEGER)), \'\') END'],
  INITCAP: ['s, d := \' []()-{}/\\|<>!?@"^#$&~_,.:;*%+\'', 'CASE WHEN s IS NULL OR d IS NULL THEN NULL ELSE array_to_string(list_transform(range(length(s)), lambda i: CASE WHEN i = 0 OR contains(d, substr(s, i, 1)) THEN upper(substr(s, i + 1, 1)) ELSE lower(substr(s, i + 1, 1)) END), \'\') END'],
  // https://cloud.google.com/bigquery/docs/reference/standard-sql/hash_functions#md5 (BYTES: DuckDB's md5 is the hex text)
  MD5: ['x', 'unhex(md5(x))'],
  // https://cloud.google.com/bigquery/docs/reference/standard-sql/array_functions
  ARRAY_FIRST: ['a', 'CASE WHEN len(a) = 0 THEN CAST(\'ARRAY_FIRST: the array is empty\' AS INTEGER) ELSE a[1] END'],
  ARRAY_LAST: ['a', 'CASE WHEN len(a) = 0 THEN CAST(\'ARRAY_LAST: the array is empty\' AS INTEGER) ELSE a[len(a)] END'],
  ARRAY_MIN: ['a', 'list_min(a)'],
  ARRAY_MAX: ['a', 'list_max(a)'],
  ARRAY_SUM: ['a', 'list_sum(a)'],
  ARRAY_AVG: ['a', 'list_avg(a)'],
  ARRAY_IS_DISTINCT: ['a', 'CASE WHEN a IS NULL THEN NULL ELSE len(a) = len(list_distinct(a)) + (len(list_filter(a, lambda e: e IS NULL)) > 0)::INTEGER END'],
  ARRAY_INCLUDES_ANY: ['a, b', 'CASE WHEN a IS NULL OR b IS NULL THEN NULL ELSE list_has_any(a, b) END'],
  ARRAY_INCLUDES_ALL: ['a, b', 'CASE WHEN a IS NULL OR b IS NULL THEN NULL ELSE list_has_all(a, b) END'],
  // https://cloud.google.com/bigquery/docs/reference/standard-sql/date_functions#date_add (a DATE: DuckDB's DATE + INTERVAL is a TIMESTAMP)
  DATE_ADD: ['d, i', 'CAST(CAST(d AS DATE) + i AS DATE)'],
  DATE_SUB: ['d, i', 'CAST(CAST(d AS DATE) - i AS DATE)'],
  // https://cloud.google.com/bigquery/docs/reference/standard-sql/timestamp_functions#timestamp_from_unix_seconds
  TIMESTAMP_FROM_UNIX_SECONDS: ['x', 'CASE WHEN typeof(x) LIKE \'TIMESTAMP%\' THEN x::TIMESTAMP ELSE make_timestamp(TRY_CAST(x AS BIGINT) * 1000000) END'],
  TIMESTAMP_FROM_UNIX_MILLIS: ['x', 'CASE WHEN typeof(x) LIKE \'TIMESTAMP%\' THEN x::TIMESTAMP ELSE make_timestamp(TRY_CAST(x AS BIGINT) * 1000) END'],
  TIMESTAMP_FROM_UNIX_MICROS: ['x', 'CASE WHEN typeof(x) LIKE \'TIMESTAMP%\' THEN x::TIMESTAMP ELSE make_timestamp(TRY_CAST(x AS BIGINT)) END'],
  // https://cloud.google.com/bigquery/docs/reference/standard-sql/date_functions#date_from_unix_date
  DATE_FROM_UNIX_DATE: ['n', 'DATE \'1970-01-01\' + n::INTEGER'],
  // https://cloud.google.com/bigquery/docs/reference/standard-sql/json_functions
  JSON_VALUE: ['j, p := \'$\'', 'CASE WHEN json_type(j::JSON, p) IN (\'OBJECT\', \'ARRAY\') THEN NULL ELSE json_extract_string(j::JSON, p) END'],
  JSON_EXTRACT_SCALAR: ['j, p := \'$\'', 'CASE WHEN json_type(j::JSON, p) IN (\'OBJECT\', \'ARRAY\') THEN NULL ELSE json_extract_string(j::JSON, p) END'],
  JSON_QUERY_ARRAY: ['j, p := \'$\'', 'CASE WHEN json_type(j::JSON, p) = \'ARRAY\' THEN list_transform(json_extract(j::JSON, p)::JSON[], lambda e: CASE WHEN typeof(j) = \'JSON\' THEN e ELSE e::VARCHAR END) END'],
  JSON_EXTRACT_ARRAY: ['j, p := \'$\'', 'CASE WHEN json_type(j::JSON, p) = \'ARRAY\' THEN list_transform(json_extract(j::JSON, p)::JSON[], lambda e: CASE WHEN typeof(j) = \'JSON\' THEN e ELSE e::VARCHAR END) END'],
  JSON_VALUE_ARRAY: ['j, p := \'$\'', 'CASE WHEN json_type(j::JSON, p) = \'ARRAY\' AND NOT list_contains(list_transform(json_extract(j::JSON, p)::JSON[], lambda e: json_type(e) IN (\'OBJECT\', \'ARRAY\')), true) THEN list_transform(json_extract(j::JSON, p)::JSON[], lambda e: json_extract_string(e, \'$\')) END'],
  JSON_EXTRACT_STRING_ARRAY: ['j, p := \'$\'', 'CASE WHEN json_type(j::JSON, p) = \'ARRAY\' AND NOT list_contains(list_transform(json_extract(j::JSON, p)::JSON[], lambda e: json_type(e) IN (\'OBJECT\', \'ARRAY\')), true) THEN list_transform(json_extract(j::JSON, p)::JSON[], lambda e: json_extract_string(e, \'$\')) END'],
  LAX_BOOL: ['j', 'CASE json_type(j) WHEN \'BOOLEAN\' THEN j::BOOLEAN WHEN \'VARCHAR\' THEN CASE lower(json_extract_string(j, \'$\')) WHEN \'true\' THEN true WHEN \'false\' THEN false END WHEN \'BIGINT\' THEN j::BIGINT <> 0 WHEN \'UBIGINT\' THEN j::UBIGINT <> 0 WHEN \'DOUBLE\' THEN j::DOUBLE <> 0 END'],
  LAX_INT64: ['j', 'CASE json_type(j) WHEN \'BOOLEAN\' THEN j::BOOLEAN::BIGINT WHEN \'BIGINT\' THEN j::BIGINT WHEN \'UBIGINT\' THEN TRY_CAST(j::UBIGINT AS BIGINT) WHEN \'DOUBLE\' THEN TRY_CAST(round_even(j::DOUBLE, 0) AS BIGINT) WHEN \'VARCHAR\' THEN TRY_CAST(round_even(TRY_CAST(json_extract_string(j, \'$\') AS DOUBLE), 0) AS BIGINT) END'],
  LAX_FLOAT64: ['j', 'CASE json_type(j) WHEN \'BIGINT\' THEN j::DOUBLE WHEN \'UBIGINT\' THEN j::DOUBLE WHEN \'DOUBLE\' THEN j::DOUBLE WHEN \'VARCHAR\' THEN TRY_CAST(json_extract_string(j, \'$\') AS DOUBLE) END'],
  LAX_STRING: ['j', 'CASE json_type(j) WHEN \'VARCHAR\' THEN json_extract_string(j, \'$\') WHEN \'BOOLEAN\' THEN j::VARCHAR WHEN \'BIGINT\' THEN j::VARCHAR WHEN \'UBIGINT\' THEN j::VARCHAR WHEN \'DOUBLE\' THEN j::VARCHAR END'],
};

/** The DDL that creates every macro in `memory.main` (run once, before the engine locks its configuration). */
export function nativeFunctionDdl(): string[] {
  return Object.entries(MACROS).map(([name, [params, body]]) => `CREATE OR REPLACE MACRO memory.main.${macroName(name)}(${params}) AS ${body}`);
}

const macroName = (name: string) => `bq_${name.toLowerCase().replace(/\./g, '_')}`;

const CALL = new RegExp(`\\b(SAFE\\.)?(${Object.keys(MACROS).map((n) => n.replace('.', '\\s*\\.\\s*')).sort((a, b) => b.length - a.length).join('|')})\\s*\\(`, 'gi');
const SAFE_CALL = /\bSAFE\s*\.\s*([A-Za-z_][A-Za-z0-9_]*(?:\s*\.\s*[A-Za-z_][A-Za-z0-9_]*)?)\s*\(/gi;

/** Index of the parenthesis closing the one at `open` in GoogleSQL text (strings, comments and backticks skipped); -1 if none. */
function closeParen(sql: string, open: number): number {
  const skip: Array<[number, number]> = [];
  scan(sql, (_k, s, e) => skip.push([s, e]));
  return closing(sql, open, skip) - 1;
}

/** Whether `at` is inside a string, comment, backtick or parameter of GoogleSQL `sql`. */
function inLexeme(sql: string, at: number): boolean {
  let hit = false;
  scan(sql, (_k, s, e) => { if (at >= s && at < e) hit = true; });
  return hit;
}

/**
 * GoogleSQL text with calls of MACROS functions renamed (`bqgate_fn__F(`) and `SAFE.F(args)` wrapped
 * (`bqgate_safe__(F(args))`), for polyglot to pass through.
 */
export function renameCalls(sql: string): string {
  if (!new RegExp(CALL.source, 'i').test(sql) && !/\bSAFE\s*\./i.test(sql)) return sql;
  let out = sql;
  // SAFE.F(args) → bqgate_safe__(F(args)), innermost last so offsets stay valid (right to left).
  const safes = [...out.matchAll(SAFE_CALL)].filter((m) => !inLexeme(out, m.index!) && !/[\w.]/.test(out[m.index! - 1] ?? ''));
  for (const m of safes.reverse()) {
    const open = m.index! + m[0].length - 1;
    const close = closeParen(out, open);
    if (close < 0) continue;
    out = `${out.slice(0, m.index!)}${SAFE}(${m[1]}${out.slice(open, close + 1)})${out.slice(close + 1)}`;
  }
  return out.replace(CALL, (m, safe: string | undefined, name: string, at: number) =>
    (safe || inLexeme(out, at) || /[\w.]/.test(out[at - 1] ?? '') ? m : `${RENAMED}${name.replace(/\s+/g, '').replace('.', '_')}(`));
}

/** Translated DuckDB text with the renamed calls pointed at the macros, and SAFE. wrappers as TRY(…). */
export function nativeCalls(duck: string): string {
  if (!duck.toLowerCase().includes('bqgate_')) return duck;
  return duck
    .replace(new RegExp(`"?${RENAMED}([A-Za-z0-9_]+)"?\\s*\\(`, 'gi'), (_m, name: string) => `memory.main.bq_${name.toLowerCase()}(`)
    .replace(new RegExp(`"?${SAFE}"?\\s*\\(`, 'gi'), 'TRY(');
}
