/**
 * Per-request stage timings, carried with AsyncLocalStorage so a stage (the upstream client, the
 * analyzer) records its time without being handed the request.
 *
 * Durations are milliseconds (performance.now()), summed per stage name when a stage runs several
 * times in one request (e.g. `analyze` for the statement and for its rewrite). They leave the
 * gateway in the W3C Server-Timing response header (https://www.w3.org/TR/server-timing/) and in
 * the request's audit record.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

/** Stage name → milliseconds spent in it during one request. */
export type Timings = Record<string, number>;

const current = new AsyncLocalStorage<Timings>();

/** Runs `fn` with `t` as the request's timings. */
export function withTimings<T>(t: Timings, fn: () => Promise<T>): Promise<T> {
  return current.run(t, fn);
}

/** Runs `fn` as stage `name` of the current request (if any), adding its wall time, ms. */
export async function stage<T>(name: string, fn: () => Promise<T> | T): Promise<T> {
  const t = current.getStore();
  if (!t) return fn();
  const start = performance.now();
  try {
    return await fn();
  } finally {
    t[name] = (t[name] ?? 0) + performance.now() - start;
  }
}

/** The Server-Timing header value: `name;dur=ms, …` with 3 decimals. */
export function serverTiming(t: Timings): string {
  return Object.entries(t).map(([k, v]) => `${k};dur=${v.toFixed(3)}`).join(', ');
}
