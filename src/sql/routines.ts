/**
 * Routines the statement does not define: persistent UDFs, table functions and procedures
 * (`routines.get`, BigQuery REST reference, Routine:
 * https://cloud.google.com/bigquery/docs/reference/rest/v2/routines#Routine) and temp functions
 * declared earlier in the same script.
 *
 * When analysis fails with `Function not found` / `Table-valued function not found` / `Procedure
 * not found` for a name of two or more parts (`dataset.routine`, `project.dataset.routine`), the
 * routine is fetched (TableSource.getRoutine), registered in the catalog at the spelled path
 * (one nested catalog per segment) and the statement analyzed again:
 * - SQL scalar / aggregate functions as FunctionProto (ANY TYPE arguments as a templated SQL function,
 *   whose body ZetaSQL resolves per call); JavaScript, Python and remote functions with their fixed
 *   signature, flagged (`flags.routines`) for policy.
 * - table functions as FIXED_OUTPUT_SCHEMA_TVF (RETURNS TABLE, or the body query's columns).
 * - procedures as ProcedureProto with a typed (never VOID, which kills the server) return.
 *
 * Bodies are analyzed (their arguments as named constants), and what they read joins the
 * statement's analysis: each call carries the body's table columns as positionless scans, so
 * `tablesRead` / `columnsRead` include them, a result column computed by a UDF call derives from
 * the call's arguments and the body's columns, a TVF's output columns derive from the body query's
 * columns, and CALL reads and writes what its body (a script) does. Those scans have no place in
 * the statement text: the rewrite cannot mask them, so a body reading a governed table is refused
 * (splice.ts names the routine), never sent to read raw values.
 *
 * Errors: BigQueryError('invalidQuery') for a routine bqgate cannot analyze (a body that does not
 * resolve, an unknown argument type, routines nested more than 8 deep).
 */
import { projectOf, writtenParts } from '../bigquery/table-path.js';
import { BigQueryError } from '../bigquery/errors.js';
import type { AnalyzeInput, QueryAnalysis, RoutineInfo, StandardSqlDataType, TableInfo, TableSource } from './index.js';
import { qualifyObject } from './names.js';
import { typeToField, type TypeProto } from './types.js';

/** A routine as registered: RoutineInfo with ZetaSQL types (or a temp function from the script). */
export interface RoutineDef {
  fullName: string;
  routineType: RoutineInfo['routineType'];
  language: string;
  /** Arguments; `type` absent for ANY TYPE; `table`: a table function's table parameter (its columns). */
  args: Array<{ name: string; type?: TypeProto; mode?: string; table?: Array<{ name: string; type: TypeProto }> }>;
  returnType?: TypeProto;
  /** Table functions: the output columns. */
  columns?: Array<{ name: string; type: TypeProto }>;
  body: string;
  remote?: { endpoint?: string; connection?: string };
  /** Declared by CREATE TEMP FUNCTION earlier in the script (its body's scans are in the script text). */
  scriptLocal?: boolean;
}

/** What one statement's analysis registered. */
export interface RoutineState {
  /** By spelled path (segments joined by NUL). */
  spelled: Map<string, { segments: string[]; def: RoutineDef; kind: Kind; body?: QueryAnalysis }>;
  /** Resolved-AST name (`bqgate:shop.f`, `shop.tvf`, …) → spelled key. */
  byResolvedName: Map<string, string>;
}

type Kind = 'function' | 'tvf' | 'procedure';

export const newRoutineState = (): RoutineState => ({ spelled: new Map(), byResolvedName: new Map() });

/** Analyzes a routine body (the Analyzer's own analysis, sharing the statement's fetched schemas). */
export type BodyAnalyzer = (input: AnalyzeInput) => Promise<QueryAnalysis>;

const MAX_DEPTH = 8;
/** Body analyses one statement may cost in all (nested bodies included): fan-out times depth is bounded. */
const MAX_BODIES = 64;
/** The budget of a top-level statement, by its input (not written into the caller's object). */
const roots = new WeakMap<AnalyzeInput, NonNullable<AnalyzeInput['routineNesting']>>();

/** Routine definitions fetched while analyzing, by the statement's `fetched` map (for cache validity). */
const fetchedRoutines = new WeakMap<object, Map<string, RoutineInfo>>();
export function routinesFetched(fetched: Map<string, TableInfo>): Map<string, RoutineInfo> {
  return fetchedRoutines.get(fetched) ?? new Map();
}

/** Whether cached routine definitions are still the catalog's current ones. */
export async function routinesStillValid(fetched: Map<string, TableInfo>, source: TableSource): Promise<boolean> {
  for (const [full, info] of routinesFetched(fetched)) if ((await source.getRoutine?.(full).catch(() => undefined)) !== info) return false;
  return true;
}

/**
 * Crash triggers of this ZetaSQL build, refused before the catalog is registered: a table with a
 * name part starting with `$` (`` `$PROJECT.d.t` ``, `` d.`$t` ``) kills remote_server on Analyze
 * (corpus/COVERAGE-NOTES.md; corpus statement professional-services-00044); and a name whose first
 * segment is a builtin function namespace (refuseNamespaceCatalog).
 */
export function refuseCrashTriggers(names: string[][]): void {
  for (const segs of names) {
    refuseNamespaceCatalog(segs, 'table');
    if (segs.flatMap((s) => s.split('.')).some((p) => p.startsWith('$'))) {
      throw new BigQueryError('invalidQuery', `Table name "${segs.join('.')}" has a part starting with "$", which bqgate's SQL analyzer cannot read safely (BigQuery reserves $ for partition decorators; a "$PROJECT" placeholder was not filled in); the statement was not run.`, { location: 'q' });
    }
  }
}

/**
 * Builtin function namespaces of this build (GetBuiltinFunctions: AEAD.ENCRYPT, NET.HOST, …; KLL_QUANTILES
 * is listed but not loaded and does not collide). A catalog at the root named like one of them
 * (case-insensitively) — the dataset of `net.t` or `keys.f(x)` — kills remote_server when it is
 * registered, whatever the statement (measured: corpus statement bigquery-docs-00708, `aead.CustomerKeysets`).
 */
const BUILTIN_NAMESPACES = new Set(['aead', 'd3a_count', 'hll_count', 'keys', 'net']);

/** Throws invalidQuery when `segs` would register a root catalog named like a builtin namespace. */
export function refuseNamespaceCatalog(segs: string[], what: string): void {
  if (segs.length >= 2 && BUILTIN_NAMESPACES.has(segs[0].toLowerCase())) {
    throw new BigQueryError('invalidQuery', `The ${what} name ${segs.join('.')} starts with ${segs[0]}, which is also a GoogleSQL function namespace (${segs[0].toUpperCase()}.…) that bqgate's analyzer cannot hold beside a dataset of that name; write it with its project, as \`project.${segs.join('.')}\`. The statement was not run.`, { location: 'q' });
  }
}

/** The routine path a not-found error names: `[kind, segments]`, or undefined for any other error. */
export function missingRoutine(message: string): [Kind, string[]] | undefined {
  const m = message.match(/(Table-valued function|Function|Procedure) not found: ((?:`(?:[^`\\]|\\.)+`|[A-Za-z_][\w-]*)(?:\.(?:`(?:[^`\\]|\\.)+`|[A-Za-z_][\w-]*))*)/);
  if (!m) return undefined;
  const segs = [...m[2].matchAll(/`((?:[^`\\]|\\.)+)`|([A-Za-z_][\w-]*)/g)].map((x) => x[1] ?? x[2]);
  const kind: Kind = m[1] === 'Procedure' ? 'procedure' : m[1] === 'Function' ? 'function' : 'tvf';
  return [kind, segs];
}

/**
 * After a failed analysis: when `err` is a not-found error for a routine the catalog (or the script)
 * has, registers it in `state` and returns true (analyze again); false otherwise.
 */
export async function registerMissing(err: unknown, state: RoutineState, input: AnalyzeInput, source: TableSource, fetched: Map<string, TableInfo>, analyzeBody: BodyAnalyzer): Promise<boolean> {
  const miss = missingRoutine(String((err as Error).message ?? ''));
  if (!miss || state.spelled.size >= 32) return false;
  const [kind, segments] = miss;
  const key = segments.join('\u0000');
  if (state.spelled.has(key)) return false;
  const parts = writtenParts(segments);
  let def: RoutineDef | undefined;
  const local = parts.length === 1 ? input.scriptRoutines?.get(parts[0].toLowerCase()) : undefined;
  if (local) def = local;
  else {
    if (parts.length < 2 || parts.length > 3 || !source.getRoutine) return false;
    const full = qualifyObject(segments, input);
    const info = await source.getRoutine(full).catch((e) => { if ((e as BigQueryError).reason === 'notFound') return undefined; throw e; });
    if (!info) return false;
    (fetchedRoutines.get(fetched) ?? fetchedRoutines.set(fetched, new Map()).get(fetched)!).set(full, info);
    def = fromInfo(info);
  }
  const want: Kind = def.routineType === 'PROCEDURE' ? 'procedure' : def.routineType === 'TABLE_VALUED_FUNCTION' ? 'tvf' : 'function';
  if (want !== kind) {
    throw new BigQueryError('invalidQuery', `${def.fullName} is a ${def.routineType.toLowerCase().replace(/_/g, ' ')}, not a ${kind === 'tvf' ? 'table function' : kind}; the statement was not run.`, { location: 'q' });
  }
  const entry: RoutineState['spelled'] extends Map<string, infer V> ? V : never = { segments, def, kind };
  if (def.language === 'SQL' && def.args.every((a) => a.type || a.table) && (kind === 'tvf' || kind === 'function')) {
    // Fixed arguments: the body is analyzed once, here (it also gives a missing return type / columns).
    entry.body = await bodyAnalysis(def, def.args.map((a) => a.type!), input, analyzeBody);
    if (kind === 'function' && !def.returnType) def = { ...def, returnType: entry.body.outputTypes[0] };
    if (kind === 'tvf' && !def.columns) def = { ...def, columns: entry.body.outputColumns.map((name, i) => ({ name, type: entry.body!.outputTypes[i] })) };
    entry.def = def;
  }
  if (kind === 'tvf' && !def.columns) throw new BigQueryError('invalidQuery', `Table function ${def.fullName} has ANY TYPE or table arguments and no RETURNS TABLE; bqgate cannot analyze it yet, so the statement was not run.`, { location: 'q' });
  state.spelled.set(key, entry);
  state.byResolvedName.set(resolvedName(entry), key);
  return true;
}

const templated = (d: RoutineDef) => d.language === 'SQL' && d.args.some((a) => !a.type && !a.table);

/**
 * The table parameter of `def` that a body's `table` is: a persistent table function's body reads
 * its table parameter `t` as the script table `_SESSION.t` (bodyAnalysis; a persistent routine sees
 * no script tables of its caller). Undefined for any other table.
 */
function tableParameter(def: RoutineDef, table: string): number | undefined {
  if (def.scriptLocal || !table.startsWith('_SESSION.')) return undefined;
  const i = def.args.findIndex((a) => a.table && a.name.toLowerCase() === table.slice(9).toLowerCase());
  return i < 0 ? undefined : i;
}
const resolvedName = (e: { segments: string[]; def: RoutineDef; kind: Kind }) =>
  e.kind === 'function' ? `${templated(e.def) ? 'Templated_SQL_Function' : 'bqgate'}:${e.segments.join('.')}` : e.segments.join('.');

/** The body's analysis with the arguments as named constants of `types`. */
async function bodyAnalysis(def: RoutineDef, types: TypeProto[], input: AnalyzeInput, analyzeBody: BodyAnalyzer): Promise<QueryAnalysis> {
  // Carried in body inputs (copied by view inlining and script units), so no path through a body resets it.
  const parent = input.routineNesting ?? roots.get(input) ?? roots.set(input, { depth: 0, budget: { left: MAX_BODIES } }).get(input)!;
  const depth = parent.depth + 1;
  if (depth > MAX_DEPTH) throw new BigQueryError('invalidQuery', `Routines nested more than ${MAX_DEPTH} deep (at ${def.fullName}) are not supported by bqgate; the statement was not run.`, { location: 'q' });
  if (parent.budget.left-- <= 0) throw new BigQueryError('invalidQuery', `The statement calls routines whose bodies need more than ${MAX_BODIES} analyses (at ${def.fullName}); bqgate does not analyze that much for one statement, so it was not run.`, { location: 'q' });
  const project = def.scriptLocal ? input.projectId : projectOf(def.fullName);
  const scriptVars = def.scriptLocal ? (input.routineNesting ? input.routineNesting.scriptVariables : input.scriptVariables) ?? [] : [];
  // An aggregate body aggregates over the call's group: one row stands for it.
  const sql = def.routineType === 'TABLE_VALUED_FUNCTION' || def.routineType === 'PROCEDURE' ? def.body
    : `SELECT (${def.body}) AS v${def.routineType === 'AGGREGATE_FUNCTION' ? ' FROM (SELECT 1 AS bqgate_row)' : ''}`;
  const body: AnalyzeInput = {
    sql, projectId: project,
    ...(def.scriptLocal ? { defaultDataset: input.defaultDataset, scriptTables: input.scriptTables, scriptRoutines: input.scriptRoutines } : {}),
    // A table parameter is a table of the body: `FROM t` reads it (https://cloud.google.com/bigquery/docs/table-functions#table_parameters).
    ...(def.args.some((a) => a.table) ? { scriptTables: new Map(def.args.filter((a) => a.table).map((a) => [a.name.toLowerCase(), { fullName: `_SESSION.${a.name}`, schema: a.table!.map((c) => typeToField(c.name, c.type)) }])) } : {}),
    // A body sees its own arguments (shadowing a script variable of the same name) and, for a temp
    // function, the script's variables — never the arguments of the routine that calls it.
    scriptVariables: [...scriptVars.filter((v) => !def.args.some((a) => a.name.toLowerCase() === v.name.toLowerCase())), ...def.args.flatMap((a, i) => (a.table ? [] : [{ name: a.name, type: types[i] }]))],
    routineNesting: { depth, budget: parent.budget, scriptVariables: scriptVars },
  };
  try {
    return await analyzeBody(body);
  } catch (err) {
    const why = (err as Error).message;
    if (why.startsWith('bqgate could not analyze the body of ') || /nested more than|need more than/.test(why)) throw err; // the innermost routine says why
    throw new BigQueryError((err as BigQueryError).reason === 'backendError' ? 'backendError' : 'invalidQuery', `bqgate could not analyze the body of ${def.fullName}, so the statement was not run: ${why}`, { location: 'q' });
  }
}

/** Catalog entries for `state`, added into the catalog proto `root` (nested catalogs per segment). */
export function addToCatalog(root: any, state: RoutineState): void {
  for (const e of state.spelled.values()) {
    refuseNamespaceCatalog(e.segments, e.kind === 'procedure' ? 'procedure' : 'function');
    let cat = root;
    for (const part of e.segments.slice(0, -1)) {
      cat.catalog ??= [];
      let sub = cat.catalog.find((c: any) => c.name === part);
      if (!sub) { sub = { name: part, table: [], catalog: [] }; cat.catalog.push(sub); }
      cat = sub;
    }
    const d = e.def;
    const arg = (a: RoutineDef['args'][number]) => (a.table
      // A table argument may have more columns than the parameter's, in any order (table-functions#table_parameters).
      ? { kind: 'ARG_TYPE_RELATION', numOccurrences: 1, options: { argumentName: a.name, relationInputSchema: { column: a.table }, extraRelationInputColumnsAllowed: true } }
      : a.type
      ? { kind: 'ARG_TYPE_FIXED', type: a.type, numOccurrences: 1, options: { argumentName: a.name, ...(a.mode && a.mode !== 'IN' ? { procedureArgumentMode: a.mode } : {}) } }
      : { kind: 'ARG_TYPE_ARBITRARY', numOccurrences: 1, options: { argumentName: a.name } });
    const fixed = (t: TypeProto) => ({ kind: 'ARG_TYPE_FIXED', type: t, numOccurrences: 1 });
    if (e.kind === 'function') {
      const t = templated(d);
      if (!t && !d.returnType) throw new BigQueryError('invalidQuery', `Function ${d.fullName} (${d.language}) has no return type; bqgate cannot analyze calls to it, so the statement was not run.`, { location: 'q' });
      (cat.customFunction ??= []).push({
        namePath: e.segments, group: t ? 'Templated_SQL_Function' : 'bqgate', mode: d.routineType === 'AGGREGATE_FUNCTION' ? 'AGGREGATE' : 'SCALAR',
        signature: [{ argument: d.args.map(arg), returnType: d.returnType ? fixed(d.returnType) : { kind: 'ARG_TYPE_ARBITRARY', numOccurrences: 1 }, contextId: '0' }],
        ...(t ? { parseResumeLocation: { input: d.body, bytePosition: 0 }, templatedSqlFunctionArgumentName: d.args.map((a) => a.name) } : {}),
      });
    } else if (e.kind === 'tvf') {
      (cat.customTvf ??= []).push({
        namePath: e.segments, type: 'FIXED_OUTPUT_SCHEMA_TVF',
        signature: { argument: d.args.map(arg), returnType: { kind: 'ARG_TYPE_RELATION', options: { relationInputSchema: { column: d.columns!.map((c) => ({ name: c.name, type: c.type })) } } }, contextId: '0' },
      });
    } else {
      // Never VOID: a VOID procedure kills remote_server on CALL.
      (cat.procedure ??= []).push({ namePath: e.segments, signature: { argument: d.args.map(arg), returnType: fixed({ typeKind: 'TYPE_BOOL' }), contextId: '0' } });
    }
  }
}

/** Stable key of what `state` registers (for the catalog cache). */
export const catalogKey = (state: RoutineState | undefined) => (state ? [...state.spelled.values()].map((e) => [e.segments, e.kind, e.def]) : []);

/**
 * Attaches to each routine call in `resolved` what its body reads (see the module comment):
 * positionless scans of the body's columns and, for lineage, references to them (scalar calls) or
 * derivation edges per output column (TVF scans). For CALL, the body is analyzed as a script.
 * Returns the bodies' analyses (for `finish`).
 */
export async function expandCalls(resolved: any, state: RoutineState, input: AnalyzeInput, analyzeBody: BodyAnalyzer): Promise<Bodies> {
  const bodies: Bodies = { procedures: [], all: [] };
  if (!state.spelled.size) return bodies;
  let next = 2_000_000_000;
  const ids = new Map<string, number>();
  const idOf = (t: string, c: string) => { const k = `${t}\u0000${c}`; if (!ids.has(k)) ids.set(k, next++); return ids.get(k)!; };
  const ref = (t: string, c: string) => ({ resolvedColumnRefNode: { column: { columnId: String(idOf(t, c)), name: c }, isCorrelated: false } });
  const scansOf = (b: QueryAnalysis, def: RoutineDef) => {
    // A table parameter is no table: its columns are the call's relation argument's (the TVF edges below).
    const byTable = new Map<string, string[]>(b.tablesRead.filter((t) => tableParameter(def, t) === undefined).map((t) => [t, []]));
    for (const c of b.columnsRead) if (tableParameter(def, c.table) === undefined) (byTable.get(c.table) ?? byTable.set(c.table, []).get(c.table)!).push(c.column);
    return [...byTable].map(([table, cols]) => ({
      resolvedTableScanNode: {
        parent: { columnList: cols.map((c) => ({ columnId: String(idOf(table, c)), name: c })) }, table: { name: table, fullName: table }, alias: '',
        bqgateRoutine: def.fullName, ...(def.scriptLocal && !templated(def) ? { bqgateScriptLocal: true } : {}),
      },
    }));
  };
  const work: Array<Promise<void>> = [];
  const visit = (o: any) => {
    if (Array.isArray(o)) { o.forEach(visit); return; }
    if (!o || typeof o !== 'object') return;
    for (const v of Object.values(o)) visit(v);
    const fname = o.function?.name ?? o.tvf?.name ?? o.procedure?.name;
    const key = typeof fname === 'string' ? state.byResolvedName.get(fname) : undefined;
    if (!key) return;
    const e = state.spelled.get(key)!;
    const d = e.def;
    if (d.language !== 'SQL' || d.remote) return; // no SQL body: the call sees only its (masked) arguments
    work.push((async () => {
      if (e.kind === 'procedure') {
        const b = await bodyAnalysis(d, d.args.map((a) => a.type ?? { typeKind: 'TYPE_STRING' }), input, analyzeBody);
        bodies.procedures.push(b);
        bodies.all.push(b);
        o.bqgateRoutine = { scans: scansOf(b, d), refs: [] };
        return;
      }
      const types: TypeProto[] = (o.signature?.argument ?? []).map((a: any) => a.type ?? a.scalarArgument?.type);
      const b = e.body ?? await bodyAnalysis(d, d.args.map((a, i) => a.type ?? types[i]), input, analyzeBody);
      bodies.all.push(b);
      if (e.kind === 'function') {
        o.bqgateRoutine = { scans: scansOf(b, d), refs: b.columnsRead.map((c) => ref(c.table, c.column)) };
        return;
      }
      // TVF scan: output column i derives from the body's output column (columnIndexList) and the arguments.
      // A relation argument's columns are reached through the body's reads of its table parameter, not all at once.
      const argRefs: any[] = [];
      const collect = (n: any) => { if (Array.isArray(n)) n.forEach(collect); else if (n && typeof n === 'object') { if (n.resolvedColumnRefNode) argRefs.push({ resolvedColumnRefNode: n.resolvedColumnRefNode }); Object.values(n).forEach(collect); } };
      collect((o.argumentList ?? []).filter((a: any) => !a.scan));
      const cols = o.parent?.columnList ?? [];
      const colRef = (c: any) => ({ resolvedColumnRefNode: { column: { columnId: String(c.columnId), name: String(c.name) }, isCorrelated: false } });
      /**
       * The call's columns a body column derives from. A table parameter's column j is the relation
       * argument's column j: ZetaSQL gives the argument's columns in the parameter's order, matched
       * by name (argumentColumnList; they keep their own names, `full_name AS email` is full_name).
       * Any doubt: every column of the call's relation arguments.
       */
      const source = (s: { table: string; column: string }) => {
        const i = tableParameter(d, s.table);
        if (i === undefined) return [ref(s.table, s.column)];
        const given: any[] = o.argumentList?.[i]?.argumentColumnList ?? [];
        const j = d.args[i].table!.findIndex((c) => c.name.toLowerCase() === s.column.toLowerCase());
        const exact = given.length === d.args[i].table!.length && j >= 0 ? [given[j]] : undefined;
        return (exact ?? (o.argumentList ?? []).flatMap((a: any) => a.argumentColumnList ?? [])).map(colRef);
      };
      const edges = cols.map((c: any, i: number) => {
        const l = b.lineage[Number(o.columnIndexList?.[i] ?? i)];
        const deps = [...(l?.sources ?? []).flatMap(source), ...argRefs];
        return { column: { columnId: c.columnId }, expr: l?.direct && deps.length === 1 ? deps[0] : { bqgateDeps: deps } };
      });
      o.bqgateRoutine = { scans: scansOf(b, d), edges };
    })());
  };
  visit(resolved);
  await Promise.all(work);
  return bodies;
}

/** The analyses of the routine bodies a statement calls: procedures (CALL) and all of them. */
export interface Bodies { procedures: QueryAnalysis[]; all: QueryAnalysis[] }

/**
 * The statement's analysis with what its routines contribute beyond scans: the schemas of the
 * tables their bodies read (policy reads policy tags and masks from them), CALL's written tables
 * and flags from the procedure body; `flags.routines` (name, type, language, remote endpoint) for
 * every routine called; scans of temp-function bodies dropped (they are masked where the CREATE
 * TEMP FUNCTION statement reads them in the script text).
 */
export function finish(a: QueryAnalysis, state: RoutineState, bodies: Bodies, resolved: any): QueryAnalysis {
  const declared = declaredFunction(resolved, a.statementKind);
  if (declared) declarations.set(a, declared);
  if (!state.spelled.size) return a;
  const routines = [...new Map([...state.spelled.values()].map((e) => [e.def.fullName, {
    name: e.def.fullName, routineType: e.def.routineType, language: e.def.remote ? 'REMOTE' : e.def.language,
    ...(e.def.remote ? { remote: e.def.remote } : {}),
  }])).values()];
  const out: QueryAnalysis = {
    ...a,
    scans: a.scans.filter((s) => !s.scriptLocal),
    flags: { ...a.flags, routines },
    // The schemas of the tables bodies read: policy needs them (policy tags, masks of every column).
    // (A table function's table parameter is no table: not among them.)
    tables: Object.assign({}, ...bodies.all.map((b) => Object.fromEntries(Object.entries(b.tables).filter(([t]) => ![...state.spelled.values()].some((e) => tableParameter(e.def, t) !== undefined)))), a.tables),
    views: Object.assign({}, ...bodies.all.map((b) => b.views), a.views),
  };
  for (const p of bodies.procedures) {
    out.tablesWritten = [...new Set([...out.tablesWritten, ...p.tablesWritten])].sort();
    out.flags = {
      ...out.flags,
      dynamicSql: out.flags.dynamicSql || p.flags.dynamicSql,
      temporary: out.flags.temporary || p.flags.temporary,
      systemVariables: [...new Set([...out.flags.systemVariables, ...p.flags.systemVariables])].sort(),
      ...(p.flags.exportUri ? { exportUri: p.flags.exportUri } : {}),
      ...(p.flags.loadUris ? { loadUris: [...(out.flags.loadUris ?? []), ...p.flags.loadUris] } : {}),
      ...(p.flags.exportUris ? { exportUris: [...(out.flags.exportUris ?? []), ...p.flags.exportUris] } : {}),
      routines: [...new Map([...routines, ...(p.flags.routines ?? [])].map((r) => [r.name, r])).values()],
    };
    out.functions = [...new Set([...out.functions, ...p.functions])].sort();
  }
  return out;
}

const declarations = new WeakMap<QueryAnalysis, RoutineDef>();

/** The temp function a script statement's analysis declares (CREATE TEMP FUNCTION), if any. */
export const declaredBy = (a: QueryAnalysis): RoutineDef | undefined => declarations.get(a);

/** A temp function a script statement declared (CREATE TEMP FUNCTION), from its resolved AST. */
function declaredFunction(resolved: any, kind: string): RoutineDef | undefined {
  if (kind !== 'CREATE_FUNCTION') return undefined;
  const find = (o: any, d = 0): any => (!o || typeof o !== 'object' || d > 4 ? undefined : o.resolvedCreateFunctionStmtNode ?? Object.values(o).map((v) => find(v, d + 1)).find(Boolean));
  const n = find(resolved);
  const scope = (o: any, d = 0): string | undefined => (!o || d > 4 ? undefined : o.createScope ?? scope(o.parent, d + 1));
  const base = (o: any, d = 0): any => (!o || d > 4 ? undefined : o.namePath ? o : base(o.parent, d + 1));
  if (!n || scope(n) !== 'CREATE_TEMP') return undefined;
  const names: string[] = n.argumentNameList ?? [];
  const sig = n.signature ?? {};
  const name = (base(n)?.namePath ?? []).join('.');
  return {
    fullName: name, routineType: n.isAggregate ? 'AGGREGATE_FUNCTION' : 'SCALAR_FUNCTION', language: String(n.language || 'SQL').toUpperCase() === 'JS' ? 'JAVASCRIPT' : String(n.language || 'SQL').toUpperCase(),
    args: names.map((a, i) => ({ name: a, ...(sig.argument?.[i]?.kind === 'ARG_TYPE_FIXED' ? { type: sig.argument[i].type } : {}) })),
    ...(sig.returnType?.kind === 'ARG_TYPE_FIXED' ? { returnType: sig.returnType.type } : {}),
    body: String(n.code ?? ''), scriptLocal: true,
  };
}

/** RoutineInfo (REST types) → RoutineDef (ZetaSQL types). Throws invalidQuery for an unknown type kind. */
function fromInfo(r: RoutineInfo): RoutineDef {
  const remote = r.remoteFunctionOptions && (r.remoteFunctionOptions.endpoint || r.remoteFunctionOptions.connection) ? r.remoteFunctionOptions : undefined;
  return {
    fullName: r.fullName, routineType: r.routineType, language: r.language ?? (remote ? 'REMOTE' : 'SQL'),
    args: r.arguments.map((a, i) => {
      const name = a.name ?? `arg${i}`;
      if (a.argumentKind === 'ANY_TABLE' || (a.argumentKind === 'FIXED_TABLE' && !a.tableType)) {
        throw new BigQueryError('invalidQuery', `Table function ${r.fullName} takes ${name} as ANY TABLE; bqgate cannot compute what its body reads from such an argument, so the statement was not run.`, { location: 'q' });
      }
      if (a.argumentKind === 'FIXED_TABLE') return { name, table: a.tableType!.columns.map((c) => ({ name: c.name, type: typeProto(c.type, r.fullName) })) };
      return {
        name, ...(a.mode ? { mode: a.mode } : {}),
        ...(a.argumentKind === 'ANY_TYPE' || !a.dataType || a.dataType.typeKind === 'ANY_TYPE' ? {} : { type: typeProto(a.dataType, r.fullName) }),
      };
    }),
    ...(r.returnType ? { returnType: typeProto(r.returnType, r.fullName) } : {}),
    ...(r.returnTableType ? { columns: r.returnTableType.columns.map((c) => ({ name: c.name, type: typeProto(c.type, r.fullName) })) } : {}),
    body: r.definitionBody ?? '',
    ...(remote ? { remote } : {}),
  };
}

const KINDS: Record<string, string> = {
  INT64: 'TYPE_INT64', FLOAT64: 'TYPE_DOUBLE', NUMERIC: 'TYPE_NUMERIC', BIGNUMERIC: 'TYPE_BIGNUMERIC', BOOL: 'TYPE_BOOL',
  STRING: 'TYPE_STRING', BYTES: 'TYPE_BYTES', DATE: 'TYPE_DATE', DATETIME: 'TYPE_DATETIME', TIME: 'TYPE_TIME',
  TIMESTAMP: 'TYPE_TIMESTAMP', GEOGRAPHY: 'TYPE_GEOGRAPHY', JSON: 'TYPE_JSON', INTERVAL: 'TYPE_INTERVAL',
};

/** A REST StandardSqlDataType as a ZetaSQL TypeProto (https://cloud.google.com/bigquery/docs/reference/rest/v2/StandardSqlDataType). */
export function typeProto(t: StandardSqlDataType, routine: string): TypeProto {
  if (t.typeKind === 'ARRAY' && t.arrayElementType) return { typeKind: 'TYPE_ARRAY', arrayType: { elementType: typeProto(t.arrayElementType, routine) } };
  if (t.typeKind === 'STRUCT') return { typeKind: 'TYPE_STRUCT', structType: { field: (t.structType?.fields ?? []).map((f) => ({ fieldName: f.name ?? '', fieldType: typeProto(f.type, routine) })) } };
  if (t.typeKind === 'RANGE' && t.rangeElementType) return { typeKind: 'TYPE_RANGE', rangeType: { elementType: typeProto(t.rangeElementType, routine) } } as TypeProto;
  const k = KINDS[t.typeKind];
  if (!k) throw new BigQueryError('invalidQuery', `Routine ${routine} uses the type ${t.typeKind}, which bqgate cannot declare to its analyzer; the statement was not run.`, { location: 'q' });
  return { typeKind: k };
}
