/**
 * One JSON value model for the emulator's native JSON functions (json-functions.ts), with BigQuery's
 * rules (https://cloud.google.com/bigquery/docs/reference/standard-sql/data-types#json_type):
 * - a number keeps its text until printed, so a wide integer (beyond a double's 53 bits, up to
 *   UINT64) survives a round trip; printed, an INT64 / UINT64 stays as written and any other number
 *   is printed as its shortest double (`10.0` → `10`, `1e2` → `100`);
 * - an object keeps the first of duplicate keys and prints its keys sorted (BigQuery stores them so:
 *   `JSON '{"city": …, "State": …}'` prints `{"State":…,"city":…}`);
 * - printed compact, as TO_JSON_STRING does.
 *
 * JSONPath (https://cloud.google.com/bigquery/docs/reference/standard-sql/json_functions#JSONPath_format):
 * `$` then any of `.name`, `."name"`, `['name']`, `["name"]`, `[index]`; anything else is an error.
 */

/** A JSON number, as its text. */
export class JsonNumber {
  constructor(readonly text: string) {}
}

export type JsonValue = null | boolean | string | JsonNumber | JsonValue[] | JsonObject;
export type JsonObject = Map<string, JsonValue>;

export const isObject = (v: JsonValue): v is JsonObject => v instanceof Map;

/** An error BigQuery raises for a JSON argument (invalid text, invalid path, wrong type). */
export class JsonError extends Error {}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

/** Parses JSON text; throws JsonError (with the offset) when it is not one JSON value. */
export function parseJson(text: string): JsonValue {
  let i = 0;
  const ws = () => { while (i < text.length && ' \t\n\r'.includes(text[i])) i++; };
  const fail = (what: string): never => { throw new JsonError(`Invalid JSON: ${what} at offset ${i}`); };
  const value = (): JsonValue => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const out: JsonObject = new Map();
      ws();
      if (text[i] === '}') { i++; return out; }
      for (;;) {
        ws();
        if (text[i] !== '"') fail('expected a member name');
        const k = str();
        ws();
        if (text[i++] !== ':') fail('expected ":"');
        const v = value();
        if (!out.has(k)) out.set(k, v); // BigQuery keeps the first of duplicate keys
        ws();
        if (text[i] === ',') { i++; continue; }
        if (text[i++] === '}') return out;
        fail('expected "," or "}"');
      }
    }
    if (c === '[') {
      i++;
      const out: JsonValue[] = [];
      ws();
      if (text[i] === ']') { i++; return out; }
      for (;;) {
        out.push(value());
        ws();
        if (text[i] === ',') { i++; continue; }
        if (text[i++] === ']') return out;
        fail('expected "," or "]"');
      }
    }
    if (c === '"') return str();
    for (const [word, v] of [['true', true], ['false', false], ['null', null]] as const) {
      if (text.startsWith(word, i)) { i += word.length; return v; }
    }
    NUMBER.lastIndex = i;
    const m = NUMBER.exec(text);
    if (!m) return fail('unexpected character');
    i += m[0].length;
    return new JsonNumber(m[0]);
  };
  const str = (): string => {
    const start = i;
    i++;
    while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    if (i >= text.length) fail('unterminated string');
    i++;
    try { return JSON.parse(text.slice(start, i)) as string; } catch { return fail('invalid string'); }
  };
  const v = value();
  ws();
  if (i < text.length) fail('text after the value');
  return v;
}

const INT64_MIN = -(2n ** 63n);
const UINT64_MAX = 2n ** 64n - 1n;

/** Whether a number's text is an INT64 or a UINT64. */
export function isInt64OrUint64(text: string): boolean {
  if (!/^-?\d+$/.test(text)) return false;
  const n = BigInt(text);
  return n >= INT64_MIN && n <= UINT64_MAX;
}

/**
 * A number's text as BigQuery prints it: an INT64 / UINT64 as is, any other as a double, in its
 * shortest round-trip digits, with an exponent (`e+15`, `e-05`) below 1e-4 or from 1e15 up
 * (`9.007199254740992e+15`, `1e+100`, as the json_functions page prints them), else plain (`10` for `10.0`).
 */
export function numberText(text: string): string {
  if (isInt64OrUint64(text)) return BigInt(text).toString();
  const d = Number(text);
  if (d === 0 || !Number.isFinite(d)) return Object.is(d, -0) ? '-0' : String(d);
  const [mantissa, exp] = d.toExponential().split('e');
  const e = Number(exp);
  if (e >= -4 && e < 15) return String(d);
  return `${mantissa}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
}

/** Significant digits of a decimal number's text (sign, exponent and leading / trailing zeros dropped). */
const significant = (text: string) => text.replace(/^-/, '').replace(/[eE].*$/, '').replace('.', '').replace(/^0+/, '').replace(/0+$/, '');

/**
 * Whether a JSON number is stored without loss (PARSE_JSON's `wide_number_mode => 'exact'`,
 * https://cloud.google.com/bigquery/docs/reference/standard-sql/json_functions#parse_json): an INT64 /
 * UINT64, or a number whose digits a double keeps.
 */
export function exactNumber(text: string): boolean {
  if (isInt64OrUint64(text)) return true;
  const d = Number(text);
  if (!Number.isFinite(d)) return false;
  if (/^-?\d+$/.test(text)) return BigInt(d) === BigInt(text);
  const digits = significant(text);
  return digits.length <= 15 || significant(d.toExponential()) === digits;
}

/** Compact JSON text of `v`, object keys sorted. */
export function printJson(v: JsonValue): string {
  if (v === null) return 'null';
  if (typeof v === 'boolean') return String(v);
  if (typeof v === 'string') return JSON.stringify(v);
  if (v instanceof JsonNumber) return numberText(v.text);
  if (Array.isArray(v)) return `[${v.map(printJson).join(',')}]`;
  return `{${[...v.keys()].sort().map((k) => `${JSON.stringify(k)}:${printJson(v.get(k)!)}`).join(',')}}`;
}

/** One step of a JSONPath: an object member (name) or an array element (index). */
export type PathStep = { key: string } | { index: number };

/** The steps of a JSONPath; throws JsonError for an invalid one (BigQuery raises it too). */
export function parsePath(path: string): PathStep[] {
  if (!path.startsWith('$')) throw new JsonError(`Invalid JSONPath: ${path} (it must start with '$')`);
  const steps: PathStep[] = [];
  let i = 1;
  const bad = (): never => { throw new JsonError(`Invalid JSONPath: ${path} (at offset ${i})`); };
  while (i < path.length) {
    if (path[i] === '.') {
      i++;
      if (path[i] === '"') {
        const end = path.indexOf('"', i + 1);
        if (end < 0) bad();
        steps.push({ key: path.slice(i + 1, end) });
        i = end + 1;
      } else {
        const m = /^[^.[\]]+/.exec(path.slice(i));
        if (!m) bad();
        steps.push({ key: m![0] });
        i += m![0].length;
      }
    } else if (path[i] === '[') {
      const q = path[i + 1];
      if (q === "'" || q === '"') {
        const end = path.indexOf(`${q}]`, i + 2);
        if (end < 0) bad();
        steps.push({ key: path.slice(i + 2, end) });
        i = end + 2;
      } else {
        const m = /^\[\s*(\d+)\s*\]/.exec(path.slice(i));
        if (!m) bad();
        steps.push({ index: Number(m![1]) });
        i += m![0].length;
      }
    } else bad();
  }
  return steps;
}

/** The value at `steps` in `v`, or undefined when the path does not lead to one. */
export function valueAt(v: JsonValue, steps: PathStep[]): JsonValue | undefined {
  let at: JsonValue | undefined = v;
  for (const s of steps) {
    if (at === undefined) return undefined;
    if ('key' in s) at = isObject(at) ? at.get(s.key) : undefined;
    else at = Array.isArray(at) ? at[s.index] : undefined;
  }
  return at;
}
