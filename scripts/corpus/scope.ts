/**
 * What the corpus synthesizer needs to know of a statement's parse (ZetaSQL's `parse`, the same
 * parser the analyzer uses): its table references with their aliases, the SELECTs with their FROM
 * ranges, the CTEs, and every path expression, function call and operator with its byte range — so
 * a name the analyzer could not resolve is given to the table in scope (`o.x` to the table aliased
 * `o`), a path `a.b.c` becomes a STRUCT, and a signature error retypes the argument it is about.
 */

export interface Range { start: number; end: number }
export interface TableRef extends Range { path: string[]; alias?: string }
export interface Select extends Range {
  from?: Range; /** The select list is `*` alone. */ star?: boolean;
  /** The select list: each item's alias, and its expression when that is a path or a function call. */
  items: Array<Range & { alias?: string; path?: string[]; call?: string }>;
}
/** A subquery in FROM with its alias (`FROM (SELECT …) AS s`): the range of its query. */
export interface Derived extends Range { alias: string }
/** A set operation (UNION / INTERSECT / EXCEPT) and its input queries, in order. */
export interface SetOp extends Range { inputs: Range[] }
export interface Cte extends Range { name: string }
export interface PathExpr extends Range { names: string[]; inTableRef: boolean }
/** A function call or an operator; `operands`: its arguments in order (a path, or just a range). */
export interface Call extends Range { kind: string; name?: string; operands: Array<Range & { path?: string[] }> }

/** `UNNEST(path) AS alias` in FROM (or `FROM t, t.arr AS alias`): the alias ranges over the array `path`. */
export interface Unnest extends Range { alias: string; path: string[]; /** `UNNEST(f(x.y))`: the function and its first argument's path. */ call?: { name: string; arg?: string[]; argStart: number } }
export interface Join extends Range { lhs?: Range; rhs?: Range }
/** A table-valued function call in FROM: its name and alias. */
export interface Tvf extends Range { name: string[]; alias?: string; /** Its `TABLE path` arguments (APPENDS(TABLE t, …)). */ tableArgs: string[][] }
export interface Scope { derived: Derived[]; /** INSERT … VALUES: each value expression. */ values: Range[]; setOps: SetOp[]; tvfs: Tvf[]; joins: Join[]; unnests: Unnest[]; tables: TableRef[]; selects: Select[]; ctes: Cte[]; paths: PathExpr[]; calls: Call[]; dml?: TableRef }

const EMPTY: Scope = { derived: [], values: [], setOps: [], tvfs: [], joins: [], unnests: [], tables: [], selects: [], ctes: [], paths: [], calls: [] };

/** The byte range of a parse node (its location sits a few `parent` levels down). */
function range(o: any): Range | undefined {
  for (let p = o; p && typeof p === 'object'; p = p.parent) if (p.parseLocationRange) return { start: Number(p.parseLocationRange.start ?? 0), end: Number(p.parseLocationRange.end ?? 0) };
  return undefined;
}
const names = (p: any): string[] => (p?.names ?? []).map((n: any) => String(n.idString));
/** The node inside oneof wrappers (`{astLeafNode: {astIntLiteralNode: {parent, …}}}`) → [kind, node]. */
function unwrap(o: any): [string, any] | undefined {
  for (let depth = 0; o && typeof o === 'object' && depth < 6; depth++) {
    const k = Object.keys(o).find((x) => x.startsWith('ast'));
    if (!k) return undefined;
    if (o[k]?.parent) return [k, o[k]];
    o = o[k];
  }
  return undefined;
}
function operand(o: any): (Range & { path?: string[] }) | undefined {
  const u = unwrap(o);
  if (!u) return undefined;
  const [k, n] = u;
  if (k === 'astExpressionSubqueryNode') {
    // `(SELECT x FROM …)` as an argument: its one select column stands for it.
    const sel = n.query?.queryExpr?.astSelectNode;
    const inner = sel?.selectList?.columns?.length === 1 ? operand(sel.selectList.columns[0].expression) : undefined;
    const r = range(n);
    return inner?.path && r ? { ...r, start: inner.start, path: inner.path } : r;
  }
  const r = range(n);
  if (!r) return undefined;
  if (k === 'astFunctionCallNode' && /^(MIN|MAX|ANY_VALUE)$/i.test(names(n.function).join('.')) && n.arguments?.length === 1) {
    // MIN(x), MAX(x), ANY_VALUE(x) have x's type: x stands for them.
    const inner = operand(n.arguments[0]);
    return inner?.path ? { ...r, path: inner.path } : r;
  }
  return k === 'astPathExpressionNode' ? { ...r, path: names(n) } : r;
}

/** Facts of the parse tree of a statement or script (the LocalService `parse` response). */
export function scopeOf(parsed: unknown): Scope {
  if (!parsed) return EMPTY;
  const s: Scope = { derived: [], values: [], setOps: [], tvfs: [], joins: [], unnests: [], tables: [], selects: [], ctes: [], paths: [], calls: [] };
  const tablePaths = new Set<any>();
  const visit = (o: any, key: string) => {
    if (!o || typeof o !== 'object') return;
    if (Array.isArray(o)) { for (const x of o) visit(x, key); return; }
    if (key === 'rows' && Array.isArray(o.values)) for (const v of o.values) { const u = unwrap(v); const vr = u && range(u[1]); if (vr) s.values.push(vr); }
    const r = key.startsWith('ast') ? range(o) : undefined;
    if (r) {
      if (key === 'astTablePathExpressionNode' && o.unnestExpr && o.alias?.identifier?.idString) {
        const first = operand(o.unnestExpr.expressions?.[0]?.expression);
        if (first?.path) s.unnests.push({ ...r, alias: String(o.alias.identifier.idString), path: first.path });
        const fn = unwrap(o.unnestExpr.expressions?.[0]?.expression);
        if (!first?.path && fn?.[0] === 'astFunctionCallNode') {
          const arg = operand(fn[1].arguments?.[0]);
          s.unnests.push({ ...r, alias: String(o.alias.identifier.idString), path: [], call: { name: names(fn[1].function).join('.'), arg: arg?.path, argStart: arg?.start ?? r.start } });
        }
      }
      if (key === 'astTvfNode' && o.name) {
        tablePaths.add(o.name);
        const tableArgs = (o.argumentEntries ?? []).map((e: any) => e.tableClause?.tablePath).filter(Boolean).map(names);
        s.tvfs.push({ ...r, name: names(o.name), alias: o.alias?.identifier?.idString, tableArgs });
      }
      if (key === 'astTablePathExpressionNode' && o.pathExpr) {
        tablePaths.add(o.pathExpr);
        s.tables.push({ ...r, path: names(o.pathExpr), alias: o.alias?.identifier?.idString });
      } else if (key === 'astSelectNode') {
        const cols = o.selectList?.columns ?? [];
        const items = cols.map((c: any) => {
          const u = unwrap(c.expression);
          const op = operand(c.expression);
          const cr = range(c) ?? op ?? r;
          return { start: cr.start, end: cr.end, alias: c.alias?.identifier?.idString, ...(op?.path ? { path: op.path } : {}), ...(u?.[0] === 'astFunctionCallNode' ? { call: names(u[1].function).join('.') } : {}) };
        });
        s.selects.push({ ...r, from: o.fromClause ? range(o.fromClause) : undefined, star: cols.length === 1 && unwrap(cols[0].expression)?.[0] === 'astStarNode', items });
      } else if (key === 'astTableSubqueryNode' && o.alias?.identifier?.idString && o.subquery) {
        const q = range(o.subquery);
        if (q) s.derived.push({ ...q, alias: String(o.alias.identifier.idString) });
      } else if (key === 'astSetOperationNode') {
        s.setOps.push({ ...r, inputs: (o.inputs ?? []).map((x: any) => { const u = unwrap(x); return u && range(u[1]); }).filter(Boolean) });
      } else if (key === 'astPathExpressionNode') {
        s.paths.push({ ...r, names: names(o), inTableRef: tablePaths.has(o) });
      } else if (key === 'astFunctionCallNode') {
        s.calls.push({ ...r, kind: key, name: names(o.function).join('.'), operands: (o.arguments ?? []).map(operand).filter(Boolean) });
      } else if (key === 'astJoinNode' || (key === 'astParenthesizedJoinNode' && o.join)) {
        // `(a JOIN b USING (x))` holds its join under `join`, not under an `astJoinNode` key.
        const j = key === 'astJoinNode' ? o : o.join;
        const side = (x: any) => { const u = unwrap(x); return u ? range(u[1]) : undefined; };
        s.joins.push({ ...(key === 'astJoinNode' ? r : range(j) ?? r), lhs: side(j.lhs), rhs: side(j.rhs) });
      } else if ((key === 'astOrExprNode' && o.disjuncts) || (key === 'astAndExprNode' && o.conjuncts)) {
        s.calls.push({ ...r, kind: key, name: key === 'astOrExprNode' ? 'OR' : 'AND', operands: (o.disjuncts ?? o.conjuncts).map(operand).filter(Boolean) });
      } else if (key === 'astExtractExpressionNode') {
        s.calls.push({ ...r, kind: key, name: 'EXTRACT', operands: [o.lhsExpr, o.rhsExpr].map(operand).filter(Boolean) as Call['operands'] });
      } else if (o.lhs || o.rhs) {
        const ops = [o.lhs, o.rhs, o.low, o.high, ...(o.inList?.list ?? [])].map(operand).filter(Boolean) as Call['operands'];
        s.calls.push({ ...r, kind: key, name: o.op, operands: ops });
      } else if (/^ast(Update|Delete|Insert|Merge)StatementNode$/.test(key) && (o.targetPath || o.tableName || o.targetPathExpression)) {
        const t = o.targetPath?.names ? ['astPathExpressionNode', o.targetPath] : unwrap(o.targetPath) ?? unwrap(o.tableName);
        const p = t && (t[0] === 'astPathExpressionNode' ? t[1] : t[1].astPathExpressionNode);
        if (p) { tablePaths.add(p); s.dml = { ...(range(p) ?? r), path: names(p), alias: o.alias?.identifier?.idString }; s.tables.push(s.dml); }
      }
    }
    if (o.with && Array.isArray(o.with) && key === 'withClause') {
      for (const w of o.with) { const q = range(w.query); if (q && w.alias?.idString) s.ctes.push({ ...q, name: String(w.alias.idString) }); }
    }
    for (const [k, v] of Object.entries(o)) if (k !== 'parent' && typeof v === 'object') visit(v, k);
  };
  visit(parsed, 'root');
  return s;
}

/** `[at line:col]` (1-based, characters) → byte offset in `sql`. */
export function offsetOf(sql: string, line: number, col: number): number {
  const lines = sql.split('\n');
  let off = 0;
  for (let i = 0; i < line - 1 && i < lines.length; i++) off += Buffer.byteLength(lines[i], 'utf8') + 1;
  return off + Buffer.byteLength((lines[line - 1] ?? '').slice(0, col - 1), 'utf8');
}

const within = (r: Range, p: number) => r.start <= p && p < Math.max(r.end, r.start + 1);
const size = (r: Range) => r.end - r.start;

/** The selects enclosing `pos`, innermost first. */
export const enclosingSelects = (s: Scope, pos: number) => s.selects.filter((x) => within(x, pos)).sort((a, b) => size(a) - size(b));

/** The table references of a FROM clause, in text order. */
export const tablesIn = (s: Scope, r: Range) => s.tables.filter((t) => t.start >= r.start && t.end <= r.end).sort((a, b) => a.start - b.start);

/** The CTE a one-part table reference names, if any. */
export const cteOf = (s: Scope, t: TableRef) => (t.path.length === 1 ? s.ctes.find((c) => c.name.toLowerCase() === t.path[0].toLowerCase()) : undefined);

/** The path expression starting at (or containing) `pos`, longest first. */
export const pathAt = (s: Scope, pos: number) => s.paths.filter((p) => !p.inTableRef && within(p, pos)).sort((a, b) => (a.start === pos ? -1 : 0) - (b.start === pos ? -1 : 0) || size(b) - size(a))[0];

/** The calls and operators at `pos`: those starting there first (a function named `name` before others), then the smallest containing one. */
export const callsAt = (s: Scope, pos: number, name?: string) => s.calls
  .filter((c) => within(c, pos))
  .sort((a, b) => Number(b.start === pos) - Number(a.start === pos) || Number(named(b, name)) - Number(named(a, name)) || size(a) - size(b));
const named = (c: Call, name?: string) => !!name && c.kind === 'astFunctionCallNode' && (c.name ?? '').toLowerCase() === name.toLowerCase();
export const callAt = (s: Scope, pos: number, name?: string) => callsAt(s, pos, name)[0];
