/**
 * `npm run coverage:sql`: how much of the real BigQuery SQL in ../shared/corpus/bigquery-sql the
 * analyzer (src/sql) analyzes, per category, with the top refusal reasons.
 * Each statement gets a catalog synthesized from itself (scripts/corpus-catalog.ts). Writes the
 * report to stdout and `coverage-sql.json`.
 *
 * Usage: npm run coverage:sql [-- --limit N] [--category PREFIX] [--show-failures N]
 */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ZetaSqlServer } from '../src/sql/index.js';
import { readCorpus, synthesize } from './corpus-catalog.js';
import { checkSqlLimits } from '../src/sql/limits.js';
import { sqlLimitsFrom } from '../src/config.js';

const args = process.argv.slice(2);
const opt = (name: string) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : undefined; };
const CORPUS = resolve(opt('--corpus') ?? '../shared/corpus/bigquery-sql');
const limit = Number(opt('--limit') ?? Infinity);
const category = opt('--category');
const showFailures = Number(opt('--show-failures') ?? 0);
const stmts = readCorpus(CORPUS).filter((s) => !category || s.category.startsWith(category)).slice(0, limit);

const reasonOf = (msg: string) => msg
  .replace(/^bqgate (could not analyze the query|cannot analyze this statement kind yet), so it was not run: /, '')
  .replace(/\[at \d+:\d+\]/g, '').replace(/`[^`]*`/g, '`…`').replace(/"[^"]*"/g, '"…"').replace(/'[^']*'/g, "'…'")
  .replace(/\b\d+\b/g, 'N').replace(/: .*$/, '').slice(0, 90).trim();

const zeta = new ZetaSqlServer();
await zeta.start();
const perCat = new Map<string, { n: number; ok: number }>();
const reasons = new Map<string, number>();
const failures: Array<{ id: string; category: string; reason: string; sql: string }> = [];
const crashes: string[] = [];
const killers: string[] = [];
/** Statements the gateway's structural limits (sql/limits.ts, BQGATE_SQL_MAX_*) refuse before analysis. */
const limited: string[] = [];
const limits = sqlLimitsFrom(process.env);
const t0 = Date.now();
for (const [idx, s] of stmts.entries()) {
  if (process.env.COVERAGE_TRACE) process.stderr.write(`${idx} ${s.id}\n`);
  const refusal = (() => { try { checkSqlLimits(s.sql, limits); return undefined; } catch (err) { return (err as Error).message; } })();
  if (refusal) limited.push(s.id);
  const r = refusal ? { ok: false, last: refusal, killed: false, crash: undefined } : await synthesize(zeta, s);
  if (r.killed) killers.push(s.id);
  if (r.crash) crashes.push(`${s.id}: ${r.crash}`);
  const c = perCat.get(s.category) ?? { n: 0, ok: 0 };
  c.n++; if (r.ok) c.ok++;
  perCat.set(s.category, c);
  if (!r.ok) {
    const reason = reasonOf(r.last);
    reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
    failures.push({ id: s.id, category: s.category, reason: r.last.slice(0, 200), sql: s.sql.slice(0, 300) });
  }
}
const restarts = zeta.status().restarts;
await zeta.stop();

const pct = (a: number, b: number) => (b ? ((100 * a) / b).toFixed(1) : '-') + '%';
const rows = [...perCat.entries()].sort((a, b) => b[1].n - a[1].n);
const total = rows.reduce((a, [, c]) => ({ n: a.n + c.n, ok: a.ok + c.ok }), { n: 0, ok: 0 });
const target = rows.filter(([k]) => k.startsWith('query_') || k.startsWith('dml_')).reduce((a, [, c]) => ({ n: a.n + c.n, ok: a.ok + c.ok }), { n: 0, ok: 0 });
console.log(`SQL analysis coverage over ${total.n} corpus statements (${((Date.now() - t0) / 1000).toFixed(1)} s)\n`);
console.log('category                     statements  analyzed');
for (const [k, c] of rows) console.log(`${k.padEnd(28)} ${String(c.n).padStart(10)}  ${pct(c.ok, c.n).padStart(8)}`);
console.log(`${'all'.padEnd(28)} ${String(total.n).padStart(10)}  ${pct(total.ok, total.n).padStart(8)}`);
console.log(`${'query_* and dml_*'.padEnd(28)} ${String(target.n).padStart(10)}  ${pct(target.ok, target.n).padStart(8)}`);
console.log('\ntop refusal reasons:');
for (const [r, n] of [...reasons.entries()].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(`${String(n).padStart(6)}  ${r}`);
console.log(`\nrefused by the structural limits (${JSON.stringify(limits)}): ${limited.length}${limited.length ? ` (${limited.join(', ')})` : ''}`);
if (restarts) console.log(`\nthe ZetaSQL server died and was restarted ${restarts} time(s); statements that hit it: ${killers.join(', ')}`);
if (crashes.length) { console.log(`\nanalyzer crashes (bugs): ${crashes.length}`); for (const c of crashes.slice(0, 10)) console.log('  ' + c); }
for (const f of failures.filter((x) => x.category.startsWith('query_') || x.category.startsWith('dml_')).slice(0, showFailures)) console.log(`\n--- ${f.id} [${f.category}] ${f.reason}\n${f.sql}`);
writeFileSync('coverage-sql.json', JSON.stringify({ total, target, killers, categories: Object.fromEntries(rows), reasons: Object.fromEntries(reasons), crashes, failures }, null, 2));
process.exit(crashes.length ? 1 : 0);
