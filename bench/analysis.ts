/**
 * Benchmark section 2: SQL analysis over the corpus (../shared/corpus/bigquery-sql).
 *
 * Each statement first gets a catalog synthesized from it (scripts/corpus-catalog.ts, the same as
 * `npm run coverage:sql`); statements that analyze are then timed against that catalog:
 * - cold: a fresh analyzer (no analysis cache; ZetaSQL catalog registration and the gRPC round
 *   trips included; the table schemas already at hand, as after the catalog's TTL cache is warm);
 * - cached: the same analyzer again (analysis cache hit, validated against the catalog).
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
  for (const { s, src } of ok) {
    const analyzer = new Analyzer(zeta, src);
    const req = corpusRequest(s, src);
    let t = performance.now();
    await analyzer.analyze(req);
    cold.push(performance.now() - t);
    for (let i = 0; i < (o.cachedRounds ?? 5); i++) {
      t = performance.now();
      await analyzer.analyze(req);
      cached.push(performance.now() - t);
    }
  }
  await zeta.stop();
  const row = (name: string, xs: number[]) => ({
    name, statements: ok.length, samples: xs.length,
    p50_ms: +pct(xs, 50).toFixed(3), p99_ms: +pct(xs, 99).toFixed(3),
    per_second: Math.round(xs.length / (xs.reduce((a, b) => a + b, 0) / 1000)),
  });
  return { corpus_statements: stmts.length, analyzed: ok.length, rows: [row('analysis cold (no cache)', cold), row('analysis cached', cached)] };
}
