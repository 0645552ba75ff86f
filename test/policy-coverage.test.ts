/**
 * Issue 23, part 2: `bqgate policy test --coverage [--min-coverage N]` and
 * `bqgate sessions export-tests` as real CLI processes on real policy directories; the sessions are
 * recorded by a real gateway from the real SDK (explicit authClient) and the real `bq` CLI; and
 * scripts/policy-ci.sh refusing a policy below its coverage floor (its diff step needs `policy diff`).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, writeFileSync, readFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { OFFLINE_ENV, apiError, startGateway, type TestGateway } from './helpers/gateway.ts';

/** The CLI as a process, in `dataDir` (a gateway's, to read its audit log) or a fresh one; generous timeouts (the analysis stack starts per run). */
const run = async (args: string[], dataDir = mkdtempSync(join(tmpdir(), 'bqgate-cli-'))) => {
  try {
    const r = await promisify(execFile)(process.execPath, [resolve('bin/bqgate.js'), '--data-dir', dataDir, ...args], { env: { ...process.env, ...OFFLINE_ENV }, timeout: 300_000 });
    return { code: 0, out: r.stdout, err: r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, out: e.stdout, err: e.stderr };
  }
};

const dirWith = (files: Record<string, string>) => {
  const dir = mkdtempSync(join(tmpdir(), 'bqgate-cov-'));
  for (const [name, text] of Object.entries(files)) { mkdirSync(join(dir, name, '..'), { recursive: true }); writeFileSync(join(dir, name), text); }
  return dir;
};

const POLICY = `version: 1
rules:
  - { id: ops-read-orders, effect: allow, principals: { groups: [ops] }, verbs: [SELECT], tables: [demo-project.shop.orders] }
  - { id: ops-read-customers, effect: allow, principals: { groups: [ops] }, verbs: [SELECT], tables: [demo-project.shop.customers] }
  - id: ops-masks
    effect: mask
    principals: { groups: [ops] }
    masks:
      - { column: demo-project.shop.customers.email, rule: EMAIL_MASK }
      - { column: demo-project.shop.customers.full_name, rule: SHA256 }
`;
const OTHER = `version: 1
rules:
  - { id: finance-read-orders, effect: allow, principals: { groups: [finance] }, verbs: [SELECT], tables: [demo-project.shop.orders] }
  - { id: ops-no-delete, effect: deny, principals: { groups: [ops] }, verbs: [DELETE], tables: ["*"] }
`;
const TESTS = `tests:
  - name: ops read orders
    principal: { sub: o, groups: [ops] }
    sql: SELECT order_id FROM shop.orders
    expect: { decision: allow, rule: ops-read-orders }
  - name: ops see emails masked
    principal: { sub: o, groups: [ops] }
    sql: SELECT email, full_name FROM shop.customers
    expect: { decision: allow, masks: { demo-project.shop.customers.email: EMAIL_MASK } }
`;

describe('policy test --coverage', () => {
  const policies = dirWith({ 'a.yaml': POLICY, 'b.yaml': OTHER, 'tests/t.yaml': TESTS });

  it('lists the rules no case exercises and the masks no case asserts, per policy file; --json; --min-coverage exits 0 at or below the figure and 3 above', async () => {
    const j = await run(['policy', 'test', '--json', '--coverage', '--policies', policies]);
    expect(j.code).toBe(0);
    const { coverage, passed, failed } = JSON.parse(j.out);
    process.stdout.write(`measured coverage: ${coverage.percent}% (${coverage.rulesExercised}/${coverage.rules} rules, ${coverage.masksAsserted}/${coverage.masks} masks); ${passed} passed, ${failed} failed\n`);
    expect([passed, failed]).toEqual([2, 0]);
    expect(coverage.percent).toBeCloseTo(((coverage.rulesExercised + coverage.masksAsserted) / (coverage.rules + coverage.masks)) * 100, 6);
    expect(coverage.files.map((f: any) => [f.file, f.rulesExercised, f.rules, f.masksAsserted, f.masks])).toEqual([['a.yaml', 3, 3, 1, 2], ['b.yaml', 0, 2, 0, 0]]);
    expect(coverage.unexercisedRules.map((x: { id: string }) => x.id).sort()).toEqual(['finance-read-orders', 'ops-no-delete']);
    expect(coverage.unassertedMasks).toEqual([{ ruleId: 'ops-masks', file: 'a.yaml', column: 'demo-project.shop.customers.full_name', rule: 'SHA256' }]);

    const r = await run(['policy', 'test', '--policies', policies, '--min-coverage', String(Math.floor(coverage.percent))]);
    process.stdout.write(r.out);
    expect(r.code).toBe(0);
    expect(r.out).toContain('2 passed, 0 failed');
    const unexercised = r.out.slice(r.out.indexOf('rules no case exercises:'), r.out.indexOf('masks no case asserts:'));
    expect(unexercised).toMatch(/b\.yaml: finance-read-orders \(allow\) — no case's principal is one it applies to/);
    expect(unexercised).toMatch(/b\.yaml: ops-no-delete \(deny\) — applies to the principal of 2 case\(s\)/);
    expect(unexercised).not.toContain('ops-read-orders');
    expect(unexercised).not.toContain('ops-masks'); // it decided the masks of the second case
    const unasserted = r.out.slice(r.out.indexOf('masks no case asserts:'));
    expect(unasserted).toContain('a.yaml: ops-masks: demo-project.shop.customers.full_name → SHA256');
    expect(unasserted).not.toContain('customers.email');
    expect(r.out).toMatch(/^ {2}a\.yaml: [\d.]+% \(3\/3 rules exercised, 1\/2 masks asserted\)$/m);
    expect(r.out).toMatch(/^ {2}b\.yaml: 0\.0% \(0\/2 rules exercised, 0\/0 masks asserted\)$/m);

    const above = await run(['policy', 'test', '--policies', policies, '--min-coverage', String(Math.floor(coverage.percent) + 1)]);
    expect(above.code).toBe(3);
    expect(above.err).toMatch(/coverage [\d.]+% is below --min-coverage \d+%/);
    expect((await run(['policy', 'test', '--policies', policies, '--min-coverage', '101'])).code).toBe(2);
  }, 600_000);

  it('a case that exercises the missing rules raises the coverage; a failing case exits 1 whatever the coverage', async () => {
    const more = dirWith({ 'a.yaml': POLICY, 'b.yaml': OTHER, 'tests/t.yaml': `${TESTS}  - name: finance reads orders
    principal: { sub: f, groups: [finance] }
    sql: SELECT order_id FROM shop.orders
    expect: { decision: allow }
  - name: ops cannot delete
    principal: { sub: o, groups: [ops] }
    sql: DELETE FROM shop.orders WHERE TRUE
    expect: { decision: deny, rule: ops-no-delete }
  - name: full names as hashes
    principal: { sub: o, groups: [ops] }
    sql: SELECT full_name FROM shop.customers
    expect: { masks: { demo-project.shop.customers.full_name: SHA256 } }
` });
    const full = await run(['policy', 'test', '--policies', more, '--min-coverage', '100', '--json']);
    expect(full.code).toBe(0);
    expect(JSON.parse(full.out).coverage).toMatchObject({ percent: 100, unexercisedRules: [], unassertedMasks: [] });
    const wrong = dirWith({ 'a.yaml': POLICY, 'b.yaml': OTHER, 'tests/t.yaml': TESTS.replace('EMAIL_MASK', 'SHA256') });
    const failing = await run(['policy', 'test', '--policies', wrong, '--min-coverage', '0']);
    expect(failing.code).toBe(1);
    expect(failing.out).toContain('FAIL t.yaml: ops see emails masked');
  }, 600_000);

});

describe('scripts/policy-ci.sh', () => {
  it('fails a policy whose tests cover less than MIN_COVERAGE, before any diff, naming the step', async () => {
    const policies = dirWith({ 'a.yaml': POLICY, 'b.yaml': OTHER, 'tests/t.yaml': TESTS });
    const env = { ...process.env, ...OFFLINE_ENV, BQGATE: `${process.execPath} ${resolve('bin/bqgate.js')}`, BQGATE_DATA_DIR: mkdtempSync(join(tmpdir(), 'bqgate-ci-')), CURRENT_POLICIES: policies, LINT_OFFLINE: '1', MIN_COVERAGE: '100', OUT_DIR: mkdtempSync(join(tmpdir(), 'bqgate-ci-out-')) };
    const r = await promisify(execFile)('sh', [resolve('scripts/policy-ci.sh'), policies], { env, timeout: 300_000 }).then(() => ({ code: 0, out: '', err: '' }), (e) => ({ code: e.code, out: e.stdout as string, err: e.stderr as string }));
    process.stdout.write(r.out + r.err);
    expect(r.code).toBe(1);
    expect(r.out).toContain('== 1/3 lint');
    expect(r.out).toContain('== 2/3 test');
    expect(r.out).not.toContain('== 3/3 diff');
    expect(r.err).toMatch(/coverage [\d.]+% is below --min-coverage 100%/);
    expect(r.err).toContain('policy-ci: FAILED: policy tests or coverage below 100%');
  }, 600_000);
});

describe('sessions export-tests', () => {
  let gw: TestGateway;
  beforeAll(async () => { gw = await startGateway(); }, 300_000);
  afterAll(async () => { await gw?.stop(); });

  it('pins a session recorded through the SDK and bq as test cases that pass, and fail once the policy denies one of them', async () => {
    const token = await gw.token({ sub: 'pinner', groups: ['analysts'], email: 'pinner@example.com' });
    const sdk = gw.sdk(token);
    const labels = { bqgate_session: 'pin' };
    await sdk.createQueryJob({ query: 'SELECT order_id, amount FROM shop.orders ORDER BY order_id LIMIT 3', useLegacySql: false, labels }).then(([j]) => j.getQueryResults());
    await sdk.createQueryJob({ query: 'SELECT email, phone FROM shop.customers ORDER BY customer_id LIMIT 2', useLegacySql: false, labels }).then(([j]) => j.getQueryResults());
    expect((await apiError(sdk.createQueryJob({ query: 'SELECT ssn FROM shop.customers LIMIT 1', useLegacySql: false, labels }))).errors?.[0].reason).toBe('accessDenied');
    const bq = await gw.bq(token, ['query', '--nouse_legacy_sql', '--label=bqgate_session:pin', "SELECT customer_id, city FROM shop.customers WHERE city = 'Berlin-Secret-Literal'"]);
    expect(bq.code, bq.stderr + bq.stdout).toBe(0);

    const file = join(gw.dataDir, 'pinned.yaml');
    const ex = await run(['sessions', 'export-tests', 'key:pinner:pin', '--out', file], gw.dataDir);
    expect(ex.code, ex.err).toBe(0);
    process.stdout.write(ex.err);
    expect(ex.err).toMatch(/^4 test case\(s\) from \d+ request\(s\) of session key:pinner:pin/m);
    expect(ex.err).toContain('warning: the file contains the statements\' literals');
    const text = readFileSync(file, 'utf8');
    expect(text).toContain('# WARNING: the statements keep their literals');
    expect(text).toContain('Berlin-Secret-Literal');
    const cases = parseYaml(text).tests;
    expect(cases.every((c: any) => c.principal.sub === 'pinner' && c.principal.groups.join() === 'analysts' && c.principal.email === 'pinner@example.com')).toBe(true);
    const bySql = (s: string) => cases.find((c: any) => c.sql.startsWith(s));
    expect(bySql('SELECT ssn').expect).toEqual({ decision: 'deny', rules: ['analysts-read-shop', 'analysts-deny-ssn'] });
    expect(bySql('SELECT email').expect.masks).toMatchObject({ 'demo-project.shop.customers.email': 'EMAIL_MASK', 'demo-project.shop.customers.phone': 'HMAC_SHA256' });
    expect(bySql('SELECT order_id').expect.masks).toEqual({ 'demo-project.shop.orders.amount': 'none', 'demo-project.shop.orders.order_id': 'none' });

    const dir = join(gw.dataDir, 'pinned-tests');
    mkdirSync(dir);
    writeFileSync(join(dir, 'session.yaml'), text);
    const passes = await run(['policy', 'test', '--tests', dir], gw.dataDir);
    expect(passes.code, passes.out).toBe(0);
    expect(passes.out).toContain('4 passed, 0 failed');

    // A policy change: customers are denied to analysts. The customers statements' cases fail, by name.
    const changed = join(gw.dataDir, 'changed-policies');
    mkdirSync(changed);
    writeFileSync(join(changed, 'demo.yaml'), readFileSync('policies/demo.yaml', 'utf8').replace('rules:\n', `rules:
  - { id: analysts-no-customers, effect: deny, principals: { groups: [analysts] }, verbs: [SELECT], tables: [demo-project.shop.customers] }
`));
    const fails = await run(['policy', 'test', '--policies', changed, '--tests', dir], gw.dataDir);
    process.stdout.write(fails.out);
    expect(fails.code).toBe(1);
    expect(fails.out).toContain('1 passed, 3 failed');
    expect(fails.out).toMatch(/^FAIL session\.yaml: request \S+ \(jobs\.\w+\): SELECT email, phone FROM shop\.customers/m);
    expect(fails.out).toMatch(/^FAIL session\.yaml: request \S+ \(jobs\.insert\): SELECT customer_id, city FROM shop\.customers WHERE city = 'Berlin-S/m);
    expect(fails.out).toMatch(/^ok {3}session\.yaml: request \S+ \(jobs\.\w+\): SELECT order_id, amount/m);
    expect(fails.out).toMatch(/decision deny, expected allow: Access Denied: bqgate rule analysts-no-customers/);
  }, 600_000);

  it('--redact-literals writes neutral literals where the decision stays the same, and the file still passes', async () => {
    const file = join(gw.dataDir, 'redacted.yaml');
    const ex = await run(['sessions', 'export-tests', 'key:pinner:pin', '--out', file, '--redact-literals'], gw.dataDir);
    expect(ex.code, ex.err).toBe(0);
    process.stdout.write(ex.err);
    const text = readFileSync(file, 'utf8');
    expect(text).not.toContain('Berlin-Secret-Literal');
    expect(text).toContain("WHERE city = '?'");
    const m = /literals redacted in (\d+) case\(s\)/.exec(ex.err);
    expect(Number(m?.[1])).toBeGreaterThan(0);
    const dir = join(gw.dataDir, 'redacted-tests');
    mkdirSync(dir);
    writeFileSync(join(dir, 'session.yaml'), text);
    const passes = await run(['policy', 'test', '--tests', dir], gw.dataDir);
    expect(passes.code, passes.out).toBe(0);
    expect(passes.out).toContain('4 passed, 0 failed');
  }, 600_000);

  it('a query job with a destinationTable is pinned with its destination and decided with the writes it equals', async () => {
    const token = await gw.token({ sub: 'pinner2', groups: ['analysts'] });
    const sdk = gw.sdk(token);
    // An analyst may read shop.orders but never write: the job is refused for its destination alone.
    const refused = await apiError(sdk.createQueryJob({ query: 'SELECT order_id FROM shop.orders LIMIT 3', useLegacySql: false, labels: { bqgate_session: 'dest' }, destination: sdk.dataset('shop').table('orders_copy'), writeDisposition: 'WRITE_TRUNCATE' }));
    expect(refused.errors?.[0].reason).toBe('accessDenied');
    const file = join(gw.dataDir, 'dest.yaml');
    const ex = await run(['sessions', 'export-tests', 'key:pinner2:dest', '--out', file], gw.dataDir);
    expect(ex.code, ex.err).toBe(0);
    const text = readFileSync(file, 'utf8');
    const [c] = parseYaml(text).tests;
    expect(c.destination).toEqual({ table: 'demo-project.shop.orders_copy', write_disposition: 'WRITE_TRUNCATE', exists: false });
    expect(c.expect.decision).toBe('deny');
    expect(c.expect.rules).toContain('analysts-no-writes');
    const dir = join(gw.dataDir, 'dest-tests');
    mkdirSync(dir);
    writeFileSync(join(dir, 'session.yaml'), text);
    const passes = await run(['policy', 'test', '--tests', dir], gw.dataDir);
    expect(passes.code, passes.out).toBe(0);
    // Without its destination the same statement is a plain read, which analysts may do: the pinned case fails.
    writeFileSync(join(dir, 'session.yaml'), text.replace(/^ {4}destination:\n(?: {6}.*\n)+/m, ''));
    const without = await run(['policy', 'test', '--tests', dir], gw.dataDir);
    expect(without.code).toBe(1);
    expect(without.out).toContain('decision allow, expected deny');
  }, 600_000);

  it('an unknown session exits 2 and names the command that lists sessions', async () => {
    const r = await run(['sessions', 'export-tests', 'key:nobody:none'], gw.dataDir);
    expect(r.code).toBe(2);
    expect(r.err).toContain('no session key:nobody:none (see: bqgate sessions list)');
  }, 120_000);
});
