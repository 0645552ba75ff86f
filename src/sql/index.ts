/**
 * `sql/`: GoogleSQL text → `QueryAnalysis`, with ZetaSQL's analyzer resolving every name against a
 * catalog built from the tables the statement names.
 *
 * Steps: ExtractTableNamesFromStatement → qualify each name with the request's project and
 * defaultDataset → fetch schemas (TableSource, i.e. the catalog stage) → register a SimpleCatalog
 * answering exactly the spellings used (cached) → Analyze with every statement kind enabled and
 * parse locations recorded → walk the resolved AST (walk.ts).
 *
 * Errors: `BigQueryError('invalidQuery')` for SQL ZetaSQL cannot read or resolve, or a shape bqgate
 * does not analyze yet (scripts, wildcard tables, INFORMATION_SCHEMA); `notFound` for a missing
 * table; `backendError` while the analyzer is down. Nothing unanalyzed is ever let through.
 */
import { leafOf, pathParts, projectOf, tablePath } from '../bigquery/table-path.js';
import { createHash } from 'node:crypto';
import { BigQueryError } from '../bigquery/errors.js';
import type { BqField } from '../emulator/encode.js';
import { allStatementKinds, type ZetaSqlService } from './zetasql.js';
import { fieldType, parameterType, typeToField, type TypeProto } from './types.js';
import { scriptUnits, type ScriptUnit } from './script.js';
import { inlineExecuteImmediate } from './execute-immediate.js';
import { ddlTarget, dmlTarget, functionNames, outputColumns, statementFlags, statementKind, statementNode, tableScans, type StatementFlags, type TableScan } from './walk.js';
import { SUFFIX_COLUMN, unionSchema, wildcardFilters } from './wildcard.js';
import { lineage, fieldsRead, type OutputLineage, type Clause, type FieldRef } from './lineage.js';
import { spliceScans } from './splice.js';
import { qualify, qualifyObject } from './names.js';
import { SYSTEM_VARIABLES } from './options.js';
import { reemit } from './canonical.js';
import { bigQueryLanguageOptions } from './features.js';
import { addBigQueryBuiltins, builtinNamesIn, replacedBuiltins } from './builtins/index.js';
import { checkSetOperations, desugar, setOperationMessage, type SetOperationCheck } from './pipe/index.js';
import { addToCatalog, catalogKey, declaredBy, expandCalls, finish, newRoutineState, refuseCrashTriggers, registerMissing, routinesStillValid, type RoutineDef, type RoutineState } from './routines.js';
import { planTvfs, tvfContext, type TvfPlan } from './tvfs/index.js';

export { qualify } from './names.js';

export type { OutputLineage, Clause, FieldRef } from './lineage.js';

export { ZetaSqlServer } from './zetasql.js';
export { typeSql } from './types.js';
export type { TableScan, StatementFlags } from './walk.js';
export { spliceScans, spliceScansWithRanges, quoteIdent } from './splice.js';

export interface TableInfo {
  /** `project.dataset.table` */
  fullName: string;
  schema: BqField[];
  /** For a view: its definition (tables.get `view.query`); the analysis reads through it. */
  viewQuery?: string;
  viewLegacySql?: boolean;
}

/**
 * A BigQuery `StandardSqlDataType` (REST reference, StandardSqlDataType): `typeKind` INT64, STRING,
 * …, ARRAY (`arrayElementType`), STRUCT (`structType.fields`), RANGE (`rangeElementType`), or
 * ANY_TYPE for a templated routine argument.
 */
export interface StandardSqlDataType {
  typeKind: string;
  arrayElementType?: StandardSqlDataType;
  structType?: { fields: Array<{ name?: string; type: StandardSqlDataType }> };
  rangeElementType?: StandardSqlDataType;
}

/**
 * A persistent routine as `routines.get` returns it (REST reference, Routine), reduced to what the
 * analyzer needs. `definitionBody`: the SQL expression / query / script body (or JavaScript text).
 */
export interface RoutineInfo {
  /** `project.dataset.routine` */
  fullName: string;
  routineType: 'SCALAR_FUNCTION' | 'AGGREGATE_FUNCTION' | 'TABLE_VALUED_FUNCTION' | 'PROCEDURE';
  language?: 'SQL' | 'JAVASCRIPT' | 'PYTHON' | 'JAVA' | 'SCALA';
  /** A table function's table parameter (`t TABLE<a INT64, …>`) is FIXED_TABLE with `tableType` (ANY_TABLE: `t ANY TABLE`). */
  arguments: Array<{ name?: string; argumentKind?: 'FIXED_TYPE' | 'ANY_TYPE' | 'FIXED_TABLE' | 'ANY_TABLE'; mode?: 'IN' | 'OUT' | 'INOUT'; dataType?: StandardSqlDataType; tableType?: { columns: Array<{ name: string; type: StandardSqlDataType }> }; isAggregate?: boolean }>;
  returnType?: StandardSqlDataType;
  /** For a TABLE_VALUED_FUNCTION: its output columns. */
  returnTableType?: { columns: Array<{ name: string; type: StandardSqlDataType }> };
  definitionBody?: string;
  /** Present for a remote function (BigQuery `remoteFunctionOptions`). */
  remoteFunctionOptions?: { endpoint?: string; connection?: string };
}

/** A BigQuery ML model as `models.get` returns it (REST reference, Model), reduced to its columns. */
export interface ModelInfo {
  /** `project.dataset.model` */
  fullName: string;
  modelType?: string;
  featureColumns: Array<{ name: string; type: StandardSqlDataType }>;
  labelColumns: Array<{ name: string; type: StandardSqlDataType }>;
  /**
   * The last training run's TrainingOptions fields ML.RECOMMEND names its output by (matrix
   * factorization), and the hyperparameter tuning objectives (`R2_SCORE`, …) ML.TRIAL_INFO's metrics are.
   */
  trainingOptions?: { userColumn?: string; itemColumn?: string; feedbackType?: string; hparamTuningObjectives?: string[] };
  /** The tuned hyperparameters (models.get `hparamSearchSpaces` keys, camelCase, in its order). */
  hparamSearchSpaces?: string[];
  /** A classifier's class labels (the last training run's evaluation metrics), as strings. */
  classLabels?: string[];
}

/** Where table schemas come from (the catalog stage). Throws BigQueryError(notFound) for a missing table. */
export interface TableSource {
  getTable(fullName: string): Promise<TableInfo>;
  /** Table ids of a dataset (for wildcard tables). */
  listTables(projectId: string, datasetId: string): Promise<string[]>;
  /** A persistent UDF, TVF or procedure (routines.get); BigQueryError(notFound) when there is none. */
  getRoutine?(fullName: string): Promise<RoutineInfo>;
  /** A BigQuery ML model (models.get); BigQueryError(notFound) when there is none. */
  getModel?(fullName: string): Promise<ModelInfo>;
  /**
   * The columns `SELECT * FROM EXTERNAL_QUERY(connection, query[, options])` returns (a dry run
   * upstream, catalog/external.ts; `options` is the call's JSON options string, which can change the
   * types). Only asked for a connection `AnalyzeInput.externalConnectionAllowed` allows.
   */
  externalSchema?(connection: string, query: string, projectId: string, options?: string): Promise<BqField[]>;
}

export interface QueryParameter {
  name?: string;
  parameterType: { type: string; arrayType?: any; structTypes?: any[] };
  parameterValue?: unknown;
}

export interface AnalyzeInput {
  sql: string;
  /** Script variables in scope (named constants to the analyzer); set by script analysis. */
  scriptVariables?: Array<{ name: string; type: TypeProto }>;
  /** Temp tables created earlier in the same script, by name (`_SESSION.<name>` in analyses). */
  scriptTables?: Map<string, TableInfo>;
  /** Temp functions declared earlier in the same script, by lower-case name (routines.ts). */
  scriptRoutines?: Map<string, RoutineDef>;
  /**
   * Set by routines.ts: how deep in routine bodies this analysis is, the statement's remaining
   * body-analysis budget, and the script's own variables (without any routine's arguments), which
   * a nested temp function's body sees beside its own arguments.
   */
  routineNesting?: { depth: number; budget: { left: number }; scriptVariables?: Array<{ name: string; type: TypeProto }> };
  /**
   * Whether the caller's policy allows an EXTERNAL_QUERY connection (policy allowsExternalConnection).
   * On an allowed connection the external query's columns come from the upstream (a dry run, exact);
   * on any other they are read off its select list, and one that does not list them (`SELECT *`) is
   * refused before anything is sent. Absent: no connection is allowed.
   */
  externalConnectionAllowed?: (connection: string) => boolean;
  /** The job's project: qualifies `dataset.table`. */
  projectId: string;
  defaultDataset?: { projectId?: string; datasetId: string };
  queryParameters?: QueryParameter[];
}

export interface ColumnRef { table: string; column: string }

/** What a statement does, in plain data. */
export interface QueryAnalysis {
  /** SELECT, INSERT, UPDATE, DELETE, MERGE, CREATE_TABLE_AS_SELECT, … */
  statementKind: string;
  tablesRead: string[];
  tablesWritten: string[];
  /**
   * Every column the statement references anywhere (select list, predicates, joins, grouping,
   * ordering, whole-row values, projections of subqueries and CTEs) — what column denies check.
   * Through a view, only the underlying columns the statement actually uses count.
   */
  columnsRead: ColumnRef[];
  /** The columns that reach a result column or a clause (a subset of columnsRead). */
  columnsUsed: ColumnRef[];
  /** STRUCT fields read, by path under their column (`path: []` = the column used whole). */
  fieldsRead: FieldRef[];
  /** Table scans with their byte ranges, for the rewrite stage. */
  scans: TableScan[];
  /** Result column names (queries). */
  outputColumns: string[];
  /** Result column types (ZetaSQL TypeProto), in order. */
  outputTypes: TypeProto[];
  /** For a script: the analysis of each unit (statements and evaluated expressions), positions in the whole text. */
  units?: QueryAnalysis[];
  /** Per result column: the table columns it derives from, and whether it is a plain copy. */
  lineage: OutputLineage[];
  /** Table columns used per clause (select, where, join, group_by, having, qualify, order_by, window). */
  columnsByClause: Partial<Record<Clause, ColumnRef[]>>;
  /** Functions called (ZetaSQL names). */
  functions: string[];
  /** Dynamic SQL, export destination, temp objects, system variables, time travel, UDFs. */
  flags: StatementFlags;
  /** Schemas of the tables involved, by full name (wildcard members included). */
  tables: Record<string, BqField[]>;
  /** Wildcard tables used (`p.d.prefix*`) → the tables they read after `_TABLE_SUFFIX` narrowing. */
  wildcards: Record<string, string[]>;
  /**
   * BigQuery ML models the statement reads (`project.dataset.model`: the MODEL arguments of ML.* / AI.*
   * TVFs, sql/tvfs), sorted. The policy decides each like a table of its dataset (BigQuery's
   * bigquery.models.getData); they are not in `tablesRead` (no scan of them to rewrite).
   */
  modelsRead: string[];
  /** Per model read: its feature and label column names (models.get), what column rules are checked against. */
  models: Record<string, string[]>;
  /** Views read → the tables underneath them (views are inlined; they also appear in tablesRead). */
  views: Record<string, string[]>;
  /** The statement with every view inlined: what later stages rewrite and send (equal to the input when no view is read). */
  effectiveSql: string;
  /**
   * SHA-256 (hex) of the resolved statement (ZetaSQL's resolved AST, parse locations removed): the
   * same for texts that differ only in spacing, comments or keyword case, different for
   * any other difference (literals included). Parameter values are not part of it.
   */
  fingerprint: string;
  /**
   * Like `fingerprint`, without the fields that carry source text as written (the `sql` of a view
   * or column default, a function's or table function's `code`, a procedure's `procedureBody`, a
   * row access policy's `predicateStr`): what `regenerate` compares, since the regenerated text
   * legitimately writes those bodies differently.
   */
  structureFingerprint: string;
}


interface CachedAnalysis { analysis: QueryAnalysis; infos: Map<string, TableInfo>; lists: Map<string, string[]> }

/**
 * The analyzer. One per gateway; safe for concurrent use. Analyses are cached by (SQL, parameter
 * types, project, default dataset) and reused only while every table schema (and, for wildcards,
 * every dataset listing) they were built from is still the catalog's current one — so a schema
 * change upstream (the catalog's TTL) invalidates them.
 */
export class Analyzer {
  private catalogs = new Map<string, { id: string; generation: number }>();
  private cache = new Map<string, CachedAnalysis>();
  /** Caller text → its canonical re-emission (regenerate), LRU-bounded like the analyses. */
  private regenerated = new Map<string, string>();
  private options?: { generation: number; value: any };

  constructor(private readonly server: ZetaSqlService, private readonly source: TableSource, private readonly cacheSize = 10_000) {}

  /** Analyzes one statement, from the cache when still valid. See the module comment for the errors thrown. */
  async analyze(input: AnalyzeInput): Promise<QueryAnalysis> {
    const key = JSON.stringify([input.sql, input.projectId, input.defaultDataset ?? null, (input.queryParameters ?? []).map((p) => [p.name ?? null, p.parameterType])]);
    const hit = this.cache.get(key);
    if (hit && await this.stillValid(hit)) {
      this.cache.delete(key); // LRU: move to the back
      this.cache.set(key, hit);
      return hit.analysis;
    }
    const infos = new Map<string, TableInfo>();
    const lists = new Map<string, string[]>();
    const analysis = await this.analyzeUncached(input, infos, lists);
    // An EXTERNAL_QUERY's columns depend on the caller (its policy decides whether the upstream is asked, sql/tvfs): not cached here.
    if (analysis.flags.externalConnections?.length) return analysis;
    this.cache.set(key, { analysis, infos, lists });
    if (this.cache.size > this.cacheSize) this.cache.delete(this.cache.keys().next().value as string);
    return analysis;
  }

  /**
   * The statement as bqgate sends it upstream: `input.sql` re-emitted from ZetaSQL's parse in one
   * canonical form (canonical.ts: no comments, every literal plainly encoded, odd identifiers
   * backquoted), checked to resolve to exactly the resolved AST of `expected` (its analysis
   * fingerprint) — so no parser downstream can read the text differently than the analyzer did.
   * Returns the text and its analysis (positions in the regenerated text). Cached by text.
   * Throws BigQueryError('invalidQuery') when the statement cannot be regenerated exactly.
   */
  async regenerate(input: AnalyzeInput, expected: QueryAnalysis): Promise<{ sql: string; analysis: QueryAnalysis }> {
    let sql = this.regenerated.get(input.sql);
    if (sql !== undefined) {
      this.regenerated.delete(input.sql); // LRU: move to the back
      this.regenerated.set(input.sql, sql);
    } else {
      const lo = await this.languageOptions();
      const script = expected.statementKind === 'SCRIPT';
      let tree: unknown;
      try {
        const r = await this.server.call('parse', { sqlStatement: input.sql, options: lo, allowScript: script });
        tree = script ? r.parsedScript : r.parsedStatement;
      } catch (err) {
        throw analysisError(err, input.sql);
      }
      sql = reemit(input.sql, tree);
      this.regenerated.set(input.sql, sql);
      if (this.regenerated.size > this.cacheSize) this.regenerated.delete(this.regenerated.keys().next().value as string);
    }
    const analysis = sql === input.sql ? expected : await this.analyze({ ...input, sql });
    if (analysis.structureFingerprint !== expected.structureFingerprint) {
      throw new BigQueryError('invalidQuery', 'bqgate could not regenerate this statement exactly from its analysis (the regenerated text resolves differently), so it was not run. Remove comments and unusual literal or identifier spellings and retry.', { location: 'q' });
    }
    return { sql, analysis };
  }

  private async stillValid(c: CachedAnalysis): Promise<boolean> {
    for (const [full, info] of c.infos) if ((await this.source.getTable(full).catch(() => undefined)) !== info) return false;
    if (!(await routinesStillValid(c.infos, this.source))) return false;
    for (const [pd, ids] of c.lists) {
      const [p, d] = pathParts(pd);
      if ((await this.source.listTables(p, d).catch(() => undefined)) !== ids) return false;
    }
    return true;
  }

  private async languageOptions(): Promise<any> {
    const gen = this.server.generation;
    if (this.options?.generation === gen) return this.options.value;
    const max = await this.server.call('getLanguageOptions', { maximumFeatures: true });
    const value = bigQueryLanguageOptions(max, allStatementKinds());
    this.options = { generation: gen, value };
    return value;
  }

  /** `sugared`: the text is desugared already, with these set operations to check after analysis (pipe/setops.ts). */
  private async analyzeUncached(input: AnalyzeInput, fetched: Map<string, TableInfo>, lists: Map<string, string[]>, inScript = false, sugared?: SetOperationCheck[]): Promise<QueryAnalysis> {
    // Pipe syntax and other newer syntax (pipe/): the desugared text is what is analyzed (effectiveSql, scan positions).
    const checks: SetOperationCheck[] = [];
    const sugar = inScript || sugared ? undefined : await desugar(input.sql, { columnsOf: async (sql) => (await this.analyze({ ...input, sql })).outputColumns, setOperations: checks });
    if (sugar !== undefined) return this.analyzeUncached({ ...input, sql: sugar }, fetched, lists, inScript, checks);
    const lo = await this.languageOptions();
    const inlined = inScript ? undefined : await this.inlineDynamicSql(input.sql, lo);
    if (inlined !== undefined) {
      if (sugared?.length) throw new BigQueryError('invalidQuery', 'bqgate cannot analyze EXECUTE IMMEDIATE together with set operations by name in one script yet; it was not run.', { location: 'q' });
      return this.analyzeUncached({ ...input, sql: inlined }, fetched, lists, inScript);
    }
    let names: string[][];
    try {
      const r = await this.server.call('extractTableNamesFromStatement', { sqlStatement: input.sql, options: lo, allowScript: false });
      names = (r.tableName ?? []).map((t: any) => t.tableNameSegment as string[]);
    } catch (err) {
      const parsed = inScript ? undefined : await this.parseScript(input.sql, lo);
      if (parsed) return this.analyzeScript(input, parsed, fetched, lists, sugared);
      throw analysisError(err, input.sql);
    }
    const routines = newRoutineState();
    for (let attempt = 0; ; attempt++) {
      try {
        const a = await this.analyzeWith(input, names, lo, fetched, lists, routines, sugared).catch(async (err) => {
          // A lone script statement (SET x = …, SET (a, b) = …) parses as one statement but is not one.
          const parsed = !inScript && /Statement not supported: (SingleAssignment|AssignmentFromStruct)/.test(String((err as Error).message)) ? await this.parseScript(input.sql, lo) : undefined;
          if (parsed) return this.analyzeScript(input, parsed, fetched, lists, sugared);
          throw err;
        });
        // Fail closed: dynamic SQL that was not written out as its statement (execute-immediate.ts) never runs.
        if (a.flags.dynamicSql) throw new BigQueryError('accessDenied', 'Access Denied: bqgate cannot analyze the SQL this EXECUTE IMMEDIATE would run (write it as a string literal); it was not run.');
        return a.scans.some((sc) => fetched.get(sc.table)?.viewQuery !== undefined) ? await this.inlineViews(input, a, fetched, lists) : a;
      } catch (err) {
        if (await registerMissing(err, routines, input, this.source, fetched, (i) => this.analyzeUncached(i, fetched, lists))) { attempt--; continue; }
        // Some statements (ALTER TABLE, …) name tables ExtractTableNames does not report: add the
        // one the analyzer could not find, once each, and try again.
        const m = (err as Error).message.match(/Table not found: `?([^`\s\[]+)`?/);
        const segs = m ? pathParts(m[1]) : undefined;
        if (!segs || attempt >= 3 || names.some((n) => n.join('.') === segs.join('.'))) throw err;
        names.push(segs);
        // Spelled as one quoted identifier (`project.dataset.table`), the path the analyzer looks up is that one segment.
        if (segs.length > 1) names.push([m![1]]);
      }
    }
  }

  private async analyzeWith(input: AnalyzeInput, names: string[][], lo: any, fetched: Map<string, TableInfo>, lists: Map<string, string[]>, routines: RoutineState = newRoutineState(), setOps: SetOperationCheck[] = []): Promise<QueryAnalysis> {
    refuseCrashTriggers(names);
    const spelled = new Map<string, { segments: string[]; full: string }>();
    const local = (segs: string[]) => {
      const parts = segs.flatMap((x) => x.split('.'));
      const name = (parts.length === 2 && parts[0].toLowerCase() === '_session' ? parts[1] : parts.length === 1 ? parts[0] : '').toLowerCase();
      return name ? input.scriptTables?.get(name) : undefined;
    };
    for (const segs of names) spelled.set(segs.join('\u0000'), { segments: segs, full: local(segs)?.fullName ?? qualify(segs, input) });
    const infos = new Map<string, TableInfo>();
    const members = new Map<string, string[]>();
    for (const { full } of spelled.values()) {
      if (infos.has(full)) continue;
      const temp = full.startsWith('_SESSION.') ? input.scriptTables?.get(full.slice(9).toLowerCase()) : undefined;
      if (temp) { infos.set(full, temp); continue; }
      if (!full.endsWith('*')) { infos.set(full, await this.source.getTable(full)); fetched.set(full, infos.get(full)!); continue; }
      const { project: p, dataset: d, name: pattern } = tablePath(full);
      const prefix = pattern.slice(0, -1);
      const listed = await this.source.listTables(p, d);
      lists.set(`${p}.${d}`, listed);
      const ids = listed.filter((t) => t.startsWith(prefix)).sort();
      if (!ids.length) throw new BigQueryError('notFound', `Not found: Table ${p}:${d}.${pattern} (no table matches the wildcard)`);
      const member = await Promise.all(ids.map((t) => this.source.getTable(`${p}.${d}.${t}`)));
      const view = member.find((m) => m.viewQuery !== undefined);
      if (view) throw new BigQueryError('invalidQuery', `Wildcard table ${full} matches the view ${view.fullName}; views cannot be read through a wildcard.`, { location: 'q' });
      for (const m of member) { infos.set(m.fullName, m); fetched.set(m.fullName, m); }
      members.set(full, member.map((m) => m.fullName));
      infos.set(full, { fullName: full, schema: unionSchema(member.map((m) => m.schema)) });
    }

    const tvfs = await planTvfs(input.sql, tvfContext(this.server, lo, this.source, input, (sql) => this.analyzeUncached({ ...input, sql }, fetched, lists, true)));
    const catalogId = await this.registerCatalog([...spelled.values()], infos, lo, input.scriptVariables ?? [], builtinNamesIn(input.sql), routines, tvfs);
    const options: Record<string, unknown> = {
      languageOptions: lo, pruneUnusedColumns: true, parseLocationRecordType: 'PARSE_LOCATION_RECORD_CODE_SEARCH',
      errorMessageMode: 'ERROR_MESSAGE_ONE_LINE', defaultTimezone: 'UTC', systemVariables: SYSTEM_VARIABLES,
    };
    const params = input.queryParameters ?? [];
    if (params.length && params.every((p) => p.name)) {
      options.parameterMode = 'PARAMETER_NAMED';
      options.queryParameters = params.map((p) => ({ name: p.name!.toLowerCase(), type: parameterType(p.parameterType) }));
    } else if (params.length) {
      options.parameterMode = 'PARAMETER_POSITIONAL';
      options.positionalQueryParameters = params.map((p) => parameterType(p.parameterType));
    }
    let resolved: Record<string, any>;
    try {
      const r = await this.server.call('analyze', { registeredCatalogId: catalogId, sqlStatement: tvfs?.sql ?? input.sql, options });
      resolved = r.resolvedStatement;
    } catch (err) {
      if (tvfs && err instanceof Error) err.message = tvfs.message(err.message);
      throw analysisError(err, input.sql);
    }
    if (!resolved) throw new BigQueryError('invalidQuery', 'bqgate could not analyze this statement (the analyzer returned nothing); it was not run.', { location: 'q' });
    checkSetOperations(resolved, setOps);
    const bodies = await expandCalls(resolved, routines, input, (i) => this.analyzeUncached(i, fetched, lists));

    tvfs?.check(resolved);
    tvfs?.restore(resolved);
    const kind = statementKind(resolved);
    const filters = wildcardFilters(resolved);
    const scans = tableScans(resolved, (node, table) => {
      const all = members.get(table);
      if (!all) return undefined;
      const tests = filters.get(node) ?? [];
      const prefix = leafOf(table).slice(0, -1);
      return all.filter((m) => tests.every((t) => t(leafOf(m).slice(prefix.length))));
    });
    const target = dmlTarget(resolved);
    const lin = lineage(resolved, tvfs?.lineage);
    // `used`: for a query, the columns that reach a result column or a clause (WHERE, JOIN, GROUP BY,
    // ORDER BY, window, HAVING, QUALIFY) — not those a subquery or view merely projects. Other
    // statements use every column their scans touch.
    const used = kind === 'SELECT'
      ? new Set([...lin.outputs.flatMap((o) => o.sources), ...Object.values(lin.byClause).flat()].map((r) => `${r!.table}\u0000${r!.column}`))
      : undefined;
    const read = new Map<string, Set<string>>();
    const usedBy = new Map<string, Set<string>>();
    for (const s of scans) {
      if (target && kind === 'INSERT' && s.table === target && !s.routine) continue; // an INSERT's target scan lists the columns written, not read (a routine body's read of it is a read)
      for (const t of s.members ?? [s.table]) {
        if (!read.has(t)) read.set(t, new Set());
        const has = s.members ? new Set(infos.get(t)!.schema.map((f) => f.name)) : undefined;
        for (const c of s.columns) {
          if (has && !has.has(c)) continue;
          read.get(t)!.add(c);
          if (!used || used.has(`${s.table}\u0000${c}`)) (usedBy.get(t) ?? usedBy.set(t, new Set()).get(t)!).add(c);
        }
      }
    }
    const created = !target && /^(CREATE|DROP|ALTER|LOAD)/.test(kind) ? ddlTarget(resolved) : undefined;
    const written = target ? [target] : created ? [qualifyObject(created, input)] : [];
    const pairs = (m: Map<string, Set<string>>) => [...m.entries()].flatMap(([table, cols]) => [...cols].sort().map((column) => ({ table, column })));
    const tables: Record<string, BqField[]> = {};
    for (const [full, info] of infos) if (!full.endsWith('*')) tables[full] = info.schema;
    const wildcards: Record<string, string[]> = {};
    for (const s of scans) if (s.members) wildcards[s.table] = [...new Set([...(wildcards[s.table] ?? []), ...s.members])].sort();
    return withBodyModels(finish({
      statementKind: kind,
      tablesRead: [...read.keys()].sort(),
      tablesWritten: written,
      columnsRead: pairs(read),
      columnsUsed: pairs(usedBy),
      fieldsRead: fieldsRead(resolved, tvfs?.lineage),
      scans,
      outputColumns: outputColumns(resolved),
      outputTypes: (statementNode(resolved)[1]?.outputColumnList ?? []).map((c: any) => c.column.type as TypeProto),
      lineage: lin.outputs,
      columnsByClause: lin.byClause,
      functions: [...functionNames(resolved)].sort(),
      flags: { ...statementFlags(resolved, [...functionNames(resolved)], scans), ...(tvfs?.externalConnections.length ? { externalConnections: tvfs.externalConnections } : {}) },
      tables,
      wildcards,
      modelsRead: Object.keys(tvfs?.models ?? {}).sort(),
      models: tvfs?.models ?? {},
      views: {},
      effectiveSql: input.sql,
      fingerprint: resolvedFingerprint(resolved),
      structureFingerprint: resolvedFingerprint(resolved, TEXT_FIELDS),
    }, routines, bodies, resolved), bodies.all);
  }

  /**
   * Views: each scan of a view is replaced by its definition and the result analyzed again (up to 8
   * levels of nesting), so the policy sees — and the rewrite masks — the tables underneath, and the
   * upstream never reads a view whose own columns no policy declares.
   */
  private async inlineViews(input: AnalyzeInput, a: QueryAnalysis, fetched: Map<string, TableInfo>, lists: Map<string, string[]>, depth = 0): Promise<QueryAnalysis> {
    if (depth >= 8) throw new BigQueryError('invalidQuery', 'Views nested more than 8 deep are not supported by bqgate; the query was not run.', { location: 'q' });
    const viewScans = a.scans.filter((s) => fetched.get(s.table)?.viewQuery !== undefined);
    for (const s of viewScans) {
      const v = fetched.get(s.table)!;
      if (v.viewLegacySql) throw new BigQueryError('invalidQuery', `View ${s.table} is defined in legacy SQL, which bqgate cannot analyze; the query was not run.`, { location: 'q' });
      if (s.timeTravel) throw new BigQueryError('invalidQuery', `FOR SYSTEM_TIME AS OF on the view ${s.table} is not supported by bqgate; the query was not run.`, { location: 'q' });
      if (projectOf(s.table) !== input.projectId && /(^|[^.`\w-])`?[A-Za-z_][\w]*`?\.`?[A-Za-z_]\w*`?(?![.\w`])/.test(v.viewQuery!)) {
        // A view's dataset-qualified names resolve in the view's project, not the job's.
        throw new BigQueryError('invalidQuery', `View ${s.table} is in another project than the job and uses dataset-qualified names; bqgate cannot inline it safely. Run the job in project ${projectOf(s.table)}.`, { location: 'q' });
      }
    }
    const sql = spliceScans(a.effectiveSql, viewScans.map((scan) => ({ scan, text: fetched.get(scan.table)!.viewQuery! })), 'view definition');
    const inner = await this.analyzeUncached({ ...input, sql }, fetched, lists);
    const views: Record<string, string[]> = { ...inner.views };
    for (const s of viewScans) views[s.table] = [...new Set([...(views[s.table] ?? []), ...inner.tablesRead.filter((t) => !(t in inner.views))])].sort();
    // Columns the user's own text references keep their "referenced anywhere" reading; through the
    // view bodies, only what the statement uses counts (a view may project columns nobody asked for).
    const direct = a.columnsRead.filter((c) => fetched.get(c.table)?.viewQuery === undefined);
    const key = (c: ColumnRef) => `${c.table}\u0000${c.column}`;
    const columnsRead = [...new Map([...direct, ...inner.columnsUsed].map((c) => [key(c), c])).values()]
      .sort((x, y) => key(x).localeCompare(key(y)));
    return { ...inner, columnsRead, tablesRead: [...new Set([...inner.tablesRead, ...Object.keys(views)])].sort(), views, effectiveSql: inner.effectiveSql };
  }

  /** `sql` with each EXECUTE IMMEDIATE of a string literal written out as its statement (execute-immediate.ts); undefined when it has none. */
  private async inlineDynamicSql(sql: string, lo: unknown): Promise<string | undefined> {
    if (!/\bEXECUTE\b/i.test(sql)) return undefined;
    const parsed = await this.parseScript(sql, lo);
    const parse = async (text: string) => (await this.server.call('parse', { sqlStatement: text, options: lo, allowScript: true })).parsedScript;
    return parsed ? inlineExecuteImmediate(parsed, sql, parse) : undefined;
  }

  /** The parsed script when `sql` parses as one (several statements or script control flow). */
  private async parseScript(sql: string, lo: unknown): Promise<any | undefined> {
    try { return (await this.server.call('parse', { sqlStatement: sql, options: lo, allowScript: true })).parsedScript; } catch { return undefined; }
  }

  /**
   * A script, unit by unit (script.ts): each statement and each evaluated expression analyzed with
   * the variables declared before it in scope (as named constants), their positions moved into the
   * whole text; the result is their union, with `units` kept for per-statement decisions.
   */
  private async analyzeScript(input: AnalyzeInput, parsed: any, fetched: Map<string, TableInfo>, lists: Map<string, string[]>, setOps: SetOperationCheck[] = []): Promise<QueryAnalysis> {
    let units: ScriptUnit[];
    try { units = scriptUnits(parsed, input.sql); } catch (err) {
      throw new BigQueryError('invalidQuery', `bqgate cannot analyze this script (${(err as Error).message}); it was not run.`, { location: 'q' });
    }
    const bytes = Buffer.from(input.sql, 'utf8');
    const variables: Array<{ name: string; type: TypeProto }> = [...(input.scriptVariables ?? [])];
    const temps = new Map<string, TableInfo>(input.scriptTables ?? []);
    const parts: QueryAnalysis[] = [];
    const functions = new Map<string, RoutineDef>(input.scriptRoutines ?? []);
    const unit = (sql: string, checks?: SetOperationCheck[]) => this.analyzeUncached({ ...input, sql, scriptVariables: [...variables], scriptTables: new Map(temps), scriptRoutines: new Map(functions) }, fetched, lists, true, checks);
    // Each set operation to check belongs to the unit it stands in (positions moved into the unit's text).
    const checked = new Set<SetOperationCheck>();
    for (const u of units) {
      const body = bytes.subarray(u.start, u.end).toString('utf8');
      const prefix = u.kind === 'expression' ? 'SELECT (' : '';
      const mine = setOps.filter((c) => u.start <= c.at && c.at < u.end);
      mine.forEach((c) => checked.add(c));
      const a = body ? await unit(u.kind === 'expression' ? `${prefix}${body}) AS v` : body, mine.map((c) => ({ ...c, at: c.at - u.start + prefix.length }))) : undefined;
      if (a && Object.keys(a.views).length) throw new BigQueryError('invalidQuery', `Views inside scripts (${Object.keys(a.views)[0]}) are not supported by bqgate yet; the script was not run.`, { location: 'q' });
      if (u.declares) {
        const type = u.typeText ? (await unit(`SELECT CAST(NULL AS ${u.typeText}) AS v`)).outputTypes[0] : a?.outputTypes[0];
        if (!type) throw new BigQueryError('invalidQuery', `DECLARE ${u.declares.join(', ')} needs a type or a default value.`, { location: 'q' });
        for (const name of u.declares) variables.push({ name, type });
      }
      if (u.loopVariable && a) {
        variables.push({ name: u.loopVariable, type: { typeKind: 'TYPE_STRUCT', structType: { field: a.outputColumns.map((n, i) => ({ fieldName: n, fieldType: a.outputTypes[i] })) } } });
      }
      if (a?.statementKind === 'CREATE_TABLE_AS_SELECT' && a.flags.temporary && a.tablesWritten.length === 1) {
        // A temp table lives for the script: later statements read it as _SESSION.<name>.
        const name = leafOf(a.tablesWritten[0]);
        temps.set(name.toLowerCase(), { fullName: `_SESSION.${name}`, schema: a.outputColumns.map((n, i) => typeToField(n, a.outputTypes[i])) });
        a.tablesWritten = [`_SESSION.${name}`];
      }
      const declared = a && declaredBy(a);
      if (declared) functions.set(declared.fullName.toLowerCase(), declared); // a temp function is visible to later statements
      if (a) {
        const shift = u.start - Buffer.byteLength(prefix, 'utf8');
        parts.push({ ...a, scans: a.scans.map((sc) => ({ ...sc, ...(sc.start !== undefined ? { start: sc.start + shift, end: sc.end! + shift } : {}) })) });
      }
    }
    if (checked.size !== setOps.length) throw new BigQueryError('invalidQuery', 'bqgate could not verify a set operation by name in this script, so it was not run.', { location: 'q' });
    return combineUnits(parts, input.sql);
  }

  private async registerCatalog(entries: Array<{ segments: string[]; full: string }>, infos: Map<string, TableInfo>, lo: any, constants: Array<{ name: string; type: TypeProto }>, builtins: string[], routines?: RoutineState, tvfs?: TvfPlan): Promise<string> {
    const gen = this.server.generation;
    const key = createHash('sha256').update(JSON.stringify([entries.map((e) => [e.segments, e.full, infos.get(e.full)!.schema]), constants, builtins, catalogKey(routines), tvfs?.key ?? null])).digest('hex');
    const hit = this.catalogs.get(key);
    if (hit && hit.generation === gen) return hit.id;
    const root: any = {
      name: 'bqgate', table: [], catalog: [], builtinFunctionOptions: { languageOptions: lo, excludeFunctionIds: replacedBuiltins(builtins) },
      // Script variables: named constants (NULL-valued; only their types matter), shadowed by columns as in BigQuery.
      constant: constants.map((c) => ({ namePath: [c.name], type: c.type, value: {} })),
    };
    let serial = 1;
    for (const e of entries) {
      let cat = root;
      for (const part of e.segments.slice(0, -1)) {
        let sub = cat.catalog.find((c: any) => c.name === part);
        if (!sub) { sub = { name: part, table: [], catalog: [] }; cat.catalog.push(sub); }
        cat = sub;
      }
      const name = e.segments[e.segments.length - 1];
      if (cat.table.some((t: any) => t.name === name)) continue;
      const columns = infos.get(e.full)!.schema.map((f) => ({ name: f.name, type: fieldType(f) }));
      if (e.full.endsWith('*')) columns.push({ name: SUFFIX_COLUMN, type: { typeKind: 'TYPE_STRING' }, isPseudoColumn: true } as never);
      cat.table.push({ name, fullName: e.full, serializationId: String(serial++), column: columns });
    }
    addBigQueryBuiltins(root, builtins);
    if (routines) addToCatalog(root, routines);
    tvfs?.extend(root);
    let r: { registeredId: string };
    try {
      r = await this.server.call('registerCatalog', { simpleCatalog: root });
    } catch (err) {
      if (err instanceof BigQueryError) throw err;
      throw new BigQueryError('invalidQuery', `bqgate could not build the catalog for this statement, so it was not run: ${(err as { details?: string }).details ?? (err as Error).message}`, { location: 'q' });
    }
    if (this.catalogs.size > 500) {
      const [oldKey, old] = this.catalogs.entries().next().value as [string, { id: string; generation: number }];
      this.catalogs.delete(oldKey);
      if (old.generation === gen) this.server.call('unregisterCatalog', { registeredId: old.id }).catch(() => {});
    }
    this.catalogs.set(key, { id: r.registeredId, generation: gen });
    return r.registeredId;
  }
}

function analysisError(err: unknown, _sql: string): BigQueryError {
  if (err instanceof BigQueryError) return err;
  const details = setOperationMessage(String((err as { details?: string }).details ?? (err as Error).message ?? 'unknown error'));
  if (/Statement not supported/i.test(details)) {
    return new BigQueryError('invalidQuery', `bqgate cannot analyze this statement kind yet, so it was not run: ${details}`, { location: 'q' });
  }
  // A construct inside a statement the analyzer does not implement (e.g. "Subscript access … is not supported").
  if (/\bis not supported\b|\bnot implemented\b/i.test(details)) {
    return new BigQueryError('invalidQuery', `bqgate's SQL analyzer does not support a construct in this statement yet, so it was not run: ${details}`, { location: 'q' });
  }
  if (/Syntax error/i.test(details)) return new BigQueryError('invalidQuery', details, { location: 'q' });
  return new BigQueryError('invalidQuery', `bqgate could not analyze the query, so it was not run: ${details}`, { location: 'q' });
}

/** The statement's analysis with the models its routine bodies read (a SQL TVF whose body calls ML.PREDICT reads that model). */
function withBodyModels(a: QueryAnalysis, bodies: QueryAnalysis[]): QueryAnalysis {
  // In place: routines.ts keys what it learnt of the statement by this object.
  if (!bodies.some((b) => b.modelsRead.length)) return a;
  a.modelsRead = [...new Set([...a.modelsRead, ...bodies.flatMap((b) => b.modelsRead)])].sort();
  a.models = Object.assign({}, ...bodies.map((b) => b.models), a.models);
  return a;
}

/** The union of a script's unit analyses (positions already in the whole text). */
function combineUnits(parts: QueryAnalysis[], sql: string): QueryAnalysis {
  const uniq = <T>(xs: T[], key: (x: T) => string) => [...new Map(xs.map((x) => [key(x), x])).values()];
  const col = (c: ColumnRef) => `${c.table}\u0000${c.column}`;
  const last = parts.at(-1);
  const byClause: QueryAnalysis['columnsByClause'] = {};
  for (const p of parts) for (const [k, v] of Object.entries(p.columnsByClause)) byClause[k as Clause] = uniq([...(byClause[k as Clause] ?? []), ...v!], col);
  return {
    statementKind: 'SCRIPT',
    tablesRead: [...new Set(parts.flatMap((p) => p.tablesRead))].sort(),
    tablesWritten: [...new Set(parts.flatMap((p) => p.tablesWritten))].sort(),
    columnsRead: uniq(parts.flatMap((p) => p.columnsRead), col).sort((a, b) => col(a).localeCompare(col(b))),
    columnsUsed: uniq(parts.flatMap((p) => p.columnsUsed), col).sort((a, b) => col(a).localeCompare(col(b))),
    fieldsRead: uniq(parts.flatMap((p) => p.fieldsRead), (f) => `${col(f)}\u0000${f.path.join('.')}`),
    scans: parts.flatMap((p) => p.scans),
    outputColumns: last?.statementKind === 'SELECT' ? last.outputColumns : [],
    outputTypes: last?.statementKind === 'SELECT' ? last.outputTypes : [],
    lineage: last?.statementKind === 'SELECT' ? last.lineage : [],
    columnsByClause: byClause,
    functions: [...new Set(parts.flatMap((p) => p.functions))].sort(),
    flags: {
      dynamicSql: parts.some((p) => p.flags.dynamicSql),
      ...(parts.find((p) => p.flags.exportUri) ? { exportUri: parts.find((p) => p.flags.exportUri)!.flags.exportUri } : {}),
      ...(parts.some((p) => p.flags.loadUris) ? { loadUris: parts.flatMap((p) => p.flags.loadUris ?? []) } : {}),
      ...(parts.some((p) => p.flags.exportUris) ? { exportUris: parts.flatMap((p) => p.flags.exportUris ?? []) } : {}),
      temporary: parts.some((p) => p.flags.temporary),
      systemVariables: [...new Set(parts.flatMap((p) => p.flags.systemVariables))].sort(),
      timeTravel: parts.some((p) => p.flags.timeTravel),
      userFunctions: [...new Set(parts.flatMap((p) => p.flags.userFunctions))].sort(),
      ...(parts.some((p) => p.flags.routines) ? { routines: [...new Map(parts.flatMap((p) => p.flags.routines ?? []).map((r) => [r.name, r])).values()] } : {}),
      ...(parts.some((p) => p.flags.externalConnections) ? { externalConnections: [...new Set(parts.flatMap((p) => p.flags.externalConnections ?? []))].sort() } : {}),
    },
    tables: Object.assign({}, ...parts.map((p) => p.tables)),
    wildcards: Object.assign({}, ...parts.map((p) => p.wildcards)),
    modelsRead: [...new Set(parts.flatMap((p) => p.modelsRead))].sort(),
    models: Object.assign({}, ...parts.map((p) => p.models)),
    views: {},
    effectiveSql: sql,
    fingerprint: createHash('sha256').update(parts.map((p) => p.fingerprint).join('\n')).digest('hex'),
    structureFingerprint: createHash('sha256').update(parts.map((p) => p.structureFingerprint).join('\n')).digest('hex'),
    units: parts,
  };
}

/** Resolved-AST fields holding source text as written (see QueryAnalysis.structureFingerprint). */
const TEXT_FIELDS = new Set(['sql', 'code', 'procedureBody', 'predicateStr']);

/** See QueryAnalysis.fingerprint; `without`: string fields left out as well. */
function resolvedFingerprint(resolved: unknown, without?: Set<string>): string {
  const h = createHash('sha256');
  h.update(JSON.stringify(resolved, (k, v) => (/parseLocation/i.test(k) || (without?.has(k) && typeof v === 'string') ? undefined : v)));
  return h.digest('hex');
}
