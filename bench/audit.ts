/**
 * Benchmark section 4: audit events written durably per second, with SQLite (WAL,
 * synchronous=FULL) and PostgreSQL (synchronous_commit on), through the gateway's AuditLog: each
 * simulated request appends 5 events (request, decision, upstream, delivery, response) in two
 * durable appends, with `concurrency` requests in flight (group commit shares their fsyncs). The
 * delivery event carries a 100-row sample as the gateway's does (rowsCap 100), so the per-event
 * sealing cost (RFC 8785 canonical JSON, leaf hash) is the real one. Each row prints the commits
 * and events per commit (AuditLog.stats), and the SQLite store is measured on the event loop and on
 * its worker thread (BQGATE_AUDIT_SQLITE_THREAD) in the same run.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditLog, type AuditEventInput } from '../src/audit/index.js';
import { startPostgres } from '../test/helpers/postgres.js';

/** 100 delivered rows in the REST f/v shape, like the latency bench's query. */
const SAMPLE = Array.from({ length: 100 }, (_, i) => ({ f: [{ v: String(i) }, { v: `Customer ${i}` }, { v: `c${i}@example.com` }, { v: '+1 555 0100' }, { v: 'US' }] }));

/** `requests` simulated requests (5 events in two durable appends each), `concurrency` in flight, spread over `logs` (replicas). */
export async function run(logs: AuditLog | AuditLog[], requests: number, concurrency: number) {
  let next = 0;
  const all = [logs].flat();
  const ev = (type: AuditEventInput['type'], requestId: string, data: Record<string, unknown>): AuditEventInput => ({ type, requestId, principal: `agent-${requestId.length % 50}`, issuer: 'http://127.0.0.1', data });
  const worker = async () => {
    while (next < requests) {
      const id = `r${next++}`;
      const log = all[next % all.length];
      await log.append([ev('request', id, { operation: 'jobs.query', sql: 'SELECT customer_id, email FROM shop.customers LIMIT 100' }), ev('decision', id, { effect: 'allow', matchedRules: ['bench-read-shop'], tables: ['demo-project.shop.customers'] })]);
      await log.append([ev('upstream', id, { jobId: `job_${id}` }), ev('delivery', id, { columns: ['customer_id', 'full_name', 'email', 'phone', 'country'], rows: 100, bytes: 20_000, sha256: '0'.repeat(64), rowsSha256: '1'.repeat(64), sample: SAMPLE, sampleTruncated: false }), ev('response', id, { status: 200, durationMs: 3.2 })]);
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const ms = performance.now() - t0;
  return { events: requests * 5, ms };
}

export async function benchAudit(o: { requests: number }) {
  const rows: Array<Record<string, unknown>> = [];
  const measure = async (store: string, open: () => Promise<AuditLog>) => {
    for (const concurrency of [1, 16, 64]) {
      const log = await open();
      const n = concurrency === 1 ? Math.max(50, Math.round(o.requests / 10)) : o.requests;
      const r = await run(log, n, concurrency);
      const st = log.stats();
      const cps = (await log.checkpoints()).length;
      await log.close();
      const sec = r.ms / 1000;
      rows.push({ store, concurrency, events: r.events, events_per_sec: Math.round(r.events / sec), requests_per_sec: Math.round(r.events / 5 / sec), commits_per_sec: Math.round(st.commits / sec), events_per_commit: +(st.events / st.commits).toFixed(2), checkpoints: cps });
    }
  };
  const dir = mkdtempSync(join(tmpdir(), 'bqgate-bench-audit-'));
  let i = 0;
  await measure('SQLite (WAL, synchronous=FULL), event loop', () => AuditLog.open(join(dir, String(i++))));
  await measure('SQLite (WAL, synchronous=FULL), worker thread', () => AuditLog.open(join(dir, String(i++)), { sqliteThread: true }));
  let pg;
  try {
    pg = await startPostgres();
    let j = 0;
    await measure('PostgreSQL (synchronous_commit=on)', async () => {
      const { default: pgm } = await import('pg');
      const c = new pgm.Client(pg!.url); await c.connect(); await c.query('DROP TABLE IF EXISTS audit_log, audit_checkpoints'); await c.end();
      return AuditLog.open(join(dir, `pg${j++}`), { postgresUrl: pg!.url });
    });
  } catch (err) {
    rows.push({ store: 'PostgreSQL', concurrency: '-', events: 0, events_per_sec: `not measured: ${(err as Error).message.slice(0, 80)}`, requests_per_sec: '', commits_per_sec: '', events_per_commit: '', checkpoints: 0 });
  } finally {
    pg?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}
