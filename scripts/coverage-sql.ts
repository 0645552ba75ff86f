/**
 * `npm run coverage:sql`: how much of the real BigQuery SQL in ../shared/corpus/bigquery-sql the
 * analyzer (src/sql) analyzes. Each statement gets a catalog synthesized from itself
 * (scripts/corpus-catalog.ts).
 *
 * Report (stdout): per category, the valid statements and the share analyzed; the totals and the
 * line `valid query+dml analyzed: N of M (P%)`; the `query_*` / `dml_*` categories under 93%; the
 * statements listed in ../shared/corpus/expected-refusals.tsv (not valid BigQuery), which must all
 * be refused — any that analyzed is listed; each refusal of a valid statement classified as
 * `synthesizer` or `analyzer` (corpus/classify.ts) with the top reasons per class; the statements
 * the ZetaSQL server died on; the statements the team challenges as not valid BigQuery
 * (corpus/challenged.tsv, each with its reason: counted as valid in the target line, checked to be
 * refused, and a second figure without them); the statements analyzed after the temp functions / tables an earlier
 * statement of their document defines (corpus/siblings.ts), and how many of them that recovers. `coverage-sql.json`: the same figures and one outcome per statement
 * (`statements`: id, category, valid, outcome analyzed | refused | killed, class, reason), for diffs.
 *
 * Usage: npm run coverage:sql [-- --limit N] [--category PREFIX] [--show-failures N]
 *        [--class synthesizer|analyzer] [--corpus DIR] [--refusals FILE] [--ids id,id,…]
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { ZetaSqlServer } from '../src/sql/index.js';
import { Documents, readCorpus, synthesize } from './corpus-catalog.js';
import { classifyFailure, reasonOf, type FailureClass } from './corpus/classify.js';
import { checkSqlLimits } from '../src/sql/limits.js';
import { sqlLimitsFrom } from '../src/config.js';

const args = process.argv.slice(2);
const opt = (name: string) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : undefined; };
const CORPUS = resolve(opt('--corpus') ?? '../shared/corpus/bigquery-sql');
const REFUSALS = resolve(opt('--refusals') ?? join(dirname(CORPUS), 'expected-refusals.tsv'));
const limit = Number(opt('--limit') ?? Infinity);
const category = opt('--category');
const onlyIds = opt('--ids')?.split(',');
const showFailures = Number(opt('--show-failures') ?? 0);
const showClass = opt('--class');
const corpus = readCorpus(CORPUS);
/** Every statement's document, for the sibling definitions a statement uses (corpus/siblings.ts). */
const docs = new Documents(corpus);
const stmts = corpus.filter((s) => (!category || s.category.startsWith(category)) && (!onlyIds || onlyIds.includes(s.id))).slice(0, limit);
/** id → why the statement is not valid BigQuery (tab-separated, `#` comments). */
const invalid = new Map(readFileSync(REFUSALS, 'utf8').split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split('\t') as [string, string]));
const isTarget = (c: string) => c.startsWith('query_') || c.startsWith('dml_');
/** id → why bqgate's engineers find a statement the corpus lists as valid is not (corpus/challenged.tsv). */
const challenged = new Map(readFileSync(new URL('./corpus/challenged.tsv', import.meta.url), 'utf8').split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split('\t') as [string, string]));

interface Outcome {
  id: string; category: string; valid: boolean; outcome: 'analyzed' | 'refused' | 'killed'; class?: FailureClass; reason?: string; sql: string;
  /** Analyzed after these sibling definitions (its document's script); `alone`: the outcome without them. */
  siblings?: string[]; alone?: 'analyzed' | 'refused';
  /** Persistent-routine definitions whose body did not analyze, so the routine was shaped from the call site. */
  fromCallSite?: string[];
}
const zeta = new ZetaSqlServer();
await zeta.start();
const outcomes: Outcome[] = [];
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
  const r = refusal ? { ok: false, last: `structural limit: ${refusal}`, killed: false, crash: undefined, guessed: false, src: undefined } : await synthesize(zeta, s, docs);
  const siblings = r.src?.siblings.length || r.src?.fromCallSite.length
    ? { siblings: r.src.siblings, ...(r.src.fromCallSite.length ? { fromCallSite: r.src.fromCallSite } : {}), alone: (await synthesize(zeta, s)).ok ? 'analyzed' as const : 'refused' as const } : {};
  if (r.killed) killers.push(s.id);
  if (r.crash) crashes.push(`${s.id}: ${r.crash}`);
  const valid = !invalid.has(s.id);
  const outcome: Outcome['outcome'] = r.ok ? 'analyzed' : r.killed ? 'killed' : 'refused';
  outcomes.push({
    id: s.id, category: s.category, valid, outcome, sql: s.sql, ...siblings,
    ...(r.ok ? {} : { class: r.killed ? 'analyzer' : classifyFailure(r.last, r.guessed), reason: r.last.slice(0, 300) }),
  });
}
const restarts = zeta.status().restarts;
await zeta.stop();

const pct = (a: number, b: number) => (b ? ((100 * a) / b).toFixed(1) : '-') + '%';
const count = (xs: Outcome[]) => ({ n: xs.length, ok: xs.filter((o) => o.outcome === 'analyzed').length });
const byCat = new Map<string, Outcome[]>();
for (const o of outcomes) byCat.set(o.category, [...(byCat.get(o.category) ?? []), o]);
const rows = [...byCat.entries()].map(([k, xs]) => ({ category: k, all: count(xs), valid: count(xs.filter((o) => o.valid)), invalid: xs.filter((o) => !o.valid).length }))
  .sort((a, b) => b.all.n - a.all.n);
const valid = outcomes.filter((o) => o.valid);
const total = count(valid);
const target = count(valid.filter((o) => isTarget(o.category)));
console.log(`SQL analysis coverage over ${outcomes.length} corpus statements, ${valid.length} valid (${((Date.now() - t0) / 1000).toFixed(1)} s)\n`);
console.log('category                     valid  analyzed   (+ not valid)');
for (const r of rows) console.log(`${r.category.padEnd(28)} ${String(r.valid.n).padStart(5)}  ${pct(r.valid.ok, r.valid.n).padStart(8)}${r.invalid ? `   (+${r.invalid})` : ''}`);
console.log(`${'all valid'.padEnd(28)} ${String(total.n).padStart(5)}  ${pct(total.ok, total.n).padStart(8)}`);
console.log(`\nvalid query+dml analyzed: ${target.ok} of ${target.n} (${pct(target.ok, target.n)})`);
const all = count(outcomes.filter((o) => isTarget(o.category)));
console.log(`all query+dml analyzed (not-valid ones included): ${all.ok} of ${all.n} (${pct(all.ok, all.n)})`);
const under = rows.filter((r) => isTarget(r.category) && r.valid.n && r.valid.ok / r.valid.n < 0.93);
console.log(`query_*/dml_* categories under 93%: ${under.length ? under.map((r) => `${r.category} ${pct(r.valid.ok, r.valid.n)}`).join(', ') : 'none'}`);

// The statements we challenge (corpus/challenged.tsv): still counted above; each must be refused.
const disputed = valid.filter((o) => challenged.has(o.id));
const disputedAnalyzed = disputed.filter((o) => o.outcome === 'analyzed');
const undisputed = valid.filter((o) => isTarget(o.category) && !challenged.has(o.id));
const u = count(undisputed);
console.log(`\nchallenged as not valid BigQuery (scripts/corpus/challenged.tsv, proposed for ${REFUSALS}): ${disputed.length} in this run, ${disputed.length - disputedAnalyzed.length} refused, ${disputedAnalyzed.length} analyzed${disputedAnalyzed.length ? ` (${disputedAnalyzed.map((o) => o.id).join(', ')})` : ''}`);
const uCats = [...new Set(undisputed.map((o) => o.category))].map((c) => ({ c, ...count(undisputed.filter((o) => o.category === c)) })).filter((r) => r.ok / r.n < 0.93);
console.log(`valid query+dml analyzed without the challenged ones: ${u.ok} of ${u.n} (${pct(u.ok, u.n)}); categories under 93%: ${uCats.length ? uCats.map((r) => `${r.c} ${pct(r.ok, r.n)}`).join(', ') : 'none'}`);

const notValid = outcomes.filter((o) => !o.valid);
const wronglyAnalyzed = notValid.filter((o) => o.outcome === 'analyzed');
console.log(`\nnot valid BigQuery (${REFUSALS}): ${notValid.length} in this run, ${notValid.length - wronglyAnalyzed.length} refused, ${wronglyAnalyzed.length} analyzed${wronglyAnalyzed.length ? ' (each a bug or a misclassification):' : ''}`);
for (const o of wronglyAnalyzed) console.log(`  ${o.id} [${invalid.get(o.id)}] ${o.sql.replace(/\s+/g, ' ').slice(0, 100)}`);

const failed = valid.filter((o) => o.outcome !== 'analyzed');
for (const cls of ['synthesizer', 'analyzer'] as const) {
  const xs = failed.filter((o) => o.class === cls);
  const t = xs.filter((o) => isTarget(o.category)).length;
  console.log(`\n${cls} refusals of valid statements: ${xs.length} (${t} query+dml); top reasons:`);
  const reasons = new Map<string, number>();
  for (const o of xs) { const r = reasonOf(o.reason ?? ''); reasons.set(r, (reasons.get(r) ?? 0) + 1); }
  for (const [r, n] of [...reasons.entries()].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(`${String(n).padStart(6)}  ${r}`);
}
const withSiblings = outcomes.filter((o) => o.siblings);
const recovered = withSiblings.filter((o) => o.outcome === 'analyzed' && o.alone === 'refused');
const lost = withSiblings.filter((o) => o.outcome !== 'analyzed' && o.alone === 'analyzed');
const callSite = withSiblings.filter((o) => o.fromCallSite);
console.log(`\nanalyzed after sibling definitions of their document (temp functions / tables in the script text, persistent routines as routines.get answers): ${withSiblings.length} statements (${callSite.length} fell back to routines shaped from the call site${callSite.length ? `: ${callSite.map((o) => o.id).join(', ')}` : ''}), ${withSiblings.filter((o) => o.outcome === 'analyzed').length} analyzed; ${recovered.length} analyzed that are refused alone${recovered.length ? ` (${recovered.map((o) => o.id).join(', ')})` : ''}; ${lost.length} refused that analyze alone${lost.length ? ` (${lost.map((o) => o.id).join(', ')})` : ''}`);
console.log(`\nrefused by the structural limits (${JSON.stringify(limits)}): ${limited.length}${limited.length ? ` (${limited.join(', ')})` : ''}`);
console.log(`the ZetaSQL server died and was restarted ${restarts} time(s); statements it died on: ${killers.length ? killers.join(', ') : 'none'}`);
if (crashes.length) { console.log(`\nanalyzer crashes (bugs): ${crashes.length}`); for (const c of crashes.slice(0, 10)) console.log('  ' + c); }
for (const f of failed.filter((o) => isTarget(o.category) && (!showClass || o.class === showClass)).slice(0, showFailures)) {
  console.log(`\n--- ${f.id} [${f.category}] (${f.class}) ${f.reason}\n${f.sql.slice(0, 400)}`);
}
const categories = Object.fromEntries(rows.map((r) => [r.category, { n: r.all.n, ok: r.all.ok, valid: r.valid.n, validOk: r.valid.ok }]));
const reasons: Record<string, number> = {};
for (const o of failed) { const r = `${o.class}: ${reasonOf(o.reason ?? '')}`; reasons[r] = (reasons[r] ?? 0) + 1; }
writeFileSync('coverage-sql.json', JSON.stringify({
  valid: total, target, killers, limited, categories, reasons, crashes,
  siblings: { statements: withSiblings.length, recovered: recovered.map((o) => o.id), lost: lost.map((o) => o.id) },
  notValid: { n: notValid.length, analyzed: wronglyAnalyzed.map((o) => o.id) },
  challenged: { n: disputed.length, analyzed: disputedAnalyzed.map((o) => o.id), withoutThem: u },
  statements: outcomes.map(({ sql: _sql, ...o }) => o),
}, null, 2));
process.exit(crashes.length ? 1 : 0);
