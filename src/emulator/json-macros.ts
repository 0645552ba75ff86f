/**
 * GoogleSQL JSON functions DuckDB lacks, rewritten before polyglot reads the statement (translate.ts):
 * - the mutators and JSON_FLATTEN become calls of the native `bqgate_js_json` (json-functions.ts),
 *   their named arguments (`create_if_missing => FALSE`, …) moved into its spec, every argument as
 *   text: `JSON_SET(j, p, v, create_if_missing => FALSE)` →
 *   `CAST(bqgate_js_json('set|create_if_missing', CAST(FALSE AS STRING), CAST(j AS STRING), CAST(p AS STRING),
 *   CAST(TO_JSON(v) AS STRING)) AS JSON)`; JSON_FLATTEN's JSON array becomes ARRAY<JSON> by JSON_QUERY_ARRAY;
 * - JSON_MACROS (DuckDB macros, spread into translate-functions.ts MACROS) for the strict converters
 *   polyglot passes through unchanged.
 * https://cloud.google.com/bigquery/docs/reference/standard-sql/json_functions
 */
import { scan } from './translate.js';
import { closing, topLevelCommaParts } from './native-masks.js';
import { JS_JSON } from './json-functions.js';

/** GoogleSQL name → [op of bqgate_js_json, how many positional arguments after the JSON form one group, which of them are values]. */
const NATIVE: Record<string, { op: string; group: number; values: number[]; typed?: boolean }> = {
  JSON_SET: { op: 'set', group: 2, values: [1] },
  JSON_REMOVE: { op: 'remove', group: 1, values: [] },
  JSON_STRIP_NULLS: { op: 'strip_nulls', group: 1, values: [] },
  JSON_ARRAY_APPEND: { op: 'array_append', group: 2, values: [1], typed: true },
  JSON_ARRAY_INSERT: { op: 'array_insert', group: 2, values: [1], typed: true },
  JSON_FLATTEN: { op: 'flatten', group: 1, values: [] },
};

const CALL = new RegExp(`\\b(${Object.keys(NATIVE).join('|')})\\s*\\(`, 'gi');
const NAMED = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=>\s*([\s\S]*)$/;
const text = (x: string) => `CAST(${x} AS STRING)`;

/** One call's replacement, from its name and its argument texts. */
function nativeCall(name: string, parts: string[]): string {
  const f = NATIVE[name.toUpperCase()];
  const named = parts.map((p) => NAMED.exec(p)).filter((m): m is RegExpExecArray => !!m);
  const positional = parts.filter((p) => !NAMED.test(p));
  const [json, ...rest] = positional;
  const args = rest.flatMap((a, i) => {
    const isValue = f.values.includes(i % f.group);
    if (!isValue) return [text(a)];
    return f.typed ? [text(`TO_JSON(${a})`), `TYPEOF(${a})`] : [text(`TO_JSON(${a})`)];
  });
  const spec = [f.op, ...named.map((m) => m[1].toLowerCase())].join('|');
  const call = `${JS_JSON}('${spec}', ${[...named.map((m) => text(m[2])), text(json), ...args].join(', ')})`;
  return f.op === 'flatten' ? `JSON_QUERY_ARRAY(CAST(${call} AS JSON))` : `CAST(${call} AS JSON)`;
}

/** GoogleSQL text with every call of a NATIVE function rewritten as a `bqgate_js_json` call (innermost first). */
export function jsonCalls(sql: string): string {
  if (!new RegExp(CALL.source, 'i').test(sql)) return sql;
  for (;;) {
    const skip: Array<[number, number]> = [];
    scan(sql, (_k, s, e) => skip.push([s, e]));
    const hits = [...sql.matchAll(CALL)].filter((m) => !skip.some(([s, e]) => m.index! >= s && m.index! < e) && !/[\w.]/.test(sql[m.index! - 1] ?? ''));
    const m = hits.pop();
    if (!m) return sql;
    const open = m.index! + m[0].length - 1;
    const end = closing(sql, open, skip);
    if (end < 0) return sql; // unbalanced: polyglot reports it
    const parts = topLevelCommaParts(sql, open + 1, end - 1, skip).map((p) => p.trim());
    sql = sql.slice(0, m.index!) + nativeCall(m[1], parts) + sql.slice(end);
  }
}

/** Strict JSON converters (https://cloud.google.com/bigquery/docs/reference/standard-sql/json_functions#bool): an error for another JSON type. */
export const JSON_MACROS: Record<string, [string, string]> = {
  BOOL: ['j', 'CASE WHEN j IS NULL THEN NULL WHEN json_type(j) = \'BOOLEAN\' THEN j::BOOLEAN ELSE CAST(\'BOOL: the JSON value is not a boolean\' AS INTEGER)::BOOLEAN END'],
};
