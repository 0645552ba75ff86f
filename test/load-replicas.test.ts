/**
 * Issue 10's acceptance run: two gateway replicas on loopback with a real PostgreSQL behind a load
 * balancer; 200 concurrent agents (the real SDK, in worker threads) send queries for 60 s
 * (BQGATE_LOAD_SECONDS); during the run one replica is SIGKILLed (a fresh one joins later) and
 * the other replica's ZetaSQL server is killed once. Afterwards: every query succeeded or failed
 * with a clear BigQuery error; no job a client was given is missing from the shared store; every
 * delivered result has its audit events; `bqgate audit verify` accepts the exported log. The
 * figures (queries, errors by kind, p50/p99) are printed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Worker } from 'node:worker_threads';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startReplicas, type ReplicaSet } from './helpers/replicas.ts';
import { psql } from './helpers/postgres.ts';
import { callerJobId } from '../src/doors/bigquery/job-ids.ts';
import { AuditLog, requestsOf } from '../src/audit/index.ts';
import type { AgentOutcome } from './helpers/agents-worker.ts';

const execFileP = promisify(execFile);
const SECONDS = Number(process.env.BQGATE_LOAD_SECONDS ?? 60);
const AGENTS = 200;
const WORKERS = 4;

/** `{n}`: a number unique to each query, so the analyzer's cache does not hide the ZetaSQL server's death. */
const QUERIES = [
  { name: 'lookup', sql: 'SELECT order_id, amount, status, {n} AS probe FROM shop.orders WHERE order_id BETWEEN 100 AND 104 ORDER BY order_id' },
  { name: 'masked', sql: 'SELECT customer_id, email, full_name, {n} AS probe FROM shop.customers ORDER BY customer_id LIMIT 20' },
  { name: 'aggregate', sql: 'SELECT status, COUNT(*) AS n, {n} AS probe FROM shop.orders GROUP BY status ORDER BY status' },
  { name: 'denied', sql: 'SELECT ssn, {n} AS probe FROM shop.customers LIMIT 1' },
];

let set: ReplicaSet;
beforeAll(async () => { set = await startReplicas(2); }, 240_000);
afterAll(async () => { await set?.stop(); });

const pct = (xs: number[], p: number) => { const s = [...xs].sort((a, b) => a - b); return s.length ? s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] : NaN; };

describe('two replicas under load, with faults', () => {
  it('keeps every job and its audit trail while a replica and a ZetaSQL server die', async () => {
    const agents = await Promise.all(Array.from({ length: AGENTS }, async (_, i) => ({ sub: `load-agent-${i}`, token: await set.token({ sub: `load-agent-${i}`, groups: ['analysts'], act: { sub: 'load-bot' } }) })));
    const start = Date.now();
    const until = start + SECONDS * 1000;
    const perWorker = AGENTS / WORKERS;
    const runs = Array.from({ length: WORKERS }, (_, w) => new Promise<AgentOutcome[]>((resolve, reject) => {
      // The worker loads TypeScript through tsx, as bin/bqgate.js does.
      const boot = `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(new URL('./helpers/agents-worker.ts', import.meta.url).href)}); })`;
      const worker = new Worker(boot, { eval: true, workerData: { url: set.url, agents: agents.slice(w * perWorker, (w + 1) * perWorker), queries: QUERIES, until } });
      worker.once('message', resolve);
      worker.once('error', reject);
    }));

    // The faults, a third and two thirds into the run.
    const [a, b] = set.replicas;
    const at = (frac: number) => new Promise((r) => setTimeout(r, Math.max(0, start + frac * SECONDS * 1000 - Date.now())));
    const faults = (async () => {
      await at(1 / 3);
      const killedReplicaAt = Date.now();
      await b.kill('SIGKILL');
      await set.addReplica(); // a fresh replica joins the balancer
      await at(2 / 3);
      const zetasqlKilledAt = Date.now();
      await execFileP('pkill', ['-KILL', '-P', String(a.pid), '-f', 'remote_server']);
      return { killedReplicaAt, zetasqlKilledAt };
    })();
    const outcomes = (await Promise.all(runs)).flat();
    const { killedReplicaAt, zetasqlKilledAt } = await faults;

    // The figures.
    const ok = outcomes.filter((o) => o.ok);
    const errors = outcomes.filter((o) => !o.ok);
    const byKind: Record<string, number> = {};
    for (const e of errors) { const k = `${e.query}: ${e.code ?? '-'} ${e.reason ?? '(no reason)'}`; byKind[k] = (byKind[k] ?? 0) + 1; }
    const lat = ok.map((o) => o.ms);
    console.log(JSON.stringify({
      seconds: SECONDS, agents: AGENTS, queries: outcomes.length, succeeded: ok.length, failed: errors.length, errorsByKind: byKind,
      qps: +(outcomes.length / SECONDS).toFixed(1), p50Ms: Math.round(pct(lat, 50)), p99Ms: Math.round(pct(lat, 99)),
      faults: { replicaKilledAtS: (killedReplicaAt - start) / 1000, zetasqlKilledAtS: (zetasqlKilledAt - start) / 1000 },
      unclear: errors.filter((e) => !e.reason).slice(0, 5),
    }, null, 2));

    // Every query succeeded or failed with a clear error: a BigQuery reason and a message; the
    // denied query always with accessDenied, never with rows.
    expect(outcomes.length).toBeGreaterThan(AGENTS);
    expect(errors.filter((e) => !e.reason || !e.message)).toEqual([]);
    expect(outcomes.filter((o) => o.query === 'denied' && (o.ok || o.reason !== 'accessDenied'))).toEqual([]);
    for (const name of ['lookup', 'masked', 'aggregate']) expect(ok.some((o) => o.query === name)).toBe(true);
    // Service came back after each fault: queries finished well after each one.
    const margin = SECONDS * 1000 / 12;
    const okAfter = (t: number, before = Infinity) => ok.filter((o) => o.query !== 'denied' && o.end > t + margin && o.end < before).length;
    expect(okAfter(killedReplicaAt, zetasqlKilledAt)).toBeGreaterThan(0);
    expect(okAfter(zetasqlKilledAt)).toBeGreaterThan(0);

    // No job lost: every job id a client was given is in the shared store, with its owner.
    const given = outcomes.filter((o) => o.jobId);
    // Stored (and sent upstream) under the per-principal id (job-ids.ts); the client keeps its own.
    const stored = new Map(psql(set.pg.url, 'SELECT job_id, owner_issuer, owner_subject FROM bqgate_jobs').trim().split('\n').map((l) => l.split('|'))
      .map(([jobId, ownerIssuer, ownerSubject]) => [callerJobId({ jobId, ownerIssuer, ownerSubject }), ownerSubject] as [string, string]));
    expect(given.filter((o) => stored.get(o.jobId!) !== o.agent).map((o) => o.jobId)).toEqual([]);

    // Every delivered result has its audit events: a delivery of that job to that principal,
    // covering at least the rows the client received.
    const log = await AuditLog.open(set.replicas[0].dataDir, { readOnly: true, postgresUrl: set.pg.url });
    const requests = requestsOf(await log.events({ limit: 10_000_000 }));
    await log.close();
    const delivered = new Map<string, number>();
    for (const r of requests) {
      if (!r.upstream?.jobId || r.response?.status !== 200) continue;
      const key = `${r.principal}\0${callerJobId({ jobId: r.upstream.jobId, ownerIssuer: r.issuer, ownerSubject: r.principal })}`;
      delivered.set(key, (delivered.get(key) ?? 0) + r.deliveries.reduce((n, d) => n + d.rows, 0));
    }
    expect(ok.filter((o) => (delivered.get(`${o.agent}\0${o.jobId}`) ?? -1) < (o.rows ?? 0)).map((o) => o.jobId)).toEqual([]);
    // What the replicas answered (the SDK retried the 5xx ones), from the audit log.
    const answered: Record<string, number> = {};
    for (const r of requests) if (r.principal.startsWith('load-agent-')) { const k = `${r.operation} ${r.response?.status ?? 'none'} ${r.response?.errorReason ?? ''}`.trim(); answered[k] = (answered[k] ?? 0) + 1; }
    console.log(JSON.stringify({ gatewayAnswers: answered }, null, 2));

    // The exported log verifies.
    const file = join(mkdtempSync(join(tmpdir(), 'bqgate-load-')), 'audit.jsonl');
    const survivor = set.replicas[0];
    expect((await survivor.cli(['audit', 'export', '--out', file])).code).toBe(0);
    const verify = await survivor.cli(['audit', 'verify', file]);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
  }, 600_000);
});
