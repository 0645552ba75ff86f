/**
 * RANGE values in the emulator (https://cloud.google.com/bigquery/docs/reference/standard-sql/data-types#range_type,
 * https://cloud.google.com/bigquery/docs/reference/standard-sql/range-functions).
 *
 * A RANGE<T> is, in DuckDB, the struct `{"$range_start": T, "$range_end": T}` with NULL for UNBOUNDED; a RANGE<DATETIME>
 * carries one more field, `"$datetime"` (the emulator keeps DATETIME and TIMESTAMP both as DuckDB TIMESTAMP[TZ], so the
 * element type needs a mark). `$` cannot appear in a BigQuery column or field name, so no user STRUCT reads as a RANGE;
 * range-values.ts reports and encodes these structs as BigQuery's RANGE (`rangeElementType`, `[a, b)` text).
 *
 * Before polyglot reads the statement (`rangeLiterals`, GoogleSQL text):
 * - `RANGE<T> '[a, b)'` → `RANGE(T 'a', T 'b')` (`RANGE_DATETIME(…)` for DATETIME; UNBOUNDED/NULL → `CAST(NULL AS T)`);
 * - `CAST(x AS RANGE<T>)` / `SAFE_CAST(…)` → `RANGE_PARSE_T(x)` (the literal form when x is a string literal);
 * - `RANGE(a, b)` whose bound is written as a DATETIME (literal, DATETIME(…), CAST(… AS DATETIME), CURRENT_DATETIME,
 *   PARSE_DATETIME) → `RANGE_DATETIME(a, b)`; any other RANGE(…) is typed by DuckDB: DATE → DATE, TIMESTAMP → TIMESTAMP
 *   (so a DATETIME column's range is reported as RANGE<TIMESTAMP>, as the emulator reports DATETIME columns);
 * - any other `RANGE<T>` (a CREATE TABLE column, `ARRAY<RANGE<T>>`) → the struct type itself;
 * - `RANGE_CONTAINS(r, x)` with x written as a range (RANGE literal, RANGE(…), RANGE_INTERSECT(…), CAST AS RANGE) →
 *   `RANGE_CONTAINS_RANGE` (signature 1); otherwise signature 2 (a RANGE column as x then fails to bind, it is not misread);
 * - `GENERATE_RANGE_ARRAY(r, …)` with r written as a RANGE<DATE> → `GENERATE_RANGE_ARRAY_DATE` (DuckDB's DATE + INTERVAL
 *   is a TIMESTAMP); the general form refuses a DATE range it cannot type back.
 * The functions are DuckDB macros (`RANGE_MACROS`, spread into translate-functions.ts MACROS). RANGE_SESSIONIZE is
 * range-sessionize.ts (a subquery written here, first).
 */
import { scan } from './translate.js';
import { closing } from './native-masks.js';
import { rangeSessionize } from './range-sessionize.js';

const LITERAL = /\bRANGE\s*<\s*(DATE|DATETIME|TIMESTAMP)\s*>\s*$/i;
const BOUNDS = /^\[\s*([^,]*?)\s*,\s*([^,]*?)\s*\)$/;
const CAST_TAIL = /\bAS\s+RANGE\s*<\s*(DATE|DATETIME|TIMESTAMP)\s*>\s*$/i;
const DATETIME_BOUND = /^\s*(?:DATETIME\b|CURRENT_DATETIME\b|PARSE_DATETIME\b|CAST\s*\([\s\S]*\bAS\s+DATETIME\s*\)\s*$)/i;
const RANGE_ARG = /^\s*(?:RANGE\s*<|RANGE(?:_DATETIME)?\s*\(|RANGE_INTERSECT\s*\(|RANGE_PARSE_)/i;
const DATE_RANGE_ARG = /^\s*(?:RANGE\s*<\s*DATE\s*>|RANGE\s*\(\s*(?:DATE\b|CURRENT_DATE\b|CAST\s*\(\s*NULL\s+AS\s+DATE\s*\)))/i;

type Edit = [number, number, string];

function apply(sql: string, edits: Edit[]): string {
  let out = sql;
  for (const [s, e, text] of edits.sort((a, b) => a[0] - b[0]).reverse()) out = out.slice(0, s) + text + out.slice(e);
  return out;
}

/** `[start, end)` spans of strings, comments and backticks of GoogleSQL `sql`. */
function lexemes(sql: string): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  scan(sql, (_k, s, e) => out.push([s, e]));
  return out;
}

/** Top-level arguments of the call whose `(` is at `open`, as `[start, end)` spans, and the closing paren's index. */
function callArgs(sql: string, open: number, skip: Array<[number, number]>): { args: Array<[number, number]>; close: number } | undefined {
  const close = closing(sql, open, skip) - 1;
  if (close < 0) return undefined;
  const args: Array<[number, number]> = [];
  let depth = 0; let from = open + 1;
  for (let i = open + 1; i < close; i++) {
    const lex = skip.find(([s, e]) => i >= s && i < e);
    if (lex) { i = lex[1] - 1; continue; }
    if (sql[i] === '(' || sql[i] === '[') depth++;
    else if (sql[i] === ')' || sql[i] === ']') depth--;
    else if (sql[i] === ',' && depth === 0) { args.push([from, i]); from = i + 1; }
  }
  args.push([from, close]);
  return { args, close };
}

/** The RANGE(…) text of a literal's bounds `lo`, `hi` (UNBOUNDED or NULL: an open end) of element type `t`. */
function rangeCall(t: string, lo: string, hi: string): string {
  const bound = (b: string) => (/^(?:UNBOUNDED|NULL)$/i.test(b) ? `CAST(NULL AS ${t})` : `${t} '${b.replace(/'/g, "''")}'`);
  return `${t === 'DATETIME' ? 'RANGE_DATETIME' : 'RANGE'}(${bound(lo)}, ${bound(hi)})`;
}

/** Every call `NAME(` of GoogleSQL `sql` outside lexemes (not a qualified name's tail), with its arguments. */
function calls(sql: string, name: RegExp, skip: Array<[number, number]>) {
  const out: Array<{ at: number; open: number; args: Array<[number, number]>; close: number }> = [];
  for (const m of sql.matchAll(name)) {
    const at = m.index!;
    if (skip.some(([s, e]) => at >= s && at < e) || /[\w.]/.test(sql[at - 1] ?? '')) continue;
    const open = at + m[0].length - 1;
    const a = callArgs(sql, open, skip);
    if (a) out.push({ at, open, ...a });
  }
  return out;
}

/** RANGE literals and CAST … AS RANGE<T> in GoogleSQL text, rewritten for polyglot (see the file comment). */
export function rangeLiterals(sql0: string): string {
  if (!/RANGE/i.test(sql0)) return sql0;
  let sql = rangeSessionize(sql0, lexemes(sql0));
  const literals: Edit[] = [];
  scan(sql, (kind, s, e) => {
    if (kind !== 'string') return;
    const head = LITERAL.exec(sql.slice(Math.max(0, s - 30), s));
    const bounds = head && BOUNDS.exec(sql.slice(s + 1, e - 1));
    if (head && bounds) literals.push([s - head[0].length, e, rangeCall(head[1].toUpperCase(), bounds[1], bounds[2])]);
  });
  sql = apply(sql, literals);
  // CAST(x AS RANGE<T>): innermost first is not needed (a RANGE is not cast to a RANGE), one pass.
  let skip = lexemes(sql);
  const casts: Edit[] = [];
  for (const c of calls(sql, /\b(?:SAFE_)?CAST\s*\(/gi, skip)) {
    const inner = sql.slice(c.open + 1, c.close);
    const tail = CAST_TAIL.exec(inner);
    if (!tail) continue;
    const t = tail[1].toUpperCase();
    const x = inner.slice(0, tail.index).trim();
    const lit = /^'([^'\\]*)'$/.exec(x);
    const bounds = lit && BOUNDS.exec(lit[1]);
    const safe = /^SAFE_/i.test(sql.slice(c.at, c.open));
    const text = bounds && !safe ? rangeCall(t, bounds[1], bounds[2]) : `${safe ? 'SAFE.' : ''}RANGE_PARSE_${t}(${x})`;
    casts.push([c.at, c.close + 1, text]);
  }
  sql = apply(sql, casts);
  skip = lexemes(sql);
  const renames: Edit[] = [];
  const arg = (a: [number, number]) => sql.slice(a[0], a[1]);
  for (const c of calls(sql, /\bRANGE\s*\(/gi, skip)) {
    if (c.args.length === 2 && c.args.some((a) => DATETIME_BOUND.test(arg(a)))) renames.push([c.at, c.open, 'RANGE_DATETIME']);
  }
  for (const c of calls(sql, /\bRANGE_CONTAINS\s*\(/gi, skip)) {
    if (c.args.length === 2 && RANGE_ARG.test(arg(c.args[1]))) renames.push([c.at, c.open, 'RANGE_CONTAINS_RANGE']);
  }
  for (const c of calls(sql, /\bGENERATE_RANGE_ARRAY\s*\(/gi, skip)) {
    if (DATE_RANGE_ARG.test(arg(c.args[0]))) renames.push([c.at, c.open, 'GENERATE_RANGE_ARRAY_DATE']);
  }
  sql = apply(sql, renames);
  // Any other RANGE<T> is a type (a column of CREATE TABLE, ARRAY<RANGE<T>>): the struct itself.
  skip = lexemes(sql);
  const types: Edit[] = [];
  for (const m of sql.matchAll(/\bRANGE\s*<\s*(DATE|DATETIME|TIMESTAMP)\s*>/gi)) {
    if (skip.some(([s0, e]) => m.index! >= s0 && m.index! < e)) continue;
    const t = m[1].toUpperCase();
    const bound = t === 'DATE' ? 'DATE' : 'TIMESTAMP';
    types.push([m.index!, m.index! + m[0].length, `STRUCT<\`$range_start\` ${bound}, \`$range_end\` ${bound}${t === 'DATETIME' ? ', \`$datetime\` BOOL' : ''}>`]);
  }
  return apply(sql, types);
}

const S = '"$range_start"';
const E = '"$range_end"';
/** A failing cast: BigQuery's error for `why` as a DuckDB evaluation error (TRY, BigQuery's SAFE., turns it into NULL). */
const fail = (why: string) => `CAST('${why.replace(/'/g, "''")}' AS INTEGER)`;
/** `a` where `ok`, else an error of `why`, keeping a's type (`[a][<failing index>]`). */
const checked = (ok: string, a: string, why: string) => `CASE WHEN ${ok} THEN ${a} ELSE [${a}][${fail(why)}] END`;
/** The bounds of RANGE(lo, hi) with one common type (a NULL bound takes the other's). */
const bounds = (lo: string, hi: string) => `'$range_start': CASE WHEN false THEN ${hi} ELSE ${lo} END, '$range_end': CASE WHEN false THEN ${lo} ELSE ${hi} END`;
const ORDERED = 'lo IS NULL OR hi IS NULL OR lo < hi';
const BOUND_ERR = 'RANGE: the lower bound must be less than the upper bound';
/** The parts of a RANGE text `[lo, hi)` (https://cloud.google.com/bigquery/docs/reference/standard-sql/conversion_functions#cast_as_range). */
const PART = (i: number) => `nullif(nullif(regexp_extract(s, '^\\[\\s*([^,]*?)\\s*,\\s*([^,]*?)\\s*\\)$', ${i}), 'UNBOUNDED'), 'NULL')`;
const parse = (t: string, wrap: (lo: string, hi: string) => string) => ['s', `CASE WHEN s IS NULL THEN NULL
  WHEN NOT regexp_full_match(s, '\\[\\s*[^,]*?\\s*,\\s*[^,]*?\\s*\\)') THEN [${wrap(`CAST(NULL AS ${t})`, `CAST(NULL AS ${t})`)}][${fail('Invalid RANGE value: expected [lower, upper)')}]
  ELSE ${wrap(`CAST(${PART(1)} AS ${t})`, `CAST(${PART(2)} AS ${t})`)} END`] as [string, string];
const range = (lo: string, hi: string) => `memory.main.bq_range(${lo}, ${hi})`;
const rangeDatetime = (lo: string, hi: string) => `memory.main.bq_range_datetime(${lo}, ${hi})`;
/** Subranges of r by `step` from its start; the last, shorter one when `last` (#generate_range_array). */
const split = (cast: (x: string) => string) => ['r, step, last := true', `CASE WHEN r IS NULL OR step IS NULL OR last IS NULL THEN NULL
  WHEN r.${S} IS NULL OR r.${E} IS NULL THEN [[r]][${fail('GENERATE_RANGE_ARRAY: the range must have a lower and an upper bound')}]
  WHEN NOT (r.${S} + step > r.${S}) THEN [[r]][${fail('GENERATE_RANGE_ARRAY: the step must be a positive interval')}]
  ELSE list_transform(list_filter(generate_series(r.${S}, r.${E}, step), lambda x: x < r.${E} AND (last OR x + step <= r.${E})),
    lambda x: struct_update(r, ${S} := ${cast('x')}, ${E} := ${cast(`least(x + step, r.${E})`)})) END`] as [string, string];

/** NULL bounds are unbounded: a NULL start is before every value, a NULL end after every value. */
export const RANGE_MACROS: Record<string, [string, string]> = {
  // #range: lower < upper, else an error
  RANGE: ['lo, hi', checked(ORDERED, `{${bounds('lo', 'hi')}}`, BOUND_ERR)],
  RANGE_DATETIME: ['lo, hi', checked(ORDERED, `{${bounds('lo', 'hi')}, '$datetime': NULL::BOOLEAN}`, BOUND_ERR)],
  RANGE_PARSE_DATE: parse('DATE', range),
  RANGE_PARSE_DATETIME: parse('TIMESTAMP', rangeDatetime),
  RANGE_PARSE_TIMESTAMP: parse('TIMESTAMPTZ', range),
  // r's RANGE type (its DATETIME mark included) with other bounds: RANGE_SESSIONIZE's session_range (range-sessionize.ts)
  RANGE_WITH: ['r, lo, hi', `CASE WHEN r IS NULL THEN NULL ELSE struct_update(r, ${S} := lo, ${E} := hi) END`],
  RANGE_START: ['r', `r.${S}`],
  RANGE_END: ['r', `r.${E}`],
  // #range_overlaps: some value is in both (ends are exclusive)
  RANGE_OVERLAPS: ['a, b', `CASE WHEN a IS NULL OR b IS NULL THEN NULL ELSE
    (a.${E} IS NULL OR b.${S} IS NULL OR b.${S} < a.${E}) AND (b.${E} IS NULL OR a.${S} IS NULL OR a.${S} < b.${E}) END`],
  // #range_intersect: the common part; an error when there is none
  RANGE_INTERSECT: ['a, b', `CASE WHEN a IS NULL OR b IS NULL THEN NULL ELSE ${checked('memory.main.bq_range_overlaps(a, b)',
    `struct_update(a, ${S} := greatest(a.${S}, b.${S}), ${E} := least(a.${E}, b.${E}))`, 'RANGE_INTERSECT: the ranges do not overlap')} END`],
  // #signature_1: b's values all in a; #signature_2 (RANGE_CONTAINS), the value in a
  RANGE_CONTAINS_RANGE: ['a, b', `CASE WHEN a IS NULL OR b IS NULL THEN NULL ELSE
    (a.${S} IS NULL OR (b.${S} IS NOT NULL AND a.${S} <= b.${S})) AND (a.${E} IS NULL OR (b.${E} IS NOT NULL AND b.${E} <= a.${E})) END`],
  RANGE_CONTAINS: ['a, x', `CASE WHEN a IS NULL OR x IS NULL THEN NULL ELSE
    (a.${S} IS NULL OR a.${S} <= x) AND (a.${E} IS NULL OR x < a.${E}) END`],
  // https://cloud.google.com/bigquery/docs/reference/standard-sql/mathematical_functions#range_bucket (numeric, not a RANGE):
  // the count of boundaries <= p; NULL for a NULL or NaN point; an error for a NULL or NaN boundary or an unsorted array
  RANGE_BUCKET: ['p, a', `CASE WHEN p IS NULL OR a IS NULL OR isnan(p::DOUBLE) THEN NULL
    WHEN list_count(a) < len(a) OR list_bool_or(list_transform(a, lambda e: isnan(e::DOUBLE))) THEN ${fail('RANGE_BUCKET: the array has a NULL or NaN element')}
    WHEN a <> list_sort(a) THEN ${fail('RANGE_BUCKET: the array is not sorted in ascending order')}
    ELSE len(list_filter(a, lambda e: e <= p)) END`],
  GENERATE_RANGE_ARRAY: (() => { const [p, body] = split((x) => x); return [p, `CASE WHEN typeof(r.${S}) = 'DATE' THEN [[r]][${fail('GENERATE_RANGE_ARRAY: the emulator cannot type this RANGE<DATE> (write it as a RANGE<DATE> literal or RANGE(DATE …))')}] ELSE ${body} END`]; })(),
  GENERATE_RANGE_ARRAY_DATE: split((x) => `CAST(${x} AS DATE)`),
};
