/**
 * `bqgate policy diff` through real recorded traffic: a real gateway records sessions driven by the
 * SDK and `bq` as demo principals; then the real CLI diffs proposed policy directories against the
 * audit log (SQLite, and PostgreSQL) and the report must name exactly the statements and principals
 * affected, with the exit codes of the contract (0 nothing changes, 1 changes, 2 error). No output
 * may carry a literal of a recorded statement (an email, an SSN).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { promisify } from 'node:util';
import { startGateway, auditRequests, apiError, OFFLINE_ENV, type TestGateway } from './helpers/gateway.ts';
import { startPostgres, type TestPostgres } from './helpers/postgres.ts';
import type { DiffReport } from '../src/policy/diff/index.ts';

const ROOT = resolve(import.meta.dirname, '..');
const DEMO = readFileSync(join(ROOT, 'policies', 'demo.yaml'), 'utf8');
/** Per CLI run (minutes on a loaded machine: see cli()). */
const SLOW = 600_000;
const SECRET_EMAIL = 'alice.secret@example.com';
const SECRET_SSN = '123-45-6789';
const SECRET_AMOUNT = '98765';

/** A proposed policy directory: demo.yaml edited by `edit` (which must change it unless `same`). */
function proposed(edit: (yaml: string) => string, same = false): string {
  const text = edit(DEMO);
  if (!same && text === DEMO) throw new Error('the edit changed nothing');
  const dir = mkdtempSync(join(tmpdir(), 'bqgate-proposed-'));
  writeFileSync(join(dir, 'demo.yaml'), text);
  return dir;
}
const appendRule = (rule: string) => (y: string) => `${y.trimEnd()}\n\n${rule}\n`;
const MASK_COUNTRY = (y: string) => y.replace('      - { column: demo-project.shop.customers.phone, rule: HMAC_SHA256 }\n',
  '      - { column: demo-project.shop.customers.phone, rule: HMAC_SHA256 }\n      - { column: demo-project.shop.customers.country, rule: ALWAYS_NULL }\n');

const Q = {
  email: `SELECT customer_id, email FROM shop.customers WHERE email = '${SECRET_EMAIL}'`,
  countries: 'SELECT country, COUNT(*) AS n FROM shop.customers GROUP BY country',
  orders: `SELECT order_id, amount FROM shop.orders WHERE amount < ${SECRET_AMOUNT} ORDER BY order_id LIMIT 3`,
  ssn: `SELECT customer_id, ssn FROM shop.customers WHERE ssn = '${SECRET_SSN}'`,
  supportOrders: 'SELECT order_id FROM shop.orders ORDER BY order_id LIMIT 1',
  scratch: 'SELECT note FROM shop.scratch_notes',
  broken: 'SELEC 1',
  etlAppend: 'SELECT * FROM shop.orders WHERE order_id = 1',
};

/** Every output a test saw, for the attacker check at the end. */
const outputs: string[] = [];

/**
 * The real CLI against the gateway's data directory (as TestGateway.cli, with a longer timeout: each
 * run starts its own emulator and analyzer, which takes minutes on a loaded 2-core machine).
 */
async function cli(gw: TestGateway, args: string[], env: Record<string, string>) {
  try {
    const r = await promisify(execFile)(process.execPath, [resolve(ROOT, 'bin', 'bqgate.js'), '--data-dir', gw.dataDir, ...args], { cwd: ROOT, env: { ...process.env, ...OFFLINE_ENV, ...env }, timeout: 480_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? String(err) };
  }
}

async function diff(gw: TestGateway, args: string[], env: Record<string, string> = {}) {
  const r = await cli(gw, ['policy', 'diff', ...args], env);
  outputs.push(r.stdout, r.stderr);
  const rate = r.stderr.match(/diffed .*/)?.[0];
  if (rate) console.log(`policy diff ${args.filter((a) => !a.startsWith('/')).join(' ')}: ${rate}`);
  return r;
}
const json = (r: { stdout: string }) => JSON.parse(r.stdout) as DiffReport;

describe('bqgate policy diff over traffic recorded through the gateway (SQLite audit log)', () => {
  let gw: TestGateway;
  /** Request ids of the recorded statements, by the SQL above. */
  const ids: Record<string, string[]> = {};

  beforeAll(async () => {
    // One retry: on a loaded shared machine the gateway can miss the helper's 60 s readiness deadline.
    gw = await startGateway().catch(() => startGateway());
    const analyst = await gw.token({ sub: 'agent-7', groups: ['analysts'], act: { sub: 'report-bot' } });
    const support = await gw.token({ sub: 'sup-1', groups: ['support'] });
    const sdk = gw.sdk(analyst);
    const run = (s: ReturnType<TestGateway['sdk']>, query: string) => s.createQueryJob({ query, useLegacySql: false }).then(([j]) => j.getQueryResults());
    await run(sdk, Q.email);
    await run(sdk, Q.email); // the same statement again: deduplicated, still counted
    await run(sdk, Q.orders);
    const bq = await gw.bq(analyst, ['query', '--nouse_legacy_sql', Q.countries]);
    expect(bq.code, bq.stderr).toBe(0);
    const bqSsn = await gw.bq(support, ['query', '--nouse_legacy_sql', Q.ssn]);
    expect(bqSsn.code, bqSsn.stderr).toBe(0);
    expect((await apiError(run(gw.sdk(support), Q.supportOrders))).errors?.[0]?.reason).toBe('accessDenied');
    // A table only the gateway's upstream has: today's catalog (the CLI's) does not know it.
    await gw.emulatorSdk().query({ query: "CREATE TABLE shop.scratch_notes AS SELECT 'n1' AS note", useLegacySql: false });
    await run(sdk, Q.scratch);
    expect((await apiError(run(sdk, Q.broken))).errors?.[0]?.reason).toBe('invalidQuery');
    // A query job writing its result into a table (configuration.query.destinationTable): an INSERT
    // into orders as well as a SELECT. It waits for a data owner's approval; recorded all the same.
    const etl = gw.sdk(await gw.token({ sub: 'etl-1', groups: ['etl-agents'] }));
    await etl.createQueryJob({ query: Q.etlAppend, useLegacySql: false, destination: etl.dataset('shop').table('orders'), writeDisposition: 'WRITE_APPEND' });
    for (const r of await auditRequests(gw.dataDir)) if (r.sql) (ids[r.sql] ??= []).push(r.requestId);
    expect(ids[Q.email]).toHaveLength(2);
  }, SLOW);
  afterAll(async () => { await gw?.stop(); });

  it('(a) an unchanged policy (comments edited) changes nothing: exit 0, and a vanished table is "no longer analyzes", not a denial', async () => {
    const r = await diff(gw, ['--proposed', proposed((y) => y.replace('# bqgate demo policy', '# bqgate demo policy (reviewed)')), '--json']);
    expect(r.code, r.stderr).toBe(0);
    const rep = json(r);
    console.log('recorded', JSON.stringify(ids), 'scanned', JSON.stringify(rep.scanned));
    expect(rep.changedStatements).toBe(0);
    expect(rep.changes).toEqual([]);
    expect(rep.scanned.statements).toBe(Object.values(ids).flat().length);
    // The two identical statements of agent-7 are decided once.
    expect(rep.scanned.decided).toBe(rep.scanned.statements - 1 - 1 - 1);
    expect(rep.scanned.unanalyzable).toBe(1);
    expect(rep.noLongerAnalyzes).toMatchObject([{ principal: 'agent-7', statements: 1, requestIds: ids[Q.scratch] }]);
    expect(rep.noLongerAnalyzes[0].message).toContain('scratch_notes');
  }, SLOW);

  it('(b) masking one more column names exactly the analyst statements that read the table', async () => {
    const r = await diff(gw, ['--proposed', proposed(MASK_COUNTRY), '--json']);
    expect(r.code, r.stderr).toBe(1);
    const rep = json(r);
    expect(rep.changes).toHaveLength(1);
    const [c] = rep.changes;
    expect(c).toMatchObject({ kind: 'mask added', table: 'demo-project.shop.customers', column: 'country', after: 'ALWAYS_NULL (analysts-mask-pii)', statements: 3, principals: ['agent-7'], groups: ['analysts'] });
    expect(c.fingerprints).toHaveLength(2);
    expect([...c.requestIds].sort()).toEqual([...ids[Q.email], ...ids[Q.countries]].sort());
    expect(rep.byPrincipal.map((p) => p.principal)).toEqual(['agent-7']);
    expect(rep.byTable).toMatchObject([{ table: 'demo-project.shop.customers', statements: 3 }]);
    // The example is the regenerated statement with its literals as ?.
    expect(rep.changes.map((x) => x.example)).toEqual([expect.stringMatching(/^SELECT customer_id, email FROM shop\.customers WHERE email = \?$|^SELECT country, COUNT\(\*\) AS n FROM shop\.customers GROUP BY country$/)]);
  }, SLOW);

  it('scripts/policy-ci.sh fails an unacknowledged diff with the hash to acknowledge, and passes once that hash is in the ack file', async () => {
    const dir = proposed(MASK_COUNTRY);
    const out = mkdtempSync(join(tmpdir(), 'bqgate-ci-out-'));
    const env = { ...process.env, ...OFFLINE_ENV, BQGATE: `${process.execPath} ${resolve(ROOT, 'bin', 'bqgate.js')} --data-dir ${gw.dataDir}`, CURRENT_POLICIES: join(ROOT, 'policies'), LINT_OFFLINE: '1', MIN_COVERAGE: '0', OUT_DIR: out };
    const ci = () => promisify(execFile)('sh', [join(ROOT, 'scripts', 'policy-ci.sh'), dir], { cwd: ROOT, env, timeout: SLOW }).then((r) => ({ code: 0, out: r.stdout, err: r.stderr }), (e) => ({ code: e.code as number, out: e.stdout as string, err: e.stderr as string }));
    const first = await ci();
    outputs.push(first.out, first.err);
    expect(first.code, first.err).toBe(1);
    expect(first.out).toContain('== 3/3 diff');
    const hash = first.err.match(/acknowledge this diff with: +echo ([0-9a-f]{64}) >/)?.[1];
    expect(hash, first.err).toBeDefined();
    expect(readFileSync(join(out, 'policy-diff.md'), 'utf8')).toContain('mask added');
    writeFileSync(join(dir, 'policy-diff.ack'), `# reviewed: country masked for analysts\n${hash}\n`);
    const second = await ci();
    outputs.push(second.out, second.err);
    expect(second.code, second.err).toBe(0);
    expect(second.out).toContain(`acknowledged in ${join(dir, 'policy-diff.ack')} (${hash})`);
    // A further edit of the proposed policy is a different diff: the old acknowledgement no longer holds.
    writeFileSync(join(dir, 'demo.yaml'), MASK_COUNTRY(DEMO).replace('customers.country, rule: ALWAYS_NULL }', 'customers.country, rule: DEFAULT_MASKING_VALUE }'));
    const third = await ci();
    outputs.push(third.out, third.err);
    expect(third.code, third.err).toBe(1);
    expect(third.err).toContain(`acknowledges ${hash}, a different diff`);
  }, SLOW * 2);

  it('(f) a query job with a destinationTable is decided with the write it equals: dropping INSERT from its rule is allow→deny for it', async () => {
    const dir = proposed((y) => y.replace('    verbs: [SELECT, INSERT, UPDATE]\n    tables: ["demo-project.shop.orders"]', '    verbs: [SELECT, UPDATE]\n    tables: ["demo-project.shop.orders"]'));
    const r = await diff(gw, ['--proposed', dir, '--json']);
    expect(r.code, r.stderr).toBe(1);
    const rep = json(r);
    expect(rep.changes).toMatchObject([{ kind: 'allow→deny', statements: 1, principals: ['etl-1'], requestIds: ids[Q.etlAppend] }]);
    expect(rep.byTable.map((t) => t.table)).toEqual(['demo-project.shop.orders']);
  }, SLOW);

  it('(c) denying a table to a group: allow→deny for exactly that group\'s statements on it', async () => {
    const dir = proposed(appendRule('  - id: analysts-deny-orders\n    effect: deny\n    principals: { groups: [analysts] }\n    tables: ["demo-project.shop.orders"]'));
    const r = await diff(gw, ['--proposed', dir, '--json']);
    expect(r.code, r.stderr).toBe(1);
    const rep = json(r);
    expect(rep.changes).toMatchObject([{ kind: 'allow→deny', after: 'analysts-deny-orders', statements: 1, principals: ['agent-7'], requestIds: ids[Q.orders] }]);
    expect(rep.changes[0].example).toBe('SELECT order_id, amount FROM shop.orders WHERE amount < ? ORDER BY order_id LIMIT ?');
    expect(rep.byGroup).toMatchObject([{ group: 'analysts', statements: 1, principals: ['agent-7'] }]);
    expect(rep.byDay).toEqual([{ day: new Date().toISOString().slice(0, 10), group: 'analysts', statements: 1 }]);
  }, SLOW);

  it('(d) widening a table pattern: deny→allow for the support statement it now covers, nothing else (markdown for a pull request)', async () => {
    const anchor = '    principals: { groups: [support] }\n    verbs: [SELECT]\n    tables: ["demo-project.shop.customers"]';
    const r = await diff(gw, ['--proposed', proposed((y) => y.replace(anchor, anchor.replace('shop.customers', 'shop.*'))), '--format', 'markdown']);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).toContain('### bqgate policy diff');
    // One change row: the support statement on orders, now allowed by the widened rule.
    const rows = r.stdout.split('\n').filter((l) => /^\| (allow→deny|deny→allow|approval|mask|column|row filter|limit)/.test(l));
    expect(rows).toEqual(['| deny→allow | default deny → support-read-customers | 1 | 1 | sup-1 | support |']);
    expect(r.stdout).toContain('SELECT order_id FROM shop.orders ORDER BY order_id LIMIT ?');
    expect(r.stdout).toMatch(/^\| sup-1 \| support \| 1 \| deny→allow 1 \|$/m);
  }, SLOW);

  it('(e) adding an approval: "approval added" for the analyst statements on orders', async () => {
    const rule = '  - id: analysts-orders-approval\n    effect: require_approval\n    principals: { groups: [analysts] }\n    verbs: [SELECT]\n    tables: ["demo-project.shop.orders"]\n    approval:\n      approvers: { groups: [data-owners] }';
    const r = await diff(gw, ['--proposed', proposed(appendRule(rule)), '--table', 'demo-project.shop.*']);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).toMatch(/^1 of \d+ recorded statements change/);
    expect(r.stdout).toContain('approval added  — → analysts-orders-approval');
    expect(r.stdout).toContain(`requests: ${ids[Q.orders][0]}`);
    expect(r.stdout).toMatch(/principals agent-7; groups analysts/);
  }, SLOW);

  it('a proposed policy that fails to lint is exit 2 with the lint message, and nothing is diffed', async () => {
    const bad = await diff(gw, ['--proposed', proposed(appendRule('  - id: half-a-mask\n    effect: mask\n    principals: "*"'))]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/demo\.yaml:\d+:\d+: a mask rule needs masks/);
    expect(bad.stdout).toBe('');
    const typo = await diff(gw, ['--proposed', proposed((y) => y.replace('shop.customers.phone, rule: HMAC_SHA256', 'shop.customers.phnoe, rule: HMAC_SHA256'))]);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain('masked column demo-project.shop.customers.phnoe matches no column in the catalog');
    const opts = await diff(gw, ['--proposed', proposed(MASK_COUNTRY), '--since', 'last tuesday']);
    expect(opts.code).toBe(2);
    expect(opts.stderr).toContain('neither a duration');
  }, SLOW);

  it('the console API (POST /bqgate/v1/policy/diff): auditors only, lint problems refused with their message, the same diff as the CLI', async () => {
    const post = (token: string, body: unknown) => fetch(`${gw.url}/bqgate/v1/policy/diff`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) })
      .then(async (r) => { const text = await r.text(); outputs.push(text); return { status: r.status, body: JSON.parse(text) }; });
    const files = (content: string, name = 'demo.yaml') => [{ name, content }];
    const analyst = await post(await gw.token({ sub: 'agent-7', groups: ['analysts'] }), { files: files(MASK_COUNTRY(DEMO)) });
    expect(analyst.status).toBe(403);
    expect(analyst.body.error.message).toContain('is for auditors');
    const auditor = await gw.token({ sub: 'aud-1', groups: ['auditors'] });
    const bad = await post(auditor, { files: files(appendRule('  - id: half-a-mask\n    effect: mask\n    principals: "*"')(DEMO)) });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/does not lint: demo\.yaml:\d+:\d+: a mask rule needs masks/);
    expect((await post(auditor, { files: files(DEMO, '../escape.yaml') })).status).toBe(400);
    expect((await post(auditor, { files: files(DEMO), days: 90 })).status).toBe(400);
    const ok = await post(auditor, { files: files(MASK_COUNTRY(DEMO)), days: 1 });
    expect(ok.status).toBe(200);
    const rep = ok.body as DiffReport;
    expect(rep.changes).toMatchObject([{ kind: 'mask added', table: 'demo-project.shop.customers', column: 'country', statements: 3, principals: ['agent-7'] }]);
    expect([...rep.changes[0].requestIds].sort()).toEqual([...ids[Q.email], ...ids[Q.countries]].sort());
    // The gateway's own catalog has the scratch table: there it still analyzes.
    expect(rep.noLongerAnalyzes).toEqual([]);
  }, SLOW);

  it('the console playground\'s proposed-policy mode shows the diff as tables and a chart (headless Chromium)', async () => {
    const executablePath = process.env.BQGATE_CHROMIUM ?? '/usr/bin/chromium';
    expect(existsSync(executablePath), `${executablePath} (Debian chromium) is needed`).toBe(true);
    const browser = await chromium.launch({ executablePath, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'] });
    const offLoopback: string[] = [];
    try {
      const context = await browser.newContext({ viewport: { width: 1360, height: 900 } });
      await context.route('**/*', (route) => {
        const u = new URL(route.request().url());
        if (u.protocol === 'data:' || ['127.0.0.1', 'localhost'].includes(u.hostname)) return route.continue();
        offLoopback.push(u.href);
        return route.abort();
      });
      const page = await context.newPage();
      page.setDefaultTimeout(120_000);
      await page.goto(`${gw.url}/console/#/playground`);
      await page.waitForURL(/\/oauth2\/authorize\?/);
      await page.click('button.persona[value="auditor"]');
      await page.waitForSelector('[data-testid=who]');
      await page.click('#mode-proposed');
      await page.fill('textarea[name=file-0]', MASK_COUNTRY(DEMO));
      await page.fill('input[name=days]', '1');
      await page.click('#diff');
      await page.waitForSelector('[data-testid=diff-changes]');
      const rows = (await page.locator('[data-testid=diff-changes] tbody tr').allTextContents()).map((t) => t.replace(/\s+/g, ' '));
      expect(rows).toHaveLength(1);
      expect(rows[0]).toContain('mask added');
      expect(rows[0]).toContain('demo-project.shop.customers.country');
      expect(rows[0]).toContain('agent-7');
      expect(await page.locator('[data-testid=policy-diff] canvas[aria-label="changed decisions per day and group"]').count()).toBe(1);
      const shown = await page.textContent('[data-testid=policy-diff]');
      outputs.push(shown ?? '');
      expect(shown).toContain('WHERE email = ?');
      const shots = join(ROOT, 'test-artifacts', 'console');
      mkdirSync(shots, { recursive: true });
      await page.screenshot({ path: join(shots, 'playground-proposed.png'), fullPage: true });
    } finally {
      await browser.close();
    }
    expect(offLoopback).toEqual([]);
  }, SLOW);

  it('attacker view: no output of any run carries a literal of a recorded statement', () => {
    expect(outputs.join('').length).toBeGreaterThan(0);
    for (const secret of [SECRET_EMAIL, SECRET_SSN, SECRET_AMOUNT, "'n1'"]) expect(outputs.join('\n')).not.toContain(secret);
  });
});

describe('bqgate policy diff on a PostgreSQL audit log', () => {
  let gw: TestGateway;
  let pg: TestPostgres;
  let env: Record<string, string>;
  beforeAll(async () => {
    pg = await startPostgres();
    env = { BQGATE_AUDIT_POSTGRES: pg.url };
    gw = await startGateway({ env }).catch(() => startGateway({ env }));
    const sdk = gw.sdk(await gw.token({ sub: 'pg-analyst', groups: ['analysts'] }));
    for (let i = 0; i < 3; i++) await sdk.createQueryJob({ query: Q.email, useLegacySql: false }).then(([j]) => j.getQueryResults());
  }, SLOW);
  afterAll(async () => { await gw?.stop(); pg?.stop(); });

  it('reads the PostgreSQL log in pages and names the affected requests', async () => {
    const ids = (await auditRequests(gw.dataDir, env.BQGATE_AUDIT_POSTGRES)).filter((r) => r.sql === Q.email).map((r) => r.requestId);
    expect(ids).toHaveLength(3);
    // Pages of 2 events: every request spans several pages of the cursor.
    const r = await diff(gw, ['--proposed', proposed(MASK_COUNTRY), '--json', '--page-size', '2', '--principal', 'pg-analyst'], env);
    expect(r.code, r.stderr).toBe(1);
    const rep = json(r);
    expect(rep.scanned).toMatchObject({ statements: 3, decided: 1, fingerprints: 1 });
    expect(rep.changes).toMatchObject([{ kind: 'mask added', column: 'country', statements: 3, principals: ['pg-analyst'] }]);
    expect([...rep.changes[0].requestIds].sort()).toEqual([...ids].sort());
    expect(r.stdout + r.stderr).not.toContain(SECRET_EMAIL);
  }, SLOW);
});
