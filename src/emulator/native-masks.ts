/**
 * The gateway's masking rules (src/rewrite/masks.ts) at DuckDB's native speed in the emulator.
 *
 * The gateway sends BigQuery's GoogleSQL spellings of the rules upstream (real BigQuery evaluates
 * them itself; https://cloud.google.com/bigquery/docs/column-data-masking-intro#masking_options).
 * Translated to DuckDB by polyglot they become long chains that DuckDB evaluates for every row the
 * scan produces (before ORDER BY … LIMIT only up to the engine's late materialization threshold:
 * engine.ts LATE_MATERIALIZATION_ROWS). `nativeMasks` rewrites the translated DuckDB text by identities that hold for every
 * input, so the result is byte-identical to the chain it replaces wherever the spelling occurs:
 *
 * | translated spelling (GoogleSQL source) | native | why it is exact |
 * |---|---|---|
 * | `LOWER(HEX(UNHEX(SHA256(x))))` (`TO_HEX(SHA256(x))`: SHA256, HMAC_SHA256, RANDOM_HASH, the SHA256 fallbacks) | `SHA256(x)` | DuckDB's `sha256` of VARCHAR or BLOB is already the lowercase hex digest (https://duckdb.org/docs/stable/sql/functions/utility#sha256value); UNHEX∘HEX is the identity on it and LOWER of lowercase hex changes nothing; NULL stays NULL |
 * | `IF(REGEXP_MATCHES(c, '^[^@\s]+@[^@\s]+\.[^@\s]+$'), CONCAT('XXXXX', REGEXP_EXTRACT(c, '(@[^@\s]+)$', 1)), …)` (EMAIL_MASK; REGEXP_CONTAINS, polyglot-fixes.ts) | `IF(REGEXP_MATCHES(c, …), 'XXXXX' \|\| SUBSTRING(c, STRPOS(c, '@')), …)` | where the pattern matches, `c` holds exactly one `@` and nothing after it is `@` or blank, so the extracted group is `c` from its `@` on; `c` is not NULL there |
 *
 * DuckDB's built-ins are used rather than JavaScript scalar UDFs (@duckdb/node-api
 * `registerScalarFunction`): measured on this 2-core machine, a UDF hashing 10,000 strings with
 * node:crypto took 3–5× as long as DuckDB's own `sha256` (moving each value across the JS boundary
 * costs more than the hash). Only text outside string literals and quoted identifiers is matched.
 */

/** Lexical spans of DuckDB text that are not code: `'…'` strings (`''` escapes) and `"…"` identifiers. */
export function quotedSpans(sql: string): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let i = 0; i < sql.length; i++) {
    const c = sql[i];
    if (c !== "'" && c !== '"') continue;
    let j = i + 1;
    while (j < sql.length && !(sql[j] === c && sql[j + 1] !== c)) j += sql[j] === c ? 2 : 1;
    out.push([i, j + 1]);
    i = j;
  }
  return out;
}

/** Index just past the parenthesis that closes the one at `open`, skipping quoted spans; -1 if unbalanced. */
export function closing(sql: string, open: number, quoted: Array<[number, number]>): number {
  let depth = 0;
  let q = 0;
  for (let i = open; i < sql.length; i++) {
    while (q < quoted.length && quoted[q][1] <= i) q++;
    if (q < quoted.length && quoted[q][0] <= i) { i = quoted[q][1] - 1; continue; }
    if (sql[i] === '(') depth++;
    else if (sql[i] === ')' && --depth === 0) return i + 1;
  }
  return -1;
}

export const inQuoted = (at: number, quoted: Array<[number, number]>) => quoted.some(([s, e]) => at > s && at < e);

/**
 * `sql[from, to)` split at its top-level commas: not inside `skip` (the lexical spans of strings,
 * comments or quoted names, as the caller's dialect has them), nor inside (), [] or {}. The parts are
 * returned as written (untrimmed); one part when there is no such comma.
 */
export function topLevelCommaParts(sql: string, from: number, to: number, skip: Array<[number, number]>): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = from;
  const spans = [...skip].sort((a, b) => a[0] - b[0]);
  let k = 0;
  for (let i = from; i < to; i++) {
    // One pass over the sorted spans (linear in the text, not spans × characters).
    while (k < spans.length && spans[k][1] <= i) k++;
    if (k < spans.length && spans[k][0] <= i) { i = spans[k][1] - 1; continue; }
    if ('([{'.includes(sql[i])) depth++;
    else if (')]}'.includes(sql[i])) depth--;
    else if (sql[i] === ',' && depth === 0) { out.push(sql.slice(start, i)); start = i + 1; }
  }
  out.push(sql.slice(start, to));
  return out;
}

const HEX_OF_SHA = /LOWER\(HEX\(UNHEX\(SHA256\(/gi;

/** `LOWER(HEX(UNHEX(SHA256(x))))` → `SHA256(x)`, innermost first so nested digests (HMAC) fold too. */
function foldHexDigests(sql: string): string {
  for (;;) {
    const quoted = quotedSpans(sql);
    const hits = [...sql.matchAll(HEX_OF_SHA)].filter((m) => !inQuoted(m.index!, quoted) && !/[\w.]/.test(sql[m.index! - 1] ?? ''));
    let done = true;
    for (const m of hits.reverse()) {
      const at = m.index!;
      const shaOpen = at + m[0].length - 1;
      const shaEnd = closing(sql, shaOpen, quoted);
      if (shaEnd < 0 || sql.slice(shaEnd, shaEnd + 3) !== ')))') continue;
      sql = `${sql.slice(0, at)}SHA256${sql.slice(shaOpen, shaEnd)}${sql.slice(shaEnd + 3)}`;
      done = false;
      break; // offsets moved: rescan
    }
    if (done) return sql;
  }
}

/** EMAIL_MASK's translated spelling over one quoted column `c` (the rewrite masks columns by name). */
const EMAIL = /IF\(REGEXP_MATCHES\(("(?:[^"]|"")+"), '\^\[\^@\\s\]\+@\[\^@\\s\]\+\\\.\[\^@\\s\]\+\$'\), CONCAT\('XXXXX', (?:REGEXP_EXTRACT\(\1, '\(@\[\^@\\s\]\+\)\$', 1\)|memory\.main\.bq_regexp_extract\(\1, '\(@\[\^@\\s\]\+\)\$'\))\), /g; // or REGEXP_EXTRACT as native-functions.ts runs it

function foldEmailMasks(sql: string): string {
  const quoted = quotedSpans(sql);
  return sql.replace(EMAIL, (m, c: string, at: number) => (inQuoted(at, quoted) ? m
    : `IF(REGEXP_MATCHES(${c}, '^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$'), 'XXXXX' || SUBSTRING(${c}, STRPOS(${c}, '@')), `));
}

/** The translated DuckDB statement with the masking rules' spellings replaced by their native equivalents (table above). */
export function nativeMasks(duck: string): string {
  if (!/SHA256|REGEXP_MATCHES/i.test(duck)) return duck;
  return foldEmailMasks(foldHexDigests(duck));
}
