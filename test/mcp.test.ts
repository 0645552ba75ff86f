/**
 * The MCP front door (src/doors/mcp/) with the official MCP TypeScript client over real HTTP against a
 * real gateway process: once pinned to the 2025-06-18 revision (initialize, Mcp-Session-Id) and
 * once to 2026-07-28 (server/discover, stateless). Tools listed per caller, table info with only the
 * permitted columns, masked / denied / row-filtered queries (rows as the REST SDK gets them), a write
 * that waits for approval until a data owner approves through the REST API, dry run, paging,
 * cancel; and the refusals at the door and in the tools.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { startGateway, auditRequests, type TestGateway } from './helpers/gateway.ts';
import { queryPage, fromMcpPageToken } from '../src/doors/mcp/results.ts';

let gw: TestGateway;
const tokens: Record<string, string> = {};
const rest: Record<string, string> = {};

beforeAll(async () => {
  gw = await startGateway();
  const who = {
    analyst: { sub: 'analyst-1', groups: ['analysts'] }, eu: { sub: 'eu-1', groups: ['eu-support'] },
    etl: { sub: 'etl-1', groups: ['etl-agents'], act: { sub: 'loader-bot' } }, owner: { sub: 'owner-1', email: 'owner-1@example.com', groups: ['data-owners'] },
    nobody: { sub: 'nobody-1', groups: ['strangers'] },
  };
  // MCP tokens carry the MCP resource as audience (RFC 8707); the REST door's their own.
  for (const [k, claims] of Object.entries(who)) {
    tokens[k] = await gw.token(claims, { audience: `${gw.url}/mcp` });
    rest[k] = await gw.token(claims);
  }
}, 120_000);
afterAll(async () => { await gw?.stop(); });

type Era = 'legacy' | 'modern';
const clients: Client[] = [];
afterAll(async () => { for (const c of clients) await c.close().catch(() => undefined); });

async function connect(token: string, era: Era) {
  const client = new Client({ name: 'bqgate-test', version: '1.2.3' }, era === 'legacy' ? { supportedProtocolVersions: ['2025-06-18'] } : { versionNegotiation: { mode: { pin: '2026-07-28' } } });
  const transport = new StreamableHTTPClientTransport(new URL(`${gw.url}/mcp`), { requestInit: { headers: { authorization: `Bearer ${token}` } } });
  await client.connect(transport);
  clients.push(client);
  return { client, transport };
}

const call = async (client: Client, name: string, args: Record<string, unknown>) => (await client.callTool({ name, arguments: args })) as { isError?: boolean; content: Array<{ type: string; text: string }>; structuredContent?: any };
const text = (r: { content: Array<{ text: string }> }) => r.content.map((c) => c.text).join('\n');

/** The same statement through the REST door with the real BigQuery SDK: its rows as objects. */
async function restRows(token: string, query: string) {
  const [rows] = await gw.sdk(token).query({ query, useLegacySql: false });
  return rows.map((r: Record<string, unknown>) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v === null ? null : typeof v === 'object' && v && 'value' in v ? String((v as { value: unknown }).value) : String(v)])));
}

const until = async <T>(f: () => Promise<T | undefined>, ms = 30_000): Promise<T> => {
  const end = Date.now() + ms;
  for (;;) { const v = await f(); if (v !== undefined) return v; if (Date.now() > end) throw new Error('timed out'); await new Promise((r) => setTimeout(r, 200)); }
};

for (const era of ['legacy', 'modern'] as const) {
  describe(`MCP ${era === 'legacy' ? '2025-06-18' : '2026-07-28'}`, () => {
    it('negotiates the pinned revision', async () => {
      const { client, transport } = await connect(tokens.analyst, era);
      const negotiated = (transport as unknown as { protocolVersion?: string }).protocolVersion ?? (client as unknown as { getNegotiatedProtocolVersion?: () => string }).getNegotiatedProtocolVersion?.();
      console.log(era, 'negotiated', negotiated, 'session', transport.sessionId ?? '(none)');
      expect(negotiated).toBe(era === 'legacy' ? '2025-06-18' : '2026-07-28');
      if (era === 'legacy') expect(transport.sessionId).toMatch(/^[0-9a-f-]{36}$/);
      else expect(transport.sessionId).toBeUndefined();
    });

    it('lists the tools per caller: writers see execute_sql, readers not, principals without rules only explain_access', async () => {
      const names = async (token: string) => (await (await connect(token, era)).client.listTools()).tools.map((t) => t.name).sort();
      const analyst = await names(tokens.analyst);
      const etl = await names(tokens.etl);
      const nobody = await names(tokens.nobody);
      console.log(era, { analyst, etl, nobody });
      expect(analyst).toEqual(['cancel_job', 'execute_sql_readonly', 'explain_access', 'get_dataset_info', 'get_job', 'get_query_results', 'get_table_info', 'list_dataset_ids', 'list_table_ids']);
      expect(etl).toEqual([...analyst, 'execute_sql'].sort());
      expect(nobody).toEqual(['explain_access']);
      const tools = (await (await connect(tokens.etl, era)).client.listTools()).tools;
      const byName = Object.fromEntries(tools.map((t) => [t.name, t]));
      expect(byName.execute_sql.annotations).toMatchObject({ readOnlyHint: false, destructiveHint: true });
      expect(byName.execute_sql_readonly.annotations).toMatchObject({ readOnlyHint: true, destructiveHint: false, openWorldHint: false });
      expect(byName.execute_sql.inputSchema.properties).toHaveProperty('projectId');
      expect(byName.execute_sql.inputSchema.properties).toHaveProperty('dryRun');
      for (const t of tools) expect(t.outputSchema, t.name).toBeDefined();
    });

    it('lists datasets and tables and shows a table with only the columns the caller may read', async () => {
      const { client } = await connect(tokens.analyst, era);
      const ds = await call(client, 'list_dataset_ids', { projectId: 'demo-project' });
      expect(ds.structuredContent.datasets.map((d: any) => d.id)).toContain('shop');
      const ts = await call(client, 'list_table_ids', { projectId: 'demo-project', datasetId: 'shop' });
      expect(ts.structuredContent.tables.map((t: any) => t.id)).toContain('customers');
      const info = await call(client, 'get_table_info', { projectId: 'demo-project', datasetId: 'shop', tableId: 'customers' });
      const cols = info.structuredContent.schema.fields.map((f: any) => f.name);
      console.log(era, 'analyst sees customers columns', cols);
      expect(cols).toContain('email');
      expect(cols).not.toContain('ssn'); // analysts-deny-ssn
      expect(JSON.parse(info.content[0].text.slice(info.content[0].text.indexOf('{')))).toEqual(info.structuredContent);
      const { client: eu } = await connect(tokens.eu, era);
      const orders = await call(eu, 'get_table_info', { projectId: 'demo-project', datasetId: 'shop', tableId: 'orders' });
      expect(orders.isError).toBe(true);
      expect(text(orders)).toMatch(/no bqgate policy rule lets eu-1 read it/);
    });

    it('masks rows exactly as the REST door does', async () => {
      const sql = 'SELECT customer_id, email, card_number, full_name, phone FROM shop.customers ORDER BY customer_id LIMIT 5';
      const { client } = await connect(tokens.analyst, era);
      const r = await call(client, 'execute_sql_readonly', { projectId: 'demo-project', query: sql });
      expect(r.isError).toBeFalsy();
      const viaRest = await restRows(rest.analyst, sql);
      console.log(era, 'masked row', r.structuredContent.rowObjects[0]);
      expect(r.structuredContent.rowObjects).toEqual(viaRest);
      expect(r.structuredContent.rowObjects[0].email).toMatch(/^XXXXX@/);
      const [raw] = await gw.emulatorSdk().query({ query: `SELECT email FROM shop.customers WHERE customer_id = ${r.structuredContent.rowObjects[0].customer_id}`, useLegacySql: false });
      expect(r.structuredContent.rowObjects[0].email).not.toBe(raw[0].email);
      expect(r.structuredContent.schema.fields.map((f: any) => f.name)).toEqual(['customer_id', 'email', 'card_number', 'full_name', 'phone']);
    });

    it('refuses a denied column with the REST denial text (rule named), as isError', async () => {
      const { client } = await connect(tokens.analyst, era);
      const r = await call(client, 'execute_sql_readonly', { projectId: 'demo-project', query: 'SELECT ssn FROM shop.customers' });
      expect(r.isError).toBe(true);
      console.log(era, 'denial:', text(r));
      expect(text(r)).toContain('analysts-deny-ssn');
      const restDenial = await gw.sdk(rest.analyst).query({ query: 'SELECT ssn FROM shop.customers', useLegacySql: false }).then(() => '', (e: Error) => e.message);
      expect(restDenial).toContain('analysts-deny-ssn');
      expect(text(r)).toContain(restDenial);
      // Hidden in an expression, a subquery, a whole-row value: refused all the same.
      for (const q of ['SELECT (SELECT MAX(ssn) FROM shop.customers) AS x', 'SELECT TO_JSON_STRING(c) FROM shop.customers AS c', 'SELECT customer_id FROM shop.customers WHERE STARTS_WITH(ssn, "1")']) {
        const s = await call(client, 'execute_sql_readonly', { projectId: 'demo-project', query: q });
        expect(s.isError, q).toBe(true);
        expect(text(s), q).toMatch(/ssn|analysts-deny-ssn/);
      }
    });

    it('filters rows: eu-support sees EU customers only', async () => {
      const { client } = await connect(tokens.eu, era);
      const r = await call(client, 'execute_sql_readonly', { projectId: 'demo-project', query: 'SELECT country, COUNT(*) AS n FROM shop.customers GROUP BY country ORDER BY country' });
      expect(r.isError).toBeFalsy();
      const seen = r.structuredContent.rowObjects as Array<{ country: string; n: string }>;
      const [truth] = await gw.emulatorSdk().query({ query: 'SELECT COUNT(*) AS n, COUNTIF(country IN ("DE","FR","NL","ES","IT")) AS eu FROM shop.customers', useLegacySql: false });
      const total = seen.reduce((s, x) => s + Number(x.n), 0);
      console.log(era, `eu-support sees ${total} customers in ${seen.map((x) => x.country).join(',')} (the table: ${truth[0].n}, ${truth[0].eu} of them EU)`);
      expect(seen.map((x) => x.country).every((c) => ['DE', 'FR', 'NL', 'ES', 'IT'].includes(c))).toBe(true);
      expect(total).toBe(truth[0].eu);
      expect(total).toBeLessThan(truth[0].n);
    });

    it('pages results with pageToken (rows as one REST read returns them)', async () => {
      const sql = 'SELECT order_id, status FROM shop.orders ORDER BY order_id LIMIT 7';
      const { client } = await connect(tokens.analyst, era);
      const first = await call(client, 'execute_sql_readonly', { projectId: 'demo-project', query: sql, maxResults: 3 });
      expect(first.structuredContent.rowObjects).toHaveLength(3);
      expect(first.structuredContent.pageToken).toBeTruthy();
      const got = [...first.structuredContent.rowObjects];
      let token = first.structuredContent.pageToken;
      let pages = 1;
      while (token) {
        const next = await call(client, 'get_query_results', { projectId: 'demo-project', jobId: first.structuredContent.jobReference.jobId, pageToken: token, maxResults: 3 });
        expect(next.isError).toBeFalsy();
        got.push(...next.structuredContent.rowObjects);
        token = next.structuredContent.pageToken;
        pages++;
      }
      console.log(era, `paged ${got.length} rows in ${pages} pages`);
      expect(got).toEqual(await restRows(rest.analyst, sql));
      const bad = await call(client, 'get_query_results', { projectId: 'demo-project', jobId: first.structuredContent.jobReference.jobId, pageToken: 'bm90LW91cnM' });
      expect(bad.isError).toBe(true);
    });

    it('stops paging at the policy\'s maximum_rows (analysts-limits: 5,000)', async () => {
      const { client } = await connect(tokens.analyst, era);
      const first = await call(client, 'execute_sql_readonly', { projectId: 'demo-project', query: 'SELECT customer_id FROM shop.customers', maxResults: 1000 });
      let rows = first.structuredContent.rowObjects.length;
      let token = first.structuredContent.pageToken;
      let pages = 1;
      while (token && pages < 20) {
        const next = await call(client, 'get_query_results', { projectId: 'demo-project', jobId: first.structuredContent.jobReference.jobId, pageToken: token, maxResults: 1000 });
        expect(next.isError, text(next)).toBeFalsy();
        rows += next.structuredContent.rowObjects.length;
        token = next.structuredContent.pageToken;
        pages++;
      }
      const [all] = await gw.emulatorSdk().query({ query: 'SELECT COUNT(*) AS n FROM shop.customers', useLegacySql: false });
      console.log(era, `maximum_rows: ${rows} rows delivered in ${pages} pages of a ${all[0].n}-row table; totalRows said ${first.structuredContent.totalRows}`);
      expect(all[0].n).toBeGreaterThan(5000);
      expect(rows).toBe(5000);
      expect(first.structuredContent.totalRows).toBe(5000);
    });

    it('dry-runs a statement: bytes estimated, nothing run', async () => {
      const { client } = await connect(tokens.analyst, era);
      const r = await call(client, 'execute_sql_readonly', { projectId: 'demo-project', query: 'SELECT order_id FROM shop.orders', dryRun: true });
      expect(r.isError).toBeFalsy();
      console.log(era, 'dry run', r.structuredContent);
      expect(r.structuredContent.status).toBe('DRY_RUN');
      expect(r.structuredContent.rows).toBeUndefined();
      expect(Number(r.structuredContent.totalBytesProcessed)).toBeGreaterThanOrEqual(0);
    });

    it('refuses a write and a smuggled second statement in execute_sql_readonly; a write in execute_sql needs approval and completes once a data owner approves through REST', async () => {
      const { client } = await connect(tokens.etl, era);
      const ro = await call(client, 'execute_sql_readonly', { projectId: 'demo-project', query: "UPDATE shop.orders SET status = 'x' WHERE order_id = 12" });
      expect(ro.isError).toBe(true);
      expect(text(ro)).toMatch(/SELECT statements only/);
      const smuggled = await call(client, 'execute_sql_readonly', { projectId: 'demo-project', query: "SELECT 1; UPDATE shop.orders SET status = 'x' WHERE order_id = 12" });
      expect(smuggled.isError).toBe(true);
      // Both refusals are requests of etl-1 in the audit, refused before anything ran.
      const refusedSql = (await auditRequests(gw.dataDir)).filter((x) => x.principal === 'etl-1' && x.mcp?.tool === 'execute_sql_readonly' && x.mcp?.era === era && /UPDATE shop.orders SET status = 'x'/.test(x.sql ?? ''));
      console.log(era, 'refused read-only statements audited', refusedSql.map((x) => [x.operation, x.decision?.effect, x.response?.errorReason]));
      expect(refusedSql.map((x) => [x.operation, x.response?.status])).toEqual([['jobs.query', 403], ['jobs.query', expect.any(Number)]]);
      expect(refusedSql[1].response?.status).toBeGreaterThanOrEqual(400);
      expect(refusedSql.every((x) => !x.upstream)).toBe(true);
      const status = `mcp-${era}`;
      const r = await call(client, 'execute_sql', { projectId: 'demo-project', query: `UPDATE shop.orders SET status = '${status}' WHERE order_id = 12`, timeoutMs: 0 });
      expect(r.isError).toBeFalsy();
      console.log(era, 'pending', r.structuredContent);
      expect(r.structuredContent).toMatchObject({ status: 'PENDING_APPROVAL', jobComplete: false, approval: { approverGroups: ['data-owners'] } });
      const { approval, jobReference } = r.structuredContent;
      expect(approval.id).toMatch(/^apr_/);
      expect(Date.parse(approval.expiresAt)).toBeGreaterThan(Date.now());
      const job = await call(client, 'get_job', { projectId: 'demo-project', jobId: jobReference.jobId });
      expect(job.structuredContent.status.state).toBe('PENDING');
      expect(job.structuredContent.approval.id).toBe(approval.id);
      const [before] = await gw.emulatorSdk().query({ query: 'SELECT status FROM shop.orders WHERE order_id = 12', useLegacySql: false });
      expect(before[0].status).not.toBe(status);
      const decided = await fetch(`${gw.url}/bqgate/v1/approvals/${approval.id}/approve`, { method: 'POST', headers: { authorization: `Bearer ${rest.owner}`, 'content-type': 'application/json' }, body: JSON.stringify({ comment: 'ok from the MCP test' }) });
      expect(decided.status).toBe(200);
      const done = await until(async () => {
        const res = await call(client, 'get_query_results', { projectId: 'demo-project', jobId: jobReference.jobId, timeoutMs: 1000 });
        return res.structuredContent?.status === 'DONE' ? res : undefined;
      });
      expect(done.structuredContent.numDmlAffectedRows).toBe('1');
      const [after] = await gw.emulatorSdk().query({ query: 'SELECT status FROM shop.orders WHERE order_id = 12', useLegacySql: false });
      expect(after[0].status).toBe(status);
    });

    it('answers a write whose approval is denied with the denial and the approver\'s comment', async () => {
      const { client } = await connect(tokens.etl, era);
      const r = await call(client, 'execute_sql', { projectId: 'demo-project', query: `UPDATE shop.orders SET status = 'denied-${era}' WHERE order_id = 14`, timeoutMs: 0 });
      expect(r.structuredContent.status).toBe('PENDING_APPROVAL');
      const comment = `not today (${era})`;
      const decided = await fetch(`${gw.url}/bqgate/v1/approvals/${r.structuredContent.approval.id}/deny`, { method: 'POST', headers: { authorization: `Bearer ${rest.owner}`, 'content-type': 'application/json' }, body: JSON.stringify({ comment }) });
      expect(decided.status).toBe(200);
      const res = await call(client, 'get_query_results', { projectId: 'demo-project', jobId: r.structuredContent.jobReference.jobId, timeoutMs: 1000 });
      console.log(era, 'after denial:', text(res));
      expect(res.isError).toBe(true);
      expect(text(res)).toContain(comment);
      expect(text(res)).toContain('owner-1');
    });

    it('does not run a tool the caller does not see (execute_sql for a reader)', async () => {
      const { client } = await connect(tokens.analyst, era);
      const r = await client.callTool({ name: 'execute_sql', arguments: { projectId: 'demo-project', query: 'SELECT 1' } }).then((x) => x as { isError?: boolean; content: Array<{ text: string }> }, (e: Error) => ({ isError: true, content: [{ text: e.message }] }));
      console.log(era, 'hidden tool:', r.content[0].text);
      expect(r.isError).toBe(true);
      expect(r.content[0].text).toMatch(/execute_sql/);
    });

    it('cancels a job that waits for approval (withdrawn, nothing ran)', async () => {
      const { client } = await connect(tokens.etl, era);
      const r = await call(client, 'execute_sql', { projectId: 'demo-project', query: "UPDATE shop.orders SET status = 'never' WHERE order_id = 13", timeoutMs: 0 });
      expect(r.structuredContent.status).toBe('PENDING_APPROVAL');
      const c = await call(client, 'cancel_job', { projectId: 'demo-project', jobId: r.structuredContent.jobReference.jobId });
      expect(c.isError).toBeFalsy();
      const job = await call(client, 'get_job', { projectId: 'demo-project', jobId: r.structuredContent.jobReference.jobId });
      console.log(era, 'after cancel', job.structuredContent.status);
      expect(job.structuredContent.status.state).toBe('DONE');
      expect(job.structuredContent.status.errorResult.reason).toBe('stopped');
      const [row] = await gw.emulatorSdk().query({ query: 'SELECT status FROM shop.orders WHERE order_id = 13', useLegacySql: false });
      expect(row[0].status).not.toBe('never');
    });

    it('explains the caller\'s own access without predicates or SQL', async () => {
      const { client } = await connect(tokens.eu, era);
      const r = await call(client, 'explain_access', { projectId: 'demo-project', datasetId: 'shop', tableId: 'customers' });
      expect(r.isError).toBeFalsy();
      console.log(era, 'explain', JSON.stringify(r.structuredContent));
      expect(r.structuredContent.effect).toBe('allow');
      expect(r.structuredContent.rowFilteredTables['demo-project.shop.customers']).toEqual(['customers-eu-rows']);
      expect(r.structuredContent.masks['demo-project.shop.customers'].email.rule).toBe('EMAIL_MASK');
      expect(text(r)).not.toContain("country IN");
      expect(r.structuredContent.upstreamSql).toBeUndefined();
      const { client: nobody } = await connect(tokens.nobody, era);
      const n = await call(nobody, 'explain_access', { projectId: 'demo-project', query: 'SELECT 1' });
      expect(n.structuredContent.effect).toBe('deny');
      expect(text(n)).toMatch(/no bqgate policy rule allows anything for nobody-1/);
    });

    it('refuses arguments outside the tool\'s schema', async () => {
      const { client } = await connect(tokens.analyst, era);
      const quoted = await client.callTool({ name: 'explain_access', arguments: { projectId: 'demo-project', datasetId: 'shop', tableId: 'customers` UNION ALL SELECT ssn FROM `shop.customers' } }).then((x) => x as { isError?: boolean }, () => ({ isError: true }));
      expect(quoted.isError).toBe(true);
      const r = await client.callTool({ name: 'execute_sql_readonly', arguments: { projectId: 'demo-project', query: 'SELECT 1', useLegacySql: true } }).then((x) => x as { isError?: boolean; content: Array<{ text: string }> }, (e: Error) => ({ isError: true, content: [{ text: e.message }] }));
      expect(r.isError).toBe(true);
      console.log(era, 'extra argument:', r.content[0].text.slice(0, 200));
    });
  });
}

describe('result pages', () => {
  it('cut at the byte cap carry a pageToken to the first row left out', () => {
    const body = { jobComplete: true, totalRows: '10', schema: { fields: [{ name: 's', type: 'STRING' }] }, rows: Array.from({ length: 10 }, (_, i) => ({ f: [{ v: `${i}`.repeat(100) }] })) };
    const page = queryPage(body, 20, { defaultRows: 100, maxRows: 1000, maxBytes: 1000 }) as any;
    console.log(`byte cap 1000: ${page.rows.length} of 10 rows kept`);
    expect(page.rows.length).toBeGreaterThan(0);
    expect(page.rows.length).toBeLessThan(10);
    expect(fromMcpPageToken(page.pageToken)).toBe(20 + page.rows.length);
    expect(page.rowObjects[0]).toEqual({ s: '0'.repeat(100) });
    const whole = queryPage(body, 0, { defaultRows: 100, maxRows: 1000, maxBytes: 1 << 20 }) as any;
    expect(whole.rows).toHaveLength(10);
    expect(whole.pageToken).toBeUndefined();
  });
});

describe('the /mcp endpoint', () => {
  const init = (version = '2025-06-18') => ({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: version, capabilities: {}, clientInfo: { name: 'raw', version: '0' } } });
  const post = (body: unknown, headers: Record<string, string>) => fetch(`${gw.url}/mcp`, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers }, body: JSON.stringify(body) });

  it('refuses a missing or invalid token with 401 and the resource metadata', async () => {
    for (const auth of [undefined, 'Bearer not-a-jwt']) {
      const r = await post(init(), auth ? { authorization: auth } : {});
      expect(r.status).toBe(401);
      console.log('401 WWW-Authenticate:', r.headers.get('www-authenticate'));
      expect(r.headers.get('www-authenticate')).toMatch(/^Bearer .*resource_metadata="/);
    }
    const expired = await gw.token({ sub: 'analyst-1', groups: ['analysts'] }, { ttlSec: -60, audience: `${gw.url}/mcp` });
    expect((await post(init(), { authorization: `Bearer ${rest.analyst}` })).status).toBe(401); // a REST-audience token
    expect((await post(init(), { authorization: `Bearer ${expired}` })).status).toBe(401);
  });

  it('refuses a foreign Origin with 403 (DNS rebinding) and accepts none or its own', async () => {
    const foreign = await post(init(), { authorization: `Bearer ${tokens.analyst}`, origin: 'http://evil.example' });
    expect(foreign.status).toBe(403);
    expect(((await foreign.json()) as any).error.message).toMatch(/Origin "http:\/\/evil.example" is not allowed/);
    // Refused before the token is read: recorded unauthenticated, with the Origin.
    const rec = (await auditRequests(gw.dataDir)).filter((r) => r.door === 'mcp' && /Origin "http:\/\/evil.example"/.test(r.response?.errorMessage ?? ''));
    expect(rec.map((r) => [r.principal, r.response?.status, r.decision?.effect])).toEqual([['(unauthenticated)', 403, 'deny']]);
    const own = await post(init(), { authorization: `Bearer ${tokens.analyst}`, origin: gw.url });
    expect(own.status).toBe(200);
  });

  it('binds a session to its principal: another principal\'s token presenting the session id is refused', async () => {
    const opened = await post(init(), { authorization: `Bearer ${tokens.analyst}` });
    const sid = opened.headers.get('mcp-session-id')!;
    expect(sid).toBeTruthy();
    const h = { 'mcp-session-id': sid, 'mcp-protocol-version': '2025-06-18' };
    expect((await post({ jsonrpc: '2.0', method: 'notifications/initialized' }, { authorization: `Bearer ${tokens.analyst}`, ...h })).status).toBe(202);
    const list = { jsonrpc: '2.0', id: 2, method: 'tools/list' };
    const mine = await post(list, { authorization: `Bearer ${tokens.analyst}`, ...h });
    expect(mine.status).toBe(200);
    const stolen = await post(list, { authorization: `Bearer ${tokens.eu}`, ...h });
    expect(stolen.status).toBe(403);
    expect(await stolen.text()).toMatch(/opened by another principal/);
    const call = { jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'execute_sql_readonly', arguments: { projectId: 'demo-project', query: 'SELECT email FROM shop.customers LIMIT 1' } } };
    expect((await post(call, { authorization: `Bearer ${tokens.eu}`, ...h })).status).toBe(403);
    expect((await fetch(`${gw.url}/mcp`, { method: 'DELETE', headers: { authorization: `Bearer ${tokens.eu}`, ...h } })).status).toBe(403);
    // The three refusals are eu-1's (its token verified), not unauthenticated ones.
    const hijacks = (await auditRequests(gw.dataDir)).filter((r) => r.door === 'mcp' && /opened by another principal/.test(r.response?.errorMessage ?? ''));
    console.log('session hijack refusals audited as', hijacks.map((r) => `${r.principal} ${r.response?.status} ${r.decision?.effect}`));
    expect(hijacks.map((r) => [r.principal, r.operation, r.response?.status, r.decision?.effect])).toEqual(Array(3).fill(['eu-1', 'method.refused', 403, 'deny']));
    expect((await fetch(`${gw.url}/mcp`, { method: 'DELETE', headers: { authorization: `Bearer ${tokens.analyst}`, ...h } })).status).toBe(200);
    expect((await post(list, { authorization: `Bearer ${tokens.analyst}`, ...h })).status).toBe(404);
  });

  it('lists a session\'s tools for the groups the current token carries', async () => {
    const opened = await post(init(), { authorization: `Bearer ${tokens.etl}` });
    const h = { 'mcp-session-id': opened.headers.get('mcp-session-id')!, 'mcp-protocol-version': '2025-06-18' };
    const names = async (token: string) => ((await (await post({ jsonrpc: '2.0', id: 7, method: 'tools/list' }, { authorization: `Bearer ${token}`, ...h })).json()) as any).result.tools.map((t: any) => t.name);
    expect(await names(tokens.etl)).toContain('execute_sql');
    const demoted = await gw.token({ sub: 'etl-1', groups: ['strangers'] }, { audience: `${gw.url}/mcp` });
    expect(await names(demoted)).toEqual(['explain_access']);
  });

  it('keeps at most 16 sessions per principal: a 17th closes that principal\'s least recently used', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 17; i++) ids.push((await post(init(), { authorization: `Bearer ${tokens.eu}` })).headers.get('mcp-session-id')!);
    const list = (sid: string) => post({ jsonrpc: '2.0', id: 9, method: 'tools/list' }, { authorization: `Bearer ${tokens.eu}`, 'mcp-session-id': sid, 'mcp-protocol-version': '2025-06-18' });
    expect((await list(ids[0])).status).toBe(404);
    expect((await list(ids[1])).status).toBe(200);
    expect((await list(ids[16])).status).toBe(200);
  });

  it('answers GET with 405 and a request without a session (2025) with 400', async () => {
    expect((await fetch(`${gw.url}/mcp`, { headers: { authorization: `Bearer ${tokens.analyst}`, accept: 'text/event-stream' } })).status).toBe(405);
    expect((await post({ jsonrpc: '2.0', id: 2, method: 'tools/list' }, { authorization: `Bearer ${tokens.analyst}` })).status).toBe(400);
  });

  it('answers an unsupported MCP-Protocol-Version with 400', async () => {
    const opened = await post(init(), { authorization: `Bearer ${tokens.analyst}` });
    const sid = opened.headers.get('mcp-session-id')!;
    const r = await post({ jsonrpc: '2.0', id: 2, method: 'tools/list' }, { authorization: `Bearer ${tokens.analyst}`, 'mcp-session-id': sid, 'mcp-protocol-version': '1999-01-01' });
    console.log('unsupported version', r.status, (await r.text()).slice(0, 200));
    expect(r.status).toBe(400);
  });

  it('answers a 2026-07-28 tools/list per caller with cacheScope private', async () => {
    const meta = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '0' }, 'io.modelcontextprotocol/clientCapabilities': {} };
    const r = await post({ jsonrpc: '2.0', id: 4, method: 'tools/list', params: { _meta: meta } }, { authorization: `Bearer ${tokens.nobody}`, 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/list' });
    const body = await r.json() as any;
    console.log('2026 tools/list', JSON.stringify({ ...body.result, tools: body.result.tools.map((t: any) => t.name) }));
    expect(body.result.cacheScope).toBe('private');
    expect(body.result.tools.map((t: any) => t.name)).toEqual(['explain_access']);
  });

  it('answers 2026-07-28 header mismatches with the spec\'s error', async () => {
    const meta = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '0' }, 'io.modelcontextprotocol/clientCapabilities': {} };
    const body = { jsonrpc: '2.0', id: 5, method: 'tools/call', params: { name: 'explain_access', arguments: { projectId: 'demo-project', query: 'SELECT 1' }, _meta: meta } };
    const h = { authorization: `Bearer ${tokens.analyst}`, 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call' };
    const good = await post(body, { ...h, 'mcp-name': 'explain_access' });
    console.log('2026 tools/call', good.status, (await good.text()).slice(0, 300));
    expect(good.status).toBe(200);
    const note = await post({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 99, _meta: meta } }, { authorization: `Bearer ${tokens.analyst}`, 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'notifications/cancelled' });
    expect(note.status).toBe(202);
    const mismatch = await post(body, { ...h, 'mcp-name': 'execute_sql_readonly' });
    const err = await mismatch.json() as any;
    console.log('2026 Mcp-Name mismatch', mismatch.status, JSON.stringify(err));
    expect(mismatch.status).toBe(400);
    expect(err.error.code).toBe(-32020);
  });

  it('records each tools/call as a request of the caller (door, client, revision, tool, arguments, page hash), refusals at the door too', async () => {
    const recs = await auditRequests(gw.dataDir);
    const mcp = recs.filter((r) => r.door === 'mcp');
    const queries = mcp.filter((r) => r.operation === 'jobs.query' && r.principal === 'analyst-1' && r.mcp?.tool === 'execute_sql_readonly');
    console.log(`audit: ${recs.length} requests, ${mcp.length} through the MCP door, ${queries.length} execute_sql_readonly jobs.query of analyst-1, ${recs.filter((r) => r.principal === '(unauthenticated)').length} refused unauthenticated`);
    const eras = new Set(queries.map((r) => `${r.mcp?.era} ${r.mcp?.protocolVersion}`));
    expect(eras).toEqual(new Set(['legacy 2025-06-18', 'modern 2026-07-28']));
    const masked = queries.find((r) => (r.mcp?.arguments as any)?.query?.includes('card_number'))!;
    expect(masked.client).toBe('bqgate-test/1.2.3');
    expect(masked.deliveries[0].sha256).toMatch(/^[0-9a-f]{64}$/);
    const [upstreamJob] = await gw.emulatorSdk().job(masked.upstream!.jobId!).getMetadata();
    console.log('upstream labels of an MCP job', upstreamJob.configuration.labels);
    expect(upstreamJob.configuration.labels.bqgate_door).toBe('mcp');
    const denied = mcp.find((r) => r.principal === 'analyst-1' && r.sql === 'SELECT ssn FROM shop.customers');
    console.log('denied record decision', denied?.decision);
    expect(denied?.decision?.effect).toBe('deny');
    expect(denied?.decision?.matchedRules).toContain('analysts-deny-ssn');
    const badArgs = mcp.filter((r) => (r.mcp?.arguments as any)?.useLegacySql === true);
    expect(badArgs.map((r) => [r.principal, r.response?.errorReason])).toEqual([['analyst-1', 'invalid'], ['analyst-1', 'invalid']]);
    expect(badArgs[0].response?.errorMessage).toMatch(/must NOT have additional properties/);
    const legacy = queries.find((r) => r.mcp?.era === 'legacy')!;
    expect(legacy.sessionKey).toMatch(/^mcp-[0-9a-f]{16}$/);
    const sessions = JSON.parse((await gw.cli(['sessions', 'list', '--json', '--principal', 'analyst-1'])).stdout) as Array<{ id: string; requests: number }>;
    const replay = (await Promise.all(sessions.map((x) => gw.cli(['sessions', 'replay', x.id, '--principal', 'analyst-1'])))).map((r) => r.stdout).join('\n');
    console.log(`sessions of analyst-1: ${sessions.length}; replay lines: ${replay.split('\n').length}`);
    expect(replay).toContain('SELECT customer_id, email, card_number, full_name, phone FROM shop.customers');
    expect(replay).toContain('analysts-deny-ssn');
    const doorRefusals = recs.filter((r) => r.principal === '(unauthenticated)' && r.door === 'mcp');
    expect(doorRefusals.map((r) => r.response?.status)).toEqual(expect.arrayContaining([401, 403])); // no token; a foreign Origin
    expect(doorRefusals.every((r) => r.decision?.effect === 'deny')).toBe(true);
  });
});
