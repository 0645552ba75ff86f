/**
 * Abuse limits at the gateway's HTTP edge (issue 10), each refusal a BigQuery error envelope:
 * - request size: bodies over `maxBodyBytes` → 413 invalid (fastify bodyLimit);
 * - slow clients: headers must arrive within `headersTimeoutMs` and the whole request within
 *   `requestTimeoutMs` (Node http server timeouts, checked every second), else the socket is closed;
 * - rate: at most `ratePerMinute` requests per principal (issuer + subject, verified) per minute,
 *   unauthenticated callers keyed by address (@fastify/rate-limit) → 429 rateLimitExceeded with
 *   Retry-After; the SDK and `bq` back off and retry;
 * - concurrency: at most `maxConcurrent` requests of one principal in flight at once → 429 with
 *   Retry-After.
 * With one node (SQLite state) both count in the process. With PostgreSQL state (BQGATE_POSTGRES)
 * both count in the database (state/pg-limits.ts: a store for @fastify/rate-limit, leases for
 * the in-flight slots), so N replicas give a principal one limit, not N; a store that cannot be
 * reached refuses the request (backendError), it does not lift the limit.
 * Health, readiness and metrics endpoints are not limited. 0 turns a limit off.
 */
import { createServer, type IncomingMessage, type ServerResponse, type Server } from 'node:http';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import rateLimit from '@fastify/rate-limit';
import { BigQueryError } from './bigquery/errors.js';
import type { Principal } from './auth/index.js';
import type { SharedLimitTable } from './state/index.js';

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
  /** With shared counters: how long the in-flight slots of a replica that died keep counting, ms. */
  inflightLeaseMs: number;
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

type StoreCallback = (err: Error | null, res?: { current: number; ttl: number }) => void;

/**
 * Fixed-window request counts per key, the rate limit's: `hit(key, windowMs)` counts one request
 * and answers the key's count in its current window and the ms left of that window. The replicas'
 * shared table (state/pg-limits.ts) is one; `LocalRateCounter` counts in this process. Every door
 * (REST and MCP through @fastify/rate-limit, the Storage Read API's gRPC through `rateLimiter`)
 * counts in the same one, so a principal has one budget across doors.
 */
export type RateCounter = Pick<SharedLimitTable, 'hit'>;

/** `RateCounter` in this process: a window per key, at most `maxKeys` kept (the oldest dropped first). */
export class LocalRateCounter implements RateCounter {
  private readonly windows = new Map<string, { start: number; count: number }>();
  constructor(private readonly maxKeys = 100_000) {}
  async hit(key: string, windowMs: number): Promise<{ count: number; ttlMs: number }> {
    const now = Date.now();
    let w = this.windows.get(key);
    if (!w || w.start + windowMs <= now) {
      this.windows.delete(key);
      w = { start: now, count: 0 };
      if (this.windows.size >= this.maxKeys) this.windows.delete(this.windows.keys().next().value!);
      this.windows.set(key, w);
    }
    w.count++;
    return { count: w.count, ttlMs: w.start + windowMs - now };
  }
}

const rateMessage = (max: number, ttlMs: number, shared: boolean) =>
  `Exceeded rate limits: more than ${max} requests per minute for this principal${shared ? ' across the gateway replicas' : ''} (bqgate BQGATE_RATE_LIMIT); retry after ${Math.ceil(ttlMs / 1000)} s.`;

/**
 * The rate limit for a door outside fastify (the Storage Read API's gRPC): counts one request of
 * `principal` in `counter` under the same key as REST's; rejects with
 * BigQueryError('rateLimitExceeded') past `ratePerMinute` (0: never). `shared`: the counter is the
 * replicas' (for the message).
 */
export function rateLimiter(l: LimitsConfig, counter: RateCounter, shared: boolean): (principal: Principal) => Promise<void> {
  return async (principal) => {
    if (!l.ratePerMinute) return;
    const { count, ttlMs } = await counter.hit(`p:${principalKey(principal)}`, 60_000);
    if (count > l.ratePerMinute) throw new BigQueryError('rateLimitExceeded', rateMessage(l.ratePerMinute, ttlMs, shared));
  };
}

/**
 * A @fastify/rate-limit store over a `RateCounter` (its `store` option: a class constructed with
 * the plugin's options, https://github.com/fastify/fastify-rate-limit#custom-store): each `incr`
 * is one hit of the counter (with shared counters, one upsert in the shared table, so every replica
 * counts the same window).
 */
function sharedRateStore(table: RateCounter) {
  return class SharedRateStore {
    incr(key: string, cb: StoreCallback, timeWindow: number) {
      table.hit(key, timeWindow).then((r) => cb(null, { current: r.count, ttl: r.ttlMs }), (err) => cb(err));
    }
    child() { return new SharedRateStore(); }
  };
}

/**
 * Registers the rate limit (before any route is declared). `principalOf` resolves the request's
 * verified principal, or undefined when the token does not verify (then the address is the key);
 * `onExceeded` is called for each request refused (metrics). `counter`: where the windows are
 * counted — the replicas' shared table (PostgreSQL state; `shared` true) or this process's
 * (`LocalRateCounter`), the same one other doors count in (`rateLimiter`).
 */
export async function installRateLimit(app: FastifyInstance, l: LimitsConfig, principalOf: (req: FastifyRequest) => Promise<Principal | undefined>, onExceeded: () => void, counter: RateCounter, shared: boolean): Promise<void> {
  if (!l.ratePerMinute) return;
  await app.register(rateLimit, {
    store: sharedRateStore(counter),
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
    errorResponseBuilder: (_req, ctx) => new BigQueryError('rateLimitExceeded', rateMessage(ctx.max, ctx.ttl, shared)),
  });
}

/** Retry-After of an in-flight refusal, s: about one request's time. */
const INFLIGHT_RETRY_AFTER_S = 1;

/** Per-principal in-flight counts: in this process, or in the replicas' shared table when given. */
export class ConcurrencyCaps {
  private inflight = new Map<string, number>();
  constructor(private readonly max: number, private readonly shared?: SharedLimitTable) {}

  private refusal(p: Principal, where: string) {
    return new BigQueryError('rateLimitExceeded', `Exceeded rate limits: ${p.subject} already has ${this.max} requests in flight ${where} (bqgate BQGATE_MAX_CONCURRENT); wait for one to finish, then retry.`, { retryAfterS: INFLIGHT_RETRY_AFTER_S });
  }

  /**
   * Takes a slot for `p`; resolves with the release function. Rejects with
   * BigQueryError(rateLimitExceeded, Retry-After 1 s) when `p` already has `max` requests in
   * flight (across the replicas when shared), or stateDown when the shared table cannot be reached.
   */
  async enter(p: Principal): Promise<() => void> {
    if (!this.max) return () => {};
    const k = principalKey(p);
    if (this.shared) {
      const table = this.shared;
      const r = await table.acquire(k, this.max);
      if ('refused' in r) throw this.refusal(p, 'across the gateway replicas');
      return () => { void table.release(r.lease); };
    }
    const n = this.inflight.get(k) ?? 0;
    if (n >= this.max) throw this.refusal(p, 'at this gateway');
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
