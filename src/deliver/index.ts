/**
 * `deliver/`: upstream result pages → what the client receives.
 *
 * The rows were masked at the scan upstream, so delivery keeps the BigQuery row encoding and
 * reshapes only: the response `kind` of the method the client called, the job's original SQL and
 * owner in job resources, and the row count the audit records. As a backstop it runs the content
 * detectors (detectors.ts) over the result columns the policy did not declare (`scan`: top-level
 * column indexes, from the job's delivery plan) and redacts what they find; the counts go into the
 * audit record.
 */
import { pageToken } from '../bigquery/http.js';
import { redact, type DetectorKind } from './detectors.js';

export { redact, luhn, type DetectorKind } from './detectors.js';

export type Detections = Partial<Record<DetectorKind, number>>;

interface Field { type: string; mode?: string; fields?: Field[] }

/**
 * Redacts detected values inside one f/v cell of `field`'s type, counting them in `found`. Only
 * STRING leaves are scanned (an INT64 or a TIMESTAMP in µs can look like a card number).
 */
function scanCell(v: unknown, field: Field, found: Detections): unknown {
  if (v === null || v === undefined) return v;
  if (field.mode === 'REPEATED' && Array.isArray(v)) {
    const inner = { ...field, mode: 'NULLABLE' };
    return v.map((x) => ({ v: scanCell((x as { v: unknown }).v, inner, found) }));
  }
  if ((field.type === 'RECORD' || field.type === 'STRUCT') && Array.isArray((v as { f?: unknown }).f)) {
    return { f: (v as { f: Array<{ v: unknown }> }).f.map((c, i) => ({ v: field.fields?.[i] ? scanCell(c.v, field.fields[i], found) : c.v })) };
  }
  if (field.type === 'STRING' && typeof v === 'string') {
    const r = redact(v);
    for (const k of r.found) found[k] = (found[k] ?? 0) + 1;
    return r.text;
  }
  return v;
}

/** Applies the backstop to `rows` (f/v encoded, schema `fields`) for the column indexes in `scan`. */
export function backstop(rows: any[] | undefined, fields: Field[] | undefined, scan: number[]): { rows: any[] | undefined; detections: Detections } {
  const detections: Detections = {};
  if (!rows || !fields || scan.length === 0) return { rows, detections };
  const out = rows.map((row) => ({
    f: row.f.map((cell: { v: unknown }, i: number) => (scan.includes(i) && fields[i] ? { v: scanCell(cell.v, fields[i], detections) } : cell)),
  }));
  return { rows: out, detections };
}

/** A jobs.query or getQueryResults page for the client; `rows` counts the rows in this page. */
export function deliverPage(body: any, kind: 'bigquery#queryResponse' | 'bigquery#getQueryResultsResponse', scan: number[] = []): { body: any; rows: number; detections: Detections } {
  const out = { ...body, kind };
  if (out.jobComplete === undefined) out.jobComplete = false;
  const b = backstop(out.rows, out.schema?.fields, scan);
  if (b.rows) out.rows = b.rows;
  return { body: out, rows: Array.isArray(out.rows) ? out.rows.length : 0, detections: b.detections };
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
