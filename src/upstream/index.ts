/**
 * `upstream/`: the gateway's calls to the BigQuery REST API (or the embedded emulator, over HTTP in
 * exactly the same way), authorized with the gateway's own credential. The caller's token is never
 * forwarded.
 *
 * Credential: for the emulator, a fixed local token; for any other upstream, google-auth-library's
 * Application Default Credentials with the BigQuery scope. `call()` returns `{status, body}` and
 * never throws for an HTTP error status; it throws BigQueryError(backendError) when the upstream
 * cannot be reached.
 */
import { GoogleAuth, OAuth2Client, type AuthClient } from 'google-auth-library';
import { BigQueryError } from '../bigquery/errors.js';
import { stage, beforeUpstream } from '../request-scope.js';

export interface UpstreamResponse { status: number; body: any }

export interface UpstreamOptions {
  /** Base URL without `/bigquery/v2`, e.g. `http://127.0.0.1:9060` or `https://bigquery.googleapis.com`. */
  baseUrl: string;
  /** An explicit credential; default as described above. */
  authClient?: AuthClient;
  /** Per-call timeout, ms (default 120 000). */
  timeoutMs?: number;
}

export class Upstream {
  readonly baseUrl: string;
  private readonly auth: AuthClient | GoogleAuth;
  private readonly timeoutMs: number;

  constructor(opts: UpstreamOptions) {
    this.baseUrl = opts.baseUrl.replace(/\/+$/, '');
    this.timeoutMs = opts.timeoutMs ?? 120_000;
    if (opts.authClient) this.auth = opts.authClient;
    else if (/^http:\/\/(127\.|localhost|\[::1\])/.test(this.baseUrl)) {
      const c = new OAuth2Client();
      c.setCredentials({ access_token: 'bqgate-local-emulator' });
      this.auth = c;
    } else {
      this.auth = new GoogleAuth({ scopes: ['https://www.googleapis.com/auth/bigquery'] });
    }
  }

  private async headers(): Promise<Record<string, string>> {
    const h = await this.auth.getRequestHeaders();
    const out: Record<string, string> = {};
    if (typeof (h as Headers).forEach === 'function') (h as Headers).forEach((v, k) => { out[k] = v; });
    else Object.assign(out, h);
    return out;
  }

  /** One REST call. `path` is relative to `/bigquery/v2`, e.g. `/projects/p/queries`. */
  async call(method: 'GET' | 'POST', path: string, opts: { query?: Record<string, string | undefined>; body?: unknown } = {}): Promise<UpstreamResponse> {
    await beforeUpstream(); // the request's audit events are durable before anything is sent
    return stage('upstream', () => this.send(method, path, opts));
  }

  private async send(method: 'GET' | 'POST', path: string, opts: { query?: Record<string, string | undefined>; body?: unknown }): Promise<UpstreamResponse> {
    const url = new URL(`${this.baseUrl}/bigquery/v2${path}`);
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) url.searchParams.set(k, v);
    const headers = { ...(await this.headers()), accept: 'application/json' } as Record<string, string>;
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(url, { method, headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body), signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (err) {
      throw new BigQueryError('backendError', `The upstream BigQuery API could not be reached (${(err as Error).name}); the request was not completed.`);
    }
    const text = await res.text();
    let body: any;
    try { body = text ? JSON.parse(text) : {}; } catch { body = { error: { code: res.status, message: 'Upstream returned a non-JSON body' } }; }
    return { status: res.status, body };
  }

  /** Like `call`, but throws a BigQueryError carrying the upstream's reason for a non-2xx status. */
  async ok(method: 'GET' | 'POST', path: string, opts: { query?: Record<string, string | undefined>; body?: unknown } = {}): Promise<any> {
    const r = await this.call(method, path, opts);
    if (r.status >= 200 && r.status < 300) return r.body;
    throw upstreamError(r);
  }
}

/** Converts an upstream error envelope to a BigQueryError with the same reason and status. */
export function upstreamError(r: UpstreamResponse): BigQueryError {
  const e = r.body?.error ?? {};
  const reason = e.errors?.[0]?.reason ?? 'backendError';
  const known = ['invalidQuery', 'invalid', 'accessDenied', 'notFound', 'duplicate', 'rateLimitExceeded', 'backendError', 'internalError', 'stopped'];
  return new BigQueryError((known.includes(reason) ? reason : 'backendError') as never, String(e.message ?? `Upstream error ${r.status}`), { httpStatus: r.status, location: e.errors?.[0]?.location });
}
