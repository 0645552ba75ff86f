/**
 * `npm run bench`: prints a table of measured figures and writes them to `bench-results.json`.
 * Sections so far: SQL analysis (cold and cached). Figures are measured on this machine in this run;
 * nothing is hard-coded.
 */
import { writeFileSync } from 'node:fs';
import { benchAnalysis } from './analysis.js';

const results = { machine: { node: process.version, cpus: (await import('node:os')).cpus().length }, analysis: await benchAnalysis() };
console.log('section                       statements  samples   p50 ms   p99 ms   per second');
for (const r of results.analysis) {
  console.log(`${r.name.padEnd(29)} ${String(r.statements).padStart(10)} ${String(r.samples).padStart(8)} ${r.p50_ms.toFixed(3).padStart(8)} ${r.p99_ms.toFixed(3).padStart(8)} ${String(r.per_second).padStart(12)}`);
}
writeFileSync('bench-results.json', JSON.stringify(results, null, 2));
process.exit(0);
