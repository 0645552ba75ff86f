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
 * principal that opened it — anyone else presenting it is refused — on the gateway's configured
 * public URL (never the request's Host). Sessions are kept in the state store (state/), so a
 * chunk may reach any replica (at most 256 open in all, 16 per principal, one hour each); a
 * session's bytes are bounded by `maxBytes` in total, and each chunk is checked before it is
 * forwarded: its bytes are exactly those its Content-Range names, from the offset received, within
 * the file's declared size.
 */
import { randomBytes } from 'node:crypto';
import type { AuthClient } from 'google-auth-library';
import { BigQueryError } from '../../bigquery/errors.js';
import { multipartParts, multipartBody } from '../../bigquery/multipart.js';
import { upstreamError, type Upstream } from '../../upstream/index.js';
import { enc, type Ctx } from '../../pipeline/context.js';
import type { UploadSession, UploadSessionTable } from '../../state/index.js';

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

/** A resumable chunk's answer: incomplete (308, the `Range` received) or the finished upstream job. */
export type Resumed = { status: 308; range?: string } | { status: 200; job: any; projectId: string; jobId: string };

/** A chunk's Content-Range read: the bytes it says it carries (`first`–`last`, absent for `bytes * /TOTAL`, a status query) and the total (absent for `/*`). */
interface ChunkRange { first?: number; last?: number; total?: number }

function chunkRange(header: string | undefined): ChunkRange | undefined {
  if (header === undefined) return undefined;
  if (!CONTENT_RANGE.test(header)) {
    throw new BigQueryError('invalid', `Invalid Content-Range ${JSON.stringify(header.slice(0, 60))}: a resumable chunk takes bytes FIRST-LAST/TOTAL, bytes FIRST-LAST/* or bytes */TOTAL.`);
  }
  const [, span, total] = /^bytes ([^/]+)\/(.+)$/.exec(header)!;
  const [first, last] = span === '*' ? [] : span.split('-').map(Number);
  return { ...(first !== undefined ? { first, last } : {}), ...(total !== '*' ? { total: Number(total) } : {}) };
}

const badChunk = (why: string) => new BigQueryError('invalid', `${why} The chunk was not forwarded; resume the upload from the offset the last answer's Range gave (bytes */TOTAL asks for it).`);

export class UploadProxy {
  /**
   * `sessions`: the state store's table (shared by replicas); `publicUrl`: the gateway's URL as
   * clients reach it (config BQGATE_PUBLIC_URL, default the listen address), the origin of every
   * session URL handed out — never the request's Host header.
   */
  constructor(private readonly upstream: Upstream, private readonly maxBytes: number, private readonly sessions: UploadSessionTable, private readonly publicUrl: string) {}

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
    this.declared(c);
  }

  /** The X-Upload-Content-Length of the opening POST (bytes), 0 when absent. */
  private declared(c: Ctx): number {
    const raw = c.req.upload!.uploadLength;
    const size = raw === undefined ? 0 : /^\d{1,15}$/.test(raw.trim()) ? Number(raw) : NaN;
    if (!Number.isSafeInteger(size)) throw new BigQueryError('invalid', `Invalid X-Upload-Content-Length ${JSON.stringify(String(raw).slice(0, 40))}: a byte count is expected.`);
    if (size > this.maxBytes) throw this.tooBig(size);
    return size;
  }

  /**
   * Forwards a decided load job (`body`: jobReference and configuration as the gateway sends
   * them) with the caller's upload, as `as`. Multipart: returns the upstream job. Resumable: opens
   * the upstream session, records it in the state store (bound to the caller, with the declared
   * size) and returns `{ session }`, the gateway URL (on `publicUrl`) the caller PUTs to. Throws
   * rateLimitExceeded past MAX_SESSIONS open in all or MAX_SESSIONS_PER_PRINCIPAL of the caller's.
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
    const size = this.declared(c);
    const now = Date.now();
    const session: UploadSession = {
      id: randomBytes(16).toString('base64url'), issuer: c.principal.issuer, subject: c.principal.subject, projectId, jobId: body.jobReference.jobId,
      upstreamId: '', ...(size ? { totalBytes: size } : {}), received: 0, openedAt: now, expiresAt: now + SESSION_MS,
    };
    // The caps are taken before the upstream is asked (a refused caller opens nothing there), and
    // the session is recorded once the upstream's id is known.
    const caps = { total: MAX_SESSIONS, perPrincipal: MAX_SESSIONS_PER_PRINCIPAL };
    const refused = await this.sessions.open(session, caps, now);
    if (refused?.cap === 'total') throw new BigQueryError('rateLimitExceeded', `Too many open upload sessions (${MAX_SESSIONS}, across all replicas); finish one or let it expire (one hour) first.`);
    if (refused) throw new BigQueryError('rateLimitExceeded', `You have ${refused.count} open upload sessions, bqgate's limit per principal (${MAX_SESSIONS_PER_PRINCIPAL}); finish one or let it expire (one hour) first.`);
    try {
      const r = await this.upstream.call('POST', path, { root: '/upload/bigquery/v2', query: { uploadType: 'resumable' }, body, as, headers: size ? { 'x-upload-content-length': String(size) } : {} });
      if (r.status >= 300) throw upstreamError(r);
      const upstreamId = r.headers?.location ? new URL(r.headers.location).searchParams.get('upload_id') : null;
      if (!upstreamId) throw new BigQueryError('backendError', 'The upstream opened no resumable upload session (no Location with an upload_id); the upload was not started.');
      await this.sessions.bind(session.id, upstreamId);
    } catch (err) {
      await this.sessions.remove(session.id).catch(() => {});
      throw err;
    }
    return { session: `${this.publicUrl}/upload/bigquery/v2/projects/${enc(projectId)}/jobs?uploadType=resumable&upload_id=${session.id}` };
  }

  /**
   * Forwards one `PUT` of a resumable session (`c.req.query.upload_id`, the gateway's id, looked
   * up in the state store: any replica serves any chunk) with its Content-Range. `admitted` is
   * told the session's job id once the caller is found to own it and returns the job's upstream
   * credential (before anything is sent). Throws notFound for an unknown or expired id,
   * accessDenied when the caller is not the principal that opened it, invalid for a chunk whose
   * bytes are not those its Content-Range names (more or fewer), that does not start at the offset
   * received, or that passes the file's size (declared, or stated by an earlier chunk) or the limit.
   */
  async resume(c: Ctx, admitted: (jobId: string) => Promise<AuthClient>): Promise<Resumed> {
    const id = c.req.query.upload_id ?? '';
    const s = await this.sessions.get(id, Date.now());
    if (!s || !s.upstreamId || s.projectId !== c.req.params.projectId) throw new BigQueryError('notFound', 'Not found: upload session (unknown, finished or expired upload_id). Start the upload again with uploadType=resumable.');
    if (s.issuer !== c.principal.issuer || s.subject !== c.principal.subject) {
      throw new BigQueryError('accessDenied', `Access Denied: this upload session was opened by another principal; ${c.principal.subject} may not write to it. Start your own upload.`);
    }
    const contentRange = c.req.upload?.contentRange;
    const range = chunkRange(contentRange);
    const chunk = c.req.upload?.media ?? Buffer.alloc(0);
    const total = this.chunkTotal(s, range, chunk.length);
    const as = await admitted(s.jobId);
    const r = await this.upstream.call('PUT', `/projects/${enc(s.projectId)}/jobs`, {
      root: '/upload/bigquery/v2', query: { uploadType: 'resumable', upload_id: s.upstreamId }, as,
      raw: { data: chunk, contentType: 'application/octet-stream' }, headers: contentRange ? { 'content-range': contentRange } : {},
    });
    if (r.status === 308) {
      const m = /^bytes=0-(\d+)$/.exec(r.headers?.range ?? '');
      // What the upstream acknowledges, never past what was sent through the gateway.
      const received = Math.min(m ? Number(m[1]) + 1 : 0, s.received + chunk.length);
      await this.sessions.progress(id, received, total);
      return { status: 308, ...(received ? { range: `bytes=0-${received - 1}` } : {}) };
    }
    await this.sessions.remove(id);
    if (r.status >= 300) throw upstreamError(r);
    return { status: 200, job: r.body, projectId: s.projectId, jobId: s.jobId };
  }

  /**
   * The byte bound of one chunk, checked before it is forwarded (the upstream's Range answer is
   * not relied on): its length is exactly what its Content-Range names, it starts where the
   * session stands, and it stays within the file's size and bqgate's limit. Returns the file's
   * size as now known (declared, or stated by this chunk), throws invalid otherwise.
   */
  private chunkTotal(s: UploadSession, range: ChunkRange | undefined, length: number): number | undefined {
    const stated = range?.total;
    if (stated !== undefined && s.totalBytes !== undefined && stated !== s.totalBytes) {
      throw badChunk(`The chunk's Content-Range says the file is ${stated} bytes, but it is ${s.totalBytes} bytes (declared by X-Upload-Content-Length, or stated by an earlier chunk).`);
    }
    const total = stated ?? s.totalBytes;
    if (total !== undefined && total > this.maxBytes) throw this.tooBig(total);
    let end: number; // one past the chunk's last byte
    if (!range) {
      // The whole file (or its rest) in one PUT, without Content-Range.
      end = s.received + length;
      if (total !== undefined && end !== total) throw badChunk(`The upload is ${total} bytes, but this PUT (without Content-Range) brings it to ${end} bytes.`);
    } else if (range.first === undefined) {
      // bytes */TOTAL asks how far the upload got (or ends it at TOTAL): it carries no bytes.
      if (length) throw badChunk(`A Content-Range of bytes */${stated ?? '*'} carries no bytes, but the chunk has ${length}.`);
      end = s.received;
    } else {
      const named = range.last! - range.first + 1;
      if (named < 1) throw badChunk(`Invalid Content-Range ${range.first}-${range.last}: the last byte is before the first.`);
      if (length !== named) throw badChunk(`The chunk is ${length} bytes, but its Content-Range (bytes ${range.first}-${range.last}) names ${named}.`);
      if (range.first !== s.received) throw badChunk(`The chunk starts at byte ${range.first}, but the upload has received ${s.received} bytes.`);
      end = range.last! + 1;
      if (total !== undefined && end > total) throw badChunk(`The chunk ends at byte ${range.last}, past the file's last byte (${total - 1}).`);
    }
    if (end > this.maxBytes) throw this.tooBig(end);
    return total;
  }
}
