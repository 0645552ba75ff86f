/**
 * The media upload endpoint through the gateway (load jobs of a local file: the Node SDK's
 * `table.load(localFile)` / `createWriteStream`, `bq load` of a local file), as
 * https://cloud.google.com/bigquery/docs/reference/api-uploads describes it:
 *
 * - `POST /upload/bigquery/v2/projects/{p}/jobs?uploadType=multipart`: the Job resource then the file;
 * - `POST …?uploadType=resumable` with the Job resource opens a session (200 + `Location`), then
 *   `PUT <Location>` with the bytes, whole or in `Content-Range` chunks (308 + `Range` until done).
 *
 * The job is decided as a jobs.insert load job (jobs.ts `nonQueryJob`) before any byte leaves;
 * this module only moves bytes: `parseUpload` reads the request, `UploadProxy.send` forwards the
 * decided job (multipart) or opens the upstream session (resumable) with the job's credential,
 * `UploadProxy.resume` forwards a chunk. The upstream's session URL never reaches the caller: the
 * caller gets the gateway's own URL with a gateway upload id (128 random bits) bound to the
 * principal that opened it — anyone else presenting it is refused. Sessions live in this process
 * (at most 256, 16 per principal, one hour each); a session's bytes are bounded by `maxBytes` in
 * total; a chunk's Content-Range is checked before it is forwarded.
 */
import { randomBytes } from 'node:crypto';
import type { AuthClient } from 'google-auth-library';
import { BigQueryError } from '../../bigquery/errors.js';
import { multipartParts, multipartBody } from '../../bigquery/multipart.js';
import { upstreamError, type Upstream } from '../../upstream/index.js';
import { enc, type Ctx } from '../../pipeline/context.js';

const MAX_SESSIONS = 256;
/** Open sessions one principal may hold, so that no caller can take every slot of MAX_SESSIONS. */
const MAX_SESSIONS_PER_PRINCIPAL = 16;
const SESSION_MS = 3_600_000;
/** A chunk's Content-Range as resumable uploads send it: `bytes F-L/TOTAL`, `bytes F-L/*`, or `*` for F-L when it only asks what was received. */
const CONTENT_RANGE = /^bytes (?:\d{1,15}-\d{1,15}|\*)\/(?:\d{1,15}|\*)$/;

/** What an upload request carries, read before the pipeline: the Job resource and the file (multipart) or chunk. */
export interface UploadRequest { job: any; media?: Buffer; mediaType?: string }

const jobJson = (b: Buffer) => {
  try { return JSON.parse(b.toString('utf8') || '{}'); } catch { throw new BigQueryError('invalid', "The upload's job metadata (the first part, or the resumable POST body) is not valid JSON."); }
};

/**
 * Reads an upload request: `POST …uploadType=multipart` → the job (part 1) and the file (part 2);
 * `POST …uploadType=resumable` → the job; `PUT` → the chunk. Throws invalid naming what is wrong.
 */
export function parseUpload(method: string, query: Record<string, string | undefined>, contentType: string | undefined, body: Buffer): UploadRequest {
  if (method === 'PUT') return { job: {}, media: body };
  if (query.uploadType === 'multipart') {
    const parts = multipartParts(body, contentType);
    if (parts.length !== 2) throw new BigQueryError('invalid', `A multipart upload has two parts, the job (JSON) and the file (got ${parts.length}).`);
    // The file's media type is forwarded in a part header the gateway writes: a plain type only.
    const type = parts[1].headers['content-type'];
    return { job: jobJson(parts[0].body), media: parts[1].body, mediaType: type && /^[\w.+-]+\/[\w.+-]+$/.test(type) ? type : undefined };
  }
  if (query.uploadType === 'resumable') return { job: jobJson(body) };
  throw new BigQueryError('invalid', `Unsupported uploadType ${JSON.stringify(query.uploadType ?? null)}: bqgate takes uploadType=multipart and uploadType=resumable (media uploads need the job resource).`);
}

interface Session {
  issuer: string; subject: string; projectId: string; jobId: string;
  /** The upstream's upload id (its session URL is rebuilt from it, on the upstream's own origin). */
  upstreamId: string; as: AuthClient; received: number; opened: number;
}

/** A resumable chunk's answer: incomplete (308, the `Range` received) or the finished upstream job. */
export type Resumed = { status: 308; range?: string } | { status: 200; job: any; projectId: string; jobId: string };

export class UploadProxy {
  private readonly sessions = new Map<string, Session>();
  constructor(private readonly upstream: Upstream, private readonly maxBytes: number) {}

  private tooBig(n: number) {
    return new BigQueryError('invalid', `The upload is ${n} bytes, more than bqgate's limit of ${this.maxBytes} bytes (BQGATE_MAX_BODY_BYTES).`);
  }

  /**
   * Throws invalid when the upload is larger than the limit: the file sent (multipart) or the size
   * a resumable session declares (X-Upload-Content-Length). Checked before the job is decided.
   */
  admit(c: Ctx): void {
    const up = c.req.upload!;
    if (up.media && up.media.length > this.maxBytes) throw this.tooBig(up.media.length);
    const size = Number(up.uploadLength ?? 0);
    if (!Number.isSafeInteger(size) || size < 0) throw new BigQueryError('invalid', `Invalid X-Upload-Content-Length ${String(up.uploadLength).slice(0, 40)}.`);
    if (size > this.maxBytes) throw this.tooBig(size);
  }

  /**
   * Forwards a decided load job (`body`: jobReference and configuration as the gateway sends
   * them) with the caller's upload, as `as`. Multipart: returns the upstream job. Resumable: opens
   * the upstream session and returns `{ session }`, the gateway URL (on the caller's origin) it PUTs to.
   */
  async send(c: Ctx, body: any, as: AuthClient): Promise<any> {
    const projectId = c.req.params.projectId!;
    const path = `/projects/${enc(projectId)}/jobs`;
    const up = c.req.upload!;
    this.admit(c);
    if (up.media) {
      const r = await this.upstream.call('POST', path, { root: '/upload/bigquery/v2', query: { uploadType: 'multipart' }, raw: multipartBody(body, up.media, up.mediaType), as });
      if (r.status >= 300) throw upstreamError(r);
      return r.body;
    }
    const size = Number(up.uploadLength ?? 0);
    const now = Date.now();
    for (const [k, s] of this.sessions) if (now - s.opened > SESSION_MS) this.sessions.delete(k);
    if (this.sessions.size >= MAX_SESSIONS) throw new BigQueryError('rateLimitExceeded', `Too many open upload sessions (${MAX_SESSIONS}); finish one or let it expire (one hour) first.`);
    const own = [...this.sessions.values()].filter((s) => s.issuer === c.principal.issuer && s.subject === c.principal.subject).length;
    if (own >= MAX_SESSIONS_PER_PRINCIPAL) throw new BigQueryError('rateLimitExceeded', `You have ${own} open upload sessions, bqgate's limit per principal (${MAX_SESSIONS_PER_PRINCIPAL}); finish one or let it expire (one hour) first.`);
    const r = await this.upstream.call('POST', path, { root: '/upload/bigquery/v2', query: { uploadType: 'resumable' }, body, as, headers: size ? { 'x-upload-content-length': String(size) } : {} });
    if (r.status >= 300) throw upstreamError(r);
    const upstreamId = r.headers?.location ? new URL(r.headers.location).searchParams.get('upload_id') : null;
    if (!upstreamId) throw new BigQueryError('backendError', 'The upstream opened no resumable upload session (no Location with an upload_id); the upload was not started.');
    const id = randomBytes(16).toString('base64url');
    this.sessions.set(id, { issuer: c.principal.issuer, subject: c.principal.subject, projectId, jobId: body.jobReference.jobId, upstreamId, as, received: 0, opened: now });
    return { session: `${up.origin}/upload/bigquery/v2/projects/${enc(projectId)}/jobs?uploadType=resumable&upload_id=${id}` };
  }

  /**
   * Forwards one `PUT` of a resumable session (`c.req.query.upload_id`, the gateway's id) with its
   * Content-Range; `admitted` is told the session's job id once the caller is found to own it
   * (before anything is sent). Throws notFound for an unknown or expired id, accessDenied when the
   * caller is not the principal that opened the session.
   */
  async resume(c: Ctx, admitted: (jobId: string) => void): Promise<Resumed> {
    const contentRange = c.req.upload?.contentRange;
    const id = c.req.query.upload_id ?? '';
    const s = this.sessions.get(id);
    if (!s || s.projectId !== c.req.params.projectId || Date.now() - s.opened > SESSION_MS) throw new BigQueryError('notFound', 'Not found: upload session (unknown, finished or expired upload_id). Start the upload again with uploadType=resumable.');
    if (s.issuer !== c.principal.issuer || s.subject !== c.principal.subject) {
      throw new BigQueryError('accessDenied', `Access Denied: this upload session was opened by another principal; ${c.principal.subject} may not write to it. Start your own upload.`);
    }
    if (contentRange !== undefined && !CONTENT_RANGE.test(contentRange)) {
      throw new BigQueryError('invalid', `Invalid Content-Range ${JSON.stringify(contentRange.slice(0, 60))}: a resumable chunk takes bytes FIRST-LAST/TOTAL, bytes FIRST-LAST/* or bytes */TOTAL.`);
    }
    admitted(s.jobId);
    const chunk = c.req.upload?.media ?? Buffer.alloc(0);
    if (s.received + chunk.length > this.maxBytes) { this.sessions.delete(id); throw this.tooBig(s.received + chunk.length); }
    const r = await this.upstream.call('PUT', `/projects/${enc(s.projectId)}/jobs`, {
      root: '/upload/bigquery/v2', query: { uploadType: 'resumable', upload_id: s.upstreamId }, as: s.as,
      raw: { data: chunk, contentType: 'application/octet-stream' }, headers: contentRange ? { 'content-range': contentRange } : {},
    });
    if (r.status === 308) {
      const m = /^bytes=0-(\d+)$/.exec(r.headers?.range ?? '');
      s.received = m ? Number(m[1]) + 1 : 0;
      return { status: 308, ...(m ? { range: `bytes=0-${m[1]}` } : {}) };
    }
    this.sessions.delete(id);
    if (r.status >= 300) throw upstreamError(r);
    return { status: 200, job: r.body, projectId: s.projectId, jobId: s.jobId };
  }
}
