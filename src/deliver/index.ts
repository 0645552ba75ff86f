/**
 * `deliver/`: upstream result pages → what the client receives.
 *
 * The rows were masked at the scan upstream, so delivery keeps the BigQuery row encoding as it is
 * and only reshapes: the response `kind` of the method the client called, the job's original SQL
 * in job resources (not the rewritten one), and the row count the audit records.
 */
import { pageToken } from '../bigquery/http.js';

/** A jobs.query or getQueryResults page for the client; `rows` counts the rows in this page. */
export function deliverPage(body: any, kind: 'bigquery#queryResponse' | 'bigquery#getQueryResultsResponse'): { body: any; rows: number } {
  const out = { ...body, kind };
  if (out.jobComplete === undefined) out.jobComplete = false;
  return { body: out, rows: Array.isArray(out.rows) ? out.rows.length : 0 };
}

/**
 * A job resource for the client: the caller's own SQL in `configuration.query.query` and the
 * owner (principal email, else subject) as `user_email`, not the gateway's upstream identity.
 */
export function deliverJob(job: any, originalSql: string | undefined, owner?: string): any {
  if (!job || typeof job !== 'object') return job;
  const out = { ...job };
  if (owner !== undefined) out.user_email = owner;
  if (out.configuration?.query && originalSql !== undefined) {
    out.configuration = { ...out.configuration, query: { ...out.configuration.query, query: originalSql } };
  }
  return out;
}

/** A tabledata.list page built from a query page (masked reads of a table). */
export function tableDataFromQuery(body: any, totalRows: string | undefined, nextStart: number | undefined): any {
  const out: Record<string, unknown> = { kind: 'bigquery#tableDataList', totalRows: totalRows ?? body.totalRows, rows: body.rows ?? [] };
  if (nextStart !== undefined) out.pageToken = pageToken(nextStart);
  return out;
}
