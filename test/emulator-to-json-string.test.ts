/**
 * TO_JSON_STRING through the emulator over real HTTP (issue 20; src/emulator/to-json-string.ts): BigQuery's JSON
 * encodings (https://cloud.google.com/bigquery/docs/reference/standard-sql/json_functions#json_encodings), each
 * expectation the page's own example where it has one, and pretty_print.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolve } from 'node:path';
import { startEmulator, newEmulatorSecret, type RunningEmulator } from '../src/emulator/index.ts';
import { emulatorQuery } from './helpers/emulator-http.ts';

let emu: RunningEmulator;
const secret = newEmulatorSecret();
const query = emulatorQuery(() => emu, secret);
const one = async (sql: string) => {
  const r = await query(sql);
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body.rows[0].f.map((c: any) => c.v);
};

beforeAll(async () => { emu = await startEmulator({ fixturesDir: resolve('fixtures'), port: 0, secret }); });
afterAll(async () => { await emu?.close(); });

describe('TO_JSON_STRING encodings', () => {
  it('writes INT64 beyond ±2^53 as a string, within as a number', async () => {
    expect(await one('SELECT TO_JSON_STRING(9007199254740992), TO_JSON_STRING(9007199254740993), TO_JSON_STRING(-9007199254740993)'))
      .toEqual(['9007199254740992', '"9007199254740993"', '"-9007199254740993"']);
  });

  it('writes FLOAT64 as its shortest number and NaN / ±Infinity as strings', async () => {
    expect(await one("SELECT TO_JSON_STRING(CAST(1.0 AS FLOAT64)), TO_JSON_STRING(CAST('+inf' AS FLOAT64)), TO_JSON_STRING(CAST('-inf' AS FLOAT64)), TO_JSON_STRING(CAST('NaN' AS FLOAT64)), TO_JSON_STRING([CAST(2.5 AS FLOAT64), CAST('NaN' AS FLOAT64)])"))
      .toEqual(['1', '"Infinity"', '"-Infinity"', '"NaN"', '[2.5,"NaN"]']);
  });

  it('writes NUMERIC as a number when integral within ±2^53, else as a string', async () => {
    expect(await one("SELECT TO_JSON_STRING(CAST('-1' AS NUMERIC)), TO_JSON_STRING(CAST('0' AS NUMERIC)), TO_JSON_STRING(CAST('123.56' AS NUMERIC))"))
      .toEqual(['-1', '0', '"123.56"']);
    // A NUMERIC column (DuckDB DECIMAL(38,9)): the scale's zeros are not BigQuery's.
    expect(await one('SELECT TO_JSON_STRING(amount), TO_JSON_STRING(ROUND(amount)), TO_JSON_STRING(amount * 0 + 9007199254740993) FROM shop.orders WHERE order_id = 1'))
      .toEqual(['"1669.55"', '1670', '"9007199254740993"']);
  });

  it('writes BYTES as base64, TIMESTAMP as ISO 8601 with Z, a STRUCT in field order, a string with NaN in it as it is', async () => {
    expect(await one("SELECT TO_JSON_STRING(STRUCT(b'Google' AS b, TIMESTAMP '2017-03-06 12:34:56.789012' AS t, 'x,NaN]' AS s, 12 AS purchases, TRUE AS inStock))"))
      .toEqual(['{"b":"R29vZ2xl","t":"2017-03-06T12:34:56.789012Z","s":"x,NaN]","purchases":12,"inStock":true}']);
  });

  it('pretty-prints with two-space indentation when asked, and NULL is null', async () => {
    expect(await one('SELECT TO_JSON_STRING(STRUCT(1 AS id, [10, 20] AS coordinates), true), TO_JSON_STRING(NULL), TO_JSON_STRING(STRUCT([] AS e), true)'))
      .toEqual(['{\n  "id": 1,\n  "coordinates": [\n    10,\n    20\n  ]\n}', 'null', '{\n  "e": []\n}']);
  });
});
