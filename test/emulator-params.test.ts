/**
 * Typed query parameters in the emulator (params.ts), through the real `@google-cloud/bigquery`
 * SDK (which builds queryParameters itself) and the real `bq` CLI (`--parameter name:TYPE:value`):
 * ARRAY, STRUCT, TIMESTAMP, DATE, DATETIME, TIME, NUMERIC, BIGNUMERIC, BYTES and JSON bind with
 * their types and come back encoded as BigQuery encodes them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolve } from 'node:path';
import { BigQuery } from '@google-cloud/bigquery';
import { startEmulator, newEmulatorSecret, type RunningEmulator } from '../src/emulator/index.ts';
import { localCredential } from '../src/upstream/credentials.ts';
import { runBq } from './helpers/bq.ts';

let emu: RunningEmulator;
let sdk: BigQuery;
const secret = newEmulatorSecret();
const headers = { authorization: `Bearer ${secret}` };
const query = async (body: unknown) => {
  const r = await fetch(`${emu.url}/bigquery/v2/projects/demo-project/queries`, { method: 'POST', headers, body: JSON.stringify(body) });
  return { status: r.status, body: await r.json() as any };
};

beforeAll(async () => {
  emu = await startEmulator({ fixturesDir: resolve('fixtures'), port: 0, secret });
  sdk = new BigQuery({ projectId: 'demo-project', apiEndpoint: emu.url, authClient: localCredential(secret) as never, autoRetry: false });
});
afterAll(async () => { await emu?.close(); });

describe('emulator query parameters', () => {
  it('binds an ARRAY parameter as a typed list (IN UNNEST and the array itself)', async () => {
    const [rows] = await sdk.query({ query: 'SELECT order_id FROM shop.orders WHERE order_id IN UNNEST(@ids) ORDER BY order_id', params: { ids: [3, 1, 2] } });
    expect(rows.map((r: any) => r.order_id)).toEqual([1, 2, 3]);
    const [echo] = await sdk.query({ query: 'SELECT @names AS names, ARRAY_LENGTH(@names) AS n', params: { names: ['a', 'b'] } });
    expect(echo[0]).toEqual({ names: ['a', 'b'], n: 2 });
    const [empty] = await sdk.query({ query: 'SELECT ARRAY_LENGTH(@e) AS n', params: { e: [] }, types: { e: ['INT64'] } });
    expect(empty[0].n).toBe(0);
  });

  it('binds positional ? parameters by position, an ARRAY among them (IN UNNEST(?) before scalars)', async () => {
    const [rows] = await sdk.query({ query: 'SELECT order_id, status, currency FROM shop.orders WHERE status IN UNNEST(?) AND currency = ? AND order_id >= ? ORDER BY order_id LIMIT 5', params: [['paid', 'refunded'], 'EUR', 100], types: [['STRING'], 'STRING', 'INT64'] } as never);
    console.log('positional ARRAY, STRING, INT64:', JSON.stringify(rows));
    expect(rows.length).toBeGreaterThan(0);
    for (const r of rows as any[]) { expect(['paid', 'refunded']).toContain(r.status); expect(r.currency).toBe('EUR'); expect(r.order_id).toBeGreaterThanOrEqual(100); }
    const [lit] = await sdk.query({ query: "SELECT '?' AS q, ? AS a /* ? */", params: [7] });
    expect(lit).toEqual([{ q: '?', a: 7 }]);
  });

  it('binds a STRUCT parameter with its fields (structTypes / structValues)', async () => {
    const [rows] = await sdk.query({ query: 'SELECT @s AS s, @s.name AS name', params: { s: { id: 7, name: 'seven' } } });
    expect(rows[0]).toEqual({ s: { id: 7, name: 'seven' }, name: 'seven' });
  });

  it('binds TIMESTAMP, DATE, DATETIME and TIME as those types, not as text', async () => {
    const ts = new Date('2026-11-03T10:20:30.123Z');
    const [rows] = await sdk.query({
      query: "SELECT @ts AS ts, TIMESTAMP_ADD(@ts, INTERVAL 1 HOUR) AS later, @d AS d, @d = DATE '2026-02-28' AS same_day, @t AS t, @dt AS dt",
      params: { ts, d: sdk.date('2026-02-28'), t: sdk.time('12:34:56.5'), dt: sdk.datetime('2026-01-02 03:04:05') },
    });
    console.log('temporal row', JSON.stringify(rows[0]));
    expect(rows[0].ts.value).toBe('2026-11-03T10:20:30.123Z');
    expect(rows[0].later.value).toBe('2026-11-03T11:20:30.123Z');
    expect(rows[0].d.value).toBe('2026-02-28');
    expect(rows[0].same_day).toBe(true);
    expect(rows[0].t.value).toBe('12:34:56.500000');
    // a timestamp parameter compares with TIMESTAMP columns as an instant
    const [n] = await sdk.query({ query: 'SELECT COUNT(*) AS n FROM shop.orders WHERE created_at < @at', params: { at: new Date('2100-01-01T00:00:00Z') } });
    const [all] = await sdk.query('SELECT COUNT(*) AS n FROM shop.orders');
    expect(n[0].n).toBe(all[0].n);
  });

  it('binds NUMERIC, BIGNUMERIC, BYTES and JSON with their types', async () => {
    const r = await query({
      query: 'SELECT @n + 1 AS n, @bn AS bn, @b AS b, LENGTH(@b) AS len, @j AS j', useLegacySql: false, parameterMode: 'NAMED',
      queryParameters: [
        { name: 'n', parameterType: { type: 'NUMERIC' }, parameterValue: { value: '123.456' } },
        { name: 'bn', parameterType: { type: 'BIGNUMERIC' }, parameterValue: { value: '1.234567890123456789' } },
        { name: 'b', parameterType: { type: 'BYTES' }, parameterValue: { value: Buffer.from([0, 1, 104, 105]).toString('base64') } },
        { name: 'j', parameterType: { type: 'JSON' }, parameterValue: { value: '{"a":1}' } },
      ],
    });
    expect(r.status).toBe(200);
    console.log('scalar schema', JSON.stringify(r.body.schema.fields.map((f: any) => f.type)), 'row', JSON.stringify(r.body.rows[0]));
    expect(r.body.schema.fields.map((f: any) => f.type)).toEqual(['NUMERIC', 'BIGNUMERIC', 'BYTES', 'INTEGER', 'JSON']);
    expect(r.body.rows[0].f.map((c: any) => c.v)).toEqual(['124.456', '1.234567890123456789', 'AAFoaQ==', '4', '{"a":1}']);
  });

  it('refuses a value that does not read as its type, naming the parameter', async () => {
    const r = await query({ query: 'SELECT @d', useLegacySql: false, queryParameters: [{ name: 'd', parameterType: { type: 'DATE' }, parameterValue: { value: '2026-02-30' } }] });
    expect(r.status).toBe(400);
    expect(r.body.error.message).toMatch(/'d'.*not a valid date/);
    const buf = await query({ query: 'SELECT @b', useLegacySql: false, queryParameters: [{ name: 'b', parameterType: { type: 'BYTES' }, parameterValue: { value: { type: 'Buffer', data: [1] } } }] });
    expect(buf.body.error.message).toMatch(/'b'.*base64/);
  });

  it('binds bq --parameter ARRAY, STRUCT and TIMESTAMP values', async () => {
    const r = await runBq(emu.url, secret, ['query', '--nouse_legacy_sql', '--format=json',
      '--parameter=ids:ARRAY<INT64>:[1,2,3]', '--parameter=s:STRUCT<x INT64, y STRING>:{"x": 1, "y": "one"}',
      '--parameter=ts:TIMESTAMP:2026-11-03 10:20:30.5+00:00',
      'SELECT ARRAY_LENGTH(@ids) AS n, @s.y AS y, TIMESTAMP_ADD(@ts, INTERVAL 1 SECOND) AS ts']);
    console.log('bq', r.code, r.stdout, r.stderr.slice(0, 400));
    expect(r.code).toBe(0);
    const [row] = JSON.parse(r.stdout);
    expect(row.n).toBe('3');
    expect(row.y).toBe('one');
    expect(row.ts).toMatch(/^2026-11-03 10:20:31/);
  });
});
