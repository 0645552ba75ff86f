/**
 * The main job end to end (issue 2): the real @google-cloud/bigquery SDK and the real `bq` CLI
 * against a real gateway process, its embedded DuckDB emulator and the ZetaSQL analyzer.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPair, SignJWT } from 'jose';
import { startGateway, auditRequests, type TestGateway } from './helpers/gateway.ts';
import { sessionsOf } from '../src/audit/index.ts';

let gw: TestGateway;
let analyst: string;
let support: string;
let outsider: string;

beforeAll(async () => {
  gw = await startGateway();
  analyst = await gw.token({ sub: 'agent-7', groups: ['analysts'], act: { sub: 'reporting-bot' } });
  support = await gw.token({ sub: 'support-1', groups: ['support'] });
  outsider = await gw.token({ sub: 'stranger', groups: ['marketing'] });
});
afterAll(async () => { await gw?.stop(); });

/** Rejection of a promise, as the SDK's ApiError. */
async function apiError(p: Promise<unknown>): Promise<{ code?: number; message: string; errors?: Array<{ reason: string; message: string }> }> {
  try { await p; } catch (err) { return err as never; }
  throw new Error('expected the call to fail');
}

/** The raw rows, straight from the emulator, for comparison with what the gateway delivered. */
async function raw(sql: string) {
  const [rows] = await gw.emulatorSdk().query({ query: sql, useLegacySql: false });
  return rows as Array<Record<string, any>>;
}

describe('SDK through the gateway', () => {
  it('masks email and card number for an analyst (EMAIL_MASK, LAST_FOUR_CHARACTERS)', async () => {
    const [rows] = await gw.sdk(analyst).query({ query: 'SELECT customer_id, email, card_number FROM shop.customers ORDER BY customer_id LIMIT 5', useLegacySql: false });
    const truth = await raw('SELECT customer_id, email, card_number FROM shop.customers ORDER BY customer_id LIMIT 5');
    expect(rows).toHaveLength(5);
    rows.forEach((r: any, i: number) => {
      expect(r.customer_id).toBe(truth[i].customer_id);
      expect(r.email).toBe('XXXXX' + truth[i].email.slice(truth[i].email.indexOf('@')));
      expect(r.card_number).toBe('XXXXX' + truth[i].card_number.slice(-4));
      expect(r.email).not.toBe(truth[i].email);
    });
  });

  it('the spec query without ORDER BY returns 5 masked rows', async () => {
    const [rows] = await gw.sdk(analyst).query({ query: 'SELECT customer_id, email, card_number FROM shop.customers LIMIT 5', useLegacySql: false });
    expect(rows).toHaveLength(5);
    for (const r of rows) {
      expect(r.email).toMatch(/^XXXXX@[^@]+$/);
      expect(r.card_number).toMatch(/^XXXXX\d{4}$/);
    }
  });

  it('masks at the scan: a predicate on the raw email value matches nothing', async () => {
    const [first] = await raw('SELECT email FROM shop.customers WHERE customer_id = 1');
    const [rows] = await gw.sdk(analyst).query({ query: 'SELECT customer_id FROM shop.customers WHERE email = @e', params: { e: first.email }, useLegacySql: false });
    expect(rows).toHaveLength(0);
    const [masked] = await gw.sdk(analyst).query({ query: 'SELECT count(*) AS n FROM shop.customers WHERE STARTS_WITH(email, "XXXXX@")', useLegacySql: false });
    expect(masked[0].n).toBe(10_000);
  });

  it('applies SHA256 and DATE_YEAR_MASK', async () => {
    const [rows] = await gw.sdk(analyst).query({ query: 'SELECT full_name, birth_date FROM shop.customers WHERE customer_id = 1', useLegacySql: false });
    const [truth] = await raw('SELECT full_name, birth_date FROM shop.customers WHERE customer_id = 1');
    const { createHash } = await import('node:crypto');
    expect(rows[0].full_name).toBe(createHash('sha256').update(truth.full_name).digest('hex'));
    expect(rows[0].birth_date.value).toBe(truth.birth_date.value.slice(0, 4) + '-01-01');
  });

  it('refuses ssn for an analyst with accessDenied naming the rule and column', async () => {
    const e = await apiError(gw.sdk(analyst).query({ query: 'SELECT ssn FROM shop.customers LIMIT 5', useLegacySql: false }));
    expect(e.code).toBe(403);
    expect(e.errors?.[0].reason).toBe('accessDenied');
    expect(e.message).toContain('analysts-deny-ssn');
    expect(e.message).toContain('demo-project.shop.customers.ssn');
  });

  it('refuses ssn used only in a predicate, and SELECT * (whole row)', async () => {
    for (const q of ['SELECT customer_id FROM shop.customers WHERE ssn LIKE "0%"', 'SELECT * FROM shop.customers LIMIT 1', 'SELECT TO_JSON_STRING(c) FROM shop.customers c LIMIT 1']) {
      const e = await apiError(gw.sdk(analyst).query({ query: q, useLegacySql: false }));
      expect(e.errors?.[0].reason, q).toBe('accessDenied');
    }
  });

  it('masks inside whole-row values once the denied column is excluded', async () => {
    const [rows] = await gw.sdk(analyst).query({ query: 'SELECT TO_JSON_STRING(c) AS j FROM (SELECT * EXCEPT (ssn) FROM shop.customers) AS c ORDER BY c.customer_id LIMIT 1', useLegacySql: false });
    const [truth] = await raw('SELECT email FROM shop.customers WHERE customer_id = 1');
    expect(rows[0].j).toContain('XXXXX@');
    expect(rows[0].j).not.toContain(truth.email);
  });

  it('queries wildcard tables with _TABLE_SUFFIX', async () => {
    const [rows] = await gw.sdk(analyst).query({ query: "SELECT _TABLE_SUFFIX AS day, COUNT(*) AS n FROM `demo-project.shop.events_*` WHERE _TABLE_SUFFIX >= '20261106' GROUP BY day ORDER BY day", useLegacySql: false });
    expect(rows).toEqual([{ day: '20261106', n: 4000 }, { day: '20261107', n: 4000 }]);
    const e = await apiError(gw.sdk(analyst).query({ query: 'SELECT email FROM `demo-project.shop.customers*`', useLegacySql: false }));
    expect(e.errors?.[0].reason).toBe('accessDenied');
  });

  it('redacts card numbers and emails in undeclared result columns (backstop) and flags them in the audit', async () => {
    const [rows] = await gw.sdk(analyst).query({ query: "SELECT CONCAT('paid with ', '4111111111111111') AS note, 'ops@example.com' AS contact, order_id FROM shop.orders WHERE order_id = 1", useLegacySql: false });
    expect(rows).toEqual([{ note: 'paid with XXXXX1111', contact: 'XXXXX@example.com', order_id: 1 }]);
    const rec = (await auditRequests(gw.dataDir)).find((r) => r.principal === 'agent-7' && r.sql?.startsWith("SELECT CONCAT('paid with '"));
    expect(rec?.deliveries[0].detections).toEqual({ card: 1, email: 1 });
    const [declared] = await gw.sdk(support).query({ query: 'SELECT email FROM shop.customers WHERE customer_id = 1', useLegacySql: false });
    expect(declared[0].email).not.toMatch(/^XXXXX/); // declared clear for support: not second-guessed
  });

  it('decides scripts statement by statement', async () => {
    const e = await apiError(gw.sdk(analyst).query({ query: 'DECLARE x STRING; SET x = (SELECT ssn FROM shop.customers LIMIT 1); SELECT x;', useLegacySql: false }));
    expect(e.code).toBe(403);
    expect(e.message).toContain('analysts-deny-ssn');
    const w = await apiError(gw.sdk(analyst).query({ query: 'SELECT 1; DELETE FROM shop.orders WHERE TRUE', useLegacySql: false }));
    expect(w.message).toContain('analysts-no-writes');
    // Allowed by the policy and masked; the emulator runs the script statement by statement (src/emulator/script.ts).
    const [ok] = await gw.sdk(analyst).query({ query: 'DECLARE x STRING; SET x = (SELECT MAX(email) FROM shop.customers); SELECT x;', useLegacySql: false });
    expect(ok[0].x).toMatch(/^XXXXX@/);
    const rec = (await auditRequests(gw.dataDir)).find((r) => r.principal === 'agent-7' && r.sql?.startsWith('DECLARE x STRING; SET x = (SELECT MAX(email)'));
    expect(rec?.decision?.effect).toBe('allow');
    expect(rec?.upstream?.sql).toContain("CONCAT('XXXXX'");
    // The keyed hash's pads (the HMAC key XOR ipad/opad) never reach the audit log.
    const [phones] = await gw.sdk(analyst).query({ query: 'SELECT phone FROM shop.customers WHERE customer_id = 1', useLegacySql: false });
    expect(phones[0].phone).toMatch(/^[0-9a-f]{64}$/);
    const hmac = (await auditRequests(gw.dataDir)).find((r) => r.sql === 'SELECT phone FROM shop.customers WHERE customer_id = 1');
    expect(hmac?.upstream?.sql).toContain("SHA256(FROM_HEX('<redacted>')");
    const { readFileSync } = await import('node:fs');
    const key = readFileSync(`${gw.dataDir}/keys/hmac.key`, 'utf8').trim();
    const ipad = Buffer.from(Buffer.from(key, 'hex').map((b) => b ^ 0x36)).toString('hex');
    expect(JSON.stringify(await auditRequests(gw.dataDir))).not.toContain(ipad.slice(0, 32));
  });

  it('denies writes for an analyst', async () => {
    const e = await apiError(gw.sdk(analyst).query({ query: 'DELETE FROM shop.orders WHERE order_id = 1', useLegacySql: false }));
    expect(e.errors?.[0].reason).toBe('accessDenied');
    expect(e.message).toContain('analysts-no-writes');
  });

  it('denies a principal no rule allows (default deny)', async () => {
    const e = await apiError(gw.sdk(outsider).query({ query: 'SELECT order_id FROM shop.orders LIMIT 1', useLegacySql: false }));
    expect(e.code).toBe(403);
    expect(e.message).toContain('default deny');
  });

  it('shows support the email in the clear and the ssn as last four', async () => {
    const [rows] = await gw.sdk(support).query({ query: 'SELECT email, ssn FROM shop.customers WHERE customer_id IN (1, 2) ORDER BY customer_id', useLegacySql: false });
    const truth = await raw('SELECT email, ssn FROM shop.customers WHERE customer_id IN (1, 2) ORDER BY customer_id');
    expect(rows.map((r: any) => r.email)).toEqual(truth.map((r) => r.email));
    expect(rows.map((r: any) => r.ssn)).toEqual(truth.map((r) => 'XXXXX' + r.ssn.slice(-4)));
  });

  it('applies row filters: EU support sees EU customers only, with masks', async () => {
    const eu = await gw.token({ sub: 'eu-1', groups: ['eu-support'] });
    const [rows] = await gw.sdk(eu).query({ query: 'SELECT country, COUNT(*) AS n FROM shop.customers GROUP BY country ORDER BY country', useLegacySql: false });
    expect(rows.map((r: any) => r.country)).toEqual(['DE', 'ES', 'FR', 'IT', 'NL']);
    const truth = await raw("SELECT COUNT(*) AS n FROM shop.customers WHERE country IN ('DE', 'FR', 'NL', 'ES', 'IT')");
    expect(rows.reduce((a: number, r: any) => a + r.n, 0)).toBe(truth[0].n);
    const [one] = await gw.sdk(eu).query({ query: "SELECT ssn, email FROM shop.customers WHERE country = 'US' OR TRUE LIMIT 5", useLegacySql: false });
    expect(one.every((r: any) => r.ssn === null && /^XXXXX@/.test(r.email))).toBe(true);
    const [us] = await gw.sdk(eu).query({ query: "SELECT COUNT(*) AS n FROM shop.customers WHERE country = 'US'", useLegacySql: false });
    expect(us[0].n).toBe(0);
  });

  it('answers 401 to an expired, wrong-audience, foreign-signed or missing token', async () => {
    const expired = await gw.token({ sub: 'agent-7', groups: ['analysts'] }, { ttlSec: -120 });
    const wrongAud = await gw.token({ sub: 'agent-7', groups: ['analysts'] }, { audience: 'someone-else' });
    const { privateKey } = await generateKeyPair('ES256');
    const forged = await new SignJWT({ groups: ['analysts'] }).setProtectedHeader({ alg: 'ES256' }).setIssuer(gw.url).setAudience('bqgate')
      .setSubject('agent-7').setIssuedAt().setExpirationTime('1h').sign(privateKey);
    for (const t of [expired, wrongAud, forged]) {
      const e = await apiError(gw.sdk(t).query({ query: 'SELECT 1', useLegacySql: false }));
      expect(e.code).toBe(401);
      expect(e.errors?.[0].reason).toBe('authError');
    }
    const r = await fetch(`${gw.url}/bigquery/v2/projects/demo-project/queries`, { method: 'POST', body: '{"query":"SELECT 1"}' });
    expect(r.status).toBe(401);
    expect((await r.json()).error.errors[0].reason).toBe('authError');
  });

  it('refuses unparseable SQL with invalidQuery', async () => {
    const e = await apiError(gw.sdk(analyst).query({ query: 'SELEC customer_id FROM shop.customers', useLegacySql: false }));
    expect(e.code).toBe(400);
    expect(e.errors?.[0].reason).toBe('invalidQuery');
  });

  it("does not let a second principal read the first one's job", async () => {
    const [job] = await gw.sdk(analyst).createQueryJob({ query: 'SELECT order_id FROM shop.orders LIMIT 3', useLegacySql: false });
    const [rows] = await job.getQueryResults();
    expect(rows).toHaveLength(3);
    const other = await gw.token({ sub: 'agent-8', groups: ['analysts'] });
    const stolen = gw.sdk(other).job(job.id!, { location: 'US' });
    const e1 = await apiError(stolen.getQueryResults());
    expect(e1.code).toBe(404);
    expect(e1.errors?.[0].reason).toBe('notFound');
    const e2 = await apiError(stolen.getMetadata());
    expect(e2.code).toBe(404);
    const [mine] = await gw.sdk(other).getJobs();
    expect(mine.map((j) => j.id)).not.toContain(job.id);
    const [theirs] = await gw.sdk(analyst).getJobs();
    expect(theirs.map((j) => j.id)).toContain(job.id);
  });

  it('stamps upstream jobs with the principal, actor and audit record id', async () => {
    const [job] = await gw.sdk(analyst).createQueryJob({ query: 'SELECT order_id FROM shop.orders LIMIT 1', useLegacySql: false, labels: { team: 'bi' } });
    const [upstream] = await gw.emulatorSdk().job(gw.upstreamJobId('agent-7', job.id!)).getMetadata();
    expect(upstream.configuration.labels).toMatchObject({ team: 'bi', bqgate_principal: 'agent-7', bqgate_actor: 'reporting-bot', bqgate_door: 'rest' });
    const rec = (await auditRequests(gw.dataDir)).find((r) => r.upstream?.jobId === gw.upstreamJobId('agent-7', job.id!) && r.operation === 'jobs.insert');
    expect(upstream.configuration.labels.bqgate_request).toBe(rec?.requestId);
  });

  it('applies the analysts\' limits: maximumBytesBilled injected, at most 5,000 rows delivered', async () => {
    const [job] = await gw.sdk(analyst).createQueryJob({ query: 'SELECT order_id FROM shop.orders WHERE order_id <= 6000 ORDER BY order_id', useLegacySql: false, maximumBytesBilled: '99999999999' });
    const [upstream] = await gw.emulatorSdk().job(gw.upstreamJobId('agent-7', job.id!)).getMetadata();
    expect(upstream.configuration.query.maximumBytesBilled).toBe('10000000000');
    const [rows] = await job.getQueryResults();
    expect(rows).toHaveLength(5000);
    expect(rows.at(-1).order_id).toBe(5000);
    const pages: number[] = [];
    let next: any = { maxResults: 2000, autoPaginate: false };
    while (next) { const [r, n] = await job.getQueryResults(next); pages.push(r.length); next = n; }
    expect(pages).toEqual([2000, 2000, 1000]);
    const [beyond] = await job.getQueryResults({ startIndex: '5500', maxResults: 10, autoPaginate: false } as any);
    expect(beyond).toHaveLength(0);
  });

  it('pages a multi-page result correctly (pageToken)', async () => {
    const sql = 'SELECT order_id FROM shop.orders WHERE order_id <= 2500 ORDER BY order_id';
    const [all] = await gw.sdk(analyst).query({ query: sql, useLegacySql: false, maxResults: 700 });
    expect(all.map((r: any) => r.order_id)).toEqual(Array.from({ length: 2500 }, (_, i) => i + 1));
    const [job] = await gw.sdk(analyst).createQueryJob({ query: sql, useLegacySql: false });
    const pages: number[][] = [];
    let next: any = { maxResults: 1000, autoPaginate: false };
    while (next) {
      const [rows, nextQuery] = await job.getQueryResults(next);
      pages.push(rows.map((r: any) => r.order_id));
      next = nextQuery;
    }
    expect(pages.map((p) => p.length)).toEqual([1000, 1000, 500]);
    expect(pages.flat()).toEqual(Array.from({ length: 2500 }, (_, i) => i + 1));
  });

  it('serves metadata only for tables the policy covers', async () => {
    const [tables] = await gw.sdk(support).dataset('shop').getTables();
    expect(tables.map((t) => t.id)).toEqual(['customers']);
    const e = await apiError(gw.sdk(support).dataset('shop').table('orders').getMetadata());
    expect(e.code).toBe(403);
  });

  it('shows the schema the caller may know (tables.get) and reads rows to match it (bq head)', async () => {
    const [meta] = await gw.sdk(analyst).dataset('shop').table('customers').getMetadata();
    const names = meta.schema.fields.map((f: any) => f.name);
    expect(names).not.toContain('ssn');
    expect(names).toContain('email');
    expect(meta.schema.fields.find((f: any) => f.name === 'email').description).toContain('EMAIL_MASK');
    const h = await gw.bq(analyst, ['--format=json', 'head', '-n', '3', 'shop.customers']);
    expect(h.code).toBe(0);
    const rows = JSON.parse(h.stdout.slice(h.stdout.indexOf('[')));
    expect(rows).toHaveLength(3);
    expect(rows[0].ssn).toBeUndefined();
    expect(rows[0].email).toMatch(/^XXXXX@/);
    const e = await apiError(gw.sdk(analyst).dataset('shop').table('customers').getRows({ maxResults: 1, selectedFields: 'customer_id,ssn' }));
    expect(e.code).toBe(403);
  });

  it('masks tabledata.list for support (getRows)', async () => {
    const [rows] = await gw.sdk(support).dataset('shop').table('customers').getRows({ maxResults: 3 });
    expect(rows).toHaveLength(3);
    for (const r of rows) expect(r.ssn).toMatch(/^XXXXX\d{4}$/);
  });
});

describe('REST details through the gateway', () => {
  const SLOW_SQL = 'SELECT COUNT(DISTINCT MOD(x * 7919, 1000003)) AS n FROM UNNEST(GENERATE_ARRAY(1, 3000000)) AS x';
  const call = async (token: string, method: string, path: string, body?: unknown) => {
    const r = await fetch(`${gw.url}/bigquery/v2/projects/demo-project${path}`, { method, headers: { authorization: `Bearer ${token}` }, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: r.status, body: await r.json() as any };
  };

  it('long-polls: jobs.query answers jobComplete:false at timeoutMs, getQueryResults waits for the result', async () => {
    const q = await call(analyst, 'POST', '/queries', { query: SLOW_SQL, useLegacySql: false, timeoutMs: 1 });
    expect(q.status).toBe(200);
    expect(q.body.jobComplete).toBe(false);
    const job = q.body.jobReference.jobId;
    const r = await call(analyst, 'GET', `/queries/${job}?timeoutMs=10000`);
    const done = r.body.jobComplete ? r : await call(analyst, 'GET', `/queries/${job}?timeoutMs=10000`);
    expect(done.body.jobComplete).toBe(true);
    expect(done.body.rows[0].f[0].v).toBe('1000003');
  });

  it('cancels the caller\'s own running job only', async () => {
    const q = await call(analyst, 'POST', '/queries', { query: SLOW_SQL, useLegacySql: false, timeoutMs: 1 });
    const job = q.body.jobReference.jobId;
    const other = await gw.token({ sub: 'agent-9', groups: ['analysts'] });
    expect((await call(other, 'POST', `/jobs/${job}/cancel`)).status).toBe(404);
    const c = await call(analyst, 'POST', `/jobs/${job}/cancel`);
    expect(c.status).toBe(200);
    expect(c.body.job.status.state).toBe('DONE');
    expect(c.body.job.configuration.query.query).toBe(SLOW_SQL);
  });

  it('runs a jobs.query retried with the same requestId once', async () => {
    const body = { query: 'SELECT order_id FROM shop.orders ORDER BY order_id LIMIT 2', useLegacySql: false, requestId: 'req-1234' };
    const a = await call(analyst, 'POST', '/queries', body);
    const b = await call(analyst, 'POST', '/queries', body);
    expect(a.body.jobReference.jobId).toBe(b.body.jobReference.jobId);
    expect(b.body.rows).toHaveLength(2);
  });

  it('refuses non-query jobs and unknown methods with an envelope', async () => {
    const ex = await call(analyst, 'POST', '/jobs', { configuration: { extract: { sourceTable: { projectId: 'demo-project', datasetId: 'shop', tableId: 'customers' }, destinationUris: ['gs://demo-exports/c-*.csv'] } } });
    expect(ex.status).toBe(403);
    expect(ex.body.error.errors[0].reason).toBe('accessDenied');
    const exporter = await gw.token({ sub: 'pipeline-1', groups: ['exporters'] });
    const extract = (table: string, uri: string) => call(exporter, 'POST', '/jobs', { configuration: { extract: { sourceTable: { projectId: 'demo-project', datasetId: 'shop', tableId: table }, destinationUris: [uri] } } });
    expect((await extract('orders', 'gs://elsewhere/o-*.csv')).body.error.message).toContain('export_destinations');
    expect((await extract('customers', 'gs://demo-exports/c-*.csv')).status).toBe(403);
    const allowed = await extract('orders', 'gs://demo-exports/o-*.csv');
    // Past the policy, the embedded emulator runs the extract into its local stand-in for gs:// (issue 18).
    expect(allowed.status, JSON.stringify(allowed.body)).toBe(200);
    expect(allowed.body.jobReference?.jobId).toBeTruthy();
    expect(allowed.body.status?.errorResult).toBeUndefined();
    const copy = await call(analyst, 'POST', '/jobs', { configuration: { copy: { sourceTable: { projectId: 'demo-project', datasetId: 'shop', tableId: 'customers' }, destinationTable: { projectId: 'demo-project', datasetId: 'shop', tableId: 'c2' } } } });
    expect(copy.status).toBe(403);
    for (const cfg of [
      { query: { query: 'SELECT 1', useLegacySql: false, tableDefinitions: { ext: { sourceUris: ['gs://b/x.csv'], sourceFormat: 'CSV' } } } },
      { query: { query: 'SELECT 1', useLegacySql: false, userDefinedFunctionResources: [{ inlineCode: 'function f(){}' }] } },
    ]) {
      const r = await call(analyst, 'POST', '/jobs', { configuration: cfg });
      expect(r.status).toBe(403);
    }
    const session = await call(analyst, 'POST', '/queries', { query: 'SELECT 1', useLegacySql: false, createSession: true });
    expect(session.status).toBe(403);
    expect(session.body.error.message).toContain('session mode');
    // Every BigQuery v2 method is routed (issue 18): datasets.delete is decided as DROP, never a 404.
    const drop = await call(analyst, 'DELETE', '/datasets/shop');
    expect(drop.status).toBe(403);
    expect(drop.body.error.errors[0].reason).toBe('accessDenied');
    expect(drop.body.error.message).toContain('analysts-no-writes');
  });

  it('refuses a table-less query from a principal with no allow rules', async () => {
    const r = await call(outsider, 'POST', '/queries', { query: 'SELECT 1', useLegacySql: false });
    expect(r.status).toBe(403);
  });
});

describe('bq CLI through the gateway', () => {
  it('queries with masked rows', async () => {
    const r = await gw.bq(analyst, ['--format=json', 'query', '--nouse_legacy_sql', 'SELECT customer_id, email, card_number FROM shop.customers ORDER BY customer_id LIMIT 5']);
    expect(r.code).toBe(0);
    const rows = JSON.parse(r.stdout.slice(r.stdout.indexOf('[')));
    expect(rows).toHaveLength(5);
    for (const row of rows) {
      expect(row.email).toMatch(/^XXXXX@/);
      expect(row.card_number).toMatch(/^XXXXX\d{4}$/);
    }
  });

  it('prints the refusal for ssn and exits non-zero', async () => {
    const r = await gw.bq(analyst, ['query', '--nouse_legacy_sql', 'SELECT ssn FROM shop.customers LIMIT 5']);
    expect(r.code).not.toBe(0);
    expect(r.stdout + r.stderr).toContain('Access Denied');
    expect(r.stdout + r.stderr).toContain('analysts-deny-ssn');
  });

  it('refuses legacy SQL with a hint', async () => {
    const r = await gw.bq(analyst, ['query', 'SELECT 1']);
    expect(r.code).not.toBe(0);
    expect(r.stdout + r.stderr).toContain('--nouse_legacy_sql');
  });

  it('pages with small pages (--max_rows_per_request) and reads tables with head', async () => {
    const q = await gw.bq(analyst, ['--format=json', '--max_rows_per_request=3', 'query', '--nouse_legacy_sql', '--max_rows=10', 'SELECT order_id FROM shop.orders ORDER BY order_id LIMIT 10']);
    expect(q.code).toBe(0);
    expect(JSON.parse(q.stdout.slice(q.stdout.indexOf('['))).map((r: any) => Number(r.order_id))).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const h = await gw.bq(analyst, ['--format=json', 'head', '-n', '4', 'shop.orders']);
    expect(h.code).toBe(0);
    expect(JSON.parse(h.stdout.slice(h.stdout.indexOf('[')))).toHaveLength(4);
  });

  it('dry-runs a query and lists only the caller\'s own jobs', async () => {
    const d = await gw.bq(analyst, ['query', '--nouse_legacy_sql', '--dry_run', 'SELECT email FROM shop.customers']);
    expect(d.code).toBe(0);
    expect(d.stdout).toContain('Query successfully validated');
    const denied = await gw.bq(analyst, ['query', '--nouse_legacy_sql', '--dry_run', 'SELECT ssn FROM shop.customers']);
    expect(denied.code).not.toBe(0);
    const fresh = await gw.token({ sub: 'agent-fresh', groups: ['analysts'] });
    const ran = await gw.bq(fresh, ['--format=json', 'query', '--nouse_legacy_sql', 'SELECT 1 AS one']);
    expect(ran.code).toBe(0);
    const ls = await gw.bq(fresh, ['--format=json', 'ls', '-j']);
    expect(ls.code).toBe(0);
    const jobs = JSON.parse(ls.stdout.slice(ls.stdout.indexOf('[')));
    expect(jobs).toHaveLength(1);
    expect(jobs[0].user_email).toBe('agent-fresh');
    const projects = await gw.bq(fresh, ['--format=json', 'ls', '-p']);
    expect(JSON.parse(projects.stdout.slice(projects.stdout.indexOf('['))).map((p: any) => p.projectReference.projectId)).toEqual(['demo-project']);
  });

  it('gets 401 with an expired token', async () => {
    const expired = await gw.token({ sub: 'agent-7', groups: ['analysts'] }, { ttlSec: -120 });
    const r = await gw.bq(expired, ['ls']);
    expect(r.code).not.toBe(0);
  });
});

describe('audit', () => {
  it('left a record for every request above, with decision and rules', async () => {
    const requests = await auditRequests(gw.dataDir);
    const agent = requests.filter((r) => r.principal === 'agent-7');
    expect(agent.every((r) => r.response?.status !== undefined && r.response.durationMs >= 0)).toBe(true);
    expect(agent.some((r) => r.actor === 'reporting-bot')).toBe(true);
    const denied = agent.find((r) => r.sql === 'SELECT ssn FROM shop.customers LIMIT 5' && r.decision?.effect === 'deny');
    expect(denied?.decision?.matchedRules).toContain('analysts-deny-ssn');
    expect(denied?.decision?.tables).toEqual(['demo-project.shop.customers']);
    expect(denied?.response?.status).toBe(403);
    const allowed = agent.find((r) => r.operation === 'jobs.query' && r.sql?.startsWith('SELECT customer_id, email, card_number') && r.response?.status === 200);
    expect(allowed?.decision?.effect).toBe('allow');
    expect(allowed?.decision?.matchedRules).toEqual(expect.arrayContaining(['analysts-read-shop', 'analysts-mask-pii']));
    expect(allowed?.deliveries[0].rows).toBe(5);
    expect(allowed?.deliveries[0].sample).toHaveLength(5);
    expect(allowed?.upstream?.sql).toContain("CONCAT('XXXXX'");
    expect(requests.filter((r) => r.principal === '(unauthenticated)' && r.response?.status === 401).length).toBeGreaterThanOrEqual(5);
    expect(requests.some((r) => r.principal === 'support-1' && r.operation === 'tabledata.list')).toBe(true);
    expect(requests.some((r) => r.response?.errorReason === 'invalidQuery')).toBe(true);
    expect(sessionsOf(requests).some((s) => s.principal === 'agent-7' && s.denied > 0)).toBe(true);
  });
});
