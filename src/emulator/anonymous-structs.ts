/**
 * Anonymous STRUCTs (`STRUCT('blue', 'square')`, `('blue', 'square')` as a STRUCT): BigQuery gives
 * their fields the names of the STRUCT they are coerced to, by position — in `SELECT STRUCT('blue'
 * AS color, 'round' AS shape) AS info UNION ALL SELECT STRUCT('blue', 'square')` the second row is
 * `{color: blue, shape: square}` (https://cloud.google.com/bigquery/docs/reference/standard-sql/data-types#struct_type,
 * the operators page's IN examples). polyglot writes them as `{'_0': …, '_1': …}`, a DuckDB struct
 * with those names, which DuckDB's UNION unifies by name (four fields, half NULL). `anonymousStructs`
 * writes them as `ROW(…)`, DuckDB's unnamed struct, which it unifies by position as BigQuery does.
 * Only in a statement with a set operation and a named STRUCT literal: a ROW alone would reach the
 * REST encoder (encode.ts) with unnamed fields. (A STRUCT whose fields are spelled `_0`, `_1`, … by hand reads the same; BigQuery has no reason to
 * name fields so.)
 */
import { quotedSpans, topLevelCommaParts } from './native-masks.js';

const OPEN = /\{'_0':\s/g;

/** Index just past the `}` closing the `{` at `open`, quoted spans skipped; -1 if none. */
function closingBrace(duck: string, open: number, quoted: Array<[number, number]>): number {
  let depth = 0;
  for (let i = open; i < duck.length; i++) {
    const q = quoted.find(([s, e]) => i >= s && i < e);
    if (q) { i = q[1] - 1; continue; }
    if (duck[i] === '{') depth++;
    else if (duck[i] === '}' && --depth === 0) return i + 1;
  }
  return -1;
}

export function anonymousStructs(duck: string): string {
  // Only where a set operation may unify one with a named STRUCT: encode.ts reads a STRUCT's fields by name, and a ROW's are unnamed
  if (!duck.includes("{'_0':") || !/\b(UNION|INTERSECT|EXCEPT)\b/i.test(duck) || !/\{'(?!_\d+')[^']+':/.test(duck)) return duck;
  for (;;) {
    const quoted = quotedSpans(duck);
    let changed = false;
    for (const m of [...duck.matchAll(OPEN)].reverse()) { // innermost (last) first
      const at = m.index!;
      if (quoted.some(([s, e]) => at >= s && at < e)) continue;
      const end = closingBrace(duck, at, quoted);
      if (end < 0) continue;
      const parts = topLevelCommaParts(duck, at + 1, end - 1, quoted);
      const values = parts.map((p, k) => new RegExp(`^\\s*'_${k}':\\s`).exec(p) ? p.replace(new RegExp(`^\\s*'_${k}':\\s*`), '') : undefined);
      if (values.some((v) => v === undefined)) continue;
      duck = `${duck.slice(0, at)}ROW(${values.join(', ')})${duck.slice(end)}`;
      changed = true;
      break;
    }
    if (!changed) return duck;
  }
}
