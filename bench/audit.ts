/**
 * Benchmark section 4: audit events written durably per second (each write committed with
 * synchronous=FULL before the next starts, as a request's events are before its response leaves).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store } from '../src/audit/index.js';

export async function benchAudit(o: { events: number }) {
  const dir = mkdtempSync(join(tmpdir(), 'bqgate-bench-audit-'));
  const store = new Store(dir);
  const t0 = performance.now();
  for (let i = 0; i < o.events; i++) {
    store.begin({ principal: `agent-${i % 50}`, issuer: 'http://127.0.0.1', groups: ['bench-agents'], operation: 'jobs.query', projectId: 'demo-project', sql: 'SELECT customer_id, email FROM shop.customers LIMIT 100' });
  }
  const ms = performance.now() - t0;
  store.close();
  rmSync(dir, { recursive: true, force: true });
  return [{ store: 'SQLite (WAL, synchronous=FULL)', events: o.events, events_per_sec: Math.round(o.events / (ms / 1000)) }];
}
