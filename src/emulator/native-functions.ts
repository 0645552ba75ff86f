/**
 * GoogleSQL functions DuckDB lacks or computes otherwise, as native DuckDB scalar functions written
 * in JavaScript (@duckdb/node-api `registerScalarFunction`), each behind a DuckDB macro of
 * translate-functions.ts (`NATIVE_MACROS`, spread into its MACROS: the macro gives BigQuery's optional
 * arguments and the STRING/BYTES dispatch; the JS function has fixed parameter types).
 *
 * `registerNativeFunctions(con)` registers the `bqgate_js_*` functions once, when the engine opens
 * (engine.ts), before the macros are created. A NULL argument gives NULL (DuckDB's default for
 * scalar functions), as these BigQuery functions do; a BigQuery error is raised as a DuckDB error
 * (`setError`), which SAFE. (TRY) turns into NULL. Each follows its section of
 * https://cloud.google.com/bigquery/docs/reference/standard-sql/string_functions or
 * https://cloud.google.com/bigquery/docs/reference/standard-sql/hash_functions (anchor per entry).
 * Regular expressions are JavaScript's (`u` flag), close to RE2 for the patterns the docs use; RE2's
 * inline flags such as `(?i)` at the start are read into JS flags.
 */
import { BIGINT, BLOB, VARCHAR, DuckDBBlobValue, DuckDBScalarFunction, type DuckDBConnection, type DuckDBType } from '@duckdb/node-api';
import { fingerprint64 } from './farm-fingerprint.js';
import { scan } from './translate.js';
import { DECIMAL_NATIVES } from './decimal-arith.js';

type In = string | bigint | Uint8Array;
/** One JS scalar: parameter types, return type, and the value of one row (throw `Error` for BigQuery's error). */
interface Native { params: DuckDBType[]; returns: DuckDBType; fn: (...args: any[]) => In | null }

/** #instr: 1-based index of the `occurrence`-th match of `search` from `position` (negative: from the end, backwards); 0 when none. Matches may overlap. */
function instr(source: string, search: string, position: bigint, occurrence: bigint): bigint {
  if (position === 0n) throw new Error('INSTR: position must not be 0');
  if (occurrence < 1n) throw new Error('INSTR: occurrence must be positive');
  const s = Array.from(source), t = Array.from(search);
  const at = (i: number) => t.every((c, k) => s[i + k] === c);
  let left = Number(occurrence);
  if (position > 0n) {
    for (let i = Number(position) - 1; i + t.length <= s.length; i++) if (at(i) && --left === 0) return BigInt(i + 1);
  } else {
    for (let i = Math.min(s.length + Number(position), s.length - t.length); i >= 0; i--) if (at(i) && --left === 0) return BigInt(i + 1);
  }
  return 0n;
}

/** A GoogleSQL (RE2) pattern as a JS RegExp (global, code points): RE2's leading `(?flags)` become JS flags. */
function regex(pattern: string): RegExp {
  const m = /^\(\?([imsU]+)\)/.exec(pattern);
  const flags = m ? [...new Set(m[1].replace('U', ''))].join('') : '';
  try { return new RegExp(m ? pattern.slice(m[0].length) : pattern, `gu${flags}`); }
  catch (e) { throw new Error(`Cannot parse regular expression: ${(e as Error).message}`); }
}

/** The capturing groups a pattern has (BigQuery allows at most one in REGEXP_EXTRACT / REGEXP_INSTR). */
const groups = (re: RegExp) => new RegExp(`${re.source}|`, re.flags.replace('g', '')).exec('')!.length - 1;

/** #regexp_instr: 1-based start (or, `occurrence_position` 1, end + 1) of the occurrence-th match from `position`, or of its capturing group; 0 when none. */
function regexpInstr(source: string, pattern: string, position: bigint, occurrence: bigint, endPos: bigint): bigint {
  if (position < 1n) throw new Error('REGEXP_INSTR: position must be positive');
  if (occurrence < 1n) throw new Error('REGEXP_INSTR: occurrence must be positive');
  if (endPos !== 0n && endPos !== 1n) throw new Error('REGEXP_INSTR: occurrence_position must be 0 or 1');
  const re = regex(pattern);
  if (groups(re) > 1) throw new Error('REGEXP_INSTR: the regular expression may have at most one capturing group');
  const cps = Array.from(source);
  if (Number(position) > cps.length) return 0n;
  const units = (cpIndex: number) => cps.slice(0, cpIndex).join('').length;
  const cpOf = (unit: number) => Array.from(source.slice(0, unit)).length;
  re.lastIndex = units(Number(position) - 1);
  let left = Number(occurrence);
  for (let m = re.exec(source); m; m = re.exec(source)) {
    if (m[0] === '') re.lastIndex++;
    if (--left > 0) continue;
    const [start, text] = m.length > 1 && m[1] !== undefined ? [source.indexOf(m[1], m.index), m[1]] : [m.index, m[0]];
    return BigInt(cpOf(start) + 1 + (endPos === 1n ? Array.from(text).length : 0));
  }
  return 0n;
}

/**
 * #regexp_extract (and its alias REGEXP_SUBSTR): the occurrence-th match from `position`, or its capturing group when the
 * pattern has one (NULL when the group took no part); NULL when there is no such match; more than one group is an error.
 */
function regexpExtract(source: string, pattern: string, position: bigint, occurrence: bigint): string | null {
  if (position < 1n) throw new Error('REGEXP_EXTRACT: position must be positive');
  if (occurrence < 1n) throw new Error('REGEXP_EXTRACT: occurrence must be positive');
  const re = regex(pattern);
  const g = groups(re);
  if (g > 1) throw new Error('REGEXP_EXTRACT: the regular expression may have at most one capturing group');
  const cps = Array.from(source);
  if (Number(position) > cps.length && !(cps.length === 0 && position === 1n)) return null;
  re.lastIndex = cps.slice(0, Number(position) - 1).join('').length;
  let left = Number(occurrence);
  for (let m = re.exec(source); m; m = re.exec(source)) {
    if (m[0] === '') re.lastIndex++;
    if (--left === 0) return g === 1 ? m[1] ?? null : m[0];
    if (re.lastIndex > source.length) break;
  }
  return null;
}

/** #soundex: the first Latin letter, then the codes of the next (H and W do not separate equal codes, vowels do), padded to 4 with 0. */
function soundex(value: string): string {
  const letters = value.replace(/[^A-Za-z]/g, '').toUpperCase();
  if (!letters) return '';
  const code = (c: string) => ('BFPV'.includes(c) ? '1' : 'CGJKQSXZ'.includes(c) ? '2' : 'DT'.includes(c) ? '3'
    : c === 'L' ? '4' : 'MN'.includes(c) ? '5' : c === 'R' ? '6' : 'HW'.includes(c) ? '' : '0');
  let out = letters[0];
  let last = code(letters[0]);
  for (const c of letters.slice(1)) {
    const d = code(c);
    if (d === '') continue;
    if (d !== '0' && d !== last) out += d;
    last = d;
  }
  return out.padEnd(4, '0').slice(0, 4);
}

const MODES = new Set(['NFC', 'NFKC', 'NFD', 'NFKD']);
/** #normalize: Unicode normalization form `mode` (NFC, NFKC, NFD, NFKD). */
function normalize(value: string, mode: string): string {
  const m = mode.toUpperCase();
  if (!MODES.has(m)) throw new Error(`NORMALIZE: unknown normalization mode ${mode}`);
  return value.normalize(m);
}
/** #normalize_and_casefold: normalized, full case folding (upper then lower case: ß → ss), normalized again. */
const normalizeAndCasefold = (value: string, mode: string) => normalize(normalize(value, mode).toUpperCase().toLowerCase(), mode);

const B32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
/** #to_base32: RFC 4648 base32, padded with `=`. */
function toBase32(bytes: Uint8Array): string {
  let out = '', bits = 0, acc = 0;
  for (const b of bytes) {
    acc = (acc << 8) | b; bits += 8;
    while (bits >= 5) { out += B32[(acc >>> (bits - 5)) & 31]; bits -= 5; }
  }
  if (bits > 0) out += B32[(acc << (5 - bits)) & 31];
  return out.padEnd(Math.ceil(out.length / 8) * 8, '=');
}
/** #from_base32: the bytes of RFC 4648 base32 text (padding optional); an error on any other character. */
function fromBase32(text: string): Uint8Array {
  const body = text.replace(/=+$/, '');
  const out: number[] = [];
  let bits = 0, acc = 0;
  for (const c of body) {
    const v = B32.indexOf(c.toUpperCase());
    if (v < 0) throw new Error(`FROM_BASE32: invalid base32 text '${text.slice(0, 20)}'`);
    acc = ((acc << 5) | v) & 0xffff; bits += 5;
    if (bits >= 8) { out.push((acc >>> (bits - 8)) & 255); bits -= 8; }
  }
  return Uint8Array.from(out);
}

/** name → the JS scalar `bqgate_js_<name>`. */
const NATIVES: Record<string, Native> = {
  instr: { params: [VARCHAR, VARCHAR, BIGINT, BIGINT], returns: BIGINT, fn: instr },
  regexp_instr: { params: [VARCHAR, VARCHAR, BIGINT, BIGINT, BIGINT], returns: BIGINT, fn: regexpInstr },
  regexp_extract: { params: [VARCHAR, VARCHAR, BIGINT, BIGINT], returns: VARCHAR, fn: regexpExtract },
  soundex: { params: [VARCHAR], returns: VARCHAR, fn: soundex },
  normalize: { params: [VARCHAR, VARCHAR], returns: VARCHAR, fn: normalize },
  normalize_and_casefold: { params: [VARCHAR, VARCHAR], returns: VARCHAR, fn: normalizeAndCasefold },
  to_base32: { params: [BLOB], returns: VARCHAR, fn: toBase32 },
  from_base32: { params: [VARCHAR], returns: BLOB, fn: fromBase32 },
  farm_fingerprint: { params: [BLOB], returns: BIGINT, fn: fingerprint64 },
  ...DECIMAL_NATIVES, // exact NUMERIC / BIGNUMERIC division and product (decimal-arith.ts)
};

/** `x` as BLOB: a VARCHAR's UTF-8 bytes (DuckDB folds the CASE by the argument's type). */
const bytes = (x: string) => `CASE WHEN typeof(${x}) = 'BLOB' THEN ${x}::BLOB ELSE encode(${x}::VARCHAR) END`;

/** GoogleSQL name → [DuckDB macro parameters, body] over the JS scalars (spread into translate-functions.ts MACROS). */
export const NATIVE_MACROS: Record<string, [string, string]> = {
  INSTR: ['s, t, p := 1, o := 1', 'bqgate_js_instr(s, t, p, o)'],
  REGEXP_INSTR: ['s, r, p := 1, o := 1, e := 0', 'bqgate_js_regexp_instr(s, r, p, o, e)'],
  REGEXP_EXTRACT: ['s, r, p := 1, o := 1', 'bqgate_js_regexp_extract(s, r, p, o)'],
  REGEXP_SUBSTR: ['s, r, p := 1, o := 1', 'bqgate_js_regexp_extract(s, r, p, o)'],
  // #regexp_replace: every non-overlapping match is replaced (DuckDB's replaces the first unless 'g')
  REGEXP_REPLACE: ['s, r, t', "regexp_replace(s, r, t, 'g')"],
  SOUNDEX: ['s', 'bqgate_js_soundex(s)'],
  NORMALIZE: ['s, m := \'NFC\'', 'bqgate_js_normalize(s, m)'],
  NORMALIZE_AND_CASEFOLD: ['s, m := \'NFC\'', 'bqgate_js_normalize_and_casefold(s, m)'],
  TO_BASE32: ['b', 'bqgate_js_to_base32(b)'],
  FROM_BASE32: ['s', 'bqgate_js_from_base32(s)'],
  FARM_FINGERPRINT: ['x', `bqgate_js_farm_fingerprint(${bytes('x')})`],
  // #code_points_to_bytes: each value 0–255 one byte; an error otherwise
  CODE_POINTS_TO_BYTES: ['a', `CASE WHEN a IS NULL OR list_contains(a, NULL) THEN NULL
    WHEN NOT list_bool_and(list_transform(a, lambda c: c BETWEEN 0 AND 255)) THEN CAST('CODE_POINTS_TO_BYTES: a value is not 0 to 255' AS INTEGER)::BLOB
    ELSE unhex(array_to_string(list_transform(a, lambda c: lpad(hex(c::INTEGER), 2, '0')), '')) END`],
  // #unicode: the first character's code point, 0 for the empty string (DuckDB's is -1)
  UNICODE: ['s', 'CASE WHEN s = \'\' THEN 0 ELSE unicode(s) END::BIGINT'],
  // #lpad / #rpad: typed-macros.ts (STRING and BYTES)
  // https://cloud.google.com/bigquery/docs/reference/standard-sql/mathematical_functions#div: division by zero is an error
  // (DuckDB's // and % give NULL); #mod likewise; #ieee_divide: IEEE 754 (±inf, NaN), never an error
  DIV: ['x, y', `CASE WHEN x IS NULL THEN NULL WHEN y = 0 THEN CAST('division by zero: DIV(x, 0)' AS INTEGER) ELSE x // y END`],
  MOD: ['x, y', `CASE WHEN x IS NULL THEN NULL WHEN y = 0 THEN CAST('division by zero: MOD(x, 0)' AS INTEGER) ELSE x % y END`],
  IEEE_DIVIDE: ['x, y', 'CASE WHEN y::DOUBLE = 0 AND (x::DOUBLE = 0 OR isnan(x::DOUBLE)) THEN \'NaN\'::DOUBLE ELSE x::DOUBLE / y::DOUBLE END'],
};

const toJs = (v: unknown): unknown => (v instanceof DuckDBBlobValue ? v.bytes : v);
const toDuck = (v: In | null): unknown => (v instanceof Uint8Array ? new DuckDBBlobValue(v) : v);

/** Registers every `bqgate_js_*` function on the engine's database (once, at open). */
export function registerNativeFunctions(con: DuckDBConnection): void {
  for (const [name, { params, returns, fn }] of Object.entries(NATIVES)) {
    con.registerScalarFunction(DuckDBScalarFunction.create({
      name: `bqgate_js_${name}`, returnType: returns, parameterTypes: params,
      mainFunction: (info, input, output) => {
        const cols = params.map((_t, i) => input.getColumnVector(i));
        for (let r = 0; r < input.rowCount; r++) {
          try { output.setItem(r, toDuck(fn(...cols.map((c) => toJs(c.getItem(r))))) as never); }
          catch (e) { info.setError((e as Error).message); return; }
        }
        output.flush();
      },
    }));
  }
}

/** `NORMALIZE(x, NFKC)` → `NORMALIZE(x, 'NFKC')`: GoogleSQL's mode is a bare name, a macro argument must be a value. */
export function normalizeModes(sql: string): string {
  if (!/\bNORMALIZE/i.test(sql)) return sql;
  const skip: Array<[number, number]> = [];
  scan(sql, (_k, s, e) => skip.push([s, e]));
  return sql.replace(/,\s*(NFK?[CD])\s*\)/gi, (m, mode: string, at: number) => (skip.some(([s, e]) => at >= s && at < e) ? m : `, '${mode.toUpperCase()}')`));
}
