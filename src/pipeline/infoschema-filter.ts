/**
 * INFORMATION_SCHEMA governed per principal (issue 20, part 2): the row filter the gateway places at
 * the scan of a dataset's metadata view, like a row access policy, so a principal sees only the
 * tables (and, in COLUMNS / COLUMN_FIELD_PATHS, the columns) its policy lets it read.
 *
 * Views: https://cloud.google.com/bigquery/docs/information-schema-tables,
 * https://cloud.google.com/bigquery/docs/information-schema-columns,
 * https://cloud.google.com/bigquery/docs/information-schema-column-field-paths.
 *
 * Decisions (see docs/data-teams.md):
 * - a table appears when `decide` allows a SELECT of it with no column (its deny rules, default
 *   deny and time windows apply as for a query);
 * - a column the policy denies (`deniedColumns`) never appears by name; a masked column does
 *   appear (BigQuery lists policy-tagged columns in COLUMNS too; only its values are masked);
 * - nothing allowed → `FALSE` (no rows), never an unfiltered view.
 *
 * Wired into `check` (pipeline/check.ts) for non-administrators; region-level views (`region-us`),
 * VIEWS (view_definition names base tables), SCHEMATA, ROUTINES, PARAMETERS and JOBS* stay refused to them (policy default deny, jobs-views.ts).
 */
import type { QueryAnalysis } from '../sql/index.js';
import { decide, decideStatement, type Policy } from '../policy/index.js';
import { quoteIdent } from '../sql/index.js';
import type { Principal } from '../auth/index.js';

type BqField = QueryAnalysis['tables'][string][number];

/** Views whose rows name a column (filtered on `(table_name, column_name)`); the rest on `table_name`. */
const COLUMN_VIEWS = new Set(['COLUMNS', 'COLUMN_FIELD_PATHS']);

/** A GoogleSQL string literal of `s` (escapes backslash and quote; no other byte is special inside '…'). */
const str = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\n/g, '\\n').replace(/\r/g, '\\r')}'`;

/**
 * What of a dataset `projectDataset` ("project.dataset") a principal may see: table name → the
 * names of its visible top-level columns. `tables` maps each table name of the dataset to its
 * schema (BigQuery `TableSchema.fields`, policy tags included).
 */
export function visibleTables(policy: Policy, principal: Principal, projectDataset: string, tables: Record<string, BqField[]>, now = Date.now()): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [name, schema] of Object.entries(tables)) {
    const full = `${projectDataset}.${name}`;
    const d = decide(policy, principal, { statementKind: 'SELECT', tablesRead: [full], tablesWritten: [], columnsRead: [], tables: { [full]: schema } }, now);
    if (d.effect !== 'allow') continue;
    const denied = new Set(d.deniedColumns[full] ?? []);
    out[name] = schema.map((f) => f.name).filter((c) => !denied.has(c));
  }
  return out;
}

/**
 * The GoogleSQL predicate over INFORMATION_SCHEMA.`view`'s rows that keeps only `visible`
 * (from visibleTables): `table_name IN (…)`, or for COLUMNS / COLUMN_FIELD_PATHS an OR of
 * `(table_name = 't' AND column_name IN (…))`; `FALSE` when nothing is visible. Names are compared
 * exactly (BigQuery table and column names in these views are as created).
 */
export function informationSchemaFilter(view: string, visible: Record<string, string[]>): string {
  const names = Object.keys(visible).sort();
  if (!COLUMN_VIEWS.has(view.toUpperCase())) return names.length ? `table_name IN (${names.map(str).join(', ')})` : 'FALSE';
  const parts = names.filter((t) => visible[t].length).map((t) => `(table_name = ${str(t)} AND column_name IN (${visible[t].map(str).join(', ')}))`);
  return parts.length ? parts.join(' OR ') : 'FALSE';
}

/** Dataset-level metadata views governed by a row filter; region-level views, VIEWS (its view_definition names base tables and columns) and JOBS* stay refused. */
const DATASET_VIEW = /^([^.]+)\.([^.]+)\.INFORMATION_SCHEMA\.(TABLES|COLUMNS|COLUMN_FIELD_PATHS|TABLE_OPTIONS|PARTITIONS)$/i;

/**
 * Columns of a governed view hidden from non-administrators whatever the filter keeps: TABLES.`ddl`
 * spells every column of a table (a denied one too) and a view's whole query (its base tables and
 * columns), so it is projected as NULL, like a denied column.
 */
const HIDDEN_COLUMNS: Record<string, string[]> = { TABLES: ['ddl'] };

/**
 * What the statement reads of governed metadata views: view full name → its row filter, and → the
 * columns projected as NULL (HIDDEN_COLUMNS of that view).
 */
export type InformationSchemaScope = { rest: QueryAnalysis; filters: Record<string, string>; hidden: Record<string, string[]> };

/**
 * For a non-administrator's single statement reading dataset-level INFORMATION_SCHEMA views
 * (`project.dataset.INFORMATION_SCHEMA.TABLES` …, any case; `region-*` scopes excluded): `rest`, the
 * analysis without those views (what the policy decides), and each view's row filter
 * (informationSchemaFilter over visibleTables of the dataset, listed and read from `catalog`).
 * A view's column appears only when the policy allows `SELECT column FROM view` (the analysis
 * reads through the view to its base columns, so a view never reveals a denied base column's name).
 * Undefined when nothing applies (scripts included: they stay decided as before, default deny).
 * Throws what the catalog throws (notFound for an unknown dataset).
 */
export async function informationSchemaScope(policy: Policy, principal: Principal, a: QueryAnalysis, catalog: Catalog, analyze: Analyze): Promise<InformationSchemaScope | undefined> {
  if ((a as { units?: unknown[] }).units?.length) return undefined;
  const views = [...new Set(a.tablesRead.filter((t) => DATASET_VIEW.test(t)))];
  if (!views.length) return undefined;
  const filters: Record<string, string> = {};
  const hidden: Record<string, string[]> = {};
  const perDataset = new Map<string, Promise<Record<string, string[]>>>(); // TABLES and COLUMNS of one dataset: listed and decided once
  for (const v of views) {
    const [, p, d, view] = DATASET_VIEW.exec(v)!;
    if (/^region-/i.test(d)) continue;
    const key = `${p}.${d}`;
    if (!perDataset.has(key)) perDataset.set(key, visibleInDataset(policy, principal, p, d, catalog, analyze));
    filters[v] = informationSchemaFilter(view, await perDataset.get(key)!);
    const cols = HIDDEN_COLUMNS[view.toUpperCase()];
    if (cols) hidden[v] = [...cols];
  }
  const governed = (t: string) => t in filters;
  const rest = { ...a, tablesRead: a.tablesRead.filter((t) => !governed(t)), columnsRead: a.columnsRead.filter((c) => !governed(c.table)) };
  return { rest, filters, hidden };
}

type Catalog = { listTables(p: string, d: string): Promise<string[]>; getTable(t: string): Promise<{ schema: BqField[]; viewQuery?: string }> };

/** visibleTables of dataset `p.d`, read from `catalog`, with a view's columns narrowed by readableViewColumns. */
async function visibleInDataset(policy: Policy, principal: Principal, p: string, d: string, catalog: Catalog, analyze: Analyze): Promise<Record<string, string[]>> {
  const ids = await catalog.listTables(p, d);
  const tables: Record<string, BqField[]> = {};
  const viewIds: string[] = [];
  for (const id of ids) {
    const info = await catalog.getTable(`${p}.${d}.${id}`);
    tables[id] = info.schema;
    if (info.viewQuery !== undefined) viewIds.push(id);
  }
  const visible = visibleTables(policy, principal, `${p}.${d}`, tables);
  for (const id of viewIds.filter((t) => visible[t])) visible[id] = await readableViewColumns(policy, principal, analyze, `${p}.${d}.${id}`, visible[id]);
  return visible;
}

/** Analyzes one statement (Analyzer.analyze's shape). */
type Analyze = (sql: string, projectId: string) => Promise<QueryAnalysis>;

/** The columns of view `full` the principal may SELECT, one analysis per column (fail closed: an error hides the column). */
async function readableViewColumns(policy: Policy, principal: Principal, analyze: Analyze, full: string, columns: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const c of columns) {
    const ok = await analyze(`SELECT ${quoteIdent(c)} FROM ${quoteIdent(full)}`, full.split('.')[0])
      .then((a) => decideStatement(policy, principal, a).effect === 'allow', () => false);
    if (ok) out.push(c);
  }
  return out;
}

/**
 * The decision on `rest`, with each governed view's filter as its row filter and its HIDDEN_COLUMNS
 * as denied columns (both placed at its scan by rewrite/).
 */
export function withInformationSchema<D extends { effect: string; rowFilters: Record<string, string[]>; deniedColumns: Record<string, string[]> }>(d: D, scope: InformationSchemaScope | undefined): D {
  if (!scope || d.effect !== 'allow') return d;
  return {
    ...d,
    rowFilters: { ...d.rowFilters, ...Object.fromEntries(Object.entries(scope.filters).map(([t, f]) => [t, [f]])) },
    deniedColumns: { ...d.deniedColumns, ...scope.hidden },
  };
}
