/**
 * GoogleSQL JSON functions DuckDB lacks, rewritten before polyglot reads the statement (translate.ts):
 * - the mutators and JSON_FLATTEN become calls of the native `bqgate_js_json` (json-functions.ts),
 *   their named arguments (`create_if_missing => FALSE`, …) moved into its spec, every argument as
 *   text: `JSON_SET(j, p, v, create_if_missing => FALSE)` →
 *   `BQGATE_AS_JSON(bqgate_js_json('set|create_if_missing', CAST(FALSE AS STRING), CAST(j AS STRING), CAST(p AS STRING),
 *   CAST(TO_JSON(v) AS STRING)))` (BQGATE_AS_JSON: DuckDB's CAST AS JSON, which keeps the text); JSON_FLATTEN's JSON array becomes ARRAY<JSON>; TO_JSON without a named argument is DuckDB's to_json;
 * - JSON_MACROS (DuckDB macros, spread into translate-functions.ts MACROS) for the strict converters
 *   polyglot passes through unchanged.
 * https://cloud.google.com/bigquery/docs/reference/standard-sql/json_functions
 */
import { scan } from './translate.js';
import { closing, topLevelCommaParts } from './native-masks.js';
import { JS_JSON } from './json-functions.js';

/**
 * GoogleSQL name → the op of bqgate_js_json; `input`: the first argument is the JSON input (as text), a value
 * (as TO_JSON text) or absent; the positional arguments after it come in groups of `group`, of which the
 * `values` positions are values (TO_JSON text, followed by DuckDB's typeof when `typed`); `named`: rewritten
 * only when a named argument is given (else polyglot's translation is exact).
 */
const NATIVE: Record<string, { op: string; input: 'json' | 'value' | 'none'; group: number; values: number[]; typed?: boolean; named?: boolean }> = {
  JSON_SET: { op: 'set', input: 'json', group: 2, values: [1] },
  JSON_REMOVE: { op: 'remove', input: 'json', group: 1, values: [] },
  JSON_STRIP_NULLS: { op: 'strip_nulls', input: 'json', group: 1, values: [] },
  JSON_ARRAY_APPEND: { op: 'array_append', input: 'json', group: 2, values: [1], typed: true },
  JSON_ARRAY_INSERT: { op: 'array_insert', input: 'json', group: 2, values: [1], typed: true },
  JSON_FLATTEN: { op: 'flatten', input: 'json', group: 1, values: [] },
  JSON_OBJECT: { op: 'object', input: 'none', group: 1, values: [0], typed: true },
  PARSE_JSON: { op: 'parse', input: 'json', group: 1, values: [] },
  TO_JSON: { op: 'to_json', input: 'value', group: 1, values: [], named: true },
};

const CALL = new RegExp(`\\b(${Object.keys(NATIVE).join('|')})\\s*\\(`, 'gi');
const NAMED = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=>\s*([\s\S]*)$/;
const text = (x: string) => `CAST(${x} AS STRING)`;
/** The JSON text as a DuckDB JSON value unchanged (a macro: polyglot writes CAST AS JSON as DuckDB's json(), which re-spells numbers). */
const AS_JSON = 'BQGATE_AS_JSON';

/** One call's replacement, from its name and its argument texts. */
function nativeCall(name: string, parts: string[]): string | undefined {
  const f = NATIVE[name.toUpperCase()];
  const named = parts.map((p) => NAMED.exec(p)).filter((m): m is RegExpExecArray => !!m);
  const positional = parts.filter((p) => !NAMED.test(p));
  if (f.named && !named.length) return `BQGATE_TO_JSON(${parts.join(', ')})`; // polyglot writes TO_JSON as a STRING (TO_JSON_STRING's)
  const [json, ...rest] = f.input === 'none' ? ['', ...positional] : positional;
  const input = f.input === 'none' ? [] : [text(f.input === 'value' ? `TO_JSON(${json})` : json)];
  const args = rest.flatMap((a, i) => {
    const isValue = f.values.includes(i % f.group);
    if (!isValue) return [text(a)];
    return f.typed ? [text(`TO_JSON(${a})`), `TYPEOF(${a})`] : [text(`TO_JSON(${a})`)];
  });
  const spec = [f.op, ...named.map((m) => m[1].toLowerCase())].join('|');
  const call = `${JS_JSON}(${[`'${spec}'`, ...named.map((m) => text(m[2])), ...input, ...args].join(', ')})`;
  return f.op === 'flatten' ? `BQGATE_JSON_ELEMENTS(${call})` : `${AS_JSON}(${call})`;
}

/** GoogleSQL text with every call of a NATIVE function rewritten as a `bqgate_js_json` call (innermost first). */
export function jsonCalls(sql: string): string {
  if (!new RegExp(CALL.source, 'i').test(sql)) return sql;
  for (;;) {
    const skip: Array<[number, number]> = [];
    scan(sql, (_k, s, e) => skip.push([s, e]));
    const hits = [...sql.matchAll(CALL)].filter((m) => !skip.some(([s, e]) => m.index! >= s && m.index! < e) && !/[\w.]/.test(sql[m.index! - 1] ?? ''));
    let call: string | undefined;
    let m: RegExpMatchArray | undefined;
    let end = -1;
    while (call === undefined && (m = hits.pop())) { // rightmost first: an inner call before the one around it
      const open = m.index! + m[0].length - 1;
      end = closing(sql, open, skip);
      if (end < 0) continue; // unbalanced: polyglot reports it
      const parts = topLevelCommaParts(sql, open + 1, end - 1, skip).map((p) => p.trim()).filter((p, i, all) => p || all.length > 1);
      call = nativeCall(m[1], parts);
    }
    if (call === undefined || !m) return sql;
    sql = sql.slice(0, m.index!) + call + sql.slice(end);
  }
}

/** `JSON '…'` literals (any quoting) as `BQGATE_AS_JSON(bqgate_js_json('parse', '…'))`: BigQuery's value model (first of duplicate keys, number spelling, exact numbers). */
export function jsonLiterals(sql: string): string {
  if (!/\bJSON\s+[rR]?['"]/i.test(sql)) return sql;
  const edits: Array<[number, number, string]> = [];
  scan(sql, (kind, s, e) => {
    if (kind !== 'string') return;
    const m = /(?:^|[^\w.])(JSON\s+[rR]?)$/i.exec(sql.slice(Math.max(0, s - 12), s));
    if (m) edits.push([s - m[1].length, e, `${AS_JSON}(${JS_JSON}('parse', ${sql.slice(s - (/[rR]$/.test(m[1]) ? 1 : 0), e)}))`]);
  });
  for (const [s, e, x] of edits.reverse()) sql = sql.slice(0, s) + x + sql.slice(e);
  return sql;
}

const PATH_CALL = /\b(JSON_EXTRACT|JSON_EXTRACT_SCALAR|JSON_EXTRACT_ARRAY|JSON_EXTRACT_STRING_ARRAY|JSON_QUERY|JSON_VALUE|JSON_QUERY_ARRAY|JSON_VALUE_ARRAY)\s*\(/gi;

/**
 * A JSONPath string literal given to a JSON extractor, in DuckDB's spelling where BigQuery's differs:
 * `$['a.b'].c` (and the legacy `$[a]` of JSON_EXTRACT*) → `$."a.b".c`
 * (https://cloud.google.com/bigquery/docs/reference/standard-sql/json_functions#JSONPath_format).
 */
export function jsonPaths(sql: string): string {
  if (!/\[/.test(sql) || !new RegExp(PATH_CALL.source, 'i').test(sql)) return sql;
  const skip: Array<[number, number, string]> = [];
  scan(sql, (k, s, e) => skip.push([s, e, k]));
  const edits: Array<[number, number, string]> = [];
  for (const m of sql.matchAll(PATH_CALL)) {
    if (skip.some(([s, e]) => m.index! >= s && m.index! < e)) continue;
    const open = m.index! + m[0].length - 1;
    const end = closing(sql, open, skip.map(([s, e]) => [s, e]));
    if (end < 0) continue;
    const parts = topLevelCommaParts(sql, open + 1, end - 1, skip.map(([s, e]) => [s, e]));
    if (parts.length < 2) continue;
    const at = open + 1 + parts[0].length + 1 + (parts[1].length - parts[1].trimStart().length);
    const lit = skip.find(([s, e, k]) => s === at && k === 'string' && e - s === parts[1].trim().length);
    // The gateway re-quotes the caller's literal (`"$['a.b']"` reaches the emulator as `'$[\\'a.b\\']'`): quote escapes are read.
    const q = /^'((?:[^'\\]|\\['"\\])*)'$|^"((?:[^"\\]|\\['"\\])*)"$/.exec(parts[1].trim());
    const path = lit && q && (q[1] ?? q[2]).replace(/\\(['"\\])/g, '$1');
    if (!path || !path.includes('[')) continue;
    const legacy = /^JSON_EXTRACT/i.test(m[1]);
    const steps = /^\$(?:\.[^.[\]'"]+|\[\s*\d+\s*\]|\[\s*(['"]).*?\1\s*\]|\[[^\]'"]+\])*$/.test(path) ? path.match(/\.[^.[\]'"]+|\[\s*\d+\s*\]|\[\s*(['"]).*?\1\s*\]|\[[^\]'"]+\]/g) ?? [] : undefined;
    if (!steps) continue;
    const duck = steps.map((st) => {
      if (st.startsWith('.') || /^\[\s*\d+\s*\]$/.test(st)) return st.replace(/\s+/g, '');
      const inner = st.slice(1, -1).trim();
      if (/^['"]/.test(inner)) return `."${inner.slice(1, -1)}"`;
      return legacy ? `."${inner}"` : st; // JSON_QUERY's $[a] stays (DuckDB refuses it, as BigQuery does)
    }).join('');
    if (!/['\\]/.test(duck)) edits.push([at, at + parts[1].trim().length, `'$${duck}'`]); // a key with a quote or backslash is left as written
  }
  for (const [s, e, x] of edits.sort((a, b) => b[0] - a[0])) sql = sql.slice(0, s) + x + sql.slice(e);
  return sql;
}

/** Strict JSON converters (https://cloud.google.com/bigquery/docs/reference/standard-sql/json_functions#bool): an error for another JSON type. */
export const JSON_MACROS: Record<string, [string, string]> = {
  // #json_type: BigQuery's names of the JSON types
  JSON_TYPE: ['j', 'CASE WHEN j IS NULL THEN NULL ELSE CASE json_type(j) WHEN \'VARCHAR\' THEN \'string\' WHEN \'BOOLEAN\' THEN \'boolean\' WHEN \'OBJECT\' THEN \'object\' WHEN \'ARRAY\' THEN \'array\' WHEN \'NULL\' THEN \'null\' ELSE \'number\' END END'],
  BQGATE_AS_JSON: ['x', 'CAST(x AS JSON)'],
  // the elements of a JSON array (as text) as ARRAY<JSON>, a JSON null element staying JSON null
  BQGATE_JSON_ELEMENTS: ['x', 'json_extract(CAST(x AS JSON), \'$[*]\')::JSON[]'],
  // https://cloud.google.com/bigquery/docs/reference/standard-sql/json_functions#to_json (without stringify_wide_numbers)
  BQGATE_TO_JSON: ['x', 'to_json(x)'],
  BOOL: ['j', 'CASE WHEN j IS NULL THEN NULL WHEN json_type(j) = \'BOOLEAN\' THEN j::BOOLEAN ELSE CAST(\'BOOL: the JSON value is not a boolean\' AS INTEGER)::BOOLEAN END'],
};
