/**
 * The columns of an EXTERNAL_QUERY (its inner statement runs in another database, so only BigQuery
 * can say what comes back): a dry run of `SELECT * FROM EXTERNAL_QUERY(connection, query[, options])` with the
 * gateway's credential (jobs.query with dryRun returns the result `schema`:
 * https://cloud.google.com/bigquery/docs/reference/rest/v2/jobs/query), cached for the TTL like
 * table schemas. The analyzer asks only for a connection the caller's policy allows (sql/tvfs).
 *
 * Errors: BigQueryError('notFound') when the upstream does not know the connection (404),
 * 'invalidQuery' with the upstream's message for a query it rejects (400), 'backendError' otherwise.
 */
import { BigQueryError } from '../bigquery/errors.js';
import type { BqField } from '../emulator/encode.js';
import type { Upstream } from '../upstream/index.js';
import { cachedFor } from './ttl.js';
import { encodeString } from '../sql/canonical.js';

export class ExternalSchemas {
  private cache = new Map<string, { at: number; info: Promise<BqField[]> }>();

  constructor(private readonly upstream: Upstream, private readonly ttlMs: number) {}

  /** `options`: the call's JSON options string (e.g. default_type_for_decimal_columns), passed on as written. */
  get(connection: string, query: string, projectId: string, options?: string): Promise<BqField[]> {
    return cachedFor(this.cache, JSON.stringify([projectId, connection, query, options ?? null]), this.ttlMs, () => this.fetch(connection, query, projectId, options));
  }

  private async fetch(connection: string, query: string, projectId: string, options?: string): Promise<BqField[]> {
    const sql = `SELECT * FROM EXTERNAL_QUERY(${[connection, query, ...(options === undefined ? [] : [options])].map(encodeString).join(', ')})`;
    const r = await this.upstream.call('POST', `/projects/${encodeURIComponent(projectId)}/queries`, { body: { query: sql, useLegacySql: false, dryRun: true } });
    const why = String(r.body?.error?.message ?? `HTTP ${r.status}`);
    if (r.status === 404) throw new BigQueryError('notFound', `Not found: connection ${connection} (the upstream's dry run of its EXTERNAL_QUERY: ${why}); the statement was not run.`);
    if (r.status === 400) throw new BigQueryError('invalidQuery', `EXTERNAL_QUERY on connection ${connection}: the upstream rejected its dry run: ${why}; the statement was not run.`, { location: 'q' });
    if (r.status >= 300 || !Array.isArray(r.body?.schema?.fields)) throw new BigQueryError('backendError', `Could not learn the columns of the EXTERNAL_QUERY on connection ${connection} from the upstream (${why}); the statement was not run.`);
    return r.body.schema.fields as BqField[];
  }
}
