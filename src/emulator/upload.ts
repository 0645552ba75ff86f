/**
 * The media upload endpoint for load jobs, as the clients use it
 * (https://cloud.google.com/bigquery/docs/reference/api-uploads):
 *
 * - `POST /upload/bigquery/v2/projects/{p}/jobs?uploadType=multipart`: a `multipart/related` body,
 *   the Job resource (JSON) then the file (the Node SDK's `table.load(localFile)` /
 *   `createWriteStream`, and `bq load` of an empty file);
 * - `POST …?uploadType=resumable` with the Job resource starts a session: 200 with a `Location`
 *   (this URL plus `upload_id`, 128 random bits); `PUT` that URL with the bytes, whole or in
 *   `Content-Range: bytes a-b/total` chunks (308 with `Range: bytes=0-b` until the last), or
 *   `Content-Range: bytes * /total` to ask how far it got (`bq load` of a local file).
 *
 * Then the load job runs as any job (server.ts). Bounded: a body or a session's total above
 * `maxBytes` is refused (invalid), at most 32 sessions are open, each for an hour.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { randomBytes } from 'node:crypto';
import { BigQueryError } from '../bigquery/errors.js';
import { multipartParts } from '../bigquery/multipart.js';
import { parseDeclared, DECLARED_HEADER, type Declared } from './guard.js';

type InsertJob = (projectId: string, body: any, declared?: Declared, upload?: Buffer) => Promise<unknown>;
type Req = FastifyRequest<{ Params: Record<string, string>; Querystring: Record<string, string | undefined>; Body: Buffer }>;

const MAX_SESSIONS = 32;
const SESSION_MS = 3_600_000;

interface Session { projectId: string; job: any; declared?: Declared; chunks: Buffer[]; received: number; opened: number }

const jobBody = (b: Buffer) => {
  try { return JSON.parse(b.toString('utf8') || '{}'); } catch { throw new BigQueryError('invalid', 'The upload\'s job metadata is not valid JSON.'); }
};

/** Registers the upload endpoint (own body parser: raw bytes up to `maxBytes`) on a scoped `app`. */
export function uploadRoutes(app: FastifyInstance, maxBytes: number, insertJob: InsertJob): void {
  const sessions = new Map<string, Session>();
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: maxBytes + 64 * 1024 }, (_req, body, done) => done(null, body));
  const path = '/upload/bigquery/v2/projects/:p/jobs';
  const tooBig = (n: number) => new BigQueryError('invalid', `The upload is ${n} bytes, more than the emulator's limit of ${maxBytes} bytes (BQGATE_EMULATOR_MAX_UPLOAD_BYTES).`);

  app.post(path, async (req: Req, reply: FastifyReply) => {
    const declared = parseDeclared(req.headers[DECLARED_HEADER]);
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const type = req.query.uploadType;
    if (type === 'multipart') {
      const parts = multipartParts(body, req.headers['content-type']);
      if (parts.length !== 2) throw new BigQueryError('invalid', `A multipart upload has two parts, the job and the file (got ${parts.length}).`);
      if (parts[1].body.length > maxBytes) throw tooBig(parts[1].body.length);
      return insertJob(req.params.p, jobBody(parts[0].body), declared, parts[1].body);
    }
    if (type === 'resumable') {
      const now = Date.now();
      for (const [k, s] of sessions) if (now - s.opened > SESSION_MS) sessions.delete(k);
      if (sessions.size >= MAX_SESSIONS) throw new BigQueryError('rateLimitExceeded', `Too many open upload sessions (${MAX_SESSIONS}); finish or let one expire first.`);
      const declaredSize = Number(req.headers['x-upload-content-length'] ?? 0);
      if (declaredSize > maxBytes) throw tooBig(declaredSize);
      const id = randomBytes(16).toString('base64url');
      sessions.set(id, { projectId: req.params.p, job: jobBody(body), declared, chunks: [], received: 0, opened: now });
      const host = req.headers.host ?? '127.0.0.1';
      return reply.header('location', `http://${host}/upload/bigquery/v2/projects/${encodeURIComponent(req.params.p)}/jobs?uploadType=resumable&upload_id=${id}`).send({});
    }
    throw new BigQueryError('invalid', `Unsupported uploadType ${type ?? '(none)'}: the emulator takes multipart and resumable uploads.`);
  });

  app.put(path, async (req: Req, reply: FastifyReply) => {
    const id = req.query.upload_id ?? '';
    const s = sessions.get(id);
    if (!s || s.projectId !== req.params.p) throw new BigQueryError('notFound', 'Not found: upload session (unknown, finished or expired upload_id).');
    const chunk = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const range = String(req.headers['content-range'] ?? '');
    const m = range.match(/^bytes (?:(\d+)-(\d+)|\*)\/(\d+|\*)$/);
    if (range && !m) throw new BigQueryError('invalid', `Invalid Content-Range ${range.slice(0, 60)}.`);
    if (m?.[1] !== undefined) {
      if (Number(m[1]) !== s.received) throw new BigQueryError('invalid', `Upload chunk starts at ${m[1]}, but ${s.received} bytes were received.`);
      s.chunks.push(chunk); s.received += chunk.length;
    } else if (!range || chunk.length) { s.chunks.push(chunk); s.received += chunk.length; }
    if (s.received > maxBytes) { sessions.delete(id); throw tooBig(s.received); }
    const total = m && m[3] !== '*' ? Number(m[3]) : range ? undefined : s.received;
    if (total === undefined || s.received < total) {
      if (s.received) reply.header('range', `bytes=0-${s.received - 1}`);
      return reply.code(308).send();
    }
    sessions.delete(id);
    return insertJob(s.projectId, s.job, s.declared, Buffer.concat(s.chunks));
  });
}
