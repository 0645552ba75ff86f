/**
 * The web console end to end, in a real headless Chromium (Debian's `chromium`, driven by
 * playwright-core) against a real gateway process: sign-in through the development issuer's
 * authorization-code + PKCE flow; the approvals inbox receives a write the real SDK left PENDING,
 * live, and approving it in the page completes the SDK's job; an auditor finds the session of a
 * masked and a denied query and sees the rows as delivered, with the checkpoint verification (and
 * its failure once a stored event is altered); the policy playground explains a decision; the
 * overview charts the traffic. Screenshots of each page go to test-artifacts/console/.
 * The browser may reach loopback only: every other request is aborted and fails the test.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { startGateway, type TestGateway } from './helpers/gateway.ts';
import { loadConfig } from '../src/config.ts';

const ROOT = resolve(import.meta.dirname, '..');
const SHOTS = join(ROOT, 'test-artifacts', 'console');
const CHROMIUM = process.env.BQGATE_CHROMIUM ?? '/usr/bin/chromium';

let gw: TestGateway;
let browser: Browser;
const offLoopback: string[] = [];

/** A fresh browser context (its own sessionStorage) that may only talk to loopback. */
async function newPage(): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: { width: 1360, height: 900 }, deviceScaleFactor: 1 });
  await context.route('**/*', (route) => {
    const u = new URL(route.request().url());
    if (u.protocol === 'data:' || ['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname)) return route.continue();
    offLoopback.push(u.href);
    return route.abort();
  });
  const page = await context.newPage();
  page.setDefaultTimeout(20_000);
  return { context, page };
}

/** Signs in on the development issuer's login page as one of its demo personas. */
async function signIn(page: Page, persona: string, hash = '') {
  await page.goto(`${gw.url}/console/${hash}`);
  await page.waitForURL(/\/oauth2\/authorize\?/);
  const authorize = new URL(page.url());
  expect(authorize.searchParams.get('code_challenge_method')).toBe('S256');
  expect(authorize.searchParams.get('code_challenge')).toMatch(/^[\w-]{43}$/);
  await page.click(`button.persona[value="${persona}"]`);
  await page.waitForSelector('[data-testid=who]');
  expect(await page.textContent('[data-testid=who] b')).toBe(persona);
  expect(page.url()).not.toContain('code='); // the code left the address bar
}

const shot = (page: Page, name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });

beforeAll(async () => {
  execFileSync(process.execPath, [join(ROOT, 'scripts', 'build-console-if-needed.mjs')], { stdio: 'inherit' });
  mkdirSync(SHOTS, { recursive: true });
  gw = await startGateway({ env: { BQGATE_AUDIT_CHECKPOINT_MS: '300' } });
  browser = await chromium.launch({
    executablePath: CHROMIUM, headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'],
  });
}, 180_000);
afterAll(async () => {
  await browser?.close();
  await gw?.stop();
  expect(offLoopback).toEqual([]);
});

describe('sign-in (authorization code + PKCE at the development issuer)', () => {
  it('signs in, and shows an analyst only what its roles allow', async () => {
    const { context, page } = await newPage();
    await signIn(page, 'analyst');
    expect(await page.locator('.top nav a').allTextContents()).toEqual(['Approvals']);
    // The API refuses what the page hides, naming the role.
    const token = await page.evaluate(() => JSON.parse(sessionStorage.getItem('bqgate.console.session')!).accessToken as string);
    const r = await fetch(`${gw.url}/bqgate/v1/sessions`, { headers: { authorization: `Bearer ${token}` } });
    const body = await r.json() as any;
    expect(r.status).toBe(403);
    expect(body.error.errors[0].reason).toBe('accessDenied');
    expect(body.error.message).toContain('roles.auditors');
    await context.close();
  });

  it('refuses a wrong code_verifier and a reused code at the token endpoint', async () => {
    const verifier = 'v'.repeat(50);
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    const redirect = `${gw.url}/console/`;
    const authorize = async () => {
      const form = new URLSearchParams({ client_id: 'bqgate-console', redirect_uri: redirect, state: 's1', nonce: 'n1', code_challenge: challenge, persona: 'auditor' });
      const r = await fetch(`${gw.url}/oauth2/authorize`, { method: 'POST', body: form, redirect: 'manual' });
      expect(r.status).toBe(303);
      const back = new URL(r.headers.get('location')!);
      expect(back.searchParams.get('state')).toBe('s1');
      return back.searchParams.get('code')!;
    };
    const exchange = (code: string, codeVerifier: string) => fetch(`${gw.url}/oauth2/token`, {
      method: 'POST', body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: redirect, client_id: 'bqgate-console', code_verifier: codeVerifier }),
    }).then(async (r) => ({ status: r.status, body: await r.json() as any }));

    const wrong = await exchange(await authorize(), 'w'.repeat(50));
    expect(wrong).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    const code = await authorize();
    const ok = await exchange(code, verifier);
    expect(ok.status).toBe(200);
    expect(ok.body.token_type).toBe('Bearer');
    const me = await fetch(`${gw.url}/bqgate/v1/me`, { headers: { authorization: `Bearer ${ok.body.access_token}` } }).then((r) => r.json()) as any;
    expect(me).toMatchObject({ subject: 'auditor', roles: { auditor: true, approver: false } });
    expect(await exchange(code, verifier)).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    // A redirect URI off this origin and off loopback is never redirected to.
    const evil = await fetch(`${gw.url}/oauth2/authorize?response_type=code&client_id=x&redirect_uri=${encodeURIComponent('https://evil.example/cb')}&code_challenge=${challenge}&code_challenge_method=S256`, { redirect: 'manual' });
    expect(evil.status).toBe(400);
  });
});

describe('approvals inbox', () => {
  it('shows a write the SDK left PENDING as it arrives; approving it completes the SDK job', async () => {
    const { context, page } = await newPage();
    await signIn(page, 'data-owner', '#/approvals');
    await page.waitForSelector('text=Nothing waits for your approval.');
    // The inbox is open before the request exists: it must arrive without a reload.
    const etl = gw.sdk(await gw.token({ sub: 'etl-console', groups: ['etl-agents'], act: { sub: 'loader-bot' } }));
    const [job] = await etl.createQueryJob({ query: "UPDATE shop.orders SET status = 'approved-in-console' WHERE order_id = 21", useLegacySql: false });
    expect(job.metadata.status.state).toBe('PENDING');
    const done = job.getQueryResults();
    const card = page.locator(`article.approval[data-status=pending]`, { hasText: 'approved-in-console' });
    await card.waitFor();
    const text = await card.textContent();
    for (const want of ['etl-console', 'loader-bot', 'etl-writes-need-owner', 'demo-project.shop.orders', `demo-project:${job.id}`]) expect(text).toContain(want);
    expect(await card.locator('pre.sql .hljs-keyword').first().textContent()).toBe('UPDATE'); // highlighted
    await shot(page, 'approvals');
    await card.locator('textarea').fill('ticket OPS-77');
    await card.locator('button.approve').click();
    await page.waitForSelector('text=Nothing waits for your approval.');
    await done; // the SDK's polling completes the job
    const [rows] = await gw.emulatorSdk().query({ query: 'SELECT status FROM shop.orders WHERE order_id = 21', useLegacySql: false });
    expect(rows).toEqual([{ status: 'approved-in-console' }]);
    await page.click('text=All recent');
    const decided = page.locator('article.approval[data-status=approved]', { hasText: 'approved-in-console' });
    await decided.waitFor();
    expect(await decided.textContent()).toContain('data-owner approved');
    expect(await decided.textContent()).toContain('ticket OPS-77');
    await context.close();
  });
});

describe('sessions, playground and overview (an auditor)', () => {
  it('finds the session, replays its queries with the rows as delivered, and shows its verification', async () => {
    const analyst = gw.sdk(await gw.token({ sub: 'agent-console', groups: ['analysts'], act: { sub: 'report-bot' } }));
    await analyst.query({ query: 'SELECT customer_id, email, country FROM shop.customers ORDER BY customer_id LIMIT 3', useLegacySql: false });
    await expect(analyst.query({ query: 'SELECT ssn FROM shop.customers LIMIT 1', useLegacySql: false })).rejects.toThrow(/analysts-deny-ssn/);
    await new Promise((r) => setTimeout(r, 1000)); // a checkpoint (every 300 ms here) covers them

    const { context, page } = await newPage();
    await signIn(page, 'auditor', '#/sessions');
    await page.fill('input[name=principal]', 'agent-console');
    await page.click('form.filters button[type=submit]');
    const row = page.locator('tr.session-row', { hasText: 'agent-console' });
    await row.waitFor();
    expect(await row.textContent()).toContain('report-bot');
    await shot(page, 'sessions');
    await row.locator('a').click();
    await page.waitForSelector('ol.timeline');
    const timeline = page.locator('ol.timeline');
    expect(await timeline.locator('li.req.allow').first().textContent()).toContain('analysts-mask-pii');
    const denied = await timeline.locator('li.req.deny').first().textContent();
    expect(denied).toContain('analysts-deny-ssn');
    // The delivered rows, masked as the caller saw them.
    const cells = await timeline.locator('table.rows td').allTextContents();
    expect(cells.some((c) => /^XXXXX@/.test(c))).toBe(true);
    const [raw] = await gw.emulatorSdk().query({ query: 'SELECT email FROM shop.customers ORDER BY customer_id LIMIT 3', useLegacySql: false });
    expect(raw).toHaveLength(3);
    for (const { email } of raw) expect(cells.join(' ')).not.toContain(email);
    const banner = page.locator('[data-testid=verification]');
    expect(await banner.textContent()).toMatch(/✔ \d+ events verified/);
    // Re-execution for investigators, from the timeline: as of then, it finds what was delivered.
    await timeline.locator('li.req.allow button', { hasText: 'Re-execute' }).click();
    const reexec = timeline.locator('[data-testid=reexecution]');
    await reexec.waitFor();
    expect(await reexec.locator('.badge').textContent()).toBe('match');
    expect(await reexec.textContent()).toContain('3 delivered rows compared');
    await shot(page, 'session');

    // Alter one stored event of this session (what was delivered): the page must say so.
    const db = new Database(join(gw.dataDir, 'audit.sqlite'));
    const changed = db.prepare("UPDATE audit_log SET body = REPLACE(body, 'XXXXX@', 'YYYYY@') WHERE seq = (SELECT MAX(seq) FROM audit_log WHERE body LIKE '%XXXXX@%' AND body LIKE '%agent-console%')").run().changes;
    db.close();
    expect(changed).toBe(1);
    await page.reload();
    await page.waitForSelector('ol.timeline');
    expect(await page.locator('[data-testid=verification]').textContent()).toMatch(/✖ Audit verification failed: event seq \d+ was altered/);
    await context.close();
  });

  it('shows MCP tool calls in the timeline like REST calls: door, tool, client name/version, protocol era', async () => {
    const token = await gw.token({ sub: 'agent-mcp-console', groups: ['analysts'] }, { audience: `${gw.url}/mcp` });
    const client = new Client({ name: 'console-mcp-client', version: '3.1.4' }, { supportedProtocolVersions: ['2025-06-18'] });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${gw.url}/mcp`), { requestInit: { headers: { authorization: `Bearer ${token}`, 'x-bqgate-session': 'console-mcp' } } }));
    const r = await client.callTool({ name: 'execute_sql_readonly', arguments: { projectId: 'demo-project', query: 'SELECT customer_id, email FROM shop.customers ORDER BY customer_id LIMIT 2' } }) as { isError?: boolean };
    expect(r.isError).toBeFalsy();
    await client.close();
    // The same principal through REST, in the same audit session (the bqgate_session label).
    await gw.sdk(await gw.token({ sub: 'agent-mcp-console', groups: ['analysts'] })).query({ query: 'SELECT 1 AS one', useLegacySql: false, labels: { bqgate_session: 'console-mcp' } });

    const { context, page } = await newPage();
    await signIn(page, 'auditor', '#/sessions');
    await page.fill('input[name=principal]', 'agent-mcp-console');
    await page.click('form.filters button[type=submit]');
    const row = page.locator('tr.session-row', { hasText: 'agent-mcp-console' });
    await row.first().waitFor();
    await row.first().locator('a').click();
    await page.waitForSelector('ol.timeline');
    const mcp = page.locator('li.req[data-door=mcp][data-operation="jobs.query"]');
    await mcp.first().waitFor();
    const text = await mcp.first().textContent();
    console.log('MCP timeline entry:', text?.replace(/\s+/g, ' ').slice(0, 200));
    expect(await mcp.first().locator('[data-testid=door]').textContent()).toBe('MCP');
    expect(await mcp.first().locator('[data-testid=tool]').textContent()).toBe('execute_sql_readonly');
    expect(await mcp.first().locator('[data-testid=client]').textContent()).toMatch(/console-mcp-client\/3\.1\.4 · MCP 2025-06-18 \(session era\)/);
    expect(await mcp.first().locator('table.rows td').allTextContents()).toEqual(expect.arrayContaining([expect.stringMatching(/^XXXXX@/)]));
    const rest = page.locator('li.req[data-door=rest]');
    expect(await rest.first().locator('[data-testid=door]').textContent()).toBe('REST');
    await shot(page, 'session-mcp');
    await context.close();
  });

  it('explains a decision in the policy playground: masks, trace, and a denial', async () => {
    const { context, page } = await newPage();
    await signIn(page, 'auditor', '#/playground');
    await page.fill('input[name=sub]', 'agent-9');
    await page.fill('input[name=groups]', 'analysts');
    await page.fill('textarea[name=sql]', 'SELECT customer_id, email, card_number FROM shop.customers LIMIT 5');
    await page.click('#explain');
    const out = page.locator('[data-testid=explanation]');
    await out.locator('.verdict').waitFor();
    expect(await out.locator('.verdict .badge').textContent()).toBe('ALLOW');
    const masks = await out.locator('table.masks tbody tr').allTextContents();
    expect(masks).toContain('customers.emailEMAIL_MASKanalysts-mask-pii');
    expect(await out.locator('ul.trace li.applies').allTextContents()).toEqual(expect.arrayContaining([expect.stringContaining('analysts-read-shop')]));
    expect(await out.locator('pre.sql').textContent()).toContain("CONCAT('XXXXX', REGEXP_EXTRACT("); // EMAIL_MASK in the SQL sent upstream
    await shot(page, 'playground');
    await page.fill('textarea[name=sql]', 'SELECT ssn FROM shop.customers');
    await page.click('#explain');
    await page.waitForFunction(() => document.querySelector('[data-testid=explanation] .verdict .badge')?.textContent === 'DENY');
    expect(await out.locator('ul.reasons').textContent()).toContain('analysts-deny-ssn');
    await context.close();
  });

  it('charts queries, denials and bytes per principal', async () => {
    const { context, page } = await newPage();
    await signIn(page, 'auditor');
    await page.waitForSelector('.charts canvas');
    expect(Number(await page.textContent('[data-testid=kpi-queries]'))).toBeGreaterThanOrEqual(3);
    expect(Number(await page.textContent('[data-testid=kpi-denied]'))).toBeGreaterThanOrEqual(1);
    expect(await page.locator('.charts canvas').count()).toBe(3);
    // Chart.js drew something: the canvas is not blank.
    const inked = await page.locator('.charts canvas').first().evaluate((c: HTMLCanvasElement) => c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data.some((v, i) => i % 4 === 3 && v > 0));
    expect(inked).toBe(true);
    await shot(page, 'overview');
    await context.close();
  });
});

it('offers no demo login when told not to (the default off loopback), and the page says why', async () => {
  const closed = await startGateway({ env: { BQGATE_DEV_LOGIN: 'off' } });
  try {
    const discovery = await fetch(`${closed.url}/.well-known/openid-configuration`).then((r) => r.json()) as any;
    expect(discovery.jwks_uri).toBeDefined();
    expect(discovery.authorization_endpoint).toBeUndefined();
    expect((await fetch(`${closed.url}/oauth2/authorize?client_id=x`)).status).toBe(404);
    expect((await fetch(`${closed.url}/oauth2/token`, { method: 'POST' })).status).toBe(404);
    const { context, page } = await newPage();
    await page.goto(`${closed.url}/console/`);
    await page.waitForSelector('text=Sign-in failed');
    expect(await page.textContent('.error')).toContain('BQGATE_DEV_LOGIN');
    await context.close();
  } finally { await closed.stop(); }
});

it('keeps the demo login off by default when the gateway listens beyond loopback (compose, Helm)', () => {
  expect(loadConfig({}, { BQGATE_HOST: '127.0.0.1' }).console.devLogin).toBe(true);
  expect(loadConfig({}, { BQGATE_HOST: '0.0.0.0' }).console.devLogin).toBe(false);
  expect(loadConfig({}, { BQGATE_HOST: '0.0.0.0', BQGATE_DEV_LOGIN: 'on' }).console.devLogin).toBe(true);
  expect(loadConfig({}, { BQGATE_HOST: '127.0.0.1', BQGATE_DEV_LOGIN: 'off' }).console.devLogin).toBe(false);
});

it('has no page that needs the network beyond loopback', () => {
  expect(existsSync(join(ROOT, 'console', 'dist', 'index.html'))).toBe(true);
  const html = readFileSync(join(ROOT, 'console', 'dist', 'index.html'), 'utf8');
  expect(html).not.toMatch(/https?:\/\/(?!127\.0\.0\.1)/);
});
