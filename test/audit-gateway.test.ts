/**
 * The audit log through the real gateway and the real SDK: a session replays in order with its
 * decisions and the rows delivered; a SIGKILL mid-load loses no event of an answered request;
 * the log verifies (`bqgate audit export` + `bqgate audit verify`), on SQLite and on PostgreSQL;
 * with the store down, requests fail closed before anything reaches the upstream.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startGateway, auditRequests, apiError, type TestGateway } from './helpers/gateway.ts';
import { startPostgres, type TestPostgres } from './helpers/postgres.ts';


describe.each([{ store: 'SQLite' }, { store: 'PostgreSQL' }])('audit through the gateway ($store)', ({ store }) => {
  let gw: TestGateway;
  let pgServer: TestPostgres | undefined;
  let env: Record<string, string> = {};
  beforeAll(async () => {
    if (store === 'PostgreSQL') { pgServer = await startPostgres(); env = { BQGATE_AUDIT_POSTGRES: pgServer.url }; }
    gw = await startGateway({ env });
  }, 120_000);
  afterAll(async () => { await gw?.stop(); pgServer?.stop(); });

  it('replays a session of allowed, masked and denied queries in order, with the rows delivered', async () => {
    const token = await gw.token({ sub: 'auditee', groups: ['analysts'], act: { sub: 'report-bot' } });
    const sdk = gw.sdk(token);
    const label = { bqgate_session: 'weekly-report' };
    await sdk.createQueryJob({ query: 'SELECT order_id, status FROM shop.orders ORDER BY order_id LIMIT 3', useLegacySql: false, labels: label }).then(([j]) => j.getQueryResults());
    await sdk.createQueryJob({ query: 'SELECT customer_id, email FROM shop.customers ORDER BY customer_id LIMIT 2', useLegacySql: false, labels: label }).then(([j]) => j.getQueryResults());
    const denied = await apiError(sdk.createQueryJob({ query: 'SELECT ssn FROM shop.customers LIMIT 1', useLegacySql: false, labels: label }));
    expect(denied.errors?.[0].reason).toBe('accessDenied');

    const list = await gw.cli(['sessions', 'list', '--json', '--principal', 'auditee']);
    expect(list.code).toBe(0);
    const sessions = JSON.parse(list.stdout);
    const s = sessions.find((x: { id: string }) => x.id === 'key:auditee:weekly-report');
    expect(s).toMatchObject({ principal: 'auditee', actor: 'report-bot', denied: 1 });

    const replay = await gw.cli(['sessions', 'replay', s.id, '--json']);
    const { requests } = JSON.parse(replay.stdout);
    const inserts = requests.filter((r: any) => r.operation === 'jobs.insert');
    expect(inserts.map((r: any) => [r.sql.slice(0, 22), r.decision.effect])).toEqual([
      ['SELECT order_id, statu', 'allow'], ['SELECT customer_id, em', 'allow'], ['SELECT ssn FROM shop.c', 'deny'],
    ]);
    expect(inserts[2].decision.matchedRules).toContain('analysts-deny-ssn');
    expect(inserts[1].decision.matchedRules).toContain('analysts-mask-pii');
    // The rows the caller received, masked as delivered, recorded with the getQueryResults that delivered them.
    const delivered = requests.filter((r: any) => r.deliveries.length && r.deliveries[0].rows > 0).flatMap((r: any) => r.deliveries);
    const emails = delivered.find((d: any) => d.columns.includes('email'));
    expect(emails.rows).toBe(2);
    expect(emails.sample.map((row: any) => row.f[1].v)).toEqual(expect.arrayContaining([expect.stringMatching(/^XXXXX@/)]));
    expect(emails.sha256).toMatch(/^[0-9a-f]{64}$/);

    const text = await gw.cli(['sessions', 'replay', s.id]);
    expect(text.stdout).toMatch(/decision: DENY by .*analysts-deny-ssn/);
    expect(text.stdout).toContain('sql:      SELECT ssn FROM shop.customers LIMIT 1');
    expect(text.stdout).toMatch(/XXXXX@/);
  });

  it('records the SHA-256 of each page exactly as the caller received it', async () => {
    const token = await gw.token({ sub: 'hasher', groups: ['analysts'] });
    const r = await fetch(`${gw.url}/bigquery/v2/projects/demo-project/queries`, {
      method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ query: 'SELECT customer_id, email FROM shop.customers ORDER BY customer_id LIMIT 4', useLegacySql: false }),
    });
    const raw = Buffer.from(await r.arrayBuffer());
    const { createHash } = await import('node:crypto');
    const rec = (await auditRequests(gw.dataDir, env.BQGATE_AUDIT_POSTGRES)).find((x) => x.principal === 'hasher');
    expect(rec?.deliveries[0]).toMatchObject({ rows: 4, bytes: raw.length, sha256: createHash('sha256').update(raw).digest('hex') });
  });

  it('exports a log that `bqgate audit verify` accepts, and rejects once an event is edited', async () => {
    const file = join(gw.dataDir, 'export.jsonl');
    const ex = await gw.cli(['audit', 'export', '--out', file]);
    expect(ex.code).toBe(0);
    const ok = await gw.cli(['audit', 'verify', file]);
    expect(ok.stdout).toMatch(/^OK: \d+ events/);
    expect(ok.code).toBe(0);
    const key = await fetch(`${gw.url}/bqgate/v1/audit/public-key`).then((r) => r.text());
    writeFileSync(join(gw.dataDir, 'pub.pem'), key);
    expect((await gw.cli(['audit', 'verify', file, '--public-key', join(gw.dataDir, 'pub.pem')])).code).toBe(0);
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    const i = lines.findIndex((l) => l.includes('SELECT ssn FROM shop.customers'));
    lines[i] = lines[i].replace('SELECT ssn', 'SELECT sex');
    writeFileSync(file, lines.join('\n') + '\n');
    const bad = await gw.cli(['audit', 'verify', file]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/^FAILED \(altered at seq \d+\)/);
  });

  it('loses no event of an answered request when the gateway is SIGKILLed mid-load', async () => {
    const kgw = await startGateway({ env });
    const token = await kgw.token({ sub: 'crash-test', groups: ['analysts'] });
    const answered: string[] = [];
    let stop = false;
    const client = async () => {
      while (!stop) {
        try {
          const r = await fetch(`${kgw.url}/bigquery/v2/projects/demo-project/queries`, {
            method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
            body: JSON.stringify({ query: 'SELECT order_id FROM shop.orders ORDER BY order_id LIMIT 5', useLegacySql: false }),
          });
          const b = await r.json() as { jobReference?: { jobId: string } };
          if (r.status === 200 && b.jobReference) answered.push(b.jobReference.jobId);
        } catch { return; }
      }
    };
    const clients = Array.from({ length: 8 }, client);
    while (answered.length < 20) await new Promise((r) => setTimeout(r, 20));
    await kgw.kill('SIGKILL');
    stop = true;
    await Promise.all(clients);
    const requests = await auditRequests(kgw.dataDir, env.BQGATE_AUDIT_POSTGRES);
    const byJob = new Map(requests.filter((r) => r.upstream?.jobId).map((r) => [r.upstream!.jobId!, r]));
    for (const jobId of answered) {
      const r = byJob.get(jobId);
      expect(r, jobId).toBeDefined();
      expect(r!.decision?.effect).toBe('allow');
      expect(r!.deliveries[0]?.rows).toBe(5);
      expect(r!.response?.status).toBe(200);
    }
    // A restarted gateway continues the same log, and it verifies.
    await kgw.stop();
  }, 120_000);
});

describe('fail closed', () => {
  it('refuses requests while the PostgreSQL audit store is down, and nothing reaches the upstream', async () => {
    const pgServer = await startPostgres();
    const gw = await startGateway({ env: { BQGATE_AUDIT_POSTGRES: pgServer.url } });
    try {
      const token = await gw.token({ sub: 'agent-9', groups: ['analysts'] });
      const [rows] = await gw.sdk(token).query({ query: 'SELECT 1 AS x', useLegacySql: false });
      expect(rows).toEqual([{ x: 1 }]);
      expect(await fetch(`${gw.url}/readyz`).then((r) => r.json())).toMatchObject({ audit: 'ready', store: 'ready', zetasql: 'ready', upstream: 'ready' });
      pgServer.stop();
      const before = await gw.emulatorSdk().getJobs().then(([jobs]) => jobs.length);
      const e = await apiError(gw.sdk(token).query({ query: 'SELECT 2 AS x', useLegacySql: false }));
      expect(e.errors?.[0].reason).toBe('backendError');
      expect(e.message).toContain('audit log cannot be written');
      const after = await gw.emulatorSdk().getJobs().then(([jobs]) => jobs.length);
      expect(after).toBe(before);
      // Readiness says so, and names the part that is down.
      const ready = await fetch(`${gw.url}/readyz`);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toMatchObject({ audit: 'down', store: 'ready', zetasql: 'ready', upstream: 'ready' });
    } finally {
      await gw.stop();
    }
  }, 120_000);
});
