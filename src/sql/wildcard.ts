/**
 * Wildcard tables (`` `p.d.prefix*` ``, https://cloud.google.com/bigquery/docs/querying-wildcard-tables):
 * the catalog entry (union of the matching tables' columns plus the `_TABLE_SUFFIX` pseudo-column)
 * and the narrowing of the matching tables by constant `_TABLE_SUFFIX` predicates in the filter
 * directly above the scan (`=`, `IN`, `BETWEEN`, `<`, `<=`, `>`, `>=`, joined by AND). Anything else
 * leaves every matching table in place: the set reported is never smaller than what BigQuery reads.
 */
import type { BqField } from '../emulator/encode.js';

export const SUFFIX_COLUMN = '_TABLE_SUFFIX';

/** Union of member schemas by column name, first definition wins. */
export function unionSchema(schemas: BqField[][]): BqField[] {
  const seen = new Map<string, BqField>();
  for (const s of schemas) for (const f of s) if (!seen.has(f.name.toLowerCase())) seen.set(f.name.toLowerCase(), f);
  return [...seen.values()];
}

type Test = (suffix: string) => boolean;

const literal = (n: any): string | undefined => {
  const v = n?.resolvedLiteralNode?.value?.value;
  return typeof v?.stringValue === 'string' ? v.stringValue : undefined;
};
const isSuffixRef = (n: any, columnId: string) => n?.resolvedColumnRefNode?.column?.columnId === columnId;
const call = (n: any) => n?.resolvedFunctionCallBaseNode?.resolvedFunctionCallNode;

/** Constraints on the suffix column found in `expr` (a filter expression); [] when none apply. */
export function suffixTests(expr: any, columnId: string): Test[] {
  const c = call(expr);
  if (!c) return [];
  const name = String(c.parent?.function?.name ?? '').replace(/^ZetaSQL:/, '');
  const args: any[] = c.parent?.argumentList ?? [];
  if (name === '$and') return args.flatMap((a) => suffixTests(a, columnId));
  if (!isSuffixRef(args[0], columnId)) {
    // `'x' = _TABLE_SUFFIX` and friends
    if (args.length === 2 && isSuffixRef(args[1], columnId) && literal(args[0]) !== undefined) {
      const flip: Record<string, string> = { $less: '$greater', $less_or_equal: '$greater_or_equal', $greater: '$less', $greater_or_equal: '$less_or_equal', $equal: '$equal' };
      return flip[name] ? compare(flip[name], literal(args[0])!) : [];
    }
    return [];
  }
  const lits = args.slice(1).map(literal);
  if (lits.some((l) => l === undefined)) return [];
  if (name === '$in') return [(s) => (lits as string[]).includes(s)];
  if (name === '$between') return [(s) => s >= lits[0]! && s <= lits[1]!];
  return lits.length === 1 ? compare(name, lits[0]!) : [];
}

function compare(op: string, v: string): Test[] {
  switch (op) {
    case '$equal': return [(s) => s === v];
    case '$less': return [(s) => s < v];
    case '$less_or_equal': return [(s) => s <= v];
    case '$greater': return [(s) => s > v];
    case '$greater_or_equal': return [(s) => s >= v];
    default: return [];
  }
}

/**
 * For each wildcard table scan in the resolved tree, the suffix tests from a FilterScan directly
 * above it, keyed by the scan node object.
 */
export function wildcardFilters(node: unknown, out = new Map<object, Test[]>()): Map<object, Test[]> {
  if (Array.isArray(node)) { node.forEach((n) => wildcardFilters(n, out)); return out; }
  if (!node || typeof node !== 'object') return out;
  const f = (node as any).resolvedFilterScanNode;
  const scan = f?.inputScan?.resolvedTableScanNode;
  if (scan) {
    const col = (scan.parent?.columnList ?? []).find((c: any) => c.name === SUFFIX_COLUMN);
    if (col) out.set(scan, suffixTests(f.filterExpr, String(col.columnId)));
  }
  for (const v of Object.values(node as Record<string, unknown>)) wildcardFilters(v, out);
  return out;
}
