/**
 * GoogleSQL functions DuckDB lacks or computes otherwise, through the emulator over real HTTP (issue 20;
 * src/emulator/native-functions.ts, farm-fingerprint.ts, translate-escapes.ts): BigQuery's answers and
 * errors beyond the documentation's own examples (test/emulator-docs.test.ts) — FARM_FINGERPRINT of
 * STRING and BYTES alike and past 64 bytes, INSTR backwards and its errors, REGEXP_INSTR's and
 * REGEXP_EXTRACT's group rule, SOUNDEX, case folding, base32 both ways, `\u` escapes, division by zero as an error.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolve } from 'node:path';
import { startEmulator, newEmulatorSecret, type RunningEmulator } from '../src/emulator/index.ts';
import { emulatorQuery } from './helpers/emulator-http.ts';

let emu: RunningEmulator;
const secret = newEmulatorSecret();
const query = emulatorQuery(() => emu, secret);
const row = async (sql: string) => {
  const r = await query(sql);
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body.rows[0].f.map((c: any) => c.v);
};
const refused = async (sql: string, text: RegExp) => {
  const r = await query(sql);
  expect(r.status, JSON.stringify(r.body)).toBe(400);
  expect(r.body.error.errors[0].reason).toBe('invalidQuery');
  expect(r.body.error.message).toMatch(text);
};

beforeAll(async () => { emu = await startEmulator({ fixturesDir: resolve('fixtures'), port: 0, secret }); });
afterAll(async () => { await emu?.close(); });

describe('native functions with BigQuery semantics', () => {
  it('FARM_FINGERPRINT hashes a STRING as its UTF-8 BYTES; the empty input is FarmHash k2 as INT64', async () => {
    const long = 'x'.repeat(150);
    const [a, b, empty, c, d, n] = await row(`SELECT FARM_FINGERPRINT('été'), FARM_FINGERPRINT(CAST('été' AS BYTES)), FARM_FINGERPRINT(''),
      FARM_FINGERPRINT('${long}'), FARM_FINGERPRINT(b'${long}'), FARM_FINGERPRINT(NULL)`);
    expect(a).toBe(b);
    expect(empty).toBe('-7286425919675154353'); // 0x9ae16a3b2f90404f, farmhashna's value for no bytes
    expect(c).toBe(d);
    expect(c).not.toBe(a);
    expect(n).toBeNull();
  });

  it('INSTR counts overlapping matches, searches backwards from a negative position, and refuses position 0', async () => {
    expect(await row(`SELECT INSTR('aaaa', 'aa', 1, 3), INSTR('banana', 'a', -1, 2), INSTR('banana', 'a', -2, 1), INSTR('héllo', 'l'), INSTR('abc', 'z')`))
      .toEqual(['3', '4', '4', '3', '0']);
    await refused(`SELECT INSTR('banana', 'an', 0)`, /position/);
    await refused(`SELECT INSTR('banana', 'an', 1, 0)`, /occurrence/);
    expect(await row(`SELECT SAFE.INSTR('banana', 'an', 0)`)).toEqual([null]);
  });

  it('REGEXP_INSTR gives the capturing group\'s position, counts code points, and refuses two groups', async () => {
    expect(await row(`SELECT REGEXP_INSTR('ab12cd', 'b([0-9]+)'), REGEXP_INSTR('ab12cd', 'b([0-9]+)', 1, 1, 1), REGEXP_INSTR('éé@x', '@'), REGEXP_INSTR('abc', 'z')`))
      .toEqual(['3', '5', '3', '0']);
    await refused(`SELECT REGEXP_INSTR('ab', '(a)(b)')`, /capturing group/);
  });

  it('REGEXP_EXTRACT is NULL without a match, gives the one group, counts occurrences from a position, and refuses two groups', async () => {
    expect(await row(`SELECT REGEXP_EXTRACT('abc', 'z'), REGEXP_EXTRACT('abc', '(z)?c'), REGEXP_EXTRACT('a1b22c333', '[0-9]+', 3, 2), REGEXP_SUBSTR('a1b2', '[a-z]([0-9])', 1, 2), REGEXP_EXTRACT('', '^$')`))
      .toEqual([null, null, '333', '2', '']);
    await refused(`SELECT REGEXP_EXTRACT('ab', '(a)(b)')`, /capturing group/);
    expect(await row(`SELECT SAFE.REGEXP_EXTRACT('ab', 'a', 0)`)).toEqual([null]);
  });

  it('LPAD and RPAD pad with a blank by default, truncate to the length, and refuse a negative length', async () => {
    expect(await row(`SELECT LPAD('abc', 5), RPAD('abc', 6, 'xy'), LPAD('abcdef', 3), RPAD('é', 2)`)).toEqual(['  abc', 'abcxyx', 'abc', 'é ']);
    await refused(`SELECT LPAD('a', -1)`, /negative/);
  });

  it('LPAD / RPAD / REVERSE / LEFT / RIGHT / TRIM of BYTES work on whole bytes (string_functions#lpad, #rpad, #reverse, #left, #trim), also over an aggregate\'s STRING', async () => {
    expect(await row(`SELECT FORMAT('%T', LPAD(b'abc', 10, b'ghd')), FORMAT('%T', RPAD(b'abc', 10, b'ghd')), FORMAT('%T', REVERSE(b'1a3')), FORMAT('%T', LPAD(b'abc', 2)), FORMAT('%T', LPAD(b'abc', 5))`))
      .toEqual(['b"ghdghdgabc"', 'b"abcghdghdg"', 'b"3a1"', 'b"ab"', 'b"  abc"']);
    expect(await row(`SELECT REVERSE(STRING_AGG(x ORDER BY x)), LPAD(STRING_AGG(x ORDER BY x), 5), REVERSE('abc') FROM UNNEST(['a', 'b']) x`)).toEqual(['b,a', '  a,b', 'cba']);
    expect(await row(`SELECT FORMAT('%T', LEFT(b'\\xab\\xcd\\xef\\xaa', 3)), FORMAT('%T', RIGHT(b'\\xab\\xcd\\xef', 2)), FORMAT('%T', TRIM(b'apple', b'na\\xab')), FORMAT('%T', LTRIM(b'apple', b'ae')), FORMAT('%T', RTRIM(b'apple', b'ae')), TRIM(' x '), LEFT('abc', 2)`))
      .toEqual(['b"\\xab\\xcd\\xef"', 'b"\\xcd\\xef"', 'b"pple"', 'b"pple"', 'b"appl"', 'x', 'ab']);
    await refused(`SELECT LPAD(b'a', -1)`, /negative/);
  });

  it('COSINE_DISTANCE / EUCLIDEAN_DISTANCE of sparse vectors (mathematical_functions#cosine_distance): a missing dimension is 0', async () => {
    const [c, e, d] = await row(`SELECT COSINE_DISTANCE([(1, 1.0), (2, 2.0)], [(2, 4.0), (1, 3.0)]), EUCLIDEAN_DISTANCE([(1, 1.0), (3, 2.0)], [(1, 4.0)]), COSINE_DISTANCE([1.0, 2.0], [3.0, 4.0])`) as string[];
    expect(Number(c)).toBeCloseTo(0.01613, 5);
    expect(Number(e)).toBeCloseTo(Math.sqrt(9 + 4), 10);
    expect(Number(d)).toBeCloseTo(0.01613, 5);
  });

  it('ARRAY_FIRST / ARRAY_LAST of a STRING array (array_functions#array_first), an error when empty', async () => {
    expect(await row(`SELECT ARRAY_FIRST(['a','b','c','d']), ARRAY_LAST(['a','b','c','d']), ARRAY_LAST([1, 2])`)).toEqual(['a', 'd', '2']);
    await refused('SELECT ARRAY_FIRST(ARRAY<STRING>[])', /empty/);
  });

  it('RANGE literals: ends are exclusive, UNBOUNDED is open, RANGE_CONTAINS takes a range or a value', async () => {
    expect(await row(`SELECT RANGE_OVERLAPS(RANGE<DATE> '[2022-01-01, 2022-02-01)', RANGE<DATE> '[2022-02-01, 2022-03-01)'),
      RANGE_CONTAINS(RANGE<DATE> '[2022-01-01, 2022-02-01)', DATE '2022-02-01'), RANGE_CONTAINS(RANGE<DATE> '[2022-01-01, 2022-02-01)', DATE '2022-01-01'),
      RANGE_CONTAINS(RANGE<DATETIME> '[UNBOUNDED, UNBOUNDED)', RANGE<DATETIME> '[2022-01-01 10:00:00, UNBOUNDED)'),
      RANGE_CONTAINS(RANGE<DATE> '[2022-01-01, 2023-01-01)', RANGE<DATE> '[2022-06-01, UNBOUNDED)'),
      RANGE_START(RANGE<TIMESTAMP> '[2022-01-01 00:00:00+00, 2022-01-02 00:00:00+00)'), RANGE_END(RANGE<DATE> '[2022-01-01, UNBOUNDED)')`))
      .toEqual(['false', 'false', 'true', 'true', 'false', '1.6409952E9', null]);
  });

  it('SOUNDEX keeps the first letter, skips H and W between equal codes, ignores non-Latin letters', async () => {
    expect(await row(`SELECT SOUNDEX('Robert'), SOUNDEX('Tymczak'), SOUNDEX('Pfister'), SOUNDEX('Honeyman'), SOUNDEX('Ж'), SOUNDEX('  a!'), SOUNDEX('Rashcz')`))
      .toEqual(['R163', 'T522', 'P236', 'H555', '', 'A000', 'R200']);
  });

  it('NORMALIZE_AND_CASEFOLD folds ß to ss; NORMALIZE composes by default', async () => {
    expect(await row(`SELECT NORMALIZE_AND_CASEFOLD('Straße') = NORMALIZE_AND_CASEFOLD('STRASSE'), CHAR_LENGTH(NORMALIZE('e\\u0301')), CHAR_LENGTH(NORMALIZE('\\u00e9', NFD))`))
      .toEqual(['true', '1', '2']);
  });

  it('TO_BASE32 and FROM_BASE32 round-trip any bytes; FROM_BASE32 refuses other characters', async () => {
    expect(await row(`SELECT TO_BASE32(b''), TO_BASE32(b'f'), TO_BASE32(b'foobar'), TO_HEX(FROM_BASE32(TO_BASE32(b'\\x00\\xff\\x10'))), TO_HEX(FROM_BASE32('MZXW6'))`))
      .toEqual(['', 'MY======', 'MZXW6YTBOI======', '00ff10', '666f6f']);
    await refused(`SELECT FROM_BASE32('M1======')`, /base32/);
  });

  it('\\u and \\U escapes in string literals are the code point; raw literals keep them', async () => {
    expect(await row(`SELECT '\\u00e9' = 'é', '\\U0001F600' = '😀', CHAR_LENGTH(r'\\u00e9'), '\\u0027'`)).toEqual(['true', 'true', '6', "'"]);
  });

  it('DIV and MOD by zero are errors (SAFE. gives NULL); IEEE_DIVIDE gives ±inf and NaN', async () => {
    await refused('SELECT DIV(7, 0)', /division by zero/);
    await refused('SELECT MOD(7, 0)', /division by zero/);
    expect(await row('SELECT SAFE.DIV(7, 0), SAFE.MOD(7, 0), DIV(-7, 2), MOD(-7, 2), MOD(NULL, 0)')).toEqual([null, null, '-3', '-1', null]);
    expect(await row('SELECT IEEE_DIVIDE(7, 0), IEEE_DIVIDE(-7, 0), IEEE_DIVIDE(0, 0), IEEE_DIVIDE(20, 4)')).toEqual(['Infinity', '-Infinity', 'NaN', '5']);
  });
});
