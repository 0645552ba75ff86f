/**
 * The one parser of BigQuery object paths (`project.dataset.table`, `project.dataset.routine`,
 * `project.scope.INFORMATION_SCHEMA.VIEW`, `project.dataset.table.column` …) for every part of bqgate
 * that takes a fully qualified name apart.
 *
 * A project ID may be domain-scoped, `domain:project` with dots in the domain
 * (`example.com:my-project`, https://cloud.google.com/bigquery/docs/reference/standard-sql/lexical#table_names
 * and https://cloud.google.com/resource-manager/docs/creating-managing-projects#identifying_projects):
 * splitting such a name on every `.` gives a different project, dataset and table than the one
 * BigQuery runs, so no code may split a qualified name but through here. Dataset IDs (letters,
 * digits, `_`), table, routine and column names cannot hold `:` or `.`, so the project is the
 * parts up to and including the one with the `:`, and the name is unambiguous.
 */
import { BigQueryError } from './errors.js';

/** `example.com:my-project`: a domain (dotted DNS labels) and a project ID. */
const DOMAIN_PROJECT = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+:[a-z][a-z0-9-]*$/i;

/**
 * `path` (dot-joined) → its parts with the project whole: `a.b.com:p.ds.t` → `['a.b.com:p', 'ds', 't']`,
 * `p.ds.t` → `['p', 'ds', 't']`. Lenient (never throws): policy globs (`*.ds.*`) and names that
 * qualifyPath already checked go through here.
 */
export function pathParts(path: string): string[] {
  const parts = path.split('.');
  const i = parts.findIndex((p) => p.includes(':'));
  return i <= 0 ? parts : [parts.slice(0, i + 1).join('.'), ...parts.slice(i + 1)];
}

/** A fully qualified `project.dataset.name` taken apart: its `project` whole, `rest` after `name` (a column, a view's parts). */
export interface TablePath { project: string; dataset: string; name: string; rest: string[] }

/**
 * A qualified name → project, dataset, name (and whatever follows). Throws
 * BigQueryError('invalidQuery') when it has fewer than three parts (`what` names the object for the
 * message, e.g. "Table").
 */
export function tablePath(full: string, what = 'Table'): TablePath {
  const [project, dataset, name, ...rest] = pathParts(full);
  if (!project || !dataset || !name) throw new BigQueryError('invalidQuery', `${what} name "${full}" is not project.dataset.name.`);
  return { project, dataset, name, rest };
}

/** The project of a qualified name (`example.com:p.ds.t` → `example.com:p`). */
export const projectOf = (full: string): string => pathParts(full)[0];

/** The last part of a qualified name (the table of `p.ds.t`). */
export const leafOf = (full: string): string => pathParts(full).pop()!;

/**
 * A path as written (its segments, each possibly holding dots when backquoted) → its parts with a
 * domain-scoped project whole, checked: a `:` may appear only in a domain-scoped project ID that is
 * the first written segment's start (`` `example.com:p`.ds.t `` or `` `example.com:p.ds.t` ``), so no
 * spelling split across backquotes (`` example.`com:p`.ds.t ``) can name a project other readers
 * would take apart differently. Throws BigQueryError('invalidQuery') otherwise.
 */
export function writtenParts(segments: string[]): string[] {
  const flat = segments.flatMap((s) => s.split('.'));
  const shown = flat.join('.');
  const colon = flat.findIndex((p) => p.includes(':'));
  if (colon < 0) return flat;
  const first = segments[0].split('.');
  const project = flat.slice(0, colon + 1).join('.');
  if (colon >= first.length || !DOMAIN_PROJECT.test(project) || flat.slice(colon + 1).some((p) => p.includes(':'))) {
    throw new BigQueryError('invalidQuery', `Name "${shown}" has a ":" outside a domain-scoped project ID (written example.com:project as the first part of the path, e.g. \`example.com:project.dataset.table\`); the statement was not run.`, { location: 'q' });
  }
  return [project, ...flat.slice(colon + 1)];
}
