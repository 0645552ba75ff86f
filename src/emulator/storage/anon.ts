/**
 * Query jobs' result tables, as BigQuery names them: a SELECT job without a `destinationTable`
 * writes its rows to an anonymous table `projects/P/datasets/_<40 hex>/tables/anon<40 hex>`, which
 * jobs.get reports as `configuration.query.destinationTable`, tables.get describes, and the
 * Storage Read API reads (https://cloud.google.com/bigquery/docs/writing-results#temporary_and_permanent_tables;
 * the Python client's `to_dataframe()` reads `job.destination` this way).
 *
 * Here the table is the job's result rows kept in memory (no copy): the dataset is one per project
 * (`_` + 40 hex of a per-emulator random salt and the project), the table id random (`anon` + 40 hex),
 * both fixed when the job finishes. An entry lives as long as its job (jobs.delete drops it).
 */
import { createHash, randomBytes } from 'node:crypto';
import type { DuckDBValue } from '@duckdb/node-api';
import type { BqField } from '../encode.js';
import type { TableMeta } from '../catalog.js';

/** How long BigQuery keeps a query's anonymous result table, ms (24 hours): tables.get's expirationTime. */
export const ANON_LIFETIME_MS = 24 * 3600 * 1000;

/** One kept result: the job it belongs to, its BigQuery schema, rows (DuckDB values in schema order), bytes the job processed, when it was made (ms). */
export interface AnonTable { jobId: string; schema: BqField[]; rows: DuckDBValue[][]; totalBytes: number; creationTime: number }

/** A table reference `{projectId, datasetId, tableId}`. */
export interface TableRef { projectId: string; datasetId: string; tableId: string }

export class AnonTables {
  private readonly salt = randomBytes(16).toString('hex');
  private readonly tables = new Map<string, AnonTable>();
  private readonly byJob = new Map<string, string>();

  /** The anonymous dataset of `projectId`: `_` + 40 hex characters. */
  dataset(projectId: string): string {
    return `_${createHash('sha256').update(`${this.salt}:${projectId}`).digest('hex').slice(0, 40)}`;
  }

  /** Keeps a finished SELECT job's result and answers its table reference. */
  add(projectId: string, t: AnonTable): TableRef {
    const ref = { projectId, datasetId: this.dataset(projectId), tableId: `anon${randomBytes(20).toString('hex')}` };
    const key = `${ref.projectId}.${ref.datasetId}.${ref.tableId}`;
    this.tables.set(key, t);
    this.byJob.set(`${projectId}/${t.jobId}`, key);
    return ref;
  }

  /** The kept result at `ref`, if any. */
  get(ref: TableRef): AnonTable | undefined {
    return this.tables.get(`${ref.projectId}.${ref.datasetId}.${ref.tableId}`);
  }

  /** The kept result at `ref` as catalog metadata (for tables.get and tabledata.list), if any. */
  meta(ref: TableRef): TableMeta | undefined {
    const t = this.get(ref);
    return t && { ...ref, schema: t.schema, numRows: t.rows.length, creationTime: t.creationTime, expirationTime: t.creationTime + ANON_LIFETIME_MS };
  }

  /** Drops the result of job `projectId/jobId` (jobs.delete). */
  dropJob(projectId: string, jobId: string): void {
    const key = this.byJob.get(`${projectId}/${jobId}`);
    if (key) { this.tables.delete(key); this.byJob.delete(`${projectId}/${jobId}`); }
  }
}
