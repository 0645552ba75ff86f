/**
 * Benchmark sections 1 and 5: added latency and sustained throughput.
 *
 * The same small query (100 rows of shop.customers, jobs.query, maxResults 100) is sent with
 * autocannon (HTTP/1.1 keep-alive connections = concurrent callers) to three targets: the emulator
 * directly, the plain pass-through proxy, and the gateway (token, analysis, policy with masks and a
 * row filter, rewrite, audit). Latencies come from autocannon's per-response event (process.hrtime,
 * ms with sub-ms precision), not from its millisecond histogram.
 */
import autocannon from 'autocannon';

export const SMALL_QUERY = 'SELECT customer_id, full_name, email, phone, country FROM `demo-project.shop.customers` ORDER BY customer_id LIMIT 100';

export interface LatencyRow {
  target: string; concurrency: number; requests: number; errors: number; rps: number; p50_ms: number; p90_ms: number; p99_ms: number;
  /** bqgate only, from its Server-Timing header: time not spent waiting on the upstream (total − upstream), and in the audit log. */
  own_p50_ms?: number; own_p99_ms?: number; audit_p50_ms?: number;
  /** bqgate only, Server-Timing: the statement stage (analyze + policy + rewrite + regenerate: analysis, decision, rewrite, its re-analysis and canonical text). */
  statement_p50_ms?: number; statement_p99_ms?: number;
  /** bqgate only, from its /metrics during the run: durable audit commits, and audit events per commit (the group commit's batching). */
  audit_commits?: number; events_per_commit?: number;
}

/** The gateway's audit commit counters (its /metrics); undefined for a target that has none. */
export async function auditCounters(base: string): Promise<{ commits: number; events: number } | undefined> {
  const r = await fetch(`${base}/metrics`).catch(() => undefined);
  if (!r || r.status !== 200) return undefined;
  const text = await r.text();
  const get = (name: string) => Number(text.match(new RegExp(`^${name} (\\S+)$`, 'm'))?.[1]);
  const commits = get('bqgate_audit_commits_total');
  return Number.isFinite(commits) ? { commits, events: get('bqgate_audit_committed_events_total') } : undefined;
}

/** Commits and events per commit between two counter readings. */
export function commitDelta(a?: { commits: number; events: number }, b?: { commits: number; events: number }) {
  if (!a || !b) return {};
  const commits = b.commits - a.commits;
  return { audit_commits: commits, events_per_commit: commits ? round((b.events - a.events) / commits, 2) : 0 };
}

export const pct = (xs: number[], p: number) => { const s = Float64Array.from(xs).sort(); return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] : NaN; };
const round = (x: number, d = 3) => +x.toFixed(d);

/** Runs autocannon against `base` and returns precise latency percentiles (ms) of 2xx responses. */
export async function load(base: string, token: string | undefined, o: { connections: number; durationSec: number; overallRate?: number }): Promise<Omit<LatencyRow, 'target'>> {
  const latencies: number[] = [];
  const own: number[] = [];
  const audit: number[] = [];
  const statement: number[] = [];
  let errors = 0;
  let done!: (r: autocannon.Result) => void;
  let fail!: (e: Error) => void;
  const finished = new Promise<autocannon.Result>((res, rej) => { done = res; fail = rej; });
  const inst = autocannon({
    url: `${base}/bigquery/v2/projects/demo-project/queries`,
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query: SMALL_QUERY, useLegacySql: false, maxResults: 100, timeoutMs: 10000 }),
    connections: o.connections,
    duration: o.durationSec,
    ...(o.overallRate ? { overallRate: o.overallRate } : {}),
    setupClient: (client: any) => {
      client.on('headers', (h: { headers: string[] }) => {
        for (let i = 0; i < h.headers.length; i += 2) {
          if (h.headers[i].toLowerCase() !== 'server-timing') continue;
          const t = Object.fromEntries([...h.headers[i + 1].matchAll(/(\w+);dur=([\d.]+)/g)].map((m) => [m[1], Number(m[2])]));
          own.push(t.total - (t.upstream ?? 0));
          audit.push(t.audit ?? 0);
          statement.push((t.analyze ?? 0) + (t.policy ?? 0) + (t.rewrite ?? 0) + (t.regenerate ?? 0));
        }
      });
    },
  } as autocannon.Options, (err, r) => (err ? fail(err) : done(r)));
  inst.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => { if (status >= 200 && status < 300) latencies.push(ms); else errors++; });
  const res = await finished;
  return {
    concurrency: o.connections, requests: latencies.length, errors: errors + res.errors + res.timeouts,
    rps: Math.round(latencies.length / o.durationSec),
    p50_ms: round(pct(latencies, 50)), p90_ms: round(pct(latencies, 90)), p99_ms: round(pct(latencies, 99)),
    ...(own.length ? { own_p50_ms: round(pct(own, 50)), own_p99_ms: round(pct(own, 99)), audit_p50_ms: round(pct(audit, 50)), statement_p50_ms: round(pct(statement, 50), 4), statement_p99_ms: round(pct(statement, 99), 4) } : {}),
  };
}

/** Checks once that a target answers the query with 100 rows (so no path is measured failing fast). */
export async function checkTarget(base: string, token?: string) {
  const r = await fetch(`${base}/bigquery/v2/projects/demo-project/queries`, {
    method: 'POST', headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query: SMALL_QUERY, useLegacySql: false, maxResults: 100 }),
  });
  const body = await r.json() as { rows?: unknown[]; error?: { message: string } };
  if (r.status !== 200 || body.rows?.length !== 100) throw new Error(`${base}: expected 100 rows, got ${r.status} ${JSON.stringify(body).slice(0, 300)}`);
  return body;
}

export async function benchLatency(targets: Array<{ name: string; url: string; token?: string }>, concurrencies: number[], durationSec: number): Promise<LatencyRow[]> {
  const rows: LatencyRow[] = [];
  for (const t of targets) {
    await checkTarget(t.url, t.token);
    await load(t.url, t.token, { connections: 4, durationSec: 2 }); // warm-up (JIT, caches, connections)
    for (const c of concurrencies) {
      const before = await auditCounters(t.url);
      const r = await load(t.url, t.token, { connections: c, durationSec });
      rows.push({ target: t.name, ...r, ...commitDelta(before, await auditCounters(t.url)) });
    }
  }
  return rows;
}

/**
 * Open-loop load for section 5: `rate` queries/s evenly spaced for `durationSec`, run by at most
 * `callers` concurrent callers (a query waits for a free caller). Latency (ms) runs from the
 * query's scheduled time to its answer, so queueing counts (no coordinated omission).
 */
export async function paced(url: string, token: string, o: { callers: number; rate: number; durationSec: number }) {
  const total = Math.round(o.rate * o.durationSec);
  const t0 = performance.now() + 50;
  const latencies: number[] = [];
  let errors = 0;
  let next = 0;
  const body = JSON.stringify({ query: SMALL_QUERY, useLegacySql: false, maxResults: 100, timeoutMs: 10000 });
  const caller = async () => {
    while (next < total) {
      const i = next++;
      const due = t0 + (i * 1000) / o.rate;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      try {
        const r = await fetch(`${url}/bigquery/v2/projects/demo-project/queries`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body });
        await r.arrayBuffer();
        if (r.status === 200) latencies.push(performance.now() - due); else errors++;
      } catch { errors++; }
    }
  };
  await Promise.all(Array.from({ length: o.callers }, caller));
  const elapsed = (performance.now() - t0) / 1000;
  return { achieved: Math.round(latencies.length / elapsed), p99: round(pct(latencies, 99)), p50: round(pct(latencies, 50)), errors };
}

/**
 * Section 5: the highest offered rate (queries/s) at which `callers` concurrent callers keep
 * p99 ≤ `p99LimitMs` with ≥ 95% of the rate delivered and no errors. Steps the rate up ×1.4 from
 * `startRate`; returns the last step that held.
 */
export async function benchThroughput(url: string, token: string, o: { connections: number; stepSec: number; p99LimitMs: number; startRate: number }) {
  const steps: Array<{ offered_qps: number; achieved_qps: number; p50_ms: number; p99_ms: number; errors: number }> = [];
  let rate = o.startRate;
  let best: (typeof steps)[number] | undefined;
  for (let i = 0; i < 25; i++) {
    const r = await paced(url, token, { callers: o.connections, rate, durationSec: o.stepSec });
    const step = { offered_qps: rate, achieved_qps: r.achieved, p50_ms: r.p50, p99_ms: r.p99, errors: r.errors };
    steps.push(step);
    if (r.p99 > o.p99LimitMs || r.achieved < 0.95 * rate || r.errors > 0) break;
    best = step;
    rate = Math.max(rate + 1, Math.round(rate * 1.4));
  }
  return { concurrency: o.connections, p99_limit_ms: o.p99LimitMs, sustained_qps: best?.achieved_qps ?? 0, p99_at_sustained_ms: best?.p99_ms ?? NaN, steps };
}
