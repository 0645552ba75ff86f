/**
 * `expression.*` of a STRUCT in a select list (https://cloud.google.com/bigquery/docs/reference/standard-sql/query-syntax#select_expression_star):
 * every field of the STRUCT as a column. @polyglot-sql/sdk (0.12) writes it unchanged and DuckDB's
 * parser takes `x.*` only for a single name (a table or a STRUCT column), not for `l.location.*` or
 * `l.location[1].*`. DuckDB's `unnest(struct)` in a select list expands the fields as columns
 * (https://duckdb.org/docs/stable/sql/query_syntax/unnest#unnesting-structs), so `structStars` (DuckDB
 * text, after polyglot) writes such an item as `unnest(expression)`.
 *
 * Only a select-list item that is exactly `path.*` — a path of two or more names, or one ending in
 * `[…]` — is rewritten (after SELECT, DISTINCT or a comma, before a comma, FROM or the end); a
 * single name keeps DuckDB's own reading, and an item with EXCEPT / REPLACE is left as written.
 */
import { scan } from './translate.js';

const NAME = /(?:"(?:[^"]|"")*"|[A-Za-z_][A-Za-z0-9_]*)$/;

/** The start of the path ending just before `at` (`a.b`, `a.b[1]`, `a[1].c`), and whether it is a STRUCT path (see above); undefined if none. */
function pathStart(duck: string, at: number): number | undefined {
  let i = at;
  let parts = 0;
  let bracket = false;
  for (;;) {
    while (duck[i - 1] === ']') {
      let depth = 0;
      let k = i - 1;
      for (; k >= 0; k--) { if (duck[k] === ']') depth++; else if (duck[k] === '[' && --depth === 0) break; }
      if (k < 0) return undefined;
      i = k;
      bracket = true;
    }
    const m = duck.slice(0, i).match(NAME);
    if (!m) return undefined;
    i -= m[0].length;
    parts++;
    if (duck[i - 1] !== '.') break;
    i--;
  }
  return parts >= 2 || bracket ? i : undefined;
}

/**
 * A path's GoogleSQL subscripts polyglot leaves in it before `.*`: `[OFFSET(i)]` / `[SAFE_OFFSET(i)]`
 * as DuckDB's 1-based `[(i) + 1]`, `[ORDINAL(i)]` / `[SAFE_ORDINAL(i)]` as `[i]` (DuckDB answers NULL
 * out of range, as the SAFE_ forms do).
 */
const subscripts = (path: string) => path
  .replace(/\[\s*(?:SAFE_)?OFFSET\s*\(([^()[\]]*)\)\s*\]/gi, '[($1) + 1]')
  .replace(/\[\s*(?:SAFE_)?ORDINAL\s*\(([^()[\]]*)\)\s*\]/gi, '[$1]');

/** Each select-list item `path.*` of a STRUCT path in DuckDB text `duck` as `unnest(path)`. */
export function structStars(duck: string): string {
  if (!duck.includes('.*')) return duck;
  const quoted: Array<[number, number]> = [];
  scan(duck, (_k, s, e) => quoted.push([s, e]));
  const edits: Array<[number, number, string]> = [];
  for (let at = duck.indexOf('.*'); at >= 0; at = duck.indexOf('.*', at + 2)) {
    if (quoted.some(([s, e]) => at >= s && at < e)) continue;
    const start = pathStart(duck, at);
    if (start === undefined) continue;
    const before = duck.slice(0, start).trimEnd();
    const after = duck.slice(at + 2).trimStart();
    if (!/(?:\bSELECT|\bDISTINCT|,)$/i.test(before) || !/^(?:,|FROM\b|$|\))/i.test(after)) continue;
    edits.push([start, at + 2, `unnest(${subscripts(duck.slice(start, at))})`]);
  }
  let out = duck;
  for (const [s, e, text] of edits.reverse()) out = out.slice(0, s) + text + out.slice(e);
  return out;
}
