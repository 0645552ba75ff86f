/**
 * `rewrite/`: SQL + Decision → the SQL sent upstream, masking at the scan.
 *
 * Each reference to a table with masked or denied columns is replaced, at its exact byte range in
 * the text (from ZetaSQL's parse locations), by a projection of that table:
 * `(SELECT <col or mask(col) AS col or NULL AS col>, … FROM \`p.d.t\`) AS alias`, so every
 * expression, predicate, join, aggregate and whole-row reference sees masked values, as BigQuery's
 * dynamic data masking does. Tables with nothing governed are left as written.
 *
 * Throws BigQueryError when a rewrite cannot be placed safely (no parse location, time travel on a
 * governed table, a governed table in a non-query statement): the statement is refused, never sent
 * raw.
 */
import { BigQueryError } from '../bigquery/errors.js';
import type { Decision } from '../policy/index.js';
import type { QueryAnalysis } from '../sql/index.js';
import { maskExpression, nullColumn, quoteIdent } from './masks.js';

export interface Rewrite {
  sql: string;
  /** Tables whose references were replaced by a masking projection. */
  governedTables: string[];
}

/** Projection SQL of one governed table for `decision` (used for queries and for tabledata.list). */
export function governedProjection(table: string, analysis: Pick<QueryAnalysis, 'tables'>, decision: Decision, columns?: string[]): string {
  const schema = analysis.tables[table];
  if (!schema) throw new BigQueryError('internalError', `No schema for ${table}`);
  const masks = decision.masks[table] ?? {};
  const denied = new Set(decision.deniedColumns[table] ?? []);
  const fields = columns ? schema.filter((f) => columns.includes(f.name)) : schema;
  const items = fields.map((f) => {
    if (denied.has(f.name)) return nullColumn(f);
    const m = masks[f.name];
    return m ? maskExpression(f, m.rule, table) : quoteIdent(f.name);
  });
  return `SELECT ${items.join(', ')} FROM ${quoteIdent(table)}`;
}

/** True when `table` has anything to mask or hide for this decision. */
export const isGoverned = (d: Decision, table: string) =>
  Object.keys(d.masks[table] ?? {}).length > 0 || (d.deniedColumns[table]?.length ?? 0) > 0;

/** Rewrites `sql` (see the module comment). */
export function rewriteQuery(sql: string, analysis: QueryAnalysis, decision: Decision): Rewrite {
  const wild = analysis.scans.find((s) => s.members?.some((m) => isGoverned(decision, m)));
  if (wild) {
    throw new BigQueryError('accessDenied', `Access Denied: ${wild.table} reads ${wild.members!.find((m) => isGoverned(decision, m))}, which has masked or denied columns for you; masking through wildcard tables is not supported by bqgate yet. Query the tables by name.`);
  }
  const governed = analysis.scans.filter((s) => isGoverned(decision, s.table));
  if (governed.length === 0) return { sql, governedTables: [] };
  if (analysis.statementKind !== 'SELECT') {
    throw new BigQueryError('accessDenied', `Access Denied: ${analysis.statementKind} statements that read masked tables (${governed[0].table}) are not supported by bqgate yet; the statement was not run.`);
  }
  const bytes = Buffer.from(sql, 'utf8');
  const edits = governed.map((s) => {
    if (s.start === undefined || s.end === undefined) {
      throw new BigQueryError('accessDenied', `Access Denied: bqgate could not place the masking projection for ${s.table}; the query was not run.`);
    }
    if (s.timeTravel) {
      throw new BigQueryError('accessDenied', `Access Denied: FOR SYSTEM_TIME AS OF on ${s.table}, which has masked columns, is not supported by bqgate yet; the query was not run.`);
    }
    const after = bytes.subarray(s.end).toString('utf8');
    const alias = s.alias || s.table.split('.').pop()!;
    const text = `(${governedProjection(s.table, analysis, decision)})${hasExplicitAlias(after, alias) ? '' : ` AS ${quoteIdent(alias)}`}`;
    return { start: s.start, end: s.end, text };
  }).sort((x, y) => y.start - x.start);
  let out = bytes;
  let last = Infinity;
  for (const e of edits) {
    if (e.end > last) throw new BigQueryError('accessDenied', 'Access Denied: overlapping table references; bqgate could not rewrite the query safely.');
    out = Buffer.concat([out.subarray(0, e.start), Buffer.from(e.text, 'utf8'), out.subarray(e.end)]);
    last = e.start;
  }
  return { sql: out.toString('utf8'), governedTables: [...new Set(governed.map((s) => s.table))] };
}

/** Whether the text after a table path starts with an explicit alias (`AS x` or `x`). */
function hasExplicitAlias(after: string, alias: string): boolean {
  const rest = after.replace(/^(\s|--[^\n]*(\n|$)|#[^\n]*(\n|$)|\/\*[\s\S]*?\*\/)*/, '');
  if (/^AS\b/i.test(rest)) return true;
  const m = rest.match(/^(`[^`]+`|[A-Za-z_][A-Za-z0-9_]*)/);
  if (!m) return false;
  return m[1].replace(/`/g, '').toLowerCase() === alias.toLowerCase();
}
