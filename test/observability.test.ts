/**
 * What operators watch, from a real gateway process: Prometheus metrics at /metrics (requests,
 * decisions, refusals, latency histograms, approvals pending, ZetaSQL state — no principal or table
 * in any label), OpenTelemetry traces exported over OTLP/HTTP to a receiver on loopback (a request
 * span per call, continuing the agent's traceparent, with a child span per pipeline stage, and no
 * statement or token in any attribute), and pino JSON logs carrying the audit's request id.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import { randomBytes } from 'node:crypto';
import { startGateway, freePort, auditRequests, type TestGateway } from './helpers/gateway.ts';

let gw: TestGateway;
let receiver: Server;
const spans: any[] = [];
let token: string;

beforeAll(async () => {
  const port = await freePort();
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      if (req.url === '/v1/traces') for (const rs of JSON.parse(body).resourceSpans ?? []) for (const ss of rs.scopeSpans ?? []) spans.push(...ss.spans);
      res.setHeader('content-type', 'application/json');
      res.end('{}');
    });
  });
  await new Promise<void>((r) => receiver.listen(port, '127.0.0.1', () => r()));
  gw = await startGateway({ env: { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`, BQGATE_LOG_LEVEL: 'info' } });
  token = await gw.token({ sub: 'observed-agent', groups: ['analysts'], act: { sub: 'observer-bot' } });
}, 120_000);
afterAll(async () => { await gw?.stop(); receiver?.close(); });

/** The value of one Prometheus sample (`name{labels}`), or undefined. */
async function sample(name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
  const text = await (await fetch(`${gw.url}/metrics`)).text();
  for (const line of text.split('\n')) {
    const m = line.match(/^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/);
    if (!m || m[1] !== name) continue;
    const got = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) return Number(m[3]);
  }
  return undefined;
}

const attr = (s: any, k: string) => s.attributes?.find((a: any) => a.key === k)?.value;

describe('metrics, traces and logs', () => {
  it('counts requests, decisions and refusals, with latency histograms and no principal in any label', async () => {
    const sdk = gw.sdk(token);
    await sdk.query({ query: 'SELECT customer_id, email FROM shop.customers LIMIT 2', useLegacySql: false });
    await sdk.query({ query: 'SELECT ssn FROM shop.customers LIMIT 1', useLegacySql: false }).catch(() => undefined);
    expect(await sample('bqgate_requests_total', { operation: 'jobs.query', status: '200' })).toBeGreaterThanOrEqual(1);
    expect(await sample('bqgate_decisions_total', { effect: 'allow' })).toBeGreaterThanOrEqual(1);
    expect(await sample('bqgate_decisions_total', { effect: 'deny' })).toBeGreaterThanOrEqual(1);
    expect(await sample('bqgate_refusals_total', { reason: 'accessDenied' })).toBeGreaterThanOrEqual(1);
    expect(await sample('bqgate_request_duration_seconds_count', { operation: 'jobs.query' })).toBeGreaterThanOrEqual(2);
    expect(await sample('bqgate_stage_duration_seconds_count', { stage: 'analyze' })).toBeGreaterThanOrEqual(2);
    expect(await sample('bqgate_upstream_responses_total', { status: '2xx' })).toBeGreaterThanOrEqual(1);
    expect(await sample('bqgate_approvals_pending')).toBe(0);
    expect(await sample('bqgate_zetasql_up')).toBe(1);
    expect(await sample('bqgate_audit_events')).toBeGreaterThan(0);
    // The audit group commit: durable commits and the events they held (events ≥ commits).
    const commits = (await sample('bqgate_audit_commits_total'))!;
    expect(commits).toBeGreaterThan(0);
    expect(await sample('bqgate_audit_committed_events_total')).toBeGreaterThanOrEqual(commits);
    const text = await (await fetch(`${gw.url}/metrics`)).text();
    expect(text).not.toContain('observed-agent');
    expect(text).not.toContain('shop.customers');
  });

  it('exports a span per request, continuing the caller trace, with a child span per stage', async () => {
    const traceId = randomBytes(16).toString('hex');
    const parent = randomBytes(8).toString('hex');
    const r = await fetch(`${gw.url}/bigquery/v2/projects/demo-project/queries`, {
      method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', traceparent: `00-${traceId}-${parent}-01` },
      body: JSON.stringify({ query: 'SELECT order_id FROM shop.orders ORDER BY order_id LIMIT 1', useLegacySql: false }),
    });
    expect(r.status).toBe(200);
    let root: any;
    for (let i = 0; i < 100 && !root; i++) {
      root = spans.find((s) => s.traceId === traceId && s.name === 'bqgate jobs.query');
      if (!root) await new Promise((res) => setTimeout(res, 100));
    }
    expect(root).toBeDefined();
    expect(root.parentSpanId).toBe(parent);
    expect(attr(root, 'enduser.id')).toEqual({ stringValue: 'observed-agent' });
    expect(attr(root, 'bqgate.decision')).toEqual({ stringValue: 'allow' });
    for (let i = 0; i < 50 && spans.filter((s) => s.parentSpanId === root.spanId).length < 4; i++) await new Promise((res) => setTimeout(res, 100));
    const stages = new Set(spans.filter((s) => s.parentSpanId === root.spanId).map((s) => s.name));
    for (const st of ['auth', 'analyze', 'policy', 'rewrite', 'audit']) expect(stages).toContain(st);
    const all = JSON.stringify(spans);
    expect(all).not.toContain(token.slice(0, 30));
    expect(all).not.toContain('shop.orders');
  });

  it('writes pino JSON log lines that carry the audit request id', async () => {
    await gw.sdk(token).query({ query: 'SELECT 1 AS one', useLegacySql: false });
    const rec = (await auditRequests(gw.dataDir)).filter((x) => x.operation === 'jobs.query' && x.sql === 'SELECT 1 AS one').pop()!;
    const lines = gw.output().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
    const mine = lines.filter((l) => l.reqId === rec.requestId);
    expect(mine.length).toBeGreaterThan(0);
    expect(mine.every((l) => typeof l.level === 'number' && typeof l.time === 'number')).toBe(true);
  });
});
