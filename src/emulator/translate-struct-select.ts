/**
 * `SELECT AS STRUCT …` (https://cloud.google.com/bigquery/docs/reference/standard-sql/query-syntax#select_as_struct):
 * one STRUCT value per row, its fields the select list's columns in order (names kept, anonymous
 * where the column has none). @polyglot-sql/sdk (0.12) writes `{'_0': *}` for `SELECT AS STRUCT *`
 * (DuckDB: "Can't pack nothing into a struct") and names anonymous fields `_0`, `_1`, ….
 *
 * `structSelects` rewrites, on GoogleSQL text before polyglot reads it, each `SELECT AS STRUCT body`
 * (one branch of a set operation: up to UNION / INTERSECT / EXCEPT, `;` or the closing parenthesis
 * at its level) to `SELECT bqgate_struct FROM (SELECT body) AS bqgate_struct`: a range variable
 * names the whole row as a STRUCT in GoogleSQL (query-syntax#range_variables) and in DuckDB alike,
 * so `*`, `t.*`, aliases and correlated references keep their meaning. An ORDER BY / LIMIT after the
 * last branch of a set operation is read as that branch's.
 */
import { bigQueryTokens, isString, type Tok } from './translate-divide.js';
import { inQuoted, quotedSpans } from './native-masks.js';

const word = (t: Tok | undefined) => (t && !isString(t) ? t.text.toUpperCase() : '');
const ROW = 'bqgate_struct';

/** Every `SELECT AS STRUCT` of GoogleSQL `sql` as a SELECT of its row (see above); the last first, so an inner one is done before its outer. */
export function structSelects(sql: string): string {
  if (!/\bAS\s+STRUCT\b/i.test(sql)) return sql;
  for (let round = 0; round < 1000; round++) {
    const ts = bigQueryTokens(sql);
    if (!ts) return sql;
    let i = ts.length - 1;
    while (i >= 0 && !(word(ts[i]) === 'SELECT' && word(ts[i + 1]) === 'AS' && word(ts[i + 2]) === 'STRUCT' && word(ts[i + 3]) !== '<' && !!ts[i + 3])) i--;
    if (i < 0) return sql;
    let depth = 0;
    let k = i + 3;
    for (; k < ts.length; k++) {
      const w = word(ts[k]);
      if (w === '(' || w === '[') depth++;
      else if (w === ')' || w === ']') { if (--depth < 0) break; }
      else if (depth === 0 && (w === 'UNION' || w === 'INTERSECT' || w === ';' || (w === 'EXCEPT' && word(ts[k - 1]) !== '*' && word(ts[k + 1]) !== '('))) break;
    }
    const [s, b, e] = [ts[i].start, ts[i + 3].start, ts[k - 1].end];
    sql = `${sql.slice(0, s)}SELECT ${ROW} FROM (SELECT ${namedItems(sql, ts, i + 3, k).slice(b)}) AS ${ROW}${sql.slice(e)}`;
  }
  return sql;
}

/**
 * `sql` up to token `end` with each anonymous item of the select list starting at token `from`
 * (an expression that is not a name path, `*` or aliased) given the name `_field_<n>`, the 1-based
 * position BigQuery's anonymous fields stand for (as params.ts names them): DuckDB would name it by
 * its text, and a set operation of structs with other field names would match them by name.
 */
function namedItems(sql: string, ts: Tok[], from: number, end: number): string {
  const items: Array<[number, number]> = [];
  let depth = 0;
  let start = from;
  let k = from;
  for (; k < end; k++) {
    const w = word(ts[k]);
    if (w === '(' || w === '[' || w === 'CASE') depth++;
    else if (w === ')' || w === ']' || w === 'END') depth--;
    else if (depth === 0 && (w === ',' || w === 'FROM')) { items.push([start, k - 1]); start = k + 1; if (w === 'FROM') break; }
  }
  if (k === end) items.push([start, end - 1]);
  const nameLike = (t: Tok | undefined) => !!t && !isString(t) && (t.type === 'QUOTED_IDENTIFIER' || /^[A-Za-z_]\w*$/.test(t.text));
  const edits: Array<[number, string]> = [];
  items.forEach(([s, e], n) => {
    const last = ts[e];
    const prev = e > s ? ts[e - 1] : undefined;
    if (!last || word(ts[s]) === '*' || word(last) === '*') return; // *, t.*, * EXCEPT (…)
    const named = nameLike(last) && !/^(?:NULL|TRUE|FALSE|END)$/.test(word(last))
      && (!prev || word(prev) === 'AS' || word(prev) === '.' || nameLike(prev) || /^[)\]]$/.test(word(prev)) || /STRING|NUMBER/.test(prev.type));
    if (!named) edits.push([last.end, ` AS _field_${n + 1}`]);
  });
  let out = sql.slice(0, ts[end - 1].end);
  for (const [at, text] of edits.reverse()) out = out.slice(0, at) + text + out.slice(at);
  return out;
}

const LIST_VALUE_QUERY = /\bLIST_VALUE\((\s*(?:SELECT|WITH)\b)/gi;

/**
 * `ARRAY(subquery)` whose subquery is a set operation (https://cloud.google.com/bigquery/docs/reference/standard-sql/array_functions#array):
 * polyglot writes `LIST_VALUE(SELECT … UNION ALL SELECT …)`, which DuckDB cannot parse; DuckDB's
 * own `ARRAY(subquery)` is BigQuery's. On DuckDB text (polyglot-fixes.ts), quoted spans skipped.
 */
export function arraySubqueries(duck: string): string {
  if (!/LIST_VALUE\(\s*(?:SELECT|WITH)\b/i.test(duck)) return duck;
  const quoted = quotedSpans(duck);
  return duck.replace(LIST_VALUE_QUERY, (m, q: string, at: number) => (inQuoted(at, quoted) || /[\w.]/.test(duck[at - 1] ?? '') ? m : `ARRAY(${q}`));
}
