/**
 * tabledata.insertAll in the emulator (insert.ts) through the real SDK (`table.insert`, which adds
 * an insertId per row) and raw REST: typed values stored, unknown fields, REQUIRED fields, bad
 * values reported per row as BigQuery reports them, skipInvalidRows, ignoreUnknownValues, insertId
 * deduplication; and `bq insert` of a JSON file.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolve, join } from 'node:path';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { BigQuery } from '@google-cloud/bigquery';
import { startEmulator, newEmulatorSecret, type RunningEmulator } from '../src/emulator/index.ts';
import { localCredential } from '../src/upstream/credentials.ts';
import { runBq } from './helpers/bq.ts';

let emu: RunningEmulator;
let sdk: BigQuery;
const secret = newEmulatorSecret();
const headers = { authorization: `Bearer ${secret}` };
const insertAll = async (table: string, body: unknown) => {
  const r = await fetch(`${emu.url}/bigquery/v2/projects/demo-project/datasets/ins/tables/${table}/insertAll`, { method: 'POST', headers, body: JSON.stringify(body) });
  return { status: r.status, body: await r.json() as any };
};
const count = async (table: string) => Number((await sdk.query(`SELECT COUNT(*) AS n FROM ins.${table}`))[0][0].n);

beforeAll(async () => {
  emu = await startEmulator({ fixturesDir: resolve('fixtures'), port: 0, secret });
  sdk = new BigQuery({ projectId: 'demo-project', apiEndpoint: emu.url, authClient: localCredential(secret) as never, autoRetry: false });
  const [ds] = await sdk.createDataset('ins');
  await ds.createTable('events', {
    schema: { fields: [
      { name: 'id', type: 'INTEGER', mode: 'REQUIRED' }, { name: 'ts', type: 'TIMESTAMP' }, { name: 'amount', type: 'NUMERIC' },
      { name: 'tags', type: 'STRING', mode: 'REPEATED' }, { name: 'who', type: 'RECORD', fields: [{ name: 'name', type: 'STRING' }, { name: 'age', type: 'INTEGER' }] },
    ] },
  });
});
afterAll(async () => { await emu?.close(); });

describe('emulator tabledata.insertAll', () => {
  it('stores typed rows the SDK inserts and reads them back with their types', async () => {
    const table = sdk.dataset('ins').table('events');
    await table.insert([
      { id: 1, ts: sdk.timestamp('2026-11-03T10:00:00.250Z'), amount: '12.50', tags: ['a', 'b'], who: { name: 'Ann', age: 30 } },
      { id: 2, ts: null, amount: 3, tags: [], who: null },
    ]);
    const [rows] = await sdk.query('SELECT id, ts, amount, tags, who FROM ins.events ORDER BY id');
    console.log('inserted', JSON.stringify(rows));
    expect(rows[0].ts.value).toBe('2026-11-03T10:00:00.250Z');
    expect(String(rows[0].amount)).toBe('12.5');
    expect(rows[0].tags).toEqual(['a', 'b']);
    expect(rows[0].who).toEqual({ name: 'Ann', age: 30 });
    expect(rows[1]).toMatchObject({ id: 2, ts: null, tags: [], who: null });
    const [meta] = await table.getMetadata();
    expect(meta.numRows).toBe('2');
  });

  it('reports invalid rows per row and inserts nothing unless skipInvalidRows', async () => {
    const before = await count('events');
    const rows = [
      { insertId: 'r1', json: { id: 10 } },
      { insertId: 'r2', json: { id: 11, nope: 1 } },
      { insertId: 'r3', json: { ts: '2026-01-01T00:00:00Z' } },
      { insertId: 'r4', json: { id: 'twelve' } },
    ];
    const all = await insertAll('events', { rows });
    console.log('insertErrors', JSON.stringify(all.body.insertErrors));
    expect(all.status).toBe(200);
    expect(all.body.insertErrors.map((e: any) => [e.index, e.errors[0].reason, e.errors[0].location])).toEqual([
      [0, 'stopped', ''], [1, 'invalid', 'nope'], [2, 'invalid', 'id'], [3, 'invalid', 'id']]);
    expect(all.body.insertErrors[1].errors[0].message).toBe('no such field: nope.');
    expect(all.body.insertErrors[2].errors[0].message).toBe('Missing required field: id.');
    expect(await count('events')).toBe(before);
    const skip = await insertAll('events', { rows, skipInvalidRows: true });
    expect(skip.body.insertErrors.map((e: any) => e.index)).toEqual([1, 2, 3]);
    expect(await count('events')).toBe(before + 1);
    const lenient = await insertAll('events', { rows: [{ insertId: 'r5', json: { id: 13, nope: 1 } }], ignoreUnknownValues: true });
    expect(lenient.body.insertErrors).toBeUndefined();
    expect(await count('events')).toBe(before + 2);
    // the same insertIds again: deduplicated, not inserted twice
    const dup = await insertAll('events', { rows: [{ insertId: 'r1', json: { id: 10 } }, { insertId: 'r5', json: { id: 13 } }] });
    expect(dup.body.insertErrors).toBeUndefined();
    expect(await count('events')).toBe(before + 2);
  });

  it('the SDK surfaces insertErrors as a PartialFailureError', async () => {
    const err = await sdk.dataset('ins').table('events').insert([{ id: 20 }, { wrong: true }]).catch((e) => e);
    expect(err.name).toBe('PartialFailureError');
    expect(err.errors.map((e: any) => e.errors[0].reason).sort()).toEqual(['invalid', 'stopped']);
  });

  it('bq insert writes the rows of a newline-delimited JSON file', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'emu-ins-')), 'rows.json');
    writeFileSync(file, '{"id": 100, "tags": ["x"]}\n{"id": 101, "who": {"name": "Bo"}}\n');
    const r = await runBq(emu.url, secret, ['insert', 'ins.events', file]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const [rows] = await sdk.query('SELECT id, who.name AS name FROM ins.events WHERE id >= 100 ORDER BY id');
    expect(rows).toEqual([{ id: 100, name: null }, { id: 101, name: 'Bo' }]);
  }, 120_000);
});
