/**
 * Calls to the gateway's API as the signed-in user. A BigQuery error envelope becomes an
 * `ApiError` with the gateway's message (it says which rule or role, and what would be allowed);
 * a 401 drops the sign-in and starts a new one.
 */
import { current, signIn, signOut } from './auth';

export class ApiError extends Error {
  constructor(readonly status: number, readonly reason: string, message: string) { super(message); }
}

export async function api<T = any>(path: string, init: { method?: 'GET' | 'POST'; body?: unknown; query?: Record<string, string | undefined>; signal?: AbortSignal } = {}): Promise<T> {
  const s = current();
  if (!s) return signIn();
  const q = new URLSearchParams(Object.entries(init.query ?? {}).filter((e): e is [string, string] => !!e[1]));
  const r = await fetch(`/bqgate/v1${path}${q.size ? `?${q}` : ''}`, {
    method: init.method ?? 'GET', signal: init.signal,
    headers: { authorization: `Bearer ${s.accessToken}`, ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: init.body !== undefined ? JSON.stringify(init.body) : undefined,
  });
  const body = await r.json().catch(() => ({}));
  if (r.status === 401) { signOut(); return signIn(); }
  if (!r.ok) throw new ApiError(r.status, body?.error?.errors?.[0]?.reason ?? String(r.status), body?.error?.message ?? `HTTP ${r.status}`);
  return body as T;
}
