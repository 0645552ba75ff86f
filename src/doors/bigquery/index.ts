/**
 * `rest/`: the BigQuery REST door. Routes every BigQuery v2 method (bigquery/index.ts ROUTES, the
 * catalogue of methods/ for the rest and any other path under /bigquery/v2, refused), the media
 * upload endpoint of load jobs (/upload/bigquery/v2/…/jobs), and bqgate's own REST API
 * (/bqgate/v1/…: approvals, audit re-execution, the console's API) into the pipeline
 * (pipeline/index.ts), and writes its answers: the resource as the exact bytes the audit hashed,
 * or the BigQuery error envelope. The operations the pipeline runs for this door's methods are
 * here too (jobs.ts, metadata.ts, methods/, upload.ts), BigQuery-resource-shaped plain data.
 *
 * Authentication: the caller's bearer token is verified once per HTTP request (`verify`), shared by
 * the rate limiter and the call.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { bearerToken, type Principal } from '../../auth/index.js';
import { ROUTES, sendError, type Operation } from '../../bigquery/index.js';
import type { Pipeline, PipelineCall } from '../../pipeline/index.js';
import { serverTiming } from '../../request-scope.js';
import { matchMethod, CATALOGUE_ROUTED } from './methods/index.js';
import { parseUpload } from './upload.js';

export { metadataOperations } from './metadata.js';
export { jobOperations, jobLabels, person } from './jobs.js';
export { methodOperations, METHODS, matchMethod } from './methods/index.js';
export { UploadProxy } from './upload.js';
export { findOwnJob, callerJobId } from './job-ids.js';

type Req = FastifyRequest<{ Params: any; Querystring: any; Body: any }>;

export interface RestDoorOptions {
  pipeline: Pipeline;
  /** The caller's verified principal (or why not), once per HTTP request. */
  verify(req: FastifyRequest): Promise<{ principal?: Principal; error?: unknown }>;
  /** The body limit of the upload endpoint, bytes. */
  maxBodyBytes: number;
}

/** Registers the REST door's routes on `app`. */
export async function installRestDoor(app: FastifyInstance, o: RestDoorOptions): Promise<void> {
  const handle = (op: Operation) => async (req: Req, reply: FastifyReply) => {
    const t0 = performance.now();
    const call = restCall(op, req, o);
    const r = await o.pipeline.run(call);
    reply.header('server-timing', serverTiming({ ...r.timings, total: performance.now() - t0 }));
    if (!r.ok) return sendError(reply, r.error);
    return reply.code(r.status).headers(r.headers ?? {}).type('application/json; charset=UTF-8').send(r.payload);
  };

  app.get('/bqgate/v1/approvals', handle('approvals.list'));
  app.get('/bqgate/v1/approvals/:approvalId', handle('approvals.get'));
  app.post('/bqgate/v1/approvals/:approvalId/approve', handle('approvals.approve'));
  app.post('/bqgate/v1/approvals/:approvalId/deny', handle('approvals.deny'));
  app.post('/bqgate/v1/audit/requests/:requestId/reexecute', handle('audit.reexecute'));
  app.get('/bqgate/v1/me', handle('console.me'));
  app.get('/bqgate/v1/sessions', handle('sessions.list'));
  app.get('/bqgate/v1/sessions/:sessionId', handle('sessions.get'));
  app.post('/bqgate/v1/policy/explain', handle('policy.explain'));
  app.post('/bqgate/v1/policy/diff', handle('policy.diff'));
  app.get('/bqgate/v1/audit/stats', handle('audit.stats'));
  // The media upload endpoint (upload.ts): raw bytes up to the gateway's body limit, read by `restCall`.
  await app.register(async (scoped) => {
    scoped.removeAllContentTypeParsers();
    scoped.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: o.maxBodyBytes }, (_req, body, done) => done(null, body));
    scoped.post('/upload/bigquery/v2/projects/:projectId/jobs', handle('jobs.upload'));
    scoped.put('/upload/bigquery/v2/projects/:projectId/jobs', handle('jobs.uploadChunk'));
  });
  for (const r of ROUTES) {
    for (const prefix of ['/bigquery/v2', '']) app.route({ method: r.method, url: prefix + r.path, handler: handle(r.op) });
  }
  // Every other BigQuery v2 method (methods/catalogue.ts), and any other path under it: refused with
  // accessDenied naming it, after authentication, audited — never a 404.
  const ALL: Array<'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'> = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];
  // Governed methods whose paths fastify cannot template (`…:getIamPolicy`) are matched here by the catalogue.
  const catalogueRoute = (req: Req, reply: FastifyReply) => {
    const m = matchMethod(req.method, req.url);
    if (!m || m.wrongVerb || !CATALOGUE_ROUTED.has(m.id)) return handle('method.refused')(req, reply);
    req.params = m.params;
    return handle(m.id as Operation)(req, reply);
  };
  for (const url of ['/bigquery/v2', '/bigquery/v2/*', '/projects/*']) app.route({ method: ALL, url, handler: catalogueRoute });
  app.route({ method: ['POST', 'PUT', 'PATCH', 'DELETE'], url: '/projects', handler: handle('method.refused') });
}

/** One HTTP request as a pipeline call: path and query parameters, body, session key, identity; an upload's bytes read here. */
function restCall(op: Operation, req: Req, o: RestDoorOptions): PipelineCall {
  const h = (k: string) => { const v = req.headers[k]; return Array.isArray(v) ? v[0] : v; };
  const query = (req.query ?? {}) as Record<string, string | undefined>;
  const call: PipelineCall = {
    door: 'rest', op, requestId: req.id, identity: { error: undefined }, params: (req.params ?? {}) as PipelineCall['params'], query, body: req.body ?? {},
    client: h('user-agent'), sessionKey: h('x-bqgate-session') || undefined, traceHeaders: req.headers, method: req.method, url: req.url,
  };
  // An upload's Job resource becomes the body; a malformed one is refused after authentication, audited.
  if (op === 'jobs.upload' || op === 'jobs.uploadChunk') {
    const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    call.body = {};
    try {
      const u = parseUpload(req.method, query, h('content-type'), raw);
      call.body = u.job;
      call.upload = { media: u.media, mediaType: u.mediaType, contentRange: h('content-range'), uploadLength: h('x-upload-content-length') };
    } catch (err) { call.unreadable = err; }
  }
  call.identity = async () => {
    const v = await o.verify(req);
    return v.principal ? { principal: v.principal, callerToken: bearerToken(req.headers.authorization) } : { error: v.error };
  };
  return call;
}
