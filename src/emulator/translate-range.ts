/**
 * RANGE values in the emulator, a first part (https://cloud.google.com/bigquery/docs/reference/standard-sql/range-functions):
 * a `RANGE<DATE|DATETIME|TIMESTAMP> '[lower, upper)'` literal becomes the struct `{range_start, range_end}` (UNBOUNDED as
 * NULL) before polyglot reads the statement (`rangeLiterals`), and RANGE_START, RANGE_END, RANGE_OVERLAPS and
 * RANGE_CONTAINS are macros over it (`RANGE_MACROS`, spread into translate-functions.ts MACROS). RANGE_CONTAINS takes a
 * RANGE or a value: a second argument written as a RANGE literal calls the range form, any other the value form.
 * Not yet: RANGE values in results (their REST encoding), RANGE(), RANGE_INTERSECT, GENERATE_RANGE_ARRAY, RANGE_SESSIONIZE.
 */
import { scan } from './translate.js';

const LITERAL = /\bRANGE\s*<\s*(DATE|DATETIME|TIMESTAMP)\s*>\s*$/i;
const BOUNDS = /^\[\s*([^,]*?)\s*,\s*([^,]*?)\s*\)$/;
const RANGE_STRUCT = 'STRUCT(';

/** `RANGE<T> '[a, b)'` → `STRUCT(CAST('a' AS T) AS range_start, CAST('b' AS T) AS range_end)`; a malformed literal is left to fail. */
export function rangeLiterals(sql: string): string {
  if (!/\bRANGE\s*</i.test(sql)) return sql;
  const edits: Array<[number, number, string]> = [];
  scan(sql, (kind, s, e) => {
    if (kind !== 'string') return;
    const head = LITERAL.exec(sql.slice(Math.max(0, s - 30), s));
    const bounds = head && BOUNDS.exec(sql.slice(s + 1, e - 1));
    if (!head || !bounds) return;
    const t = head[1].toUpperCase();
    const bound = (b: string) => (/^UNBOUNDED$/i.test(b) || /^NULL$/i.test(b) ? `CAST(NULL AS ${t})` : `CAST('${b.replace(/'/g, "''")}' AS ${t})`);
    edits.push([s - head[0].length, e, `${RANGE_STRUCT}${bound(bounds[1])} AS range_start, ${bound(bounds[2])} AS range_end)`]);
  });
  let out = sql;
  for (const [s, e, text] of edits.reverse()) out = out.slice(0, s) + text + out.slice(e);
  return out.replace(/\bRANGE_CONTAINS\s*\(/gi, (m, at: number) => (rangeSecond(out, at + m.length) ? 'RANGE_CONTAINS_RANGE(' : m));
}

/** Whether the call whose arguments start at `from` has a second argument that is a RANGE literal (rewritten above). */
function rangeSecond(sql: string, from: number): boolean {
  let depth = 0;
  for (let i = from; i < sql.length; i++) {
    const c = sql[i];
    if (c === '(') depth++;
    else if (c === ')') { if (depth-- === 0) return false; }
    else if (c === "'") i = sql.indexOf("'", i + 1);
    else if (c === ',' && depth === 0) return /^\s*STRUCT\(CAST\([^)]*\) AS range_start/.test(sql.slice(i + 1));
  }
  return false;
}

/** NULL bounds are unbounded: a NULL start is before every value, a NULL end after every value. */
export const RANGE_MACROS: Record<string, [string, string]> = {
  RANGE_START: ['r', 'struct_extract(r, \'range_start\')'],
  RANGE_END: ['r', 'struct_extract(r, \'range_end\')'],
  // #range_overlaps: some value is in both (ends are exclusive)
  RANGE_OVERLAPS: ['a, b', `CASE WHEN a IS NULL OR b IS NULL THEN NULL ELSE
    (a.range_end IS NULL OR b.range_start IS NULL OR b.range_start < a.range_end) AND (b.range_end IS NULL OR a.range_start IS NULL OR a.range_start < b.range_end) END`],
  // #range_contains: signature 1, b's values all in a; signature 2 (RANGE_CONTAINS below), the value in a
  RANGE_CONTAINS_RANGE: ['a, b', `CASE WHEN a IS NULL OR b IS NULL THEN NULL ELSE
    (a.range_start IS NULL OR (b.range_start IS NOT NULL AND a.range_start <= b.range_start)) AND (a.range_end IS NULL OR (b.range_end IS NOT NULL AND b.range_end <= a.range_end)) END`],
  RANGE_CONTAINS: ['a, x', `CASE WHEN a IS NULL OR x IS NULL THEN NULL ELSE
    (a.range_start IS NULL OR a.range_start <= x) AND (a.range_end IS NULL OR x < a.range_end) END`],
};
