/**
 * Re-execution for investigators, through the real gateway, the real SDK and the bqgate CLI: a
 * query an analyst ran (masked, paged) is re-run as that analyst, as of its time (the emulator's
 * time travel), after the data changed; the rows match what was delivered, not today's data.
 * Only auditors may re-execute. The emulator's `FOR SYSTEM_TIME AS OF` is checked on its own.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, auditRequests, type TestGateway } from './helpers/gateway.ts';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

let gw: TestGateway;
beforeAll(async () => { gw = await startGateway(); }, 120_000);
afterAll(async () => { await gw?.stop(); });

const SQL = 'SELECT o.order_id, o.amount, c.email FROM shop.orders AS o JOIN shop.customers AS c USING (customer_id) WHERE o.order_id <= 5 ORDER BY o.order_id';

describe('re-execution as of the original time', () => {
  it('re-runs a recorded, masked, paged query as its principal and finds what was delivered, not today\'s rows', async () => {
    const analyst = gw.sdk(await gw.token({ sub: 'analyst-rx', groups: ['analysts'], act: { sub: 'report-bot' } }));
    const [job] = await analyst.createQueryJob({ query: SQL, useLegacySql: false });
    // Pages of 2 rows: the SDK follows pageToken, so the delivered pages are placed by the token chain.
    const rows: any[] = [];
    for (let q: any = { maxResults: 2, autoPaginate: false }; q;) {
      const [page, next] = await job.getQueryResults(q);
      rows.push(...page);
      q = next;
    }
    expect(rows).toHaveLength(5);
    expect(String(rows[0].email)).toMatch(/^XXXXX@/);
    const before = rows.map((r: any) => String(r.amount));

    // The data changes after the query (straight at the emulator: ground truth, not through bqgate).
    await new Promise((r) => setTimeout(r, 20));
    await gw.emulatorSdk().query({ query: 'UPDATE shop.orders SET amount = 4242.42 WHERE order_id <= 5', useLegacySql: false });

    const rec = (await auditRequests(gw.dataDir)).find((r) => r.principal === 'analyst-rx' && r.operation === 'jobs.insert')!;
    const auditor = await gw.token({ sub: 'investigator', groups: ['auditors'] });
    const out = await gw.cli(['sessions', 'reexecute', rec.requestId, '--gateway', gw.url, '--token', auditor, '--json']);
    expect(out.stderr).toBe('');
    const j = JSON.parse(out.stdout);
    expect(j).toMatchObject({ kind: 'bqgate#reexecution', principal: 'analyst-rx', actor: 'report-bot', verdict: 'match', asOf: new Date(rec.ts).toISOString() });
    expect(j.upstreamSql).toContain('FOR SYSTEM_TIME AS OF TIMESTAMP');
    expect(j.upstreamSql).toMatch(/REGEXP_REPLACE|EMAIL/i); // masked as the analyst is masked
    expect(j.delivered).toEqual({ pages: 3, rows: 5 });
    expect(j.pages.map((p: any) => [p.startIndex, p.rows, p.match])).toEqual([[0, 2, true], [2, 2, true], [4, 1, true]]);
    // The re-executed rows are the old amounts, masked emails; today's table says 4242.42.
    expect(j.sample.map((r: any) => String(r.f[1].v))).toEqual(before.map((a: string) => expect.stringContaining(a.replace(/\.?0+$/, ''))));
    expect(j.sample.every((r: any) => /^XXXXX@/.test(r.f[2].v))).toBe(true);
    const [now] = await analyst.query({ query: SQL, useLegacySql: false });
    expect(now.map((r: any) => Number(r.amount))).toEqual([4242.42, 4242.42, 4242.42, 4242.42, 4242.42]);

    const text = await gw.cli(['sessions', 'reexecute', rec.requestId, '--gateway', gw.url, '--token', auditor]);
    expect(text.stdout).toMatch(/page from row 2 \(2 rows, request [^)]+\): same/);
    expect(text.stdout).toMatch(/verdict: match/);

    // The auditor's re-execution is itself audited.
    const mine = (await auditRequests(gw.dataDir)).find((r) => r.principal === 'investigator' && r.operation === 'audit.reexecute');
    expect(mine?.decision?.reasons[0]).toContain(`re-execution of ${rec.requestId} as analyst-rx`);
    expect(mine?.upstream?.sql).toContain('FOR SYSTEM_TIME AS OF');
  });

  it('refuses anyone outside the auditors, and requests that were not allowed queries', async () => {
    const analyst = await gw.token({ sub: 'analyst-rx', groups: ['analysts'] });
    const rec = (await auditRequests(gw.dataDir)).find((r) => r.principal === 'analyst-rx' && r.operation === 'jobs.insert')!;
    const no = await gw.cli(['sessions', 'reexecute', rec.requestId, '--gateway', gw.url, '--token', analyst]);
    expect(no.code).toBe(1);
    expect(no.stderr).toMatch(/re-execution is for auditors \(policy roles.auditors: \["auditors"\]/);

    const sdk = gw.sdk(analyst);
    await expect(sdk.query({ query: 'SELECT ssn FROM shop.customers', useLegacySql: false })).rejects.toThrow(/Access Denied/);
    const denied = (await auditRequests(gw.dataDir)).find((r) => r.principal === 'analyst-rx' && r.operation === 'jobs.query' && r.decision?.effect === 'deny')!;
    const auditor = await gw.token({ sub: 'investigator', groups: ['auditors'] });
    const r = await gw.cli(['sessions', 'reexecute', denied.requestId, '--gateway', gw.url, '--token', auditor]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/was refused .*nothing was delivered/);
    const missing = await gw.cli(['sessions', 'reexecute', 'no-such-request', '--gateway', gw.url, '--token', auditor]);
    expect(missing.stderr).toMatch(/Not found: audit request no-such-request/);
  });
});

describe('re-execution after the policy changed', () => {
  let gw2: TestGateway;
  const policies = mkdtempSync(join(tmpdir(), 'bqgate-policies-'));
  beforeAll(async () => {
    writeFileSync(join(policies, 'demo.yaml'), readFileSync('policies/demo.yaml', 'utf8'));
    gw2 = await startGateway({ env: { BQGATE_POLICIES: policies } });
  }, 120_000);
  afterAll(async () => { await gw2?.stop(); });

  it('reports the pages that differ, the first differing cell and both policy versions', async () => {
    const analyst = gw2.sdk(await gw2.token({ sub: 'analyst-pc', groups: ['analysts'] }));
    await analyst.query({ query: 'SELECT customer_id, email FROM shop.customers ORDER BY customer_id LIMIT 3', useLegacySql: false });
    const rec = (await auditRequests(gw2.dataDir)).find((r) => r.principal === 'analyst-pc' && !!r.sql)!;
    // Analysts' emails go from EMAIL_MASK to SHA256 (the policy store reloads the file).
    writeFileSync(join(policies, 'demo.yaml'), readFileSync(join(policies, 'demo.yaml'), 'utf8').replace('customers.email, rule: EMAIL_MASK', 'customers.email, rule: SHA256'));
    const auditor = await gw2.token({ sub: 'investigator', groups: ['auditors'] });
    let j: any;
    for (let i = 0; i < 50; i++) {
      const out = await gw2.cli(['sessions', 'reexecute', rec.requestId, '--gateway', gw2.url, '--token', auditor, '--json']);
      j = JSON.parse(out.stdout || '{}');
      if (j.policyVersion?.now !== j.policyVersion?.recorded) { expect(out.code).toBe(3); break; }
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(j.policyVersion.now).not.toBe(j.policyVersion.recorded);
    expect(j.verdict).toBe('differs');
    expect(j.pages).toEqual([expect.objectContaining({ startIndex: 0, rows: 3, match: false })]);
    expect(j.firstDifference).toMatchObject({ row: 0, column: 'email', delivered: expect.stringMatching(/^XXXXX@/) });
    expect(j.firstDifference.reexecuted).not.toMatch(/^XXXXX@/);
  });
});

describe('emulator time travel', () => {
  const q = async (sql: string) => (await gw.emulatorSdk().query({ query: sql, useLegacySql: false }))[0];
  it('reads a table as it was before a DML statement, and refuses the future and times outside the window', async () => {
    const t0 = new Date().toISOString();
    await new Promise((r) => setTimeout(r, 20));
    await q("UPDATE shop.orders SET status = 'time-travel-test' WHERE order_id = 77");
    expect((await q('SELECT status FROM shop.orders WHERE order_id = 77'))[0].status).toBe('time-travel-test');
    const old = await q(`SELECT status FROM \`demo-project.shop.orders\` FOR SYSTEM_TIME AS OF TIMESTAMP '${t0}' WHERE order_id = 77`);
    expect(old[0].status).not.toBe('time-travel-test');
    const param = await gw.emulatorSdk().query({ query: 'SELECT status FROM shop.orders FOR SYSTEM_TIME AS OF @t AS o WHERE order_id = 77', params: { t: gw.emulatorSdk().timestamp(t0) }, useLegacySql: false });
    expect(param[0][0].status).toBe(old[0].status);
    await expect(q('SELECT 1 FROM shop.orders FOR SYSTEM_TIME AS OF TIMESTAMP_ADD(CURRENT_TIMESTAMP(), INTERVAL 1 HOUR)')).rejects.toThrow(/in the future/);
    await expect(q('SELECT 1 FROM shop.orders FOR SYSTEM_TIME AS OF TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 8 DAY)')).rejects.toThrow(/outside the time travel window of 7 days/);
  });
});
