/**
 * `deliver/`: upstream result pages → what the client receives.
 *
 * The rows were masked at the scan upstream, so delivery keeps the BigQuery row encoding and
 * reshapes only: every resource the caller receives is built from an allowlist of fields
 * (resources.ts) — the response `kind` of the method the client called, the job's original SQL,
 * id and owner in job resources — and the row count goes to the audit record. As a backstop it runs the content
 * detectors (detectors.ts) over the result columns the policy did not declare (`scan`: top-level
 * column indexes, from the job's delivery plan) and redacts what they find; the counts go into the
 * audit record.
 */
import { queryResponse, jobResource, tableDataList, type JobView } from './resources.js';
import { scanCell, type Detections, type Field } from './scan.js';

export { redact, luhn, type DetectorKind } from './detectors.js';
export * from './resources.js';
export { streamPage, capHead, sentPage, type StreamedPage, type StreamOptions, type RowsDigest } from './stream.js';
export type { Detections } from './scan.js';

/** Applies the backstop to `rows` (f/v encoded, schema `fields`) for the column indexes in `scan`. */
export function backstop(rows: any[] | undefined, fields: Field[] | undefined, scan: number[]): { rows: any[] | undefined; detections: Detections } {
  const detections: Detections = {};
  if (!rows || !fields || scan.length === 0) return { rows, detections };
  const out = rows.map((row) => ({
    f: row.f.map((cell: { v: unknown }, i: number) => (scan.includes(i) && fields[i] ? { v: scanCell(cell.v, fields[i], detections) } : cell)),
  }));
  return { rows: out, detections };
}

/**
 * A jobs.query or getQueryResults page for the client, built from the allowlist (resources.ts):
 * `ref` is the job reference the caller knows (default: the upstream's projectId, jobId,
 * location); `rows` counts the rows in this page.
 */
export function deliverPage(body: any, kind: 'bigquery#queryResponse' | 'bigquery#getQueryResultsResponse', scan: number[] = [], ref?: { projectId: string; jobId?: string; location?: string }): { body: any; rows: number; detections: Detections } {
  const up = body?.jobReference ?? {};
  const out = queryResponse(body ?? {}, kind, ref ?? { projectId: String(up.projectId ?? ''), ...(up.jobId ? { jobId: String(up.jobId) } : {}), ...(up.location ? { location: String(up.location) } : {}) });
  const b = backstop(out.rows, out.schema?.fields, scan);
  if (b.rows) out.rows = b.rows;
  return { body: out, rows: Array.isArray(out.rows) ? out.rows.length : 0, detections: b.detections };
}

/**
 * A job resource for the client (allowlisted, resources.ts): the caller's own job id, SQL,
 * labels and owner (principal email, else subject) as `user_email`, not the gateway's upstream
 * identity or the SQL it sent.
 */
export function deliverJob(job: any, view: JobView): any {
  return jobResource(job && typeof job === 'object' ? job : undefined, view);
}

/** A tabledata.list page built from a query page (masked reads of a table); `nextToken` the next page's token. */
export function tableDataFromQuery(body: any, totalRows: string | undefined, nextToken: string | undefined): any {
  return tableDataList({ totalRows: totalRows ?? body.totalRows, rows: body.rows ?? [], ...(nextToken ? { pageToken: nextToken } : {}) });
}
