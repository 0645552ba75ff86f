/** Small network helpers shared by the gateway's child processes, the tests and the benchmark. */
import { createServer } from 'node:net';

/** Whether an upstream base URL is a local one (plain http on loopback), which takes the fixed local token. */
export const isLoopbackHttp = (url: string) => /^http:\/\/(127\.|localhost|\[::1\])/.test(url);

/** A TCP port free on 127.0.0.1 right now (the OS picks it; bind it soon, another may take it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => { const p = (s.address() as { port: number }).port; s.close(() => resolve(p)); });
  });
}

/**
 * Waits until `url` answers `ready(status)` (default: any status below 500), polling every 200 ms
 * while the process that should serve it runs. Resolves `'ready'`, or `'exited'` if the process
 * ended first; throws after `timeoutMs` (default 90 000) with `describe()` (its log) in the message.
 */
export async function waitForHttp(url: string, proc: { exitCode: number | null; signalCode?: string | null }, o: { timeoutMs?: number; ready?: (status: number) => boolean; describe?: () => string } = {}): Promise<'ready' | 'exited'> {
  const deadline = Date.now() + (o.timeoutMs ?? 90_000);
  const ready = o.ready ?? ((s: number) => s < 500);
  for (;;) {
    if (proc.exitCode !== null || proc.signalCode) return 'exited';
    try { if (ready((await fetch(url)).status)) return 'ready'; } catch { /* not yet */ }
    if (Date.now() > deadline) throw new Error(`${url} did not come up in ${o.timeoutMs ?? 90_000} ms: ${o.describe?.() ?? ''}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
