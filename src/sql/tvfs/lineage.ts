/**
 * Lineage edges of one resolved TVF scan (`ResolvedTVFScan`), for sql/lineage.ts: each output column
 * derives from the input relation columns it is computed from, following the plan's hints (index.ts):
 * a pass-through column copies its input column; a computed one derives from the columns it reads and
 * the scalar arguments; an EXTERNAL_QUERY column is a leaf of `EXTERNAL_QUERY:<connection>`; a value of
 * a model's training data (ML.RECOMMEND's user / item without an input) derives from the model's
 * column, `project.dataset.model.column` (a source the policy decides as the model's).
 * Without a hint (a TVF bqgate has no table for), every output column derives from every input
 * relation column and scalar argument — a superset, never less.
 */
import type { ColumnRef } from '../index.js';
import { lineageKey, type ColumnHint, type TvfLineage } from './index.js';

export interface EdgeSink {
  refs(node: unknown): string[];
  edge(columnId: string, deps: string[], direct: boolean): void;
  leaf(columnId: string, ref: ColumnRef): void;
}

/** Adds the edges of `scan` (the body of a `resolvedTvfscanNode`) to `sink`. */
export function tvfEdges(scan: any, hints: TvfLineage | undefined, sink: EdgeSink): void {
  const args: any[] = scan.argumentList ?? [];
  const rels: Array<Array<{ id: string; name: string }>> = args.filter((a) => a.scan).map((a) => (a.argumentColumnList ?? []).map((c: any) => ({ id: String(c.columnId), name: String(c.name) })));
  const scalars = sink.refs(args.filter((a) => a.expr).map((a) => a.expr));
  const everything = [...rels.flat().map((c) => c.id), ...scalars];
  const schema: string[] = (scan.signature?.outputSchema?.column ?? []).map((c: any) => String(c.name));
  const h = hints?.get(lineageKey(String(scan.tvf?.name ?? ''), schema));
  // By position: an input column keeps its table column's name through `email AS prompt`.
  const find = (relation: number, index: number) => rels[relation]?.[index]?.id;
  for (const c of scan.parent?.columnList ?? []) {
    const id = String(c.columnId);
    const hint = h?.get(String(c.name).toLowerCase());
    if (!hint) { sink.edge(id, everything, false); continue; }
    // A model's column is a leaf of its own (an id no resolved column has), so the output column may also derive from others.
    const modelLeaf = (model: string, column: string) => { const leaf = `${id}\u0000${model}.${column}`; sink.leaf(leaf, { table: model, column }); return leaf; };
    const sources = (x: ColumnHint | 'everything'): { deps: string[]; direct: boolean } => {
      if (x === 'everything') return { deps: everything, direct: false };
      if ('external' in x) { const leaf = `${id}\u0000EXTERNAL_QUERY:${x.external}`; sink.leaf(leaf, { table: `EXTERNAL_QUERY:${x.external}`, column: String(c.name) }); return { deps: [leaf], direct: true }; }
      if ('column' in x) return { deps: [modelLeaf(x.model, x.column)], direct: true };
      if ('copy' in x) { const src = find(x.copy.relation, x.copy.index); return { deps: src ? [src] : everything, direct: !!src }; }
      if ('union' in x) return { deps: [...new Set(x.union.flatMap((u) => sources(u).deps))], direct: false };
      const trained = x.model ? x.model.columns.map((col) => modelLeaf(x.model!.name, col)) : [];
      return { deps: [...x.from.map((f) => find(f.relation, f.index)).filter((d): d is string => !!d), ...trained, ...(x.scalars ? scalars : [])], direct: false };
    };
    if ('external' in hint) { sink.leaf(id, { table: `EXTERNAL_QUERY:${hint.external}`, column: String(c.name) }); continue; }
    const { deps, direct } = sources(hint);
    sink.edge(id, deps, direct);
  }
}
