/**
 * Which BigQuery decimal type a DuckDB DECIMAL result is, and its REST text
 * (https://cloud.google.com/bigquery/docs/reference/standard-sql/data-types#decimal_types).
 *
 * The emulator stores NUMERIC as DECIMAL(38,9) and BIGNUMERIC as DECIMAL(38,19) (translate-numeric.ts
 * says why). DuckDB's arithmetic keeps the scale of a sum and adds the scales of a product, so a
 * result's scale tells the two apart: scales 0–9 (NUMERIC, ROUND(x, n), NUMERIC(P,S)) and the
 * products of NUMERICs (18, 27, 36) are NUMERIC; any other scale (19; 28 = BIGNUMERIC × NUMERIC;
 * 38 = BIGNUMERIC × BIGNUMERIC) is BIGNUMERIC. A NUMERIC product's extra digits are rounded to
 * NUMERIC's 9 (half away from zero), as BigQuery rounds NUMERIC × NUMERIC.
 * Not covered: a BIGNUMERIC rounded to ≤ 9 digits (ROUND(b, 2)) or a BIGNUMERIC(P,S) with such a
 * scale is reported as NUMERIC (its value is exact).
 */
import type { DuckDBDecimalValue } from '@duckdb/node-api';

/** DuckDB `[width, scale]` of a bare BIGNUMERIC: 19 integer and 19 fractional digits. */
export const BIGNUMERIC_DUCK: [number, number] = [38, 19];
const NUMERIC_SCALE = 9;

/** BigQuery's type name for a DuckDB DECIMAL of `scale`. */
export function decimalTypeName(scale: number): 'NUMERIC' | 'BIGNUMERIC' {
  return scale <= NUMERIC_SCALE || scale % NUMERIC_SCALE === 0 ? 'NUMERIC' : 'BIGNUMERIC';
}

/** REST text of a DECIMAL value (no trailing fractional zeros), rounded to 9 digits when it is reported as NUMERIC. */
export function decimalText(v: DuckDBDecimalValue): string {
  let { value, scale } = v;
  if (scale > NUMERIC_SCALE && decimalTypeName(scale) === 'NUMERIC') {
    const q = 10n ** BigInt(scale - NUMERIC_SCALE);
    const abs = value < 0n ? -value : value;
    const rounded = abs / q + (2n * (abs % q) >= q ? 1n : 0n);
    value = value < 0n ? -rounded : rounded;
    scale = NUMERIC_SCALE;
  }
  const abs = (value < 0n ? -value : value).toString().padStart(scale + 1, '0');
  const int = abs.slice(0, abs.length - scale);
  const frac = abs.slice(abs.length - scale).replace(/0+$/, '');
  return `${value < 0n ? '-' : ''}${int}${frac ? `.${frac}` : ''}`;
}
