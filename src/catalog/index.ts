/**
 * `catalog/`: table names → schemas, from the upstream's tables.get with the gateway's credential,
 * cached for `ttlMs` (default 60 000 ms), dataset table lists from tables.list (wildcard tables) and a
 * project's dataset ids from datasets.list (region-level INFORMATION_SCHEMA views).
 * BigQuery policy tags in the schema come through unchanged. Throws BigQueryError(notFound) for a
 * table or dataset the upstream does not have.
 */
import { pathParts, projectOf } from '../bigquery/table-path.js';
import { BigQueryError } from '../bigquery/errors.js';
import type { Upstream } from '../upstream/index.js';
import type { ModelInfo, RoutineInfo, TableInfo, TableSource } from '../sql/index.js';
import type { BqField } from '../emulator/encode.js';
import { fetchRoutine } from './routines.js';
import { ModelCache } from './models.js';
import { ExternalSchemas } from './external.js';
import { cachedFor } from './ttl.js';

export class Catalog implements TableSource {
  private cache = new Map<string, { at: number; info: Promise<TableInfo> }>();
  private lists = new Map<string, { at: number; ids: Promise<string[]> }>();
  private datasets = new Map<string, { at: number; info: Promise<string[]> }>();
  private routines = new Map<string, { at: number; info: Promise<RoutineInfo> }>();

  private models: ModelCache;
  private externals: ExternalSchemas;

  constructor(private readonly upstream: Upstream, private readonly ttlMs = 60_000) { this.models = new ModelCache(upstream, ttlMs); this.externals = new ExternalSchemas(upstream, ttlMs); }

  /** The columns of `SELECT * FROM EXTERNAL_QUERY(connection, query)` (a dry run upstream; external.ts). */
  externalSchema(connection: string, query: string, projectId: string, options?: string): Promise<BqField[]> { return this.externals.get(connection, query, projectId, options); }

  /** `project.dataset.model` → its columns (models.get; models.ts). */
  getModel(fullName: string): Promise<ModelInfo> { return this.models.get(fullName); }

  /** Forgets what is cached of a table (and its dataset's listing), e.g. after DDL through the gateway. */
  invalidate(fullName: string): void {
    this.cache.delete(fullName);
    const [p, d] = pathParts(fullName);
    this.lists.delete(`list:${p}.${d}`);
    this.datasets.delete(p); // CREATE / DROP SCHEMA through the gateway
  }

  /** `project.dataset.routine` → its definition (routines.get, routines.ts), cached for the TTL like schemas. */
  getRoutine(fullName: string): Promise<RoutineInfo> { return cachedFor(this.routines, fullName, this.ttlMs, () => fetchRoutine(this.upstream, fullName)); }

  /** `project.dataset.table` → schema. */
  getTable(fullName: string): Promise<TableInfo> { return cachedFor(this.cache, fullName, this.ttlMs, () => this.fetch(fullName)); }

  /**
   * INFORMATION_SCHEMA views (`project.scope.INFORMATION_SCHEMA.VIEW`) have no tables.get; their
   * schema comes from a dry run of `SELECT * FROM` the view, which also proves the upstream serves it.
   */
  private async fetchView(fullName: string): Promise<TableInfo> {
    const p = projectOf(fullName);
    const r = await this.upstream.call('POST', `/projects/${enc(p)}/queries`, { body: { query: `SELECT * FROM \`${fullName}\``, useLegacySql: false, dryRun: true } });
    if (r.status >= 300 || !r.body.schema?.fields) throw new BigQueryError('notFound', `Not found: ${fullName} is not available from the upstream.`);
    return { fullName, schema: r.body.schema.fields };
  }

  /** Table ids of `project.dataset` (tables.list, every page), cached like schemas. */
  listTables(projectId: string, datasetId: string): Promise<string[]> {
    const key = `list:${projectId}.${datasetId}`;
    const hit = this.lists.get(key);
    if (hit && Date.now() - hit.at < this.ttlMs) return hit.ids;
    const ids = (async () => {
      const out: string[] = [];
      let pageToken: string | undefined;
      do {
        const r = await this.upstream.call('GET', `/projects/${enc(projectId)}/datasets/${enc(datasetId)}/tables`, { query: { maxResults: '1000', pageToken } });
        if (r.status === 404) throw new BigQueryError('notFound', `Not found: Dataset ${projectId}:${datasetId}`);
        if (r.status >= 300) throw new BigQueryError('backendError', `Could not list the tables of ${projectId}.${datasetId} from the upstream (HTTP ${r.status}).`);
        out.push(...(r.body.tables ?? []).map((t: any) => String(t.tableReference.tableId)));
        pageToken = r.body.nextPageToken;
      } while (pageToken);
      return out;
    })();
    this.lists.set(key, { at: Date.now(), ids });
    ids.catch(() => this.lists.delete(key));
    return ids;
  }

  /**
   * Dataset ids of `projectId` (datasets.list, every page; hidden datasets, named with a leading
   * underscore, are not listed, as datasets.list leaves them out without `all`), cached like schemas.
   * https://cloud.google.com/bigquery/docs/reference/rest/v2/datasets/list
   */
  listDatasets(projectId: string): Promise<string[]> {
    return cachedFor(this.datasets, projectId, this.ttlMs, async () => {
      const out: string[] = [];
      let pageToken: string | undefined;
      do {
        const r = await this.upstream.call('GET', `/projects/${enc(projectId)}/datasets`, { query: { maxResults: '1000', pageToken } });
        if (r.status === 404) throw new BigQueryError('notFound', `Not found: Project ${projectId}`);
        if (r.status >= 300) throw new BigQueryError('backendError', `Could not list the datasets of ${projectId} from the upstream (HTTP ${r.status}).`);
        out.push(...(r.body.datasets ?? []).map((d: any) => String(d.datasetReference.datasetId)));
        pageToken = r.body.nextPageToken;
      } while (pageToken);
      return out;
    });
  }

  private async fetch(fullName: string): Promise<TableInfo> {
    if (pathParts(fullName).length === 4) return this.fetchView(fullName);
    const [p, d, t] = pathParts(fullName);
    const r = await this.upstream.call('GET', `/projects/${enc(p)}/datasets/${enc(d)}/tables/${enc(t)}`);
    if (r.status === 404) throw new BigQueryError('notFound', `Not found: Table ${p}:${d}.${t} was not found in location US`);
    if (r.status >= 300) throw new BigQueryError('backendError', `Could not read the schema of ${fullName} from the upstream (HTTP ${r.status}); the query was not run.`);
    return { fullName, schema: r.body.schema?.fields ?? [], ...(r.body.type === 'VIEW' && r.body.view?.query ? { viewQuery: String(r.body.view.query), viewLegacySql: r.body.view.useLegacySql === true } : {}) };
  }
}

const enc = encodeURIComponent;

