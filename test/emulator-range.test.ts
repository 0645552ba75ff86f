/**
 * RANGE values through the real gateway and its embedded emulator, read by the real @google-cloud/bigquery SDK
 * (issue 20; src/emulator/translate-range.ts, range-values.ts): the REST encoding BigQuery uses (schema type RANGE with
 * `rangeElementType`, the cell `[lower, upper)` with UNBOUNDED, a TIMESTAMP bound as the request's TIMESTAMP format;
 * CONTRACT.md §7, https://cloud.google.com/bigquery/docs/reference/standard-sql/data-types#range_type), decoded by the SDK
 * as `BigQueryRange`, and the errors the range functions document
 * (https://cloud.google.com/bigquery/docs/reference/standard-sql/range-functions).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BigQuery } from '@google-cloud/bigquery';
import { apiError, type TestGateway } from './helpers/gateway.ts';
import { startDemoAndAdminGateway } from './helpers/admin-policy.ts';

let gw: TestGateway;
let sdk: BigQuery;

beforeAll(async () => {
  let tokens: Record<'admin', string>;
  ({ gw, tokens } = await startDemoAndAdminGateway('range', { admin: ['test-admins'] }));
  sdk = gw.sdk(tokens.admin);
}, 120_000);
afterAll(async () => { await gw?.stop(); });

const raw = async (query: string) => {
  const [job] = await sdk.createQueryJob({ query, useLegacySql: false });
  const [rows, , resp] = await job.getQueryResults({ autoPaginate: false, skipParsing: true } as object);
  return { fields: (resp as any).schema.fields, cells: (rows as any[]).map((r) => r.f.map((c: any) => c.v)) };
};

describe('RANGE through the gateway and the emulator', () => {
  it('sends RANGE<DATE|DATETIME|TIMESTAMP> as BigQuery does, with rangeElementType and UNBOUNDED', async () => {
    const r = await raw(`SELECT RANGE<DATE> '[2024-01-01, 2024-02-01)' AS d, RANGE(NULL, DATE '2024-02-01') AS open_start,
      RANGE(DATETIME '2024-01-01 10:00:00', NULL) AS dt, RANGE(TIMESTAMP '2024-01-01 00:00:00+00', TIMESTAMP '2024-01-02 00:00:00+00') AS ts`);
    expect(r.fields).toEqual([
      { name: 'd', type: 'RANGE', mode: 'NULLABLE', rangeElementType: { type: 'DATE' } },
      { name: 'open_start', type: 'RANGE', mode: 'NULLABLE', rangeElementType: { type: 'DATE' } },
      { name: 'dt', type: 'RANGE', mode: 'NULLABLE', rangeElementType: { type: 'DATETIME' } },
      { name: 'ts', type: 'RANGE', mode: 'NULLABLE', rangeElementType: { type: 'TIMESTAMP' } },
    ]);
    // The SDK asks for int64 µs TIMESTAMPs (formatOptions.useInt64Timestamp); a RANGE's TIMESTAMP bounds follow it.
    expect(r.cells).toEqual([['[2024-01-01, 2024-02-01)', '[UNBOUNDED, 2024-02-01)', '[2024-01-01T10:00:00, UNBOUNDED)', '[1704067200000000, 1704153600000000)']]);
  });

  it('is read by the SDK as BigQueryRange values', async () => {
    const [rows] = await sdk.query({ query: `SELECT RANGE<DATE> '[2024-01-01, UNBOUNDED)' AS d,
      RANGE(TIMESTAMP '2024-01-01 00:00:00+00', TIMESTAMP '2024-01-01 12:30:00.5+00') AS ts,
      GENERATE_RANGE_ARRAY(RANGE(DATE '2024-01-01', DATE '2024-01-04'), INTERVAL 2 DAY) AS parts, CAST(NULL AS RANGE<DATE>) AS none`, useLegacySql: false });
    const { d, ts, parts, none } = rows[0];
    expect(d.constructor.name).toBe('BigQueryRange');
    expect(d.value).toEqual({ start: '2024-01-01', end: 'UNBOUNDED' });
    expect(ts.elementType).toBe('TIMESTAMP');
    expect(ts.value).toEqual({ start: '2024-01-01T00:00:00.000Z', end: '2024-01-01T12:30:00.500Z' });
    expect(parts.map((p: { value: unknown }) => p.value)).toEqual([{ start: '2024-01-01', end: '2024-01-03' }, { start: '2024-01-03', end: '2024-01-04' }]);
    expect(none).toBeNull();
  });

  it('computes the range functions over a range column of a query', async () => {
    const [rows] = await sdk.query({ query: `SELECT RANGE_START(r) AS s, RANGE_END(r) AS e, RANGE_CONTAINS(r, DATE '2024-01-15') AS has,
        RANGE_OVERLAPS(r, RANGE<DATE> '[2024-01-31, 2024-03-01)') AS o, RANGE_INTERSECT(r, RANGE<DATE> '[2024-01-15, UNBOUNDED)') AS i
      FROM (SELECT RANGE(DATE '2024-01-10', d) AS r FROM UNNEST([DATE '2024-01-20', DATE '2024-02-01']) AS d) ORDER BY e`, useLegacySql: false });
    expect(rows.map((r) => [r.s.value, r.e.value, r.has, r.o, r.i.value])).toEqual([
      ['2024-01-10', '2024-01-20', true, false, { start: '2024-01-15', end: '2024-01-20' }],
      ['2024-01-10', '2024-02-01', true, true, { start: '2024-01-15', end: '2024-02-01' }],
    ]);
  });

  it('raises the errors the range functions document, and SAFE. gives NULL', async () => {
    const bad = await apiError(sdk.query({ query: "SELECT RANGE(DATE '2024-02-01', DATE '2024-01-01') AS r", useLegacySql: false }));
    expect(bad.message).toMatch(/lower bound must be less than the upper bound/);
    const apart = await apiError(sdk.query({ query: "SELECT RANGE_INTERSECT(RANGE<DATE> '[2024-01-01, 2024-01-02)', RANGE<DATE> '[2024-03-01, UNBOUNDED)') AS r", useLegacySql: false }));
    expect(apart.message).toMatch(/do not overlap/);
    const [rows] = await sdk.query({ query: "SELECT SAFE.RANGE_INTERSECT(RANGE<DATE> '[2024-01-01, 2024-01-02)', RANGE<DATE> '[2024-03-01, UNBOUNDED)') AS r, SAFE_CAST('[2024-01-01' AS RANGE<DATE>) AS c", useLegacySql: false });
    expect(rows).toEqual([{ r: null, c: null }]);
  });

  it('does not read a STRUCT whose fields are named like the bounds as a RANGE', async () => {
    const r = await raw("SELECT STRUCT(DATE '2024-01-01' AS range_start, DATE '2024-01-02' AS range_end) AS s");
    expect(r.fields[0].type).toBe('RECORD');
  });

  it('RANGE_SESSIONIZE merges the ranges that meet (default) or overlap, per partition, over a table with a RANGE column', async () => {
    // The page's table (https://cloud.google.com/bigquery/docs/reference/standard-sql/range-functions#range_sessionize), made by CREATE TABLE AS SELECT.
    await sdk.query({ query: `CREATE OR REPLACE TABLE shop.range_sessions AS
      SELECT * FROM UNNEST([STRUCT(10 AS emp_id, 1000 AS dept_id, RANGE<DATE> '[2010-01-10, 2010-03-10)' AS duration),
        (10, 2000, RANGE<DATE> '[2010-03-10, 2010-07-15)'), (10, 2000, RANGE<DATE> '[2010-06-15, 2010-08-18)'),
        (20, 2000, RANGE<DATE> '[2010-03-10, 2010-07-20)'), (20, 1000, RANGE<DATE> '[2020-05-10, 2020-09-20)')])`, useLegacySql: false });
    const [table] = await sdk.dataset('shop').table('range_sessions').getMetadata();
    expect(table.schema.fields[2]).toMatchObject({ name: 'duration', type: 'RANGE', rangeElementType: { type: 'DATE' } });
    const run = async (option: string) => (await raw(`SELECT emp_id, duration, session_range
      FROM RANGE_SESSIONIZE(TABLE shop.range_sessions, 'duration', ['emp_id']${option}) ORDER BY emp_id, RANGE_START(duration)`)).cells;
    const meets = [
      ['10', '[2010-01-10, 2010-03-10)', '[2010-01-10, 2010-08-18)'], ['10', '[2010-03-10, 2010-07-15)', '[2010-01-10, 2010-08-18)'],
      ['10', '[2010-06-15, 2010-08-18)', '[2010-01-10, 2010-08-18)'], ['20', '[2010-03-10, 2010-07-20)', '[2010-03-10, 2010-07-20)'],
      ['20', '[2020-05-10, 2020-09-20)', '[2020-05-10, 2020-09-20)']];
    expect(await run('')).toEqual(meets);
    expect(await run(", 'MEETS'")).toEqual(meets);
    expect(await run(", 'OVERLAPS'")).toEqual([
      ['10', '[2010-01-10, 2010-03-10)', '[2010-01-10, 2010-03-10)'], ['10', '[2010-03-10, 2010-07-15)', '[2010-03-10, 2010-08-18)'],
      ['10', '[2010-06-15, 2010-08-18)', '[2010-03-10, 2010-08-18)'], ['20', '[2010-03-10, 2010-07-20)', '[2010-03-10, 2010-07-20)'],
      ['20', '[2020-05-10, 2020-09-20)', '[2020-05-10, 2020-09-20)']]);
  });

  it('RANGE_BUCKET (numeric) counts the boundaries at or below the point and raises the documented errors', async () => {
    const [rows] = await sdk.query({ query: "SELECT RANGE_BUCKET(20, [0, 10, 20, 20, 40, 40]) AS a, RANGE_BUCKET(25, [0, 10, 20, 30, 40]) AS b, RANGE_BUCKET(1, []) AS e, RANGE_BUCKET(CAST('NaN' AS FLOAT64), [1.0]) AS n", useLegacySql: false });
    expect(rows).toEqual([{ a: 4, b: 3, e: 0, n: null }]);
    expect((await apiError(sdk.query({ query: 'SELECT RANGE_BUCKET(1, [3, 2]) AS x', useLegacySql: false }))).message).toMatch(/not sorted/);
    expect((await apiError(sdk.query({ query: 'SELECT RANGE_BUCKET(1, [1, NULL]) AS x', useLegacySql: false }))).message).toMatch(/NULL or NaN/);
  });

  it('stores RANGE columns of CREATE TABLE and INSERT, reported by tables.get and listed by tabledata.list', async () => {
    await sdk.query({ query: 'CREATE OR REPLACE TABLE shop.range_cols (id INT64, d RANGE<DATE>, dt RANGE<DATETIME>, ts ARRAY<RANGE<TIMESTAMP>>)', useLegacySql: false });
    await sdk.query({ query: `INSERT INTO shop.range_cols (id, d, dt, ts) VALUES (1, RANGE<DATE> '[2020-01-01, 2020-02-01)',
      RANGE<DATETIME> '[2020-01-01 10:00:00, UNBOUNDED)', [RANGE<TIMESTAMP> '[2020-01-01 00:00:00+00, 2020-01-02 00:00:00+00)'])`, useLegacySql: false });
    const table = sdk.dataset('shop').table('range_cols');
    const [meta] = await table.getMetadata();
    expect(meta.schema.fields.map((f: any) => [f.name, f.type, f.mode, f.rangeElementType?.type])).toEqual([
      ['id', 'INTEGER', 'NULLABLE', undefined], ['d', 'RANGE', 'NULLABLE', 'DATE'], ['dt', 'RANGE', 'NULLABLE', 'DATETIME'], ['ts', 'RANGE', 'REPEATED', 'TIMESTAMP']]);
    const [rows] = await table.getRows();
    expect(rows.map((r: any) => [r.d.value, r.dt.value, r.ts.map((x: any) => x.value)])).toEqual([[
      { start: '2020-01-01', end: '2020-02-01' }, { start: '2020-01-01T10:00:00', end: 'UNBOUNDED' },
      [{ start: '2020-01-01T00:00:00.000Z', end: '2020-01-02T00:00:00.000Z' }]]]);
  });

  it('binds the SDK\'s RANGE query parameters (named, UNBOUNDED ends) and refuses a reversed one', async () => {
    const [rows] = await sdk.query({ query: 'SELECT @r AS r, RANGE_CONTAINS(@r, DATE \'2024-01-15\') AS has, RANGE_START(@open) AS s, @ts AS ts', useLegacySql: false,
      params: { r: sdk.range('[2024-01-01, 2024-02-01)', 'DATE'), open: sdk.range('[UNBOUNDED, 2024-02-01)', 'DATE'),
        ts: sdk.range({ start: sdk.timestamp('2024-01-01T00:00:00Z'), end: sdk.timestamp('2024-01-02T00:00:00Z') } as never) } });
    expect(rows[0].r.value).toEqual({ start: '2024-01-01', end: '2024-02-01' });
    expect([rows[0].has, rows[0].s]).toEqual([true, null]);
    expect(rows[0].ts.value).toEqual({ start: '2024-01-01T00:00:00.000Z', end: '2024-01-02T00:00:00.000Z' });
    const bad = await apiError(sdk.query({ query: 'SELECT @r AS r', useLegacySql: false, params: { r: sdk.range('[2024-02-01, 2024-01-01)', 'DATE') } }));
    expect(bad.message).toMatch(/lower bound/);
  });
});
