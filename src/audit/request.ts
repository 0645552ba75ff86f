/**
 * One request's audit events, recorded as the pipeline goes: `request` first; `decision` as soon
 * as the policy decided; `upstream`, `delivery` (per page delivered) and `response` at the end.
 * `flush()` makes what is pending durable (the gateway calls it before anything goes upstream);
 * `finish()` before the response leaves. Both throw BigQueryError(backendError) when the log
 * cannot write, and the gateway then fails the request closed.
 */
import { createHash } from 'node:crypto';
import type { AuditLog } from './log.js';
import type { AuditEventInput, AuditEventType } from './events.js';

/** The audit-relevant outcome of a request so far (see context.ts AuditSummary). */
export interface RequestSummary {
  decision?: 'allow' | 'deny';
  matchedRules?: string[];
  reasons?: string[];
  policyVersion?: string;
  tables?: string[];
  /** The models the statement read (MODEL arguments, `project.dataset.model`), decided like tables. */
  models?: string[];
  columns?: string[];
  statementKind?: string;
  jobId?: string;
  upstreamSql?: string;
  /** The REST method sent upstream for a method that is no query (tables.delete, datasets.patch, …). */
  upstreamMethod?: string;
  labels?: Record<string, string>;
  rowsReturned?: number;
  detections?: Record<string, number>;
}

/** A streamed page's rows as the audit records them: how many, SHA-256 of their JSON (hex), the first ones. */
export interface DeliveredRows { count: number; sha256: string; sample: unknown[] }

export interface ResponseRecord { status: number; errorReason?: string; errorMessage?: string; durationMs: number; timings?: Record<string, number> }

type Base = Pick<AuditEventInput, 'requestId' | 'principal' | 'issuer' | 'actor' | 'sessionKey'>;

export class RequestRecorder {
  private pending: AuditEventInput[] = [];
  private decided = false;

  /** `rowsCap`: delivered rows recorded per page (0 records none; the digest covers all). */
  constructor(private readonly log: AuditLog, private readonly base: Base, private readonly rowsCap = 100) {}

  add(type: AuditEventType, data: Record<string, unknown>): void {
    this.pending.push({ ...this.base, type, data });
  }

  /** Adds the decision event once, when the summary holds one. */
  private decision(s: RequestSummary) {
    if (this.decided || !s.decision) return;
    this.decided = true;
    this.add('decision', {
      effect: s.decision, matchedRules: s.matchedRules ?? [], reasons: s.reasons ?? [], policyVersion: s.policyVersion,
      statementKind: s.statementKind, tables: s.tables ?? [], ...(s.models?.length ? { models: s.models } : {}), columns: s.columns ?? [],
    });
  }

  /** Makes the pending events (and the decision, if made) durable. */
  async flush(s: RequestSummary = {}): Promise<void> {
    this.decision(s);
    if (this.pending.length === 0) return;
    const batch = this.pending.splice(0);
    await this.log.append(batch);
  }

  /**
   * Records what went upstream, what was delivered and the response. `page`: the response body and
   * its serialization as sent (`bytes` and `sha256` are of that payload, UTF-8); `rows`, for a
   * page streamed without its rows as objects (deliver/stream.ts), their count, digest and sample.
   */
  async finish(s: RequestSummary, page: { body: unknown; payload: string | Buffer; rows?: DeliveredRows } | undefined, response: ResponseRecord): Promise<void> {
    this.decision(s);
    if (s.jobId || s.upstreamSql || s.upstreamMethod) this.add('upstream', { jobId: s.jobId, sql: s.upstreamSql, labels: s.labels, ...(s.upstreamMethod ? { method: s.upstreamMethod } : {}) });
    const rows = page?.rows ? undefined : (page?.body as { rows?: unknown[] } | undefined)?.rows;
    if (page && (page.rows || Array.isArray(rows))) {
      const fields = (page.body as { schema?: { fields?: Array<{ name: string }> } }).schema?.fields;
      const count = page.rows ? page.rows.count : rows!.length;
      this.add('delivery', {
        columns: fields?.map((f) => f.name) ?? [], rows: count, bytes: Buffer.byteLength(page.payload),
        sha256: createHash('sha256').update(page.payload).digest('hex'),
        // The rows alone (f/v cells as delivered), for comparing with a re-execution; the token the
        // caller may use for the next page, to place later pages (getQueryResults `pageToken`).
        rowsSha256: page.rows ? page.rows.sha256 : createHash('sha256').update(JSON.stringify(rows)).digest('hex'),
        nextPageToken: (page.body as { pageToken?: string }).pageToken,
        sample: (page.rows ? page.rows.sample : rows!).slice(0, this.rowsCap), sampleTruncated: count > this.rowsCap,
        ...(s.detections && Object.keys(s.detections).length ? { detections: s.detections } : {}),
      });
    }
    this.add('response', { ...response, durationMs: +response.durationMs.toFixed(3), ...(response.timings ? { timings: Object.fromEntries(Object.entries(response.timings).map(([k, v]) => [k, +v.toFixed(3)])) } : {}) });
    await this.flush(s);
  }
}
