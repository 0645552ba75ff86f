/** A promise cache entry per key, fresh for `ttlMs` and dropped when its load fails (so the next call retries). */
export function cachedFor<T>(cache: Map<string, { at: number; info: Promise<T> }>, key: string, ttlMs: number, load: () => Promise<T>): Promise<T> {
  const hit = cache.get(key);
  if (hit && Date.now() - hit.at < ttlMs) return hit.info;
  const info = load();
  cache.set(key, { at: Date.now(), info });
  info.catch(() => cache.delete(key));
  return info;
}
