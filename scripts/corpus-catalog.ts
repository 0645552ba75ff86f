/**
 * Catalogs synthesized from corpus statements (used by `npm run coverage:sql` and `npm run bench`).
 *
 * The corpus names tables that exist nowhere, so each statement gets a catalog synthesized from
 * itself (corpus/source.ts): its tables start with no columns, and the analyzer's own errors drive
 * the synthesis (corpus/repair.ts), read against the statement's parse (corpus/scope.ts) — an
 * unrecognized name becomes a column of the table in scope, a path makes a STRUCT, UNNEST an
 * ARRAY, a signature error retypes the argument to a type the function takes — until the statement
 * analyzes or no rule applies (at most 60 rounds plus one per path the statement spells). A statement that uses a temp function or temp
 * table an earlier statement of its document creates is analyzed after those definitions, as the
 * document's script (corpus/siblings.ts).
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Analyzer, type ZetaSqlServer } from '../src/sql/index.js';
import { SyntheticSource } from './corpus/source.js';
import { repair, type RepairState } from './corpus/repair.js';
import { offsetOf, scopeOf } from './corpus/scope.js';
import { Documents, leadOf, namesUsed, type CorpusStmt } from './corpus/siblings.js';
import { routineFromDefinition } from './corpus/routine-def.js';
import { desugar } from '../src/sql/pipe/index.js';

export { SyntheticSource } from './corpus/source.js';
export { Documents } from './corpus/siblings.js';

export type Stmt = CorpusStmt;

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

/** Whether `sql` parses as one statement (not only as a script). */
async function isStatement(zeta: ZetaSqlServer, sql: string): Promise<boolean> {
  await parseTree(zeta, 'SELECT 1');
  return zeta.call('parse', { sqlStatement: sql, options: options.get(zeta)!.lo, allowScript: false }).then(() => true, () => false);
}

/**
 * The script prelude for `s`: the sibling definitions it uses (siblings.ts), each analyzed on its
 * own first (a definition that does not analyze is left out), their synthesized tables copied into
 * `src`. Returns the prelude text (`def;\n…`) or '' when there is none.
 */
async function preludeFor(zeta: ZetaSqlServer, s: Stmt, docs: Documents, src: SyntheticSource, tree: unknown): Promise<{ text: string; ids: string[] }> {
  const uses = new Map<string, ReturnType<typeof namesUsed>>();
  const defs = await docs.definitionsFor(s, namesUsed(scopeOf(tree)), async (d) => uses.get(d.id) ?? uses.set(d.id, namesUsed(scopeOf(await parseTree(zeta, d.sql)))).get(d.id)!);
  if (!defs.length || !(await isStatement(zeta, s.sql))) return { text: '', ids: [] };
  const kept: Stmt[] = [];
  for (const d of defs) {
    const r = await synthesize(zeta, d);
    if (!r.ok) continue;
    for (const [t, fields] of r.src.tables) if (!src.tables.get(t)?.length) src.tables.set(t, structuredClone(fields));
    kept.push(d);
  }
  return { text: kept.map((d) => `${d.sql.trim().replace(/;\s*$/, '')};\n`).join(''), ids: kept.map((d) => d.id) };
}

/**
 * An error of the prelude-and-statement script, its position moved into the statement's own text:
 * the analyzer reports a script unit's errors in that unit's text, which starts at the statement's
 * first token (`lead` bytes into `sql`).
 */
function inStatement(msg: string, sql: string, lead: number): string {
  if (!lead) return msg;
  const unit = Buffer.from(sql, 'utf8').subarray(lead).toString('utf8');
  return msg.replace(/\[at (\d+):(\d+)\]/g, (_, l, c) => {
    const before = Buffer.from(sql, 'utf8').subarray(0, lead + offsetOf(unit, Number(l), Number(c))).toString('utf8').split('\n');
    return `[at ${before.length}:${before[before.length - 1].length + 1}]`;
  });
}

/**
 * Analyzes `s` against a catalog grown from the analyzer's errors. `killed` is true when the
 * ZetaSQL server died on it (it is restarted before returning); `crash` is set on a non-BigQuery
 * error (a bug in the analyzer).
 */
export async function synthesize(zeta: ZetaSqlServer, s: Stmt, docs?: Documents, routinesFromDocument = true): Promise<Synthesis> {
  const src = new SyntheticSource(s.sql);
  const analyzer = new Analyzer(zeta, src, 1);
  // A pipe or FROM-first statement is analyzed as its desugared text (src/sql/pipe), and the
  // analyzer's error positions are in that text: the synthesis reads the same text's parse.
  const columnsOf = async (q: string) => (await analyzer.analyze({ ...corpusRequest(s, src), sql: q })).outputColumns;
  const view = async () => (await desugar(s.sql, { columnsOf }).catch(() => undefined)) ?? s.sql;
  const text = await view();
  const tree = await parseTree(zeta, text).catch(() => undefined);
  const typeOf = (expr: string, from = '') => { const q = `SELECT (${expr}) AS v${from ? `\n${from}` : ''}`; return analyzer.analyze({ ...corpusRequest({ ...s, sql: q }, src), sql: q }).then((a) => a.outputTypes[0], () => undefined); };
  const st: RepairState = { src, sql: text, scope: scopeOf(tree), retyped: new Map(), typeOf };
  src.scope = st.scope;
  const prelude = docs && tree ? await preludeFor(zeta, s, docs, src, tree) : { text: '', ids: [] };
  for (const [name, d] of (routinesFromDocument && docs?.routinesBefore(s)) || []) {
    const info = routineFromDefinition(await parseTree(zeta, d.sql), d.sql, name);
    if (info) src.defined.set(name, { info, id: d.id });
  }
  src.prelude = prelude.text;
  src.siblings = prelude.ids;
  const lead = prelude.text ? Buffer.byteLength(leadOf(s.sql), 'utf8') : 0;
  let last = '';
  let killed = false;
  // Each round adds about one name: a statement naming many columns and fields gets a round per
  // path it spells, on top of the 60 the type rules need (bounded by the structural limits).
  const rounds = 60 + (st.scope.paths?.length ?? 0);
  for (let round = 0; round < rounds; round++) {
    try {
      await analyzer.analyze(corpusRequest(s, src));
      return { ok: true, last, src, killed, guessed: src.guessed };
    } catch (err) {
      last = inStatement((err as Error).message, s.sql, lead);
      if (process.env.SYNTH_TRACE) process.stderr.write(`  ${round}: ${last.slice(0, 240)}\n`);
      if ((err as { reason?: string }).reason === 'backendError') {
        // The analyzer died (on this statement or just before): wait for the restart, retry once.
        if (!killed) { killed = true; await zeta.whenReady(); round--; continue; }
        break;
      }
      if (!(err as { reason?: string }).reason) return { ok: false, last, src, killed, guessed: src.guessed, crash: (err as Error).stack?.split('\n').slice(0, 3).join(' | ') };
      if (!(await repair(st, last))) break;
      src.version++;
      if (text !== s.sql) {
        // The desugared text can depend on the catalog (|> RENAME, BY NAME): read it again.
        const again = await view();
        if (again !== st.sql) { st.sql = again; st.scope = scopeOf(await parseTree(zeta, again).catch(() => undefined)); src.scope = st.scope; }
      }
    }
  }
  // A routine body read from the document's definition can fail where the synthesizer cannot reach
  // (inside the body): then the routine is shaped from the call site instead (source.ts).
  if (routinesFromDocument && [...src.defined.values()].some((d) => src.siblings.includes(d.id))) {
    const again = await synthesize(zeta, s, docs, false);
    if (again.ok) again.src.fromCallSite = [...src.defined.values()].filter((d) => src.siblings.includes(d.id)).map((d) => d.id);
    return again.ok ? again : { ok: false, last, src, killed, guessed: src.guessed };
  }
  return { ok: false, last, src, killed, guessed: src.guessed };
}

/** The analysis request for a corpus statement against its synthesized catalog (variables and parameters included). */
export const corpusRequest = (s: Stmt, src: SyntheticSource) => ({
  sql: src.prelude + s.sql, projectId: 'corpus-project', defaultDataset: { datasetId: 'corpus_dataset' }, queryParameters: src.params,
  externalConnectionAllowed: () => true, // as if a policy rule allowed every connection (the synthetic source answers its columns)
  ...(src.variables.length ? { scriptVariables: src.scriptVariables() } : {}),
});
