/**
 * GoogleSQL syntax @polyglot-sql/sdk (0.12) translates to DuckDB with another meaning or not at
 * all, fixed around it (each an upstream bug to report to polyglot):
 *
 * 1. `UNNEST(e) [AS] x WITH OFFSET [[AS] pos]` (https://cloud.google.com/bigquery/docs/reference/standard-sql/query-syntax#unnest_operator):
 *    polyglot writes `UNNEST(e) WITH ORDINALITY AS x`, dropping the offset column ("column pos not
 *    found") and, were it kept, counting from 1. `unnestWithOffset` rewrites the GoogleSQL before
 *    polyglot reads it to `(SELECT (e)[OFFSET(o)] AS x, o AS pos FROM UNNEST(GENERATE_ARRAY(0,
 *    ARRAY_LENGTH(e) - 1)) AS o)`: one row per element in order with its 0-based offset; an empty
 *    or NULL array gives no row, as BigQuery's UNNEST does. The offset's name defaults to `offset`.
 *
 * 2. `ARRAY_AGG(… ORDER BY … LIMIT n)` (https://cloud.google.com/bigquery/docs/reference/standard-sql/aggregate_functions#array_agg):
 *    polyglot keeps the LIMIT inside the call, which DuckDB cannot parse. `aggregateLimits`
 *    rewrites the DuckDB text to `list_slice(ARRAY_AGG(…), 1, n)`: the first n of the ordered list.
 *
 * 3. Date parts (https://cloud.google.com/bigquery/docs/reference/standard-sql/date_functions#extract):
 *    polyglot passes `EXTRACT(DAYOFWEEK | WEEK | WEEK(<WEEKDAY>) | ISOWEEK | ISOYEAR FROM d)` and
 *    `DATE_TRUNC` parts through (those are fixed in translate-datetime.ts). DuckDB's dayofweek counts 0–6
 *    from Sunday where BigQuery counts 1–7; BigQuery's WEEK(<WEEKDAY>) is the week number [0, 53]
 *    with weeks starting on that day (days before its first one in week 0), i.e.
 *    `(dayofyear - 1 + 7 - (dayofweek - k + 7) % 7) // 7` for weekday k (Sunday 0), WEEK being
 *    WEEK(SUNDAY); ISOWEEK/ISOYEAR are DuckDB's `week`/`isoyear`.
 *    `datePartFixes` rewrites those on the DuckDB text.
 */
import { BigQueryError } from '../bigquery/errors.js';
import { scan } from './translate.js';
import { closing, inQuoted, quotedSpans, topLevelCommaParts } from './native-masks.js';

const KEYWORDS = new Set(['WHERE', 'JOIN', 'ON', 'USING', 'LEFT', 'RIGHT', 'INNER', 'CROSS', 'FULL', 'GROUP', 'ORDER', 'LIMIT', 'WINDOW', 'QUALIFY', 'HAVING', 'UNION', 'EXCEPT', 'INTERSECT', 'WITH', 'AS', 'SELECT', 'FROM', 'OFFSET']);
const UNNEST = /\bUNNEST\s*\(/gi;

/** (1) above, on GoogleSQL text (strings, comments, backticks skipped). */
export function unnestWithOffset(sql: string): string {
  if (!/\bWITH\s+OFFSET\b/i.test(sql)) return sql;
  const skip: Array<[number, number]> = [];
  scan(sql, (_k, s, e) => skip.push([s, e]));
  const inSkip = (at: number) => skip.some(([s, e]) => at >= s && at < e);
  for (const m of [...sql.matchAll(UNNEST)].reverse()) {
    const at = m.index!;
    if (inSkip(at) || /[\w.]/.test(sql[at - 1] ?? '')) continue;
    const open = at + m[0].length - 1;
    const end = closing(sql, open, skip);
    if (end < 0) continue;
    const tail = /^(\s+(?:AS\s+)?([A-Za-z_][A-Za-z0-9_]*))?\s+WITH\s+OFFSET\b(\s+(?:AS\s+)?([A-Za-z_][A-Za-z0-9_]*))?/i.exec(sql.slice(end));
    if (!tail || !tail[2] || KEYWORDS.has(tail[2].toUpperCase())) continue;
    let used = tail[0].length;
    let pos: string | undefined = tail[4];
    if (pos && KEYWORDS.has(pos.toUpperCase()) && !/\bAS\s/i.test(tail[3])) { used -= tail[3].length; pos = undefined; }
    const e = sql.slice(open + 1, end - 1);
    const o = 'bqgate_offset';
    const sub = `(SELECT (${e})[OFFSET(${o})] AS ${tail[2]}, ${o} AS ${pos ?? '`offset`'} FROM UNNEST(GENERATE_ARRAY(0, ARRAY_LENGTH(${e}) - 1)) AS ${o})`;
    sql = sql.slice(0, at) + sub + sql.slice(end + used);
  }
  return sql;
}

const ARRAY_AGG = /\bARRAY_AGG\(/gi;

/** (2) above, on DuckDB text. */
export function aggregateLimits(duck: string): string {
  if (!/\bLIMIT\s+\d+\s*\)/i.test(duck)) return duck;
  const quoted = quotedSpans(duck);
  const edits: Array<[number, number, string]> = [];
  for (const m of duck.matchAll(ARRAY_AGG)) {
    const at = m.index!;
    if (inQuoted(at, quoted) || /[\w.]/.test(duck[at - 1] ?? '')) continue;
    const end = closing(duck, at + m[0].length - 1, quoted);
    if (end < 0) continue;
    const inner = duck.slice(at + m[0].length, end - 1);
    const lim = /\s+LIMIT\s+(\d+)\s*$/i.exec(inner);
    if (!lim) continue;
    // IGNORE NULLS: polyglot writes a FILTER (WHERE …) after the call, which belongs to the aggregate inside list_slice
    const filter = /^\s*FILTER\s*\(/i.exec(duck.slice(end));
    const to = filter ? closing(duck, end + filter[0].length - 1, quoted) : end;
    if (to < 0) continue;
    edits.push([at, to, `list_slice(ARRAY_AGG(${inner.slice(0, lim.index)})${duck.slice(end, to)}, 1, ${lim[1]})`]);
  }
  let out = duck;
  for (const [s, e, text] of edits.reverse()) out = out.slice(0, s) + text + out.slice(e);
  return out;
}

const WEEKDAYS = ['SUNDAY', 'MONDAY', 'TUESDAY', 'WEDNESDAY', 'THURSDAY', 'FRIDAY', 'SATURDAY'];
const EXTRACT = /\bEXTRACT\((DAYOFWEEK|ISOWEEK|ISOYEAR|WEEK(?:\((SUNDAY|MONDAY|TUESDAY|WEDNESDAY|THURSDAY|FRIDAY|SATURDAY)\))?) FROM /gi;

/** (3) above, on DuckDB text. */
export function datePartFixes(duck: string): string {
  if (!/DAYOFWEEK|WEEK|ISOYEAR/i.test(duck)) return duck;
  const quoted = quotedSpans(duck);
  const edits: Array<[number, number, string]> = [];
  for (const m of duck.matchAll(EXTRACT)) {
    const at = m.index!;
    if (inQuoted(at, quoted) || /[\w.]/.test(duck[at - 1] ?? '')) continue;
    const end = closing(duck, at + 'EXTRACT'.length, quoted);
    if (end < 0) continue;
    const x = duck.slice(at + m[0].length, end - 1);
    const part = m[1].toUpperCase();
    const k = part === 'WEEK' ? 0 : WEEKDAYS.indexOf((m[2] ?? '').toUpperCase());
    const text = part === 'DAYOFWEEK' ? `(EXTRACT(dayofweek FROM ${x}) + 1)`
      : part === 'ISOWEEK' ? `EXTRACT(week FROM ${x})`
        : part === 'ISOYEAR' ? `EXTRACT(isoyear FROM ${x})`
          : `((EXTRACT(dayofyear FROM ${x}) - 1 + 7 - (EXTRACT(dayofweek FROM ${x}) - ${k} + 7) % 7) // 7)`;
    edits.push([at, end, text]);
  }
  let out = duck;
  for (const [s, e, text] of edits.filter(([s], i, all) => !all.some(([s2, e2], j) => j !== i && s > s2 && s < e2)).reverse()) out = out.slice(0, s) + text + out.slice(e);
  return out;
}

/** Top-level comma-separated parts of GoogleSQL `text` (its strings, comments and quoted names skipped). */
function topLevelParts(text: string): string[] {
  const skip: Array<[number, number]> = [];
  scan(text, (_k, s, e) => skip.push([s, e]));
  return topLevelCommaParts(text, 0, text.length, skip);
}

/** `name` as a whole identifier in the code of `expr` (not a field `x.name`, a parameter or a call) replaced by `(value)`. */
function substitute(expr: string, name: string, value: string): { text: string; uses: number } {
  const skip: Array<[number, number]> = [];
  scan(expr, (_k, s, e) => skip.push([s, e]));
  let uses = 0;
  const text = expr.replace(new RegExp(`\\b${name}\\b`, 'gi'), (m, at: number) => {
    if (skip.some(([s, e]) => at >= s && at < e) || /[.@$]/.test(expr[at - 1] ?? '') || /^\s*[.(]/.test(expr.slice(at + m.length))) return m;
    uses++;
    return `(${value})`;
  });
  return { text, uses };
}

/** `text` with its comments replaced by a space. */
function uncommented(text: string): string {
  const spans: Array<[number, number]> = [];
  scan(text, (k, s, e) => { if (k === 'comment') spans.push([s, e]); });
  for (const [s, e] of spans.reverse()) text = `${text.slice(0, s)} ${text.slice(e)}`;
  return text;
}

const VOLATILE = /\b(RAND|GENERATE_UUID)\s*\(/i;

/**
 * 4. The WITH expression `WITH(a AS e1, b AS e2, result)` (https://cloud.google.com/bigquery/docs/reference/standard-sql/operators#with_expression):
 *    polyglot cannot read it ("Unexpected token: With"). Each variable is replaced, in order, by its
 *    parenthesized expression in the later variables and the result, on the GoogleSQL text before
 *    polyglot reads it: the same value, as every expression but a volatile one is a function of its
 *    inputs. A volatile variable (RAND(), GENERATE_UUID()) used more than once would be evaluated once
 *    per use, so it is refused (invalidQuery) rather than answered differently.
 */
export function withExpressions(sql: string): string {
  if (!/\bWITH\s*\(/i.test(sql)) return sql;
  for (const m of [...sql.matchAll(/\bWITH\s*\(/gi)].reverse()) {
    const at = m.index!;
    const skip: Array<[number, number]> = []; // again for each: a replacement after `at` moved the spans
    scan(sql, (_k, s, e) => skip.push([s, e]));
    if (skip.some(([s, e]) => at >= s && at < e) || /[\w.]/.test(sql[at - 1] ?? '')) continue;
    const open = at + m[0].length - 1;
    const end = closing(sql, open, skip);
    if (end < 0) continue;
    const parts = topLevelParts(sql.slice(open + 1, end - 1)).map(uncommented);
    const vars = parts.slice(0, -1).map((p) => /^\s*([A-Za-z_][A-Za-z0-9_]*)\s+AS\s+([\s\S]+)$/i.exec(p));
    if (!parts.length || vars.some((v) => !v)) continue;
    let rest = parts.slice(1).map((p, i) => (i < vars.length - 1 ? vars[i + 1]![2] : p));
    for (let i = 0; i < vars.length; i++) {
      const name = vars[i]![1];
      const value = i === 0 ? vars[0]![2] : rest[i - 1]; // with the earlier variables already replaced
      let uses = 0;
      rest = rest.map((r, j) => { if (j < i) return r; const s = substitute(r, name, value.trim()); uses += s.uses; return s.text; });
      if (uses > 1 && VOLATILE.test(value)) throw new BigQueryError('invalidQuery', `The emulator cannot run the WITH expression: its variable ${name} is volatile (RAND, GENERATE_UUID) and used ${uses} times; compute it once in a subquery`, { location: 'query' });
    }
    sql = `${sql.slice(0, at)}(${rest.at(-1)!.trim()})${sql.slice(end)}`;
  }
  return sql;
}

const FULL_BY_NAME = /\bFULL\s+(?:OUTER\s+)?UNION(\s+ALL|\s+DISTINCT)?\s+BY\s+NAME\b(?!\s+ON\b)/gi;

/**
 * 5. `FULL [OUTER] UNION ALL|DISTINCT BY NAME` (https://cloud.google.com/bigquery/docs/reference/standard-sql/query-syntax#set_operators):
 *    polyglot passes the mode through, which DuckDB cannot parse. BigQuery's full mode keeps every
 *    column of either side, the left's first, NULL where a side lacks one: DuckDB's own
 *    `UNION [ALL] BY NAME` (https://duckdb.org/docs/stable/sql/query_syntax/setops#union-all-by-name).
 *    The other modes (INNER, LEFT, `BY NAME ON (…)`) and INTERSECT/EXCEPT BY NAME are not rewritten.
 */
export function fullUnionByName(duck: string): string {
  if (!/\bFULL\b/i.test(duck)) return duck;
  const quoted = quotedSpans(duck);
  return duck.replace(FULL_BY_NAME, (m, q: string | undefined, at: number) =>
    (inQuoted(at, quoted) ? m : `UNION${q && /ALL/i.test(q) ? ' ALL' : ''} BY NAME`));
}
