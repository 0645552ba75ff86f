/**
 * Abuse limits at the gateway's HTTP edge (issue 10), each refusal a BigQuery error envelope:
 * - request size: bodies over `maxBodyBytes` → 413 invalid (fastify bodyLimit);
 * - slow clients: headers must arrive within `headersTimeoutMs` and the whole request within
 *   `requestTimeoutMs` (Node http server timeouts, checked every second), else the socket is closed;
 * - rate: at most `ratePerMinute` requests per principal (issuer + subject, verified) per minute,
 *   unauthenticated callers keyed by address (@fastify/rate-limit, in memory: per replica) →
 *   429 rateLimitExceeded with Retry-After; the SDK and `bq` back off and retry;
 * - concurrency: at most `maxConcurrent` requests of one principal in flight at once → 429.
 * Health, readiness and metrics endpoints are not limited. 0 turns a limit off.
 */
import { createServer, type IncomingMessage, type ServerResponse, type Server } from 'node:http';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import rateLimit from '@fastify/rate-limit';
import { BigQueryError } from './bigquery/errors.js';
import type { Principal } from './auth/index.js';

export interface LimitsConfig {
  /** Largest request body, bytes. */
  maxBodyBytes: number;
  /** Requests per principal per minute (0: no limit). */
  ratePerMinute: number;
  /** Requests of one principal in flight at once (0: no limit). */
  maxConcurrent: number;
  /** Time allowed to receive the request headers / the whole request, ms. */
  headersTimeoutMs: number;
  requestTimeoutMs: number;
}

const UNLIMITED = /^\/(healthz|readyz|metrics)(\?|$)/;

/**
 * The http server fastify runs on (`serverFactory`), with the slow-client timeouts. Node checks
 * them every `connectionsCheckingInterval` ms (1000 here; Node's default is 30 000).
 */
export function limitedServerFactory(l: LimitsConfig) {
  return (handler: (req: IncomingMessage, res: ServerResponse) => void): Server => {
    const server = createServer({ headersTimeout: l.headersTimeoutMs, requestTimeout: l.requestTimeoutMs, connectionsCheckingInterval: 1000 }, handler);
    // fastify sets its 72 s keep-alive only on servers it creates itself. Node's own 5 s equals the
    // idle time of Node's HTTP agent (the SDK's), so a client could reuse a connection just as the
    // server closed it ("socket hang up"). Idle connections stay open longer than clients keep them.
    server.keepAliveTimeout = KEEP_ALIVE_MS;
    return server;
  };
}

/** How long an idle keep-alive connection stays open, ms (fastify's default). */
const KEEP_ALIVE_MS = 72_000;

/** The key a principal is limited under. */
const principalKey = (p: Principal) => `${p.issuer}\u0000${p.subject}`;

/**
 * Registers the rate limit (before any route is declared). `principalOf` resolves the request's
 * verified principal, or undefined when the token does not verify (then the address is the key);
 * `onExceeded` is called for each request refused (metrics).
 */
export async function installRateLimit(app: FastifyInstance, l: LimitsConfig, principalOf: (req: FastifyRequest) => Promise<Principal | undefined>, onExceeded: () => void = () => {}): Promise<void> {
  if (!l.ratePerMinute) return;
  await app.register(rateLimit, {
    global: true,
    max: l.ratePerMinute,
    timeWindow: 60_000,
    hook: 'preHandler',
    allowList: (req) => UNLIMITED.test(req.url),
    keyGenerator: async (req) => {
      const p = await principalOf(req);
      return p ? `p:${principalKey(p)}` : `ip:${req.ip}`;
    },
    onExceeded: () => onExceeded(),
    errorResponseBuilder: (_req, ctx) => new BigQueryError('rateLimitExceeded',
      `Exceeded rate limits: more than ${ctx.max} requests per minute for this principal (bqgate BQGATE_RATE_LIMIT); retry after ${Math.ceil(ctx.ttl / 1000)} s.`),
  });
}

/** Per-principal in-flight counts. */
export class ConcurrencyCaps {
  private inflight = new Map<string, number>();
  constructor(private readonly max: number) {}

  /**
   * Takes a slot for `p`; returns the release function. Throws BigQueryError(rateLimitExceeded)
   * when `p` already has `max` requests in flight.
   */
  enter(p: Principal): () => void {
    if (!this.max) return () => {};
    const k = principalKey(p);
    const n = this.inflight.get(k) ?? 0;
    if (n >= this.max) {
      throw new BigQueryError('rateLimitExceeded', `Exceeded rate limits: ${p.subject} already has ${this.max} requests in flight at this gateway (bqgate BQGATE_MAX_CONCURRENT); wait for one to finish, then retry.`);
    }
    this.inflight.set(k, n + 1);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const left = (this.inflight.get(k) ?? 1) - 1;
      if (left <= 0) this.inflight.delete(k); else this.inflight.set(k, left);
    };
  }
}
