/**
 * The schema of a view as a caller may see it, derived from the view's lineage as a query's
 * columns are: `SELECT * FROM view` is analyzed, and each view column takes the policy of the
 * table columns it derives from (QueryAnalysis.lineage). A view column derived from a column
 * denied to the caller is left out; one derived from a masked column is described as masked.
 */
import { projectOf } from '../../bigquery/table-path.js';
import { BigQueryError } from '../../bigquery/errors.js';
import { decide, type Policy } from '../../policy/index.js';
import type { Principal } from '../../auth/index.js';
import type { QueryAnalysis } from '../../sql/index.js';
import type { BqField } from '../../emulator/encode.js';

/** What the view schema needs of the analyzer. */
export interface ViewAnalyzer { analyze(input: { sql: string; projectId: string }): Promise<QueryAnalysis> }

/** `f` with a note that bqgate masks it for the caller (`masks`: "RULE, rule ID" per source). */
export const describedMasked = (f: BqField, masks: string[]): BqField =>
  ({ ...f, description: `${f.description ? `${f.description} ` : ''}(masked for you by bqgate: ${masks.join('; ')})` });

/**
 * The fields of the view `table` (`fields`: its upstream schema, top-level columns in order) the
 * caller may know about. Throws BigQueryError(accessDenied) when the view's lineage cannot be
 * derived, or when the caller may not read what the view reads (its schema is then not shown).
 */
export async function visibleViewSchema(analyzer: ViewAnalyzer, policy: Policy, principal: Principal, table: string, fields: BqField[]): Promise<BqField[]> {
  const projectId = projectOf(table);
  let a: QueryAnalysis;
  try {
    a = await analyzer.analyze({ sql: `SELECT * FROM \`${table}\``, projectId });
  } catch (err) {
    throw new BigQueryError('accessDenied', `Access Denied: bqgate cannot derive the columns of the view ${table} from its lineage (${(err as Error).message}), so its schema is not shown.`);
  }
  const d = decide(policy, principal, { statementKind: 'SELECT', tablesRead: a.tablesRead, tablesWritten: [], columnsRead: [], tables: a.tables });
  if (d.effect === 'deny') throw new BigQueryError('accessDenied', d.reasons[0] ?? `Access Denied: View ${table}`);
  const byName = new Map(a.lineage.map((l) => [l.name.toLowerCase(), l]));
  return fields.flatMap((f) => {
    const l = byName.get(f.name.toLowerCase());
    if (!l) return []; // a column the analysis does not know: fail closed
    if (l.sources.some((s) => d.deniedColumns[s.table]?.includes(s.column))) return [];
    const masks = l.sources.flatMap((s) => { const m = d.masks[s.table]?.[s.column]; return m ? [`${m.rule}, rule ${m.ruleId}`] : []; });
    return masks.length ? [describedMasked(f, [...new Set(masks)])] : [f];
  });
}
