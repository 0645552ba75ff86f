/**
 * Benchmark section 6: what the MCP door adds. The same 100-row query (SMALL_QUERY, by a principal
 * the bench policy allows without masks: the masking is the same on both doors) through the same
 * gateway in the same run, three ways:
 *   - REST `jobs.query` (fetch, keep-alive, maxResults 100), the baseline;
 *   - MCP `tools/call execute_sql` with the official MCP client (@modelcontextprotocol/client,
 *     Streamable HTTP) pinned to 2025-06-18 (one initialized session, `Mcp-Session-Id`);
 *   - the same pinned to 2026-07-28 (stateless: every call carries its `_meta` envelope).
 * The paths are interleaved: each caller calls the three in turn (order rotated every round), so they
 * share whatever else loads the machine; concurrency = callers, each with one call in flight.
 * Latency is the wall time of one call (ms, performance.now()), warm-up rounds excluded. Every answer
 * is checked to carry 100 rows, so no path is measured failing fast. Overhead = MCP p50/p99 − REST
 * p50/p99 at the same concurrency.
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
      const r = await client.callTool({ name: 'execute_sql', arguments: { projectId: 'demo-project', query: SMALL_QUERY, maxResults: 100, timeoutMs: 10000 } }) as { isError?: boolean; structuredContent?: { rows?: unknown[] }; content?: unknown };
      if (r.isError || r.structuredContent?.rows?.length !== 100) throw new Error(`MCP ${revision} execute_sql: ${JSON.stringify(r).slice(0, 300)}`);
    },
    close: () => client.close(),
  };
}

/**
 * `callers` concurrent callers; each holds one caller per path and makes `perCaller` rounds, a round
 * being one call on every path in an order rotated per round (so the paths share the machine's load
 * and none always goes first), after `warmup` unmeasured rounds. Latencies (ms) per path.
 */
async function measure(paths: string[], callers: Array<Call[]>, perCaller: number, warmup: number): Promise<McpRow[]> {
  const latencies = paths.map(() => [] as number[]);
  for (const c of callers) for (let i = 0; i < warmup; i++) for (const call of c) await call();
  const t0 = performance.now();
  await Promise.all(callers.map(async (c, k) => {
    for (let i = 0; i < perCaller; i++) {
      for (let j = 0; j < c.length; j++) {
        const p = (i + j + k) % c.length;
        const s = performance.now();
        await c[p]();
        latencies[p].push(performance.now() - s);
      }
    }
  }));
  const sec = (performance.now() - t0) / 1000;
  return paths.map((path, p) => ({
    path, concurrency: callers.length, calls: latencies[p].length,
    p50_ms: round(pct(latencies[p], 50)), p90_ms: round(pct(latencies[p], 90)), p99_ms: round(pct(latencies[p], 99)), calls_per_s: Math.round(latencies[p].length / sec),
  }));
}

const REVISIONS = ['2025-06-18', '2026-07-28'] as const;

/**
 * The section: for each concurrency, `n` callers each calling REST and both MCP revisions in turn,
 * ⌈callsPerPath / n⌉ rounds. `restToken` / `mcpToken`: the same principal's claims, for the REST audience
 * and for the MCP resource. calls_per_s counts one path's calls over the whole (shared) run.
 */
export async function benchMcp(o: { gatewayUrl: string; restToken: string; mcpToken: string; concurrencies: number[]; callsPerPath: number; warmup: number }) {
  const rows: McpRow[] = [];
  const paths = ['REST jobs.query', ...REVISIONS.map((r) => `MCP ${r} execute_sql`)];
  for (const n of o.concurrencies) {
    const mcp = await Promise.all(Array.from({ length: n }, () => Promise.all(REVISIONS.map((r) => mcpCaller(o.gatewayUrl, o.mcpToken, r)))));
    try {
      rows.push(...await measure(paths, mcp.map((m) => [restCaller(o.gatewayUrl, o.restToken), ...m.map((c) => c.call)]), Math.ceil(o.callsPerPath / n), o.warmup));
    } finally { for (const c of mcp.flat()) await c.close().catch(() => undefined); }
  }
  const overhead = rows.filter((r) => r.path.startsWith('MCP')).map((r) => {
    const rest = rows.find((x) => x.path === 'REST jobs.query' && x.concurrency === r.concurrency)!;
    return { path: r.path, concurrency: r.concurrency, added_p50_ms: round(r.p50_ms - rest.p50_ms), added_p99_ms: round(r.p99_ms - rest.p99_ms) };
  });
  return { rows, overhead };
}
