/**
 * bqgate's upstream credentials against local stand-ins for Google's token, STS and IAM Credentials
 * endpoints (helpers/google.ts, checking requests as Google documents them), with the emulator as
 * the BigQuery upstream behind a proxy that can fail on purpose. Through the real SDK and `bq`:
 * the per-user (federated) token runs the query while the gateway's own token reads the catalog;
 * STS is asked once per principal until the token nears expiry; a principal STS refuses falls back
 * to the gateway credential (or its group's service account) or is refused, as configured; 5xx and
 * lost answers are retried without running a job twice; no upstream token or key appears in a
 * response, a log line or an audit event.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startGateway, freePort, auditRequests, apiError, type TestGateway } from './helpers/gateway.ts';
import { startGoogleStandIn, type GoogleStandIn } from './helpers/google.ts';
import { startEmulator, type RunningEmulator, type SeenRequest } from '../src/emulator/index.ts';

const AUDIENCE = '//iam.googleapis.com/projects/123456789/locations/global/workloadIdentityPools/agents/providers/bqgate-oidc';
const ETL_SA = 'etl-runner@demo-project.iam.gserviceaccount.com';
const REPORT_SA = 'report-runner@demo-project.iam.gserviceaccount.com';

/** A pass-through proxy to the emulator that can answer 503 instead, before or after forwarding. */
interface FaultyProxy { url: string; fail(n: number, match: RegExp, mode: 'before' | 'after'): void; close(): Promise<void> }
async function startFaultyProxy(target: string): Promise<FaultyProxy> {
  const faults: Array<{ n: number; match: RegExp; mode: 'before' | 'after' }> = [];
  const port = await freePort();
  const server: Server = createServer(async (req, res) => {
    let body = '';
    for await (const d of req) body += d;
    const key = `${req.method} ${req.url}`;
    const f = faults.find((x) => x.n > 0 && x.match.test(key));
    if (f?.mode === 'before') { f.n--; res.writeHead(503, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 503, message: 'The service is currently unavailable.', errors: [{ reason: 'backendError', message: 'The service is currently unavailable.' }] } })); return; }
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string' && !['host', 'content-length', 'connection'].includes(k)) headers[k] = v;
    const r = await fetch(target + req.url, { method: req.method, headers, body: req.method === 'GET' ? undefined : body });
    const text = await r.text();
    if (f?.mode === 'after') { f.n--; res.writeHead(503).end('{"error":{"code":503,"message":"lost"}}'); return; }
    res.writeHead(r.status, { 'content-type': 'application/json' }).end(text);
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
  return { url: `http://127.0.0.1:${port}`, fail: (n, match, mode) => faults.push({ n, match, mode }), close: () => new Promise((r) => server.close(() => r())) };
}

let emu: RunningEmulator;
const seen: SeenRequest[] = [];
let proxy: FaultyProxy;
let google: GoogleStandIn;
let gw: TestGateway;
let strict: TestGateway;

beforeAll(async () => {
  // A stand-in for BigQuery: it accepts any token, so the test can see which one reached it.
  emu = await startEmulator({ fixturesDir: resolve('fixtures'), port: 0, secret: null, onRequest: (r) => seen.push(r) });
  proxy = await startFaultyProxy(emu.url);
  const port = await freePort();
  google = await startGoogleStandIn({ audience: AUDIENCE, jwksUrl: `http://127.0.0.1:${port}/.well-known/jwks.json`, refuse: ['untrusted', 'etl-untrusted', 'report-untrusted'] });
  google.stsExpiresIn = 3;
  const dir = mkdtempSync(join(tmpdir(), 'bqgate-creds-'));
  const common = {
    BQGATE_UPSTREAM: proxy.url, BQGATE_CREDENTIALS: google.serviceAccountKey(dir), BQGATE_GOOGLE_ENDPOINTS: google.endpoints,
    BQGATE_FEDERATION_AUDIENCE: AUDIENCE, BQGATE_FEDERATION_REFRESH_BEFORE_MS: '1000', BQGATE_QUOTA_PROJECT: 'billing-project',
    BQGATE_LOG_LEVEL: 'info',
  };
  // The demo policy plus a rule whose jobs run as a service account of their own.
  const policies = mkdtempSync(join(tmpdir(), 'bqgate-policies-'));
  writeFileSync(join(policies, 'demo.yaml'), readFileSync('policies/demo.yaml', 'utf8'));
  writeFileSync(join(policies, 'reporting.yaml'), `version: 1
rules:
  - id: reporting-reads-orders
    effect: allow
    principals: { groups: [reporting] }
    verbs: [SELECT]
    tables: ["demo-project.shop.orders"]
    upstream_service_account: ${REPORT_SA}
`);
  gw = await startGateway({ port, env: { ...common, BQGATE_POLICIES: policies, BQGATE_FEDERATION_FALLBACK: 'gateway', BQGATE_IMPERSONATE_BY_GROUP: `etl-agents=${ETL_SA}` } });
  // A second gateway that refuses when federation fails; its callers' tokens come from its own issuer.
  const port2 = await freePort();
  strict = await startGateway({ port: port2, env: { ...common, BQGATE_FEDERATION_FALLBACK: 'refuse' } });
}, 120_000);
afterAll(async () => { await gw?.stop(); await strict?.stop(); await proxy?.close(); await google?.close(); await emu?.close(); });

/** The bearer tokens the emulator saw for requests matching `re` since `from`. */
const tokensFor = (re: RegExp, from = 0) => seen.slice(from).filter((r) => re.test(`${r.method} ${r.url}`)).map((r) => r.authorization?.replace(/^Bearer /, '') ?? '');
const isGateway = (t: string) => google.calls.some((c) => c.endpoint === 'oauth2' && c.issued === t);
const stsCalls = (sub: string) => google.calls.filter((c) => c.endpoint === 'sts' && c.issued?.startsWith(`ya29.fed-${sub}-`));

describe('credentials upstream', () => {
  it('runs the query with the caller\'s federated token and reads the catalog with the gateway\'s', async () => {
    const from = seen.length;
    const token = await gw.token({ sub: 'fed-analyst', groups: ['analysts'] });
    const [rows] = await gw.sdk(token).query({ query: 'SELECT order_id, status FROM shop.orders ORDER BY order_id LIMIT 3', useLegacySql: false });
    expect(rows).toHaveLength(3);

    // STS got exactly what Google documents for Workload Identity Federation, with the caller's token.
    const [sts] = stsCalls('fed-analyst');
    expect(sts.form).toMatchObject({
      grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange', audience: AUDIENCE,
      requested_token_type: 'urn:ietf:params:oauth:token-type:access_token', subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
      subject_token: token,
    });
    // The gateway's own token came from a service-account JWT bearer grant.
    expect(google.calls.find((c) => c.endpoint === 'oauth2' && c.status === 200)?.form?.grant_type).toBe('urn:ietf:params:oauth:grant-type:jwt-bearer');

    const catalog = tokensFor(/^GET .*\/tables\/orders$/, from);
    const queries = tokensFor(/^(POST .*\/queries|GET .*\/queries\/)/, from);
    expect(catalog.length).toBeGreaterThan(0);
    expect(catalog.every(isGateway)).toBe(true);
    expect(queries.length).toBeGreaterThan(0);
    expect(queries.every((t) => t === sts.issued)).toBe(true);
    // The caller's own token never reached BigQuery; the quota project did.
    expect(seen.slice(from).some((r) => r.authorization?.includes(token))).toBe(false);
    expect(seen.slice(from).every((r) => r.userProject === 'billing-project')).toBe(true);
  });

  it('asks STS once per principal while the token is fresh, and again once it nears expiry', async () => {
    const token = await gw.token({ sub: 'fed-cache', groups: ['analysts'] });
    const sdk = gw.sdk(token);
    const q = () => sdk.query({ query: 'SELECT 1 AS one FROM shop.orders LIMIT 1', useLegacySql: false });
    await q();
    await q();
    expect(stsCalls('fed-cache')).toHaveLength(1);
    // Issued for 3 s, refreshed 1 s ahead: after 2.2 s the next query exchanges again.
    await new Promise((r) => setTimeout(r, 2200));
    const from = seen.length;
    await q();
    const calls = stsCalls('fed-cache');
    expect(calls).toHaveLength(2);
    expect(tokensFor(/^POST .*\/queries/, from)).toEqual([calls[1].issued]);
  });

  it('falls back to the gateway credential, or to the group\'s service account, when STS refuses the principal', async () => {
    const from = seen.length;
    const analyst = await gw.token({ sub: 'untrusted', groups: ['analysts'] });
    await gw.sdk(analyst).query({ query: 'SELECT order_id FROM shop.orders LIMIT 1', useLegacySql: false });
    expect(tokensFor(/^POST .*\/queries/, from).every(isGateway)).toBe(true);

    const from2 = seen.length;
    const etl = await gw.token({ sub: 'etl-untrusted', groups: ['etl-agents'] });
    await gw.sdk(etl).query({ query: 'SELECT order_id FROM shop.orders LIMIT 1', useLegacySql: false });
    const imp = google.calls.filter((c) => c.endpoint === 'iamcredentials');
    expect(imp.length).toBeGreaterThan(0);
    expect(imp[0].body).toMatchObject({ scope: ['https://www.googleapis.com/auth/bigquery'] });
    expect(isGateway(imp[0].authorization!.replace(/^Bearer /, ''))).toBe(true);
    const used = tokensFor(/^(POST .*\/queries|GET .*\/queries\/)/, from2);
    expect(used.length).toBeGreaterThan(0);
    expect(used.every((t) => t.startsWith('ya29.imp-etl-runner-'))).toBe(true);

    // An allow rule that names a service account: its statements run as that account.
    const from3 = seen.length;
    const reporter = await gw.token({ sub: 'report-untrusted', groups: ['reporting'] });
    await gw.sdk(reporter).query({ query: 'SELECT order_id FROM shop.orders LIMIT 1', useLegacySql: false });
    const byRule = tokensFor(/^(POST .*\/queries|GET .*\/queries\/)/, from3);
    expect(byRule.length).toBeGreaterThan(0);
    expect(byRule.every((t) => t.startsWith('ya29.imp-report-runner-'))).toBe(true);
  });

  it('re-executes a recorded query with the credential its job ran with, or says why not', async () => {
    const auditor = await gw.token({ sub: 'investigator', groups: ['auditors'] });
    const recorded = await auditRequests(gw.dataDir);
    const reexecute = async (principal: string) => {
      const rec = recorded.filter((r) => r.principal === principal && r.sql && r.decision?.effect === 'allow').at(0)!;
      const from = seen.length;
      const r = await fetch(`${gw.url}/bqgate/v1/audit/requests/${rec.requestId}/reexecute`, { method: 'POST', headers: { authorization: `Bearer ${auditor}` } });
      return { status: r.status, body: await r.json() as any, tokens: tokensFor(/^(POST .*\/queries|GET .*\/queries\/)/, from) };
    };
    // The ETL agent's job ran as its group's service account: so does the re-execution.
    const etl = await reexecute('etl-untrusted');
    expect(etl.status).toBe(200);
    expect(etl.body.verdict).toBe('match');
    expect(etl.body.credential).toEqual({ identity: `sa:${ETL_SA}`, original: `sa:${ETL_SA}` });
    expect(etl.tokens.length).toBeGreaterThan(0);
    expect(etl.tokens.every((t) => t.startsWith('ya29.imp-etl-runner-'))).toBe(true);
    // A job that ran with the analyst's federated token: this replica still holds the exchange, so it is used again.
    const fed = await reexecute('fed-analyst');
    expect(fed.status).toBe(200);
    expect(fed.body.credential).toMatchObject({ identity: 'user', original: 'user' });
    expect(fed.tokens.every((t) => t.startsWith('ya29.fed-fed-analyst-'))).toBe(true);
    // The investigator's own token never went upstream.
    expect(seen.some((r) => r.authorization?.includes(auditor))).toBe(false);
  });

  it('refuses when configured to, with a message an agent can act on, in the SDK and in bq', async () => {
    const from = seen.length;
    const token = await strict.token({ sub: 'untrusted', groups: ['analysts'] });
    const e = await apiError(strict.sdk(token).query({ query: 'SELECT order_id FROM shop.orders LIMIT 1', useLegacySql: false }));
    expect(e.errors?.[0].reason).toBe('accessDenied');
    expect(e.message).toMatch(/could not obtain a BigQuery credential for untrusted through Workload Identity Federation \(STS: HTTP 400 invalid_grant/);
    expect(tokensFor(/^POST .*\/(queries|jobs)$/, from)).toEqual([]);
    const bq = await strict.bq(token, ['query', '--nouse_legacy_sql', 'SELECT order_id FROM shop.orders LIMIT 1']);
    expect(bq.code).not.toBe(0);
    expect((bq.stdout + bq.stderr).replace(/\s+/g, ' ')).toMatch(/Access Denied: bqgate could not obtain a BigQuery credential for untrusted/);
  });

  it('retries 503s and lost answers without running any job twice', async () => {
    const token = await gw.token({ sub: 'fed-retry', groups: ['analysts'] });
    const sdk = gw.sdk(token);
    // jobs.insert: the first attempt reaches the emulator but its answer is lost; the retry meets 409.
    proxy.fail(1, /^POST .*\/jobs$/, 'after');
    proxy.fail(2, /^GET .*\/queries\//, 'before');
    const from = seen.length;
    const [job] = await sdk.createQueryJob({ query: 'SELECT order_id FROM shop.orders ORDER BY order_id LIMIT 2', useLegacySql: false });
    const [rows] = await job.getQueryResults();
    expect(rows.map((r: any) => r.order_id)).toEqual([1, 2]);
    const inserts = seen.slice(from).filter((r) => r.method === 'POST' && /\/jobs$/.test(r.url) && !r.body?.configuration?.dryRun);
    expect(inserts).toHaveLength(2);
    expect(inserts[1].body.jobReference.jobId).toBe(inserts[0].body.jobReference.jobId);

    // jobs.query: the first answer is lost; the retry carries the same requestId and gets the same job.
    proxy.fail(1, /^POST .*\/queries$/, 'after');
    const from2 = seen.length;
    const [again] = await sdk.query({ query: 'SELECT order_id FROM shop.orders ORDER BY order_id LIMIT 1', useLegacySql: false });
    expect(again).toHaveLength(1);
    const posts = seen.slice(from2).filter((r) => r.method === 'POST' && /\/queries$/.test(r.url) && !r.body?.dryRun);
    expect(posts).toHaveLength(2);
    expect(posts[1].body.requestId).toBe(posts[0].body.requestId);
    const list = await fetch(`${emu.url}/bigquery/v2/projects/demo-project/jobs`).then((r) => r.json()) as any;
    const label = posts[0].body.labels.bqgate_request;
    expect(list.jobs.filter((j: any) => j.configuration?.labels?.bqgate_request === label)).toHaveLength(1);
    expect(gw.output()).toMatch(/upstream call retried/);
  });

  it('never lets an upstream token or key into a response, a log line or an audit event', async () => {
    const token = await gw.token({ sub: 'fed-leak', groups: ['analysts'] });
    const r = await fetch(`${gw.url}/bigquery/v2/projects/demo-project/queries`, {
      method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ query: 'SELECT order_id FROM shop.orders LIMIT 1', useLegacySql: false }),
    });
    const answer = JSON.stringify([...r.headers]) + await r.text();
    const refused = await fetch(`${strict.url}/bigquery/v2/projects/demo-project/queries`, {
      method: 'POST', headers: { authorization: `Bearer ${await strict.token({ sub: 'untrusted', groups: ['analysts'] })}`, 'content-type': 'application/json' },
      body: JSON.stringify({ query: 'SELECT order_id FROM shop.orders LIMIT 1', useLegacySql: false }),
    }).then((x) => x.text());
    const exports: string[] = [];
    for (const g of [gw, strict]) {
      const file = join(g.dataDir, 'leak-export.jsonl');
      expect((await g.cli(['audit', 'export', '--out', file])).code).toBe(0);
      exports.push(readFileSync(file, 'utf8'));
    }
    const haystack = [answer, refused, gw.output(), strict.output(), ...exports].join('\n');
    expect(google.issued.length).toBeGreaterThan(3);
    for (const t of google.issued) expect(haystack.includes(t)).toBe(false);
    const keyBody = google.privateKeyPem.split('\n')[1];
    expect(haystack.includes(keyBody)).toBe(false);
    expect(haystack).not.toMatch(/ya29\./);
  });
});
