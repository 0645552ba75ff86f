/**
 * BigQuery's JSON mutators and JSON_FLATTEN, which DuckDB has no equivalent of, as one native DuckDB
 * scalar written in JS: `bqgate_js_json(spec, option values…, json, args…) → VARCHAR` (JSON text).
 * json-macros.ts writes the calls; `spec` is `op` or `op|option|option…` naming the option values
 * that follow it (named arguments such as `create_if_missing => FALSE`, as text `true` / `false`),
 * then the JSON input as text and the function's positional arguments, each value argument as
 * `TO_JSON(v)` text followed (JSON_ARRAY_APPEND / JSON_ARRAY_INSERT) by DuckDB's `typeof(v)` so a SQL
 * ARRAY can be told from a JSON array. A NULL JSON input gives NULL; a NULL value is JSON null.
 *
 * Semantics per https://cloud.google.com/bigquery/docs/reference/standard-sql/json_functions
 * (#json_set, #json_remove, #json_strip_nulls, #json_array_append, #json_array_insert, #json_flatten);
 * an invalid JSONPath raises an error (the statement fails, as in BigQuery). Values are parsed and
 * printed by json-value.ts.
 */
import { DuckDBScalarFunction, VARCHAR, type DuckDBConnection } from '@duckdb/node-api';
import { JsonError, JsonNumber, exactNumber, isObject, parseJson, parsePath, printJson, valueAt, type JsonObject, type JsonValue, type PathStep } from './json-value.js';

export const JS_JSON = 'bqgate_js_json';

/**
 * `node` with `value` put at `steps` (containers created on the way when `create`, JSON null counting
 * as missing), or undefined when the path runs into a value of another kind (BigQuery then leaves the
 * input unchanged). Mutates `node` only once the whole path has succeeded.
 */
function putAt(node: JsonValue | undefined, steps: PathStep[], i: number, value: JsonValue, create: boolean): JsonValue | undefined {
  if (i === steps.length) return value;
  const s = steps[i];
  if (node === undefined || node === null) {
    if (!create) return undefined;
    node = 'key' in s ? new Map() : [];
  }
  if ('key' in s) {
    if (!isObject(node)) return undefined;
    const child = node.get(s.key);
    if (child === undefined && !create) return undefined;
    const put = putAt(child, steps, i + 1, value, create);
    if (put === undefined) return undefined;
    node.set(s.key, put);
    return node;
  }
  if (!Array.isArray(node)) return undefined;
  if (s.index >= node.length && !create) return undefined;
  const put = putAt(node[s.index], steps, i + 1, value, create);
  if (put === undefined) return undefined;
  while (node.length < s.index) node.push(null);
  node[s.index] = put;
  return node;
}

/** `root` with the value at `steps` replaced by `f(it)` when `f` gives one (the path must exist). */
function replaceAt(root: JsonValue, steps: PathStep[], f: (v: JsonValue) => JsonValue | undefined): JsonValue {
  const at = valueAt(root, steps);
  const next = at === undefined ? undefined : f(at);
  const put = next === undefined ? undefined : putAt(root, steps, 0, next, false);
  return put === undefined ? root : put;
}

/** `v` with every number replaced by `f(its text)`. */
function mapNumbers(v: JsonValue, f: (n: JsonNumber) => JsonValue): JsonValue {
  if (v instanceof JsonNumber) return f(v);
  if (Array.isArray(v)) return v.map((c) => mapNumbers(c, f));
  if (isObject(v)) return new Map([...v].map(([k, c]) => [k, mapNumbers(c, f)]));
  return v;
}

/** JSON_OBJECT's members from `[key JSON, key type, value JSON, value type]…` (both signatures), the first of duplicate keys kept. */
function object(args: Array<string | null>): JsonValue {
  const pairs: Array<[JsonValue, JsonValue]> = [];
  const sqlArray = (t: string | null) => /\[\d*\]$/.test(t ?? '');
  if (args.length === 4 && (sqlArray(args[1]) || sqlArray(args[3]))) {
    const keys = args[0] === null ? null : parseJson(args[0]);
    const values = args[2] === null ? null : parseJson(args[2]);
    if (!Array.isArray(keys) || !Array.isArray(values)) throw new JsonError('JSON_OBJECT: the keys and the values must be non-NULL arrays');
    if (keys.length !== values.length) throw new JsonError('JSON_OBJECT: the keys array and the values array differ in length');
    keys.forEach((k, i) => pairs.push([k, values[i]]));
  } else {
    if (args.length % 4) throw new JsonError('JSON_OBJECT: the arguments must be key / value pairs');
    for (let i = 0; i < args.length; i += 4) pairs.push([args[i] === null ? null : parseJson(args[i]!), args[i + 2] === null ? null : parseJson(args[i + 2]!)]);
  }
  const out: JsonObject = new Map();
  for (const [k, v] of pairs) {
    if (typeof k !== 'string') throw new JsonError('JSON_OBJECT: a key must be a non-NULL STRING');
    if (!out.has(k)) out.set(k, v);
  }
  return out;
}

function remove(root: JsonValue, steps: PathStep[]): JsonValue {
  if (!steps.length) throw new JsonError('JSON_REMOVE: the JSONPath cannot be $');
  const parent = valueAt(root, steps.slice(0, -1));
  const last = steps[steps.length - 1];
  if ('key' in last && parent !== undefined && isObject(parent)) parent.delete(last.key);
  if ('index' in last && Array.isArray(parent) && last.index < parent.length) parent.splice(last.index, 1);
  return root;
}

/** `v` without JSON nulls (in arrays too when `arrays`), and without emptied containers when `empty`; undefined = removed. */
function strip(v: JsonValue, arrays: boolean, empty: boolean): JsonValue | undefined {
  if (v === null) return undefined;
  if (isObject(v)) {
    for (const [k, c] of [...v]) {
      const s = strip(c, arrays, empty);
      if (s === undefined) v.delete(k); else v.set(k, s);
    }
    return empty && v.size === 0 ? undefined : v;
  }
  if (Array.isArray(v)) {
    if (!arrays) return v;
    const out = v.map((c) => strip(c, arrays, empty)).filter((c): c is JsonValue => c !== undefined);
    return empty && out.length === 0 ? undefined : out;
  }
  return v;
}

function flatten(v: JsonValue): JsonValue[] {
  return Array.isArray(v) ? v.flatMap(flatten) : [v];
}

/** The elements to add: a SQL ARRAY's elements one by one when `each`, else the value itself. */
const items = (value: JsonValue, sqlType: string | null, each: boolean): JsonValue[] =>
  (each && /\[\d*\]$/.test(sqlType ?? '') && Array.isArray(value) ? value : [value]);

const bool = (opts: Map<string, string | null>, name: string, dflt: boolean) => (opts.has(name) ? opts.get(name) === 'true' : dflt);

/** Evaluates one call: `op`, its named options, the JSON input (parsed) and its positional arguments (text). */
function evaluate(op: string, opts: Map<string, string | null>, root: JsonValue, args: Array<string | null>): JsonValue | JsonValue[] {
  const path = (p: string | null) => parsePath(p ?? '$');
  const val = (t: string | null) => (t === null ? null : parseJson(t));
  switch (op) {
    case 'set': {
      const create = bool(opts, 'create_if_missing', true);
      for (let i = 0; i + 1 < args.length; i += 2) root = putAt(root, path(args[i]), 0, val(args[i + 1]), create) ?? root;
      return root;
    }
    case 'remove':
      for (const p of args) root = remove(root, path(p));
      return root;
    case 'strip_nulls': {
      const arrays = bool(opts, 'include_arrays', true);
      const empty = bool(opts, 'remove_empty', false);
      return replaceAt(root, path(args[0] ?? '$'), (v) => strip(v, arrays, empty) ?? null);
    }
    case 'array_append': {
      const each = bool(opts, 'append_each_element', true);
      for (let i = 0; i + 2 < args.length; i += 3) {
        const add = items(val(args[i + 1]), args[i + 2], each);
        root = replaceAt(root, path(args[i]), (v) => (Array.isArray(v) ? [...v, ...add] : v === null ? add : undefined));
      }
      return root;
    }
    case 'array_insert': {
      const each = bool(opts, 'insert_each_element', true);
      for (let i = 0; i + 2 < args.length; i += 3) {
        const steps = path(args[i]);
        const last = steps[steps.length - 1];
        if (!last || !('index' in last)) continue; // the path must name an array position
        const add = items(val(args[i + 1]), args[i + 2], each);
        root = replaceAt(root, steps.slice(0, -1), (v) => {
          if (v !== null && !Array.isArray(v)) return undefined;
          const a = [...(v ?? [])];
          while (a.length < last.index) a.push(null);
          a.splice(last.index, 0, ...add);
          return a;
        });
      }
      return root;
    }
    case 'flatten':
      return flatten(root);
    case 'parse': { // PARSE_JSON and JSON literals: BigQuery's value model, numbers checked by wide_number_mode
      const mode = (opts.get('wide_number_mode') ?? 'exact').toLowerCase();
      if (mode !== 'exact' && mode !== 'round') throw new JsonError(`PARSE_JSON: invalid wide_number_mode '${mode}' (exact or round)`);
      return mapNumbers(root, (n) => {
        if (mode === 'exact' && !exactNumber(n.text)) throw new JsonError(`PARSE_JSON: the number ${n.text} cannot be stored without loss of precision (wide_number_mode => 'round' rounds it)`);
        return n;
      });
    }
    case 'to_json': { // TO_JSON(v, stringify_wide_numbers => …): integers beyond ±2^53 as strings
      if (!bool(opts, 'stringify_wide_numbers', false)) return root;
      return mapNumbers(root, (n) => (/^-?\d+$/.test(n.text) && (BigInt(n.text) > 2n ** 53n || BigInt(n.text) < -(2n ** 53n)) ? n.text : n));
    }
    default:
      throw new JsonError(`${JS_JSON}: unknown operation ${op}`);
  }
}

/** One row: `[spec, option values…, json, args…]` → JSON text, or null for a NULL input. */
export function jsJson(row: Array<string | null>): string | null {
  const [op, ...names] = String(row[0]).split('|');
  const opts = new Map(names.map((n, i) => [n, row[1 + i]]));
  const rest = row.slice(1 + names.length);
  if (op === 'object') return printJson(object(rest));
  if (rest[0] === null || rest[0] === undefined) return null;
  if ([...opts.values()].some((v) => v === null)) return null;
  return printJson(evaluate(op, opts, parseJson(rest[0]), rest.slice(1)));
}

/** Registers `bqgate_js_json` on a connection (DuckDB keeps it for every connection of the instance). */
export function registerJsonFunctions(con: DuckDBConnection): void {
  con.registerScalarFunction(DuckDBScalarFunction.create({
    name: JS_JSON,
    returnType: VARCHAR,
    varArgsType: VARCHAR,
    specialHandling: true, // NULL arguments reach the function (a NULL value is JSON null)
    mainFunction: (info, input, out) => {
      const cols = Array.from({ length: input.columnCount }, (_, c) => input.getColumnVector(c));
      for (let r = 0; r < input.rowCount; r++) {
        try {
          out.setItem(r, jsJson(cols.map((v) => v.getItem(r) as string | null)));
        } catch (e) {
          info.setError((e as Error).message);
          return;
        }
      }
      out.flush();
    },
  }));
}
