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
