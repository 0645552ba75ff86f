/**
 * `console/`: the web console for approvers and auditors.
 *
 * The front end (`<repo>/console/`, Preact + Chart.js + highlight.js, built by `npm run build` with
 * Vite into `console/dist`) is served here as static files under `/console/`; everything it shows
 * comes from the gateway's own API (`api.ts`, and the approvals API), called with the signed-in
 * user's token. Sign-in is the OIDC authorization-code flow with PKCE against the configured
 * issuer (for the embedded development issuer, `auth/dev-login.ts`).
 *
 * - `GET /console/…`: the built files (`Content-Security-Policy`: only this origin and the issuer;
 *   no inline script); 503 with how to build them when `console/dist` is missing.
 * - `GET /bqgate/v1/console/config` (no token needed): `{issuer, clientId, scope, project}`, what the
 *   page needs to start the sign-in.
 * - `GET /` → 303 to `/console/`.
 */
import type { FastifyInstance } from 'fastify';
import fastifyStatic from '@fastify/static';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../../config.js';

export { consoleOperations, type ConsoleApiDeps } from './api.js';

/** Installs the console's static files, its public config and the root redirect on `app`. */
export async function installConsole(app: FastifyInstance, o: { issuer: string; console: Config['console'] }): Promise<void> {
  const { distDir, clientId, scope, project } = o.console;
  const issuerOrigin = new URL(o.issuer).origin;
  const csp = [
    "default-src 'self'", `connect-src 'self' ${issuerOrigin}`, "img-src 'self' data:", "style-src 'self' 'unsafe-inline'",
    "script-src 'self'", "frame-ancestors 'none'", "base-uri 'none'", `form-action 'self' ${issuerOrigin}`,
  ].join('; ');

  app.get('/bqgate/v1/console/config', async () => ({ kind: 'bqgate#consoleConfig', issuer: o.issuer, clientId, scope, project }));
  app.get('/', async (_req, reply) => reply.redirect('/console/', 303));

  if (!existsSync(join(distDir, 'index.html'))) {
    app.get('/console/*', async (_req, reply) => reply.code(503).type('text/plain; charset=utf-8')
      .send(`The bqgate console is not built: run \`npm run build\` (it writes ${distDir}).\n`));
    app.get('/console', async (_req, reply) => reply.redirect('/console/', 303));
    return;
  }
  await app.register(fastifyStatic, {
    root: distDir, prefix: '/console/', index: ['index.html'], redirect: true, wildcard: true,
    setHeaders: (reply, path) => {
      reply.header('content-security-policy', csp);
      reply.header('x-content-type-options', 'nosniff');
      reply.header('referrer-policy', 'no-referrer');
      // Hashed asset names never change; the page itself is always revalidated.
      reply.header('cache-control', /\/assets\//.test(path) ? 'public, max-age=31536000, immutable' : 'no-cache');
    },
  });
}
