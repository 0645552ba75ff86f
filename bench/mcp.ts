/**
 * Benchmark section 6: what the MCP door adds. The same 100-row query (SMALL_QUERY, masks and a row
 * filter of the bench policy) through the same gateway in the same run, three ways:
 *   - REST `jobs.query` (fetch, keep-alive, maxResults 100), the baseline;
 *   - MCP `tools/call execute_sql` with the official MCP client (@modelcontextprotocol/client,
 *     Streamable HTTP) pinned to 2025-06-18 (one initialized session, `Mcp-Session-Id`);
 *   - the same pinned to 2026-07-28 (stateless: every call carries its `_meta` envelope).
 * Each caller runs its calls one after another (concurrency = callers); latency is the wall time of
 * one call (ms, performance.now()), warm-up calls excluded. Every answer is checked to carry 100
 * rows, so no path is measured failing fast. Overhead = MCP p50/p99 − REST p50/p99 at the same
 * concurrency.
 */
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { SMALL_QUERY, pct } from './latency.js';

export type McpRow = { path: string; concurrency: number; calls: number; p50_ms: number; p90_ms: number; p99_ms: number; calls_per_s: number };

const round = (x: number) => +x.toFixed(3);
type Call = () => Promise<void>;

/** A REST caller: jobs.query through the gateway, the answer's rows checked. */
const restCaller = (gatewayUrl: string, token: string): Call => async () => {
  const r = await fetch(`${gatewayUrl}/bigquery/v2/projects/demo-project/queries`, {
    method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: SMALL_QUERY, useLegacySql: false, maxResults: 100, timeoutMs: 10000 }),
  });
  const body = await r.json() as { rows?: unknown[] };
  if (r.status !== 200 || body.rows?.length !== 100) throw new Error(`REST jobs.query: ${r.status} ${JSON.stringify(body).slice(0, 300)}`);
};

/** An MCP caller: a connected official client calling execute_sql, the structured result's rows checked. */
async function mcpCaller(gatewayUrl: string, token: string, revision: '2025-06-18' | '2026-07-28'): Promise<{ call: Call; close(): Promise<void> }> {
  const client = new Client({ name: 'bqgate-bench', version: '1.0.0' }, revision === '2026-07-28'
    ? { versionNegotiation: { mode: { pin: '2026-07-28' } } } : { supportedProtocolVersions: [revision] });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${gatewayUrl}/mcp`), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
  return {
    async call() {
      const r = await client.callTool({ name: 'execute_sql', arguments: { projectId: 'demo-project', query: SMALL_QUERY, maxResults: 100 } }) as { isError?: boolean; structuredContent?: { rows?: unknown[] }; content?: unknown };
      if (r.isError || r.structuredContent?.rows?.length !== 100) throw new Error(`MCP ${revision} execute_sql: ${JSON.stringify(r).slice(0, 300)}`);
    },
    close: () => client.close(),
  };
}

/** `callers` concurrent callers, each making `perCaller` calls in a row after `warmup` unmeasured ones. */
async function measure(path: string, calls: Call[], perCaller: number, warmup: number): Promise<McpRow> {
  for (const c of calls) for (let i = 0; i < warmup; i++) await c();
  const latencies: number[] = [];
  const t0 = performance.now();
  await Promise.all(calls.map(async (c) => {
    for (let i = 0; i < perCaller; i++) { const s = performance.now(); await c(); latencies.push(performance.now() - s); }
  }));
  const sec = (performance.now() - t0) / 1000;
  return { path, concurrency: calls.length, calls: latencies.length, p50_ms: round(pct(latencies, 50)), p90_ms: round(pct(latencies, 90)), p99_ms: round(pct(latencies, 99)), calls_per_s: Math.round(latencies.length / sec) };
}

/**
 * The section: for each concurrency, REST then the two MCP revisions, `perCaller` calls per caller.
 * `restToken` / `mcpToken`: the same principal's claims, for the REST audience and the MCP resource.
 */
export async function benchMcp(o: { gatewayUrl: string; restToken: string; mcpToken: string; concurrencies: number[]; perCaller: number; warmup: number }) {
  const rows: McpRow[] = [];
  for (const n of o.concurrencies) {
    rows.push(await measure('REST jobs.query', Array.from({ length: n }, () => restCaller(o.gatewayUrl, o.restToken)), o.perCaller, o.warmup));
    for (const revision of ['2025-06-18', '2026-07-28'] as const) {
      const callers = await Promise.all(Array.from({ length: n }, () => mcpCaller(o.gatewayUrl, o.mcpToken, revision)));
      try {
        rows.push(await measure(`MCP ${revision} execute_sql`, callers.map((c) => c.call), o.perCaller, o.warmup));
      } finally { for (const c of callers) await c.close().catch(() => undefined); }
    }
  }
  const overhead = rows.filter((r) => r.path.startsWith('MCP')).map((r) => {
    const rest = rows.find((x) => x.path === 'REST jobs.query' && x.concurrency === r.concurrency)!;
    return { path: r.path, concurrency: r.concurrency, added_p50_ms: round(r.p50_ms - rest.p50_ms), added_p99_ms: round(r.p99_ms - rest.p99_ms) };
  });
  return { rows, overhead };
}
