/**
 * UNPIVOT's column order (https://cloud.google.com/bigquery/docs/reference/standard-sql/query-syntax#unpivot_operator):
 * BigQuery puts the value column(s) before the name column (`SELECT * FROM Produce UNPIVOT(sales FOR
 * quarter IN (Q1, Q2))` is product, sales, quarter); DuckDB, which reads the same clause (polyglot
 * passes it through), puts the name column first (product, quarter, sales), so `SELECT *` answered
 * the columns in another order than BigQuery.
 *
 * `unpivotOrder(duck)` rewrites, on the DuckDB text, each `from_item UNPIVOT [INCLUDE|EXCLUDE NULLS]
 * (… FOR name IN (…)) [[AS] alias]` to `(SELECT * EXCLUDE (name), name FROM from_item UNPIVOT(…))
 * [AS alias]`: the same rows, the name column moved last. The from_item starts after the nearest
 * FROM, JOIN or comma before UNPIVOT at the same parenthesis depth. Text it cannot read (no FOR … IN,
 * unbalanced parentheses) is left as it was.
 */
import { closing, inQuoted, quotedSpans } from './native-masks.js';

const UNPIVOT = /\bUNPIVOT\s*(?:(?:INCLUDE|EXCLUDE)\s+NULLS\s*)?\(/gi;
const CLAUSE = /^(WHERE|GROUP|ORDER|LIMIT|QUALIFY|HAVING|WINDOW|JOIN|LEFT|RIGHT|INNER|FULL|CROSS|ON|USING|UNION|EXCEPT|INTERSECT|UNPIVOT|PIVOT|OFFSET|TABLESAMPLE)$/i;

/** Where the from_item before `at` starts: just past the nearest FROM / JOIN / `,` at depth 0, or -1. */
function fromItemStart(duck: string, at: number, quoted: Array<[number, number]>): number {
  let depth = 0;
  for (let i = at - 1; i >= 0; i--) {
    if (inQuoted(i, quoted)) continue;
    const c = duck[i];
    if (c === ')') depth++;
    else if (c === '(') { if (depth-- === 0) return -1; }
    else if (depth === 0) {
      if (c === ',') return i + 1;
      const w = /\b(FROM|JOIN)$/i.exec(duck.slice(Math.max(0, i - 3), i + 1));
      if (w && !/\w/.test(duck[i + 1] ?? '')) return i + 1;
    }
  }
  return -1;
}

/** One rewrite: the first UNPIVOT not rewritten yet, or undefined when none is left. */
function rewriteOne(duck: string): string | undefined {
  const quoted = quotedSpans(duck);
  for (const m of duck.matchAll(UNPIVOT)) {
    const at = m.index!;
    if (inQuoted(at, quoted)) continue;
    const open = at + m[0].length - 1;
    const end = closing(duck, open, quoted);
    const name = end < 0 ? undefined : /\bFOR\s+("(?:[^"]|"")+"|\w+)\s+IN\b/i.exec(duck.slice(open, end))?.[1];
    const start = name ? fromItemStart(duck, at, quoted) : -1;
    if (start < 0) continue;
    const wrap = `(SELECT * EXCLUDE (${name}), ${name} FROM `;
    const lead = duck.slice(start, end).match(/^\s*/)![0];
    if (duck.slice(0, start).endsWith(wrap.slice(0, -1))) continue; // rewritten already: its from_item starts after the wrapper's FROM
    const alias = /^\s+(?:AS\s+)?("(?:[^"]|"")+"|\w+)/i.exec(duck.slice(end));
    const taken = alias && !CLAUSE.test(alias[1]) ? alias[0] : '';
    return `${duck.slice(0, start)}${lead}${wrap}${duck.slice(start + lead.length, end)})${taken}${duck.slice(end + taken.length)}`;
  }
  return undefined;
}

/** See the module comment. */
export function unpivotOrder(duck: string): string {
  if (!/\bUNPIVOT\b/i.test(duck)) return duck;
  for (let next = rewriteOne(duck); next !== undefined; next = rewriteOne(duck)) duck = next;
  return duck;
}
