/**
 * Load jobs of a local file through a real gateway process (the media upload endpoint,
 * src/doors/bigquery/upload.ts): the SDK's `table.load(localFile)` and `bq load` under the test-only admin policy,
 * an analyst's load under the demo policy refused naming the rule, a resumable session bound to
 * the principal that opened it; `bq query` of a CREATE TABLE printing "Created …" (the DDL
 * statistics) and `bq extract` into the embedded emulator's `<dataDir>/gcs`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { auditRequests, type TestGateway } from './helpers/gateway.ts';
import { startDemoAndAdminGateway } from './helpers/admin-policy.ts';

let gw: TestGateway;
let analyst: string;
let admin: string;
let work: string;

beforeAll(async () => {
  ({ gw, tokens: { analyst, admin } } = await startDemoAndAdminGateway('up', { analyst: ['analysts'], admin: ['test-admins'] }));
  work = mkdtempSync(join(tmpdir(), 'bqgate-rest-upload-'));
  writeFileSync(join(work, 'rows.csv'), 'a,b\nx,1\ny,2\nz,3\n');
  const mk = await gw.bq(admin, ['mk', '-d', 'demo-project:upl']);
  expect(mk.code).toBe(0);
}, 180_000);
afterAll(async () => { await gw?.stop(); });

/** What bq printed, its line wrapping undone. */
const out = (r: { stdout: string; stderr: string }) => `${r.stdout}\n${r.stderr}`.replace(/-\n\s*/g, '-').replace(/\s+/g, ' ');
const count = async (table: string) => Number((await gw.sdk(admin).query({ query: `SELECT COUNT(*) AS n FROM \`${table}\`` }))[0][0].n);
const SCHEMA = { fields: [{ name: 'a', type: 'STRING' }, { name: 'b', type: 'INTEGER' }] };

describe('DDL statistics through the gateway', () => {
  it('bq query of a CREATE TABLE prints "Created …" (admin); jobs.get shows the caller its destination table', async () => {
    const r = await gw.bq(admin, ['query', '--nouse_legacy_sql', 'CREATE TABLE `demo-project.upl.made` (a STRING, b INT64)']);
    console.log('bq query CREATE TABLE (admin):', r.code, out(r).trim().slice(-200));
    expect(r.code).toBe(0);
    expect(out(r)).toMatch(/Created demo-project[.:]upl\.made/);
    const [job] = await gw.sdk(admin).createQueryJob({ query: 'SELECT 1 AS x', destination: gw.sdk(admin).dataset('upl').table('dest1') });
    await job.getQueryResults();
    const [meta] = await job.getMetadata();
    console.log('jobs.get configuration.query.destinationTable:', JSON.stringify(meta.configuration.query.destinationTable));
    expect(meta.configuration.query.destinationTable).toEqual({ projectId: 'demo-project', datasetId: 'upl', tableId: 'dest1' });
  }, 120_000);
});

describe('load of a local file (upload endpoint)', () => {
  it('SDK table.load(localFile) under the admin policy loads the rows; jobs.get shows load statistics', async () => {
    const [job] = await gw.sdk(admin).dataset('upl').table('sdk_loaded').load(join(work, 'rows.csv'), { sourceFormat: 'CSV', skipLeadingRows: 1, schema: SCHEMA });
    console.log('table.load (admin): state', job.status?.state, 'statistics.load', JSON.stringify(job.statistics?.load));
    expect(job.status?.errorResult).toBeUndefined();
    expect(await count('demo-project.upl.sdk_loaded')).toBe(3);
    expect(job.statistics?.load?.outputRows).toBe('3');
  }, 120_000);

  it('an analyst\'s load under the demo policy is refused with accessDenied naming the rule; nothing is written', async () => {
    const before = await count('demo-project.shop.orders');
    const err = await gw.sdk(analyst).dataset('shop').table('orders').load(join(work, 'rows.csv'), { sourceFormat: 'CSV', skipLeadingRows: 1 }).then(() => undefined, (e) => e);
    console.log('table.load (analyst):', err?.code, err?.message);
    expect(err).toBeDefined();
    expect(err.code).toBe(403);
    expect(err.message).toMatch(/LOAD/);
    expect(err.message).toMatch(/analysts-no-writes/);
    const r = await gw.bq(analyst, ['load', '--source_format=CSV', '--skip_leading_rows=1', 'demo-project:shop.orders', join(work, 'rows.csv')]);
    console.log('bq load (analyst): exit', r.code, out(r).trim().slice(-200));
    expect(r.code).not.toBe(0);
    expect(out(r)).toMatch(/analysts-no-writes denies LOAD/);
    expect(await count('demo-project.shop.orders')).toBe(before);
  }, 120_000);

  it('bq load of a local CSV works under the admin policy', async () => {
    const r = await gw.bq(admin, ['load', '--source_format=CSV', '--skip_leading_rows=1', 'demo-project:upl.bq_loaded', join(work, 'rows.csv'), 'a:STRING,b:INTEGER']);
    console.log('bq load (admin):', r.code, out(r).trim().slice(-300));
    expect(r.code).toBe(0);
    expect(await count('demo-project.upl.bq_loaded')).toBe(3);
  }, 120_000);

  it('a resumable session is the gateway\'s URL and refuses another principal; its opener finishes it', async () => {
    const job = { configuration: { load: { destinationTable: { projectId: 'demo-project', datasetId: 'upl', tableId: 'resumed' }, sourceFormat: 'CSV', skipLeadingRows: 1, schema: SCHEMA } } };
    const open = await fetch(`${gw.url}/upload/bigquery/v2/projects/demo-project/jobs?uploadType=resumable`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: JSON.stringify(job) });
    const location = open.headers.get('location') ?? '';
    console.log('resumable POST:', open.status, location.replace(/upload_id=.*/, 'upload_id=…'));
    expect(open.status).toBe(200);
    expect(location.startsWith(`${gw.url}/upload/bigquery/v2/projects/demo-project/jobs?`)).toBe(true);
    expect(location).not.toContain(new URL(gw.emulatorUrl).port);
    const bytes = readFileSync(join(work, 'rows.csv'));
    const other = await fetch(location, { method: 'PUT', headers: { authorization: `Bearer ${analyst}` }, body: bytes });
    const otherBody = await other.json();
    console.log('PUT by another principal:', other.status, otherBody.error?.message);
    expect(other.status).toBe(403);
    expect(otherBody.error.errors[0].reason).toBe('accessDenied');
    // A Content-Range that is not one of the resumable forms is refused before anything is forwarded.
    const badRange = await fetch(location, { method: 'PUT', headers: { authorization: `Bearer ${admin}`, 'content-range': 'bytes=0-3' }, body: bytes.subarray(0, 4) });
    const badBody = await badRange.json();
    console.log('PUT with a malformed Content-Range:', badRange.status, badBody.error?.message);
    expect(badRange.status).toBe(400);
    expect(badBody.error.errors[0].reason).toBe('invalid');
    const half = Math.floor(bytes.length / 2);
    const first = await fetch(location, { method: 'PUT', headers: { authorization: `Bearer ${admin}`, 'content-range': `bytes 0-${half - 1}/*` }, body: bytes.subarray(0, half) });
    console.log('first chunk:', first.status, first.headers.get('range'));
    expect(first.status).toBe(308);
    expect(first.headers.get('range')).toBe(`bytes=0-${half - 1}`);
    const last = await fetch(location, { method: 'PUT', headers: { authorization: `Bearer ${admin}`, 'content-range': `bytes ${half}-${bytes.length - 1}/${bytes.length}` }, body: bytes.subarray(half) });
    const done = await last.json();
    console.log('last chunk:', last.status, done.kind, done.jobReference?.jobId, done.status?.state);
    expect(last.status).toBe(200);
    expect(done.kind).toBe('bigquery#job');
    expect(JSON.stringify(done)).not.toMatch(/bqgate_(principal|request|session)|upload_id/);
    expect(await count('demo-project.upl.resumed')).toBe(3);
  }, 120_000);

  it('bounds the resumable sessions one principal may hold open, leaving the others theirs', async () => {
    const job = { configuration: { load: { destinationTable: { projectId: 'demo-project', datasetId: 'upl', tableId: 'many' }, sourceFormat: 'CSV', schema: SCHEMA } } };
    const open = (token: string) => fetch(`${gw.url}/upload/bigquery/v2/projects/demo-project/jobs?uploadType=resumable`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(job) });
    const hoarder = await gw.token({ sub: 'up-hoarder', groups: ['test-admins'] });
    const statuses: number[] = [];
    for (let i = 0; i < 17; i++) statuses.push((await open(hoarder)).status);
    const refused = statuses.findIndex((s) => s !== 200);
    console.log('resumable sessions opened by one principal before a refusal:', refused, 'then', statuses[refused]);
    expect(refused).toBe(16);
    expect(statuses[refused]).toBe(429);
    expect((await open(admin)).status).toBe(200);
  }, 120_000);

  it('refuses an upload above the gateway body limit (declared or sent), and a load job naming sourceUris with its file', async () => {
    const job = { configuration: { load: { destinationTable: { projectId: 'demo-project', datasetId: 'upl', tableId: 'too_big' }, sourceFormat: 'CSV' } } };
    const declared = await fetch(`${gw.url}/upload/bigquery/v2/projects/demo-project/jobs?uploadType=resumable`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json', 'x-upload-content-length': String(64 * 1024 * 1024) }, body: JSON.stringify(job) });
    const declaredBody = await declared.json();
    console.log('resumable POST declaring 64 MiB:', declared.status, declaredBody.error?.message);
    expect(declared.status).toBe(400);
    expect(declaredBody.error.message).toMatch(/limit/);
    const big = Buffer.alloc(11 * 1024 * 1024, 0x61);
    const boundary = 'b0undary';
    const body = Buffer.concat([Buffer.from(`--${boundary}\r\nContent-Type: application/json\r\n\r\n${JSON.stringify(job)}\r\n--${boundary}\r\nContent-Type: text/csv\r\n\r\n`), big, Buffer.from(`\r\n--${boundary}--\r\n`)]);
    // The gateway answers 413 once the limit is passed and may close the connection before the rest is written.
    const sent = await fetch(`${gw.url}/upload/bigquery/v2/projects/demo-project/jobs?uploadType=multipart`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': `multipart/related; boundary=${boundary}` }, body })
      .then((r) => r.status, (e) => String(e.cause?.code ?? e));
    console.log('multipart of', body.length, 'bytes:', sent);
    expect([413, 'EPIPE', 'ECONNRESET']).toContain(sent);
    const uris = await fetch(`${gw.url}/upload/bigquery/v2/projects/demo-project/jobs?uploadType=resumable`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: JSON.stringify({ configuration: { load: { ...job.configuration.load, sourceUris: ['gs://elsewhere/x.csv'] } } }) });
    const urisBody = await uris.json();
    console.log('upload naming sourceUris:', uris.status, urisBody.error?.message);
    expect(uris.status).toBe(400);
    expect(urisBody.error.message).toMatch(/sourceUris/);
    const exists = await gw.sdk(admin).dataset('upl').table('too_big').exists();
    expect(exists[0]).toBe(false);
  }, 120_000);

  it('every upload left request, decision and response events', async () => {
    const recs = (await auditRequests(gw.dataDir)).filter((r: any) => r.operation === 'jobs.upload' || r.operation === 'jobs.uploadChunk');
    console.log('upload audit records:', recs.map((r: any) => `${r.principal} ${r.operation} ${r.decision?.effect} ${r.response?.status}`).join('; '));
    const denied = recs.filter((r: any) => r.principal === 'up-analyst' && r.operation === 'jobs.upload');
    expect(denied.length).toBeGreaterThan(0);
    for (const r of denied) { expect(r.decision?.effect).toBe('deny'); expect(r.response?.status).toBe(403); }
    const allowed = recs.filter((r: any) => r.principal === 'up-admin' && r.operation === 'jobs.upload' && r.response?.status !== 400);
    // Refused before the decision (size, sourceUris): no allow recorded.
    for (const r of recs.filter((x: any) => x.operation === 'jobs.upload' && x.response?.status === 400)) expect(r.decision?.effect).not.toBe('allow');
    expect(allowed.length).toBeGreaterThanOrEqual(3);
    for (const r of allowed) {
      expect(r.decision?.effect).toBe('allow');
      expect(r.decision?.tables?.length).toBeGreaterThan(0);
      for (const t of r.decision!.tables!) expect(t).toMatch(/^demo-project\.upl\./);
      expect(r.response?.status).toBe(200);
    }
    const chunks = recs.filter((x: any) => x.principal === 'up-admin' && x.operation === 'jobs.uploadChunk');
    // A chunk refused before it is forwarded (a malformed Content-Range) records no allow; every other chunk does.
    for (const r of chunks.filter((x: any) => x.response?.status === 400)) expect(r.decision?.effect).not.toBe('allow');
    expect(chunks.filter((x: any) => x.response?.status !== 400).length).toBeGreaterThanOrEqual(2);
    for (const r of chunks.filter((x: any) => x.response?.status !== 400)) expect(r.decision?.effect).toBe('allow');
    expect(recs.some((r: any) => r.principal === 'up-analyst' && r.operation === 'jobs.uploadChunk' && r.response?.status === 403)).toBe(true);
  });
});

describe('extract through the gateway', () => {
  it('bq extract under the admin policy writes into the emulator\'s <dataDir>/gcs', async () => {
    const r = await gw.bq(admin, ['extract', 'demo-project:upl.bq_loaded', 'gs://admin-exports/bq_loaded.csv']);
    console.log('bq extract (admin):', r.code, out(r).trim().slice(-300));
    expect(r.code).toBe(0);
    const file = join(gw.dataDir, 'gcs', 'admin-exports', 'bq_loaded.csv');
    expect(existsSync(file)).toBe(true);
    console.log('extracted file lines:', readFileSync(file, 'utf8').trim().split('\n').length);
    expect(readFileSync(file, 'utf8')).toContain('y,2');
  }, 120_000);
});
