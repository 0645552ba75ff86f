/**
 * The emulator is not a way into the host: a real gateway process with its embedded emulator, and
 * plain `fetch` straight to the emulator's port, as anyone on the machine could send it.
 * - without the per-start secret every request is 401 (BigQuery envelope); the secret is in
 *   `<dataDir>/keys/emulator.secret` (0600) and in no response or log line;
 * - with the secret, statements that read files, attach databases, install or load extensions,
 *   or change settings are refused (and change nothing);
 * - with a declaration (`x-bqgate-declared`), a statement of another kind or over other tables is refused;
 * - cancel interrupts DuckDB; a job time limit stops a statement; maximumBytesBilled is enforced;
 *   one principal's heavy joins queue behind each other instead of stalling another principal.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startGateway, apiError, type TestGateway } from './helpers/gateway.ts';
import { startEmulator, newEmulatorSecret } from '../src/emulator/index.ts';

/** ~10 s of DuckDB work on two cores (a filtered cross join of 20,000 × 20,000 orders). */
const HEAVY = 'SELECT COUNT(*) AS n FROM (SELECT order_id FROM shop.orders WHERE order_id <= 20000) a CROSS JOIN (SELECT order_id FROM shop.orders WHERE order_id <= 20000) b WHERE MOD(a.order_id * b.order_id, 7) = 3';
const SMALL = 'SELECT status FROM shop.orders WHERE order_id = 21';

let gw: TestGateway;
let secret: string;
let analyst: string;
const scratch = mkdtempSync(join(tmpdir(), 'bqgate-emu-sec-'));

beforeAll(async () => {
  gw = await startGateway();
  secret = gw.emulatorSecret();
  analyst = await gw.token({ sub: 'sec-analyst', groups: ['analysts'] });
}, 120_000);
afterAll(async () => { await gw?.stop(); });

/** A request straight to the emulator: with the secret unless `token` says otherwise (null: none). */
async function emu(method: 'GET' | 'POST', path: string, body?: unknown, o: { token?: string | null; declared?: unknown; base?: string } = {}) {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  const token = o.token === undefined ? secret : o.token;
  if (token !== null) headers.authorization = `Bearer ${token}`;
  if (o.declared !== undefined) headers['x-bqgate-declared'] = typeof o.declared === 'string' ? o.declared : Buffer.from(JSON.stringify(o.declared)).toString('base64url');
  const r = await fetch(`${o.base ?? gw.emulatorUrl}/bigquery/v2/projects/demo-project${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  return { status: r.status, text, body: JSON.parse(text) as any, headers: r.headers };
}
const query = (sql: string, extra: Record<string, unknown> = {}, o: Parameters<typeof emu>[3] = {}) => emu('POST', '/queries', { query: sql, useLegacySql: false, timeoutMs: 30_000, ...extra }, o);
const insertJob = (sql: string, extra: Record<string, unknown> = {}, o: Parameters<typeof emu>[3] = {}) => emu('POST', '/jobs', { configuration: { query: { query: sql, useLegacySql: false }, ...extra } }, o);
const jobState = async (jobId: string) => (await emu('GET', `/jobs/${jobId}`)).body;
const reasonOf = (r: { body: any }) => r.body.error?.errors?.[0]?.reason;

async function until(what: () => Promise<boolean>, ms = 20_000) {
  const end = Date.now() + ms;
  while (!(await what())) {
    if (Date.now() > end) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('emulator security', () => {
  it('answers 401 without the per-start secret, in the BigQuery envelope; the secret file is 0600', async () => {
    for (const token of [null, 'emulator', 'bqgate-local-emulator', newEmulatorSecret(), `${secret}x`]) {
      const r = await emu('GET', '/datasets', undefined, { token });
      expect(r.status).toBe(401);
      expect(reasonOf(r)).toBe('authError');
      expect(r.body.error.message).toBe(r.body.error.errors[0].message);
      const q = await query('SELECT 1', {}, { token });
      expect(q.status).toBe(401);
    }
    expect((await emu('GET', '/datasets')).status).toBe(200);
    expect(statSync(join(gw.dataDir, 'keys', 'emulator.secret')).mode & 0o777).toBe(0o600);
  });

  const attacks = (dir: string): Array<[string, string]> => [
    ['read_text', "SELECT * FROM read_text('/etc/passwd')"],
    ['read_csv', "SELECT * FROM read_csv('/etc/passwd')"],
    ['quoted read_text', `SELECT * FROM "read_text"('/etc/passwd')`],
    ['query() around read_text', "SELECT * FROM query('SELECT * FROM read_text(''/etc/passwd'')')"],
    ['glob', "SELECT * FROM glob('/etc/*')"],
    ['a file path as a table (replacement scan)', "SELECT * FROM '/etc/passwd'"],
    ['a file path in backticks', 'SELECT * FROM `/etc/passwd`'],
    ['COPY TO', `COPY (SELECT 1) TO '${dir}/copied.csv'`],
    ['ATTACH', `ATTACH '${dir}/attached.db' AS attached`],
    ['DETACH', 'DETACH "demo-project"'],
    ['INSTALL', 'INSTALL httpfs'],
    ['LOAD', 'LOAD httpfs'],
    ['PRAGMA', 'PRAGMA version'],
    ['SET', 'SET enable_external_access = true'],
    ['RESET', 'RESET threads'],
    ['CALL', 'CALL pragma_version()'],
    ['CHECKPOINT', 'CHECKPOINT'],
    ['EXPORT DATABASE', `EXPORT DATABASE '${dir}/exported'`],
    ['settings', 'SELECT * FROM duckdb_settings()'],
    ['current_setting', "SELECT current_setting('home_directory')"],
  ];

  it('refuses statements that reach the host even with the secret, and they change nothing', async () => {
    for (const [name, sql] of attacks(scratch)) {
      const viaQuery = await query(sql);
      expect(viaQuery.status, `${name}: ${viaQuery.text}`).toBeGreaterThanOrEqual(400);
      expect(['accessDenied', 'invalidQuery', 'notFound']).toContain(reasonOf(viaQuery)); // notFound: a path is no table once external access is off
      expect(viaQuery.text).not.toMatch(/root:x?:0:0/);
      const viaJob = await insertJob(sql);
      const done = viaJob.body.jobReference ? await (async () => { await until(async () => (await jobState(viaJob.body.jobReference.jobId)).status.state === 'DONE'); return jobState(viaJob.body.jobReference.jobId); })() : viaJob.body;
      expect(done.status?.errorResult?.reason ?? reasonOf({ body: done }), `${name} (jobs.insert)`).toMatch(/^(accessDenied|invalidQuery|notFound)$/);
      const dry = await query(sql, { dryRun: true });
      expect(dry.status, `${name} (dry run)`).toBeGreaterThanOrEqual(400);
    }
    // Named refusals for what the translation passes through (not a parse error).
    expect((await query("SELECT * FROM read_text('/etc/passwd')")).body.error.message).toMatch(/read_text/);
    expect((await query('INSTALL httpfs')).body.error.message).toMatch(/does not run INSTALL/);
    for (const f of ['copied.csv', 'attached.db', 'exported']) expect(existsSync(join(scratch, f)), f).toBe(false);
    // The settings are still the locked-down ones.
    expect((await query('SELECT COUNT(*) AS n FROM shop.orders')).body.rows[0].f[0].v).toBe('50000');
  });

  it('runs a declared statement only as declared: same kind, declared tables only', async () => {
    const orders = { statementKind: 'SELECT', tables: ['demo-project.shop.orders'] };
    const other = await query('SELECT email FROM shop.customers LIMIT 1', {}, { declared: orders });
    expect(other.status).toBe(403);
    expect(reasonOf(other)).toBe('accessDenied');
    expect(other.body.error.message).toMatch(/reads demo-project\.shop\.customers, which the gateway did not declare/);
    expect(other.text).not.toMatch(/@/); // no row came back
    const joined = await query('SELECT o.order_id FROM shop.orders o JOIN shop.customers c USING (customer_id) LIMIT 1', {}, { declared: orders });
    expect(joined.status).toBe(403);
    const same = await query(SMALL, {}, { declared: orders });
    expect(same.status).toBe(200);
    expect(same.body.rows).toHaveLength(1);
    // Another kind than declared: refused before anything is written.
    const del = await query('DELETE FROM shop.orders WHERE order_id = 21', {}, { declared: orders });
    expect(del.status).toBe(403);
    expect(del.body.error.message).toMatch(/is a DELETE, but the gateway declared a SELECT/);
    expect((await query(SMALL)).body.rows).toHaveLength(1);
    // jobs.insert and dry runs carry the declaration too.
    const job = await insertJob('SELECT email FROM shop.customers LIMIT 1', {}, { declared: orders });
    await until(async () => (await jobState(job.body.jobReference.jobId)).status.state === 'DONE');
    expect((await jobState(job.body.jobReference.jobId)).status.errorResult.reason).toBe('accessDenied');
    expect((await query('SELECT email FROM shop.customers', { dryRun: true }, { declared: orders })).status).toBe(403);
    expect(reasonOf(await query(SMALL, {}, { declared: 'not-json' }))).toBe('invalid');
  });

  it('enforces maximumBytesBilled from the bytes scanned, with BigQuery\'s message', async () => {
    // order_id INT64 (8) + amount NUMERIC (16) over 50,000 rows: 1,200,000 bytes, billed at least 10 MiB.
    const sql = 'SELECT order_id, amount FROM shop.orders WHERE order_id < 10';
    // The job fails at once (the SDK reports a job's errorResult when creating it, else when reading its results).
    const e = await apiError(gw.sdk(analyst).createQueryJob({ query: sql, useLegacySql: false, maximumBytesBilled: '1000' }).then(([j]) => j.getQueryResults()));
    expect(e.message).toBe('Query exceeded limit for bytes billed: 1000. 10485760 or higher required.');
    expect(e.errors?.[0]?.reason).toBe('bytesBilledLimitExceeded');
    const [enough] = await gw.sdk(analyst).createQueryJob({ query: sql, useLegacySql: false, maximumBytesBilled: '10485760' });
    const [rows] = await enough.getQueryResults();
    expect(rows).toHaveLength(9);
    const up = await jobState(gw.upstreamJobId('sec-analyst', enough.id!)); // upstream, the caller's job id is namespaced per principal
    expect(up.statistics.query.totalBytesProcessed).toBe('1200000');
    expect(up.statistics.query.totalBytesBilled).toBe('10485760');
    const dry = await query(sql, { dryRun: true });
    expect(dry.body.totalBytesProcessed).toBe('1200000');
  });

  it('cancel interrupts DuckDB: the principal\'s next statement starts at once instead of after the join', async () => {
    const sdk = gw.sdk(analyst);
    const smallAfter = async () => { const t = performance.now(); await sdk.query({ query: SMALL, useLegacySql: false }); return performance.now() - t; };
    const running = async (id: string) => until(async () => (await jobState(id)).status.state === 'RUNNING');
    // Control: the same principal's small query waits for its running join (one statement per principal).
    const [control] = await sdk.createQueryJob({ query: HEAVY, useLegacySql: false });
    await running(gw.upstreamJobId('sec-analyst', control.id!));
    const waited = await smallAfter();
    // Cancelled: the join is interrupted, the slot frees, the small query runs.
    const [job] = await sdk.createQueryJob({ query: HEAVY, useLegacySql: false });
    await running(gw.upstreamJobId('sec-analyst', job.id!));
    const [cancelled] = await job.cancel();
    const prompt = await smallAfter();
    console.log(`small query after a running join: ${waited.toFixed(0)} ms; after cancelling the join: ${prompt.toFixed(0)} ms`);
    expect(prompt).toBeLessThan(waited / 2);
    const up = await jobState(gw.upstreamJobId('sec-analyst', job.id!));
    expect(up.status.errorResult.reason).toBe('stopped');
    expect(JSON.stringify(cancelled)).not.toContain(secret);
  }, 120_000);

  it('stops a statement at its time limit (reason timeout)', async () => {
    const own = newEmulatorSecret();
    const solo = await startEmulator({ fixturesDir: resolve('fixtures'), port: 0, secret: own, statementTimeoutMs: 1500 });
    try {
      // HEAVY completes without a limit (the fairness test below runs it to the end): the reason
      // and message are the behaviour; how long the stop took is the machine's, not asserted.
      const r = await query(HEAVY, {}, { base: solo.url, token: own });
      expect(reasonOf(r)).toBe('timeout');
      expect(r.body.error.message).toMatch(/timed out after 1500 ms/);
      // A job's own jobTimeoutMs, shorter than the statement timeout, applies too (the gateway's emulator).
      const j = await insertJob(HEAVY, { jobTimeoutMs: '1000' });
      await until(async () => (await jobState(j.body.jobReference.jobId)).status.state === 'DONE', 15_000);
      const done = await jobState(j.body.jobReference.jobId);
      expect(done.status.errorResult.reason).toBe('timeout');
      expect(done.status.errorResult.message).toMatch(/1000 ms/);
    } finally { await solo.close(); }
  }, 60_000);

  it('one principal\'s heavy joins wait their turn instead of stalling another principal', async () => {
    const heavy = await Promise.all([1, 2, 3, 4].map(() => insertJob(HEAVY, { labels: { bqgate_principal: 'heavy-agent' } })));
    const ids = heavy.map((h) => h.body.jobReference.jobId as string);
    await until(async () => (await Promise.all(ids.map(jobState))).some((j) => j.status.state === 'RUNNING'));
    const states = (await Promise.all(ids.map(jobState))).map((j) => j.status.state).sort();
    expect(states).toEqual(['PENDING', 'PENDING', 'PENDING', 'RUNNING']);
    const latency: Record<string, number> = {};
    for (const who of ['light-agent', 'other-agent']) {
      const t = performance.now();
      const r = await query(SMALL, { labels: { bqgate_principal: who } });
      latency[who] = performance.now() - t;
      expect(r.body.rows).toHaveLength(1);
    }
    const t = performance.now();
    await gw.sdk(await gw.token({ sub: 'light-analyst', groups: ['analysts'] })).query({ query: SMALL, useLegacySql: false });
    latency['light-analyst via the gateway'] = performance.now() - t;
    console.log(`small query latency while heavy-agent has 4 joins (1 running, 3 queued): ${JSON.stringify(Object.fromEntries(Object.entries(latency).map(([k, v]) => [k, Math.round(v)])))} ms`);
    // The other principals' queries finished while heavy-agent's joins were still queued: they did
    // not wait behind them (unbounded, the fourth join stalled every caller for ~14.5 s on a 2-core
    // machine). An ordering, not a time limit: it holds however loaded the machine is.
    const after = (await Promise.all(ids.map(jobState))).map((j) => j.status.state);
    expect(after.filter((s) => s === 'PENDING').length).toBeGreaterThan(0);
    // Cancelling queued jobs takes them out of the queue; the running one is interrupted; the
    // heavy principal's next statement then runs.
    for (const id of ids) await emu('POST', `/jobs/${id}/cancel`);
    const next = await query(SMALL, { labels: { bqgate_principal: 'heavy-agent' } });
    expect(next.body.rows).toHaveLength(1);
    for (const id of ids) expect((await jobState(id)).status.errorResult.reason).toBe('stopped');
  }, 120_000);

  it('never shows the secret to gateway callers or in the gateway\'s log', async () => {
    const [job] = await gw.sdk(analyst).createQueryJob({ query: SMALL, useLegacySql: false });
    const [meta] = await job.getMetadata();
    expect(JSON.stringify(meta)).not.toContain(secret);
    expect(gw.output()).not.toContain(secret);
  });
});
