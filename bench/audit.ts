/**
 * Benchmark section 4: audit events written durably per second, with SQLite (WAL,
 * synchronous=FULL) and PostgreSQL (synchronous_commit on), through the gateway's AuditLog: each
 * simulated request appends 5 events (request, decision, upstream, delivery, response) in two
 * durable appends, with `concurrency` requests in flight (group commit shares their fsyncs).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditLog, type AuditEventInput } from '../src/audit/index.js';
import { startPostgres } from '../test/helpers/postgres.js';

async function run(log: AuditLog, requests: number, concurrency: number) {
  let next = 0;
  const ev = (type: AuditEventInput['type'], requestId: string, data: Record<string, unknown>): AuditEventInput => ({ type, requestId, principal: `agent-${requestId.length % 50}`, issuer: 'http://127.0.0.1', data });
  const worker = async () => {
    while (next < requests) {
      const id = `r${next++}`;
      await log.append([ev('request', id, { operation: 'jobs.query', sql: 'SELECT customer_id, email FROM shop.customers LIMIT 100' }), ev('decision', id, { effect: 'allow', matchedRules: ['bench-read-shop'], tables: ['demo-project.shop.customers'] })]);
      await log.append([ev('upstream', id, { jobId: `job_${id}` }), ev('delivery', id, { rows: 100, sha256: '0'.repeat(64), sample: [] }), ev('response', id, { status: 200, durationMs: 3.2 })]);
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
    for (const concurrency of [1, 64]) {
      const log = await open();
      const n = concurrency === 1 ? Math.max(50, Math.round(o.requests / 10)) : o.requests;
      const r = await run(log, n, concurrency);
      const cps = (await log.checkpoints()).length;
      await log.close();
      rows.push({ store, concurrency, events: r.events, events_per_sec: Math.round(r.events / (r.ms / 1000)), checkpoints: cps });
    }
  };
  const dir = mkdtempSync(join(tmpdir(), 'bqgate-bench-audit-'));
  let i = 0;
  await measure('SQLite (WAL, synchronous=FULL)', () => AuditLog.open(join(dir, String(i++))));
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
    rows.push({ store: 'PostgreSQL', concurrency: '-', events: 0, events_per_sec: `not measured: ${(err as Error).message.slice(0, 80)}`, checkpoints: 0 });
  } finally {
    pg?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}
