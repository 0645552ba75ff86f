/**
 * Benchmark section 7 (`--only scale`): the scale story, measured in this run.
 *
 * 1. Per replica: one gateway whose audit log is in PostgreSQL (as replicas share it), the
 *    allow-only 100-row query at 16, 64 and 256 concurrent callers (autocannon, closed loop):
 *    queries/s, p50/p99 latency, the gateway's RSS after the row and its peak, and the audit
 *    commits and events per commit (its /metrics).
 * 2. The shared limit: the PostgreSQL audit log's capacity, writing from 1 and from 4 AuditLogs at
 *    once (4 replicas' writers contend for the one advisory writer lock), 256 simulated requests in
 *    flight (5 events each, bench/audit.ts): events/s, commits/s, requests/s.
 * 3. Replicas for a stated load (`--load` queries/s, default 1,000 agents × 1 query/s):
 *    ceil(load ÷ per-replica queries/s at 64 callers), and whether the PG audit's measured requests/s
 *    (the best of 1 or 4 writers) covers it — if not, the audit log is the limit and must be sharded
 *    (README "Benchmarks": what shards it).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditLog } from '../src/audit/index.js';
import { startPostgres } from '../test/helpers/postgres.js';
import { startStack, peakRss } from './stack.js';
import { auditCounters, checkTarget, commitDelta, load } from './latency.js';
import { run } from './audit.js';

/** Current resident set size of a process, MB (Linux /proc/PID/status VmRSS). */
const rssMb = (pid: number) => Math.round(Number(readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+) kB/)?.[1] ?? NaN) / 1024);

export async function benchScale(o: { quick: boolean; loadQps: number }) {
  const pg = await startPostgres();
  const dir = mkdtempSync(join(tmpdir(), 'bqgate-bench-scale-'));
  try {
    const replica: Array<Record<string, unknown>> = [];
    const stack = await startStack({ gatewayEnv: { BQGATE_AUDIT_POSTGRES: pg.url } });
    try {
      const token = await stack.token('bench-scale', 'bench-plain');
      await checkTarget(stack.gatewayUrl, token);
      await load(stack.gatewayUrl, token, { connections: 4, durationSec: 2 }); // warm-up
      for (const c of [16, 64, 256]) {
        const before = await auditCounters(stack.gatewayUrl);
        const r = await load(stack.gatewayUrl, token, { connections: c, durationSec: o.quick ? 4 : 10 });
        replica.push({ callers: c, qps: r.rps, errors: r.errors, p50_ms: r.p50_ms, p99_ms: r.p99_ms, own_p50_ms: r.own_p50_ms, rss_mb: rssMb(stack.gatewayPid), peak_rss_mb: Math.round(peakRss(stack.gatewayPid) / 2 ** 20), ...commitDelta(before, await auditCounters(stack.gatewayUrl)) });
      }
    } finally {
      await stack.stop();
    }

    const audit: Array<Record<string, unknown>> = [];
    const { default: pgm } = await import('pg');
    for (const writers of [1, 4]) {
      const c = new pgm.Client(pg.url); await c.connect(); await c.query('DROP TABLE IF EXISTS audit_log, audit_checkpoints, audit_sink_cursors'); await c.end();
      const logs: AuditLog[] = [];
      for (let i = 0; i < writers; i++) logs.push(await AuditLog.open(join(dir, `w${writers}-${i}`), { postgresUrl: pg.url }));
      const requests = o.quick ? 2_000 : 8_000;
      const r = await run(logs, requests, 256);
      const st = logs.map((l) => l.stats()).reduce((a, b) => ({ commits: a.commits + b.commits, events: a.events + b.events, largestCommit: Math.max(a.largestCommit, b.largestCommit) }));
      for (const l of logs) await l.close();
      const sec = r.ms / 1000;
      audit.push({ writers, in_flight: 256, events: r.events, events_per_sec: Math.round(r.events / sec), commits_per_sec: Math.round(st.commits / sec), events_per_commit: +(st.events / st.commits).toFixed(1), requests_per_sec: Math.round(requests / sec) });
    }

    const at64 = replica.find((r) => r.callers === 64)!;
    const perReplica = Number(at64.qps);
    const auditCap = Math.max(...audit.map((a) => Number(a.requests_per_sec)));
    const plan = {
      load_qps: o.loadQps, per_replica_qps_at_64: perReplica, replicas_needed: perReplica > 0 ? Math.ceil(o.loadQps / perReplica) : NaN,
      pg_audit_requests_per_sec: auditCap, audit_is_the_limit: auditCap < o.loadQps,
      audit_shards_needed: Math.ceil(o.loadQps / Math.max(1, auditCap)),
    };
    return { replica, audit, plan };
  } finally {
    pg.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
