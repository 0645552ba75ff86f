/**
 * Faults a production gateway survives (issue 10), with the real SDK against real processes:
 * PostgreSQL (jobs, approvals and audit) stopped and started again — requests fail closed with a
 * clear error, readiness names what is down, and service resumes without a gateway restart; and a
 * SIGTERM while a long poll is in flight — the poll is answered and audited, new connections are
 * refused, the process exits 0.
 */
import { describe, expect, it } from 'vitest';
import { startGateway, auditRequests, apiError } from './helpers/gateway.ts';
import { startPostgres } from './helpers/postgres.ts';


describe('PostgreSQL stopped and started again', () => {
  it('fails closed while it is down and recovers without a gateway restart', async () => {
    const pg = await startPostgres();
    const gw = await startGateway({ env: { BQGATE_POSTGRES: pg.url } });
    try {
      const token = await gw.token({ sub: 'fault-agent', groups: ['analysts'] });
      const sdk = gw.sdk(token);
      const [job] = await sdk.createQueryJob({ query: 'SELECT 1 AS x', useLegacySql: false });
      await job.getQueryResults();
      pg.pause();
      const upstreamJobs = async () => (await gw.emulatorSdk().getJobs())[0].length;
      const before = await upstreamJobs();
      for (const call of [() => sdk.query({ query: 'SELECT 2 AS x', useLegacySql: false }), () => sdk.createQueryJob({ query: 'SELECT 3 AS x', useLegacySql: false }), () => job.getQueryResults()]) {
        const e = await apiError(call());
        expect(e.code).toBe(503);
        expect(e.errors?.[0].reason).toBe('backendError');
        expect(e.message).toMatch(/cannot be (written|reached).*fail closed/);
      }
      expect(await upstreamJobs()).toBe(before);
      const ready = await fetch(`${gw.url}/readyz`);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toMatchObject({ store: 'down', audit: 'down', zetasql: 'ready' });

      pg.resume();
      let rows: unknown[] = [];
      for (let i = 0; i < 50 && !rows.length; i++) {
        rows = await sdk.query({ query: 'SELECT 4 AS x', useLegacySql: false }).then(([r]) => r, () => []);
        if (!rows.length) await new Promise((r) => setTimeout(r, 200));
      }
      expect(rows).toEqual([{ x: 4 }]);
      expect((await fetch(`${gw.url}/readyz`)).status).toBe(200);
      const [again] = await job.getQueryResults();
      expect(again).toEqual([{ x: 1 }]);
    } finally {
      await gw.stop();
      pg.stop();
    }
  }, 180_000);
});

describe('graceful shutdown', () => {
  it('answers and audits the poll in flight at SIGTERM, then refuses new connections and exits 0', async () => {
    const gw = await startGateway();
    const etl = await gw.token({ sub: 'drain-etl', groups: ['etl-agents'] });
    // A write parked for approval: its getQueryResults long-polls for the whole timeoutMs.
    const [job] = await gw.sdk(etl).createQueryJob({ query: "UPDATE shop.orders SET status = 'drain' WHERE order_id = 5", useLegacySql: false });
    const url = `${gw.url}/bigquery/v2/projects/demo-project/queries/${job.id}?location=${job.location}&timeoutMs=3000`;
    const started = Date.now();
    const poll = fetch(url, { headers: { authorization: `Bearer ${etl}` } });
    await new Promise((r) => setTimeout(r, 700));
    const exit = gw.kill('SIGTERM');
    const res = await poll;
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ jobComplete: false, jobReference: { jobId: job.id } });
    expect(Date.now() - started).toBeGreaterThanOrEqual(2500); // it was allowed to finish its wait
    expect(await exit).toBe(0);
    await expect(fetch(`${gw.url}/readyz`)).rejects.toThrow();
    const polls = (await auditRequests(gw.dataDir)).filter((r) => r.operation === 'jobs.getQueryResults' && r.upstream?.jobId === gw.upstreamJobId('drain-etl', job.id!));
    expect(polls.map((p) => p.response?.status)).toEqual([200]);
  }, 120_000);
});
