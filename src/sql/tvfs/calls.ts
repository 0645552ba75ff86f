/**
 * Reading TVF calls out of ZetaSQL's parse tree (ASTTVF, protobuf-as-JSON): the called name, each
 * argument bound to the data file's argument list (MODEL, TABLE / query relation, scalars positional
 * or named), constant values (string, boolean, ARRAY of strings or of tuples, STRUCT options) and
 * byte ranges into the statement text.
 *
 * Throws BigQueryError('invalidQuery') when a call does not fit the documented argument list.
 */
import { BigQueryError } from '../../bigquery/errors.js';
import type { ArgSpec, TvfSpec } from './spec.js';

/** One argument as written. `start`/`end`: UTF-8 byte offsets of its text. */
export interface CallArg {
  spec: ArgSpec;
  /** Position of the spec argument (1-based), as the data file numbers them. */
  position: number;
  form: 'model' | 'table' | 'query' | 'scalar';
  named: boolean;
  node: any;
  start: number;
  end: number;
  /** For `model`: the path segments; for `table`: the table path segments. */
  path?: string[];
}

export interface TvfCall { name: string; spec: TvfSpec; args: CallArg[]; start: number }

const range = (n: any): [number, number] | undefined => {
  for (let o = n, d = 0; o && d < 6; d++) {
    const r = o.parseLocationRange ?? o.parent?.parseLocationRange;
    if (r) return [Number(r.start ?? 0), Number(r.end)];
    const inner = Object.entries(o).find(([k, v]) => k.startsWith('ast') && v && typeof v === 'object');
    o = inner ? inner[1] : o.parent;
  }
  return undefined;
};

/** Every node wrapped under `key` (e.g. `astTvfNode`, `resolvedTvfscanNode`) in a parse or resolved tree, in document order. */
export function nodesUnder(key: string, tree: unknown, out: any[] = []): any[] {
  if (Array.isArray(tree)) { tree.forEach((t) => nodesUnder(key, t, out)); return out; }
  if (!tree || typeof tree !== 'object') return out;
  const o = tree as Record<string, any>;
  if (o[key]) out.push(o[key]);
  for (const v of Object.values(o)) nodesUnder(key, v, out);
  return out;
}

/** Every ASTTVF node in the tree, in document order. */
export const tvfNodes = (tree: unknown): any[] => nodesUnder('astTvfNode', tree);

export const pathOf = (p: any): string[] => (p?.names ?? []).map((n: any) => String(n.idString));

/** The innermost concrete AST node under a wrapper chain (`{astLeafNode: {astStringLiteralNode: …}}`). */
function concrete(n: any): [string, any] | undefined {
  let cur: [string, any] | undefined;
  let o = n;
  for (let d = 0; o && typeof o === 'object' && d < 6; d++) {
    const e = Object.entries(o).find(([k, v]) => k.startsWith('ast') && v && typeof v === 'object') as [string, any] | undefined;
    if (!e) break;
    cur = e;
    o = e[1];
  }
  return cur;
}

/** A constant string, boolean or ARRAY of them (an ARRAY element that is a tuple gives its first string). */
export function constant(expr: any): string | boolean | Array<string> | undefined {
  const c = concrete(expr);
  if (!c) return undefined;
  const [k, v] = c;
  if (k === 'astStringLiteralNode') return String(v.stringValue ?? '');
  if (k === 'astBooleanLiteralNode') return v.value === true || String(v.parent?.image ?? '').toUpperCase() === 'TRUE';
  if (k === 'astArrayConstructorNode') {
    return (v.elements ?? []).map((e: any) => {
      const x = constant(e);
      if (typeof x === 'string') return x;
      const ce = concrete(e);
      if (ce?.[0] === 'astStructConstructorWithParensNode') { const f = constant(ce[1].fieldExpressions?.[0]); if (typeof f === 'string') return f; }
      if (ce?.[0] === 'astStructConstructorWithKeywordNode') { const f = constant(ce[1].fields?.[0]?.expression); if (typeof f === 'string') return f; }
      return undefined;
    }).filter((x: unknown): x is string => typeof x === 'string');
  }
  return undefined;
}

/** Fields of a `STRUCT(value AS name, …)` options argument, by lower-case name. */
export function structOptions(expr: any): Map<string, any> {
  const c = concrete(expr);
  const m = new Map<string, any>();
  if (c?.[0] !== 'astStructConstructorWithKeywordNode') return m;
  for (const f of c[1].fields ?? []) {
    const alias = f.alias?.identifier?.idString;
    if (alias) m.set(String(alias).toLowerCase(), f.expression);
  }
  return m;
}

function formOf(entry: any): { form: CallArg['form']; node: any; path?: string[] } {
  if (entry.modelClause) return { form: 'model', node: entry.modelClause, path: pathOf(entry.modelClause.modelPath) };
  if (entry.tableClause) {
    if (!entry.tableClause.tablePath) throw new BigQueryError('invalidQuery', 'bqgate cannot analyze a TABLE argument that is itself a table-valued function call; pass a query instead. The statement was not run.', { location: 'q' });
    return { form: 'table', node: entry.tableClause, path: pathOf(entry.tableClause.tablePath) };
  }
  if (entry.connectionClause) throw new BigQueryError('invalidQuery', 'bqgate does not analyze CONNECTION arguments to table-valued functions; the statement was not run.', { location: 'q' });
  const c = concrete(entry.expr);
  if (c?.[0] === 'astExpressionSubqueryNode' && (!c[1].modifier || c[1].modifier === 'NONE')) return { form: 'query', node: c[1].query };
  return { form: 'scalar', node: entry.expr };
}

const fits = (form: CallArg['form'], kind: ArgSpec['kind']) =>
  kind === 'model' ? form === 'model' : kind === 'relation' ? form === 'table' || form === 'query' : form === 'scalar' || form === 'query';

/** Binds the arguments of one ASTTVF node to `spec` (see the module comment for the errors). */
export function bindCall(node: any, spec: TvfSpec): TvfCall {
  const name = pathOf(node.name).join('.');
  const bad = (why: string): never => {
    throw new BigQueryError('invalidQuery', `${name}: ${why} (arguments: ${spec.args.map((a) => `${a.kind === 'scalar' ? a.name : a.kind.toUpperCase()}${a.optional ? '?' : ''}`).join(', ')}; ${spec.doc}). The statement was not run.`, { location: 'q' });
  };
  const args: CallArg[] = [];
  let j = 0;
  for (const entry of node.argumentEntries ?? []) {
    const named = concrete(entry.expr)?.[0] === 'astNamedArgumentNode' ? concrete(entry.expr)![1] : undefined;
    const [start, end] = range(entry) ?? bad('an argument has no position');
    if (named) {
      const argName = String(named.name?.idString ?? '').toLowerCase();
      const i = spec.args.findIndex((a) => a.kind === 'scalar' && a.name.toLowerCase() === argName);
      if (i < 0) bad(`no argument is named ${argName}`);
      if (args.some((a) => a.position === i + 1)) bad(`${argName} is given twice`);
      args.push({ spec: spec.args[i], position: i + 1, form: 'scalar', named: true, node: named.expr, start, end });
      continue;
    }
    if (args.some((a) => a.named)) bad('a positional argument follows a named one');
    const f = formOf(entry);
    while (j < spec.args.length && !fits(f.form, spec.args[j].kind)) {
      if (!spec.args[j].optional) bad(`argument ${j + 1} must be ${spec.args[j].kind === 'scalar' ? `the ${spec.args[j].name} value` : spec.args[j].kind === 'model' ? 'MODEL <name>' : 'TABLE <name> or a query'}`);
      j++;
    }
    if (j >= spec.args.length) bad('too many arguments');
    const s = spec.args[j];
    const form = s.kind === 'scalar' && f.form === 'query' ? 'scalar' : f.form;
    args.push({ spec: s, position: j + 1, form, named: false, node: form === 'scalar' ? entry.expr : f.node, path: f.path, start, end });
    j++;
  }
  spec.args.forEach((s, i) => { if (!s.optional && !args.some((a) => a.position === i + 1)) bad(`the required argument ${s.kind === 'scalar' ? s.name : s.kind.toUpperCase()} is missing`); });
  return { name, spec, args, start: range(node)?.[0] ?? 0 };
}

/** Byte range of a query argument's text (inside its parentheses). */
export function queryRange(a: CallArg): [number, number] | undefined { return range(a.node); }

/** Byte range of a TABLE argument's path. */
export function tablePathRange(a: CallArg): [number, number] | undefined { return range(a.node.tablePath); }
