/**
 * The MCP front door: `POST /mcp` (Streamable HTTP) serving both protocol eras from one endpoint,
 * on the official TypeScript SDK v2 (@modelcontextprotocol/server):
 *
 * - 2025-era (2025-06-18, 2025-11-25): `initialize` opens a session (`Mcp-Session-Id`) bound to the
 *   principal that opened it — another principal's token presenting it is refused (403); DELETE ends
 *   it; GET (a standalone SSE stream) answers 405, as the spec allows. Sessions live in the state
 *   store (sessions.ts), so any replica sharing it serves them; each request runs on a fresh server
 *   instance over the SDK's stateless transport once the session is checked.
 *   https://modelcontextprotocol.io/specification/2025-11-25/basic/transports#streamable-http
 * - 2026-07-28: stateless, `server/discover`, the per-request `_meta` envelope and its
 *   `Mcp-Method` / `Mcp-Name` header checks, `resultType`, `cacheScope: "private"` — the SDK's
 *   `createMcpHandler` (legacy: 'reject'), which answers the spec's errors itself.
 *
 * Before either: the Origin is checked (a foreign one gets 403: DNS rebinding), then the bearer
 * token (mcpauth's `McpAuth.verify`: 401 with `WWW-Authenticate: Bearer resource_metadata=…`).
 * Refusals at this edge are recorded through the pipeline like any refused request. A tool call
 * runs as pipeline calls (tools.ts), so it is governed and audited exactly as REST calls are.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Readable } from 'node:stream';
import { createMcpHandler, isLegacyRequest, isInitializeRequest, WebStandardStreamableHTTPServerTransport, CLIENT_INFO_META_KEY, PROTOCOL_VERSION_META_KEY } from '@modelcontextprotocol/server';
import { BigQueryError, asBigQueryError } from '../../bigquery/index.js';
import type { Principal } from '../../auth/index.js';
import type { PolicyStore } from '../../policy/store.js';
import type { McpSessionTable } from '../../state/index.js';
import type { Pipeline } from '../../pipeline/index.js';
import type { McpAuth, McpAuthResult } from './auth.js';

export { createMcpAuth, type McpAuth } from './auth.js';
import { buildServer, type Caller } from './server.js';
import { DEFAULT_CAPS, type PageCaps } from './results.js';
import { legacySessions, DEFAULT_SESSION_CAPS, type LegacySession } from './sessions.js';

export interface McpDoorDeps {
  pipeline: Pipeline;
  auth: McpAuth;
  /**
   * The request's token verification (`auth.verify` of its Authorization header), run once per
   * request and shared with the rate limiter's key; `auth.verify` itself when absent.
   */
  verify?: (req: FastifyRequest) => Promise<McpAuthResult>;
  policies: PolicyStore;
  /** Legacy sessions, in the state store the replicas share (State.mcpSessions). */
  sessions: McpSessionTable;
  /** The gateway's version (serverInfo). */
  version: string;
  /** Result page caps (rows, bytes); DEFAULT_CAPS otherwise. */
  caps?: PageCaps;
  /**
   * Legacy sessions: at most `maxSessions` open and `maxSessionsPerPrincipal` per principal across
   * the replicas (opening one more closes the least recently used — the caller's own when it is at
   * its cap, so one token cannot push out everyone else's); idle ones end after `sessionIdleMs`.
   */
  maxSessions?: number;
  maxSessionsPerPrincipal?: number;
  sessionIdleMs?: number;
}

const header = (req: FastifyRequest, name: string) => { const v = req.headers[name]; return Array.isArray(v) ? v[0] : v; };
const rpcError = (code: number, message: string) => ({ jsonrpc: '2.0', id: null, error: { code, message } });

export async function installMcpDoor(app: FastifyInstance, d: McpDoorDeps): Promise<void> {
  const caps = d.caps ?? DEFAULT_CAPS;
  const sessions = legacySessions(d.sessions, {
    total: d.maxSessions ?? DEFAULT_SESSION_CAPS.total, perPrincipal: d.maxSessionsPerPrincipal ?? DEFAULT_SESSION_CAPS.perPrincipal, idleMs: d.sessionIdleMs ?? DEFAULT_SESSION_CAPS.idleMs,
  });
  const deps = { pipeline: d.pipeline, policy: () => d.policies.current(), caps, version: d.version };
  const modern = createMcpHandler((ctx) => buildServer(deps, (ctx.authInfo?.extra?.caller as Caller).principal).server, { legacy: 'reject', responseMode: 'json' });
  d.auth.install(app);
  app.addHook('onClose', async () => { await modern.close(); });

  const verify = d.verify ?? ((req: FastifyRequest) => d.auth.verify(req.headers.authorization));

  /**
   * Records a refusal at the door through the pipeline and answers it: under `principal` when the
   * token verified (insufficient scope, another principal's session: the refusal is the request's,
   * in the caller's session), else as an unauthenticated request. When the audit log cannot record
   * it, the answer is the pipeline's backendError (503) instead.
   */
  async function refuse(req: FastifyRequest, reply: FastifyReply, status: number, error: BigQueryError, body: unknown, headers: Record<string, string> = {}, extra: Record<string, unknown> = {}, principal?: Principal) {
    const r = await d.pipeline.run({
      door: 'mcp', op: 'method.refused', identity: principal ? { principal } : { error }, unreadable: principal ? error : undefined,
      requestId: req.id, params: {}, client: header(req, 'user-agent'), method: req.method, url: '/mcp', sessionKey: header(req, 'x-bqgate-session'),
      requestAudit: { rpcMethod: (req.body as any)?.method, tool: (req.body as any)?.params?.name, ...extra },
    });
    if (!r.ok && r.error !== error) return reply.code(r.error.httpStatus).type('application/json').send(rpcError(-32603, r.error.message));
    return reply.code(status).headers(headers).type('application/json').send(body);
  }

  /** The edge checks every /mcp request passes: Origin, then the bearer token. */
  async function admit(req: FastifyRequest, reply: FastifyReply): Promise<{ principal: Principal; token: string } | undefined> {
    const origin = header(req, 'origin');
    if (!d.auth.originAllowed(origin)) {
      const msg = `Forbidden: Origin ${JSON.stringify(origin)} is not allowed on ${d.auth.resource} (DNS rebinding protection; the allowed origins are configured on the gateway).`;
      await refuse(req, reply, 403, new BigQueryError('accessDenied', msg), rpcError(-32600, msg), {}, { origin });
      return undefined;
    }
    const v = await verify(req);
    if (!v.ok) {
      const e = v.error instanceof BigQueryError ? v.error : new BigQueryError(v.status === 403 ? 'accessDenied' : 'authError', String((v.error as Error)?.message ?? 'unauthenticated'));
      await refuse(req, reply, v.status, e, v.body, v.headers, {}, v.principal);
      return undefined;
    }
    return { principal: v.principal, token: v.token };
  }

  const webRequest = (req: FastifyRequest) => {
    const headers = new Headers();
    for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers.set(k, Array.isArray(v) ? v.join(', ') : String(v));
    const body = req.method === 'POST' ? JSON.stringify(req.body ?? null) : undefined;
    return new Request(new URL(req.url, d.auth.resource).href, { method: req.method, headers, body });
  };

  const send = async (reply: FastifyReply, res: Response) => {
    reply.code(res.status);
    res.headers.forEach((v, k) => { reply.header(k, v); });
    if (!res.body) return reply.send('');
    if ((res.headers.get('content-type') ?? '').includes('text/event-stream')) return reply.send(Readable.fromWeb(res.body as never));
    return reply.send(await res.text());
  };

  const traceHeaders = (req: FastifyRequest) => ({ traceparent: req.headers.traceparent, tracestate: req.headers.tracestate });

  /** The caller of this request, as the tools see it (authInfo.extra.caller). */
  const authInfo = (who: { principal: Principal; token: string }, caller: Omit<Caller, 'principal' | 'token' | 'calls'>) => ({
    token: who.token, clientId: who.principal.subject, scopes: [] as string[], extra: { caller: { ...caller, principal: who.principal, token: who.token, calls: { n: 0 } } },
  });

  /**
   * Failures before or outside the door's handlers on /mcp (the rate limit's 429, an unparsable
   * body) as JSON-RPC error bodies, not BigQuery ones: 429 keeps its Retry-After header (set by the
   * rate limiter) and says when to retry in `error.data`; an unparsable body is the spec's -32700.
   * https://www.jsonrpc.org/specification#error_object
   */
  const rpcFailure = (err: unknown, req: FastifyRequest, reply: FastifyReply) => {
    const e = asBigQueryError(err);
    const id = (req.body as { id?: unknown } | undefined)?.id ?? null;
    const code = e.reason === 'invalid' && /not valid JSON/.test(e.message) ? -32700 : e.httpStatus === 429 ? -32000 : e.httpStatus >= 500 ? -32603 : -32600;
    const retryAfter = Number(reply.getHeader('retry-after')) || undefined;
    if (e.reason === 'internalError') req.log.error({ err }, 'unhandled error on /mcp');
    return reply.code(e.httpStatus).type('application/json').send({ jsonrpc: '2.0', id, error: { code, message: e.message, data: { reason: e.reason, ...(retryAfter ? { retryAfterSeconds: retryAfter } : {}) } } });
  };

  await app.register(async (mcp) => {
    mcp.setErrorHandler(rpcFailure);
    mcp.post('/mcp', async (req, reply) => {
      const who = await admit(req, reply);
      if (!who) return reply;
      const request = webRequest(req);
      if (!(await isLegacyRequest(request, req.body))) {
        const meta = (req.body as any)?.params?._meta ?? {};
        const ci = meta[CLIENT_INFO_META_KEY];
        const caller = { requestId: req.id, era: 'modern' as const, protocolVersion: meta[PROTOCOL_VERSION_META_KEY] ?? header(req, 'mcp-protocol-version'), client: ci ? `${ci.name}/${ci.version}` : header(req, 'user-agent'), sessionKey: header(req, 'x-bqgate-session'), traceHeaders: traceHeaders(req) };
        return send(reply, await modern.fetch(request, { parsedBody: req.body, authInfo: authInfo(who, caller) }));
      }
      const sid = header(req, 'mcp-session-id');
      let session: LegacySession;
      if (sid) {
        const found = await sessions.find(sid, who.principal);
        if (!found.ok && found.why === 'unknown') return reply.code(404).type('application/json').send(rpcError(-32001, 'Session not found: initialize a new session.'));
        if (!found.ok) {
          const msg = 'Forbidden: this Mcp-Session-Id was opened by another principal; a session is bound to the token\'s subject that initialized it.';
          return refuse(req, reply, 403, new BigQueryError('accessDenied', msg), rpcError(-32600, msg), {}, { presentedBy: who.principal.subject }, who.principal);
        }
        session = found.session;
      } else if (isInitializeRequest(req.body)) {
        const params = (req.body as any).params ?? {};
        session = await sessions.open(who.principal, { protocolVersion: params.protocolVersion, client: params.clientInfo ? `${params.clientInfo.name}/${params.clientInfo.version}` : header(req, 'user-agent') });
      } else {
        return reply.code(400).type('application/json').send(rpcError(-32000, 'Bad Request: no Mcp-Session-Id; send initialize first (2025 revisions) or use the 2026-07-28 revision.'));
      }
      const caller = { requestId: req.id, era: 'legacy' as const, protocolVersion: header(req, 'mcp-protocol-version') ?? session.protocolVersion, client: session.client, sessionKey: header(req, 'x-bqgate-session') ?? session.key, traceHeaders: traceHeaders(req) };
      // The tools this caller sees under the current policy, with this token's groups; the session was checked above.
      const { server } = buildServer(deps, who.principal);
      const transport = new WebStandardStreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
      await server.connect(transport);
      try {
        const res = await transport.handleRequest(request, { parsedBody: req.body, authInfo: authInfo(who, caller) });
        if (!sid && res.status === 200) reply.header('mcp-session-id', session.id);
        else if (!sid) await sessions.close(session.id); // initialize failed: no session
        return await send(reply, res);
      } finally {
        await transport.close().catch(() => undefined);
        await server.close().catch(() => undefined);
      }
    });

    mcp.get('/mcp', async (req, reply) => {
      if (!(await admit(req, reply))) return reply;
      return reply.code(405).header('allow', 'POST, DELETE').type('application/json').send(rpcError(-32000, 'Method not allowed: this server offers no standalone SSE stream; POST requests.'));
    });

    mcp.delete('/mcp', async (req, reply) => {
      const who = await admit(req, reply);
      if (!who) return reply;
      const sid = header(req, 'mcp-session-id');
      const found = sid ? await sessions.find(sid, who.principal) : undefined;
      if (!found || (!found.ok && found.why === 'unknown')) return reply.code(404).type('application/json').send(rpcError(-32001, 'Session not found.'));
      if (!found.ok) {
        const msg = 'Forbidden: this Mcp-Session-Id was opened by another principal.';
        return refuse(req, reply, 403, new BigQueryError('accessDenied', msg), rpcError(-32600, msg), {}, { presentedBy: who.principal.subject }, who.principal);
      }
      await sessions.close(sid!);
      return reply.code(200).send('');
    });
  });
}
