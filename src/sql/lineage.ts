/**
 * Column lineage over ZetaSQL's resolved AST: for each result column, the table columns it derives
 * from and whether it is a plain copy; and the table columns each clause uses.
 *
 * Every resolved column has an id. Table scans create ids for table columns (the leaves); computed
 * columns (select expressions, aggregates, window functions, GROUP BY keys) derive from the columns
 * their expression references; set operations, WITH references, UNNEST, PIVOT and UNPIVOT map their
 * output columns onto their inputs. Following those edges back to the leaves gives the sources.
 * Subqueries inside an expression contribute everything they reference (a superset, never less).
 */
import type { ColumnRef } from './index.js';
import { statementNode, tableScanNode } from './walk.js';
import { tvfEdges } from './tvfs/lineage.js';
import type { TvfLineage } from './tvfs/index.js';

export type Clause = 'select' | 'where' | 'join' | 'group_by' | 'having' | 'qualify' | 'order_by' | 'window';

export interface OutputLineage {
  name: string;
  sources: ColumnRef[];
  /** True when the value is a source column copied unchanged (through any renames, CTEs, set operations). */
  direct: boolean;
}

export interface Lineage {
  outputs: OutputLineage[];
  byClause: Partial<Record<Clause, ColumnRef[]>>;
}

interface Edge { deps: string[]; direct: boolean }

/**
 * The aggregate scans (ResolvedAggregateScanBase's subclasses): GROUP BY, SELECT WITH
 * DIFFERENTIAL_PRIVACY, WITH ANONYMIZATION, WITH AGGREGATION_THRESHOLD.
 */
const AGGREGATE_SCANS = ['resolvedAggregateScanNode', 'resolvedDifferentialPrivacyAggregateScanNode', 'resolvedAnonymizedAggregateScanNode', 'resolvedAggregationThresholdAggregateScanNode'];

const id = (c: any): string | undefined => (c?.columnId !== undefined ? String(c.columnId) : undefined);

/** Column ids referenced anywhere inside `node` (column refs, subquery outputs, correlated parameters). */
function refs(node: unknown, out: string[] = []): string[] {
  if (Array.isArray(node)) { node.forEach((n) => refs(n, out)); return out; }
  if (!node || typeof node !== 'object') return out;
  const o = node as Record<string, any>;
  if (o.resolvedColumnRefNode) { const i = id(o.resolvedColumnRefNode.column); if (i) out.push(i); }
  // a bare ResolvedColumnRefProto (ORDER BY items, PARTITION BY lists)
  if (o.column && 'isCorrelated' in o) { const i = id(o.column); if (i) out.push(i); }
  if (o.resolvedSubqueryExprNode) out.push(...scanColumns(o.resolvedSubqueryExprNode.subquery));
  for (const v of Object.values(o)) refs(v, out);
  return out;
}

const isPlainRef = (expr: any) => !!expr?.resolvedColumnRefNode;

/** Output column ids of a scan given in its Any-wrapper form (`{resolvedProjectScanNode: {…}}`, possibly nested). */
function scanColumns(wrapper: any): string[] {
  if (!wrapper || typeof wrapper !== 'object') return [];
  const list = wrapper.parent?.columnList ?? wrapper.parent?.parent?.columnList;
  if (Array.isArray(list)) return list.map(id).filter(Boolean) as string[];
  for (const [k, v] of Object.entries(wrapper)) if (k.startsWith('resolved') && v && typeof v === 'object') return scanColumns(v);
  return [];
}

/** The column graph of a resolved statement: table columns (leaves), derivation edges, clause uses. */
function columnGraph(resolved: Record<string, any>, tvfs?: TvfLineage) {
  const leaves = new Map<string, ColumnRef>();
  const edges = new Map<string, Edge>();
  const withEntries = new Map<string, string[]>();
  const withRefs: Array<{ name: string; cols: string[] }> = [];
  const clauseRefs: Array<[Clause, string[]]> = [];
  const addEdge = (col: any, deps: string[], direct: boolean) => {
    const i = id(col);
    if (!i) return;
    const prev = edges.get(i);
    edges.set(i, prev ? { deps: [...prev.deps, ...deps], direct: prev.direct && direct } : { deps, direct });
  };

  const visit = (node: unknown) => {
    if (Array.isArray(node)) { node.forEach((n) => visit(n)); return; }
    if (!node || typeof node !== 'object') return;
    const o = node as Record<string, any>;
    // computed columns: {column, expr}
    if (o.column && o.expr && id(o.column)) addEdge(o.column, refs(o.expr), isPlainRef(o.expr));
    const s = tableScanNode(o);
    if (s) {
      const table = s.table?.fullName ?? s.table?.name;
      for (const c of s.parent?.columnList ?? []) leaves.set(String(c.columnId), { table, column: c.name });
    }
    // A persistent SQL TVF's columns derive from its body (sql/routines.ts attaches those edges); others from sql/tvfs.
    if (o.resolvedTvfscanNode && !o.resolvedTvfscanNode.bqgateRoutine) tvfEdges(o.resolvedTvfscanNode, tvfs, { refs, edge: (c, deps, direct) => addEdge({ columnId: c }, deps, direct), leaf: (c, ref) => leaves.set(c, ref) });
    if (o.resolvedSetOperationScanNode) {
      const s = o.resolvedSetOperationScanNode;
      (s.parent?.columnList ?? []).forEach((c: any, i: number) => {
        addEdge(c, (s.inputItemList ?? []).map((it: any) => id(it.outputColumnList?.[i])).filter(Boolean), true);
      });
    }
    if (o.resolvedWithScanNode) {
      for (const e of o.resolvedWithScanNode.withEntryList ?? []) withEntries.set(e.withQueryName, scanColumns(e.withSubquery));
    }
    if (o.resolvedWithRefScanNode) {
      const s = o.resolvedWithRefScanNode;
      withRefs.push({ name: s.withQueryName, cols: (s.parent?.columnList ?? []).map(id) });
    }
    if (o.resolvedArrayScanNode) {
      const s = o.resolvedArrayScanNode;
      const deps = refs(s.arrayExpr ?? s.arrayExprList);
      for (const c of [s.elementColumn, ...(s.elementColumnList ?? [])]) if (c) addEdge(c, deps, false);
      if (s.joinExpr) clauseRefs.push(['join', refs(s.joinExpr)]);
    }
    if (o.resolvedPivotScanNode) {
      const s = o.resolvedPivotScanNode;
      const forRefs = refs(s.forExpr);
      for (const p of s.pivotColumnList ?? []) addEdge(p.column, [...refs(s.pivotExprList?.[Number(p.pivotExprIndex ?? 0)]), ...forRefs], false);
      clauseRefs.push(['group_by', forRefs]);
    }
    if (o.resolvedUnpivotScanNode) {
      const s = o.resolvedUnpivotScanNode;
      (s.valueColumnList ?? []).forEach((c: any, i: number) => {
        addEdge(c, (s.unpivotArgList ?? []).map((a: any) => id(a.columnList?.[i]?.column)).filter(Boolean), true);
      });
    }
    if (o.resolvedFilterScanNode) {
      const s = o.resolvedFilterScanNode;
      const input = s.inputScan ?? {};
      const clause: Clause = input.resolvedAggregateScanBaseNode ? 'having' : input.resolvedAnalyticScanNode ? 'qualify' : 'where';
      clauseRefs.push([clause, refs(s.filterExpr)]);
    }
    if (o.resolvedJoinScanNode?.joinExpr) clauseRefs.push(['join', refs(o.resolvedJoinScanNode.joinExpr)]);
    const agg = AGGREGATE_SCANS.find((k) => o[k]);
    if (agg) {
      const p = o[agg].parent ?? {};
      // groupByList holds every key of GROUPING SETS / ROLLUP / CUBE too (the sets refer to it).
      clauseRefs.push(['group_by', refs((p.groupByList ?? []).map((g: any) => g.expr))]);
      // GROUPING(key) tells whether `key` was grouped in the row's set: derived from that key.
      for (const g of p.groupingCallList ?? []) addEdge(g.outputColumn, refs(g.groupByColumn), false);
      // privacy_unit_column partitions the rows per privacy unit, like a grouping key.
      if (agg !== 'resolvedAggregateScanNode') clauseRefs.push(['group_by', refs(o[agg].optionList)]);
    }
    if (o.resolvedOrderByScanNode) clauseRefs.push(['order_by', refs(o.resolvedOrderByScanNode.orderByItemList)]);
    if (o.resolvedAnalyticScanNode) {
      for (const g of o.resolvedAnalyticScanNode.functionGroupList ?? []) clauseRefs.push(['window', refs([g.partitionBy, g.orderBy])]);
    }
    for (const v of Object.values(o)) visit(v);
  };
  visit(resolved);
  for (const r of withRefs) {
    const src = withEntries.get(r.name) ?? [];
    r.cols.forEach((c, i) => { if (c && src[i]) addEdge({ columnId: c }, [src[i]], true); });
  }
  return { leaves, edges, clauseRefs };
}

/** Builds the lineage of a resolved statement; `tvfs`: how the output columns of its TVF calls derive (sql/tvfs). */
export function lineage(resolved: Record<string, any>, tvfs?: TvfLineage): Lineage {
  const { leaves, edges, clauseRefs } = columnGraph(resolved, tvfs);

  const memo = new Map<string, { sources: Map<string, ColumnRef>; direct: boolean }>();
  const resolve = (col: string, seen = new Set<string>()): { sources: Map<string, ColumnRef>; direct: boolean } => {
    const hit = memo.get(col);
    if (hit) return hit;
    const leaf = leaves.get(col);
    if (leaf && !edges.has(col)) { const r = { sources: new Map([[`${leaf.table}.${leaf.column}`, leaf]]), direct: true }; memo.set(col, r); return r; }
    const e = edges.get(col);
    if (!e || seen.has(col)) return { sources: new Map(), direct: false };
    seen.add(col);
    const sources = new Map<string, ColumnRef>();
    let direct = e.direct && e.deps.length > 0;
    for (const d of e.deps) {
      const r = resolve(d, seen);
      r.sources.forEach((v, k) => sources.set(k, v));
      direct = direct && r.direct;
    }
    const out = { sources, direct: direct && sources.size > 0 };
    memo.set(col, out);
    return out;
  };
  const toRefs = (ids: string[]) => {
    const m = new Map<string, ColumnRef>();
    for (const i of ids) resolve(i).sources.forEach((v, k) => m.set(k, v));
    return [...m.values()].sort((a, b) => `${a.table}.${a.column}`.localeCompare(`${b.table}.${b.column}`));
  };

  const stmt = statementNode(resolved)[1];
  const outputs: OutputLineage[] = (stmt?.outputColumnList ?? []).map((oc: any) => {
    const r = resolve(String(oc.column.columnId));
    return { name: oc.name, sources: toRefs([String(oc.column.columnId)]), direct: r.direct };
  });
  const byClause: Partial<Record<Clause, ColumnRef[]>> = {};
  const outIds = (stmt?.outputColumnList ?? []).map((oc: any) => String(oc.column.columnId));
  const grouped = new Map<Clause, string[]>([['select', outIds]]);
  for (const [clause, ids] of clauseRefs) grouped.set(clause, [...(grouped.get(clause) ?? []), ...ids]);
  for (const [clause, ids] of grouped) { const r = toRefs(ids); if (r.length) byClause[clause] = r; }
  return { outputs, byClause };
}

/** A nested field used through a STRUCT column: `path` under `column` (`[]` = the whole column). */
export interface FieldRef { table: string; column: string; path: string[] }

/**
 * The STRUCT fields a statement reads, per table column: each chain of field accesses
 * (`address.zip`) that ends in a table column — directly or through plain copies (CTE and subquery
 * renames) — gives its path; a column used otherwise counts whole (`path: []`).
 */
export function fieldsRead(resolved: Record<string, any>, tvfs?: TvfLineage): FieldRef[] {
  const { leaves, edges } = columnGraph(resolved, tvfs);
  // Plain copies (renames through CTEs, subqueries, WITH references) lead back to the table column.
  const copies = new Map([...edges].filter(([, e]) => e.direct && e.deps.length === 1).map(([k, e]) => [k, e.deps[0]]));
  const uses: Array<{ id: string; path: string[] }> = [];
  // Result columns that are table columns passed through are whole-column uses too.
  for (const oc of statementNode(resolved)[1]?.outputColumnList ?? []) uses.push({ id: String(oc.column.columnId), path: [] });
  const visit = (n: unknown) => {
    if (Array.isArray(n)) { n.forEach(visit); return; }
    if (!n || typeof n !== 'object') return;
    const o = n as Record<string, any>;
    if (o.resolvedGetStructFieldNode) {
      // Walk down the chain of field accesses to what it reads.
      const path: string[] = [];
      let cur: any = o;
      while (cur?.resolvedGetStructFieldNode) {
        const g = cur.resolvedGetStructFieldNode;
        const inner = g.expr && (Object.values(g.expr).find((v) => v && typeof v === 'object') as any);
        const name = inner?.parent?.type?.structType?.field?.[Number(g.fieldIdx ?? 0)]?.fieldName ?? inner?.parent?.parent?.type?.structType?.field?.[Number(g.fieldIdx ?? 0)]?.fieldName;
        path.unshift(String(name ?? `#${g.fieldIdx ?? 0}`));
        cur = g.expr;
      }
      if (cur?.resolvedColumnRefNode) { uses.push({ id: String(cur.resolvedColumnRefNode.column.columnId), path }); return; }
      visit(cur);
      return;
    }
    if (o.resolvedColumnRefNode) uses.push({ id: String(o.resolvedColumnRefNode.column.columnId), path: [] });
    Object.entries(o).forEach(([k, v]) => { if (k !== 'resolvedColumnRefNode') visit(v); });
  };
  visit(resolved);
  const out = new Map<string, FieldRef>();
  for (const u of uses) {
    let id = u.id;
    for (let i = 0; i < 32 && !leaves.has(id) && copies.has(id); i++) id = copies.get(id)!;
    const leaf = leaves.get(id);
    if (!leaf) continue;
    const ref = { ...leaf, path: u.path };
    out.set(`${ref.table}\u0000${ref.column}\u0000${ref.path.join('.')}`, ref);
  }
  return [...out.values()].sort((a, b) => `${a.table}.${a.column}.${a.path.join('.')}`.localeCompare(`${b.table}.${b.column}.${b.path.join('.')}`));
}
