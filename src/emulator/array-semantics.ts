/**
 * Array functions where DuckDB's built-in of the same name (or polyglot's translation) answers
 * otherwise than BigQuery (https://cloud.google.com/bigquery/docs/reference/standard-sql/array_functions):
 *
 * - `ARRAY_SLICE(a, start, end)` (#array_slice): BigQuery's offsets are 0-based and inclusive, a
 *   negative one counts from the end (-1 is the last element), each is clamped to the array, and
 *   the slice is empty when start is past end; NULL when any argument is NULL. DuckDB's
 *   `array_slice` is 1-based, so `ARRAY_SLICE(['a','b','c','d','e'], 1, 3)` was `[a, b, c]` (BigQuery:
 *   `[b, c, d]`). The `ARRAY_SLICE` macro (`ARRAY_MACROS`) computes BigQuery's bounds.
 * - `ARRAY_FILTER` / `ARRAY_TRANSFORM` with an `(element, index) -> …` lambda (#array_filter,
 *   #array_transform): BigQuery's index is 0-based, DuckDB's second lambda parameter is 1-based.
 *   `lambdaOffsets` (GoogleSQL text, before polyglot) reads the index as `(index - 1)` in the body.
 * - `GENERATE_ARRAY` / `GENERATE_DATE_ARRAY` / `GENERATE_TIMESTAMP_ARRAY` with a NULL argument
 *   (#generate_array: "returns NULL if any input is NULL"): polyglot writes DuckDB's
 *   `GENERATE_SERIES`, which gives `[]`. `nullSeries` (DuckDB text) makes it NULL. DuckDB's has no FLOAT64 or
 *   NUMERIC series (`GENERATE_ARRAY(0, 1, 0.25)` was a binder error): the BQGATE_SERIES macro computes them. The
 *   emulator's BIGNUMERIC takes the NUMERIC overload (9 digits).
 */
import { scan } from './translate.js';
import { closing, topLevelCommaParts } from './native-masks.js';
import { rewriteDuckCalls } from './duck-calls.js';

/** The series a, a + c, a + 2c, … up to b (down to b when c < 0), computed as a + i × c (NUMERIC exact, FLOAT64 rounded once). */
const STEPS = `CASE WHEN c = 0 THEN [CAST('Sequence step cannot be 0.' AS INTEGER)]
  ELSE list_filter(list_transform(range(0::BIGINT, greatest(0, floor((b - a) / c) + 2)::BIGINT), lambda i: a + i * c), lambda x: CASE WHEN c > 0 THEN x <= b ELSE x >= b END) END`;

/** name (GoogleSQL) → [DuckDB macro parameters, body] or overloads, spread into translate-functions.ts MACROS. */
export const ARRAY_MACROS: Record<string, [string, string] | Array<[string, string]>> = {
  // b, f: BigQuery's first and last offsets, from the end when negative, clamped to [0, len - 1]
  ARRAY_SLICE: ['a, s, e', `CASE WHEN a IS NULL OR s IS NULL OR e IS NULL THEN NULL
    WHEN greatest(CASE WHEN s < 0 THEN len(a) + s ELSE s END, 0) > least(CASE WHEN e < 0 THEN len(a) + e ELSE e END, len(a) - 1)
      THEN list_filter(a, lambda x: false)
    ELSE list_slice(a, greatest(CASE WHEN s < 0 THEN len(a) + s ELSE s END, 0) + 1, least(CASE WHEN e < 0 THEN len(a) + e ELSE e END, len(a) - 1) + 1) END`],
  // #generate_array over INT64 (DuckDB's generate_series), FLOAT64 and NUMERIC (start + i × step while within end), and the
  // DATE / TIMESTAMP series of GENERATE_DATE_ARRAY / GENERATE_TIMESTAMP_ARRAY (generate_series); a zero step is an error
  BQGATE_SERIES: [
    ['a BIGINT, b BIGINT, c BIGINT', 'generate_series(a, b, c)'],
    ['a DOUBLE, b DOUBLE, c DOUBLE', STEPS],
    ['a DECIMAL(38,9), b DECIMAL(38,9), c DECIMAL(38,9)', STEPS],
    ['a, b, c', 'generate_series(a, b, c)'],
  ],
};

const LAMBDA_CALL = /\bARRAY_(?:FILTER|TRANSFORM)\s*\(/gi;
const IDENT = /[A-Za-z_][A-Za-z0-9_]*/y;

/** GoogleSQL lexical spans (strings, comments, backticks, parameters) of `sql`. */
function lexemes(sql: string): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  scan(sql, (_k, s, e) => out.push([s, e]));
  return out;
}

/** `ARRAY_FILTER|ARRAY_TRANSFORM(a, (e, i) -> body)`: every `i` of body (outside strings, not a field `x.i` nor a call) as `(i - 1)`. */
export function lambdaOffsets(sql: string): string {
  if (!/\bARRAY_(?:FILTER|TRANSFORM)\b/i.test(sql) || !sql.includes('->')) return sql;
  const skip = lexemes(sql);
  const edits: Array<[number, number, string]> = [];
  for (const m of sql.matchAll(LAMBDA_CALL)) {
    const at = m.index!;
    if (skip.some(([s, e]) => at >= s && at < e) || /[\w.]/.test(sql[at - 1] ?? '')) continue;
    const open = at + m[0].length - 1;
    const end = closing(sql, open, skip);
    if (end < 0) continue;
    const parts = topLevelCommaParts(sql, open + 1, end - 1, skip);
    if (parts.length !== 2) continue;
    const from = end - 1 - parts[1].length;
    const lambda = /^\s*\(\s*([A-Za-z_][A-Za-z0-9_]*)\s*,\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)\s*->/.exec(parts[1]);
    if (!lambda) continue;
    const index = lambda[2].toLowerCase();
    for (let i = from + lambda[0].length; i < end - 1; i++) {
      const lex = skip.find(([s, e]) => i >= s && i < e);
      if (lex) { i = lex[1] - 1; continue; }
      IDENT.lastIndex = i;
      const id = IDENT.exec(sql);
      if (!id || /[\w]/.test(sql[i - 1] ?? '')) continue;
      const after = sql.slice(i + id[0].length);
      if (id[0].toLowerCase() === index && sql[i - 1] !== '.' && !/^\s*\(/.test(after)) edits.push([i, i + id[0].length, `(${id[0]} - 1)`]);
      i += id[0].length - 1;
    }
  }
  let out = sql;
  for (const [s, e, text] of edits.sort((a, b) => b[0] - a[0])) out = out.slice(0, s) + text + out.slice(e);
  return out;
}

const SERIES = /\bGENERATE_(?:SERIES|ARRAY)\(/gi; // GENERATE_ARRAY: one polyglot left untranslated inside another's arguments

/** `GENERATE_SERIES(a, b[, c])` (polyglot's GENERATE_*_ARRAY) → NULL when an argument is NULL, else the series of the BQGATE_SERIES macro (step 1 by default). */
export function nullSeries(duck: string): string {
  if (!/GENERATE_(?:SERIES|ARRAY)\(/i.test(duck)) return duck;
  return rewriteDuckCalls(duck, SERIES, (c) => {
    const args = c.args.map((x) => nullSeries(x.trim()));
    return `CASE WHEN ${args.map((x) => `(${x}) IS NULL`).join(' OR ')} THEN NULL ELSE memory.main.bq_bqgate_series(${args.join(', ')}${args.length === 2 ? ', 1' : ''}) END`;
  });
}
