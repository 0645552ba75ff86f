/**
 * Where @polyglot-sql/sdk (0.12) translates GoogleSQL to DuckDB with another meaning, fixed on its
 * output (`polyglotFixes`, applied by translate.ts to every statement). Each is an upstream bug to
 * report to polyglot.
 *
 * 1. `REGEXP_CONTAINS(s, re)` becomes `REGEXP_FULL_MATCH(s, re)`: a whole-string match, where
 *    BigQuery's is partial (https://cloud.google.com/bigquery/docs/reference/standard-sql/string_functions#regexp_contains):
 *    `REGEXP_CONTAINS('abc', 'b')` was FALSE. DuckDB's partial match is `REGEXP_MATCHES`
 *    (https://duckdb.org/docs/stable/sql/functions/regular_expressions), both RE2. GoogleSQL has no
 *    REGEXP_FULL_MATCH of its own, so every call in the output came from REGEXP_CONTAINS.
 *
 * 2. `CAST(x AS BYTES)` with BigQuery's meaning in DuckDB. BigQuery casts a STRING to BYTES as its
 * UTF-8 encoding (https://cloud.google.com/bigquery/docs/reference/standard-sql/conversion_functions#cast_bytes);
 * polyglot writes `CAST(x AS BLOB)`, which DuckDB reads as an escape-parsing conversion: it refuses
 * any non-ASCII character ("Invalid byte encountered in STRING -> BLOB conversion") and turns the
 * four characters `\x41` into the one byte `A` — so HMAC_SHA256 / RANDOM_HASH masks failed on
 * non-ASCII values and two different strings could hash alike.
 *
 *    `utf8Casts` rewrites every `CAST(e AS BLOB)` in the translated text to
 * `CASE TYPEOF(e) WHEN 'VARCHAR' THEN ENCODE(CAST(e AS VARCHAR)) ELSE CAST(e AS BLOB) END`:
 * DuckDB folds the CASE at bind time by `e`'s type (both branches bind for any type), so a VARCHAR
 * is encoded as UTF-8 (https://duckdb.org/docs/stable/sql/functions/text#encodestring) and every
 * other type casts as before.
 */
import { closing, inQuoted, quotedSpans } from './native-masks.js';
import { nativeCalls } from './translate-functions.js';
import { aggregateLimits, datePartFixes, fullUnionByName } from './translate-syntax.js';
import { dateTimeFixes } from './translate-datetime.js';
import { unpivotOrder } from './translate-unpivot.js';
import { arraySubqueries } from './translate-struct-select.js';

const CAST = /\bCAST\(/gi;

/** (2) above. */
export function utf8Casts(duck: string): string {
  if (!/ AS BLOB\)/i.test(duck)) return duck;
  const quoted = quotedSpans(duck);
  const edits: Array<[number, number, string]> = [];
  for (const m of duck.matchAll(CAST)) {
    const at = m.index!;
    if (inQuoted(at, quoted) || /[\w.]/.test(duck[at - 1] ?? '')) continue;
    const end = closing(duck, at + 4, quoted);
    if (end < 0 || !/ AS BLOB\)$/i.test(duck.slice(at, end))) continue;
    if (edits.some(([s, e]) => at > s && at < e)) continue; // inside a cast already rewritten: done with the outer one
    const e = duck.slice(at + 5, end - ' AS BLOB)'.length);
    edits.push([at, end, `CASE TYPEOF(${utf8Casts(e)}) WHEN 'VARCHAR' THEN ENCODE(CAST(${utf8Casts(e)} AS VARCHAR)) ELSE CAST(${utf8Casts(e)} AS BLOB) END`]);
  }
  let out = duck;
  for (const [s, e, text] of edits.reverse()) out = out.slice(0, s) + text + out.slice(e);
  return out;
}

const FULL_MATCH = /\bREGEXP_FULL_MATCH\(/gi;

/** (1) above: `REGEXP_FULL_MATCH(` outside quotes → `REGEXP_MATCHES(`. */
export function regexpContains(duck: string): string {
  if (!/REGEXP_FULL_MATCH/i.test(duck)) return duck;
  const quoted = quotedSpans(duck);
  return duck.replace(FULL_MATCH, (m, at: number) => (inQuoted(at, quoted) || /[\w.]/.test(duck[at - 1] ?? '') ? m : 'REGEXP_MATCHES('));
}

/** Every fix above, on one translated statement. */
export const polyglotFixes = (duck: string): string => arraySubqueries(unpivotOrder(fullUnionByName(dateTimeFixes(datePartFixes(aggregateLimits(nativeCalls(regexpContains(utf8Casts(duck)))))))));
