/**
 * Tooling for data teams: `bqgate policy lint | test | explain` as real processes, and hot reload.
 */
import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, writeFileSync, readFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PolicyStore } from '../src/policy/store.ts';
import { lintPolicies } from '../src/policy/lint.ts';
import { OFFLINE_ENV } from './helpers/gateway.ts';

const run = async (args: string[]) => {
  try {
    const r = await promisify(execFile)(process.execPath, [resolve('bin/bqgate.js'), ...args], { env: { ...process.env, ...OFFLINE_ENV, BQGATE_DATA_DIR: mkdtempSync(join(tmpdir(), 'bqgate-cli-')) }, timeout: 60_000 });
    return { code: 0, out: r.stdout };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, out: e.stdout + e.stderr };
  }
};

const tmpPolicies = (yaml: string) => {
  const dir = mkdtempSync(join(tmpdir(), 'bqgate-pol-'));
  writeFileSync(join(dir, 'p.yaml'), yaml);
  return dir;
};

describe('policy tooling', () => {
  it('policy test runs the demo tests and reports N passed, N failed', async () => {
    const r = await run(['policy', 'test']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^(\d+) passed, 0 failed$/m);
  });

  it('policy test fails (exit 1) when an expectation is wrong', async () => {
    const tests = mkdtempSync(join(tmpdir(), 'bqgate-tests-'));
    writeFileSync(join(tests, 't.yaml'), 'tests:\n  - name: wrong on purpose\n    principal: { sub: a, groups: [analysts] }\n    sql: SELECT email FROM shop.customers\n    expect: { masks: { demo-project.shop.customers.email: none } }\n');
    const r = await run(['policy', 'test', '--tests', tests]);
    expect(r.code).toBe(1);
    expect(r.out).toContain('0 passed, 1 failed');
    expect(r.out).toContain('mask EMAIL_MASK, expected none');
  });

  it('refuses a statement whose allow rules name different upstream service accounts', async () => {
    const dir = tmpPolicies(`version: 1
rules:
  - { id: orders-as-a, effect: allow, principals: { groups: [ops] }, verbs: [SELECT], tables: [demo-project.shop.orders], upstream_service_account: a@demo-project.iam.gserviceaccount.com }
  - { id: customers-as-b, effect: allow, principals: { groups: [ops] }, verbs: [SELECT], tables: [demo-project.shop.customers], upstream_service_account: b@demo-project.iam.gserviceaccount.com }
`);
    const tests = mkdtempSync(join(tmpdir(), 'bqgate-tests-'));
    writeFileSync(join(tests, 't.yaml'), `tests:
  - name: one account
    principal: { sub: o, groups: [ops] }
    sql: SELECT order_id FROM shop.orders
    expect: { decision: allow, rule: orders-as-a }
  - name: two accounts
    principal: { sub: o, groups: [ops] }
    sql: SELECT o.order_id FROM shop.orders AS o JOIN shop.customers AS c USING (customer_id)
    expect: { decision: allow }
`);
    const r = await run(['policy', 'test', '--policies', dir, '--tests', tests]);
    expect(r.code).toBe(1);
    expect(r.out).toContain('1 passed, 1 failed');
    expect(r.out).toMatch(/decision deny, expected allow: Access Denied: the allow rules used \(customers-as-b, orders-as-a\) run this statement as different service accounts/);
  });

  it('policy lint reports schema errors with file and line', async () => {
    const dir = tmpPolicies('version: 1\nrules:\n  - id: ok\n    effect: allow\n    principals: "*"\n  - id: bad\n    effect: permit\n    principals: "*"\n');
    const problems = lintPolicies(dir);
    expect(problems[0]).toMatchObject({ file: 'p.yaml', line: 7 });
    expect(problems[0].message).toContain('effect');
    const r = await run(['policy', 'lint', '--offline', '--policies', dir]);
    expect(r.code).toBe(1);
    expect(r.out).toContain('p.yaml:7:');
  });

  it('policy lint reads load_sources and export_destinations on allow rules for their verbs only, and load_sources as URIs', () => {
    const dir = tmpPolicies([
      'version: 1', 'rules:',
      '  - id: ok', '    effect: allow', '    principals: "*"', '    verbs: [LOAD]', '    load_sources: ["gs://landing/**"]',
      '  - id: on-deny', '    effect: deny', '    principals: "*"', '    verbs: [LOAD_DATA]', '    load_sources: ["gs://landing/**"]',
      '  - id: no-verb', '    effect: allow', '    principals: "*"', '    verbs: [SELECT]', '    load_sources: ["gs://landing/**"]', '    export_destinations: ["gs://out/**"]',
      '',
    ].join('\n'));
    const problems = lintPolicies(dir);
    console.log('lint problems:', problems.map((p) => `${p.line}: ${p.message}`));
    expect(problems.map((p) => p.message)).toEqual([
      'load_sources is only read on effect: allow rules',
      "load_sources is read for LOAD_DATA (or its alias LOAD), which the rule's verbs do not include",
      "export_destinations is read for EXPORT_DATA (or its alias EXTRACT), which the rule's verbs do not include",
    ]);
    const notUri = lintPolicies(tmpPolicies('version: 1\nrules:\n  - id: x\n    effect: allow\n    principals: "*"\n    load_sources: ["landing/**"]\n'));
    console.log('lint of a load_sources entry without a scheme:', notUri.map((p) => `${p.line}: ${p.message}`));
    expect(notUri[0].message).toMatch(/load_sources\/0 must match pattern/);
  });

  it('policy lint against the live catalog catches a mistyped masked column', async () => {
    const dir = tmpPolicies('version: 1\nrules:\n  - id: m\n    effect: mask\n    principals: "*"\n    masks:\n      - { column: demo-project.shop.customers.emial, rule: EMAIL_MASK }\n');
    const r = await run(['policy', 'lint', '--policies', dir]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/p\.yaml:7:\d+: masked column demo-project\.shop\.customers\.emial matches no column/);
    const tags = tmpPolicies('version: 1\nrules:\n  - id: d\n    effect: deny\n    principals: "*"\n    columns: ["tag:**/policyTags/ssn", "tag:**/policyTags/no_such_tag"]\n');
    const t = await run(['policy', 'lint', '--policies', tags]);
    expect(t.code).toBe(1);
    expect(t.out).toContain('column pattern tag:**/policyTags/no_such_tag matches no column');
    expect(t.out).not.toContain('policyTags/ssn matches no column');
    const good = await run(['policy', 'lint']);
    expect(good.code).toBe(0);
    expect(good.out).toContain('checked against 10 tables, 2 models');
  });

  it('policy explain shows the decision, masks and rule trace', async () => {
    const r = await run(['policy', 'explain', '--as', '{"sub":"agent-7","groups":["analysts"]}', '--sql', 'SELECT email FROM shop.customers']);
    expect(r.code).toBe(0);
    expect(r.out).toContain('decision:  ALLOW');
    expect(r.out).toContain('demo-project.shop.customers.email → EMAIL_MASK (rule analysts-mask-pii)');
    expect(r.out).toMatch(/○ support-read-customers \(allow\) — not for this principal/);
    const d = await run(['policy', 'explain', '--as', '{"sub":"agent-7","groups":["analysts"]}', '--sql', 'SELECT ssn FROM shop.customers']);
    expect(d.out).toContain('decision:  DENY');
    expect(d.out).toContain('analysts-deny-ssn');
  });

  it('hot reload swaps a valid change in and keeps the last good policy on a broken one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bqgate-reload-'));
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'demo.yaml'), readFileSync(resolve('policies/demo.yaml')));
    const logs: string[] = [];
    const store = new PolicyStore(dir, (_l, m) => logs.push(m));
    store.watch(20);
    try {
      const v1 = store.current().version;
      writeFileSync(join(dir, 'extra.yaml'), 'version: 1\nrules:\n  - id: extra\n    effect: allow\n    principals: { groups: [extra] }\n    verbs: [SELECT]\n    tables: ["*"]\n');
      await expect.poll(() => store.current().version, { timeout: 5000 }).not.toBe(v1);
      expect(store.current().rules.map((r) => r.id)).toContain('extra');
      const v2 = store.current().version;
      writeFileSync(join(dir, 'extra.yaml'), 'version: 1\nrules:\n  - id: extra\n    effect: allow-ish\n');
      await expect.poll(() => logs.some((l) => l.includes('rejected')), { timeout: 5000 }).toBe(true);
      expect(store.current().version).toBe(v2);
    } finally { store.close(); }
  });
});
