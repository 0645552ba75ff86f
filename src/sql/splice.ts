/**
 * Replacing table references in SQL text at the byte ranges ZetaSQL reported for their scans, keeping
 * the name the rest of the statement uses for them: an explicit alias stays where it is; an implicit
 * one (the table's own name) is added as `AS \`name\``; a `TABLE t` argument of a table-valued function
 * becomes the query argument `(<text>)`. Used to mask at the scan (rewrite/) and to
 * inline views (sql/).
 */
import { leafOf } from '../bigquery/table-path.js';
import { BigQueryError } from '../bigquery/errors.js';
import type { TableScan } from './walk.js';

import { quoteIdentifier } from './canonical.js';

/** A GoogleSQL quoted identifier or path: `` `name` `` (canonical.ts: `\`, `` ` `` and control characters escaped). */
export const quoteIdent = quoteIdentifier;

/** Whether the text after a table path starts with an explicit alias (`AS x` or `x`). */
export function hasExplicitAlias(after: string, alias: string): boolean {
  const rest = after.replace(/^(\s|--[^\n]*(\n|$)|#[^\n]*(\n|$)|\/\*[\s\S]*?\*\/)*/, '');
  if (/^AS\b/i.test(rest)) return true;
  const m = rest.match(/^(`[^`]+`|[A-Za-z_][A-Za-z0-9_]*)/);
  if (!m) return false;
  return m[1].replace(/`/g, '').toLowerCase() === alias.toLowerCase();
}

/**
 * Replaces each scan's table path by `(<text>)` plus the alias the statement needs. Throws
 * BigQueryError(accessDenied) when a scan has no parse location or two ranges overlap: the
 * statement is refused rather than sent half-rewritten.
 */
export function spliceScans(sql: string, items: Array<{ scan: TableScan; text: string }>, what: string): string {
  return spliceScansWithRanges(sql, items, what).sql;
}

/** Like spliceScans, also returning where each inserted `(<text>)` landed (UTF-8 byte offsets in the result). */
export function spliceScansWithRanges(sql: string, items: Array<{ scan: TableScan; text: string }>, what: string): { sql: string; ranges: Array<[number, number]> } {
  const bytes = Buffer.from(sql, 'utf8');
  const edits = items.map(({ scan, text }) => {
    if (scan.routine) {
      throw new BigQueryError('accessDenied', `Access Denied: the routine ${scan.routine} reads ${scan.table} in its body, which is not in the statement text, so bqgate cannot place the ${what} there; the query was not run. Read ${scan.table} directly instead.`);
    }
    if (scan.start === undefined || scan.end === undefined) {
      throw new BigQueryError('accessDenied', `Access Denied: bqgate could not place the ${what} for ${scan.table}; the query was not run.`);
    }
    // `TABLE t` as a table-valued function argument (ML.PREDICT(MODEL m, TABLE t)): the projection
    // replaces the whole `TABLE t` as a query argument, without alias.
    const tableArg = bytes.subarray(Math.max(0, scan.start - 64), scan.start).toString('utf8').match(/[(,]\s*(TABLE\s+)$/i);
    if (tableArg) return { start: scan.start - Buffer.byteLength(tableArg[1], 'utf8'), end: scan.end, text: `(${text})` };
    const alias = scan.alias || leafOf(scan.table);
    const after = bytes.subarray(scan.end).toString('utf8');
    return { start: scan.start, end: scan.end, text: `(${text})${hasExplicitAlias(after, alias) ? '' : ` AS ${quoteIdent(alias)}`}` };
  }).sort((x, y) => y.start - x.start);
  let out = bytes;
  let last = Infinity;
  for (const e of edits) {
    if (e.end > last) throw new BigQueryError('accessDenied', `Access Denied: overlapping table references; bqgate could not place the ${what} safely.`);
    out = Buffer.concat([out.subarray(0, e.start), Buffer.from(e.text, 'utf8'), out.subarray(e.end)]);
    last = e.start;
  }
  // Final positions: each edit shifts by the growth of every edit before it in the text.
  const ranges: Array<[number, number]> = [];
  let shift = 0;
  for (const e of [...edits].reverse()) {
    const len = Buffer.byteLength(e.text, 'utf8');
    ranges.push([e.start + shift, e.start + shift + len]);
    shift += len - (e.end - e.start);
  }
  return { sql: out.toString('utf8'), ranges };
}
