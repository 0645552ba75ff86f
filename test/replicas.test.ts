/**
 * Two gateway replicas sharing PostgreSQL (jobs, approvals, row-cap page tokens, audit) behind a
 * load balancer, through the real SDK: any replica answers any poll of any job; an approval asked
 * on one replica is decided on the other and the job completes; a row-capped job's next page is
 * served by the other replica; one principal's job stays invisible to another on every replica.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startReplicas, type ReplicaSet } from './helpers/replicas.ts';
import { apiError } from './helpers/gateway.ts';

let set: ReplicaSet;
beforeAll(async () => { set = await startReplicas(2); }, 240_000);
afterAll(async () => { await set?.stop(); });


describe('replicas sharing PostgreSQL', () => {
  it('answers getQueryResults and jobs.get of a job created on the other replica, to its owner only', async () => {
    const [a, b] = set.replicas;
    const token = await set.token({ sub: 'replica-analyst', groups: ['analysts'] });
    const [job] = await set.sdk(token, a.url, false).createQueryJob({ query: 'SELECT order_id, amount FROM shop.orders ORDER BY order_id LIMIT 4', useLegacySql: false });
    const onB = set.sdk(token, b.url, false).job(job.id!, { location: job.location });
    const [rows] = await onB.getQueryResults();
    expect(rows.map((r: any) => r.order_id)).toEqual([1, 2, 3, 4]);
    const [meta] = await onB.getMetadata();
    expect(meta.status.state).toBe('DONE');
    const stranger = await set.token({ sub: 'replica-stranger', groups: ['analysts'] });
    const e = await apiError(set.sdk(stranger, b.url, false).job(job.id!, { location: job.location }).getMetadata());
    expect(e.code).toBe(404);
  });

  it('lets an approver on one replica release a write parked on the other', async () => {
    const [a, b] = set.replicas;
    const etl = await set.token({ sub: 'replica-etl', groups: ['etl-agents'] });
    const owner = await set.token({ sub: 'replica-owner', groups: ['data-owners'] });
    const [job] = await set.sdk(etl, a.url, false).createQueryJob({ query: "UPDATE shop.orders SET status = 'replica-approved' WHERE order_id = 21", useLegacySql: false });
    expect(job.metadata.status.state).toBe('PENDING');
    let apr: any;
    for (let i = 0; i < 100 && !apr; i++) {
      const r = await fetch(`${b.url}/bqgate/v1/approvals?status=pending`, { headers: { authorization: `Bearer ${owner}` } });
      apr = ((await r.json()) as any).approvals.find((x: any) => x.jobId === job.id);
      if (!apr) await new Promise((r) => setTimeout(r, 100));
    }
    expect(apr).toBeDefined();
    const decided = await fetch(`${b.url}/bqgate/v1/approvals/${apr.id}/approve`, { method: 'POST', headers: { authorization: `Bearer ${owner}`, 'content-type': 'application/json' }, body: '{"comment":"ok from b"}' });
    expect(decided.status).toBe(200);
    // The requester polls replica A; the job ran once.
    await set.sdk(etl, a.url, false).job(job.id!, { location: job.location }).getQueryResults();
    const [meta] = await set.sdk(etl, a.url, false).job(job.id!, { location: job.location }).getMetadata();
    expect(meta.status.state).toBe('DONE');
    expect(meta.statistics.query.numDmlAffectedRows).toBe('1');
  });

  it("serves a row-capped job's next page on the other replica (page tokens are shared)", async () => {
    const [a, b] = set.replicas;
    const token = await set.token({ sub: 'replica-pager', groups: ['analysts'] });
    const [job] = await set.sdk(token, a.url, false).createQueryJob({ query: 'SELECT order_id FROM shop.orders ORDER BY order_id LIMIT 10', useLegacySql: false });
    const [first, next] = await set.sdk(token, a.url, false).job(job.id!, { location: job.location }).getQueryResults({ maxResults: 4, autoPaginate: false });
    expect(first.map((r: any) => r.order_id)).toEqual([1, 2, 3, 4]);
    expect(next?.pageToken).toBeTruthy();
    const [second] = await set.sdk(token, b.url, false).job(job.id!, { location: job.location }).getQueryResults({ maxResults: 4, pageToken: next!.pageToken, autoPaginate: false });
    expect(second.map((r: any) => r.order_id)).toEqual([5, 6, 7, 8]);
  });
});
