/**
 * NUMERIC, BIGNUMERIC and FLOAT64 literals in the emulator (issue 20), through its HTTP API:
 * an unsuffixed decimal literal is FLOAT64 (lexical#floating_point_literals), NUMERIC is
 * DECIMAL(38,9) with BigQuery's range and overflow errors, parameterized NUMERIC(P,S) rounds to S,
 * BIGNUMERIC is DuckDB's DECIMAL(38,19) with a clear error beyond it (src/emulator/translate-numeric.ts,
 * decimal-values.ts), ÷, × and AVG keep BigQuery's decimal result types (decimal-arith.ts, translate-arith.ts),
 * and INSERT without INTO runs (dml-syntax#insert_statement).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolve } from 'node:path';
import { startEmulator, newEmulatorSecret, type RunningEmulator } from '../src/emulator/index.ts';
import { emulatorQuery, emulatorRefuses } from './helpers/emulator-http.ts';

let emu: RunningEmulator;
const secret = newEmulatorSecret();
const query = emulatorQuery(() => emu, secret);
const run = async (sql: string) => {
  const r = await query(sql);
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return { types: (r.body.schema?.fields ?? []).map((f: any) => f.type), rows: (r.body.rows ?? []).map((x: any) => x.f.map((c: any) => c.v)) };
};
const refused = emulatorRefuses(query, expect);

beforeAll(async () => { emu = await startEmulator({ fixturesDir: resolve('fixtures'), port: 0, secret }); });
afterAll(async () => { await emu?.close(); });

describe('floating point literals (https://cloud.google.com/bigquery/docs/reference/standard-sql/lexical#floating_point_literals)', () => {
  it('1.5, .5, 5. and 1e3 are FLOAT64; NUMERIC and BIGNUMERIC literals are their own types', async () => {
    const r = await run("SELECT 1.5, .5, 5., 1e3, NUMERIC '1.5', BIGNUMERIC '1.5', DECIMAL '2', BIGDECIMAL '3', 7");
    expect(r.types).toEqual(['FLOAT', 'FLOAT', 'FLOAT', 'FLOAT', 'NUMERIC', 'BIGNUMERIC', 'NUMERIC', 'BIGNUMERIC', 'INTEGER']);
    expect(r.rows[0]).toEqual(['1.5', '0.5', '5', '1000', '1.5', '1.5', '2', '3', '7']);
  });

  it('float arithmetic is FLOAT64 (binary rounding included) and TO_JSON_STRING writes a number', async () => {
    const r = await run("SELECT 0.1 + 0.2 = 0.3, 1.5 * 2, TO_JSON_STRING(1.5), TO_JSON_STRING(STRUCT(2.5 AS x, NUMERIC '2.5' AS n))");
    expect(r.types).toEqual(['BOOLEAN', 'FLOAT', 'STRING', 'STRING']);
    expect(r.rows[0]).toEqual(['false', '3', '1.5', '{"x":2.5,"n":"2.5"}']);
  });

  it('strings and comments are not read', async () => {
    const r = await run("SELECT '1.5' AS s, -- 2.5\n 3.25 AS f");
    expect(r.types).toEqual(['STRING', 'FLOAT']);
    expect(r.rows[0]).toEqual(['1.5', '3.25']);
  });
});

describe('NUMERIC (https://cloud.google.com/bigquery/docs/reference/standard-sql/data-types#decimal_types)', () => {
  it('CAST(… AS NUMERIC) keeps 29 integer and 9 fractional digits', async () => {
    const r = await run("SELECT CAST('12345678901234567890123456789.123456789' AS NUMERIC), CAST('1.2345678905' AS NUMERIC), SAFE_CAST('-0.5' AS DECIMAL), CAST(2.5 AS NUMERIC)");
    expect(r.types).toEqual(['NUMERIC', 'NUMERIC', 'NUMERIC', 'NUMERIC']);
    expect(r.rows[0]).toEqual(['12345678901234567890123456789.123456789', '1.234567891', '-0.5', '2.5']);
  });

  it('NUMERIC × NUMERIC is NUMERIC rounded to 9 digits', async () => {
    const r = await run("SELECT NUMERIC '1.123456789' * NUMERIC '1.123456789', NUMERIC '2.5' * 3, NUMERIC '1.5' + NUMERIC '2.25'");
    expect(r.types).toEqual(['NUMERIC', 'NUMERIC', 'NUMERIC']);
    expect(r.rows[0]).toEqual(['1.262155157', '7.5', '3.75']);
  });

  it('overflow is BigQuery\'s error, never a wrapped or rounded value', async () => {
    await refused("SELECT NUMERIC '99999999999999999999999999999.999999999' + 1", /^numeric overflow: /);
    await refused("SELECT CAST('123456789012345678901234567890' AS NUMERIC)", /^Invalid NUMERIC value: 123456789012345678901234567890$/);
    await refused('SELECT CAST(1e30 AS NUMERIC)', /^numeric out of range: /);
  });

  it('parameterized NUMERIC(P[, S]) rounds to S and refuses what P cannot hold (#parameterized_decimal_type)', async () => {
    const r = await run("SELECT CAST(NUMERIC '123.456' AS NUMERIC(5, 2)), CAST(NUMERIC '123.5' AS NUMERIC(4)), CAST('1.25' AS DECIMAL(3, 1))");
    expect(r.rows[0]).toEqual(['123.46', '124', '1.3']);
    await refused("SELECT CAST(NUMERIC '12345.6' AS NUMERIC(5, 2))", /out of range: .*NUMERIC\(5, 2\)/);
    await refused('SELECT CAST(1 AS NUMERIC(5, 10))', /S must be between 0 and 9/);
  });
});

describe('NUMERIC ÷ and × (https://cloud.google.com/bigquery/docs/reference/standard-sql/operators#arithmetic_operators)', () => {
  it('NUMERIC / NUMERIC (or INT64) is NUMERIC rounded to 9 digits half away from zero; BIGNUMERIC / x is BIGNUMERIC; INT64 / INT64 and FLOAT64 stay FLOAT64', async () => {
    const r = await run("SELECT NUMERIC '1' / NUMERIC '3', NUMERIC '10' / 4, 10 / NUMERIC '4', NUMERIC '-2' / 3, NUMERIC '0.000000005' / 2, NUMERIC '-0.000000005' / 2, "
      + "NUMERIC '12345678901234567890' / NUMERIC '0.7', BIGNUMERIC '1' / 3, BIGNUMERIC '1' / NUMERIC '3', 1 / 3, 1.5 / NUMERIC '2', CAST(NULL AS NUMERIC) / 2");
    expect(r.types).toEqual(['NUMERIC', 'NUMERIC', 'NUMERIC', 'NUMERIC', 'NUMERIC', 'NUMERIC', 'NUMERIC', 'BIGNUMERIC', 'BIGNUMERIC', 'FLOAT', 'FLOAT', 'NUMERIC']);
    expect(r.rows[0]).toEqual(['0.333333333', '2.5', '2.5', '-0.666666667', '0.000000003', '-0.000000003',
      '17636684144620811271.428571429', '0.3333333333333333333', '0.3333333333333333333', '0.3333333333333333', '0.75', null]);
    await refused("SELECT NUMERIC '10000000000000000000000000000' / NUMERIC '0.1'", /^numeric overflow: /);
    await refused("SELECT NUMERIC '1' / 0", /^division by zero: /);
  });

  it('NUMERIC × NUMERIC is exact past 10^20 (DuckDB\'s DECIMAL(38,18) product) and an overflow only beyond 29 integer digits', async () => {
    const r = await run("SELECT NUMERIC '12345678901234567890' * NUMERIC '10', NUMERIC '123456789012345.5' * NUMERIC '1000000.25', "
      + "NUMERIC '0.000000005' * NUMERIC '0.5', NUMERIC '-0.000000005' * NUMERIC '0.5', NUMERIC '99999999999999999999999999999' * 1, BIGNUMERIC '1.5' * 3, NUMERIC '2' * 1.5, 2 * 3");
    expect(r.types).toEqual(['NUMERIC', 'NUMERIC', 'NUMERIC', 'NUMERIC', 'NUMERIC', 'BIGNUMERIC', 'FLOAT', 'INTEGER']);
    expect(r.rows[0]).toEqual(['123456789012345678900', '123456819876542753086.375', '0.000000003', '-0.000000003', '99999999999999999999999999999', '4.5', '3', '6']);
    await refused("SELECT NUMERIC '10000000000000000000' * NUMERIC '10000000000'", /^numeric overflow: /);
  });

  it('chains of 8 factors run; past the translation bound (1 MiB) a statement is refused with the reason, quickly (no megabytes of SQL)', async () => {
    const r = await run("SELECT NUMERIC '1.5' * 2 * 3 * 4 * 5 * 6 * 7 * NUMERIC '0.5', 2 * 3 * 4 * 5 * 6 * 7 * 8 * 9");
    expect(r.types).toEqual(['NUMERIC', 'INTEGER']);
    expect(r.rows[0]).toEqual(['3780', '362880']);
    const t = performance.now();
    await refused(`SELECT ${Array.from({ length: 14 }, (_, i) => `NUMERIC '${i + 1}'`).join(' * ')}`, /grows past 1024 KiB/);
    console.log(`14-factor product refused in ${(performance.now() - t).toFixed(0)} ms`);
  });

  it('a star that is no operator stays (SELECT *, COUNT(*), t.*)', async () => {
    const r = await run('SELECT *, COUNT(*) OVER () AS n, t.*, 2 * a AS b FROM (SELECT 3 AS a) t');
    expect(r.rows[0]).toEqual(['3', '1', '3', '6']);
  });
});

describe('AVG (https://cloud.google.com/bigquery/docs/reference/standard-sql/aggregate_functions#avg)', () => {
  it('AVG of NUMERIC is NUMERIC, of BIGNUMERIC BIGNUMERIC, of INT64 FLOAT64 — as an aggregate, with DISTINCT and over a window', async () => {
    const r = await run("SELECT AVG(n), AVG(DISTINCT n), AVG(b), AVG(i), SUM(i) / COUNT(i) FROM UNNEST([STRUCT(NUMERIC '1' AS n, BIGNUMERIC '1' AS b, 1 AS i), (NUMERIC '2', BIGNUMERIC '2', 2), (NUMERIC '2', BIGNUMERIC '2', 2)])");
    expect(r.types).toEqual(['NUMERIC', 'NUMERIC', 'BIGNUMERIC', 'FLOAT', 'FLOAT']);
    expect(r.rows[0]).toEqual(['1.666666667', '1.5', '1.6666666666666666667', '1.6666666666666667', '1.6666666666666667']);
    const w = await run("SELECT x, AVG(x) OVER (ORDER BY x ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) AS a FROM UNNEST([NUMERIC '1', NUMERIC '2', NUMERIC '4']) x ORDER BY x");
    expect(w.types).toEqual(['NUMERIC', 'NUMERIC']);
    expect(w.rows).toEqual([['1', '1'], ['2', '1.5'], ['4', '3']]);
  });
});

describe('GENERATE_ARRAY of FLOAT64 and NUMERIC (https://cloud.google.com/bigquery/docs/reference/standard-sql/array_functions#generate_array)', () => {
  it('steps through FLOAT64 and NUMERIC bounds up (or down) to the end, INT64 as before', async () => {
    const r = await run("SELECT GENERATE_ARRAY(0, 1, 0.25), GENERATE_ARRAY(NUMERIC '0', NUMERIC '1', NUMERIC '0.3'), GENERATE_ARRAY(1, 0, -0.5), GENERATE_ARRAY(0.5, 3), GENERATE_ARRAY(0, 10, 3), GENERATE_ARRAY(10, 0, 3)");
    expect(r.types).toEqual(['FLOAT', 'NUMERIC', 'FLOAT', 'FLOAT', 'INTEGER', 'INTEGER']);
    expect(r.rows[0].map((a: Array<{ v: string }>) => a.map((e) => e.v))).toEqual([
      ['0', '0.25', '0.5', '0.75', '1'], ['0', '0.3', '0.6', '0.9'], ['1', '0.5', '0'], ['0.5', '1.5', '2.5'], ['0', '3', '6', '9'], []]);
    const u = await run('SELECT x, o FROM UNNEST(GENERATE_ARRAY(0, 1, 0.5)) AS x WITH OFFSET o ORDER BY o');
    expect(u.rows).toEqual([['0', '0'], ['0.5', '1'], ['1', '2']]);
  });
});

describe('CAST of hexadecimal text to INT64 (https://cloud.google.com/bigquery/docs/reference/standard-sql/conversion_functions#cast_as_integer)', () => {
  it('a sign and blanks around 0x… are read as BigQuery reads them', async () => {
    const r = await run("SELECT CAST('-0x123' AS INT64), SAFE_CAST(' 0x1A ' AS INT64), CAST('+0x10' AS INT64), CAST('0x123' AS INT64)");
    expect(r.types).toEqual(['INTEGER', 'INTEGER', 'INTEGER', 'INTEGER']);
    expect(r.rows[0]).toEqual(['-291', '26', '16', '291']);
  });
});

describe('BIGNUMERIC (DuckDB DECIMAL(38,19): 19 integer and 19 fractional digits)', () => {
  it('holds what fits, and says so clearly beyond it', async () => {
    const r = await run("SELECT CAST('1234567890123456789.1234567890123456789' AS BIGNUMERIC), PARSE_BIGNUMERIC('123.45'), BIGNUMERIC '1.5' + NUMERIC '1.25', CAST(9223372036854775807 AS BIGNUMERIC)");
    expect(r.types).toEqual(['BIGNUMERIC', 'BIGNUMERIC', 'BIGNUMERIC', 'BIGNUMERIC']);
    expect(r.rows[0]).toEqual(['1234567890123456789.1234567890123456789', '123.45', '2.75', '9223372036854775807']);
    await refused("SELECT CAST('12345678901234567890' AS BIGNUMERIC)", /^Invalid BIGNUMERIC value: 12345678901234567890$/);
    await refused('SELECT CAST(1 AS BIGNUMERIC(50, 20))', /cannot hold BIGNUMERIC\(50, 20\).*at most 38 digits/);
  });
});

describe('DDL and DML with decimal types', () => {
  it('columns keep their decimal types; INSERT without INTO runs (dml-syntax#insert_statement)', async () => {
    await run('CREATE TABLE shop.numeric_t (a NUMERIC(10, 2), b BIGNUMERIC, c NUMERIC, f FLOAT64)');
    await run("INSERT shop.numeric_t (a, b, c, f) VALUES (NUMERIC '1.255', BIGNUMERIC '0.1234567890123456789', NUMERIC '12345678901234567890.5', 1.5)");
    const r = await run('SELECT a, b, c, f FROM shop.numeric_t');
    expect(r.types).toEqual(['NUMERIC', 'BIGNUMERIC', 'NUMERIC', 'FLOAT']);
    expect(r.rows).toEqual([['1.26', '0.1234567890123456789', '12345678901234567890.5', '1.5']]);
    await run('DROP TABLE shop.numeric_t');
  });
});
