/**
 * GoogleSQL's `/` and `*` operators and AVG with BigQuery's result types in DuckDB
 * (https://cloud.google.com/bigquery/docs/reference/standard-sql/operators#arithmetic_operators,
 * https://cloud.google.com/bigquery/docs/reference/standard-sql/aggregate_functions#avg):
 *
 * | operands                        | BigQuery result | DuckDB's own                                  |
 * |---------------------------------|-----------------|-----------------------------------------------|
 * | INT64 / INT64                   | FLOAT64         | DOUBLE (the same)                             |
 * | NUMERIC / NUMERIC (or INT64)    | NUMERIC         | DOUBLE                                        |
 * | BIGNUMERIC / any decimal        | BIGNUMERIC      | DOUBLE                                        |
 * | NUMERIC × NUMERIC               | NUMERIC, exact  | DECIMAL(38,18): an overflow error above 10^20 |
 * | AVG(NUMERIC), AVG(BIGNUMERIC)   | the same type   | DOUBLE                                        |
 * | anything with FLOAT64           | FLOAT64         | DOUBLE (the same)                             |
 *
 * The emulator's NUMERIC is DECIMAL(38,9), its BIGNUMERIC DECIMAL(38,19) (translate-numeric.ts). A
 * decimal result is computed exactly (BigInt, in JS: `bqgate_js_decimal_divide` / `_multiply`) and
 * rounded half away from zero to the result's scale (9, or 19 when an operand has a scale above 9);
 * beyond the type's range (29 integer digits for NUMERIC, 19 for the emulator's BIGNUMERIC) it is
 * BigQuery's overflow error (`numeric overflow: …`), never a wrapped value.
 *
 * DuckDB picks the result type at bind time, so the macros dispatch on the operands' types:
 * overloads typed BIGINT and INTERVAL take the integer and interval cases, and the rest goes on
 * to a second macro over a type witness `x * 0 + y * 0` (DuckDB's common arithmetic type of the
 * operands) whose `DECIMAL` overload is the decimal case (DOUBLE does not cast to DECIMAL
 * implicitly; a HUGEINT, as DuckDB's SUM of INT64, has its own overload). DuckDB's overloads tell
 * types apart, not DECIMAL widths (two DECIMAL overloads are ambiguous), hence the witness. The decimal case's scale comes
 * from `typeof` (folded to a constant), and the result is `raw × u`, u the unit `10^-scale` typed
 * `DECIMAL(38, scale)`, an argument the statement gives (translate-arith.ts `decimalUnits` says why).
 */
import { HUGEINT, INTEGER, VARCHAR, type DuckDBType } from '@duckdb/node-api';

const NUMERIC_SCALE = 9;
const BIGNUMERIC_SCALE = 19;
const DUCK_DIGITS = 38;

/** A DuckDB decimal or integer's text (`-12.500000000`, `7`) as `[unscaled value, scale]`. */
function parseDecimal(text: string): [bigint, number] {
  const m = /^(-?)(\d+)(?:\.(\d*))?$/.exec(text.trim());
  if (!m) throw new Error(`not a decimal number: ${text}`);
  const frac = m[3] ?? '';
  const v = BigInt(m[2] + frac);
  return [m[1] ? -v : v, frac.length];
}

/** `num / den` rounded half away from zero (den ≠ 0). */
function roundedQuotient(num: bigint, den: bigint): bigint {
  const neg = (num < 0n) !== (den < 0n);
  const n = num < 0n ? -num : num, d = den < 0n ? -den : den;
  const q = n / d + (2n * (n % d) >= d ? 1n : 0n);
  return neg ? -q : q;
}

/** The unscaled result at `scale`, checked against the type's range (38 digits: NUMERIC's 29 integer digits at scale 9). */
function inRange(raw: bigint, scale: number, what: string): bigint {
  if ((raw < 0n ? -raw : raw) >= 10n ** BigInt(DUCK_DIGITS)) {
    throw new Error(`${scale === NUMERIC_SCALE ? 'numeric' : 'BIGNUMERIC'} overflow: the ${what}'s result is beyond the range of ${scale === NUMERIC_SCALE ? 'NUMERIC' : 'BIGNUMERIC'}`);
  }
  return raw;
}

/** x / y at `scale` digits, unscaled (x, y: DuckDB decimal or integer text). Throws on a zero divisor and on overflow. */
export function decimalDivide(x: string, y: string, scale: number): bigint {
  const [xv, xs] = parseDecimal(x), [yv, ys] = parseDecimal(y);
  if (yv === 0n) throw new Error(`division by zero: ${x} / ${y}`);
  return inRange(roundedQuotient(xv * 10n ** BigInt(ys + scale), yv * 10n ** BigInt(xs)), scale, 'division');
}

/** x × y at `scale` digits, unscaled. Throws on overflow. */
export function decimalMultiply(x: string, y: string, scale: number): bigint {
  const [xv, xs] = parseDecimal(x), [yv, ys] = parseDecimal(y);
  const s = xs + ys;
  const raw = s >= scale ? roundedQuotient(xv * yv, 10n ** BigInt(s - scale)) : xv * yv * 10n ** BigInt(scale - s);
  return inRange(raw, scale, 'multiplication');
}

/** JS scalars (spread into native-functions.ts NATIVES, registered as `bqgate_js_<name>`); a NULL operand gives NULL. */
export const DECIMAL_NATIVES: Record<string, { params: DuckDBType[]; returns: DuckDBType; fn: (...args: any[]) => bigint | null }> = {
  decimal_divide: { params: [VARCHAR, VARCHAR, INTEGER], returns: HUGEINT, fn: (x: string | null, y: string | null, s: number) => (x === null || y === null ? null : decimalDivide(x, y, Number(s))) },
  decimal_multiply: { params: [VARCHAR, VARCHAR, INTEGER], returns: HUGEINT, fn: (x: string | null, y: string | null, s: number) => (x === null || y === null ? null : decimalMultiply(x, y, Number(s))) },
};

const ZERO = `CAST('division by zero: ' || CAST(x AS VARCHAR) || ' / 0' AS INTEGER)`;
/**
 * `bq_bqgate_<call>` over the arguments `names` through a lambda's parameter: DuckDB picks a macro's overload before it binds
 * an aggregate or window argument (`SUM(x) / COUNT(x)`: every overload "matches"), but a lambda's parameter has its type
 * (`× 1`: the type it has, where DuckDB binds the body at CREATE MACRO with untyped, NULL-like parameters).
 */
const typed = (call: string, names: string) => `list_transform([{${names.split(', ').map((n) => `'${n}': ${n}`).join(', ')}}], lambda p: memory.main.bq_bqgate_${call})[1]`;
const FLOAT_DIVIDE = `CASE WHEN y = 0 AND x IS NOT NULL THEN ${ZERO} ELSE x / y END`;

/**
 * name → overloads `[DuckDB macro parameters, body]`, a helper before the macros calling it (merged into translate-functions.ts MACROS). OP_DIVIDE is the `/`
 * operator (translate-divide.ts), OP_MULTIPLY `*` (translate-arith.ts), AVG_OF(avg, sum, count) an AVG with its SUM and COUNT.
 */
export const DECIMAL_MACROS: Record<string, Array<[string, string]>> = {
  // the scale of a decimal's DuckDB type (0 for an integer), and the result scale of two operands: 19 when one is BIGNUMERIC
  BQGATE_DEC_TYPE_SCALE: [['v', `coalesce(TRY_CAST(regexp_extract(typeof(v), ',(\\d+)\\)', 1) AS INTEGER), 0)`]],
  BQGATE_DEC_SCALE: [['x, y', `CASE WHEN greatest(memory.main.bq_bqgate_dec_type_scale(x), memory.main.bq_bqgate_dec_type_scale(y)) > ${NUMERIC_SCALE} THEN ${BIGNUMERIC_SCALE} ELSE ${NUMERIC_SCALE} END`]],
  // u: the result's unit, 10^-scale typed DECIMAL(38, scale) (translate-arith.ts writes it into the statement)
  BQGATE_DIVIDE_W: [
    ['x, y, u, w DECIMAL(38,9)', `CASE WHEN y = 0 AND x IS NOT NULL THEN ${ZERO} ELSE bqgate_js_decimal_divide(x::VARCHAR, y::VARCHAR, memory.main.bq_bqgate_dec_scale(x, y)) * u END`],
    ['x, y, u, w HUGEINT', FLOAT_DIVIDE],
    ['x, y, u, w', FLOAT_DIVIDE],
  ],
  BQGATE_DIVIDE_T: [
    ['x BIGINT, y BIGINT, u', FLOAT_DIVIDE],
    ['x INTERVAL, y BIGINT, u', 'x / y'],
    ['x, y, u', 'memory.main.bq_bqgate_divide_w(x, y, u, x * 0 + y * 0)'],
  ],
  BQGATE_MULTIPLY_W: [
    ['x, y, u, w DECIMAL(38,9)', 'bqgate_js_decimal_multiply(x::VARCHAR, y::VARCHAR, memory.main.bq_bqgate_dec_scale(x, y)) * u'],
    ['x, y, u, w HUGEINT', 'x * y'],
    ['x, y, u, w', 'x * y'],
  ],
  BQGATE_MULTIPLY_T: [
    ['x BIGINT, y BIGINT, u', 'x * y'],
    ['x INTERVAL, y BIGINT, u', 'x * y'],
    ['x BIGINT, y INTERVAL, u', 'x * y'],
    ['x, y, u', 'memory.main.bq_bqgate_multiply_w(x, y, u, x * 0 + y * 0)'],
  ],
  // AVG(x) of INT64 (SUM: HUGEINT) and FLOAT64 is DuckDB's (FLOAT64); of a decimal, SUM / COUNT at the decimal's type
  BQGATE_AVG_W: [
    ['a, s, c, u, w DECIMAL(38,9)', 'CASE WHEN c = 0 THEN NULL ELSE memory.main.bq_bqgate_divide_w(s, c, u, w) END'],
    ['a, s, c, u, w HUGEINT', 'a'],
    ['a, s, c, u, w', 'a'],
  ],
  BQGATE_AVG_T: [['a, s, c, u', 'memory.main.bq_bqgate_avg_w(a, s, c, u, s * 0)']],
  // the calls the statement makes: their arguments typed (see above) through a lambda's parameter
  // (x, y): the earlier two-argument form, which a view stored by an earlier emulator may still call (a DOUBLE quotient)
  OP_DIVIDE: [['x, y, u', typed('divide_t(p.x * 1, p.y * 1, p.u)', 'x, y, u')], ['x, y', FLOAT_DIVIDE]],
  OP_MULTIPLY: [['x, y, u', typed('multiply_t(p.x * 1, p.y * 1, p.u)', 'x, y, u')]],
  AVG_OF: [['a, s, c, u', typed('avg_t(p.a, p.s, p.c, p.u)', 'a, s, c, u')]],
};
