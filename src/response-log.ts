/**
 * Opt-in record of every response body the gateway sends, for the test harness's check that no
 * response carries gateway internals (test/helpers/response-check.ts): with
 * `BQGATE_TEST_RESPONSE_LOG=<file>` set, each response is appended to `<file>` as one JSON line
 * `{method, url, request, status, body}` (`request`: the request body as received, so the checker
 * can tell the caller's own text from what the gateway added). Off when the variable is unset; the
 * discovery document (520 KB, static) is not recorded. Never enable this in production: the file
 * holds delivered rows.
 */
import { appendFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';

/** Installs the onSend hook on `app` when `file` (default: the env variable) is set. */
export function installResponseLog(app: FastifyInstance, file = process.env.BQGATE_TEST_RESPONSE_LOG): void {
  if (!file) return;
  app.addHook('onSend', async (req, reply, payload) => {
    if (req.url.startsWith('/$discovery')) return payload;
    const body = typeof payload === 'string' ? payload : Buffer.isBuffer(payload) ? payload.toString('utf8') : '';
    const line = { method: req.method, url: req.url, request: req.body ?? null, status: reply.statusCode, body };
    appendFileSync(file, `${JSON.stringify(line)}\n`);
    return payload;
  });
}
