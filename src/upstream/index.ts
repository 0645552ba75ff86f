/**
 * `upstream/`: the gateway's calls to the BigQuery REST API (or the embedded emulator, over HTTP in
 * exactly the same way), authorized with a credential the caller never sees (credentials.ts). The
 * caller's token is never forwarded.
 *
 * Calls go through google-auth-library's `request()` (gaxios), which adds the credential's
 * Authorization header and retries 429, 5xx and network failures with exponential backoff
 * (`retries`, default 4; delays from 200 ms doubling up to 8 s). Every POST the gateway makes is
 * idempotent upstream: jobs.insert carries a jobId (a retry that meets `409 duplicate` is answered
 * from jobs.get, see `insertJobIdempotent`), jobs.query a requestId, dry runs change nothing.
 *
 * A query call may carry `declared` (declared.ts): what the gateway analyzed, sent as the header
 * `x-bqgate-declared` to every upstream (the emulator enforces it; BigQuery ignores it).
 *
 * `call()` returns `{status, body}` and never throws for an HTTP error status; it throws
 * BigQueryError(backendError) when the upstream cannot be reached after the retries. No error
 * carries a header, a token or a request body.
 */
import { GoogleAuth, type AuthClient } from 'google-auth-library';
import { isLoopbackHttp } from '../net.js';
import { localCredential, BIGQUERY_SCOPE } from './credentials.js';
import { BigQueryError } from '../bigquery/errors.js';
import { stage, beforeUpstream, requestSignal } from '../request-scope.js';
import { DECLARED_HEADER, declaredHeader, type Declared } from './declared.js';

export { declaredOf, type Declared } from './declared.js';
export { UpstreamCredentials, credentialFailure, storedIdentity, BIGQUERY_SCOPE, type UpstreamIdentity, type JobCredential } from './credentials.js';

export interface UpstreamResponse { status: number; body: any; /** Response headers (lower-cased names). */ headers?: Record<string, string> }

/**
 * A 2xx answer whose body is read as it arrives (`stream`, byte chunks; reading it is what pulls
 * it from the socket), or any other answer parsed as `call` does (`body`: the error envelope).
 */
export type UpstreamStream = { status: number; stream: AsyncIterable<Buffer | Uint8Array | string>; headers?: Record<string, string> } | (UpstreamResponse & { stream?: undefined });

export interface UpstreamOptions {
  /** Base URL without `/bigquery/v2`, e.g. `http://127.0.0.1:9060` or `https://bigquery.googleapis.com`. */
  baseUrl: string;
  /** The gateway credential; default: a fixed local token for a loopback http upstream, else ADC. */
  authClient?: AuthClient;
  /** Per-attempt timeout, ms (default 120 000). */
  timeoutMs?: number;
  /** Retries of 429/5xx/network failures (default 4). */
  retries?: number;
  /** Sent as x-goog-user-project (billing and quota project). */
  quotaProject?: string;
  /** Called on each retry (for logs and metrics): the attempt number and the status or error code. */
  /** Every answer's HTTP status, or `network` when none came (metrics). */
  onResponse?: (status: number | 'network') => void;
  onRetry?: (attempt: number, why: string) => void;
}

/** The HTTP verbs of the BigQuery v2 methods; only GET and POST are retried (PATCH, PUT and DELETE are sent once). */
export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface CallOptions {
  query?: Record<string, string | undefined>;
  body?: unknown;
  /** The credential for this call (a job's); default the gateway credential. */
  as?: AuthClient;
  /** What the gateway analyzed (a query, a job's query, a dry run): sent as `x-bqgate-declared`. */
  declared?: Declared;
  /**
   * A body sent as these bytes with this content type instead of JSON (the media upload endpoint,
   * https://cloud.google.com/bigquery/docs/reference/api-uploads).
   */
  raw?: { data: Buffer | string; contentType: string };
  /** Further request headers (the upload endpoint's Content-Range, X-Upload-Content-*). */
  headers?: Record<string, string>;
  /** The API root `path` is under: default `/bigquery/v2`; the upload endpoint's is `/upload/bigquery/v2`. */
  root?: string;
  /**
   * Aborts this call (with the request's deadline, which always applies): the call then throws the
   * signal's reason.
   */
  signal?: AbortSignal;
}

type Requester = Pick<AuthClient, 'request'> | GoogleAuth;

export class Upstream {
  readonly baseUrl: string;
  private readonly auth: Requester;
  private readonly timeoutMs: number;
  private readonly retries: number;

  constructor(private readonly opts: UpstreamOptions) {
    this.baseUrl = opts.baseUrl.replace(/\/+$/, '');
    this.timeoutMs = opts.timeoutMs ?? 120_000;
    this.retries = opts.retries ?? 4;
    if (opts.authClient) this.auth = opts.authClient;
    else this.auth = isLoopbackHttp(this.baseUrl) ? localCredential() : new GoogleAuth({ scopes: [BIGQUERY_SCOPE] });
  }

  /** One REST call. `path` is relative to `/bigquery/v2`, e.g. `/projects/p/queries`. */
  async call(method: HttpMethod, path: string, opts: CallOptions = {}): Promise<UpstreamResponse> {
    await beforeUpstream(); // the request's audit events are durable before anything is sent
    return stage('upstream', () => this.send(method, path, opts)) as Promise<UpstreamResponse>;
  }

  /**
   * Like `call`, but a 2xx body is not read: it is returned as a byte stream (`stream`), pulled
   * as the consumer reads it (deliver/stream.ts). Retries as `call` does until an answer's headers
   * arrive; a failure while the body is read surfaces in the consumer's iteration. Any other
   * status comes back as `call` returns it.
   */
  async stream(method: HttpMethod, path: string, opts: CallOptions = {}): Promise<UpstreamStream> {
    await beforeUpstream();
    return stage('upstream', () => this.send(method, path, opts, 'stream')) as Promise<UpstreamStream>;
  }

  private async send(method: HttpMethod, path: string, opts: CallOptions, responseType: 'text' | 'stream' = 'text'): Promise<UpstreamResponse | UpstreamStream> {
    const url = new URL(`${this.baseUrl}${opts.root ?? '/bigquery/v2'}${path}`);
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) url.searchParams.set(k, v);
    const client = opts.as ?? this.auth;
    const signals = [opts.signal, requestSignal()].filter((x): x is AbortSignal => x !== undefined);
    const signal = signals.length > 1 ? AbortSignal.any(signals) : signals[0];
    try {
      const res = await client.request<any>({
        url: url.toString(), method, responseType, timeout: this.timeoutMs, ...(signal ? { signal } : {}),
        headers: {
          accept: 'application/json', ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}), ...(opts.raw ? { 'content-type': opts.raw.contentType } : {}), ...opts.headers,
          ...(this.opts.quotaProject ? { 'x-goog-user-project': this.opts.quotaProject } : {}), ...(opts.declared ? { [DECLARED_HEADER]: declaredHeader(opts.declared) } : {}),
        },
        ...(opts.body !== undefined ? { data: JSON.stringify(opts.body) } : {}),
        ...(opts.raw ? { data: opts.raw.data } : {}),
        // A resumable upload's 308 (Resume Incomplete) is an answer, not a failure. A streamed
        // call reads its error bodies itself (gaxios drops a stream's), all but the retried ones.
        validateStatus: responseType === 'stream' ? (st: number) => st < 500 && st !== 429 : (st: number) => st >= 200 && st < 300 || st === 308,
        retryConfig: {
          retry: this.retries, noResponseRetries: this.retries, retryDelay: 200, retryDelayMultiplier: 2, maxRetryDelay: 8000,
          httpMethodsToRetry: ['GET', 'POST'], statusCodesToRetry: [[429, 429], [500, 599]],
          onRetryAttempt: (err) => this.opts.onRetry?.(err.config.retryConfig?.currentRetryAttempt ?? 0, String(err.status ?? err.code ?? 'error')),
        },
      });
      this.opts.onResponse?.(res.status);
      if (responseType === 'stream' && res.status >= 200 && res.status < 300) return { status: res.status, stream: res.data, headers: plainHeaders(res.headers) };
      if (responseType === 'stream') return { status: res.status, body: parseBody(await errorText(res.data), res.status), headers: plainHeaders(res.headers) };
      return { status: res.status, body: parseBody(res.data, res.status), headers: plainHeaders(res.headers) };
    } catch (err) {
      const e = err as { response?: { status: number; data?: unknown }; code?: string; name?: string };
      if (signal?.aborted) throw signal.reason; // cut by the request's deadline or the caller's own wait
      this.opts.onResponse?.(e.response ? e.response.status : 'network');
      // After the retries, gaxios keeps a streamed call's error body only as the error message.
      if (e.response) return { status: e.response.status, body: parseBody(e.response.data ?? (responseType === 'stream' ? (err as Error).message : undefined), e.response.status) };
      throw new BigQueryError('backendError', `The upstream BigQuery API could not be reached (${e.code ?? e.name ?? 'error'}) after ${this.retries} retries; the request was not completed.`);
    }
  }

  /** Like `call`, but throws a BigQueryError carrying the upstream's reason for a non-2xx status. */
  async ok(method: HttpMethod, path: string, opts: CallOptions = {}): Promise<any> {
    const r = await this.call(method, path, opts);
    if (r.status >= 200 && r.status < 300) return r.body;
    throw upstreamError(r);
  }

  /**
   * jobs.insert that a retry cannot run twice: the job id is fixed by the caller, and a `409
   * duplicate` — the first attempt reached BigQuery but its answer was lost — is answered with the
   * job as jobs.get returns it, when that job carries this insert's `bqgate_request` label. Throws
   * like `ok` (a 409 for someone else's job stays `duplicate`). `declared`: the analyzed statement
   * of a query job (sent as `x-bqgate-declared`).
   */
  async insertJobIdempotent(projectId: string, body: { jobReference: { projectId: string; jobId: string; location?: string } } & Record<string, unknown>, as?: AuthClient, declared?: Declared): Promise<any> {
    const enc = encodeURIComponent;
    const r = await this.call('POST', `/projects/${enc(projectId)}/jobs`, { body, as, declared });
    if (r.status === 409) {
      // Ours only if the job carries the labels this insert sent (bqgate_request: the audit record id).
      const job = await this.ok('GET', `/projects/${enc(projectId)}/jobs/${enc(body.jobReference.jobId)}`, { query: { location: body.jobReference.location }, as });
      const sent = (body.configuration as { labels?: Record<string, string> } | undefined)?.labels?.bqgate_request;
      if (sent && job.configuration?.labels?.bqgate_request === sent) return job;
    }
    if (r.status >= 300) throw upstreamError(r);
    return r.body;
  }
}

/** gaxios response headers (a Headers object or a plain record) as a plain lower-cased record. */
function plainHeaders(h: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (h && typeof (h as Headers).forEach === 'function') (h as Headers).forEach((v, k) => { out[k.toLowerCase()] = v; });
  else for (const [k, v] of Object.entries((h ?? {}) as Record<string, unknown>)) out[k.toLowerCase()] = String(v);
  return out;
}

/** An error answer's body as text, at most 1 MiB of it (an error envelope is small). */
async function errorText(stream: AsyncIterable<Buffer | string>): Promise<string> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const c of stream) {
    const b = typeof c === 'string' ? Buffer.from(c) : c;
    if ((n += b.length) > 2 ** 20) break;
    parts.push(b);
  }
  return Buffer.concat(parts).toString('utf8');
}

function parseBody(data: unknown, status: number): any {
  if (typeof data !== 'string') return data ?? {};
  try { return data ? JSON.parse(data) : {}; } catch { return { error: { code: status, message: 'Upstream returned a non-JSON body' } }; }
}

/** Converts an upstream error envelope to a BigQueryError with the same reason and status. */
export function upstreamError(r: UpstreamResponse): BigQueryError {
  const e = r.body?.error ?? {};
  const reason = e.errors?.[0]?.reason ?? 'backendError';
  const known = ['invalidQuery', 'invalid', 'accessDenied', 'notFound', 'duplicate', 'rateLimitExceeded', 'backendError', 'internalError', 'stopped', 'timeout', 'bytesBilledLimitExceeded'];
  return new BigQueryError((known.includes(reason) ? reason : 'backendError') as never, String(e.message ?? `Upstream error ${r.status}`), { httpStatus: r.status, location: e.errors?.[0]?.location });
}
