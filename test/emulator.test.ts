/**
 * The emulator's wire contract (CONTRACT.md §3, §6, §7), over real HTTP: row encoding, TIMESTAMP
 * formats, paging, long-polling, job states, errors.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolve } from 'node:path';
import { startEmulator, newEmulatorSecret, type RunningEmulator } from '../src/emulator/index.ts';

let emu: RunningEmulator;
const secret = newEmulatorSecret();
const headers = { authorization: `Bearer ${secret}` };
const base = () => `${emu.url}/bigquery/v2/projects/demo-project`;
const post = async (path: string, body: unknown) => { const r = await fetch(base() + path, { method: 'POST', headers, body: JSON.stringify(body) }); return { status: r.status, body: await r.json() as any }; };
const get = async (path: string) => { const r = await fetch(base() + path, { headers }); return { status: r.status, body: await r.json() as any }; };
/** A query DuckDB needs a noticeable time for (no tables touched). */
export const SLOW_SQL = 'SELECT COUNT(DISTINCT MOD(x * 7919, 1000003)) AS n FROM UNNEST(GENERATE_ARRAY(1, 3000000)) AS x';

beforeAll(async () => { emu = await startEmulator({ fixturesDir: resolve('fixtures'), port: 0, secret }); });
afterAll(async () => { await emu?.close(); });

describe('emulator', () => {
  it('encodes rows as f/v with REPEATED, RECORD, NUMERIC and both TIMESTAMP formats', async () => {
    const sql = 'SELECT customer_id, created_at, tags, address, birth_date FROM shop.customers WHERE customer_id = 1';
    const micro = await post('/queries', { query: sql, useLegacySql: false, formatOptions: { useInt64Timestamp: true } });
    expect(micro.status).toBe(200);
    const [id, ts, tags, address, birth] = micro.body.rows[0].f.map((c: any) => c.v);
    expect(id).toBe('1');
    expect(ts).toMatch(/^\d{16}$/);
    expect(tags).toEqual(expect.arrayContaining([{ v: expect.any(String) }]));
    expect(address).toEqual({ f: [{ v: expect.any(String) }, { v: expect.any(String) }] });
    expect(birth).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    const secs = await post('/queries', { query: sql, useLegacySql: false });
    const fl = secs.body.rows[0].f[1].v;
    expect(fl).toMatch(/^\d\.\d+E9$/);
    expect(Math.round(Number(fl) * 1e6)).toBe(Number(ts));
    expect(micro.body.schema.fields.map((f: any) => [f.name, f.type, f.mode])).toEqual([
      ['customer_id', 'INTEGER', 'NULLABLE'], ['created_at', 'TIMESTAMP', 'NULLABLE'], ['tags', 'STRING', 'REPEATED'],
      ['address', 'RECORD', 'NULLABLE'], ['birth_date', 'DATE', 'NULLABLE']]);
    const num = await post('/queries', { query: 'SELECT amount FROM shop.orders WHERE order_id = 1', useLegacySql: false });
    expect(num.body.rows[0].f[0].v).toMatch(/^\d+(\.\d{1,2})?$/);
  });

  it('pages with maxResults, pageToken and startIndex', async () => {
    const first = await post('/queries', { query: 'SELECT order_id FROM shop.orders ORDER BY order_id LIMIT 25', useLegacySql: false, maxResults: 10 });
    expect(first.body.rows).toHaveLength(10);
    expect(first.body.totalRows).toBe('25');
    const job = first.body.jobReference.jobId;
    const second = await get(`/queries/${job}?maxResults=10&pageToken=${first.body.pageToken}`);
    expect(second.body.rows.map((r: any) => r.f[0].v)).toEqual(Array.from({ length: 10 }, (_, i) => String(i + 11)));
    const last = await get(`/queries/${job}?startIndex=20&maxResults=10`);
    expect(last.body.rows).toHaveLength(5);
    expect(last.body.pageToken).toBeUndefined();
    const data = await get('/datasets/shop/tables/orders/data?maxResults=2&startIndex=3');
    expect(data.body.rows.map((r: any) => r.f[0].v)).toEqual(['4', '5']);
    expect(data.body.totalRows).toBe('50000');
  });

  it('long-polls getQueryResults up to timeoutMs and reports RUNNING then DONE', async () => {
    const q = await post('/queries', { query: SLOW_SQL, useLegacySql: false, timeoutMs: 1 });
    expect(q.body.jobComplete).toBe(false);
    expect(q.body.jobReference.jobId).toBeTruthy();
    const job = q.body.jobReference.jobId;
    expect((await get(`/jobs/${job}`)).body.status.state).toBe('RUNNING');
    const r = await get(`/queries/${job}?timeoutMs=60000`);
    expect(r.body.jobComplete).toBe(true);
    expect(r.body.rows[0].f[0].v).toBe('1000003');
    const j = await get(`/jobs/${job}`);
    expect(j.body.status.state).toBe('DONE');
    expect(j.body.statistics.query.statementType).toBe('SELECT');
  });

  it('answers duplicate job ids with 409, cancels running jobs, and uses the error envelope', async () => {
    const ins = await post('/jobs', { jobReference: { jobId: 'dup-1' }, configuration: { query: { query: SLOW_SQL, useLegacySql: false } } });
    expect(ins.status).toBe(200);
    const again = await post('/jobs', { jobReference: { jobId: 'dup-1' }, configuration: { query: { query: 'SELECT 1', useLegacySql: false } } });
    expect(again.status).toBe(409);
    expect(again.body.error.errors[0].reason).toBe('duplicate');
    const c = await post('/jobs/dup-1/cancel', {});
    expect(c.body.job.status.state).toBe('DONE');
    expect(c.body.job.status.errorResult.reason).toBe('stopped');
    const bad = await post('/queries', { query: 'SELECT FROM WHERE', useLegacySql: false });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toBe(bad.body.error.errors[0].message);
    expect(bad.body.error.errors[0].reason).toBe('invalidQuery');
    const missing = await get('/datasets/shop/tables/nope');
    expect(missing.status).toBe(404);
    expect(missing.body.error.errors[0].reason).toBe('notFound');
  });
});
