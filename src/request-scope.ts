/**
 * Per-request scope, carried with AsyncLocalStorage so a stage (the upstream client, the analyzer)
 * can act for the request without being handed it:
 * - stage timings: milliseconds (performance.now()) summed per stage name (`analyze` runs for the
 *   statement and for its rewrite). They leave the gateway in the W3C Server-Timing response header
 *   (https://www.w3.org/TR/server-timing/) and in the request's audit `response` event;
 * - the audit gate: `beforeUpstream()` makes the request's audit events so far durable; the
 *   upstream client awaits it before every call, so nothing reaches BigQuery that the audit log
 *   could not record (it throws, and the call is not made);
 * - the deadline: `signal` aborts when the request's time is up (BQGATE_DEADLINE_MS); the upstream
 *   client passes it to every fetch, so an abandoned request stops waiting on BigQuery too.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

/** Stage name → milliseconds spent in it during one request. */
export type Timings = Record<string, number>;

export interface RequestScope {
  timings: Timings;
  /** Resolves once the request's pending audit events are durable; throws if they cannot be. */
  beforeUpstream?: () => Promise<void>;
  /** Called as a stage starts (tracing: a span); the function it returns is called as it ends, with its error if it threw. */
  startStage?: (name: string) => (err?: unknown) => void;
  /** Aborted (its reason a BigQueryError) when the request's deadline passes. */
  signal?: AbortSignal;
  /** Values one stage looked up for the next to use once (handOn / takeHandedOn). */
  handedOn?: Map<string, unknown>;
}

const current = new AsyncLocalStorage<RequestScope>();

/** Runs `fn` within the request scope `s`. */
export function withScope<T>(s: RequestScope, fn: () => Promise<T>): Promise<T> {
  return current.run(s, fn);
}

/** Runs `fn` as stage `name` of the current request (if any), adding its wall time, ms, and telling `startStage`. */
export async function stage<T>(name: string, fn: () => Promise<T> | T): Promise<T> {
  const s = current.getStore();
  if (!s) return fn();
  const end = s.startStage?.(name);
  const start = performance.now();
  let failed: unknown;
  try {
    return await fn();
  } catch (err) {
    failed = err;
    throw err;
  } finally {
    s.timings[name] = (s.timings[name] ?? 0) + performance.now() - start;
    end?.(failed);
  }
}

/**
 * Hands `value`, looked up under `key` for the current request, to the next `takeHandedOn(key)` in
 * the same request — once, so a record is not read twice back to back (the pipeline's job lookup and
 * the operation's). Outside a request it does nothing.
 */
export function handOn(key: string, value: unknown): void {
  const s = current.getStore();
  if (s) (s.handedOn ??= new Map()).set(key, value);
}

/** The value handed on under `key` in the current request (then forgotten), or undefined if none was. */
export function takeHandedOn<T>(key: string): { value: T } | undefined {
  const m = current.getStore()?.handedOn;
  if (!m?.has(key)) return undefined;
  const value = m.get(key) as T;
  m.delete(key);
  return { value };
}

/** The audit gate of the current request (a no-op outside requests, e.g. the CLI). */
export async function beforeUpstream(): Promise<void> {
  const gate = current.getStore()?.beforeUpstream;
  if (gate) await stage('audit', gate);
}

/** The Server-Timing header value: `name;dur=ms, …` with 3 decimals. */
export function serverTiming(t: Timings): string {
  return Object.entries(t).map(([k, v]) => `${k};dur=${v.toFixed(3)}`).join(', ');
}

/** The current request's deadline signal, if any. */
export function requestSignal(): AbortSignal | undefined {
  return current.getStore()?.signal;
}

/**
 * Settles as `work` does, or rejects with `signal.reason` as soon as `signal` aborts (`work` is
 * left to finish on its own; what it calls upstream sees the same signal and is cut).
 */
export function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const stop = () => reject(signal.reason);
    signal.addEventListener('abort', stop, { once: true });
    work.then((v) => { signal.removeEventListener('abort', stop); resolve(v); }, (e) => { signal.removeEventListener('abort', stop); reject(e); });
  });
}

/** Settles as `work` does, or rejects with `reason()` after `ms` (the timer is cleared when `work` settles first). */
export function withinMs<T>(work: Promise<T>, ms: number, reason: () => Error): Promise<T> {
  const c = new AbortController();
  const t = setTimeout(() => c.abort(reason()), ms);
  return untilAborted(work, c.signal).finally(() => clearTimeout(t));
}
