/**
 * Benchmark section 3: result delivery. One caller runs a 1,000,000-row query with masked columns
 * (jobs.insert) and pages through it with getQueryResults (pageToken), as the SDK and `bq` do;
 * the same through the emulator directly, for the baseline. Reports rows/s (rows received ÷ wall
 * time of the paging, ms) and the gateway's peak RSS (VmHWM, bytes) before and after.
 */
import { peakRss } from './stack.js';

export const LARGE_QUERY = 'SELECT c.customer_id, c.email, c.full_name, c.phone, n FROM `demo-project.shop.customers` AS c CROSS JOIN UNNEST(GENERATE_ARRAY(1, 100)) AS n';

async function call(base: string, token: string | undefined, method: string, path: string, body?: unknown) {
  const r = await fetch(`${base}/bigquery/v2/projects/demo-project${path}`, {
    method, headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const j = await r.json() as any;
  if (r.status !== 200) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(j).slice(0, 300)}`);
  return j;
}

/** Runs LARGE_QUERY and pages through all of it; throws if fewer rows than expected arrive. */
export async function pageThrough(base: string, token: string | undefined, pageRows: number, expectRows: number) {
  const job = await call(base, token, 'POST', '/jobs', { configuration: { query: { query: LARGE_QUERY, useLegacySql: false } } });
  const jobId = job.jobReference.jobId as string;
  const t0 = performance.now();
  let rows = 0;
  let pages = 0;
  let token_: string | undefined;
  let sample: unknown;
  for (;;) {
    const q = new URLSearchParams({ maxResults: String(pageRows), timeoutMs: '60000', ...(token_ ? { pageToken: token_ } : {}) });
    const page = await call(base, token, 'GET', `/queries/${encodeURIComponent(jobId)}?${q}`);
    if (!page.jobComplete) continue;
    rows += page.rows?.length ?? 0;
    sample ??= page.rows?.[0];
    pages++;
    token_ = page.pageToken;
    if (!token_) break;
  }
  const ms = performance.now() - t0;
  if (rows !== expectRows) throw new Error(`${base}: expected ${expectRows} rows, received ${rows}`);
  return { rows, pages, ms, rowsPerSec: Math.round(rows / (ms / 1000)), sample };
}

export async function benchDelivery(s: { emulatorUrl: string; emulatorSecret: string; gatewayUrl: string; gatewayPid: number; token: string }, pageRows = 20_000) {
  const expect = 1_000_000;
  const before = peakRss(s.gatewayPid);
  const direct = await pageThrough(s.emulatorUrl, s.emulatorSecret, pageRows, expect);
  const gw = await pageThrough(s.gatewayUrl, s.token, pageRows, expect);
  const after = peakRss(s.gatewayPid);
  const masked = JSON.stringify(gw.sample);
  return {
    rows: gw.rows, page_rows: pageRows, pages: gw.pages,
    direct_rows_per_sec: direct.rowsPerSec, gateway_rows_per_sec: gw.rowsPerSec,
    gateway_peak_rss_before_mb: +(before / 2 ** 20).toFixed(1), gateway_peak_rss_after_mb: +(after / 2 ** 20).toFixed(1),
    masked_sample: masked.slice(0, 200),
  };
}
