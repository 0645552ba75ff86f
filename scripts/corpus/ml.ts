/**
 * What the corpus synthesizer answers for BigQuery ML / vector search (hooked from repair.ts and
 * source.ts with one line each):
 * - `base.x` / `query.x` of VECTOR_SEARCH / AI.SEARCH (their output STRUCTs of the base and query
 *   relations, src/sql/tvfs/bigquery-tvfs.yaml) name a column of the relation argument's table:
 *   `Field name x does not exist in STRUCT<…>` adds `x` to that table (`TABLE t`, or the table a
 *   `SELECT * FROM t …` argument reads);
 * - the columns of `SELECT * FROM EXTERNAL_QUERY(…)` (what the upstream's dry run answers in
 *   production, catalog/external.ts): `c1` at first, then each name the statement reads from it
 *   (`Unrecognized name: x` where the FROM in scope is fed by an EXTERNAL_QUERY and reads no table);
 * - the modelType of a synthetic model, from the statement: MATRIX_FACTORIZATION when it asks a
 *   model for recommendations (ML.RECOMMEND) or for embeddings without an input relation, PCA / AUTOENCODER when a model so named is asked
 *   for embeddings (the outputs differ per model type); LINEAR_REG otherwise.
 * - a recommender (ML.RECOMMEND's model) has the user and item columns `user` / `item` (STRING) and
 *   explicit feedback; `Unrecognized name: x` in a FROM fed by ML.RECOMMEND names its user column x,
 *   then its item column (the rating is the label, named by `predicted_<x>` as for ML.PREDICT).
 * - a model asked for its hyperparameter tuning trials (ML.TRIAL_INFO) is tuned: a linear
 *   regression's l1_reg and l2_reg searched, with its default objective R2_SCORE
 *   (https://cloud.google.com/bigquery/docs/reference/standard-sql/bigqueryml-syntax-create#hparam_tuning_objectives).
 * - a model asked for its confusion matrix (ML.CONFUSION_MATRIX) is a binary classifier of the labels 0 and 1.
 * Only the corpus harness uses this: in production the catalog answers from tables.get / models.get.
 */
import type { BqField } from '../../src/emulator/encode.js';
import { qualify, type ModelInfo } from '../../src/sql/index.js';
import type { SyntheticSource } from './source.js';
import { enclosingSelects, pathAt, type Scope } from './scope.js';

const CTX = { projectId: 'corpus-project', defaultDataset: { datasetId: 'corpus_dataset' } };
/** Output STRUCT → the 0-based argument it is built from. */
const STRUCTS: Record<string, Record<string, number>> = { VECTOR_SEARCH: { base: 0, query: 2 }, 'AI.SEARCH': { base: 0 } };

/** The top-level comma-separated argument texts of the call `name(…)` starting in `text`. */
function argsOf(text: string): string[] {
  const open = text.indexOf('(');
  const out: string[] = [];
  let depth = 0, cur = '', quote = '';
  for (const ch of text.slice(open + 1)) {
    if (quote) { cur += ch; if (ch === quote) quote = ''; continue; }
    if (ch === "'" || ch === '"' || ch === '`') { quote = ch; cur += ch; continue; }
    if (ch === '(' || ch === '[') depth++;
    if (ch === ')' || ch === ']') { if (depth === 0) { out.push(cur.trim()); return out; } depth--; }
    if (ch === ',' && depth === 0) { out.push(cur.trim()); cur = ''; } else cur += ch;
  }
  return out;
}

/** The catalog table a relation argument text reads whole: `TABLE t`, or `(SELECT * FROM t …)`. */
function tableOf(arg: string): string | undefined {
  const noComments = arg.replace(/(#|--)[^\n]*/g, '').trim();
  const m = noComments.match(/^TABLE\s+(`[^`]+`|[\w.-]+)\s*$/i) ?? noComments.match(/^\(\s*SELECT\s+\*\s+FROM\s+(`[^`]+`|[\w.-]+)/i);
  if (!m) return undefined;
  try { return qualify(m[1].replace(/`/g, '').split('.'), CTX); } catch { return undefined; }
}

/** The repair rules above; false when none applies. */
export function repairMl(src: SyntheticSource, scope: Scope, sql: string, msg: string, pos: number | undefined): boolean {
  if (externalName(src, scope, msg, pos) || recommenderName(src, scope, msg, pos)) return true;
  const m = msg.match(/Field name `?(\w+)`? does not exist in STRUCT/);
  const p = m && pos !== undefined ? pathAt(scope, pos) : undefined;
  if (!p || p.names.length < 2) return false;
  const bytes = Buffer.from(sql, 'utf8');
  for (const sel of enclosingSelects(scope, pos!)) {
    for (const t of scope.tvfs.filter((x) => sel.from && x.start >= sel.from.start && x.end <= sel.from.end)) {
      const which = STRUCTS[t.name.join('.').toUpperCase()]?.[p.names[0].toLowerCase()];
      if (which === undefined) continue;
      const table = tableOf(argsOf(bytes.subarray(t.start, t.end).toString('utf8'))[which] ?? '');
      const fields: BqField[] | undefined = table ? src.tables.get(table) : undefined;
      if (!fields || fields.some((f) => f.name.toLowerCase() === m![1].toLowerCase())) continue;
      // A column synthesized only to make SELECT * non-empty (`c1`) gives way to the one named.
      const placeholder = fields.findIndex((f) => /^c\d+$/.test(f.name));
      if (placeholder >= 0 && fields.length === 1) fields.splice(placeholder, 1);
      fields.push({ name: m![1], type: 'STRING', mode: 'NULLABLE' });
      return true;
    }
  }
  return false;
}

const externals = new WeakMap<SyntheticSource, BqField[]>();

/** The synthetic answer to `SyntheticSource.externalSchema` (one column list per statement). */
export function externalSchemaOf(src: SyntheticSource): BqField[] {
  if (!externals.has(src)) externals.set(src, [{ name: 'c1', type: 'STRING', mode: 'NULLABLE' }]);
  return externals.get(src)!;
}

/** `Unrecognized name: x` in a FROM fed by EXTERNAL_QUERY (and no table): x becomes one of its columns. */
function externalName(src: SyntheticSource, scope: Scope, msg: string, pos: number | undefined): boolean {
  const m = msg.match(/Unrecognized name: `?([A-Za-z_][A-Za-z0-9_]*)`?/);
  if (!m || pos === undefined || !externals.has(src)) return false;
  const sel = enclosingSelects(scope, pos).find((x) => x.from);
  const from = sel?.from;
  if (!from || scope.tables.some((t) => t.start >= from.start && t.end <= from.end)) return false;
  if (!scope.tvfs.some((t) => t.start >= from.start && t.end <= from.end && t.name.join('.').toUpperCase() === 'EXTERNAL_QUERY')) return false;
  const cols = externalSchemaOf(src);
  if (cols.some((c) => c.name.toLowerCase() === m[1].toLowerCase())) return false;
  if (cols.length === 1 && cols[0].name === 'c1') cols.pop();
  cols.push({ name: m[1], type: 'STRING', mode: 'NULLABLE' });
  return true;
}

/** The placeholder user / item columns of a synthetic recommender (see the module comment). */
export const RECOMMENDER_COLUMNS = ['user', 'item'];

/** `Unrecognized name: x` in a FROM fed by ML.RECOMMEND: the first placeholder user / item column of its models becomes x. */
function recommenderName(src: SyntheticSource, scope: Scope, msg: string, pos: number | undefined): boolean {
  const m = msg.match(/Unrecognized name: `?([A-Za-z_][A-Za-z0-9_]*)`?/);
  if (!m || /^predicted_/i.test(m[1]) || pos === undefined) return false;
  const from = enclosingSelects(scope, pos).find((x) => x.from)?.from;
  if (!from || !scope.tvfs.some((t) => t.start >= from.start && t.end <= from.end && t.name.join('.').toUpperCase() === 'ML.RECOMMEND')) return false;
  for (const model of src.models.values()) {
    const slot = model.features.find((f) => RECOMMENDER_COLUMNS.includes(f.name));
    if (slot) { slot.name = m[1]; return true; }
  }
  return false;
}

/** The tuning a synthetic model of `sql` named `fullName` has: some when the statement asks ML.TRIAL_INFO of it (see the module comment). */
export function tuningFor(sql: string, fullName: string): Pick<ModelInfo, 'hparamSearchSpaces'> & { hparamTuningObjectives?: string[] } {
  const name = fullName.split('.').pop()!.replace(/[^\w]/g, '\\$&');
  if (!new RegExp(`\\bML\\s*\\.\\s*TRIAL_INFO\\s*\\(\\s*MODEL\\s*[\\w.\`-]*${name}\\b`, 'i').test(sql)) return {};
  return { hparamSearchSpaces: ['l1Reg', 'l2Reg'], hparamTuningObjectives: ['R2_SCORE'] };
}

/** The class labels a synthetic model of `sql` named `fullName` has: 0 and 1 when the statement asks ML.CONFUSION_MATRIX of it. */
export function classesFor(sql: string, fullName: string): Pick<ModelInfo, 'classLabels'> {
  const name = fullName.split('.').pop()!.replace(/[^\w]/g, '\\$&');
  return new RegExp(`\\bML\\s*\\.\\s*CONFUSION_MATRIX\\s*\\(\\s*MODEL\\s*[\\w.\`-]*${name}\\b`, 'i').test(sql) ? { classLabels: ['0', '1'] } : {};
}

/** The modelType a synthetic model of `sql` named `fullName` gets (see the module comment). */
export function modelTypeFor(sql: string, fullName: string): string {
  const name = fullName.split('.').pop()!.replace(/[^\w]/g, '\\$&');
  if (new RegExp(`\\bML\\s*\\.\\s*RECOMMEND\\s*\\(\\s*MODEL\\s*[\\w.\`-]*${name}\\b`, 'i').test(sql)) return 'MATRIX_FACTORIZATION';
  const embedding = new RegExp(`\\b(?:ML|AI)\\s*\\.\\s*GENERATE_EMBEDDING\\s*\\(\\s*MODEL\\s*[\\w.\`-]*${name}\`?\\s*(,\\s*STRUCT\\b[^)]*)?\\)`, 'i');
  if (embedding.test(sql)) return 'MATRIX_FACTORIZATION';
  if (new RegExp(`GENERATE_EMBEDDING\\s*\\(\\s*MODEL\\s*[\\w.\`-]*${name}`, 'i').test(sql)) {
    if (/pca/i.test(name)) return 'PCA';
    if (/autoencoder/i.test(name)) return 'AUTOENCODER';
  }
  return 'LINEAR_REG';
}
