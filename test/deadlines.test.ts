/**
 * End-to-end deadlines (issue 22), through the real SDK against a real gateway whose embedded
 * emulator is made slow (BQGATE_EMULATOR_TEST_SLOW_MS: statements and URLs carrying
 * `bqgate_test_slow` are late): jobs.query honours BigQuery's `timeoutMs` (jobComplete false, the
 * job keeps running and completes through getQueryResults); a results poll the upstream does not
 * answer in time is answered jobComplete false by the gateway; a slow metadata call is cut at the
 * request deadline (BQGATE_DEADLINE_MS) with a BigQuery `timeout` envelope, and the audit log
 * records it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, apiError, auditRequests, type TestGateway } from './helpers/gateway.ts';

const SLOW_MS = 9000;
const WAIT_MS = 1000;
const DEADLINE_MS = 6000;
/** The metadata call made slow: tables.get of a table analysts may read, used by nothing else here. */
const SLOW_TABLE = 'customers';

let gw: TestGateway;
beforeAll(async () => {
  gw = await startGateway({ env: {
    BQGATE_EMULATOR_TEST_SLOW_MS: String(SLOW_MS), BQGATE_EMULATOR_TEST_SLOW_URL: `bqgate_test_slow|/tables/${SLOW_TABLE}\\b`,
    BQGATE_DEFAULT_WAIT_MS: String(WAIT_MS), BQGATE_DEADLINE_MS: String(DEADLINE_MS),
  } });
  // Warm: the analyzer's first statement and the catalog's first reads are slow on a cold process.
  const token = await gw.token({ sub: 'deadline-warm', groups: ['analysts'] });
  await gw.sdk(token).query({ query: 'SELECT order_id FROM shop.orders LIMIT 1', useLegacySql: false });
}, 180_000);
afterAll(async () => { await gw?.stop(); });

const SLOW_SQL = "SELECT 'bqgate_test_slow' AS marker, 42 AS answer";

describe('deadlines', () => {
  it('answers a slow jobs.query jobComplete false at its timeoutMs, then completes it through getQueryResults', async () => {
    const token = await gw.token({ sub: 'deadline-analyst', groups: ['analysts'] });
    const bq = gw.sdk(token);
    // The raw jobs.query (the SDK's query() polls on and hides its first answer).
    const t0 = performance.now();
    const r = await fetch(`${gw.url}/bigquery/v2/projects/demo-project/queries`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ query: SLOW_SQL, useLegacySql: false, timeoutMs: 500 }) });
    const first = { status: r.status, body: await r.json() as any, ms: performance.now() - t0 };
    console.log(`jobs.query timeoutMs=500 against a ${SLOW_MS} ms statement: HTTP ${first.status}, jobComplete ${first.body.jobComplete}, answered in ${Math.round(first.ms)} ms`);
    expect(first.status).toBe(200);
    expect(first.body.jobComplete).toBe(false);
    expect(first.body.jobReference?.jobId).toBeTruthy();
    // The job keeps running; the client polls (the SDK's getQueryResults polls until complete).
    const [rows] = await bq.job(first.body.jobReference.jobId, { location: first.body.jobReference.location }).getQueryResults();
    expect(rows).toEqual([{ marker: 'bqgate_test_slow', answer: 42 }]);
    // The SDK's own query() over the same slow statement completes too.
    const [again] = await bq.query({ query: SLOW_SQL, useLegacySql: false, timeoutMs: 500 } as never);
    expect(again).toEqual([{ marker: 'bqgate_test_slow', answer: 42 }]);
  }, 120_000);

  it('answers a results poll jobComplete false itself when the upstream does not answer within timeoutMs', async () => {
    const token = await gw.token({ sub: 'deadline-poller', groups: ['analysts'] });
    // The caller's job id carries the marker, so every upstream call naming the job is late.
    const jobId = `bqgate_test_slow_${Date.now()}`;
    const ins = await fetch(`${gw.url}/bigquery/v2/projects/demo-project/jobs`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ jobReference: { projectId: 'demo-project', jobId }, configuration: { query: { query: 'SELECT 1 AS one', useLegacySql: false } } }) });
    expect(ins.status).toBe(200);
    const location = ((await ins.json()) as any).jobReference.location;
    const t0 = performance.now();
    const r = await fetch(`${gw.url}/bigquery/v2/projects/demo-project/queries/${jobId}?location=${location}&timeoutMs=300`, { headers: { authorization: `Bearer ${token}` } });
    const body = await r.json() as any;
    console.log(`getQueryResults timeoutMs=300, upstream ${SLOW_MS} ms late: HTTP ${r.status}, jobComplete ${body.jobComplete}, answered in ${Math.round(performance.now() - t0)} ms`);
    expect(r.status).toBe(200);
    expect(body).toMatchObject({ kind: 'bigquery#getQueryResultsResponse', jobComplete: false, jobReference: { projectId: 'demo-project', jobId } });
  }, 60_000);

  it('cuts a slow metadata call at the request deadline with a timeout envelope, and audits it', async () => {
    const token = await gw.token({ sub: 'deadline-meta', groups: ['analysts'] });
    const e = await apiError(gw.sdk(token).dataset('shop').table(SLOW_TABLE).getMetadata());
    if (e.code !== 504) console.log(gw.output().slice(-3000));
    console.log(`tables.get, upstream ${SLOW_MS} ms late, deadline ${DEADLINE_MS} ms: ${e.code} ${e.errors?.[0]?.reason}: ${e.message}`);
    expect(e.code).toBe(504);
    expect(e.errors?.[0]?.reason).toBe('timeout');
    expect(e.message).toContain(`deadline of ${DEADLINE_MS} ms (BQGATE_DEADLINE_MS)`);
    const raw = await fetch(`${gw.url}/bigquery/v2/projects/demo-project/datasets/shop/tables/${SLOW_TABLE}`, { headers: { authorization: `Bearer ${token}` } });
    const env = await raw.json() as any;
    expect(raw.status).toBe(504);
    expect(env.error).toMatchObject({ code: 504, status: 'DEADLINE_EXCEEDED', errors: [{ reason: 'timeout' }] });
    expect(env.error.message).toBe(env.error.errors[0].message);
    // The gateway still serves (the aborted call left nothing behind), and the audit log has both refusals.
    const [tables] = await gw.sdk(token).dataset('shop').getTables();
    expect(tables.length).toBeGreaterThan(0);
    const cut = (await auditRequests(gw.dataDir)).filter((r) => r.principal === 'deadline-meta' && r.response?.errorReason === 'timeout');
    console.log(`audited timeouts: ${cut.length} (${cut.map((r) => `${r.operation} ${r.response?.status}`).join(', ')})`);
    expect(cut.length).toBe(2);
    expect(cut.every((r) => r.response?.status === 504)).toBe(true);
  }, 60_000);
});
