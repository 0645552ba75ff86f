/**
 * Benchmark section 2: SQL analysis over the corpus (../shared/corpus/bigquery-sql).
 *
 * Each statement first gets a catalog synthesized from it (scripts/corpus-catalog.ts, the same as
 * `npm run coverage:sql`); statements that analyze are then timed against that catalog:
 * - cold: a fresh analyzer (no analysis cache; ZetaSQL catalog registration and the gRPC round
 *   trips included; the table schemas already at hand, as after the catalog's TTL cache is warm);
 * - cached: the same analyzer again (analysis cache hit, validated against the catalog), for the
 *   statements the analyzer caches: one whose repeat is not the very analysis it answered first is
 *   not cached by design (EXTERNAL_QUERY: its columns depend on the caller's policy) and is counted
 *   as `not_cached`, not timed as a hit (it is a cold analysis every time).
 * Times in ms from performance.now(); analyses per second = samples ÷ summed time.
 */
import { resolve } from 'node:path';
import { Analyzer, ZetaSqlServer } from '../src/sql/index.js';
import { corpusRequest, readCorpus, synthesize, type SyntheticSource, type Stmt } from '../scripts/corpus-catalog.js';
import { pct } from './latency.js';

export async function benchAnalysis(o: { corpus?: string; limit?: number; cachedRounds?: number } = {}) {
  const stmts = readCorpus(resolve(o.corpus ?? '../shared/corpus/bigquery-sql')).slice(0, o.limit ?? Infinity);
  const zeta = new ZetaSqlServer();
  await zeta.start();
  const ok: Array<{ s: Stmt; src: SyntheticSource }> = [];
  for (const s of stmts) {
    const r = await synthesize(zeta, s);
    if (r.ok && !r.killed) ok.push({ s, src: r.src });
  }
  const cold: number[] = [];
  const cached: number[] = [];
  let notCached = 0;
  for (const { s, src } of ok) {
    const analyzer = new Analyzer(zeta, src);
    const req = corpusRequest(s, src);
    let t = performance.now();
    const first = await analyzer.analyze(req);
    cold.push(performance.now() - t);
    if ((await analyzer.analyze(req)) !== first) { notCached++; continue; }
    for (let i = 0; i < (o.cachedRounds ?? 5); i++) {
      t = performance.now();
      await analyzer.analyze(req);
      cached.push(performance.now() - t);
    }
  }
  await zeta.stop();
  const row = (name: string, xs: number[], statements = ok.length) => ({
    name, statements, samples: xs.length,
    p50_ms: +pct(xs, 50).toFixed(3), p99_ms: +pct(xs, 99).toFixed(3),
    per_second: Math.round(xs.length / (xs.reduce((a, b) => a + b, 0) / 1000)),
  });
  return { corpus_statements: stmts.length, analyzed: ok.length, not_cached: notCached, rows: [row('analysis cold (no cache)', cold), row('analysis cached', cached, ok.length - notCached)] };
}
