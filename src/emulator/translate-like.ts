/**
 * The quantified LIKE, `x [NOT] LIKE ANY|SOME|ALL UNNEST(array)` or `… (pattern, …)`
 * (https://cloud.google.com/bigquery/docs/reference/standard-sql/operators#quantified_like_operator),
 * which @polyglot-sql/sdk (0.12) writes as `x LIKE UNNEST(array)` (the quantifier dropped; DuckDB:
 * "UNNEST not supported here"). `quantifiedLikes` (GoogleSQL, before polyglot) rewrites it to a
 * scalar subquery over the array's patterns with BigQuery's three-valued answer: ANY is TRUE when a
 * pattern matches, else NULL when a comparison is NULL, else FALSE (an empty array: FALSE); ALL is
 * FALSE when one does not match, else NULL when one is NULL, else TRUE (empty: TRUE). The left operand
 * is one unit as translate-divide.ts reads it (a name path, literal, call, or parenthesized group).
 * The list form `LIKE ANY|SOME|ALL ('a', 'b')` is read as the array `['a', 'b']` (DuckDB has no LIKE SOME); a
 * subquery `LIKE ANY (SELECT …)` is left as written (BigQuery refuses it).
 */
import { bigQueryTokens, forwardMatch, unitStart } from './translate-divide.js';

const word = (t: { text: string; type: string } | undefined) => (t && !/STRING/.test(t.type) ? t.text.toUpperCase() : '');

/** Every `x [NOT] LIKE ANY|SOME|ALL UNNEST(a)` of GoogleSQL `sql` as the subquery described above. */
export function quantifiedLikes(sql: string): string {
  if (!/\bLIKE\s+(?:ANY|SOME|ALL)\s*(?:UNNEST\s*)?\(/i.test(sql)) return sql;
  for (let round = 0; round < 1000; round++) {
    const ts = bigQueryTokens(sql);
    if (!ts) return sql;
    const i = ts.findIndex((t, k) => word(t) === 'LIKE' && /^(?:ANY|SOME|ALL)$/.test(word(ts[k + 1]))
      && (word(ts[k + 2]) === 'UNNEST' ? ts[k + 3]?.text === '(' : ts[k + 2]?.text === '(' && !/^(?:SELECT|WITH)$/.test(word(ts[k + 3]))));
    if (i < 0) return sql;
    const list = word(ts[i + 2]) !== 'UNNEST';
    const open = list ? i + 2 : i + 3;
    const not = word(ts[i - 1]) === 'NOT';
    const s = unitStart(ts, i - (not ? 2 : 1));
    const close = forwardMatch(ts, open);
    if (s < 0 || close < 0) return sql;
    const left = sql.slice(ts[s].start, ts[i - (not ? 2 : 1)].end);
    const array = list ? `([${sql.slice(ts[open].end, ts[close].start)}])` : sql.slice(ts[open].start, ts[close].end);
    const m = 'bqgate_like_m';
    const answer = word(ts[i + 1]) === 'ALL'
      ? `CASE WHEN LOGICAL_OR(NOT ${m}) THEN FALSE WHEN LOGICAL_OR(${m} IS NULL) THEN NULL ELSE TRUE END`
      : `CASE WHEN LOGICAL_OR(${m}) THEN TRUE WHEN LOGICAL_OR(${m} IS NULL) THEN NULL ELSE FALSE END`;
    const sub = `(SELECT ${answer} FROM (SELECT (${left}) ${not ? 'NOT ' : ''}LIKE bqgate_like_p AS ${m} FROM UNNEST${array} AS bqgate_like_p))`;
    sql = sql.slice(0, ts[s].start) + sub + sql.slice(ts[close].end);
  }
  return sql;
}
