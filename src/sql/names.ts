/**
 * BigQuery name resolution for what a statement names: `[project.]dataset.table`, backticked in any
 * grouping, wildcard tables, INFORMATION_SCHEMA views — all to fully qualified names, given the
 * job's project and default dataset
 * (https://cloud.google.com/bigquery/docs/reference/standard-sql/lexical#table_names).
 */
import { BigQueryError } from '../bigquery/errors.js';
import { writtenParts } from '../bigquery/table-path.js';
import type { AnalyzeInput } from './index.js';

/**
 * A DDL object name (table, view, function, schema) → fully qualified, leniently about the number of
 * parts; throws BigQueryError('invalidQuery') only for a `:` outside a domain-scoped project (writtenParts).
 */
export function qualifyObject(segments: string[], input: Pick<AnalyzeInput, 'projectId' | 'defaultDataset'>): string {
  const parts = writtenParts(segments);
  // a domain-scoped project is never a dataset: `example.com:p.ds` (a schema) is already qualified
  if (parts.length >= 3 || parts[0].includes(':')) return parts.join('.');
  if (parts.length === 2) return `${input.projectId}.${parts.join('.')}`;
  return input.defaultDataset ? `${input.defaultDataset.projectId ?? input.projectId}.${input.defaultDataset.datasetId}.${parts[0]}` : parts[0];
}

/** `segments` as written → `project.dataset.table`, per BigQuery's name resolution. */
export function qualify(segments: string[], input: Pick<AnalyzeInput, 'projectId' | 'defaultDataset'>): string {
  const parts = writtenParts(segments);
  const shown = parts.join('.');
  if (parts[0].includes(':') && !(parts.length === 3 || (parts.length === 4 && parts[2].toUpperCase() === 'INFORMATION_SCHEMA'))) {
    // A domain-scoped project (`example.com:p`) is only ever the project part of a full path.
    throw new BigQueryError('invalidQuery', `Table name "${shown}" names the domain-scoped project ${parts[0]} but is not project.dataset.table (or project.region.INFORMATION_SCHEMA.VIEW); the statement was not run.`, { location: 'q' });
  }
  if (parts.slice(0, -1).some((p) => p.includes('*')) || (parts[parts.length - 1].indexOf('*') !== parts[parts.length - 1].length - 1 && parts[parts.length - 1].includes('*'))) {
    throw new BigQueryError('invalidQuery', `Invalid wildcard table name ${shown}: only a trailing * in the table name is allowed.`, { location: 'q' });
  }
  const is = parts.findIndex((p) => p.toUpperCase() === 'INFORMATION_SCHEMA');
  if (is >= 0) {
    // INFORMATION_SCHEMA views: [[project.]dataset-or-region.]INFORMATION_SCHEMA.VIEW → project.scope.INFORMATION_SCHEMA.VIEW
    // At most project.scope before it: a longer prefix must not fall through to the default dataset's views.
    if (is !== parts.length - 2 || is > 2) throw new BigQueryError('invalidQuery', `Invalid INFORMATION_SCHEMA name ${shown}.`, { location: 'q' });
    const view = parts.slice(is).map((p, i) => (i === 0 ? 'INFORMATION_SCHEMA' : p.toUpperCase()));
    if (is === 2) return [...parts.slice(0, 2), ...view].join('.');
    if (is === 1) return [input.projectId, parts[0], ...view].join('.');
    if (!input.defaultDataset) throw new BigQueryError('invalidQuery', `${shown} needs a dataset or region qualifier (e.g. \`region-us\`.INFORMATION_SCHEMA.JOBS).`, { location: 'q' });
    return [input.defaultDataset.projectId ?? input.projectId, input.defaultDataset.datasetId, ...view].join('.');
  }
  if (parts.length === 3) return shown;
  if (parts.length === 2) return `${input.projectId}.${shown}`;
  if (parts.length === 1) {
    if (!input.defaultDataset) throw new BigQueryError('invalidQuery', `Table name "${shown}" missing dataset while no default dataset is set in the request.`, { location: 'q' });
    return `${input.defaultDataset.projectId ?? input.projectId}.${input.defaultDataset.datasetId}.${shown}`;
  }
  throw new BigQueryError('invalidQuery', `Table name "${shown}" has ${parts.length} parts; bqgate expects project.dataset.table.`, { location: 'q' });
}
