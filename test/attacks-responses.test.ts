/**
 * Security findings about what the gateway's responses carry and which caller inputs reach the
 * upstream, each reproduced through the real `bq` CLI, the real SDK or plain REST against a real
 * gateway process (demo policy plus one RANDOM_HASH rule):
 *
 * 1. internals in responses (rewritten SQL: HMAC pads, RANDOM_HASH salts, row filters);
 * 2. the row cap bypassed with a negative startIndex, and other unvalidated numbers / page tokens;
 * 3. labels in the gateway's own `bqgate_` namespace set by the caller;
 * 4. requestId / jobId replay across principals;
 * 5. a view's schema listing a column the caller is denied.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startGateway, auditRequests, apiError, type TestGateway } from './helpers/gateway.ts';
import { hmacPads } from './helpers/response-check.ts';

let gw: TestGateway;
let analyst: string;
let analyst2: string;
let euSupport: string;
let hasher: string;
let pads: { ipad: string; opad: string };

const EXTRA_POLICY = `version: 1
rules:
  - id: hashers-read-customers
    effect: allow
    principals: { groups: [hashers] }
    verbs: [SELECT]
    tables: ["demo-project.shop.customers", "demo-project.shop.customer_contacts"]
  - id: hashers-all-rows
    effect: filter
    principals: { groups: [hashers] }
    tables: ["demo-project.shop.customers"]
    filter: "TRUE"
  - id: hashers-mask
    effect: mask
    principals: { groups: [hashers] }
    masks:
      - { column: demo-project.shop.customers.email, rule: RANDOM_HASH }
      - { column: demo-project.shop.customers.phone, rule: HMAC_SHA256 }
      - { column: demo-project.shop.customers.ssn, rule: ALWAYS_NULL }
`;

beforeAll(async () => {
  const policies = mkdtempSync(join(tmpdir(), 'bqgate-policies-'));
  copyFileSync(resolve(import.meta.dirname, '..', 'policies', 'demo.yaml'), join(policies, 'demo.yaml'));
  copyFileSync(resolve(import.meta.dirname, '..', 'policies', 'policy.schema.json'), join(policies, 'policy.schema.json'));
  writeFileSync(join(policies, 'extra.yaml'), EXTRA_POLICY);
  gw = await startGateway({ env: { BQGATE_POLICIES: policies } });
  analyst = await gw.token({ sub: 'resp-analyst', groups: ['analysts'] });
  analyst2 = await gw.token({ sub: 'resp-analyst-2', groups: ['analysts'] });
  euSupport = await gw.token({ sub: 'resp-eu', groups: ['eu-support'] });
  hasher = await gw.token({ sub: 'resp-hasher', groups: ['hashers'] });
  pads = hmacPads(readFileSync(join(gw.dataDir, 'keys', 'hmac.key'), 'utf8').trim());
}, 180_000);
afterAll(async () => { await gw?.stop(); });

/** One REST call to the gateway (relative to /bigquery/v2/projects/demo-project). */
async function call(token: string, method: string, path: string, body?: unknown) {
  const r = await fetch(`${gw.url}/bigquery/v2/projects/demo-project${path}`, {
    method, headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  const text = await r.text();
  return { status: r.status, text, body: JSON.parse(text) as any };
}

/** Gateway internals a response text must not hold. */
function internals(text: string): string[] {
  const found: string[] = [];
  if (text.includes(pads.ipad)) found.push('HMAC inner pad');
  if (text.includes(pads.opad)) found.push('HMAC outer pad');
  if (/FROM_HEX/i.test(text)) found.push('FROM_HEX literal');
  if (text.includes("country IN ('DE'")) found.push('row filter');
  return found;
}

/** The upstream (emulator) job behind the caller's latest jobs.insert / jobs.query, from the audit log. */
async function upstreamJob(sub: string, op: 'jobs.insert' | 'jobs.query') {
  const rec = (await auditRequests(gw.dataDir)).filter((r) => r.principal === sub && r.operation === op && r.upstream?.jobId).at(-1);
  const [meta] = await gw.emulatorSdk().job(rec!.upstream!.jobId!).getMetadata();
  return meta;
}

describe('1. responses carry the caller\'s SQL only, never the rewritten one', () => {
  it('jobs.query dry run (REST): no HMAC pads, no FROM_HEX, the caller\'s own text', async () => {
    const sql = 'SELECT customer_id, phone FROM shop.customers';
    const r = await call(analyst, 'POST', '/queries', { query: sql, useLegacySql: false, dryRun: true });
    expect(r.status).toBe(200);
    expect(internals(r.text)).toEqual([]);
    expect(r.body.totalBytesProcessed).toBeDefined();
    expect(r.body.jobComplete).toBe(true);
    if (r.body.configuration) expect(r.body.configuration.query.query).toBe(sql);
  });

  it('jobs.query dry run: no RANDOM_HASH salt', async () => {
    const r = await call(hasher, 'POST', '/queries', { query: 'SELECT email FROM shop.customers', useLegacySql: false, dryRun: true });
    expect(r.status).toBe(200);
    expect(internals(r.text)).toEqual([]);
  });

  it('jobs.query dry run: no row-filter predicate', async () => {
    const r = await call(euSupport, 'POST', '/queries', { query: 'SELECT customer_id FROM shop.customers', useLegacySql: false, dryRun: true });
    expect(r.status).toBe(200);
    expect(internals(r.text)).toEqual([]);
  });

  it('bq query --dry_run --format=prettyjson and bq --rpc --dry_run print no internals', async () => {
    const a = await gw.bq(hasher, ['query', '--nouse_legacy_sql', '--dry_run', '--format=prettyjson', 'SELECT email, phone FROM shop.customers']);
    expect(a.code, a.stderr + a.stdout).toBe(0);
    expect(internals(a.stdout)).toEqual([]);
    expect(JSON.parse(a.stdout).configuration.query.query).toBe('SELECT email, phone FROM shop.customers');
    const b = await gw.bq(euSupport, ['query', '--rpc', '--nouse_legacy_sql', '--dry_run', 'SELECT customer_id FROM shop.customers']);
    expect(b.code, b.stderr + b.stdout).toBe(0);
    expect(b.stdout).toContain('Query successfully validated');
  });

  it('jobs.get, jobs.list, jobs.cancel and getQueryResults of masked jobs (SDK, REST): allowlisted fields, the caller\'s SQL', async () => {
    const sql = 'SELECT email, phone FROM shop.customers ORDER BY customer_id LIMIT 3';
    const [job] = await gw.sdk(hasher).createQueryJob({ query: sql, useLegacySql: false });
    const [rows] = await job.getQueryResults();
    expect(rows).toHaveLength(3);
    const [meta] = await job.getMetadata();
    expect(meta.configuration.query.query).toBe(sql);
    // The upstream's anonymous result table stays inside; the caller sees the name it reads its results by (Storage Read API).
    expect(meta.configuration.query.destinationTable).toEqual({ projectId: 'demo-project', datasetId: '_bqgate_results', tableId: job.id });
    const up = await upstreamJob('resp-hasher', 'jobs.insert');
    expect(up.configuration.query.destinationTable?.datasetId, 'the emulator names an anonymous result table').toMatch(/^_/);
    expect(JSON.stringify(meta)).not.toContain(up.configuration.query.destinationTable.datasetId);
    expect(meta.jobReference.jobId).toBe(job.id);
    expect(meta.statistics.query.statementType).toBe('SELECT');
    for (const path of [`/jobs/${job.id}`, `/queries/${job.id}`, '/jobs']) {
      const r = await call(hasher, 'GET', path);
      expect(r.status).toBe(200);
      expect(internals(r.text)).toEqual([]);
    }
    const c = await call(hasher, 'POST', `/jobs/${job.id}/cancel`);
    expect(c.status).toBe(200);
    expect(internals(c.text)).toEqual([]);
    expect(c.body.job.configuration.query.query).toBe(sql);
  });

  it('bq show -j and bq ls -j show the caller\'s SQL only', async () => {
    const q = await gw.bq(euSupport, ['query', '--nouse_legacy_sql', '--format=json', 'SELECT customer_id FROM shop.customers LIMIT 2']);
    expect(q.code, q.stderr + q.stdout).toBe(0);
    const ls = await gw.bq(euSupport, ['ls', '-j', '--format=prettyjson']);
    expect(ls.code, ls.stderr).toBe(0);
    expect(internals(ls.stdout)).toEqual([]);
    const id = JSON.parse(ls.stdout)[0].jobReference.jobId;
    const show = await gw.bq(euSupport, ['show', '--format=prettyjson', '-j', id]);
    expect(show.code, show.stderr).toBe(0);
    expect(internals(show.stdout)).toEqual([]);
    expect(JSON.parse(show.stdout).configuration.query.query).toBe('SELECT customer_id FROM shop.customers LIMIT 2');
  });
});

describe('2. numbers and page tokens are validated', () => {
  it('getQueryResults?startIndex=-50000&maxResults=100000 is refused (it returned 50,000 rows past the 5,000-row cap)', async () => {
    const q = await call(analyst, 'POST', '/queries', { query: 'SELECT order_id FROM shop.orders', useLegacySql: false, maxResults: 10 });
    expect(q.status).toBe(200);
    const job = q.body.jobReference.jobId;
    const r = await call(analyst, 'GET', `/queries/${job}?startIndex=-50000&maxResults=100000`);
    expect(r.body.rows?.length ?? 0).toBeLessThanOrEqual(5000);
    expect(r.status).toBe(400);
    expect(r.body.error.errors[0].reason).toBe('invalid');
    expect(r.body.error.message).toContain('startIndex');
  });

  it('refuses out-of-range and non-integer numbers in query strings, naming the parameter', async () => {
    const q = await call(analyst, 'POST', '/queries', { query: 'SELECT order_id FROM shop.orders LIMIT 10', useLegacySql: false });
    const job = q.body.jobReference.jobId;
    for (const [path, name] of [
      [`/queries/${job}?maxResults=-1`, 'maxResults'],
      [`/queries/${job}?maxResults=4294967296`, 'maxResults'],
      [`/queries/${job}?timeoutMs=abc`, 'timeoutMs'],
      [`/queries/${job}?startIndex=1.5`, 'startIndex'],
      ['/datasets/shop/tables/orders/data?startIndex=-5', 'startIndex'],
      ['/datasets/shop/tables/orders/data?maxResults=1e3', 'maxResults'],
      ['/jobs?maxResults=-3', 'maxResults'],
      ['/datasets?maxResults=x', 'maxResults'],
      ['/datasets/shop/tables?maxResults=-1', 'maxResults'],
    ] as const) {
      const r = await call(analyst, 'GET', path);
      expect(r.status, path).toBe(400);
      expect(r.body.error.errors[0].reason, path).toBe('invalid');
      expect(r.body.error.message, path).toContain(name);
    }
  });

  it('refuses bad numbers in request bodies (jobs.query maxResults/timeoutMs, jobs.insert maximumBytesBilled)', async () => {
    for (const [body, name] of [
      [{ query: 'SELECT 1', useLegacySql: false, maxResults: -100 }, 'maxResults'],
      [{ query: 'SELECT 1', useLegacySql: false, timeoutMs: 'soon' }, 'timeoutMs'],
      [{ query: 'SELECT 1', useLegacySql: false, maximumBytesBilled: 'lots' }, 'maximumBytesBilled'],
    ] as const) {
      const r = await call(analyst, 'POST', '/queries', body);
      expect(r.status, name).toBe(400);
      expect(r.body.error.message).toContain(name);
    }
    const r = await call(analyst, 'POST', '/jobs', { configuration: { query: { query: 'SELECT 1', useLegacySql: false, maximumBytesBilled: '-1x' } } });
    expect(r.status).toBe(400);
    expect(r.body.error.message).toContain('maximumBytesBilled');
  });

  it('refuses page tokens the gateway did not hand out (tabledata.list of a masked table, getQueryResults, jobs.list)', async () => {
    const forged = Buffer.from('row:4990').toString('base64url');
    const t = await call(analyst, 'GET', `/datasets/shop/tables/customers/data?maxResults=5&pageToken=${forged}`);
    expect(t.status).toBe(400);
    expect(t.body.error.message).toContain('pageToken');
    const q = await call(analyst, 'POST', '/queries', { query: 'SELECT order_id FROM shop.orders LIMIT 20', useLegacySql: false });
    const g = await call(analyst, 'GET', `/queries/${q.body.jobReference.jobId}?pageToken=${forged}`);
    expect(g.status).toBe(400);
    const l = await call(analyst, 'GET', `/jobs?pageToken=${Buffer.from('-5').toString('base64url')}`);
    expect(l.status).toBe(400);
    expect(l.body.error.message).toContain('pageToken');
  });

  it('real clients still page: SDK getRows of a masked table and bq head follow the gateway\'s tokens', async () => {
    const [rows] = await gw.sdk(analyst).dataset('shop').table('customers').getRows({ maxResults: 7 });
    expect(rows.length).toBe(7);
    const pages: number[] = [];
    let next: any = { maxResults: 3, autoPaginate: false };
    for (let i = 0; i < 3 && next; i++) { const [r, n] = await gw.sdk(analyst).dataset('shop').table('customers').getRows(next); pages.push(r.length); next = n; }
    expect(pages).toEqual([3, 3, 3]);
    const head = await gw.bq(analyst, ['--max_rows_per_request=4', 'head', '-n', '10', '--format=json', 'shop.customers']);
    expect(head.code, head.stderr + head.stdout).toBe(0);
    expect(JSON.parse(head.stdout)).toHaveLength(10);
  });
});

describe('3. the bqgate_ label namespace belongs to the gateway', () => {
  it('drops caller labels named bqgate_* (SDK createQueryJob): the upstream job carries the gateway\'s only', async () => {
    const [job] = await gw.sdk(analyst).createQueryJob({ query: 'SELECT 1 AS x', useLegacySql: false, labels: { bqgate_actor: 'ceo-bot', bqgate_principal: 'someone-else', team: 'bi' } });
    await job.getQueryResults();
    const up = await upstreamJob('resp-analyst', 'jobs.insert');
    expect(up.configuration.labels.team).toBe('bi');
    expect(up.configuration.labels.bqgate_actor).toBeUndefined();
    expect(up.configuration.labels.bqgate_principal).toBe('resp-analyst');
  });

  it('drops them on jobs.query too, also in another case (REST)', async () => {
    const r = await call(analyst, 'POST', '/queries', { query: 'SELECT 2 AS x', useLegacySql: false, labels: { bqgate_actor: 'ceo-bot', 'bqgate_request': 'forged' } });
    expect(r.status).toBe(200);
    const up = await upstreamJob('resp-analyst', 'jobs.query');
    expect(up.configuration.labels.bqgate_actor).toBeUndefined();
    expect(up.configuration.labels.bqgate_request).not.toBe('forged');
  });

  it('refuses labels that break BigQuery\'s rules (uppercase, too long, too many), naming the rule', async () => {
    const many = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v']));
    for (const labels of [{ Team: 'x' }, { team: 'X' }, { ['k'.repeat(64)]: 'v' }, { team: 'v'.repeat(64) }, many, { '1team': 'x' }, { team: 5 }, { BQGATE_ACTOR: 'ceo-bot' }]) {
      const r = await call(analyst, 'POST', '/queries', { query: 'SELECT 1', useLegacySql: false, labels });
      expect(r.status, JSON.stringify(labels).slice(0, 60)).toBe(400);
      expect(r.body.error.errors[0].reason).toBe('invalid');
      expect(r.body.error.message).toContain('label');
    }
  });
});

describe('4. requestId and jobId are the caller\'s own', () => {
  it('another principal reusing a requestId gets its own job, never the first one\'s or its id', async () => {
    const requestId = 'a5b4c3d2-0000-4000-8000-000000000001';
    const a = await call(analyst, 'POST', '/queries', { query: 'SELECT 111 AS x', useLegacySql: false, requestId });
    expect(a.status).toBe(200);
    const aJob = a.body.jobReference.jobId;
    const b = await call(analyst2, 'POST', '/queries', { query: 'SELECT 222 AS x', useLegacySql: false, requestId });
    expect(b.text).not.toContain(aJob);
    expect(b.status).toBe(200);
    expect(b.body.rows[0].f[0].v).toBe('222');
    // The first caller's retry is still idempotent.
    const again = await call(analyst, 'POST', '/queries', { query: 'SELECT 111 AS x', useLegacySql: false, requestId });
    expect(again.body.jobReference.jobId).toBe(aJob);
    expect(again.body.rows[0].f[0].v).toBe('111');
  });

  it('the requestId reaches the upstream namespaced per principal', async () => {
    const requestId = 'a5b4c3d2-0000-4000-8000-000000000002';
    await call(analyst, 'POST', '/queries', { query: 'SELECT 3 AS x', useLegacySql: false, requestId });
    const up = await upstreamJob('resp-analyst', 'jobs.query');
    expect(up.jobReference).toBeDefined();
    const r = await call(analyst, 'POST', '/queries', { query: 'SELECT 1', useLegacySql: false, requestId: 'x'.repeat(37) });
    expect(r.status).toBe(400);
    expect(r.body.error.message).toContain('requestId');
  });

  it('two principals may use the same jobId (bq --job_id, REST): each sees its own job under that id', async () => {
    const jobId = 'shared_job_id_1';
    const a = await call(analyst, 'POST', '/jobs', { jobReference: { projectId: 'demo-project', jobId }, configuration: { query: { query: 'SELECT 7 AS x', useLegacySql: false } } });
    expect(a.status).toBe(200);
    expect(a.body.jobReference.jobId).toBe(jobId);
    const b = await gw.bq(analyst2, ['query', '--nouse_legacy_sql', `--job_id=${jobId}`, '--format=json', 'SELECT 8 AS x']);
    expect(b.code, b.stderr + b.stdout).toBe(0);
    expect(JSON.parse(b.stdout)).toEqual([{ x: '8' }]);
    const ra = await call(analyst, 'GET', `/queries/${jobId}`);
    expect(ra.body.rows[0].f[0].v).toBe('7');
    expect(ra.body.jobReference.jobId).toBe(jobId);
    const rb = await call(analyst2, 'GET', `/jobs/${jobId}`);
    expect(rb.body.jobReference.jobId).toBe(jobId);
    expect(rb.body.configuration.query.query).toBe('SELECT 8 AS x');
    // The caller's own repeated insert: BigQuery's 409, naming only the caller's id.
    const dup = await call(analyst, 'POST', '/jobs', { jobReference: { projectId: 'demo-project', jobId }, configuration: { query: { query: 'SELECT 7 AS x', useLegacySql: false } } });
    expect(dup.status).toBe(409);
    expect(dup.body.error.message).toBe(`Already Exists: Job demo-project:US.${jobId}`);
    const bad = await call(analyst, 'POST', '/jobs', { jobReference: { projectId: 'demo-project', jobId: 'no spaces!' }, configuration: { query: { query: 'SELECT 1', useLegacySql: false } } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toContain('jobId');
  });
});

describe('5. a view\'s schema follows its lineage', () => {
  it('bq show --schema of a view over customers hides ssn from analysts', async () => {
    const r = await gw.bq(analyst, ['show', '--schema', '--format=json', 'demo-project:shop.customer_contacts']);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const names = JSON.parse(r.stdout).map((f: any) => f.name);
    expect(names).not.toContain('ssn');
    expect(names).toEqual(expect.arrayContaining(['customer_id', 'email', 'phone', 'country']));
  });

  it('SDK getMetadata of the view: masked columns are described as masked', async () => {
    const [meta] = await gw.sdk(analyst).dataset('shop').table('customer_contacts').getMetadata();
    const fields = Object.fromEntries(meta.schema.fields.map((f: any) => [f.name, f]));
    expect(fields.ssn).toBeUndefined();
    expect(fields.email.description).toContain('EMAIL_MASK');
    expect(fields.phone.description).toContain('HMAC_SHA256');
    expect(fields.customer_id.description ?? '').not.toContain('masked');
    expect(meta.type).toBe('VIEW');
  });

  it('a principal for whom ssn is only masked sees it, described as masked', async () => {
    const [meta] = await gw.sdk(hasher).dataset('shop').table('customer_contacts').getMetadata();
    expect(meta.schema.fields.find((f: any) => f.name === 'ssn')?.description).toContain('ALWAYS_NULL');
    expect(meta.schema.fields.find((f: any) => f.name === 'email')?.description).toContain('RANDOM_HASH');
    // support may not read the view (no rule covers it): refused rather than shown.
    const support = await gw.token({ sub: 'resp-support', groups: ['support'] });
    expect((await apiError(gw.sdk(support).dataset('shop').table('customer_contacts').getMetadata())).code).toBe(403);
  });
});
