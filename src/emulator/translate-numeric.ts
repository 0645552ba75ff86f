/**
 * GoogleSQL's numeric literals and decimal types with BigQuery's meaning in DuckDB
 * (https://cloud.google.com/bigquery/docs/reference/standard-sql/lexical#floating_point_literals,
 * https://cloud.google.com/bigquery/docs/reference/standard-sql/data-types#decimal_types,
 * https://cloud.google.com/bigquery/docs/reference/standard-sql/data-types#parameterized_decimal_type).
 *
 * `numericTypes(sql)` runs on GoogleSQL text before polyglot (on polyglot's BigQuery tokens, so
 * strings, comments and quoted names are never touched):
 * - an unsuffixed decimal literal with a point (`1.5`, `.5`, `5.`) is FLOAT64 in BigQuery, but a
 *   DECIMAL in DuckDB: it gets the exponent `e0` (`1.5e0`), which DuckDB reads as DOUBLE. A number
 *   after a `.` (a path part) or before PERCENT (TABLESAMPLE) is left as written;
 * - the decimal types NUMERIC / DECIMAL and BIGNUMERIC / BIGDECIMAL, bare or parameterized `(P[, S])`,
 *   in a typed literal (`NUMERIC '1.5'`), a CAST / SAFE_CAST target, a STRUCT< > / ARRAY< > element or
 *   a column of CREATE TABLE / ALTER TABLE, become a placeholder type name polyglot passes through
 *   (it would write every one as DuckDB's bare DECIMAL, which is DECIMAL(18,3), and drop P and S);
 *   `decimalTypes(duckSql)` turns the placeholders into DuckDB DECIMAL(P,S) after polyglot.
 *
 * Storage: NUMERIC is DECIMAL(38,9), BigQuery's exact range (29 integer digits, 9 fractional).
 * BIGNUMERIC (BigQuery: 76.76 digits, scale 38) does not fit DuckDB, whose DECIMAL stops at 38 digits:
 * the emulator holds it as DECIMAL(38,19) (decimal-values.ts; params.ts, PARSE_BIGNUMERIC): 19 integer digits
 * (INT64 fits) and 19 fractional ones (a token amount's 18 fit), a value beyond them is an overflow error,
 * never a wrapped value; NUMERIC(P,S) and BIGNUMERIC(P,S) are DECIMAL(P,S);
 * a BIGNUMERIC(P,S) with P > 38 is refused with a clear error (`invalidQuery`).
 * BigQuery's bounds on P and S are checked: NUMERIC `0 ≤ S ≤ 9`, `max(1, S) ≤ P ≤ S + 29`;
 * BIGNUMERIC `0 ≤ S ≤ 38`, `max(1, S) ≤ P ≤ S + 38`.
 */
import { BigQueryError } from '../bigquery/errors.js';
import { bigQueryTokens, isString, type Tok } from './translate-divide.js';
import { BIGNUMERIC_DUCK } from './decimal-values.js';

const PLACEHOLDER = 'bqgate_decimal_';
const NUMERIC_WORDS = new Set(['NUMERIC', 'DECIMAL']);
const BIGNUMERIC_WORDS = new Set(['BIGNUMERIC', 'BIGDECIMAL']);
const DUCK_MAX_WIDTH = 38;

const upper = (t?: Tok) => (t && !isString(t) ? t.text.toUpperCase() : '');
const isDecimalWord = (t?: Tok) => !!t && t.type !== 'QUOTED_IDENTIFIER' && (NUMERIC_WORDS.has(upper(t)) || BIGNUMERIC_WORDS.has(upper(t)));
const bad = (message: string) => new BigQueryError('invalidQuery', message, { location: 'query' });

/** DuckDB `[width, scale]` of a decimal type spelled `word` with BigQuery parameters `params` (checked as BigQuery checks them). */
export function decimalWidthScale(word: string, params: number[]): [number, number] {
  const big = BIGNUMERIC_WORDS.has(word.toUpperCase());
  const name = big ? 'BIGNUMERIC' : 'NUMERIC';
  if (!params.length) return big ? BIGNUMERIC_DUCK : [38, 9];
  const [p, s = 0] = params;
  const maxScale = big ? 38 : 9;
  const maxInt = big ? 38 : 29;
  if (s < 0 || s > maxScale) throw bad(`In ${name}(P, S), S must be between 0 and ${maxScale}, actual scale: ${s}`);
  if (p < Math.max(1, s) || p > s + maxInt) throw bad(`In ${name}(P, S), P must be between max(S, 1) and max(S, 1) + ${maxInt}, actual precision: ${p}`);
  if (p > DUCK_MAX_WIDTH) throw bad(`The emulator cannot hold ${name}(${params.join(', ')}): its DuckDB DECIMAL has at most ${DUCK_MAX_WIDTH} digits (BigQuery's BIGNUMERIC has 76.76).`);
  return [p, s];
}

/** Whether the statement declares columns (CREATE TABLE / ALTER TABLE), where `name NUMERIC` is a column's type. */
function declaresColumns(ts: Tok[]): boolean {
  const head = ts.slice(0, 6).map(upper).filter((w) => !['OR', 'REPLACE', 'TEMP', 'TEMPORARY', 'IF', 'NOT', 'EXISTS'].includes(w));
  return (head[0] === 'CREATE' || head[0] === 'ALTER') && head[1] === 'TABLE';
}

/** Whether the decimal word at `i` names a type (not a column or alias spelled NUMERIC). */
function isTypePosition(ts: Tok[], i: number, angle: number, ddlColumns: boolean): boolean {
  const prev = ts[i - 1];
  if (prev?.text === '.' || ts[i + 1]?.text === '.') return false;
  if (isString(ts[i + 1])) return true; // NUMERIC '1.5'
  if (angle > 0) return true; // STRUCT<a NUMERIC>, ARRAY<BIGNUMERIC>
  if (upper(prev) === 'AS') {
    let depth = 0; // the enclosing parenthesis opens a CAST / SAFE_CAST
    for (let k = i - 2; k >= 0; k--) {
      if (ts[k].text === ')') depth++;
      else if (ts[k].text === '(' && depth-- === 0) return /^(?:SAFE_)?CAST$/.test(upper(ts[k - 1]));
    }
    return false;
  }
  return ddlColumns;
}

/** Rewrites float literals and decimal types of GoogleSQL `sql` as described above. */
export function numericTypes(sql: string): string {
  if (!/[0-9]\.|\.[0-9]|NUMERIC|DECIMAL/i.test(sql)) return sql;
  const ts = bigQueryTokens(sql);
  if (!ts) return sql;
  const ddlColumns = declaresColumns(ts);
  const edits: Array<[number, number, string]> = [];
  let angle = 0;
  for (let i = 0; i < ts.length; i++) {
    const t = ts[i];
    if (t.text === '<' && /^(?:STRUCT|ARRAY|RANGE)$/.test(upper(ts[i - 1]))) angle++;
    else if (angle > 0 && (t.text === '>' || t.text === '>>')) angle = Math.max(0, angle - t.text.length);
    else if (t.type === 'NUMBER' && t.text.includes('.') && !/e/i.test(t.text) && ts[i - 1]?.text !== '.' && upper(ts[i + 1]) !== 'PERCENT') {
      edits.push([t.end, t.end, 'e0']);
    } else if (isDecimalWord(t) && isTypePosition(ts, i, angle, ddlColumns)) {
      let end = i + 1;
      const params: number[] = [];
      if (ts[end]?.text === '(' && ts[end + 1]?.type === 'NUMBER') {
        let k = end + 1;
        while (ts[k]?.type === 'NUMBER' && /^\d+$/.test(ts[k].text)) { params.push(Number(ts[k].text)); k += ts[k + 1]?.text === ',' ? 2 : 1; }
        if (ts[k]?.text === ')' && params.length <= 2) end = k + 1; else params.length = 0;
      }
      const [w, s] = decimalWidthScale(t.text, params);
      const type = `${PLACEHOLDER}${w}_${s}`;
      if (isString(ts[end]) && !params.length) { edits.push([t.start, ts[end].end, `CAST(${sql.slice(ts[end].start, ts[end].end)} AS ${type})`]); i = end; }
      else { edits.push([t.start, ts[end - 1].end, type]); i = end - 1; }
    }
  }
  let out = sql;
  for (const [s, e, text] of edits.sort((a, b) => b[0] - a[0])) out = out.slice(0, s) + text + out.slice(e);
  return out;
}

/** The placeholders of `numericTypes` in polyglot's DuckDB text as DuckDB DECIMAL(P,S). */
export function decimalTypes(duck: string): string {
  return duck.includes(PLACEHOLDER) ? duck.replace(new RegExp(`"?${PLACEHOLDER}(\\d+)_(\\d+)"?`, 'gi'), 'DECIMAL($1,$2)') : duck;
}

/**
 * BigQuery's message for DuckDB's error on a decimal value (ZetaSQL's texts: `numeric overflow: …`,
 * `BIGNUMERIC overflow: …`, `Invalid NUMERIC value: …`), or undefined when it is another error.
 * The emulator's DECIMAL(38,9) overflows exactly where BigQuery's NUMERIC does.
 */
export function decimalErrorMessage(duckMessage: string): string | undefined {
  const kind = (scale: string) => (Number(scale) === BIGNUMERIC_DUCK[1] ? 'BIGNUMERIC' : 'NUMERIC');
  const exact = /(?:numeric|BIGNUMERIC) overflow: the \w+'s result is beyond the range of \w+/.exec(duckMessage); // decimal-arith.ts
  if (exact) return exact[0];
  const op = /Overflow in (addition|subtraction|multiplication|division) of DECIMAL\(\d+\)/.exec(duckMessage);
  if (op) return `numeric overflow: the ${op[1]}'s result is beyond the range of NUMERIC`;
  const str = /Could not convert string "([^"]*)" to DECIMAL\(\d+,(\d+)\)/.exec(duckMessage);
  if (str) return `Invalid ${kind(str[2])} value: ${str[1]}`;
  const val = /(?:Could not cast value|Casting value) "?([^"\s]+)"?(?: to type| to) DECIMAL\((\d+),(\d+)\)/.exec(duckMessage);
  if (val) {
    const range = Number(val[2]) === 38 && (Number(val[3]) === 9 || Number(val[3]) === BIGNUMERIC_DUCK[1]) ? kind(val[3]) : `NUMERIC(${val[2]}, ${val[3]})`;
    return `${kind(val[3]) === 'BIGNUMERIC' ? 'BIGNUMERIC' : 'numeric'} out of range: ${val[1]} does not fit ${range}`;
  }
  return undefined;
}

const HEX_INT = /^\s*([+-]?)\s*0[xX]([0-9a-fA-F]+)\s*$/;
const INT64_WORDS = new Set(['INT64', 'INT', 'INTEGER', 'BIGINT', 'SMALLINT', 'TINYINT', 'BYTEINT']);

/**
 * `CAST('-0x123' AS INT64)` (and SAFE_CAST) of a STRING literal in hexadecimal with a sign or blanks around it, as BigQuery
 * reads it (https://cloud.google.com/bigquery/docs/reference/standard-sql/conversion_functions#cast_as_integer: -291):
 * the literal becomes its decimal text; DuckDB reads only an unsigned, unpadded `0x…`. A value beyond INT64 is left for
 * DuckDB's error. Only literals: a column's hexadecimal text is DuckDB's to read.
 */
export function hexIntegerCasts(sql: string): string {
  if (!/0[xX]/.test(sql)) return sql;
  const ts = bigQueryTokens(sql);
  if (!ts) return sql;
  const edits: Array<[number, number, string]> = [];
  for (let i = 2; i < ts.length; i++) {
    const m = isString(ts[i]) ? HEX_INT.exec(ts[i].text) : null;
    if (!m || ts[i - 1].text !== '(' || !/^(?:SAFE_)?CAST$/.test(upper(ts[i - 2])) || upper(ts[i + 1]) !== 'AS' || !INT64_WORDS.has(upper(ts[i + 2]))) continue;
    const v = BigInt(`0x${m[2]}`) * (m[1] === '-' ? -1n : 1n);
    if (v >= -(2n ** 63n) && v < 2n ** 63n) edits.push([ts[i].start, ts[i].end, `'${v}'`]);
  }
  let out = sql;
  for (const [s, e, text] of edits.reverse()) out = out.slice(0, s) + text + out.slice(e);
  return out;
}
