/**
 * TO_JSON_STRING(value[, pretty_print]) with BigQuery's JSON encodings
 * (https://cloud.google.com/bigquery/docs/reference/standard-sql/json_functions#to_json_string,
 * https://cloud.google.com/bigquery/docs/reference/standard-sql/json_functions#json_encodings), where DuckDB's
 * `to_json` spells values otherwise (polyglot writes TO_JSON_STRING as `CAST(TO_JSON(x) AS TEXT)` and drops
 * pretty_print):
 * - INT64: a number within [-2^53, 2^53], else a string (`9007199254740993` → `"9007199254740993"`);
 * - NUMERIC/BIGNUMERIC: a number when integral and within [-2^53, 2^53], else a string (`123.56` → `"123.56"`;
 *   DuckDB prints the scale's zeros, `1.000`);
 * - FLOAT64: the shortest round-trip number (`1.0` → `1`; DuckDB prints `1.0`), `"NaN"`, `"Infinity"`,
 *   `"-Infinity"` as strings (DuckDB writes them bare, which is not JSON);
 * - TIMESTAMP: `"2017-03-06T12:34:56.789012Z"` (a DuckDB TIMESTAMP without zone is the emulator's TIMESTAMP);
 * - BYTES: base64; STRUCT: an object in field order; ARRAY: an array; JSON: its value; RANGE (translate-range.ts):
 *   `{"start": …, "end": …}` with null for UNBOUNDED;
 * - pretty_print: two-space indentation, `"key": value`, as the page prints it.
 *
 * `TO_JSON_MACROS` (spread into translate-functions.ts MACROS) calls the native `bqgate_js_to_json_string(json, type,
 * pretty)` with DuckDB's to_json text and `typeof(x)`, which `registerToJsonString` registers at open (engine.ts).
 */
import { BOOLEAN, VARCHAR, DuckDBScalarFunction, type DuckDBConnection } from '@duckdb/node-api';
import { JsonNumber, parseJson, printJson, type JsonValue } from './json-value.js';

/** A DuckDB type as `typeof` prints it, parsed: `STRUCT(a INTEGER, "b c" DOUBLE[])`, `DECIMAL(18,3)`, `INTEGER[2]`. */
export type DuckType = { struct: Array<[string, DuckType]> } | { list: DuckType } | { scalar: string };

export function parseDuckType(text: string): DuckType {
  let i = 0;
  const ws = () => { while (text[i] === ' ') i++; };
  const name = (): string => {
    ws();
    if (text[i] === '"') {
      let out = '';
      for (i++; i < text.length; i++) {
        if (text[i] === '"' && text[i + 1] === '"') { out += '"'; i++; } else if (text[i] === '"') { i++; break; } else out += text[i];
      }
      return out;
    }
    const m = /^[^\s(),]+/.exec(text.slice(i))!;
    i += m[0].length;
    return m[0];
  };
  const type = (): DuckType => {
    ws();
    let t: DuckType;
    if (/^STRUCT\(/.test(text.slice(i))) {
      i += 7;
      const fields: Array<[string, DuckType]> = [];
      while (text[i] !== ')') { const n = name(); fields.push([n, type()]); ws(); if (text[i] === ',') i++; }
      i++;
      t = { struct: fields };
    } else {
      const m = /^(?:TIMESTAMP WITH TIME ZONE|TIME WITH TIME ZONE|[A-Z_0-9]+(?:\([^)]*\))?)/.exec(text.slice(i));
      const word = m ? m[0] : name();
      i += m ? word.length : 0;
      t = { scalar: word };
    }
    while (text[i] === '[') { i = text.indexOf(']', i) + 1; t = { list: t }; }
    return t;
  };
  return type();
}

const LIMIT = 2n ** 53n;
const SENTINEL = "\uE000"; // a private-use character: JSON text may hold it, DuckDB never writes it unescaped here

/** DuckDB's to_json text with its bare NaN, Infinity and -Infinity (not JSON) as marked strings. */
function quoteNonFinite(json: string): string {
  let out = '';
  for (let i = 0; i < json.length; i++) {
    const c = json[i];
    if (c === '"') { const j = stringEnd(json, i); out += json.slice(i, j); i = j - 1; continue; }
    const m = /^(?:NaN|-?Infinity)/.exec(json.slice(i, i + 9));
    if (m) { out += `"${SENTINEL}${m[0]}"`; i += m[0].length - 1; continue; }
    out += c;
  }
  return out;
}

/** Index just past the JSON string starting at `i`. */
function stringEnd(json: string, i: number): number {
  let j = i + 1;
  while (j < json.length && json[j] !== '"') j += json[j] === '\\' ? 2 : 1;
  return j + 1;
}

/** A JSON value with its objects' keys sorted (BigQuery's JSON type stores them so). */
const sorted = (v: JsonValue): JsonValue => (Array.isArray(v) ? v.map(sorted) : v instanceof Map ? new Map([...v.keys()].sort().map((k) => [k, sorted(v.get(k)!)])) : v);

/** DuckDB's BLOB text (`\xHH` for non-printable bytes) as base64. */
function blobBase64(s: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '\\' && s[i + 1] === 'x') { bytes.push(parseInt(s.slice(i + 2, i + 4), 16)); i += 3; } else bytes.push(s.charCodeAt(i));
  }
  return Buffer.from(bytes).toString('base64');
}

/** The value `v` (parsed from DuckDB's to_json) re-encoded as BigQuery encodes type `t`. */
function encode(v: JsonValue, t: DuckType): JsonValue {
  if (v === null) return null;
  if ('list' in t) return Array.isArray(v) ? v.map((x) => encode(x, t.list)) : v;
  if ('struct' in t) {
    if (!(v instanceof Map)) return v;
    const names = t.struct.map(([n]) => n);
    if (names[0] === '$range_start' && names[1] === '$range_end') {
      return new Map([['start', encode(v.get('$range_start') ?? null, t.struct[0][1])], ['end', encode(v.get('$range_end') ?? null, t.struct[1][1])]]);
    }
    return new Map(t.struct.map(([n, ft]) => [n, encode(v.get(n) ?? null, ft)]));
  }
  const s = t.scalar;
  if (s === 'JSON') return sorted(v);
  if (typeof v === 'string' && v.startsWith(SENTINEL)) return v.slice(1); // NaN, Infinity, -Infinity
  if (v instanceof JsonNumber) {
    if (/^(?:U?(?:TINY|SMALL|BIG|HUGE)?INT(?:EGER)?)$/.test(s)) return BigInt(v.text) > LIMIT || BigInt(v.text) < -LIMIT ? v.text : v;
    if (/^DECIMAL/.test(s)) {
      const text = v.text.includes('.') ? v.text.replace(/0+$/, '').replace(/\.$/, '') : v.text;
      return /^-?\d+$/.test(text) && BigInt(text) <= LIMIT && BigInt(text) >= -LIMIT ? new JsonNumber(text) : text;
    }
    if (s === 'DOUBLE' || s === 'FLOAT') return new JsonNumber(String(Number(v.text)));
    return v;
  }
  if (typeof v === 'string') {
    if (s === 'BLOB') return blobBase64(v);
    if (s === 'TIMESTAMP WITH TIME ZONE') return v.replace(' ', 'T').replace(/\+00$/, 'Z');
    if (s === 'TIMESTAMP') return `${v.replace(' ', 'T')}Z`;
  }
  return v;
}

/** JSON text in field order (`printJson` sorts keys, as BigQuery's JSON type does; a STRUCT keeps its order), compact or pretty. */
function print(v: JsonValue, pretty: boolean, indent = ''): string {
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return printJson(v);
  if (v instanceof JsonNumber) return /^-?\d+$/.test(v.text) ? v.text : printJson(v);
  const inner = `${indent}  `;
  const items = Array.isArray(v) ? v.map((x) => print(x, pretty, inner)) : [...v].map(([k, x]) => `${JSON.stringify(k)}:${pretty ? ' ' : ''}${print(x, pretty, inner)}`);
  const [open, close] = Array.isArray(v) ? ['[', ']'] : ['{', '}'];
  if (!pretty || !items.length) return `${open}${items.join(',')}${close}`;
  return `${open}\n${items.map((x) => inner + x).join(',\n')}\n${indent}${close}`;
}

/** One row: DuckDB's `to_json(x)` text, `typeof(x)`, pretty_print → BigQuery's TO_JSON_STRING text. */
export function toJsonString(json: string, type: string, pretty: boolean): string {
  const parsed = parseJson(quoteNonFinite(json));
  return print(encode(parsed, parseDuckType(type)), pretty);
}

export const JS_TO_JSON_STRING = 'bqgate_js_to_json_string';

/** Registers `bqgate_js_to_json_string` (once, at open). */
export function registerToJsonString(con: DuckDBConnection): void {
  con.registerScalarFunction(DuckDBScalarFunction.create({
    name: JS_TO_JSON_STRING, returnType: VARCHAR, parameterTypes: [VARCHAR, VARCHAR, BOOLEAN],
    mainFunction: (info, input, out) => {
      const cols = [0, 1, 2].map((c) => input.getColumnVector(c));
      for (let r = 0; r < input.rowCount; r++) {
        try { out.setItem(r, toJsonString(String(cols[0].getItem(r)), String(cols[1].getItem(r)), cols[2].getItem(r) === true)); }
        catch (e) { info.setError(`TO_JSON_STRING: ${(e as Error).message}`); return; }
      }
      out.flush();
    },
  }));
}

export const TO_JSON_MACROS: Record<string, [string, string]> = {
  TO_JSON_STRING: ['x, pretty := false', `CASE WHEN pretty IS NULL THEN NULL WHEN x IS NULL THEN 'null' ELSE ${JS_TO_JSON_STRING}(to_json(x)::VARCHAR, typeof(x), pretty) END`],
};
