/**
 * Benchmark section: SQL analysis time per statement, over the hand-checked cases
 * (test/cases/analysis.yaml) against the demo catalog served by the emulator.
 *
 * - cold: a fresh analyzer per statement (no analysis cache; the ZetaSQL catalog registration and
 *   the gRPC round trips included; schemas already fetched);
 * - warm: the same analyzer again (analysis cache hit, validated against the catalog).
 * Times in ms, from performance.now().
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse } from 'yaml';
import { Analyzer } from '../src/sql/index.js';
import { openAnalysis } from '../src/cli/analysis.js';

const pct = (xs: number[], p: number) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]; };

export async function benchAnalysis(rounds = 5) {
  const cases: Array<{ sql: string; error?: string; params?: unknown; default_dataset?: string }> = parse(readFileSync(resolve('test/cases/analysis.yaml'), 'utf8')).cases;
  const ok = cases.filter((c) => !c.error && !c.params && !c.default_dataset);
  const stack = await openAnalysis({ upstream: 'emulator', fixturesDir: resolve('fixtures') }, 3_600_000);
  const { zetasql: zeta, catalog, analyzer: warmAnalyzer } = stack;
  for (const c of ok) await warmAnalyzer.analyze({ sql: c.sql, projectId: 'demo-project' }); // fill schema cache
  const cold: number[] = [];
  const warm: number[] = [];
  for (let r = 0; r < rounds; r++) {
    for (const c of ok) {
      const fresh = new Analyzer(zeta, catalog);
      let t = performance.now();
      await fresh.analyze({ sql: c.sql, projectId: 'demo-project' });
      cold.push(performance.now() - t);
      t = performance.now();
      await warmAnalyzer.analyze({ sql: c.sql, projectId: 'demo-project' });
      warm.push(performance.now() - t);
    }
  }
  await stack.close();
  const row = (name: string, xs: number[]) => ({
    name, statements: ok.length, samples: xs.length,
    p50_ms: +pct(xs, 50).toFixed(3), p99_ms: +pct(xs, 99).toFixed(3),
    per_second: Math.round(xs.length / (xs.reduce((a, b) => a + b, 0) / 1000)),
  });
  return [row('analysis cold (no cache)', cold), row('analysis warm (cached)', warm)];
}
