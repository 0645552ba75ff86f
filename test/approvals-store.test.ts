/**
 * The approval rules of src/approvals as plain data: N of M distinct approvers, break-glass,
 * expiry, reuse windows, and pending approvals surviving a reopen (a gateway restart).
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApprovalStore, bindingOf, type Person } from '../src/approvals/index.ts';
import type { ApprovalRequirement } from '../src/policy/index.ts';

const person = (subject: string, groups: string[]): Person => ({ subject, issuer: 'http://issuer', groups });
const req = (o: Partial<ApprovalRequirement> = {}): ApprovalRequirement => ({ ruleId: 'r', approverGroups: ['owners'], count: 1, expiresAfterSeconds: 60, reuseSeconds: 0, breakGlassGroups: [], ...o });
const fresh = (dir = mkdtempSync(join(tmpdir(), 'bqgate-apr-'))) => ({ dir, store: new ApprovalStore(dir) });
const base = (requirements: ApprovalRequirement[]) => ({
  requester: person('agent', ['etl']), projectId: 'p', jobId: 'j', binding: bindingOf('f', [{ name: 'id', parameterValue: { value: '1' } }]), policyVersion: 'v1',
  requirements, sql: 'UPDATE t SET a = 1', upstreamSql: 'UPDATE t SET a = 1', tables: ['p.d.t'], requestId: 'req-1',
});

describe('approval store', () => {
  it('needs N distinct approvers from the groups (N of M)', () => {
    const { store } = fresh();
    const r = store.create(base([req({ count: 2 })]));
    expect(store.decide(r.id, person('o1', ['owners']), 'approve', undefined).status).toBe('pending');
    expect(() => store.decide(r.id, person('o1', ['owners']), 'approve', undefined)).toThrow(/distinct approvers/);
    expect(store.decide(r.id, person('o2', ['owners']), 'approve', 'ok').status).toBe('approved');
    expect(() => store.decide(r.id, person('o3', ['owners']), 'approve', undefined)).toThrow(/approved; it can no longer be decided/);
  });

  it('lets one break-glass member approve, flagged; refuses the requester and outsiders', () => {
    const { store } = fresh();
    const r = store.create(base([req({ count: 2, breakGlassGroups: ['oncall'] })]));
    expect(() => store.decide(r.id, person('agent', ['etl', 'owners']), 'approve', undefined)).toThrow(/nobody approves their own request/);
    expect(() => store.decide(r.id, person('x', ['analysts']), 'approve', undefined)).toThrow(/none of the approver groups/);
    const done = store.decide(r.id, person('sec', ['oncall']), 'approve', 'incident 7');
    expect(done.status).toBe('approved');
    expect(done.steps[0].breakGlass).toBe(true);
  });

  it('expires a pending approval and survives a reopen', () => {
    const { dir, store } = fresh();
    const r = store.create(base([req({ expiresAfterSeconds: 1 })]), 1_000);
    store.close();
    const again = new ApprovalStore(dir);
    expect(again.get(r.id, 1_500)?.status).toBe('pending');
    expect(again.get(r.id, 2_000)?.status).toBe('expired');
    expect(() => again.decide(r.id, person('o', ['owners']), 'approve', undefined, 2_100)).toThrow(/expired/);
  });

  it('reuses only within the window, for the same binding, policy version and at most the approved bytes', () => {
    const { store } = fresh();
    const single = store.create(base([req()]), 0);
    store.decide(single.id, person('o', ['owners']), 'approve', undefined, 10);
    expect(store.reuse(person('agent', ['etl']), single.binding, 'v1', undefined, 20)).toBeUndefined(); // single-use
    const reusable = store.create({ ...base([req({ reuseSeconds: 60 })]), bytesEstimate: 100 }, 0);
    store.decide(reusable.id, person('o', ['owners']), 'approve', undefined, 10);
    const who = person('agent', ['etl']);
    expect(store.reuse(who, reusable.binding, 'v1', 100, 20)?.id).toBe(reusable.id);
    expect(store.reuse(who, reusable.binding, 'v2', 100, 20)).toBeUndefined(); // other policy version
    expect(store.reuse(who, reusable.binding, 'v1', 101, 20)).toBeUndefined(); // more bytes than approved
    expect(store.reuse(who, bindingOf('f', [{ name: 'id', parameterValue: { value: '2' } }]), 'v1', 100, 20)).toBeUndefined(); // other parameters
    expect(store.reuse(person('other', ['etl']), reusable.binding, 'v1', 100, 20)).toBeUndefined(); // other principal
    expect(store.reuse(who, reusable.binding, 'v1', 100, 61_000)).toBeUndefined(); // window over
  });
});
