/**
 * The abuse limits held across replicas (issue 22): two real gateway processes on one PostgreSQL
 * (BQGATE_POSTGRES), one principal calling both alternately. The rate limit's 429s start at one
 * limit's count, not twice that; the in-flight cap counts the requests held on both replicas;
 * another principal is unaffected; the in-flight slots of a SIGKILLed replica are reclaimed once
 * their lease lapses (state/pg-limits.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { startReplicas, type ReplicaSet } from './helpers/replicas.ts';
import { psql } from './helpers/postgres.ts';
import { apiError } from './helpers/gateway.ts';

const RATE = 20;
const MAX_IN_FLIGHT = 2;
const LEASE_MS = 5000;

let set: ReplicaSet;
beforeAll(async () => {
  set = await startReplicas(2, { BQGATE_RATE_LIMIT: String(RATE), BQGATE_MAX_CONCURRENT: String(MAX_IN_FLIGHT), BQGATE_INFLIGHT_LEASE_MS: String(LEASE_MS) });
}, 300_000);
afterAll(async () => { await set?.stop(); });

const call = (base: string, token: string, path = '/bigquery/v2/projects/demo-project/datasets', init: RequestInit = {}) =>
  fetch(`${base}${path}`, { ...init, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' } });

/** Unexpired in-flight leases in the shared table. */
const leases = () => Number(psql(set.pg.url, 'SELECT COUNT(*) FROM bqgate_inflight WHERE expires_at > (extract(epoch from clock_timestamp()) * 1000)::bigint').trim());

/** Waits (bounded) until `n` leases are held. */
async function untilLeases(n: number): Promise<void> {
  for (let i = 0; i < 200 && leases() < n; i++) await sleep(50);
  expect(leases()).toBe(n);
}

/** A write parked for approval: polling its results holds the caller's slot while the poll waits. */
async function parkedJob(base: string, token: string): Promise<string> {
  const r = await call(base, token, '/bigquery/v2/projects/demo-project/jobs', { method: 'POST', body: JSON.stringify({ configuration: { query: { query: "UPDATE shop.orders SET status = 'held' WHERE order_id = 9", useLegacySql: false } } }) });
  const job = await r.json() as any;
  expect(job.status?.state, JSON.stringify(job)).toBe('PENDING');
  return job.jobReference.jobId;
}
const holdingPoll = (base: string, token: string, jobId: string) => call(base, token, `/bigquery/v2/projects/demo-project/queries/${jobId}?timeoutMs=8000`);

describe('abuse limits shared by replicas', () => {
  it('refuses a principal past one rate limit counted over both replicas, and not another principal', async () => {
    const [a, b] = set.replicas;
    const noisy = await set.token({ sub: 'shared-rate-noisy', groups: ['analysts'] });
    const statuses: Array<[string, number]> = [];
    let limited: Response | undefined;
    for (let i = 0; i < RATE + 10; i++) {
      const r = await call(i % 2 ? b.url : a.url, noisy);
      statuses.push([i % 2 ? 'b' : 'a', r.status]);
      if (r.status === 429 && !limited) limited = r; else await r.arrayBuffer();
    }
    const ok = statuses.filter(([, s]) => s === 200);
    console.log(`rate ${RATE}/min, ${statuses.length} requests alternating: ${ok.length} answered (a ${ok.filter(([w]) => w === 'a').length}, b ${ok.filter(([w]) => w === 'b').length}), first 429 at request ${statuses.findIndex(([, s]) => s === 429) + 1}`);
    // Per-replica counting would answer all of them (each replica sees RATE/2 + 5 ≤ RATE).
    expect(ok.length).toBe(RATE);
    expect(statuses.slice(RATE).every(([, s]) => s === 429)).toBe(true);
    expect(Number(limited!.headers.get('retry-after'))).toBeGreaterThan(0);
    const body = await limited!.json() as any;
    expect(body.error.errors[0].reason).toBe('rateLimitExceeded');
    expect(body.error.message).toMatch(new RegExp(`more than ${RATE} requests per minute for this principal across the gateway replicas`));
    // The SDK sees the BigQuery error (no retries here).
    const e = await apiError(set.sdk(noisy, b.url, false).getDatasets());
    expect([e.code, e.errors?.[0]?.reason]).toEqual([429, 'rateLimitExceeded']);
    // Another principal has its own window on both replicas.
    const quiet = await set.token({ sub: 'shared-rate-quiet', groups: ['analysts'] });
    const [datasets] = await set.sdk(quiet, a.url, false).getDatasets();
    expect(datasets.length).toBeGreaterThan(0);
    expect((await call(b.url, quiet)).status).toBe(200);
  });

  it('counts requests in flight on both replicas against one cap', async () => {
    const [a, b] = set.replicas;
    const etl = await set.token({ sub: 'shared-cap-etl', groups: ['etl-agents'] });
    const jobId = await parkedJob(a.url, etl);
    await untilLeases(0);
    const held = [holdingPoll(a.url, etl, jobId), holdingPoll(b.url, etl, jobId)];
    await untilLeases(MAX_IN_FLIGHT);
    const refusedA = await call(a.url, etl);
    const refusedB = await call(b.url, etl);
    console.log(`in flight ${MAX_IN_FLIGHT} (one on each replica): a ${refusedA.status}, b ${refusedB.status}; leases ${leases()}`);
    expect([refusedA.status, refusedB.status]).toEqual([429, 429]);
    expect(refusedA.headers.get('retry-after')).toBe('1');
    const body = await refusedB.json() as any;
    expect(body.error.errors[0].reason).toBe('rateLimitExceeded');
    expect(body.error.message).toMatch(new RegExp(`already has ${MAX_IN_FLIGHT} requests in flight across the gateway replicas \\(bqgate BQGATE_MAX_CONCURRENT\\)`));
    // Another principal is served meanwhile, on either replica.
    const other = await set.token({ sub: 'shared-cap-other', groups: ['etl-agents'] });
    expect([(await call(a.url, other)).status, (await call(b.url, other)).status]).toEqual([200, 200]);
    expect((await Promise.all(held)).map((r) => r.status)).toEqual([200, 200]);
    await untilLeases(0); // answered requests give their slots back
    expect((await call(b.url, etl)).status).toBe(200);
  });

  it("reclaims a SIGKILLed replica's in-flight slots once their lease lapses", async () => {
    const [a, b] = set.replicas;
    const etl = await set.token({ sub: 'shared-cap-killed', groups: ['etl-agents'] });
    const jobId = await parkedJob(a.url, etl);
    await untilLeases(0);
    const held = [holdingPoll(b.url, etl, jobId), holdingPoll(b.url, etl, jobId)].map((p) => p.catch((err: Error) => err));
    await untilLeases(MAX_IN_FLIGHT);
    const killedAt = Date.now();
    expect(await b.kill('SIGKILL')).toBeNull();
    // The dead replica's rows are still there and still count.
    const left = Number(psql(set.pg.url, 'SELECT COUNT(*) FROM bqgate_inflight').trim());
    const refused = await call(a.url, etl);
    console.log(`after SIGKILL of b: ${left} lease rows left, a answers ${refused.status}`);
    expect(left).toBe(MAX_IN_FLIGHT);
    expect(refused.status).toBe(429);
    expect(((await refused.json()) as any).error.message).toMatch(/requests in flight across the gateway replicas/);
    // Polled in the table, not with requests (each would count against the rate limit too).
    for (let i = 0; i < 400 && leases() > 0; i++) await sleep(100);
    const reclaimedMs = Date.now() - killedAt;
    const after = await call(a.url, etl);
    console.log(`slots reclaimed ${reclaimedMs} ms after the SIGKILL (lease ${LEASE_MS} ms); a then answers ${after.status}`);
    expect(after.status).toBe(200);
    expect((await Promise.all(held)).every((r) => r instanceof Error)).toBe(true); // the killed replica's callers got no answer
  });
});
