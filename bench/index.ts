/**
 * `npm run bench`: what the gateway costs, side by side with the direct path, measured in one run
 * on this machine. Prints a table per section and writes everything to `bench-results.json`.
 * Nothing is hard-coded: every figure is measured in this run.
 *
 * Sections: 1 added latency (direct / plain proxy / bqgate, concurrency 1, 16, 64); 2 SQL analysis
 * over the corpus (cold, cached); 3 delivery of a 1,000,000-row masked result (rows/s, peak RSS);
 * 4 audit events written durably per second (SQLite, PostgreSQL); 5 sustained queries per second at
 * 64 callers with p99 ≤ 100 ms; 6 the MCP door: tools/call execute_sql beside REST jobs.query for the
 * same 100-row query (official MCP client, both protocol eras, concurrency 1 and 16).
 *
 * 7 (`scale`, bench/scale.ts): per-replica throughput and memory at 16/64/256 callers with the audit in
 * PostgreSQL, the PostgreSQL audit's events/s and commits/s (1 and 4 writers), and the replicas a
 * stated load needs (`--load QPS`, default 1000).
 *
 * 8 (`fsync`, bench/fsync.ts): one durable commit on this disk (fdatasync, SQLite WAL synchronous=FULL,
 * PostgreSQL), and what two of them per request leave of the 1 ms own-p50 target.
 *
 * 9 (`storage`, bench/storage.ts): the masked 1,000,000-row result read through the Storage Read API
 * (BigQueryReadClient, 4 streams, Arrow) beside getQueryResults paging through the gateway: rows/s and peak RSS.
 *
 * Usage: npm run bench [-- --quick] [--only latency,analysis,delivery,audit,throughput,mcp,scale,fsync,storage] [--load QPS] [--delivery-rows 100000,1000000]
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { startStack } from './stack.js';
import { benchLatency, benchThroughput, type LatencyRow } from './latency.js';
import { benchDelivery } from './delivery.js';
import { benchAnalysis } from './analysis.js';
import { benchAudit } from './audit.js';
import { benchMcp } from './mcp.js';
import { benchScale } from './scale.js';
import { benchFsync, budgetLine } from './fsync.js';
import { startPostgres } from '../test/helpers/postgres.js';
import { benchStorage } from './storage.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const only = (args[args.indexOf('--only') + 1] ?? '').split(',').filter((s) => args.includes('--only') && s);
const want = (s: string) => only.length === 0 || only.includes(s);
/** Issue 21's targets: cached analysis p99 0.05 ms, gateway own p50 ≤ 1 ms at 1 caller and own p99 ≤ 5 ms at 16 (allow only). */
const TARGETS = { addedP50Ms: 2, cachedAnalysisP99Ms: 0.05, ownP50MsAt1: 1, ownP99MsAt16: 5, deliveryVsProxy: 0.9, peakRssMb: 150 };

const results: Record<string, unknown> = { machine: { node: process.version, cpus: cpus().length, cpu: cpus()[0]?.model }, targets: TARGETS, quick };
const table = (rows: Array<Record<string, unknown>>) => {
  if (!rows.length) return;
  const keys = Object.keys(rows[0]);
  const w = keys.map((k) => Math.max(k.length, ...rows.map((r) => String(r[k]).length)));
  console.log(keys.map((k, i) => k.padStart(w[i])).join('  '));
  for (const r of rows) console.log(keys.map((k, i) => String(r[k]).padStart(w[i])).join('  '));
  console.log();
};
const verdict = (ok: boolean) => (ok ? 'met' : 'MISSED');

if (want('latency') || want('delivery') || want('throughput') || want('mcp') || want('storage')) {
  // The latency section also measures a second gateway with the audit log on its worker thread (the opt-in), in the same run.
  const stack = await startStack({ baseline: want('latency') });
  try {
    const token = await stack.token('bench-agent');
    if (want('storage')) {
      console.log('== 9. the Storage Read API: the masked 1,000,000-row result, BigQueryReadClient (4 streams, Arrow) beside getQueryResults paging');
      const st = await benchStorage({ ...stack, token }, quick ? 100_000 : 1_000_000);
      results.storage = st;
      table([st]);
    }
    if (want('delivery')) {
      console.log('== 3. result delivery: masked results of 100,000 and 1,000,000 rows, paged with getQueryResults');
      const sizeArg = args.includes('--delivery-rows') ? args[args.indexOf('--delivery-rows') + 1].split(',').map(Number) : undefined;
      const d = await benchDelivery({ ...stack, token }, quick ? 50_000 : 20_000, sizeArg ?? (quick ? [100_000] : [100_000, 1_000_000]));
      results.delivery = d;
      table(d.rows);
      console.log(`   masked sample row: ${d.masked_sample}; gateway peak RSS before: ${d.gateway_peak_rss_before_mb} MB`);
      const big = d.rows[d.rows.length - 1];
      console.log(`   target bqgate ≥ ${TARGETS.deliveryVsProxy}× plain proxy rows/s at ${big.rows} rows: ${verdict(big.bqgate_vs_proxy >= TARGETS.deliveryVsProxy)}; peak RSS ≤ ${TARGETS.peakRssMb} MB: ${verdict(big.bqgate_peak_rss_mb <= TARGETS.peakRssMb)}\n`);
    }
    if (want('latency')) {
      console.log('== 1. added latency: 100-row jobs.query, ms');
      const rows = await benchLatency([
        { name: 'direct (emulator)', url: stack.emulatorUrl, token: stack.emulatorSecret },
        { name: 'plain proxy', url: stack.proxyUrl, token: stack.emulatorSecret },
        { name: 'bqgate, allow only, audit on worker thread (BQGATE_AUDIT_SQLITE_THREAD=1)', url: stack.baselineUrl!, token: await stack.baselineToken!('bench-plain', 'bench-plain') },
        { name: 'bqgate, allow only', url: stack.gatewayUrl, token: await stack.token('bench-plain', 'bench-plain') },
        { name: 'bqgate', url: stack.gatewayUrl, token },
      ], [1, 16, 64], quick ? 3 : 10);
      table(rows.map((r) => ({ ...r, own_p50_ms: r.own_p50_ms ?? '', own_p99_ms: r.own_p99_ms ?? '', audit_p50_ms: r.audit_p50_ms ?? '', statement_p50_ms: r.statement_p50_ms ?? '', statement_p99_ms: r.statement_p99_ms ?? '', audit_commits: r.audit_commits ?? '', events_per_commit: r.events_per_commit ?? '' })));
      console.log('   own_*: the gateway\'s time not waiting on the upstream (Server-Timing total − upstream); audit: durable audit writes; statement_*: analyze + policy + rewrite + regenerate (the statement stage, pipeline/check.ts); audit_commits and events_per_commit: the audit log\'s durable commits during the row (its /metrics).\n');
      const at = (t: string, c: number) => rows.find((r) => r.target === t && r.concurrency === c)!;
      const added = [1, 16, 64].map((c) => {
        const g = at('bqgate', c); const d = at('direct (emulator)', c); const p = at('plain proxy', c);
        const diff = (k: keyof LatencyRow) => +((g[k] as number) - (d[k] as number)).toFixed(3);
        const diffP = (k: keyof LatencyRow) => +((g[k] as number) - (p[k] as number)).toFixed(3);
        return { concurrency: c, added_p50_over_direct: diff('p50_ms'), added_p99_over_direct: diff('p99_ms'), added_p50_over_proxy: diffP('p50_ms'), added_p99_over_proxy: diffP('p99_ms') };
      });
      table(added);
      const a16 = added.find((a) => a.concurrency === 16)!;
      console.log(`   target added p50 ≤ ${TARGETS.addedP50Ms} ms over direct at concurrency 16: ${verdict(a16.added_p50_over_direct <= TARGETS.addedP50Ms)}`);
      const own1 = at('bqgate, allow only', 1).own_p50_ms!; const own16 = at('bqgate, allow only', 16).own_p99_ms!;
      console.log(`   target allow-only own p50 ≤ ${TARGETS.ownP50MsAt1} ms at 1 caller: ${verdict(own1 <= TARGETS.ownP50MsAt1)} (${own1} ms); own p99 ≤ ${TARGETS.ownP99MsAt16} ms at 16: ${verdict(own16 <= TARGETS.ownP99MsAt16)} (${own16} ms)\n`);
      results.latency = { rows, added };
    }
    if (want('throughput')) {
      console.log('== 5. throughput: queries/s at 64 concurrent callers with p99 ≤ 100 ms');
      const out: Record<string, unknown> = {};
      for (const [name, tok, start] of [['bqgate (masks + row filter)', token, 2], ['bqgate, allow only', await stack.token('bench-plain', 'bench-plain'), 10], ['direct (emulator)', stack.emulatorSecret, 10]] as const) {
        const t = await benchThroughput(name.startsWith('direct') ? stack.emulatorUrl : stack.gatewayUrl, tok, { connections: 64, stepSec: quick ? 3 : 6, p99LimitMs: 100, startRate: start });
        console.log(`   ${name}:`);
        table(t.steps);
        console.log(`   sustained: ${t.sustained_qps} queries/s (p99 ${t.p99_at_sustained_ms} ms)\n`);
        out[name] = t;
      }
      results.throughput = out;
    }
    if (want('mcp')) {
      console.log('== 6. the MCP door: tools/call execute_sql beside REST jobs.query, the same 100-row query (allow only), ms');
      // Allow only (no masks or filters): both doors pay the same masking, so it would only add noise to the difference.
      const groups = ['bench-plain', 'bench-mcp'];
      const m = await benchMcp({
        gatewayUrl: stack.gatewayUrl, restToken: await stack.tokenFor('bench-mcp-agent', groups, 'rest'), mcpToken: await stack.tokenFor('bench-mcp-agent', groups, 'mcp'),
        concurrencies: [1, 16], callsPerPath: quick ? 40 : 160, warmup: quick ? 2 : 5,
      });
      table(m.rows);
      table(m.overhead);
      console.log('   each caller calls the three paths in turn (rotated order); MCP: the official client, one per caller and revision (2025-06-18: one session each).\n');
      results.mcp = m;
    }
  } finally {
    await stack.stop();
  }
}

if (want('analysis')) {
  console.log('== 2. SQL analysis over the corpus');
  const a = await benchAnalysis({ limit: quick ? 500 : undefined });
  results.analysis = a;
  console.log(`   ${a.analyzed} of ${a.corpus_statements} corpus statements analyze (synthesized catalogs); ${a.not_cached} of them are not cached by design (EXTERNAL_QUERY) and are timed cold only; timed:`);
  table(a.rows);
  console.log(`   target cached p99 ≤ ${TARGETS.cachedAnalysisP99Ms} ms: ${verdict(a.rows[1].p99_ms <= TARGETS.cachedAnalysisP99Ms)}\n`);
}

if (want('audit')) {
  console.log('== 4. audit: events written durably per second');
  const a = await benchAudit({ requests: quick ? 1_000 : 5_000 });
  results.audit = a;
  table(a);
}

if (want('scale')) {
  const loadQps = args.includes('--load') ? Number(args[args.indexOf('--load') + 1]) : 1000;
  console.log('== 7. scale: one replica with the audit log in PostgreSQL (allow only, 100-row query), closed-loop callers');
  const s = await benchScale({ quick, loadQps });
  results.scale = s;
  table(s.replica.map((r) => ({ ...r, own_p50_ms: r.own_p50_ms ?? '', audit_commits: r.audit_commits ?? '', events_per_commit: r.events_per_commit ?? '' })));
  console.log('   the shared limit: the PostgreSQL audit log (synchronous_commit on), 256 simulated requests in flight, 5 events each');
  table(s.audit);
  const p = s.plan;
  const replicas = p.per_replica_qps_at_64 > 0 ? `${p.replicas_needed} replica(s) at ${p.per_replica_qps_at_64} q/s each (64 callers)` : 'replicas not measured (no 64-caller query completed)';
  console.log(`   ${p.load_qps} queries/s: ${replicas}; the PG audit takes ${p.pg_audit_requests_per_sec} requests/s`
    + (p.audit_is_the_limit ? ` — the audit log is the limit: ${p.audit_shards_needed} audit shards (README, Benchmarks)` : ' — the audit log is not the limit') + '\n');
}

if (want('fsync')) {
  console.log('== 8. one durable commit on this disk, ms');
  const pg = await startPostgres();
  try {
    const rows = await benchFsync({ n: quick ? 200 : 1000, pgUrl: pg.url });
    results.fsync = rows;
    table(rows);
    console.log(`   ${budgetLine(rows[1].p50_ms, TARGETS.ownP50MsAt1)}\n`);
  } finally {
    pg.stop();
  }
}

// With --only, the other sections of an earlier run are kept.
const earlier = only.length && existsSync('bench-results.json') ? JSON.parse(readFileSync('bench-results.json', 'utf8')) : {};
writeFileSync('bench-results.json', JSON.stringify({ ...earlier, ...results }, null, 2));
console.log('written: bench-results.json');
process.exit(0);
