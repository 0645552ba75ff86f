/**
 * The synthetic catalog of one corpus statement (a `TableSource`): every table the analyzer asks
 * for exists (with the columns synthesized so far), every persistent routine and model it asks for
 * exists too (`getRoutine` → `RoutineInfo` with the arity and argument types of the call site,
 * `getModel` → `ModelInfo`), and the script variables and query parameters the statement uses are
 * declared. The repair rules (repair.ts) grow it from the analyzer's errors.
 */
import type { BqField } from '../../src/emulator/encode.js';
import type { ModelInfo, RoutineInfo, StandardSqlDataType, TableInfo, TableSource } from '../../src/sql/index.js';
import { fieldType, typeSql } from '../../src/sql/types.js';
import { BigQueryError } from '../../src/bigquery/errors.js';
import type { Scope } from './scope.js';
import { classesFor, externalSchemaOf, modelTypeFor, RECOMMENDER_COLUMNS, tuningFor } from './ml.js';

/** A BigQuery schema field → the REST reference's StandardSqlDataType. */
export function standardType(f: BqField): StandardSqlDataType {
  const base: StandardSqlDataType = f.type === 'RECORD'
    ? { typeKind: 'STRUCT', structType: { fields: (f.fields ?? []).map((c) => ({ name: c.name, type: standardType(c) })) } }
    : { typeKind: ({ INTEGER: 'INT64', FLOAT: 'FLOAT64', BOOLEAN: 'BOOL' } as Record<string, string>)[f.type] ?? f.type };
  return f.mode === 'REPEATED' ? { typeKind: 'ARRAY', arrayElementType: base } : base;
}

export class SyntheticSource implements TableSource {
  tables = new Map<string, BqField[]>();
  /** Script variables the statement reads without declaring (it is a script's unit): named constants. */
  variables: BqField[] = [];
  params: Array<{ name?: string; parameterType: { type: string; arrayType?: { type: string } } }> = [];
  /** Persistent routines asked for, by full name: argument types (by position), return type, TVF columns. */
  routines = new Map<string, { args: BqField[]; returns: BqField; columns: BqField[] }>();
  /** Models asked for, by full name: their label column. */
  models = new Map<string, { label: BqField; features: BqField[] }>();
  version = 0;
  /** The sibling definitions analyzed before the statement (`CREATE TEMP FUNCTION …;\n`), '' for none (siblings.ts). */
  prelude = '';
  /** The ids of those definitions. */
  siblings: string[] = [];
  /** Persistent routines an earlier statement (`id`) of the document creates, by lower-case `dataset.routine` (routine-def.ts); the ones asked for join `siblings`. */
  defined = new Map<string, { info: RoutineInfo; id: string }>();
  /** Definitions whose body did not analyze here, so the routine was shaped from its call site instead. */
  fromCallSite: string[] = [];
  /** The statement's parse facts (set by synthesize), for the arity of routine call sites. */
  scope?: Scope;
  private infos = new Map<string, TableInfo>();
  /** Routine and model answers by name and version: the same object while nothing changed (the analyzer's cache checks identity). */
  private answers = new Map<string, RoutineInfo | ModelInfo>();

  /** `sql`: the statement, for the wildcard shards it spells. */
  constructor(private readonly sql = '') {}

  async getTable(fullName: string): Promise<TableInfo> {
    if (!this.tables.has(fullName)) this.tables.set(fullName, []);
    const key = `${fullName}@${this.version}`;
    if (!this.infos.has(key)) this.infos.set(key, { fullName, schema: this.tables.get(fullName)! });
    return this.infos.get(key)!;
  }

  /** One shard for every wildcard prefix the statement spells. */
  async listTables(_p: string, _d: string): Promise<string[]> {
    return [...this.sql.matchAll(/([A-Za-z0-9_-]*)\*`/g)].map((m) => `${m[1]}20240101`);
  }

  /**
   * A routine shaped by its use: a TVF when it is called in FROM, a procedure after CALL, else a
   * scalar SQL function; one FIXED_TYPE argument per argument at the call site (STRING until an
   * error says otherwise), returning STRING; a TVF's columns are the ones the statement reads.
   */
  async getRoutine(fullName: string): Promise<RoutineInfo> {
    const key = `routine:${fullName}@${this.version}`;
    if (!this.answers.has(key)) this.answers.set(key, this.routine(fullName));
    return this.answers.get(key) as RoutineInfo;
  }

  private routine(fullName: string): RoutineInfo {
    const key = fullName.split('.').slice(-2).join('.').toLowerCase();
    const def = this.defined.get(key);
    if (def) { if (!this.siblings.includes(def.id)) this.siblings.push(def.id); return { ...def.info, fullName }; }
    const parts = fullName.split('.');
    const last = parts.pop()!.toLowerCase();
    const esc = last.replace(/[^\w]/g, '\\$&');
    // Persistent routines are always dataset-qualified in BigQuery: a bare unknown name is no routine.
    const dataset = (parts.pop() ?? '').replace(/[^\w]/g, '\\$&');
    if (!dataset || !new RegExp(`\\b${dataset}\`?\\s*\\.\\s*\`?${esc}\\b`, 'i').test(this.sql)) throw new BigQueryError('notFound', `Not found: Routine ${fullName}`);
    const r = this.routines.get(fullName) ?? (() => {
      const call = this.scope?.calls.find((c) => c.kind === 'astFunctionCallNode' && (c.name ?? '').toLowerCase().split('.').pop() === last);
      const n = call?.operands.length ?? (this.sql.match(new RegExp(`\\b${esc}\`?\\s*\\(([^()]*)\\)`, 'i'))?.[1].split(',').filter((x) => x.trim()).length ?? 0);
      const made = { args: Array.from({ length: n }, (_, i): BqField => ({ name: `arg${i + 1}`, type: 'STRING', mode: 'NULLABLE' })), returns: { name: '', type: 'STRING', mode: 'NULLABLE' } as BqField, columns: [] as BqField[] };
      this.routines.set(fullName, made);
      return made;
    })();
    const kind = new RegExp(`\\bCALL\\s+[\\w.\`-]*${esc}\\b`, 'i').test(this.sql) ? 'PROCEDURE'
      : new RegExp(`\\b(FROM|JOIN)\\s+[\\w.\`-]*${esc}\`?\\s*\\(`, 'i').test(this.sql) ? 'TABLE_VALUED_FUNCTION' : 'SCALAR_FUNCTION';
    const columns: BqField[] = r.columns.length ? r.columns : [{ name: 'c1', type: 'STRING', mode: 'NULLABLE' }];
    return {
      fullName, routineType: kind, language: 'SQL',
      arguments: r.args.map((a) => ({ name: a.name, argumentKind: 'FIXED_TYPE' as const, mode: 'IN' as const, dataType: standardType(a) })),
      ...(kind === 'SCALAR_FUNCTION' ? { returnType: standardType(r.returns), definitionBody: `CAST(NULL AS ${typeSql(r.returns)})` } : {}),
      ...(kind === 'TABLE_VALUED_FUNCTION' ? {
        returnTableType: { columns: columns.map((c) => ({ name: c.name, type: standardType(c) })) },
        definitionBody: `SELECT ${columns.map((c) => `CAST(NULL AS ${typeSql(c)}) AS \`${c.name}\``).join(', ')}`,
      } : {}),
      ...(kind === 'PROCEDURE' ? { definitionBody: 'BEGIN\nSELECT 1;\nEND' } : {}),
    };
  }

  /** A model with one label column (`label`, renamed when the statement reads `predicted_<x>`) and the features asked for. */
  async getModel(fullName: string): Promise<ModelInfo> {
    const key = `model:${fullName}@${this.version}`;
    if (!this.answers.has(key)) this.answers.set(key, this.model(fullName));
    return this.answers.get(key) as ModelInfo;
  }

  private model(fullName: string): ModelInfo {
    const esc = fullName.split('.').pop()!.replace(/[^\w]/g, '\\$&');
    if (!new RegExp(`\\bMODEL\\s*[\\w.\`-]*${esc}\\b`, 'i').test(this.sql)) throw new BigQueryError('notFound', `Not found: Model ${fullName}`);
    const modelType = modelTypeFor(this.sql, fullName);
    const recommender = modelType === 'MATRIX_FACTORIZATION' && /\bML\s*\.\s*RECOMMEND\b/i.test(this.sql);
    const m = this.models.get(fullName) ?? this.models.set(fullName, {
      label: { name: 'label', type: recommender ? 'FLOAT' : 'STRING', mode: 'NULLABLE' },
      features: recommender ? RECOMMENDER_COLUMNS.map((name) => ({ name, type: 'STRING', mode: 'NULLABLE' })) : [],
    }).get(fullName)!;
    const { hparamTuningObjectives, ...tuned } = tuningFor(this.sql, fullName);
    return {
      fullName, modelType, featureColumns: m.features.map((f) => ({ name: f.name, type: standardType(f) })), labelColumns: [{ name: m.label.name, type: standardType(m.label) }],
      ...(recommender ? { trainingOptions: { userColumn: m.features[0].name, itemColumn: m.features[1].name, feedbackType: 'EXPLICIT' } } : {}),
      ...(hparamTuningObjectives ? { trainingOptions: { hparamTuningObjectives }, ...tuned } : {}),
      ...classesFor(this.sql, fullName),
    };
  }

  /** `SELECT * FROM EXTERNAL_QUERY(…)`'s columns: the ones the statement reads from it (corpus/ml.ts). */
  async externalSchema(): Promise<BqField[]> { return externalSchemaOf(this); }

  /** Whether anything was guessed (a column, variable, parameter, routine or model). */
  get guessed(): boolean {
    return [...this.tables.values()].some((f) => f.length > 0) || this.variables.length > 0 || this.params.length > 0 || this.routines.size > 0 || this.models.size > 0;
  }

  /** The script variables as the analyzer takes them. */
  scriptVariables() { return this.variables.map((v) => ({ name: v.name, type: fieldType(v) })); }
}
