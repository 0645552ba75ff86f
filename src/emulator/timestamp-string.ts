/**
 * `STRING(timestamp, time_zone)` (https://cloud.google.com/bigquery/docs/reference/standard-sql/timestamp_functions#string):
 * the timestamp's canonical text in that zone with the zone's offset, `2008-12-25 07:30:00-08`
 * (`+00` in UTC; `+05:30` where the offset has minutes; fractional seconds as needed). polyglot
 * writes `CAST(ts AT TIME ZONE tz AS TEXT)`, which drops the offset. `timestampStrings` (GoogleSQL
 * text, before polyglot) calls the `BQGATE_TIMESTAMP_STRING` macro instead; `STRING(x)` with one
 * argument is polyglot's as before.
 */
import { scan } from './translate.js';
import { closing, topLevelCommaParts } from './native-masks.js';

/** name → [DuckDB macro parameters, body], spread into translate-functions.ts MACROS (via translate-semantics.ts). */
export const TIMESTAMP_STRING_MACROS: Record<string, [string, string]> = {
  // m: the zone's offset at t in minutes (local wall time minus UTC)
  BQGATE_ZONE_OFFSET: ['m', `CASE WHEN m < 0 THEN '-' ELSE '+' END || lpad((abs(m) // 60)::VARCHAR, 2, '0')
    || CASE WHEN abs(m) % 60 <> 0 THEN ':' || lpad((abs(m) % 60)::VARCHAR, 2, '0') ELSE '' END`],
  BQGATE_TIMESTAMP_STRING: ['t, z', `CAST(timezone(z, t::TIMESTAMPTZ) AS VARCHAR)
    || memory.main.bq_bqgate_zone_offset(round((epoch(timezone(z, t::TIMESTAMPTZ)) - epoch(t::TIMESTAMPTZ)) / 60)::BIGINT)`],
};

const STRING_CALL = /\bSTRING\s*\(/gi;

export function timestampStrings(sql: string): string {
  if (!/\bSTRING\s*\(/i.test(sql)) return sql;
  const skip: Array<[number, number]> = [];
  scan(sql, (_k, s, e) => skip.push([s, e]));
  const edits: Array<[number, number]> = [];
  for (const m of sql.matchAll(STRING_CALL)) {
    const at = m.index!;
    if (skip.some(([s, e]) => at >= s && at < e) || /[\w.]/.test(sql[at - 1] ?? '') || /\bAS\s*$/i.test(sql.slice(Math.max(0, at - 8), at))) continue;
    const open = at + m[0].length - 1;
    const end = closing(sql, open, skip);
    if (end < 0 || topLevelCommaParts(sql, open + 1, end - 1, skip).length !== 2) continue;
    edits.push([at, open + 1]);
  }
  let out = sql;
  for (const [s, e] of edits.reverse()) out = `${out.slice(0, s)}bqgate_fn__BQGATE_TIMESTAMP_STRING(${out.slice(e)}`;
  return out;
}
