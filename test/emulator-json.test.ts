/**
 * JSON functions through the emulator over real HTTP (issue 20; src/emulator/json-value.ts,
 * json-functions.ts, json-macros.ts): BigQuery's semantics beyond the documentation's own examples
 * (test/emulator-docs.test.ts) — errors BigQuery raises (invalid JSONPath, strict types, lossy
 * numbers), NULL inputs, mutators over a JSON column of a query, and the number spelling
 * (https://cloud.google.com/bigquery/docs/reference/standard-sql/json_functions).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolve } from 'node:path';
import { startEmulator, newEmulatorSecret, type RunningEmulator } from '../src/emulator/index.ts';

let emu: RunningEmulator;
const secret = newEmulatorSecret();
const query = async (sql: string) => {
  const r = await fetch(`${emu.url}/bigquery/v2/projects/demo-project/queries`, {
    method: 'POST', headers: { authorization: `Bearer ${secret}` }, body: JSON.stringify({ query: sql, useLegacySql: false }),
  });
  return { status: r.status, body: await r.json() as any };
};
const cells = (body: any) => body.rows.map((r: any) => r.f.map((c: any) => c.v));
const one = async (sql: string) => {
  const r = await query(sql);
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return cells(r.body)[0];
};
const fails = async (sql: string, message: RegExp) => {
  const r = await query(sql);
  expect(r.status).toBeGreaterThanOrEqual(400);
  expect(JSON.stringify(r.body)).toMatch(message);
};

beforeAll(async () => { emu = await startEmulator({ fixturesDir: resolve('fixtures'), port: 0, secret }); });
afterAll(async () => { await emu?.close(); });

describe('emulator JSON functions with BigQuery semantics', () => {
  it('an invalid JSONPath in a mutator is an error, not NULL', async () => {
    await fails(`SELECT JSON_SET(JSON '{"a": 1}', 'a', 2)`, /Invalid JSONPath/);
    await fails(`SELECT JSON_REMOVE(JSON '{"a": 1}', '$.a[x')`, /Invalid JSONPath/);
    await fails(`SELECT JSON_REMOVE(JSON '{"a": 1}', '$')`, /cannot be \$/);
  });

  it('a NULL JSON input gives NULL; a NULL value is set as JSON null', async () => {
    expect(await one(`SELECT JSON_SET(CAST(NULL AS JSON), '$.a', 1), JSON_SET(JSON '{"a": 1}', '$.a', CAST(NULL AS INT64))`)).toEqual([null, '{"a":null}']);
  });

  it('mutators apply in order over rows of a query, nested in each other', async () => {
    const r = await query(`SELECT n, JSON_ARRAY_APPEND(JSON_SET(JSON_REMOVE(TO_JSON(STRUCT(n AS a, 'x' AS b)), '$.b'), '$.c', [n]), '$.c', n * 10) AS j
      FROM UNNEST([1, 2]) AS n ORDER BY n`);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(cells(r.body)).toEqual([['1', '{"a":1,"c":[1,10]}'], ['2', '{"a":2,"c":[2,20]}']]);
  });

  it('strict converters raise for another JSON type; LAX_ ones do not', async () => {
    await fails(`SELECT BOOL(JSON '"true"')`, /not a boolean/);
    expect(await one(`SELECT BOOL(JSON 'false'), LAX_BOOL(JSON '"true"')`)).toEqual(['false', 'true']);
  });

  it('PARSE_JSON refuses a lossy number unless rounding, and spells numbers as BigQuery does', async () => {
    await fails(`SELECT PARSE_JSON('{"id": 922337203685477580701}')`, /loss of precision/);
    await fails(`SELECT PARSE_JSON('1', wide_number_mode => 'sloppy')`, /wide_number_mode/);
    expect(await one(`SELECT PARSE_JSON('[10.0, 1e2, 0.00001, 18446744073709551615, 1.5e15]')`))
      .toEqual(['[10,100,1e-05,18446744073709551615,1.5e+15]']);
  });

  it('JSON objects keep the first of duplicate keys and print sorted keys', async () => {
    expect(await one(`SELECT TO_JSON_STRING(JSON '{"b": 1, "a": 2, "b": 3}'), TO_JSON_STRING(JSON_OBJECT('z', 1, 'y', 2, 'z', 3))`))
      .toEqual(['{"a":2,"b":1}', '{"y":2,"z":1}']);
    await fails(`SELECT JSON_OBJECT(['a'], [1, 2])`, /differ in length/);
  });

  it('TO_JSON stringifies only integers beyond 2^53 when asked', async () => {
    expect(await one(`SELECT TO_JSON_STRING(TO_JSON(STRUCT(9007199254740993 AS big, 9007199254740992 AS edge, 1 AS small), stringify_wide_numbers => TRUE))`))
      .toEqual(['{"big":"9007199254740993","edge":9007199254740992,"small":1}']);
  });

  it('JSON_TYPE names and bracketed member paths', async () => {
    expect(await one(`SELECT JSON_TYPE(JSON '1.5'), JSON_TYPE(JSON '"s"'), JSON_TYPE(CAST(NULL AS JSON)), JSON_EXTRACT_SCALAR('{"a b": {"c": "d"}}', "$['a b'].c")`))
      .toEqual(['number', 'string', null, 'd']);
  });

  it('JSON_QUERY of a STRING gives NULL for a JSON null, of JSON the JSON null (json_functions#json_null); IS NULL applies to the call', async () => {
    expect(await one(`WITH t AS (SELECT '{"name": null}' AS s, JSON '{"name": null}' AS j)
      SELECT JSON_QUERY(s, "$.name"), JSON_QUERY(s, "$.name") IS NULL, JSON_QUERY(j, "$.name"), JSON_QUERY(j, "$.name") IS NULL, JSON_QUERY(s, "$.nope") IS NULL FROM t`))
      .toEqual([null, 'true', 'null', 'false', 'true']);
  });
});
