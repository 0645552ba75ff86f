/**
 * Catalogs synthesized from corpus statements (used by `npm run coverage:sql` and `npm run bench`).
 *
 * The corpus names tables that exist nowhere, so each statement gets a catalog synthesized from
 * itself (corpus/source.ts): its tables start with no columns, and the analyzer's own errors drive
 * the synthesis (corpus/repair.ts), read against the statement's parse (corpus/scope.ts) — an
 * unrecognized name becomes a column of the table in scope, a path makes a STRUCT, UNNEST an
 * ARRAY, a signature error retypes the argument to a type the function takes — until the statement
 * analyzes or no rule applies (at most 60 rounds).
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Analyzer, type ZetaSqlServer } from '../src/sql/index.js';
import { SyntheticSource } from './corpus/source.js';
import { repair, type RepairState } from './corpus/repair.js';
import { scopeOf } from './corpus/scope.js';

export { SyntheticSource } from './corpus/source.js';

export interface Stmt { id: string; sql: string; category: string }

/** Every statement of the corpus (JSON Lines files in `dir`), in file order. */
export function readCorpus(dir: string): Stmt[] {
  return readdirSync(dir).filter((f) => f.endsWith('.jsonl')).sort()
    .flatMap((f) => readFileSync(join(dir, f), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Stmt));
}

/**
 * `guessed`: whether the synthesizer put anything in the catalog (see corpus/classify.ts).
 * `killed`: the ZetaSQL server died on the statement; `crash`: a non-BigQuery error (an analyzer bug).
 */
export interface Synthesis { ok: boolean; last: string; src: SyntheticSource; killed: boolean; crash?: string; guessed: boolean }

const options = new WeakMap<object, { generation: number; lo: unknown }>();
/** The statement's parse tree (statement, else script), or undefined when it does not parse. */
async function parseTree(zeta: ZetaSqlServer, sql: string): Promise<unknown> {
  let o = options.get(zeta);
  if (!o || o.generation !== zeta.generation) {
    o = { generation: zeta.generation, lo: { ...(await zeta.call('getLanguageOptions', { maximumFeatures: true })), productMode: 'PRODUCT_EXTERNAL' } };
    options.set(zeta, o);
  }
  for (const allowScript of [false, true]) {
    try {
      const r = await zeta.call('parse', { sqlStatement: sql, options: o.lo, allowScript });
      return allowScript ? r.parsedScript : r.parsedStatement;
    } catch { /* next */ }
  }
  return undefined;
}

/**
 * Analyzes `s` against a catalog grown from the analyzer's errors. `killed` is true when the
 * ZetaSQL server died on it (it is restarted before returning); `crash` is set on a non-BigQuery
 * error (a bug in the analyzer).
 */
export async function synthesize(zeta: ZetaSqlServer, s: Stmt): Promise<Synthesis> {
  const src = new SyntheticSource(s.sql);
  const analyzer = new Analyzer(zeta, src, 1);
  const st: RepairState = { src, sql: s.sql, scope: scopeOf(await parseTree(zeta, s.sql).catch(() => undefined)), retyped: new Map() };
  src.scope = st.scope;
  let last = '';
  let killed = false;
  for (let round = 0; round < 60; round++) {
    try {
      await analyzer.analyze(corpusRequest(s, src));
      return { ok: true, last, src, killed, guessed: src.guessed };
    } catch (err) {
      last = (err as Error).message;
      if (process.env.SYNTH_TRACE) process.stderr.write(`  ${round}: ${last.slice(0, 240)}\n`);
      if ((err as { reason?: string }).reason === 'backendError') {
        // The analyzer died (on this statement or just before): wait for the restart, retry once.
        if (!killed) { killed = true; await zeta.whenReady(); round--; continue; }
        break;
      }
      if (!(err as { reason?: string }).reason) return { ok: false, last, src, killed, guessed: src.guessed, crash: (err as Error).stack?.split('\n').slice(0, 3).join(' | ') };
      if (!repair(st, last)) break;
      src.version++;
    }
  }
  return { ok: false, last, src, killed, guessed: src.guessed };
}

/** The analysis request for a corpus statement against its synthesized catalog (variables and parameters included). */
export const corpusRequest = (s: Stmt, src: SyntheticSource) => ({
  sql: s.sql, projectId: 'corpus-project', defaultDataset: { datasetId: 'corpus_dataset' }, queryParameters: src.params,
  externalConnectionAllowed: () => true, // as if a policy rule allowed every connection (the synthetic source answers its columns)
  ...(src.variables.length ? { scriptVariables: src.scriptVariables() } : {}),
});
