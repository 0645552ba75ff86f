/**
 * RANGE_SESSIONIZE(TABLE t, 'range_column', ['partition_column', …][, 'MEETS' | 'OVERLAPS']), the range TVF
 * (https://cloud.google.com/bigquery/docs/reference/standard-sql/range-functions#range_sessionize), as a GoogleSQL
 * subquery written before polyglot reads the statement (`rangeSessionize`): every input row with `session_range`, the
 * union of the ranges of its session. Within a partition, ordered by range start (UNBOUNDED first), a row opens a new
 * session unless its start is before (OVERLAPS) or at most (MEETS, the default) the greatest end of the rows before it
 * (an UNBOUNDED end is after everything). The session's range keeps the column's RANGE type (RANGE_WITH, a struct_update).
 * Window frames are ROWS frames over a total order, so the answer does not depend on ties.
 */
import { closing } from './native-masks.js';

const BQ = (name: string) => `\`${name.replace(/[`\\]/g, '\\$&')}\``;
const STRING = /^\s*(?:'([^'\\]*)'|"([^"\\]*)")\s*$/;

/** `[start, end)` spans of the call's top-level arguments (`open`: its `(`), skipping `skip` spans. */
function splitArgs(sql: string, open: number, close: number, skip: Array<[number, number]>): string[] {
  const out: string[] = [];
  let depth = 0; let from = open + 1;
  for (let i = open + 1; i < close; i++) {
    const lex = skip.find(([s, e]) => i >= s && i < e);
    if (lex) { i = lex[1] - 1; continue; }
    if ('([{'.includes(sql[i])) depth++;
    else if (')]}'.includes(sql[i])) depth--;
    else if (sql[i] === ',' && depth === 0) { out.push(sql.slice(from, i)); from = i + 1; }
  }
  out.push(sql.slice(from, close));
  return out;
}

/** The subquery for one call's arguments, or undefined when they are not literal as the TVF requires (left to fail). */
function sessionized(args: string[]): string | undefined {
  if (args.length < 3 || args.length > 4) return undefined;
  const table = /^\s*TABLE\s+([\s\S]+?)\s*$/i.exec(args[0]);
  const column = STRING.exec(args[1]);
  const parts = /^\s*\[([\s\S]*)\]\s*$/.exec(args[2]);
  const option = args[3] === undefined ? 'MEETS' : STRING.exec(args[3])?.slice(1).find((x) => x !== undefined)?.toUpperCase();
  if (!table || !column || !parts || (option !== 'MEETS' && option !== 'OVERLAPS')) return undefined;
  const names = parts[1].trim() ? parts[1].split(',').map((p) => STRING.exec(p)?.slice(1).find((x) => x !== undefined)) : [];
  if (names.some((n) => n === undefined)) return undefined;
  const col = BQ(column[1] ?? column[2]);
  const by = names.length ? `PARTITION BY ${names.map((n) => BQ(n!)).join(', ')} ` : '';
  const order = `ORDER BY RANGE_START(${col}) ASC NULLS FIRST, RANGE_END(${col}) ASC NULLS LAST`;
  const before = `OVER (${by}${order} ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)`;
  const opens = `CASE WHEN COUNT(*) ${before} = 0 THEN 1 WHEN LOGICAL_OR(RANGE_END(${col}) IS NULL) ${before} THEN 0
    WHEN RANGE_START(${col}) IS NULL THEN 0 WHEN RANGE_START(${col}) ${option === 'MEETS' ? '>' : '>='} MAX(RANGE_END(${col})) ${before} THEN 1 ELSE 0 END`;
  const session = `OVER (PARTITION BY ${[...names.map((n) => BQ(n!)), 'bqgate_session__'].join(', ')})`;
  const bound = (f: string, agg: string) => `IF(LOGICAL_OR(${f}(${col}) IS NULL) ${session}, NULL, ${agg}(${f}(${col})) ${session})`;
  return `(SELECT * EXCEPT (bqgate_session__, bqgate_opens__), RANGE_WITH(${col}, ${bound('RANGE_START', 'MIN')}, ${bound('RANGE_END', 'MAX')}) AS session_range
  FROM (SELECT *, SUM(bqgate_opens__) OVER (${by}${order} ROWS UNBOUNDED PRECEDING) AS bqgate_session__
    FROM (SELECT *, ${opens} AS bqgate_opens__ FROM ${table[1]})))`;
}

/** Every `RANGE_SESSIONIZE(…)` call of GoogleSQL `sql` (outside `skip` spans: strings, comments, backticks) as its subquery. */
export function rangeSessionize(sql: string, skip: Array<[number, number]>): string {
  const edits: Array<[number, number, string]> = [];
  for (const m of sql.matchAll(/\bRANGE_SESSIONIZE\s*\(/gi)) {
    const at = m.index!;
    if (skip.some(([s, e]) => at >= s && at < e) || /[\w.]/.test(sql[at - 1] ?? '')) continue;
    const open = at + m[0].length - 1;
    const close = closing(sql, open, skip) - 1;
    const sub = close > 0 ? sessionized(splitArgs(sql, open, close, skip)) : undefined;
    if (sub) edits.push([at, close + 1, sub]);
  }
  let out = sql;
  for (const [s, e, text] of edits.reverse()) out = out.slice(0, s) + text + out.slice(e);
  return out;
}
