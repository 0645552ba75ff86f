/**
 * Where the embedded emulator's time goes for the benchmark's 100-row query (issue 21 target 4):
 * the statement as a client sends it directly, and the statement the gateway forwards for the
 * masked principal (bench/policies: four masks and a row filter), taken from a real gateway in front
 * of a real emulator (bench/stack.ts). Then, in this process, two engines on the same fixtures —
 * DuckDB's default late materialization (50 rows, "before") and the emulator's (engine.ts
 * LATE_MATERIALIZATION_ROWS, "after") — run both statements interleaved, and each run's phases
 * (RunOptions.timings: translate, connect, prepare, plan, guard, execute) plus the f/v encoding
 * (encode.ts) are printed as p50 ms with the load average, since the machine is shared.
 *
 * Usage: npx tsx bench/emulator-profile.ts [rounds, default 100]
 */
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import { Engine } from '../src/emulator/engine.js';
import { encodeRow } from '../src/emulator/encode.js';
import { startStack } from './stack.js';
import { SMALL_QUERY } from './latency.js';

const rounds = Number(process.argv[2] ?? 100);
const load = () => loadavg().map((x) => x.toFixed(1)).join('/');

/** The statement the gateway forwards upstream for `group`, read back from the emulator's job. */
async function forwarded(): Promise<{ masked: string; declared: { statementKind: string; tables: string[] } }> {
  const s = await startStack();
  try {
    const r = await fetch(`${s.gatewayUrl}/bigquery/v2/projects/demo-project/queries`, {
      method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${await s.token('profile', 'bench-agents')}` },
      body: JSON.stringify({ query: SMALL_QUERY, useLegacySql: false, maxResults: 100 }),
    });
    const body = await r.json() as { jobReference?: { jobId: string } };
    if (r.status !== 200 || !body.jobReference) throw new Error(`gateway answered ${r.status}: ${JSON.stringify(body).slice(0, 300)}`);
    const job = await (await fetch(`${s.emulatorUrl}/bigquery/v2/projects/demo-project/jobs/${body.jobReference.jobId}`, { headers: { authorization: `Bearer ${s.emulatorSecret}` } })).json() as { configuration: { query: { query: string } } };
    return { masked: job.configuration.query.query, declared: { statementKind: 'SELECT', tables: ['demo-project.shop.customers'] } };
  } finally { await s.stop(); }
}

const pct = (xs: number[], p: number) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]; };

const { masked, declared } = await forwarded();
console.log(`masked statement as forwarded (${masked.length} characters): ${masked.slice(0, 160)}…`);
const saved = process.env.BQGATE_EMULATOR_LATE_MATERIALIZATION;
process.env.BQGATE_EMULATOR_LATE_MATERIALIZATION = '50';
const before = await Engine.open(resolve('fixtures'));
if (saved === undefined) delete process.env.BQGATE_EMULATOR_LATE_MATERIALIZATION; else process.env.BQGATE_EMULATOR_LATE_MATERIALIZATION = saved;
const after = await Engine.open(resolve('fixtures'));

const cases = [['direct', 'before', before, SMALL_QUERY], ['direct', 'after', after, SMALL_QUERY], ['masked', 'before', before, masked], ['masked', 'after', after, masked]] as const;
const total = new Map<string, number[]>();
const phases = new Map<string, Map<string, number[]>>();
const startLoad = load();
for (let i = 0; i < rounds + 5; i++) {
  for (const [q, which, engine, sql] of cases) {
    const key = `${q} ${which}`;
    const timings: Record<string, number> = {};
    const t0 = performance.now();
    const r = await engine.run(sql, { projectId: 'demo-project' }, { timings, ...(q === 'masked' ? { declared } : {}) });
    const t1 = performance.now();
    const cells = r.rows.map((row) => encodeRow(row, r.schema, false));
    timings.encode = performance.now() - t1;
    if (cells.length !== 100) throw new Error(`${key}: ${cells.length} rows`);
    if (i < 5) continue; // warm-up
    (total.get(key) ?? total.set(key, []).get(key)!).push(performance.now() - t0);
    const m = phases.get(key) ?? phases.set(key, new Map()).get(key)!;
    for (const [name, ms] of Object.entries(timings)) (m.get(name) ?? m.set(name, []).get(name)!).push(ms);
  }
}
console.log(`\nengine.run + encode, ${rounds} interleaved rounds; load average (1/5/15 min) ${startLoad} at start, ${load()} at end`);
console.log('case            total_p50  total_p90  ' + [...phases.values().next().value!.keys()].map((n) => n.padStart(9)).join(' '));
for (const [key, xs] of total) {
  console.log(`${key.padEnd(15)} ${pct(xs, 50).toFixed(2).padStart(9)}  ${pct(xs, 90).toFixed(2).padStart(9)}  ${[...phases.get(key)!.values()].map((v) => pct(v, 50).toFixed(2).padStart(9)).join(' ')}`);
}
const p50 = (k: string) => pct(total.get(k)!, 50);
console.log(`\nmasked ÷ direct, p50: before ${(p50('masked before') / p50('direct before')).toFixed(2)}×, after ${(p50('masked after') / p50('direct after')).toFixed(2)}× (target ≤ 3×)`);
process.exit(0);
