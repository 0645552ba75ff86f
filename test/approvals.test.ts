/**
 * Just-in-time approval (src/approvals) through the real SDK and the real `bq` CLI: a write waits
 * PENDING, a second principal approves, the client completes; denial and expiry surface as clear
 * errors in both clients; self-approval is refused; an approval does not carry over to a different
 * statement or parameters; the approver webhooks on loopback get the notification; the requester's
 * audit session shows the steps.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startGateway, freePort, auditRequests, apiError, type TestGateway } from './helpers/gateway.ts';

const until = async <T>(f: () => Promise<T | undefined>, ms = 30_000): Promise<T> => {
  const end = Date.now() + ms;
  for (;;) { const v = await f(); if (v !== undefined) return v; if (Date.now() > end) throw new Error('timed out'); await new Promise((r) => setTimeout(r, 100)); }
};

/** The REST API of the approvals, as an approver (or anyone) with `token`. */
const api = (gw: TestGateway, token: string) => ({
  async list(status = 'pending') {
    const r = await fetch(`${gw.url}/bqgate/v1/approvals?status=${status}`, { headers: { authorization: `Bearer ${token}` } });
    return { status: r.status, body: await r.json() as any };
  },
  async decide(id: string, decision: 'approve' | 'deny', comment?: string) {
    const r = await fetch(`${gw.url}/bqgate/v1/approvals/${id}/${decision}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ comment }) });
    return { status: r.status, body: await r.json() as any };
  },
});

/** The pending approval of `jobId`, once it exists. */
const pendingFor = (gw: TestGateway, token: string, match: (a: any) => boolean) => until(async () => (await api(gw, token).list()).body.approvals?.find(match));

let gw: TestGateway;
let hook: Server;
const hooks: Array<{ path: string; body: any }> = [];
let etl: string;
let owner: string;
let analyst: string;

beforeAll(async () => {
  const port = await freePort();
  hook = createServer((req, res) => { let b = ''; req.on('data', (d) => { b += d; }); req.on('end', () => { hooks.push({ path: req.url!, body: JSON.parse(b) }); res.end('ok'); }); });
  await new Promise<void>((r) => hook.listen(port, '127.0.0.1', () => r()));
  gw = await startGateway({ env: { BQGATE_APPROVAL_WEBHOOKS: `http://127.0.0.1:${port}/generic`, BQGATE_APPROVAL_SLACK_WEBHOOKS: `http://127.0.0.1:${port}/slack` } });
  etl = await gw.token({ sub: 'etl-1', groups: ['etl-agents'], act: { sub: 'loader-bot' } });
  owner = await gw.token({ sub: 'owner-1', email: 'owner-1@example.com', groups: ['data-owners'] });
  analyst = await gw.token({ sub: 'analyst-1', groups: ['analysts'] });
}, 120_000);
afterAll(async () => { await gw?.stop(); hook?.close(); });

describe('approvals with the SDK', () => {
  it('holds a write PENDING until a data owner approves, then completes it', async () => {
    const sdk = gw.sdk(etl);
    const [job] = await sdk.createQueryJob({ query: "UPDATE shop.orders SET status = 'approved-update' WHERE order_id = 11", useLegacySql: false });
    expect(job.metadata.status.state).toBe('PENDING');
    const [meta] = await job.getMetadata();
    expect(meta.status.state).toBe('PENDING');
    const done = job.getQueryResults(); // the SDK keeps polling, as with any slow query
    const apr = await pendingFor(gw, owner, (a) => a.jobId === job.id);
    expect(apr).toMatchObject({ status: 'pending', requester: { subject: 'etl-1', actor: 'loader-bot' }, tables: ['demo-project.shop.orders'] });
    expect(apr.requirements[0]).toMatchObject({ ruleId: 'etl-writes-need-owner', approverGroups: ['data-owners'], count: 1 });
    expect(JSON.stringify(apr)).not.toContain('upstreamSql');
    const ok = await api(gw, owner).decide(apr.id, 'approve', 'ticket OPS-42');
    expect(ok.body.status).toBe('approved');
    await done;
    const [after] = await job.getMetadata();
    expect(after.status.state).toBe('DONE');
    expect(after.statistics.query.numDmlAffectedRows).toBe('1');
    const [rows] = await gw.emulatorSdk().query({ query: 'SELECT status FROM shop.orders WHERE order_id = 11', useLegacySql: false });
    expect(rows).toEqual([{ status: 'approved-update' }]);
    // The requester's audit session shows the request, the approval and the approver.
    const rec = (await auditRequests(gw.dataDir)).find((r) => r.operation === 'jobs.insert' && r.upstream?.jobId === gw.upstreamJobId('etl-1', job.id!));
    expect(rec?.approvals.map((a: any) => [a.step, a.approver ?? null])).toEqual([['requested', null], ['approve', 'owner-1']]);
    const sessions = JSON.parse((await gw.cli(['sessions', 'list', '--json', '--principal', 'etl-1'])).stdout);
    const replay = await gw.cli(['sessions', 'replay', sessions[0].id, '--principal', 'etl-1']);
    expect(replay.stdout).toContain('approval: approved by owner-1: "ticket OPS-42" → approved');
    expect(replay.stdout).toMatch(/approval: requested \(apr_\w+; needs etl-writes-need-owner\)/);
  });

  it('surfaces a denial as accessDenied with the approver\'s comment', async () => {
    const [job] = await gw.sdk(etl).createQueryJob({ query: "UPDATE shop.orders SET status = 'nope' WHERE order_id = 12", useLegacySql: false });
    const apr = await pendingFor(gw, owner, (a) => a.jobId === job.id);
    await api(gw, owner).decide(apr.id, 'deny', 'change freeze until Monday');
    const e = await apiError(job.getQueryResults());
    expect(e.errors?.[0].reason).toBe('accessDenied');
    expect(e.message).toContain('change freeze until Monday');
    const [meta] = await job.getMetadata();
    expect(meta.status).toMatchObject({ state: 'DONE', errorResult: { reason: 'accessDenied' } });
  });

  it('cancels a job still waiting for approval: the approval is withdrawn and nothing reaches BigQuery', async () => {
    const [job] = await gw.sdk(etl).createQueryJob({ query: "UPDATE shop.orders SET status = 'cancelled-before-approval' WHERE order_id = 13", useLegacySql: false });
    const apr = await pendingFor(gw, owner, (a) => a.jobId === job.id);
    const [cancelled] = await job.cancel();
    expect(cancelled.job?.status).toMatchObject({ state: 'DONE', errorResult: { reason: 'stopped', message: expect.stringContaining('cancelled') } });
    const e = await apiError(job.getQueryResults());
    expect(e.errors?.[0].reason).toBe('stopped');
    const late = await api(gw, owner).decide(apr.id, 'approve');
    expect(late.body.error.message).toMatch(/is cancelled; it can no longer be decided/);
    const upstream = await apiError(gw.emulatorSdk().job(gw.upstreamJobId('etl-1', job.id!)).getMetadata());
    expect(upstream.code).toBe(404);
    const [rows] = await gw.emulatorSdk().query({ query: 'SELECT status FROM shop.orders WHERE order_id = 13', useLegacySql: false });
    expect(rows[0].status).not.toBe('cancelled-before-approval');
    const steps = (await auditRequests(gw.dataDir)).filter((r) => r.principal === 'etl-1').flatMap((r) => r.approvals);
    expect(steps).toEqual(expect.arrayContaining([expect.objectContaining({ step: 'cancel', approvalId: apr.id, status: 'cancelled' })]));
  });

  it('refuses self-approval and approvers outside the approver groups', async () => {
    const [job] = await gw.sdk(etl).createQueryJob({ query: "UPDATE shop.orders SET status = 'self' WHERE order_id = 13", useLegacySql: false });
    const apr = await pendingFor(gw, owner, (a) => a.jobId === job.id);
    const self = await api(gw, etl).decide(apr.id, 'approve');
    expect(self.status).toBe(403);
    expect(self.body.error.message).toContain('nobody approves their own request');
    const stranger = await api(gw, analyst).decide(apr.id, 'approve');
    expect(stranger.status).toBe(403);
    expect(stranger.body.error.errors[0].reason).toBe('accessDenied');
    expect((await api(gw, analyst).list()).body.approvals.find((a: any) => a.id === apr.id)).toBeUndefined();
    await api(gw, owner).decide(apr.id, 'deny', 'cleanup');
  });

  it('notified both webhooks (Slack-compatible and generic) with the query, requester and a link', () => {
    const slack = hooks.find((h) => h.path === '/slack');
    const generic = hooks.find((h) => h.path === '/generic');
    expect(slack?.body.text).toMatch(/etl-1 \(agent loader-bot\) asks to run a statement on demo-project\.shop\.orders/);
    expect(slack?.body.blocks.some((b: any) => b.text.text.includes('UPDATE shop.orders'))).toBe(true);
    expect(generic?.body).toMatchObject({ kind: 'bqgate#approvalRequest', requester: { subject: 'etl-1' } });
    expect(generic?.body.link).toMatch(/\/bqgate\/v1\/approvals\/apr_/);
  });
});

describe('approvals across a restart', () => {
  it('keeps a pending approval; the client\'s next poll after approval completes', async () => {
    const [job] = await gw.sdk(etl).createQueryJob({ query: "UPDATE shop.orders SET status = 'restart' WHERE order_id = 18", useLegacySql: false });
    await pendingFor(gw, owner, (a) => a.jobId === job.id);
    await gw.stop();
    gw = await startGateway({ dataDir: gw.dataDir, port: Number(new URL(gw.url).port) });
    const apr = await pendingFor(gw, owner, (a) => a.jobId === job.id);
    const [meta] = await gw.sdk(etl).job(job.id!).getMetadata();
    expect(meta.status.state).toBe('PENDING');
    await api(gw, owner).decide(apr.id, 'approve');
    await gw.sdk(etl).job(job.id!).getQueryResults();
    const [after] = await gw.sdk(etl).job(job.id!).getMetadata();
    expect(after.statistics.query.numDmlAffectedRows).toBe('1');
  }, 120_000);
});

describe('approvals with the bqgate CLI', () => {
  it('lists and approves as the approver', async () => {
    const [job] = await gw.sdk(etl).createQueryJob({ query: "UPDATE shop.orders SET status = 'cli' WHERE order_id = 17", useLegacySql: false });
    const list = await gw.cli(['approvals', 'list', '--json', '--gateway', gw.url, '--token', owner]);
    const apr = JSON.parse(list.stdout).find((a: any) => a.jobId === job.id);
    expect(apr.status).toBe('pending');
    const ok = await gw.cli(['approvals', 'approve', apr.id, '--comment', 'looks fine', '--gateway', gw.url, '--token', owner]);
    expect(ok.stdout.trim()).toBe(`${apr.id}: approved`);
    await job.getQueryResults();
    const self = await gw.cli(['approvals', 'deny', apr.id, '--gateway', gw.url, '--token', etl]);
    expect(self.code).toBe(1);
  });
});

describe('approvals with bq', () => {
  it('waits in `bq query` until approved, then prints the result', async () => {
    const run = gw.bq(etl, ['query', '--nouse_legacy_sql', "INSERT INTO shop.orders (order_id, customer_id, amount, currency, status) VALUES (900001, 1, 10, 'EUR', 'new')"]);
    const apr = await pendingFor(gw, owner, (a) => a.sql.includes('900001'));
    await api(gw, owner).decide(apr.id, 'approve');
    const r = await run;
    expect(r.code).toBe(0);
    expect(r.stdout + r.stderr).toMatch(/Number of affected rows: 1/);
  }, 90_000);

  it('prints the denial and exits non-zero', async () => {
    const run = gw.bq(etl, ['query', '--nouse_legacy_sql', "UPDATE shop.orders SET status = 'x' WHERE order_id = 14"]);
    const apr = await pendingFor(gw, owner, (a) => a.sql.includes('order_id = 14'));
    await api(gw, owner).decide(apr.id, 'deny', 'wrong table');
    const r = await run;
    expect(r.code).not.toBe(0);
    expect((r.stdout + r.stderr).replace(/\s+/g, ' ')).toContain('denied by owner-1@example.com: "wrong table"');
  }, 90_000);
});

describe('expiry and reuse', () => {
  let gw2: TestGateway;
  beforeAll(async () => {
    // The demo policy with a 2-second expiry and a 5-minute reuse window.
    const dir = mkdtempSync(join(tmpdir(), 'bqgate-policies-'));
    const demo = readFileSync(resolve(import.meta.dirname, '..', 'policies', 'demo.yaml'), 'utf8')
      .replace('expires_after_seconds: 3600', 'expires_after_seconds: 2\n      reuse_seconds: 300');
    writeFileSync(join(dir, 'demo.yaml'), demo);
    gw2 = await startGateway({ env: { BQGATE_POLICIES: dir } });
  }, 120_000);
  afterAll(async () => { await gw2?.stop(); });

  it('expires an undecided request: both clients see accessDenied', async () => {
    const token = await gw2.token({ sub: 'etl-2', groups: ['etl-agents'] });
    const [job] = await gw2.sdk(token).createQueryJob({ query: "UPDATE shop.orders SET status = 'late' WHERE order_id = 15", useLegacySql: false });
    const e = await apiError(job.getQueryResults());
    expect(e.errors?.[0].reason).toBe('accessDenied');
    expect(e.message).toMatch(/expired at .* without a decision/);
    const r = await gw2.bq(token, ['query', '--nouse_legacy_sql', "UPDATE shop.orders SET status = 'late' WHERE order_id = 16"]);
    expect(r.code).not.toBe(0);
    expect((r.stdout + r.stderr).replace(/\s+/g, ' ')).toContain('without a decision');
  }, 90_000);

  it('reuses an approval only for the same statement and parameters', async () => {
    const token = await gw2.token({ sub: 'etl-3', groups: ['etl-agents'] });
    const approver = await gw2.token({ sub: 'owner-2', groups: ['data-owners'] });
    const sdk = gw2.sdk(token);
    const update = "UPDATE shop.orders SET status = 'batch' WHERE order_id = @id";
    const run = (id: number, query = update) => sdk.createQueryJob({ query, params: { id }, useLegacySql: false }).then(([j]) => j);
    const first = await run(21);
    const waiting = first.getQueryResults();
    const apr = await pendingFor(gw2, approver, (a) => a.jobId === first.id);
    await api(gw2, approver).decide(apr.id, 'approve');
    await waiting;
    // Same statement, same parameters, same policy: runs at once on the reusable approval.
    const again = await run(21);
    expect(again.metadata.status.state).not.toBe('PENDING');
    await again.getQueryResults();
    // Different parameters, or a different statement: new approvals.
    const otherParams = await run(22);
    expect(otherParams.metadata.status.state).toBe('PENDING');
    const otherText = await run(21, "UPDATE shop.orders SET status = 'other' WHERE order_id = @id");
    expect(otherText.metadata.status.state).toBe('PENDING');
    // Whitespace and comments do not make a different statement.
    const respaced = await run(21, "UPDATE   shop.orders SET status = 'batch'  -- same\n WHERE order_id = @id");
    expect(respaced.metadata.status.state).not.toBe('PENDING');
    await respaced.getQueryResults();
  }, 90_000);
});
