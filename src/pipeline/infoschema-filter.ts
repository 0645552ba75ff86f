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
 * - nothing allowed → `FALSE` (no rows), never an unfiltered view;
 * - a region-level view (`region-us.INFORMATION_SCHEMA.TABLES` …) is filtered over every dataset of
 *   the project the catalog lists; SCHEMATA, ROUTINES and PARAMETERS keep the datasets the
 *   principal may read some table of; VIEWS keeps the readable views;
 * - text that spells what the filter hides (TABLES.ddl, VIEWS.view_definition, a routine's body) is
 *   NULL (SHAPES below);
 * - the JOBS views keep the principal's own jobs (jobs-views.ts).
 *
 * Wired into `check` (pipeline/check.ts) for non-administrators, single statements and scripts; other metadata views (e.g.
 * TABLE_STORAGE, OBJECT_PRIVILEGES) stay refused to them (policy default deny), JOBS_BY_FOLDER,
 * JOBS_BY_ORGANIZATION and JOBS_TIMELINE* too (jobs-views.ts).
 */
import type { QueryAnalysis } from '../sql/index.js';
import { decide, decideStatement, type Policy } from '../policy/index.js';
import { quoteIdent } from '../sql/index.js';
import type { Principal } from '../auth/index.js';
import { OWN_JOBS_VIEW, ownJobs } from './jobs-views.js';

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

/**
 * How a governed view's rows name what they describe (each view's BigQuery page): the column
 * holding the dataset, whether rows are per table (`table_name`; COLUMN_VIEWS' also per column),
 * and the columns projected as NULL for non-administrators whatever the filter keeps:
 * - TABLES.`ddl` spells every column of a table (a denied one too) and a view's whole query;
 * - VIEWS.`view_definition` names a view's base tables and columns (what the view hides);
 * - ROUTINES.`routine_definition` and `ddl` carry a routine's body, which reads tables the
 *   caller may not (the gateway refuses a call whose body reads what it may not, sql/routines.ts).
 * SCHEMATA, ROUTINES and PARAMETERS rows are per dataset: kept where the principal may read
 * some table of the dataset (https://cloud.google.com/bigquery/docs/information-schema-datasets-schemata,
 * https://cloud.google.com/bigquery/docs/information-schema-routines,
 * https://cloud.google.com/bigquery/docs/information-schema-parameters,
 * https://cloud.google.com/bigquery/docs/information-schema-views).
 */
const SHAPES: Record<string, { dataset: string; perTable: boolean; hidden?: string[] }> = {
  TABLES: { dataset: 'table_schema', perTable: true, hidden: ['ddl'] },
  COLUMNS: { dataset: 'table_schema', perTable: true },
  COLUMN_FIELD_PATHS: { dataset: 'table_schema', perTable: true },
  TABLE_OPTIONS: { dataset: 'table_schema', perTable: true },
  PARTITIONS: { dataset: 'table_schema', perTable: true },
  VIEWS: { dataset: 'table_schema', perTable: true, hidden: ['view_definition'] },
  SCHEMATA: { dataset: 'schema_name', perTable: false },
  ROUTINES: { dataset: 'routine_schema', perTable: false, hidden: ['routine_definition', 'ddl'] },
  PARAMETERS: { dataset: 'specific_schema', perTable: false },
};

/** Metadata views governed by a row filter, qualified by a dataset or a region (`region-us`: every dataset of the project). */
const GOVERNED_VIEW = new RegExp(`^([^.]+)\\.([^.]+)\\.INFORMATION_SCHEMA\\.(${Object.keys(SHAPES).join('|')})$`, 'i');

/** One dataset's predicate over `view`'s rows: informationSchemaFilter for per-table views, else TRUE when anything is visible. */
const datasetFilter = (view: string, visible: Record<string, string[]>) =>
  (SHAPES[view].perTable ? informationSchemaFilter(view, visible) : Object.keys(visible).length ? 'TRUE' : 'FALSE');

/**
 * The predicate over a region-level `view`'s rows (every dataset of the project): an OR over the
 * datasets with anything visible of `(<dataset column> = 'd' AND <its datasetFilter>)`; `FALSE`
 * when none has. `byDataset`: dataset id → visibleTables of it.
 */
export function regionFilter(view: string, byDataset: Record<string, Record<string, string[]>>): string {
  const shape = SHAPES[view.toUpperCase()];
  const parts = Object.keys(byDataset).sort().flatMap((d) => {
    const f = datasetFilter(view.toUpperCase(), byDataset[d]);
    if (f === 'FALSE') return [];
    return [f === 'TRUE' ? `${shape.dataset} = ${str(d)}` : `(${shape.dataset} = ${str(d)} AND (${f}))`];
  });
  return parts.length ? parts.join(' OR ') : 'FALSE';
}

/**
 * What the statement reads of governed metadata views: view full name → its row filter, and → the
 * columns projected as NULL (SHAPES' hidden, ownJobs' for JOBS).
 */
export type InformationSchemaScope = { rest: QueryAnalysis; filters: Record<string, string>; hidden: Record<string, string[]> };

/** What informationSchemaScope reads: the catalog, the analyzer, and the ids of the principal's own jobs in a project (the job store). */
export interface ScopeDeps { catalog: Catalog; analyze: Analyze; ownJobIds(projectId: string): Promise<string[]> }

/**
 * For a non-administrator's single statement reading governed INFORMATION_SCHEMA views (any case):
 * `rest`, the analysis without those views (what the policy decides), and each view's row filter:
 * - a dataset's view (`project.dataset.INFORMATION_SCHEMA.TABLES` …): datasetFilter over
 *   visibleTables of the dataset, listed and read from the catalog;
 * - a region's view (`project.region-us.INFORMATION_SCHEMA.TABLES` …): regionFilter over every
 *   dataset `catalog.listDatasets` lists (a dataset gone between listing and reading shows nothing);
 * - JOBS, JOBS_BY_USER, JOBS_BY_PROJECT of a region: the principal's own jobs (jobs-views.ts ownJobs).
 * A view's column appears only when the policy allows `SELECT column FROM view` (the analysis
 * reads through the view to its base columns, so a view never reveals a denied base column's name).
 * A script (`units`) is scoped as one statement: each view any of its statements reads gets the
 * same filter and hidden columns at every scan of it (the filter depends on the principal and the
 * view only, so it holds in every statement; rewrite/ places it at each scan in the whole text, a
 * temp table filled, a FOR loop iterated or an EXECUTE IMMEDIATE of a literal included), and
 * `rest` drops the views from each unit as from the whole.
 * Undefined when nothing applies. Throws what the catalog throws (notFound for an unknown dataset).
 */
export async function informationSchemaScope(
  policy: Policy, principal: Principal, a: QueryAnalysis, deps: ScopeDeps,
): Promise<InformationSchemaScope | undefined> {
  const views = [...new Set(a.tablesRead.filter((t) => GOVERNED_VIEW.test(t) || OWN_JOBS_VIEW.test(t)))];
  if (!views.length) return undefined;
  const filters: Record<string, string> = {};
  const hidden: Record<string, string[]> = {};
  const perDataset = new Map<string, Promise<Record<string, string[]>>>(); // TABLES and COLUMNS of one dataset: listed and decided once
  const visibleIn = (p: string, d: string) => {
    if (!perDataset.has(`${p}.${d}`)) perDataset.set(`${p}.${d}`, visibleInDataset(policy, principal, p, d, deps.catalog, deps.analyze));
    return perDataset.get(`${p}.${d}`)!;
  };
  for (const v of views) {
    const jobs = OWN_JOBS_VIEW.exec(v);
    if (jobs) {
      ({ filter: filters[v], hidden: hidden[v] } = ownJobs(await deps.ownJobIds(jobs[1])));
      continue;
    }
    const [, p, d, name] = GOVERNED_VIEW.exec(v)!;
    const view = name.toUpperCase();
    if (/^region-/i.test(d)) {
      const byDataset: Record<string, Record<string, string[]>> = {};
      for (const id of await deps.catalog.listDatasets(p)) byDataset[id] = await visibleIn(p, id).catch((e) => (e?.reason === 'notFound' ? {} : Promise.reject(e)));
      filters[v] = regionFilter(view, byDataset);
    } else filters[v] = datasetFilter(view, await visibleIn(p, d));
    if (SHAPES[view].hidden) hidden[v] = [...SHAPES[view].hidden!];
  }
  const without = <U extends Pick<QueryAnalysis, 'tablesRead' | 'columnsRead'>>(u: U): U =>
    ({ ...u, tablesRead: u.tablesRead.filter((t) => !(t in filters)), columnsRead: u.columnsRead.filter((c) => !(c.table in filters)) });
  const rest = a.units?.length ? { ...without(a), units: a.units.map(without) } : without(a);
  return { rest, filters, hidden };
}

type Catalog = { listDatasets(p: string): Promise<string[]>; listTables(p: string, d: string): Promise<string[]>; getTable(t: string): Promise<{ schema: BqField[]; viewQuery?: string }> };

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
 * The decision on `rest`, with each governed view's filter as its row filter and its hidden columns
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
