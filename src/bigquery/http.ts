/**
 * HTTP plumbing shared by the gateway and the emulator, both of which serve the BigQuery REST
 * surface: the discovery document for `bq`, JSON bodies whatever the content type (`bq` and the SDK differ, and cancel sends none),
 * BigQuery error envelopes for every failure and for unknown paths, and row page tokens.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { BigQueryError, asBigQueryError } from './errors.js';
import { discoveryDocument } from './discovery.js';

/** Sends `e` as a BigQuery error envelope (with WWW-Authenticate on 401, RFC 6750 §3). */
export function sendError(reply: FastifyReply, e: BigQueryError): FastifyReply {
  if (e.reason === 'authError') reply.header('www-authenticate', 'Bearer realm="bqgate", error="invalid_token"');
  if (e.retryAfterS !== undefined) reply.header('retry-after', String(e.retryAfterS));
  return reply.code(e.httpStatus).type('application/json; charset=UTF-8').send(e.toEnvelope());
}

/** Installs the JSON body parser and envelope-producing error and not-found handlers on `app`. */
export function installBigQueryHttp(app: FastifyInstance, who: string): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => {
    const text = String(body ?? '');
    if (!text.trim()) return done(null, {});
    try { done(null, JSON.parse(text)); } catch { done(new BigQueryError('invalid', 'Request body is not valid JSON'), undefined); }
  });
  app.setErrorHandler((err, req, reply) => {
    const e = asBigQueryError(err);
    if (e.reason === 'internalError') req.log.error({ err }, 'unhandled error');
    return sendError(reply, e);
  });
  app.setNotFoundHandler((req, reply) => sendError(reply, new BigQueryError('notFound', `Not found: ${req.method} ${req.url.split('?')[0]} is not a BigQuery v2 method ${who} serves`)));
  // `bq` fetches the discovery document at the host root on every invocation (CONTRACT.md §1.2).
  app.get('/$discovery/rest', async (_req, reply) => {
    const doc = discoveryDocument();
    if (!doc) throw new BigQueryError('notFound', 'No BigQuery discovery document on this machine; set BQGATE_DISCOVERY_FILE or pass bq --discovery_file');
    return reply.type('application/json; charset=UTF-8').send(doc);
  });
}

/** Opaque row page token for the row offset `n` (tabledata.list, getQueryResults). */
export const pageToken = (n: number): string => Buffer.from(`row:${n}`).toString('base64url');

/** The row offset in a page token; undefined when absent; throws BigQueryError(invalid) when malformed. */
export function fromPageToken(t: string | undefined): number | undefined {
  if (!t) return undefined;
  const m = Buffer.from(t, 'base64url').toString().match(/^row:(\d+)$/);
  if (!m) throw new BigQueryError('invalid', 'Invalid page token');
  return Number(m[1]);
}
