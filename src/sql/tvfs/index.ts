/**
 * `sql/tvfs/`: BigQuery's built-in TVFs and functions this ZetaSQL build lacks (bigquery-tvfs.yaml:
 * ML.*, AI.*, OBJ.*, VECTOR_SEARCH, GAP_FILL, APPENDS, CHANGES, RANGE_SESSIONIZE, EXTERNAL_QUERY),
 * registered per statement, plus the models those calls name (models.get, as SimpleModelProto).
 *
 * A TVF whose output forwards its input (ML.PREDICT: `predicted_<label>` + every input column) is
 * registered as FIXED_OUTPUT_SCHEMA_TVF with the output computed for this statement: each relation
 * argument (`TABLE t` or a query) is analyzed first for its columns. (FORWARD_INPUT_SCHEMA TVFs with a
 * MODEL argument fail a RET_CHECK or kill remote_server; a REQUIRED argument without
 * `num_occurrences` kills it too, so every required argument carries one.) Every call of one TVF in a
 * statement must then have the same output schema, or the statement is refused.
 *
 * Lineage (`TvfPlan.lineage`, read by sql/lineage.ts): a pass-through column copies its input column;
 * a computed column derives from every input column the function reads (for `reads: features`, the
 * model's feature columns present in the input; when unknown, every input column); an EXTERNAL_QUERY
 * column derives from `EXTERNAL_QUERY:<connection>` (the other database), and the connection is
 * reported (`externalConnections`) for the policy (`external_connections` rules).
 *
 * An EXTERNAL_QUERY on a connection the caller's policy allows (AnalyzeInput.externalConnectionAllowed)
 * gets its columns from the upstream (TableSource.externalSchema: a dry run of `SELECT * FROM
 * EXTERNAL_QUERY(…)`, exact names and types); on any other connection they are read off the inner
 * select list, and one that does not list them (`SELECT *`, SQL that is not GoogleSQL) is refused
 * before anything is sent.
 *
 * Files: spec.ts (the data file), calls.ts (calls in the parse tree), protos.ts (catalog protos),
 * external.ts (EXTERNAL_QUERY's columns), lineage.ts (edges of a resolved TVF scan).
 *
 * Errors: BigQueryError('invalidQuery') for a call that does not fit its documented arguments, an
 * output that cannot be computed exactly (a model without label columns, a TVF marked `refuse`),
 * `accessDenied` for an EXTERNAL_QUERY the upstream would have to describe on a connection the caller
 * may not use, `notFound` for a missing model. Nothing is guessed.
 */
import { BigQueryError } from '../../bigquery/errors.js';
import type { AnalyzeInput, ModelInfo, QueryAnalysis, StandardSqlDataType, TableSource } from '../index.js';
import type { ZetaSqlService } from '../zetasql.js';
import { qualify } from '../names.js';
import { fieldType, type TypeProto } from '../types.js';
import { bindCall, constant, nodesUnder, pathOf, queryRange, structOptions, tablePathRange, tvfNodes, type TvfCall } from './calls.js';
import { parseColumns, parseType, specs, type TvfSpec } from './spec.js';
import { externalColumns } from './external.js';
import { functionProto, schemaOf, tvfProto } from './protos.js';
import { templatedProto } from './templated.js';
import { aliasName, applyEdits, restoreMessage, restoreNames, spellAlias, type AliasEdit } from './aliases.js';
import { recommendedColumns } from './recommend.js';
import { trialColumns } from './trial-info.js';
import { confusionColumns } from './confusion.js';

export interface Column { name: string; type: TypeProto }

/** How one TVF output column derives from the call's inputs (positions are relation arguments in signature order). */
export type ColumnHint =
  | { copy: { relation: number; column: string; index: number } }
  | { from: Array<{ relation: number; column: string; index: number }>; scalars: boolean; model?: { name: string; columns: string[] } }
  | { external: string }
  /** A value of the model's training data (ML.RECOMMEND's user / item without an input column): a copy of the model's column. */
  | { model: string; column: string }
  /**
   * Calls of one TVF in a statement that share an output schema but not their hints (two models with
   * the same label, other features): the column derives from what any of them says (`everything`: every
   * input column and scalar argument), as lineage.ts cannot tell the calls' scans apart by schema.
   */
  | { union: Array<ColumnHint | 'everything'> };

/** Per TVF output schema (`lineageKey`) → output column name → hint. */
export type TvfLineage = Map<string, Map<string, ColumnHint>>;

/** The key lineage.ts uses to find a resolved TVF scan's hints: its name's last segment and output column names. */
export const lineageKey = (name: string, columns: string[]) => `${name.split('.').pop()!.toUpperCase()}(${columns.join(',')})`;

export interface TvfPlan {
  /** Part of the catalog cache key. */
  key: string;
  /** Adds the functions, TVFs and models to a SimpleCatalogProto root (before registerCatalog). */
  extend(root: any): void;
  lineage: TvfLineage;
  /** EXTERNAL_QUERY connection ids used. */
  externalConnections: string[];
  /** Models the calls name (`project.dataset.model`, from models.get) → their feature and label column names. */
  models: Record<string, string[]>;
  /**
   * Checks the resolved statement against the plan: every registered TVF's relation arguments must
   * have resolved to exactly the columns its output was computed from (a CTE may shadow a table name
   * the argument was analyzed under). Throws BigQueryError('invalidQuery') otherwise.
   */
  check(resolved: unknown): void;
  /**
   * The text the analyzer reads: the statement, or (a TVF called under aliases, aliases.ts) the same
   * bytes with the aliases spelled in, every parse location unchanged.
   */
  sql: string;
  /** After `check`: names each resolved scan of an alias back to its TVF, in place. */
  restore(resolved: unknown): void;
  /** An analyzer error message with the aliases spelled as their TVFs. */
  message(text: string): string;
}

export interface TvfContext {
  /** Columns of a relation: analyzes `sql` (a query) and returns its output columns. */
  relation(sql: string): Promise<Column[]>;
  /** `models.get` of a model as spelled (segments). */
  model(segments: string[]): Promise<ModelInfo>;
  /** Parses a statement (ZetaSQL parse tree), or undefined when it does not parse. */
  parse(sql: string): Promise<any | undefined>;
  /**
   * The columns of `SELECT * FROM EXTERNAL_QUERY(connection, query)` from the upstream (a dry run),
   * for a connection the caller's policy allows; BigQueryError('accessDenied') for any other, before
   * anything is sent.
   */
  external(connection: string, query: string, options?: string): Promise<Column[]>;
  /** Whether `external` may ask the upstream about `connection` (the caller's policy allows it). */
  externalAllowed(connection: string): boolean;
}

/**
 * The context index.ts gives planTvfs: relations analyzed by `analyze` (the Analyzer, same request),
 * models from `source.getModel` (models.get; notFound when the source has none), parses by `server`.
 */
export function tvfContext(server: ZetaSqlService, languageOptions: unknown, source: TableSource, input: AnalyzeInput, analyze: (sql: string) => Promise<QueryAnalysis>): TvfContext {
  return {
    relation: async (sql) => { const a = await analyze(sql); return a.outputColumns.map((name, i) => ({ name, type: a.outputTypes[i] })); },
    model: async (segments) => {
      const full = qualify(segments, input);
      if (!source.getModel) throw new BigQueryError('notFound', `Not found: Model ${full} (bqgate's catalog does not read models here); the statement was not run.`);
      // Named as the analysis and the policy name it (the full name as qualified here), whatever the source answers.
      return { ...(await source.getModel(full)), fullName: full };
    },
    parse: async (sql) => {
      try { return (await server.call('parse', { sqlStatement: sql, options: languageOptions })).parsedStatement; } catch { return undefined; }
    },
    externalAllowed: (connection) => !!source.externalSchema && input.externalConnectionAllowed?.(connection) === true,
    external: async (connection, query, options) => {
      if (!input.externalConnectionAllowed?.(connection) || !source.externalSchema) {
        throw new BigQueryError('accessDenied', `Access Denied: EXTERNAL_QUERY on connection ${connection}: bqgate learns the columns of an external query that does not list them (SELECT *) from the upstream, which it only asks for a connection a policy rule allows the caller to use (external_connections); list the columns with aliases, or have the connection allowed. The statement was not run.`);
      }
      return (await source.externalSchema(connection, query, input.projectId, options)).map((f) => ({ name: f.name, type: fieldType(f) }));
    },
  };
}

const MENTION = /\b(ML|AI|OBJ|VECTOR_INDEX)\s*\.|\b(VECTOR_SEARCH|GAP_FILL|APPENDS|CHANGES|RANGE_SESSIONIZE|TUMBLE|EXTERNAL_QUERY|EXTERNAL_OBJECT_TRANSFORM)\s*\(/i;

/** Catalog additions and lineage hints for `sql`, or undefined when it calls nothing from the table. */
export async function planTvfs(sql: string, ctx: TvfContext): Promise<TvfPlan | undefined> {
  if (!MENTION.test(sql)) return undefined;
  const { tvfs, functions } = specs();
  const tree = await ctx.parse(sql);
  const bytes = Buffer.from(sql, 'utf8');
  const text = (a: number, b: number) => bytes.subarray(a, b).toString('utf8');
  const ctes = tree ? leadingWith(tree, text) : [];
  const registered = new Map<string, { proto: any; key: string }>();
  const models = new Map<string, { segments: string[]; info: ModelInfo }>();
  const lineage: TvfLineage = new Map();
  const inputs = new Map<string, string>();
  const connections: string[] = [];
  /** Per TVF name: every call's inputs and computed output; `templated`: names registered as a template; `outputs`: each lineage key's computed columns. */
  const calls = new Map<string, Array<{ call: TvfCall; rels: Map<number, Column[]>; columns: Column[] }>>();
  const templated = new Set<string>();
  const outputs = new Map<string, string>();
  /** Call alias (upper case, full name) → the TVF's name; `edits`: where the analyzed text spells an alias. */
  const aliases = new Map<string, string>();
  const edits: AliasEdit[] = [];
  for (const node of tree ? tvfNodes(tree) : []) {
    const spec = tvfs.get(pathOf(node.name).join('.').toUpperCase());
    if (!spec) continue;
    if (spec.refuse) throw new BigQueryError('invalidQuery', `bqgate cannot analyze ${spec.name}: ${spec.refuse} (${spec.doc}); the statement was not run.`, { location: 'q' });
    const call = bindCall(node, spec);
    const rels = new Map<number, Column[]>();
    let model: ModelInfo | undefined;
    for (const a of call.args) {
      if (a.form === 'model') {
        model = await ctx.model(a.path!);
        models.set(a.path!.join('\u0000'), { segments: a.path!, info: model });
      } else if (a.form === 'table' || a.form === 'query') {
        const [s, e] = (a.form === 'table' ? tablePathRange(a) : queryRange(a)) ?? [0, 0];
        const inner: Piece[] = a.form === 'table' ? ['SELECT * FROM ', [s, e]] : [[s, e]];
        // A WITH name shadows a table of the same name (TABLE c, or a query reading c, reads the CTE c).
        const shadow = namedCtes(ctes, call.start, a.form === 'table' ? (a.path!.length === 1 ? [a.path![0]] : []) : words(text(s, e)));
        // An error inside the relation's text points into the statement (the caller repairs or rewrites what it names there).
        const run = (pieces: Piece[]) => { const x = assemble(sql, pieces, call.start); return ctx.relation(x.sql).catch((err) => { throw x.back(err); }); };
        const under = (prefix: Cte[]) => [...withPieces(prefix), ' SELECT * FROM (', ...inner, ')'];
        const cols = shadow ? await run(under(shadow)) : await run(inner).catch(async (err) => {
          const prefix = ctePrefix(ctes, err);
          if (!prefix) throw err;
          return run(under(prefix));
        });
        rels.set(a.position, cols);
      }
    }
    const out = spec.external ? await externalColumns(call, ctx) : outputOf(call, rels, model);
    if (spec.external) connections.push(String(constant(call.args[0].node)));
    const upper = spec.name.toUpperCase();
    let proto = tvfProto(call, rels, out.columns);
    let key = JSON.stringify(proto);
    // The name this call resolves under: the TVF's own, or a call alias (aliases.ts) when its output cannot share the registration.
    let as = upper;
    const prev = registered.get(upper);
    if (prev && prev.key !== key) {
      const seen = [...(calls.get(upper) ?? []), { call, rels, columns: out.columns }];
      // Calls over different inputs: one template ZetaSQL resolves per call (templated.ts); else (a MODEL
      // argument, other fixed columns) the call is registered under an alias of its own.
      const template = templatedProto(seen);
      if (template) { proto = template; key = JSON.stringify(proto); templated.add(upper); calls.set(upper, seen); }
      else {
        const alias = aliasName(sql, spec.name, aliases.size + 2);
        if (!alias || !spellAlias(sql, node, spec.name, alias, edits)) throw new BigQueryError('invalidQuery', `${spec.name} is called more than once in this statement with different arguments or inputs whose outputs bqgate cannot register together (one output schema per function and statement, or one template of the input's columns plus fixed columns). Split the statement. It was not run.`, { location: 'q' });
        as = alias.toUpperCase();
        aliases.set(as, spec.name);
        proto = { ...proto, namePath: alias.split('.') };
        key = JSON.stringify(proto);
      }
    } else calls.set(upper, [...(calls.get(upper) ?? []), { call, rels, columns: out.columns }]);
    registered.set(as, { proto, key });
    const lineageAt = lineageKey(spec.name, out.columns.map((c) => c.name));
    lineage.set(lineageAt, mergeHints(lineage.get(lineageAt), out.hints));
    outputs.set(lineageKey(as, out.columns.map((c) => c.name)), JSON.stringify(out.columns.map((c) => [c.name, c.type])));
    inputs.set(lineageKey(as, out.columns.map((c) => c.name)), JSON.stringify(call.args.filter((a) => rels.has(a.position)).map((a) => rels.get(a.position)!.map((c) => [c.name, c.type]))));
  }
  const fnProtos = [...functions.values()].map((f) => functionProto(f, tree ? schemaOf(f, tree) : undefined));
  const modelList = [...models.values()];
  return {
    // A function's per-statement return type (output_schema) is part of the catalog too.
    key: JSON.stringify([[...registered.values()].map((r) => r.key), modelList.map((m) => [m.segments, m.info]), fnProtos.filter((f) => f.signature.length > 1).map((f) => f.signature[1].returnType)]),
    extend(root: any) {
      for (const f of fnProtos) sub(root, f.namePath.slice(0, -1)).customFunction = [...(sub(root, f.namePath.slice(0, -1)).customFunction ?? []), f];
      for (const { proto } of registered.values()) { const c = sub(root, proto.namePath.slice(0, -1)); c.customTvf = [...(c.customTvf ?? []), proto]; }
      modelList.forEach((m, i) => {
        const c = sub(root, m.segments.slice(0, -1));
        c.model = [...(c.model ?? []), { id: String(900_000 + i), name: m.segments.at(-1), input: m.info.featureColumns.map(col), output: m.info.labelColumns.map(col) }];
      });
    },
    lineage,
    sql: applyEdits(sql, edits),
    restore: (resolved) => restoreNames(resolved, aliases),
    message: (m) => restoreMessage(m, aliases),
    externalConnections: [...new Set(connections)],
    models: Object.fromEntries(modelList.map((m) => [m.info.fullName, [...m.info.featureColumns, ...m.info.labelColumns].map((c) => c.name)])),
    check(resolved: unknown) {
      for (const scan of nodesUnder('resolvedTvfscanNode', resolved)) {
        const key = lineageKey(String(scan.tvf?.name ?? ''), (scan.signature?.outputSchema?.column ?? []).map((c: any) => String(c.name)));
        const want = inputs.get(key);
        if (want === undefined) continue;
        if (templated.has(String(scan.tvf?.name ?? '').toUpperCase())) {
          // A template's output is ZetaSQL's per call: it must be exactly the documented output computed for that call.
          const out = JSON.stringify((scan.signature?.outputSchema?.column ?? []).map((c: any) => [c.name, c.type]));
          if (out !== outputs.get(key)) throw new BigQueryError('invalidQuery', `${scan.tvf?.name}: a call's output resolved to other columns than its documented output (${spec0(scan)}); the statement was not run.`, { location: 'q' });
        }
        const got = JSON.stringify((scan.signature?.argument ?? []).filter((a: any) => a.relationArgument).map((a: any) => (a.relationArgument.column ?? []).map((c: any) => [c.name, c.type])));
        if (got !== want) throw new BigQueryError('invalidQuery', `${scan.tvf?.name}: its input relation resolved to other columns than bqgate computed its output from (a WITH name shadowing a table?); rename the CTE. The statement was not run.`, { location: 'q' });
      }
    },
  };
}

const spec0 = (scan: any) => (scan.signature?.outputSchema?.column ?? []).map((c: any) => c.name).join(', ');

/** The nested catalog at `path` under `root`, created when missing (names compared case-insensitively). */
function sub(root: any, path: string[]): any {
  let cat = root;
  for (const part of path) {
    cat.catalog ??= [];
    let next = cat.catalog.find((c: any) => String(c.name).toLowerCase() === part.toLowerCase());
    if (!next) { next = { name: part, table: [], catalog: [] }; cat.catalog.push(next); }
    cat = next;
  }
  return cat;
}

const col = (c: { name: string; type: StandardSqlDataType }) => ({ name: c.name, type: standardType(c.type) });

/** A REST StandardSqlDataType → TypeProto. */
export function standardType(t: StandardSqlDataType): TypeProto {
  if (t.typeKind === 'ARRAY' && t.arrayElementType) return { typeKind: 'TYPE_ARRAY', arrayType: { elementType: standardType(t.arrayElementType) } };
  if (t.typeKind === 'STRUCT') return { typeKind: 'TYPE_STRUCT', structType: { field: (t.structType?.fields ?? []).map((f) => ({ fieldName: f.name ?? '', fieldType: standardType(f.type) })) } };
  if (t.typeKind === 'RANGE' && t.rangeElementType) return { typeKind: 'TYPE_RANGE', rangeType: { elementType: standardType(t.rangeElementType) } } as TypeProto;
  try { return parseType(t.typeKind); } catch {
    throw new BigQueryError('invalidQuery', `bqgate cannot read the type ${t.typeKind} of a model or routine column; the statement was not run.`, { location: 'q' });
  }
}

/**
 * The CTEs of the WITH clause that starts the statement, in order (name, text `name AS (…)`), so a
 * relation argument may name one: it is analyzed under the CTEs up to the one it names, never more
 * (a CTE only sees earlier ones, so this recursion ends). Empty for WITH RECURSIVE.
 */
function leadingWith(tree: any, text: (a: number, b: number) => string): Cte[] {
  const stmt = tree.astQueryStatementNode ?? Object.values(tree)[0];
  const w = (stmt as any)?.query?.withClause;
  if (!w || w.recursive) return [];
  return (w.with ?? []).map((e: any) => {
    const r = e.parent?.parseLocationRange;
    return { name: String(e.alias?.idString ?? '').toLowerCase(), text: r ? text(Number(r.start ?? 0), Number(r.end)) : '', start: Number(r?.start ?? 0), end: Number(r?.end ?? 0) };
  }).filter((e: Cte) => e.name && e.text);
}

interface Cte { name: string; text: string; start: number; end: number }

/** The lower-case identifiers of a text (a query argument), for the CTE names it may read. */
const words = (t: string): string[] => (t.match(/[A-Za-z_][A-Za-z0-9_]*/g) ?? []).map((w) => w.toLowerCase());

/**
 * The WITH prefix a relation argument of the call at byte `at` is analyzed under: the CTEs the call can see
 * (all of them from the main query, the earlier ones from inside a CTE) up to the last one `names`
 * mentions; undefined when it mentions none. Mentioning a CTE name as a column only adds a CTE to the
 * prefix; the resolved statement is checked against the columns computed (TvfPlan.check).
 */
function namedCtes(ctes: Cte[], at: number, names: string[]): Cte[] | undefined {
  const inside = ctes.findIndex((c) => at >= c.start && at < c.end);
  const visible = inside >= 0 ? ctes.slice(0, inside) : ctes;
  const want = new Set(names.map((n) => n.toLowerCase()));
  let k = -1;
  visible.forEach((c, i) => { if (want.has(c.name)) k = i; });
  return k < 0 ? undefined : visible.slice(0, k + 1);
}

/** The CTEs up to the one a `Table not found: <name>` error names, or undefined. */
function ctePrefix(ctes: Cte[], err: unknown): Cte[] | undefined {
  // The name as each layer reports it: the analyzer, names.ts (no default dataset), the catalog (default dataset).
  const msg = String((err as Error)?.message ?? '');
  const m = msg.match(/Table not found: `?([A-Za-z_][A-Za-z0-9_]*)`?(?![.\w])/) ?? msg.match(/Table name "([A-Za-z_][A-Za-z0-9_]*)" missing dataset/) ?? msg.match(/Not found: Table [^:\s]+:[^.\s]+\.([A-Za-z_][A-Za-z0-9_]*) /);
  const k = m ? ctes.findIndex((c) => c.name === m[1].toLowerCase()) : -1;
  return k < 0 ? undefined : ctes.slice(0, k + 1);
}

/** `WITH a AS (…), b AS (…)` as pieces of the statement. */
const withPieces = (ctes: Cte[]): Piece[] => ['WITH ', ...ctes.flatMap((c, i): Piece[] => [...(i ? [', '] : []), [c.start, c.end]])];

/** Glue text, or a byte range of the statement. */
type Piece = string | [number, number];

/**
 * A text built from glue and byte ranges of `sql`, and `back`: an error whose `[at L:C]` lies in a
 * range gets the statement's line and column instead (in glue: the call's, `fallback` bytes), so
 * what it names can be found in the statement.
 */
function assemble(sql: string, pieces: Piece[], fallback: number): { sql: string; back(err: unknown): unknown } {
  const bytes = Buffer.from(sql, 'utf8');
  const spans: Array<{ at: number; from?: number }> = [];
  let out = Buffer.alloc(0);
  for (const p of pieces) {
    spans.push({ at: out.length, ...(typeof p === 'string' ? {} : { from: p[0] }) });
    out = Buffer.concat([out, typeof p === 'string' ? Buffer.from(p, 'utf8') : bytes.subarray(p[0], p[1])]);
  }
  const text = out.toString('utf8');
  const lineCol = (buf: Buffer, at: number) => { const before = buf.subarray(0, at).toString('utf8').split('\n'); return `${before.length}:${before.at(-1)!.length + 1}`; };
  return {
    sql: text,
    back(err: unknown) {
      const m = err instanceof Error ? err.message.match(/\[at (\d+):(\d+)\]/) : null;
      if (!m) return err;
      const lines = text.split('\n');
      const chars = lines.slice(0, Number(m[1]) - 1).reduce((n, l) => n + l.length + 1, 0) + Number(m[2]) - 1;
      const at = Buffer.byteLength(text.slice(0, chars), 'utf8');
      const span = [...spans].reverse().find((x) => x.at <= at)!;
      const orig = span?.from !== undefined ? span.from + (at - span.at) : fallback;
      (err as Error).message = (err as Error).message.replace(m[0], `[at ${lineCol(bytes, orig)}]`);
      return err;
    },
  };
}

const CLASSIFIERS = /CLASSIFIER$|^LOGISTIC_REG$/;
const REGRESSORS = /REGRESSOR$|^LINEAR_REG$/;
const variantOf = (m?: ModelInfo) => {
  const t = (m?.modelType ?? '').toUpperCase();
  return CLASSIFIERS.test(t) ? 'classification' : REGRESSORS.test(t) ? 'regression' : t === 'KMEANS' ? 'kmeans' : t === 'PCA' ? 'pca' : t === 'AUTOENCODER' ? 'autoencoder'
    : t === 'MATRIX_FACTORIZATION' ? 'matrix_factorization' : 'default';
};

/** Output columns and their lineage for one call (see the data file's header for the list items). */
function outputOf(call: TvfCall, rels: Map<number, Column[]>, model?: ModelInfo): { columns: Column[]; hints: Map<string, ColumnHint> } {
  const { spec } = call;
  const refuse = (why: string): never => { throw new BigQueryError('invalidQuery', `${spec.name}: ${why} (${spec.doc}); the statement was not run.`, { location: 'q' }); };
  const items = spec.variants ? (spec.variants[variantOf(model)] ?? spec.variants.default) : spec.output!;
  // Relation arguments in signature (call) order: lineage.ts sees them in this order.
  const order = call.args.filter((a) => rels.has(a.position)).map((a) => a.position);
  const relIndex = (pos: number) => order.indexOf(pos);
  const firstRel = order[0];
  const ref = (pos: number, c: Column) => ({ relation: relIndex(pos), column: c.name, index: rels.get(pos)!.indexOf(c) });
  const all = order.flatMap((p) => rels.get(p)!.map((c) => ref(p, c)));
  const features = new Set((model?.featureColumns ?? []).map((f) => f.name.toLowerCase()));
  const read = spec.reads === 'features' && features.size && firstRel !== undefined
    ? rels.get(firstRel)!.filter((c) => features.has(c.name.toLowerCase())).map((c) => ref(firstRel, c))
    : all;
  const computed: ColumnHint = { from: read.length || spec.reads !== 'features' ? read : all, scalars: true };
  const columns: Column[] = [];
  const hints = new Map<string, ColumnHint>();
  const add = (name: string, type: TypeProto, hint: ColumnHint) => {
    if (hints.has(name.toLowerCase())) refuse(`its output would have two columns named ${name}`);
    columns.push({ name, type }); hints.set(name.toLowerCase(), hint);
  };
  const value = (arg: string): unknown => {
    const a = call.args.find((x) => x.spec.name.toLowerCase() === arg.toLowerCase());
    if (a) return constant(a.node);
    for (const x of call.args) if (x.form === 'scalar') { const o = structOptions(x.node).get(arg.toLowerCase()); if (o) return constant(o); }
    return undefined;
  };
  const given = (arg: string) => call.args.some((x) => x.spec.name.toLowerCase() === arg.toLowerCase())
    || call.args.some((x) => x.form === 'scalar' && structOptions(x.node).has(arg.toLowerCase()));
  const inputColumn = (name: string) => {
    const c = firstRel === undefined ? undefined : rels.get(firstRel)!.find((x) => x.name.toLowerCase() === name.toLowerCase());
    return c ?? refuse(`Unrecognized name: ${name} (the input relation has no column ${name})`);
  };
  const passThrough = (pos: number) => { for (const c of rels.get(pos) ?? []) add(c.name, c.type, { copy: ref(pos, c) }); };
  for (const item of items) {
    const words = item.split(/\s+/);
    if (/^input( \d+)?$/.test(item)) { const pos = words[1] ? Number(words[1]) : firstRel; if (pos !== undefined) passThrough(pos); continue; }
    if (item === 'recommended') {
      // The user / item columns copy the input's, or the model's (its training data: no input column);
      // the rating derives from both (https://cloud.google.com/bigquery/docs/reference/standard-sql/bigqueryml-syntax-recommend#output).
      const input = firstRel === undefined ? undefined : rels.get(firstRel)!;
      const out = recommendedColumns(model, input, standardType, refuse);
      const keys = out.filter((o) => o.role !== 'predicted');
      const read = keys.flatMap((o) => (o.input ? [ref(firstRel!, o.input)] : []));
      const trained = keys.filter((o) => !o.input).map((o) => o.column.name);
      for (const o of out) {
        add(o.column.name, o.column.type, o.input ? { copy: ref(firstRel!, o.input) } : o.role !== 'predicted' ? { model: model!.fullName, column: o.column.name }
          : { from: read, scalars: true, ...(trained.length ? { model: { name: model!.fullName, columns: trained } } : {}) });
      }
      continue;
    }
    if (item === 'tuned') { for (const c of trialColumns(model, refuse)) add(c.name, c.type, computed); continue; }
    if (item === 'confusion') {
      const label = (m: ModelInfo) => (firstRel === undefined ? standardType(m.labelColumns[0].type) : inputColumn(m.labelColumns[0].name).type);
      for (const c of confusionColumns(model, label, refuse)) add(c.name, c.type, computed);
      continue;
    }
    if (item === 'predicted') {
      const kind = variantOf(model);
      if (kind === 'kmeans') {
        add('CENTROID_ID', { typeKind: 'TYPE_INT64' }, computed);
        add('NEAREST_CENTROIDS_DISTANCE', parseType('ARRAY<STRUCT<CENTROID_ID INT64, DISTANCE FLOAT64>>'), computed);
        continue;
      }
      if (!model?.labelColumns.length) refuse(`bqgate does not know the label columns of model ${model?.fullName ?? '?'} (models.get labelColumns), so it cannot name the prediction columns`);
      for (const l of model!.labelColumns) {
        const name = l.name.replace(/^predicted_/i, '');
        add(`predicted_${name}`, standardType(l.type), computed);
        if (kind === 'classification') add(`predicted_${name}_probs`, { typeKind: 'TYPE_ARRAY', arrayType: { elementType: { typeKind: 'TYPE_STRUCT', structType: { field: [{ fieldName: 'label', fieldType: standardType(l.type) }, { fieldName: 'prob', fieldType: { typeKind: 'TYPE_DOUBLE' } }] } } } }, computed);
      }
      continue;
    }
    if (words[0] === 'column' || words[0] === 'columns') {
      const v = value(words[1]);
      if (v === undefined) continue;
      for (const n of Array.isArray(v) ? v : [String(v)]) { const c = inputColumn(n); add(c.name, c.type, { copy: ref(firstRel!, c) }); }
      continue;
    }
    if (words[0] === 'schema') {
      const v = value(words[1]);
      if (typeof v !== 'string') refuse(`${words[1]} must be a string literal naming the output columns`);
      let cols: Column[] = [];
      try { cols = parseColumns(v as string); } catch (err) { refuse(`${words[1]}: ${(err as Error).message}`); }
      for (const c of cols) add(c.name, c.type, computed);
      continue;
    }
    if (words[1] === 'STRUCT_OF') {
      const pos = Number(words[2]);
      const cols = rels.get(pos);
      if (!cols) continue;
      add(words[0], { typeKind: 'TYPE_STRUCT', structType: { field: cols.map((c) => ({ fieldName: c.name, fieldType: c.type })) } }, { from: cols.map((c) => ref(pos, c)), scalars: false });
      continue;
    }
    if (words[0] === 'derived') {
      const v = value(words[1]);
      if (typeof v !== 'string') refuse(`${words[1]} must be a string literal naming an input column`);
      const c = inputColumn(v as string);
      add(c.name, c.type, computed);
      continue;
    }
    if (words[1] === 'TYPE_OF') {
      const v = value(words[2]);
      if (typeof v !== 'string') refuse(`${words[2]} must be a string literal naming an input column`);
      add(words[0], inputColumn(v as string).type, computed);
      continue;
    }
    const cond = item.match(/^(.*?)\s+(if|unless|if_given|if_listed)\s+(\w+)$/);
    if (cond?.[2] === 'if_given' && !given(cond[3])) continue;
    if (cond?.[2] === 'if_listed' && given(cond[3])) {
      const v = value(cond[3]);
      if (!Array.isArray(v)) refuse(`${cond[3]} must be an ARRAY of string literals`);
      if (!(v as string[]).some((x) => x.toLowerCase() === cond[1].split(/\s+/)[0].toLowerCase())) continue;
    }
    if (cond && (cond[2] === 'if' || cond[2] === 'unless') && (value(cond[3]) === true) !== (cond[2] === 'if')) continue;
    const def = (cond ? cond[1] : item).match(/^(\S+)\s+(.+)$/)!;
    add(def[1], parseType(def[2]), computed);
  }
  return { columns, hints };
}

export type { TvfSpec };

/**
 * The hints of a TVF output schema seen again in the same statement: the same hints stay as they are;
 * a column whose hints differ (or that one call leaves without a hint, meaning every input) derives
 * from all of them (`union`), so no call's sources are dropped — lineage.ts keys hints by name and
 * output columns, which two calls with other models or inputs of the same shape share.
 */
function mergeHints(prev: Map<string, ColumnHint> | undefined, next: Map<string, ColumnHint>): Map<string, ColumnHint> {
  if (!prev) return next;
  const out = new Map<string, ColumnHint>();
  const parts = (h: ColumnHint | undefined): Array<ColumnHint | 'everything'> => (!h ? ['everything'] : 'union' in h ? h.union : [h]);
  for (const name of new Set([...prev.keys(), ...next.keys()])) {
    const a = prev.get(name);
    const b = next.get(name);
    if (a && b && JSON.stringify(a) === JSON.stringify(b)) { out.set(name, a); continue; }
    const all = [...parts(a), ...parts(b)];
    out.set(name, { union: all.filter((h, i) => all.findIndex((x) => JSON.stringify(x) === JSON.stringify(h)) === i) });
  }
  return out;
}
