/**
 * Streaming delivery under an upstream that turns hostile (issue 21), through the real gateway
 * process: a tampering proxy between the gateway and a real emulator rewrites one getQueryResults
 * answer into a huge single string, deep nesting, a body cut short, or a connection reset
 * mid-body. The caller gets a well-formed BigQuery error (backendError) — never a page that looks
 * complete — the audit records the refusal and no delivery, the gateway's memory stays bounded (its
 * peak RSS is printed), and the next honest page is delivered as before.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server, type ServerResponse } from 'node:http';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { startGateway, freePort, auditRequests, type TestGateway } from './helpers/gateway.ts';
import { startEmulator, type RunningEmulator } from '../src/emulator/index.ts';

type Mode = 'huge' | 'deep' | 'cut' | 'reset';

/** Writes `b` and waits for the socket to drain (the gateway reads only as fast as it parses). */
async function put(res: ServerResponse, b: Buffer | string) {
  if (res.write(b)) return;
  await new Promise<void>((r) => { const done = () => { res.off('drain', done); res.off('close', done); r(); }; res.on('drain', done); res.on('close', done); });
}

async function tamper(mode: Mode, real: string, res: ServerResponse) {
  res.writeHead(200, { 'content-type': 'application/json' });
  const head = real.slice(0, real.indexOf('"rows":[') + 8);
  try {
    if (mode === 'huge') {
      // 300 MB in one string cell: far past the gateway's 64 MiB page bound.
      await put(res, `${head}{"f":[{"v":"`);
      const mib = Buffer.alloc(2 ** 20, 'a');
      for (let i = 0; i < 300 && !res.destroyed; i++) await put(res, mib);
      res.end('"}]}]}');
    } else if (mode === 'deep') {
      res.end(`${head}{"f":[{"v":${'['.repeat(200_000)}${']'.repeat(200_000)}}]}]}`);
    } else if (mode === 'cut') {
      res.end(real.slice(0, Math.floor(real.length * 0.6)));
    } else {
      // Headers and part of the body reach the gateway first; then the connection drops.
      res.flushHeaders();
      await put(res, real.slice(0, Math.floor(real.length * 0.6)));
      await new Promise((r) => setTimeout(r, 300));
      res.socket?.destroy();
    }
  } catch { /* the gateway hung up: expected */ }
}

interface Proxy { url: string; next(mode: Mode): void; close(): Promise<void> }
async function startTamperingProxy(target: string): Promise<Proxy> {
  const pending: Mode[] = [];
  const port = await freePort();
  const server: Server = createServer(async (req, res) => {
    let body = '';
    for await (const d of req) body += d;
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string' && !['host', 'content-length', 'connection'].includes(k)) headers[k] = v;
    const r = await fetch(target + req.url, { method: req.method, headers, body: req.method === 'GET' ? undefined : body });
    const text = await r.text();
    const mode = req.method === 'GET' && /\/queries\//.test(req.url ?? '') && text.includes('"rows":[') ? pending.shift() : undefined;
    if (mode) return tamper(mode, text, res);
    res.writeHead(r.status, { 'content-type': 'application/json' }).end(text);
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
  return { url: `http://127.0.0.1:${port}`, next: (m) => pending.push(m), close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }) };
}

/** The gateway's peak resident set so far (VmHWM), MB. */
const peakMb = (pid: number) => Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

let emu: RunningEmulator;
let proxy: Proxy;
let gw: TestGateway;

beforeAll(async () => {
  emu = await startEmulator({ fixturesDir: resolve('fixtures'), port: 0, secret: null });
  proxy = await startTamperingProxy(emu.url);
  gw = await startGateway({ env: { BQGATE_UPSTREAM: proxy.url } });
}, 120_000);
afterAll(async () => { await gw?.stop(); await proxy?.close(); await emu?.close(); });

describe('a hostile upstream page', () => {
  it('is refused with a well-formed backendError, audited with no delivery, memory bounded; honest pages still flow', async () => {
    const token = await gw.token({ sub: 'stream-agent', groups: ['analysts'] });
    const [job] = await gw.sdk(token).createQueryJob({ query: 'SELECT order_id, status FROM `demo-project.shop.orders` ORDER BY order_id', useLegacySql: false });
    const page = (n: number) => fetch(`${gw.url}/bigquery/v2/projects/demo-project/queries/${job.id}?location=${job.location}&maxResults=${n}`, { headers: { authorization: `Bearer ${token}` } });
    const honest = await page(50);
    expect(honest.status).toBe(200);
    const first = await honest.json() as any;
    expect(first.rows).toHaveLength(50);

    const before = peakMb(gw.pid);
    for (const mode of ['huge', 'deep', 'cut', 'reset'] as Mode[]) {
      proxy.next(mode);
      const r = await page(50);
      const text = await r.text();
      const body = JSON.parse(text); // well-formed JSON, not a half page
      console.log(`${mode}: HTTP ${r.status} ${body.error?.errors?.[0]?.reason}: ${body.error?.message?.slice(0, 160)}`);
      expect(r.status).toBeGreaterThanOrEqual(500);
      expect(body.rows).toBeUndefined();
      expect(body.error.errors[0].reason).toBe('backendError');
    }
    const after = peakMb(gw.pid);
    console.log(`gateway peak RSS: ${before.toFixed(1)} MB before the hostile pages, ${after.toFixed(1)} MB after (a 300 MB string among them)`);
    expect(after - before).toBeLessThan(250);

    const again = await page(50);
    expect(again.status).toBe(200);
    expect(((await again.json()) as any).rows).toEqual(first.rows);

    const recs = (await auditRequests(gw.dataDir)).filter((q) => q.operation === 'jobs.getQueryResults');
    expect(recs).toHaveLength(6);
    const refused = recs.slice(1, 5);
    for (const q of refused) {
      expect(q.response?.errorReason).toBe('backendError');
      expect(q.deliveries).toEqual([]);
    }
    expect(recs[5].deliveries[0].rows).toBe(50);
  }, 300_000);
});
