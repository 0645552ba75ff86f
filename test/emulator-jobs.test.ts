/**
 * The emulator's copy, extract and load jobs and jobs.delete (transfer.ts, upload.ts), through the
 * real SDK (`table.copy`, `createJob`, `table.load(localFile)` over the multipart upload) and the
 * real `bq` CLI (`cp`, `extract`, `load` of a local file over the resumable upload, `wait`); and
 * their guards: extract paths stay inside the bucket root, uploads are bounded.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolve, join } from 'node:path';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { BigQuery } from '@google-cloud/bigquery';
import { startEmulator, newEmulatorSecret, type RunningEmulator } from '../src/emulator/index.ts';
import { localCredential } from '../src/upstream/credentials.ts';
import { runBq } from './helpers/bq.ts';

let emu: RunningEmulator;
let sdk: BigQuery;
const secret = newEmulatorSecret();
const work = mkdtempSync(join(tmpdir(), 'emu-jobs-'));
const bucketRoot = join(work, 'gcs');
const outside = join(work, 'outside');
const MAX_UPLOAD = 1024 * 1024;
const headers = { authorization: `Bearer ${secret}` };
const api = async (method: string, path: string, body?: unknown) => {
  const r = await fetch(`${emu.url}/bigquery/v2/projects/demo-project${path}`, { method, headers, ...(body ? { body: JSON.stringify(body) } : {}) });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : undefined } as { status: number; body: any };
};
/** Runs a job configuration to completion; returns the final job resource. */
const runJob = async (configuration: Record<string, unknown>) => {
  const made = await api('POST', '/jobs', { configuration });
  if (made.status !== 200) return { status: { state: 'DONE', errorResult: made.body.error.errors[0] } } as any;
  let job = made.body;
  while (job.status.state !== 'DONE') job = (await api('GET', `/jobs/${job.jobReference.jobId}`)).body;
  return job;
};

beforeAll(async () => {
  mkdirSync(outside, { recursive: true });
  emu = await startEmulator({ fixturesDir: resolve('fixtures'), port: 0, secret, bucketRoot, maxUploadBytes: MAX_UPLOAD });
  sdk = new BigQuery({ projectId: 'demo-project', apiEndpoint: emu.url, authClient: localCredential(secret) as never, autoRetry: false });
  await sdk.createDataset('jobs');
});
afterAll(async () => { await emu?.close(); });

describe('emulator copy, extract and load jobs', () => {
  it('copies a table (SDK table.copy), refusing a non-empty destination under WRITE_EMPTY', async () => {
    const [meta]: any = await sdk.dataset('shop').table('customers').copy(sdk.dataset('jobs').table('customers_copy'));
    expect(meta.status.state).toBe('DONE');
    expect(meta.configuration.jobType).toBe('COPY');
    const [src] = await sdk.dataset('shop').table('customers').getMetadata();
    const [dst] = await sdk.dataset('jobs').table('customers_copy').getMetadata();
    expect(dst.numRows).toBe(src.numRows);
    expect(dst.schema.fields).toEqual(src.schema.fields);
    expect(meta.statistics.copy.copiedRows).toBe(src.numRows);
    const again = await runJob({ copy: { sourceTable: { projectId: 'demo-project', datasetId: 'shop', tableId: 'customers' }, destinationTable: { projectId: 'demo-project', datasetId: 'jobs', tableId: 'customers_copy' } } });
    expect(again.status.errorResult.reason).toBe('duplicate');
    const append = await runJob({ copy: { sourceTable: { datasetId: 'shop', tableId: 'customers' }, destinationTable: { datasetId: 'jobs', tableId: 'customers_copy' }, writeDisposition: 'WRITE_APPEND' } });
    expect(append.status.errorResult).toBeUndefined();
    expect((await sdk.dataset('jobs').table('customers_copy').getMetadata())[0].numRows).toBe(String(2 * Number(src.numRows)));
  });

  it('extracts CSV, gzipped CSV and newline-delimited JSON under the bucket root', async () => {
    const [orders] = await sdk.dataset('shop').table('orders').getMetadata();
    const csv = await runJob({ extract: { sourceTable: { datasetId: 'shop', tableId: 'orders' }, destinationUris: ['gs://demo-exports/orders/part-*.csv'] } });
    expect(csv.status.errorResult).toBeUndefined();
    const lines = readFileSync(join(bucketRoot, 'demo-exports/orders/part-000000000000.csv'), 'utf8').trim().split('\n');
    expect(lines[0]).toBe(orders.schema.fields.map((f: any) => f.name).join(','));
    expect(lines.length - 1).toBe(Number(orders.numRows));
    console.log('csv line', lines[1]);
    expect(lines[1]).toMatch(/ UTC(,|$)/);
    const gz = await runJob({ extract: { sourceTable: { datasetId: 'shop', tableId: 'orders' }, destinationUris: ['gs://demo-exports/orders.csv.gz'], compression: 'GZIP', printHeader: false } });
    expect(gz.status.errorResult).toBeUndefined();
    expect(gunzipSync(readFileSync(join(bucketRoot, 'demo-exports/orders.csv.gz'))).toString().trim().split('\n')).toHaveLength(Number(orders.numRows));
    const json = await runJob({ extract: { sourceTable: { datasetId: 'shop', tableId: 'customers' }, destinationUris: ['gs://demo-exports/customers.json'], destinationFormat: 'NEWLINE_DELIMITED_JSON' } });
    expect(json.status.errorResult).toBeUndefined();
    const first = JSON.parse(readFileSync(join(bucketRoot, 'demo-exports/customers.json'), 'utf8').split('\n')[0]);
    expect(Array.isArray(first.tags)).toBe(true);
    expect(typeof first.address).toBe('object');
    const nested = await runJob({ extract: { sourceTable: { datasetId: 'shop', tableId: 'customers' }, destinationUris: ['gs://demo-exports/customers.csv'] } });
    expect(nested.status.errorResult.message).toMatch(/nested schema/);
  });

  it('keeps extract paths inside the bucket root: no "..", no absolute paths, no links out', async () => {
    await sdk.query('CREATE TABLE jobs.tiny AS SELECT order_id, amount FROM shop.orders WHERE order_id <= 3');
    const src = { datasetId: 'jobs', tableId: 'tiny' };
    for (const uri of ['gs://demo-exports/../../outside/x.csv', 'gs://demo-exports//etc/x.csv', 'gs://demo-exports/a/./b.csv', 'gs://demo-exports/a\\..\\b.csv', '/etc/passwd', 'file:///tmp/x']) {
      const j = await runJob({ extract: { sourceTable: src, destinationUris: [uri] } });
      expect(j.status.errorResult?.reason, uri).toMatch(/accessDenied|invalid/);
    }
    mkdirSync(join(bucketRoot, 'demo-exports'), { recursive: true });
    symlinkSync(outside, join(bucketRoot, 'demo-exports', 'link'));
    const viaLink = await runJob({ extract: { sourceTable: src, destinationUris: ['gs://demo-exports/link/x.csv'] } });
    expect(viaLink.status.errorResult.reason).toBe('accessDenied');
    expect(existsSync(join(outside, 'x.csv'))).toBe(false);
  });

  it('loads local CSV and JSON files through the SDK upload (table.load), with a schema, into an existing table and by autodetect', async () => {
    const csv = join(work, 'people.csv');
    writeFileSync(csv, 'name,age,joined\nAnn,30,2026-01-02 03:04:05 UTC\n"Bo, Jr.",41,\n');
    const [job]: any = await sdk.dataset('jobs').table('people').load(csv, { skipLeadingRows: 1, schema: { fields: [{ name: 'name', type: 'STRING' }, { name: 'age', type: 'INTEGER' }, { name: 'joined', type: 'TIMESTAMP' }] } });
    expect(job.status.state).toBe('DONE');
    expect(job.statistics.load.outputRows).toBe('2');
    const [rows] = await sdk.query('SELECT name, age, joined FROM jobs.people ORDER BY age');
    expect(rows.map((r: any) => [r.name, r.age, r.joined?.value ?? null])).toEqual([['Ann', 30, '2026-01-02T03:04:05.000Z'], ['Bo, Jr.', 41, null]]);
    const json = join(work, 'more.json');
    writeFileSync(json, '{"name": "Cy", "age": 7}\n{"name": "Di", "age": 8, "extra": 1}\n');
    const [j2]: any = await sdk.dataset('jobs').table('people').load(json, { sourceFormat: 'NEWLINE_DELIMITED_JSON', ignoreUnknownValues: true });
    expect(j2.statistics.load.outputRows).toBe('2');
    expect((await sdk.dataset('jobs').table('people').getMetadata())[0].numRows).toBe('4');
    const auto = join(work, 'auto.json');
    writeFileSync(auto, '{"k": "a", "n": 1, "x": 1.5, "ok": true}\n{"k": "b", "n": 2, "x": 2, "ok": false}\n');
    await sdk.dataset('jobs').table('auto').load(auto, { sourceFormat: 'NEWLINE_DELIMITED_JSON', autodetect: true });
    const [am] = await sdk.dataset('jobs').table('auto').getMetadata();
    expect(am.schema.fields.map((f: any) => `${f.name}:${f.type}`)).toEqual(['k:STRING', 'n:INTEGER', 'x:FLOAT', 'ok:BOOLEAN']);
    const badFile = join(work, 'bad.csv');
    writeFileSync(badFile, 'x,notanumber,\n');
    const err = await sdk.dataset('jobs').table('people').load(badFile, {}).catch((e) => e);
    expect(String(err.message)).toMatch(/bad record|INT64/);
    expect((await sdk.dataset('jobs').table('people').getMetadata())[0].numRows).toBe('4');
  });

  it('loads a gs:// file the extract wrote (round trip) and refuses an upload over the limit', async () => {
    await sdk.query('CREATE TABLE jobs.small AS SELECT * FROM shop.customers WHERE customer_id <= 300');
    await runJob({ extract: { sourceTable: { datasetId: 'jobs', tableId: 'small' }, destinationUris: ['gs://demo-exports/round.json'], destinationFormat: 'NEWLINE_DELIMITED_JSON' } });
    const [orders] = await sdk.dataset('jobs').table('small').getMetadata();
    const load = await runJob({ load: { sourceUris: ['gs://demo-exports/round.json'], sourceFormat: 'NEWLINE_DELIMITED_JSON', destinationTable: { datasetId: 'jobs', tableId: 'orders_back' }, schema: orders.schema } });
    expect(load.status.errorResult).toBeUndefined();
    const [same] = await sdk.query('SELECT COUNT(*) AS n FROM (SELECT TO_JSON_STRING(t) AS j FROM jobs.orders_back t EXCEPT DISTINCT SELECT TO_JSON_STRING(t) FROM jobs.small t)');
    expect(same[0].n).toBe(0);
    expect((await sdk.dataset('jobs').table('orders_back').getMetadata())[0].numRows).toBe(orders.numRows);
    const big = join(work, 'big.csv');
    writeFileSync(big, 'a\n'.repeat(MAX_UPLOAD));
    const err = await sdk.dataset('jobs').table('big').load(big, { schema: { fields: [{ name: 'a', type: 'STRING' }] } }).catch((e) => e);
    console.log('over the limit:', err.code, String(err.message).slice(0, 160));
    expect(err).toBeInstanceOf(Error);
    expect((await api('GET', '/datasets/jobs/tables/big')).status).toBe(404);
  });

  it('writes a query job\'s result to its destinationTable (WRITE_EMPTY, WRITE_APPEND, WRITE_TRUNCATE) and copies several sources into one table', async () => {
    const dest = sdk.dataset('jobs').table('top_orders');
    const [job] = await sdk.createQueryJob({ query: 'SELECT order_id, amount, created_at FROM shop.orders WHERE order_id <= 5', destination: dest });
    await job.getQueryResults();
    const [rows] = await sdk.query('SELECT order_id, amount FROM jobs.top_orders ORDER BY order_id');
    const [direct] = await sdk.query('SELECT order_id, amount FROM shop.orders WHERE order_id <= 5 ORDER BY order_id');
    expect(rows).toEqual(direct);
    const [meta] = await dest.getMetadata();
    expect(meta.schema.fields.map((f: any) => `${f.name}:${f.type}`)).toEqual(['order_id:INTEGER', 'amount:NUMERIC', 'created_at:TIMESTAMP']);
    const q = (writeDisposition?: string) => runJob({ query: { query: 'SELECT order_id, amount, created_at FROM shop.orders WHERE order_id <= 2', useLegacySql: false, destinationTable: { datasetId: 'jobs', tableId: 'top_orders' }, ...(writeDisposition ? { writeDisposition } : {}) } });
    expect((await q()).status.errorResult.reason).toBe('duplicate');
    expect((await q('WRITE_APPEND')).status.errorResult).toBeUndefined();
    expect((await dest.getMetadata())[0].numRows).toBe('7');
    expect((await q('WRITE_TRUNCATE')).status.errorResult).toBeUndefined();
    expect((await dest.getMetadata())[0].numRows).toBe('2');
    // schemaUpdateOptions ALLOW_FIELD_ADDITION: a query (and a load) that appends a new column adds it
    const refused = await runJob({ query: { query: 'SELECT order_id, status FROM shop.orders WHERE order_id = 3', useLegacySql: false, destinationTable: { datasetId: 'jobs', tableId: 'top_orders' }, writeDisposition: 'WRITE_APPEND' } });
    expect(refused.status.errorResult.message).toMatch(/ALLOW_FIELD_ADDITION/);
    const widened = await runJob({ query: { query: 'SELECT order_id, status FROM shop.orders WHERE order_id = 3', useLegacySql: false, destinationTable: { datasetId: 'jobs', tableId: 'top_orders' }, writeDisposition: 'WRITE_APPEND', schemaUpdateOptions: ['ALLOW_FIELD_ADDITION'] } });
    expect(widened.status.errorResult).toBeUndefined();
    const [wide] = await sdk.query('SELECT order_id, amount, status FROM jobs.top_orders ORDER BY order_id, status');
    expect(wide.map((r: any) => [r.order_id, r.amount === null, r.status !== null])).toEqual([[1, false, false], [2, false, false], [3, true, true]]);
    const multi = await runJob({ copy: { sourceTables: [{ datasetId: 'shop', tableId: 'events_20261101' }, { datasetId: 'shop', tableId: 'events_20261102' }], destinationTable: { datasetId: 'jobs', tableId: 'events_two' } } });
    expect(multi.status.errorResult).toBeUndefined();
    const [n] = await sdk.query("SELECT (SELECT COUNT(*) FROM jobs.events_two) AS copied, (SELECT COUNT(*) FROM `demo-project.shop.events_*` WHERE _TABLE_SUFFIX IN ('20261101', '20261102')) AS source");
    expect(n[0].copied).toBe(n[0].source);
    expect(multi.statistics.copy.copiedRows).toBe(String(n[0].source));
  });

  it('bq query --destination_table writes the result table', async () => {
    const r = await runBq(emu.url, secret, ['query', '--nouse_legacy_sql', '--destination_table=jobs.bq_dest', 'SELECT customer_id, city FROM shop.customers WHERE customer_id <= 3']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect((await sdk.dataset('jobs').table('bq_dest').getMetadata())[0].numRows).toBe('3');
  }, 120_000);

  it('deletes a finished job (jobs.delete) and refuses a running one', async () => {
    const [job] = await sdk.createQueryJob({ query: 'SELECT 1' });
    await job.getQueryResults();
    expect((await api('DELETE', `/jobs/${job.id}/delete`)).status).toBe(204);
    expect((await api('GET', `/jobs/${job.id}`)).status).toBe(404);
    const slow = await api('POST', '/jobs', { configuration: { query: { query: 'SELECT COUNT(DISTINCT MOD(x * 7919, 1000003)) AS n FROM UNNEST(GENERATE_ARRAY(1, 3000000)) AS x', useLegacySql: false } } });
    const running = await api('DELETE', `/jobs/${slow.body.jobReference.jobId}/delete`);
    expect(running.status).toBe(400);
    expect(running.body.error.message).toMatch(/cancel it before deleting/);
    await api('POST', `/jobs/${slow.body.jobReference.jobId}/cancel`, {});
  });

  it('bq cp, extract, load of a local file (resumable upload) and wait', async () => {
    const bq = (...args: string[]) => runBq(emu.url, secret, args);
    const ok = async (...args: string[]) => { const r = await bq(...args); console.log(`$ bq ${args.join(' ')} → ${r.code}\n${r.stdout}${r.stderr}`.slice(0, 600)); expect(r.code, r.stderr + r.stdout).toBe(0); return r.stdout; };
    await ok('cp', '-f', 'shop.orders', 'jobs.orders_cp');
    expect((await sdk.dataset('jobs').table('orders_cp').getMetadata())[0].numRows).toBe((await sdk.dataset('shop').table('orders').getMetadata())[0].numRows);
    await ok('extract', 'jobs.orders_cp', 'gs://demo-exports/bq/orders.csv');
    expect(existsSync(join(bucketRoot, 'demo-exports/bq/orders.csv'))).toBe(true);
    const file = join(work, 'bq.csv');
    writeFileSync(file, 'p,1\nq,2\n');
    await ok('load', '--source_format=CSV', 'jobs.from_bq', file, 'k:STRING,v:INTEGER');
    const [rows] = await sdk.query('SELECT k, v FROM jobs.from_bq ORDER BY v');
    expect(rows).toEqual([{ k: 'p', v: 1 }, { k: 'q', v: 2 }]);
    const [job] = await sdk.createQueryJob({ query: 'SELECT 1' });
    await ok('wait', job.id!);
  }, 240_000);
});
