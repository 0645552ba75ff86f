/**
 * BigQuery query parameters → typed DuckDB values, so each binds with its own type: a job's
 * `queryParameters` as both clients send them (CONTRACT.md §7 "Query parameters as sent by the
 * SDK", §4.2 for `bq`), shapes from https://cloud.google.com/bigquery/docs/reference/rest/v2/QueryParameter.
 *
 * `typedParameter(p)` → `{ value, type }` for `DuckDBPreparedStatement.bind(values, types)`:
 *
 * | BigQuery type | DuckDB type | value accepted |
 * |---|---|---|
 * | INT64 | BIGINT | integer number or decimal text |
 * | FLOAT64 | DOUBLE | number or text (`NaN`, `Infinity`) |
 * | BOOL | BOOLEAN | `true`/`false` (JSON or text) |
 * | STRING, GEOGRAPHY | VARCHAR | text |
 * | BYTES | BLOB | base64 text |
 * | JSON | JSON | JSON text |
 * | NUMERIC, BIGNUMERIC | DECIMAL(38,9), DECIMAL(38,19) (the emulator's storage types) | decimal text or number |
 * | TIMESTAMP | TIMESTAMP (UTC, as the emulator stores timestamps) | `YYYY-MM-DD[( |T)hh:mm[:ss[.ffffff]]][Z \| UTC \| ±hh[:mm]]` |
 * | DATETIME | TIMESTAMP | `YYYY-MM-DD[( |T)hh:mm[:ss[.ffffff]]]` |
 * | DATE | DATE | `YYYY-MM-DD` |
 * | TIME | TIME | `hh:mm[:ss[.ffffff]]` |
 * | ARRAY<T> | T[] | `arrayValues: [{value} …]` |
 * | STRUCT<…> | STRUCT(…) | `structTypes: [{name, type}]`, `structValues: {name: {value}}` |
 * | RANGE<T> | the struct of translate-range.ts | `rangeElementType: {type}`, `rangeValue: {start: {value}, end: {value}}` (UNBOUNDED, null or absent: open) or the text `[lo, hi)` |
 *
 * Throws `BigQueryError('invalidQuery')` naming the parameter for a value that does not read as its
 * type, and for a type the emulator cannot bind (INTERVAL, a SDK `Buffer` object sent as
 * JSON instead of base64): never a guess.
 */
import {
  BIGINT, BLOB, BOOLEAN, DATE, DECIMAL, DOUBLE, LIST, STRUCT, TIME, TIMESTAMP, VARCHAR, DuckDBVarCharType,
  blobValue, dateValue, decimalValue, listValue, structValue, timeValue, timestampValue,
  type DuckDBType, type DuckDBValue,
} from '@duckdb/node-api';
import { BigQueryError } from '../bigquery/errors.js';

/** A BigQuery `QueryParameterType`. */
export interface ParameterType { type: string; arrayType?: ParameterType; structTypes?: Array<{ name?: string; type: ParameterType }>; rangeElementType?: ParameterType }
/** A BigQuery `QueryParameterValue`. */
export interface ParameterValue { value?: unknown; arrayValues?: ParameterValue[]; structValues?: Record<string, ParameterValue>; rangeValue?: { start?: ParameterValue; end?: ParameterValue } }
/** A BigQuery `QueryParameter`. */
export interface QueryParameter { name?: string; parameterType: ParameterType; parameterValue?: ParameterValue }

const JSON_TYPE = DuckDBVarCharType.create('JSON');

const bad = (name: string, why: string) => new BigQueryError('invalidQuery', `Query parameter '${name}': ${why}`, { location: 'queryParameters' });

/** The DuckDB type a BigQuery parameter type binds as. */
export function duckTypeOf(t: ParameterType, name = '?'): DuckDBType {
  switch ((t?.type ?? '').toUpperCase()) {
    case 'INT64': case 'INTEGER': return BIGINT;
    case 'FLOAT64': case 'FLOAT': return DOUBLE;
    case 'BOOL': case 'BOOLEAN': return BOOLEAN;
    case 'STRING': case 'GEOGRAPHY': return VARCHAR;
    case 'BYTES': return BLOB;
    case 'JSON': return JSON_TYPE;
    case 'NUMERIC': return DECIMAL(38, 9);
    case 'BIGNUMERIC': return DECIMAL(38, 19);
    case 'TIMESTAMP': case 'DATETIME': return TIMESTAMP;
    case 'DATE': return DATE;
    case 'TIME': return TIME;
    case 'ARRAY':
      if (!t.arrayType) throw bad(name, 'an ARRAY parameter needs parameterType.arrayType.');
      return LIST(duckTypeOf(t.arrayType, name));
    case 'STRUCT': {
      const entries: Record<string, DuckDBType> = {};
      (t.structTypes ?? []).forEach((s, i) => { entries[s.name ?? `_field_${i + 1}`] = duckTypeOf(s.type, name); });
      if (!Object.keys(entries).length) throw bad(name, 'a STRUCT parameter needs parameterType.structTypes.');
      return STRUCT(entries);
    }
    case 'RANGE': {
      const e = rangeElement(t, name);
      return STRUCT({ '$range_start': duckTypeOf({ type: e }), '$range_end': duckTypeOf({ type: e }), ...(e === 'DATETIME' ? { '$datetime': BOOLEAN } : {}) });
    }
    default: throw bad(name, `the emulator cannot bind a parameter of type ${t?.type ?? '(none)'}.`);
  }
}

/** A RANGE parameter's element type (DATE, DATETIME or TIMESTAMP). */
function rangeElement(t: ParameterType, name: string): string {
  const e = (t.rangeElementType?.type ?? '').toUpperCase();
  if (!['DATE', 'DATETIME', 'TIMESTAMP'].includes(e)) throw bad(name, 'a RANGE parameter needs parameterType.rangeElementType DATE, DATETIME or TIMESTAMP.');
  return e;
}

/** A RANGE parameter's value: `rangeValue` bounds or the text `[lo, hi)`; the lower bound must be before the upper one. */
function rangeValueOf(t: ParameterType, pv: ParameterValue, name: string): DuckDBValue {
  const e = rangeElement(t, name);
  let bounds: Array<ParameterValue | undefined>;
  if (pv.rangeValue) bounds = [pv.rangeValue.start, pv.rangeValue.end];
  else {
    const m = /^\[\s*([^,]*?)\s*,\s*([^,]*?)\s*\)$/.exec(String(pv.value));
    if (!m) throw bad(name, `${String(pv.value).slice(0, 60)} is not a RANGE ([lower, upper)).`);
    bounds = [{ value: m[1] }, { value: m[2] }];
  }
  const [lo, hi] = bounds.map((b) => (b === undefined || b.value === null || b.value === undefined || /^(?:UNBOUNDED|NULL)$/i.test(String(b.value)) ? null : valueOf({ type: e }, b, name)));
  const at = (v: DuckDBValue) => (v && typeof v === 'object' && 'micros' in v ? BigInt(v.micros as bigint) : v && typeof v === 'object' && 'days' in v ? BigInt(v.days as number) : 0n);
  if (lo !== null && hi !== null && at(lo) >= at(hi)) throw bad(name, 'the lower bound of a RANGE must be less than the upper bound.');
  return structValue({ '$range_start': lo, '$range_end': hi, ...(e === 'DATETIME' ? { '$datetime': null } : {}) });
}

/** `{value, type}` of one parameter (its value converted to the DuckDB type it binds as). */
export function typedParameter(p: QueryParameter, name = p.name ?? '?'): { value: DuckDBValue; type: DuckDBType } {
  return { value: valueOf(p.parameterType, p.parameterValue, name), type: duckTypeOf(p.parameterType, name) };
}

function valueOf(t: ParameterType, pv: ParameterValue | undefined, name: string): DuckDBValue {
  const type = (t?.type ?? '').toUpperCase();
  if (type === 'ARRAY') {
    if (pv === undefined || (pv.arrayValues === undefined && pv.value === null)) return null;
    return listValue((pv.arrayValues ?? []).map((x) => valueOf(t.arrayType!, x, name)));
  }
  if (type === 'STRUCT') {
    if (pv === undefined || (pv.structValues === undefined && pv.value === null)) return null;
    const out: Record<string, DuckDBValue> = {};
    (t.structTypes ?? []).forEach((s, i) => { const k = s.name ?? `_field_${i + 1}`; out[k] = valueOf(s.type, pv.structValues?.[k], name); });
    return structValue(out);
  }
  if (type === 'RANGE') return pv === undefined || (!pv.rangeValue && (pv.value === null || pv.value === undefined)) ? null : rangeValueOf(t, pv, name);
  const v = pv?.value;
  if (v === null || v === undefined) return null;
  if (typeof v === 'object') throw bad(name, `a ${type} value must be a JSON scalar, not ${JSON.stringify(v).slice(0, 60)} (BYTES are base64 text).`);
  const s = String(v);
  switch (type) {
    case 'INT64': case 'INTEGER':
      if (!/^[+-]?\d+$/.test(s.trim())) throw bad(name, `${s} is not an INT64.`);
      return BigInt(s.trim());
    case 'FLOAT64': case 'FLOAT': {
      const n = /^[+-]?inf(inity)?$/i.test(s) ? (s.startsWith('-') ? -Infinity : Infinity) : Number(s);
      if (Number.isNaN(n) && !/^nan$/i.test(s)) throw bad(name, `${s} is not a FLOAT64.`);
      return n;
    }
    case 'BOOL': case 'BOOLEAN':
      if (!/^(true|false)$/i.test(s)) throw bad(name, `${s} is not a BOOL.`);
      return s.toLowerCase() === 'true';
    case 'STRING': case 'GEOGRAPHY': return s;
    case 'JSON':
      try { JSON.parse(s); } catch { throw bad(name, 'the value is not JSON text.'); }
      return s;
    case 'BYTES':
      if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(s)) throw bad(name, 'a BYTES value must be base64 text.');
      return blobValue(new Uint8Array(Buffer.from(s, 'base64')));
    case 'NUMERIC': return decimal(s, 9, name);
    case 'BIGNUMERIC': return decimal(s, 19, name);
    case 'DATE': {
      const m = s.match(/^(\d{4})-(\d{1,2})-(\d{1,2})$/);
      if (!m) throw bad(name, `${s} is not a DATE (YYYY-MM-DD).`);
      return dateValue(Math.round(checkedUtc(+m[1], +m[2], +m[3], 0, 0, 0, name, s) / 86_400_000));
    }
    case 'TIME': {
      const m = s.match(/^(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?$/);
      if (!m || +m[1] > 23 || +m[2] > 59 || +(m[3] ?? 0) > 59) throw bad(name, `${s} is not a TIME (hh:mm:ss[.ffffff]).`);
      return timeValue(BigInt(((+m[1] * 60 + +m[2]) * 60 + +(m[3] ?? 0)) * 1_000_000) + fraction(m[4]));
    }
    case 'TIMESTAMP': case 'DATETIME': return timestampValue(micros(s, type === 'TIMESTAMP', name));
    default: throw bad(name, `the emulator cannot bind a parameter of type ${type}.`);
  }
}

const fraction = (f: string | undefined) => BigInt((f ?? '').padEnd(6, '0').slice(0, 6) || '0');

function checkedUtc(y: number, mo: number, d: number, h: number, mi: number, s: number, name: string, text: string): number {
  const ms = Date.UTC(y, mo - 1, d, h, mi, s);
  const back = new Date(ms);
  if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d || h > 23 || mi > 59 || s > 59) throw bad(name, `${text} is not a valid date or time.`);
  return ms;
}

/** µs since the epoch (UTC) of a TIMESTAMP (zone allowed) or DATETIME (no zone) text. */
function micros(s: string, zoned: boolean, name: string): bigint {
  const m = s.trim().match(/^(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?\s*(Z|UTC|[+-]\d{1,2}(?::?\d{2})?)?$/i);
  if (!m || (m[8] && !zoned)) throw bad(name, `${s} is not a ${zoned ? 'TIMESTAMP' : 'DATETIME'} (YYYY-MM-DD hh:mm:ss[.ffffff]${zoned ? '[+hh:mm|Z|UTC]' : ''}).`);
  let ms = checkedUtc(+m[1], +m[2], +m[3], +(m[4] ?? 0), +(m[5] ?? 0), +(m[6] ?? 0), name, s);
  const zone = m[8]?.toUpperCase();
  if (zone && zone !== 'Z' && zone !== 'UTC') {
    const z = zone.match(/^([+-])(\d{1,2}):?(\d{2})?$/)!;
    ms -= (z[1] === '-' ? -1 : 1) * ((+z[2] * 60 + +(z[3] ?? 0)) * 60_000);
  }
  return BigInt(ms) * 1000n + fraction(m[7]);
}

function decimal(s: string, scale: number, name: string) {
  const m = s.trim().match(/^([+-])?(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/);
  if (!m || (!m[2] && !m[3])) throw bad(name, `${s} is not a decimal number.`);
  let digits = (m[2] ?? '') + (m[3] ?? '');
  let point = (m[2] ?? '').length + Number(m[4] ?? 0);
  // scale digits after the point
  const want = point + scale;
  if (want < 0) { digits = '0'; point = 0; }
  digits = want >= digits.length ? digits.padEnd(Math.max(0, want), '0') : digits.slice(0, Math.max(0, want));
  if (want < (m[2] ?? '').length + (m[3] ?? '').length && /[1-9]/.test(((m[2] ?? '') + (m[3] ?? '')).slice(Math.max(0, want)))) {
    throw bad(name, `${s} has more than ${scale} digits after the decimal point.`);
  }
  const scaled = BigInt(digits || '0') * (m[1] === '-' ? -1n : 1n);
  if ((scaled < 0n ? -scaled : scaled) >= 10n ** 38n) throw bad(name, `${s} is out of range for the emulator's DECIMAL(38,${scale}).`);
  return decimalValue(scaled, 38, scale);
}
