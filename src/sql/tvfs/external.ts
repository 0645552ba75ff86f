/**
 * EXTERNAL_QUERY's output columns for sql/tvfs (index.ts): from the upstream's dry run on a
 * connection the caller may use, else read off the inner statement's select list. Every column is a
 * leaf of `EXTERNAL_QUERY:<connection>` in lineage (the other database is its source).
 */
import { BigQueryError } from '../../bigquery/errors.js';
import type { TypeProto } from '../types.js';
import { constant, pathOf, type TvfCall } from './calls.js';
import { parseType } from './spec.js';
import type { Column, ColumnHint, TvfContext } from './index.js';

/**
 * EXTERNAL_QUERY's columns. On a connection the caller's policy allows: the upstream's dry run
 * (exact names and types). Otherwise (the statement will be denied by policy, but its analysis is
 * reported): the inner statement's select list (parsed as GoogleSQL), each named by its alias or
 * column name and typed by its outermost CAST (STRING otherwise); a `*` or SQL that is not GoogleSQL
 * is refused (accessDenied: only the upstream could say), an unnamed item too (invalidQuery).
 */
export async function externalColumns(call: TvfCall, ctx: TvfContext): Promise<{ columns: Column[]; hints: Map<string, ColumnHint> }> {
  const conn = constant(call.args[0].node);
  const inner = constant(call.args.find((a) => a.position === 2)?.node);
  const refuse = (why: string): never => { throw new BigQueryError('invalidQuery', `EXTERNAL_QUERY: ${why}; the statement was not run.`, { location: 'q' }); };
  if (typeof conn !== 'string' || typeof inner !== 'string') refuse('the connection id and the external query must be string literals');
  const tree = await ctx.parse(inner as string);
  const select = findSelect(tree);
  const fromUpstream = async () => {
    const optArg = call.args.find((a) => a.position === 3);
    const options = optArg ? constant(optArg.node) : undefined;
    if (optArg && typeof options !== 'string') refuse('its options argument must be a string literal');
    const cols = await ctx.external(conn as string, inner as string, options as string | undefined);
    if (!cols.length) refuse('the upstream returned no columns for the external query');
    return { columns: cols, hints: new Map<string, ColumnHint>(cols.map((c) => [c.name.toLowerCase(), { external: conn as string }])) };
  };
  // On a connection the caller may use, the upstream's dry run gives the exact names and types; what
  // bqgate cannot read off the select list (a *, another dialect's syntax) can only come from there.
  if (ctx.externalAllowed(conn as string) || !select) return fromUpstream();
  if ((select.selectList?.columns ?? []).some((c: any) => find(c.expression, /^ast(Star|DotStar|StarWithModifiers)Node$/))) return fromUpstream();
  const bytes = Buffer.from(inner as string, 'utf8');
  const columns: Column[] = [];
  const hints = new Map<string, ColumnHint>();
  for (const c of select.selectList?.columns ?? []) {
    const alias = c.alias?.identifier?.idString;
    const star = find(c.expression, /^ast(Star|DotStar|StarWithModifiers)Node$/);
    const pathExpr = find(c.expression, /^astPathExpressionNode$/);
    const name = star ? undefined : alias ?? (pathExpr ? pathOf(pathExpr).at(-1) : undefined);
    if (!name) refuse('the external query must list its columns, each a column name or an aliased expression (no *), so bqgate knows what comes back');
    const r = find(find(c.expression, /^astCastExpressionNode$/)?.type, /^ast\w*TypeNode$/)?.parent?.parent?.parseLocationRange;
    let type: TypeProto = { typeKind: 'TYPE_STRING' };
    if (r) { try { type = parseType(bytes.subarray(Number(r.start ?? 0), Number(r.end)).toString('utf8')); } catch { /* stays STRING */ } }
    columns.push({ name: name!, type });
    hints.set(name!.toLowerCase(), { external: conn as string });
  }
  if (!columns.length) refuse('the external query has no columns');
  return { columns, hints };
}

/** The first node under `n` whose wrapper key matches `key`, through the chain of wrappers only (not into children). */
function find(n: any, key: RegExp, depth = 0): any | undefined {
  if (!n || typeof n !== 'object' || depth > 6) return undefined;
  for (const [k, v] of Object.entries(n)) {
    if (!k.startsWith('ast') || !v || typeof v !== 'object') continue;
    if (key.test(k)) return v;
    return find(v, key, depth + 1);
  }
  return undefined;
}

function findSelect(tree: any, depth = 0): any | undefined {
  if (!tree || typeof tree !== 'object' || depth > 8) return undefined;
  if (tree.astSelectNode) return tree.astSelectNode;
  for (const [k, v] of Object.entries(tree)) if (k.startsWith('ast') || k === 'query' || k === 'queryExpr') { const s = findSelect(v, depth + 1); if (s) return s; }
  return undefined;
}
