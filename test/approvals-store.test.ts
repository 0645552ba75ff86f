/**
 * The approval rules of src/approvals as plain data, on both state stores (SQLite files and
 * PostgreSQL): N of M distinct approvers, break-glass, expiry, reuse windows, pending approvals
 * surviving a reopen (a gateway restart), and two replicas deciding at once without losing a step.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { ApprovalStore, bindingOf, type Person } from '../src/approvals/index.ts';
import { openState, type State } from '../src/state/index.ts';
import type { ApprovalRequirement } from '../src/policy/index.ts';
import { startPostgres, psql, type TestPostgres } from './helpers/postgres.ts';

let pgServer: TestPostgres;
const opened: State[] = [];
beforeAll(async () => { pgServer = await startPostgres(); }, 120_000);
afterAll(async () => { for (const s of opened) await s.close().catch(() => {}); pgServer?.stop(); });

const person = (subject: string, groups: string[]): Person => ({ subject, issuer: 'http://issuer', groups });
const req = (o: Partial<ApprovalRequirement> = {}): ApprovalRequirement => ({ ruleId: 'r', approverGroups: ['owners'], count: 1, expiresAfterSeconds: 60, reuseSeconds: 0, breakGlassGroups: [], ...o });
const base = (requirements: ApprovalRequirement[]) => ({
  requester: person('agent', ['etl']), projectId: 'p', jobId: 'j', binding: bindingOf('f', [{ name: 'id', parameterValue: { value: '1' } }]), policyVersion: 'v1',
  requirements, sql: 'UPDATE t SET a = 1', upstreamSql: 'UPDATE t SET a = 1', tables: ['p.d.t'], requestId: 'req-1',
});

/** A place for one test's state: a fresh SQLite directory, or a fresh PostgreSQL database. */
const backends = [
  { name: 'SQLite', place: () => ({ dataDir: mkdtempSync(join(tmpdir(), 'bqgate-apr-')) }) },
  {
    name: 'PostgreSQL',
    place: () => {
      const db = `apr_${randomUUID().replace(/-/g, '')}`;
      psql(pgServer.url, `CREATE DATABASE ${db}`);
      return { dataDir: mkdtempSync(join(tmpdir(), 'bqgate-apr-')), postgresUrl: pgServer.url.replace(/\/bqgate$/, `/${db}`) };
    },
  },
];

describe.each(backends)('approval store on $name', ({ place }) => {
  /** A store over a state opened at `where` (a second call with the same place is another replica). */
  const open = async (where: { dataDir: string; postgresUrl?: string }) => {
    const state = await openState(where);
    opened.push(state);
    return { state, store: new ApprovalStore(state.approvals) };
  };

  it('needs N distinct approvers from the groups (N of M)', async () => {
    const { store } = await open(place());
    const r = await store.create(base([req({ count: 2 })]));
    expect((await store.decide(r.id, person('o1', ['owners']), 'approve', undefined)).status).toBe('pending');
    await expect(store.decide(r.id, person('o1', ['owners']), 'approve', undefined)).rejects.toThrow(/distinct approvers/);
    expect((await store.decide(r.id, person('o2', ['owners']), 'approve', 'ok')).status).toBe('approved');
    await expect(store.decide(r.id, person('o3', ['owners']), 'approve', undefined)).rejects.toThrow(/approved; it can no longer be decided/);
    await expect(store.decide('apr_nope', person('o3', ['owners']), 'approve', undefined)).rejects.toThrow(/Not found/);
  });

  it('lets one break-glass member approve, flagged; refuses the requester and outsiders', async () => {
    const { store } = await open(place());
    const r = await store.create(base([req({ count: 2, breakGlassGroups: ['oncall'] })]));
    await expect(store.decide(r.id, person('agent', ['etl', 'owners']), 'approve', undefined)).rejects.toThrow(/nobody approves their own request/);
    await expect(store.decide(r.id, person('x', ['analysts']), 'approve', undefined)).rejects.toThrow(/none of the approver groups/);
    const done = await store.decide(r.id, person('sec', ['oncall']), 'approve', 'incident 7');
    expect(done.status).toBe('approved');
    expect(done.steps[0].breakGlass).toBe(true);
  });

  it('expires a pending approval and survives a reopen', async () => {
    const where = place();
    const first = await open(where);
    const r = await first.store.create(base([req({ expiresAfterSeconds: 1 })]), 1_000);
    await first.state.close();
    const again = (await open(where)).store;
    expect((await again.get(r.id, 1_500))?.status).toBe('pending');
    expect((await again.get(r.id, 2_000))?.status).toBe('expired');
    await expect(again.decide(r.id, person('o', ['owners']), 'approve', undefined, 2_100)).rejects.toThrow(/expired/);
  });

  it('counts what waits now in the store: not the decided, not the expired (marked or not)', async () => {
    const { store } = await open(place());
    const now = Date.now();
    const waiting = await store.create(base([req({ expiresAfterSeconds: 600 })]), now);
    await store.create(base([req({ expiresAfterSeconds: 600 })]), now);
    const decided = await store.create(base([req({ expiresAfterSeconds: 600 })]), now);
    await store.decide(decided.id, person('o', ['owners']), 'deny', 'no', now);
    await store.create(base([req({ expiresAfterSeconds: 1 })]), now - 5_000); // expired, not yet marked
    expect(await store.countPending(now)).toBe(2);
    await store.decide(waiting.id, person('o', ['owners']), 'approve', undefined, now);
    expect(await store.countPending(now)).toBe(1);
  });

  it('counts two approvers deciding at the same moment on two replicas (no lost step)', async () => {
    const where = place();
    const [a, b] = [await open(where), await open(where)];
    for (let i = 0; i < 5; i++) {
      const r = await a.store.create(base([req({ count: 2 })]));
      await Promise.all([a.store.decide(r.id, person('o1', ['owners']), 'approve', undefined), b.store.decide(r.id, person('o2', ['owners']), 'approve', undefined)]);
      const after = await b.store.get(r.id);
      expect(after?.steps.map((s) => s.approver.subject).sort()).toEqual(['o1', 'o2']);
      expect(after?.status).toBe('approved');
    }
  });

  it('reuses only within the window, for the same binding, policy version and at most the approved bytes', async () => {
    const { store } = await open(place());
    const single = await store.create(base([req()]), 0);
    await store.decide(single.id, person('o', ['owners']), 'approve', undefined, 10);
    expect(await store.reuse(person('agent', ['etl']), single.binding, 'v1', undefined, 20)).toBeUndefined(); // single-use
    const reusable = await store.create({ ...base([req({ reuseSeconds: 60 })]), bytesEstimate: 100 }, 0);
    await store.decide(reusable.id, person('o', ['owners']), 'approve', undefined, 10);
    const who = person('agent', ['etl']);
    expect((await store.reuse(who, reusable.binding, 'v1', 100, 20))?.id).toBe(reusable.id);
    expect((await store.get(reusable.id))?.used).toBe(1);
    expect(await store.reuse(who, reusable.binding, 'v2', 100, 20)).toBeUndefined(); // other policy version
    expect(await store.reuse(who, reusable.binding, 'v1', 101, 20)).toBeUndefined(); // more bytes than approved
    expect(await store.reuse(who, bindingOf('f', [{ name: 'id', parameterValue: { value: '2' } }]), 'v1', 100, 20)).toBeUndefined(); // other parameters
    expect(await store.reuse(person('other', ['etl']), reusable.binding, 'v1', 100, 20)).toBeUndefined(); // other principal
    expect(await store.reuse(who, reusable.binding, 'v1', 100, 61_000)).toBeUndefined(); // window over
  });
});
