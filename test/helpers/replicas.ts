/**
 * Several gateway replicas as an operator runs them: one emulator process as the shared upstream,
 * one PostgreSQL for jobs, approvals and the audit log (BQGATE_POSTGRES), the same keys on every
 * replica (the development issuer's signing key and `iss`, the HMAC_SHA256 key, the audit
 * checkpoint key), and a round-robin load balancer in front (@fastify/reply-from over undici's
 * BalancedPool) that sends a refused connection to the next replica, as a load balancer's health
 * checking would. The balancer's URL is the replicas' public URL (BQGATE_PUBLIC_URL).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import replyFrom from '@fastify/reply-from';
import { BalancedPool } from 'undici';
import { BigQuery } from '@google-cloud/bigquery';
import { OAuth2Client } from 'google-auth-library';
import { freePort, waitForHttp } from '../../src/net.ts';
import { loadDevIssuer, type TokenClaims } from '../../src/auth/dev-issuer.ts';
import { loadSigner } from '../../src/audit/signer.ts';
import { startGateway, OFFLINE_ENV, type TestGateway } from './gateway.ts';
import { startPostgres, type TestPostgres } from './postgres.ts';

const ROOT = resolve(import.meta.dirname, '..', '..');

export interface ReplicaSet {
  pg: TestPostgres;
  emulatorUrl: string;
  replicas: TestGateway[];
  /** The load balancer's URL (what agents are pointed at). */
  url: string;
  /** The environment every replica runs with (for starting another one). */
  env: Record<string, string>;
  token(claims: TokenClaims, opts?: { audience?: string; ttlSec?: number }): Promise<string>;
  /** The real SDK against `endpoint` (default: the load balancer); `autoRetry` as the SDK's default unless false. */
  sdk(token: string, endpoint?: string, autoRetry?: boolean): BigQuery;
  /** Starts one more replica sharing everything (after a kill). */
  addReplica(): Promise<TestGateway>;
  stop(): Promise<void>;
}

/** Starts the emulator alone (`bqgate emulator`, requiring `secret`) and waits until it answers. */
async function startEmulatorProcess(secret: string): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'bqgate.js'), 'emulator', '--port', String(port)], { cwd: ROOT, env: { ...process.env, ...OFFLINE_ENV, BQGATE_EMULATOR_SECRET: secret }, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.on('data', (d) => { log = (log + d).slice(-4000); });
  const url = `http://127.0.0.1:${port}`;
  // Listening (fixtures loaded) once it answers; without the secret that answer is 401.
  if (await waitForHttp(`${url}/bigquery/v2/projects/demo-project/datasets`, child, { ready: (s) => s === 401, describe: () => log }) === 'exited') throw new Error(`emulator exited: ${log}`);
  return { url, child };
}

/**
 * A load balancer over `backends` (undici's BalancedPool: round robin, weight lowered on errors);
 * a refused connection is retried, reaching another replica.
 */
async function startBalancer(backends: string[], port: number): Promise<{ url: string; app: FastifyInstance; pool: BalancedPool }> {
  const app = Fastify({ logger: false, bodyLimit: 20 * 1024 * 1024 });
  const pool = new BalancedPool(backends, { connections: 256 });
  await app.register(replyFrom, { base: backends[0], undici: pool });
  // Bodies of any other type (an upload's chunks: application/octet-stream, text/csv) pass through as bytes.
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  app.all('/*', (req, reply) => {
    reply.from(req.url, {
      // Connection refused: the request never reached a replica, so another one may take it.
      retryDelay: ({ err, attempt }) => (err && (err as { code?: string }).code === 'ECONNREFUSED' && attempt < 6 ? 20 : null),
    });
  });
  await app.listen({ host: '127.0.0.1', port });
  return { url: `http://127.0.0.1:${port}`, app, pool };
}

export async function startReplicas(n = 2, extraEnv: Record<string, string> = {}): Promise<ReplicaSet> {
  const pg = await startPostgres();
  const emulatorSecret = randomBytes(32).toString('base64url');
  const emulator = await startEmulatorProcess(emulatorSecret);
  const shared = mkdtempSync(join(tmpdir(), 'bqgate-replicas-'));
  const issuer = 'http://bqgate-replicas.test';
  const dev = await loadDevIssuer(shared, issuer); // writes <shared>/keys/dev-issuer.jwk.json
  loadSigner(shared); // writes <shared>/keys/audit-ed25519.pem before any replica races to create it
  // The balancer's address is chosen first: it is the replicas' public URL (the origin of the upload session URLs they hand out).
  const balancerPort = await freePort();
  const env = {
    BQGATE_PUBLIC_URL: `http://127.0.0.1:${balancerPort}`,
    BQGATE_UPSTREAM: emulator.url, BQGATE_UPSTREAM_TOKEN: emulatorSecret, BQGATE_POSTGRES: pg.url, BQGATE_ISSUER: issuer, BQGATE_HMAC_KEY: randomBytes(32).toString('hex'),
    BQGATE_AUDIT_KEY_FILE: join(shared, 'keys', 'audit-ed25519.pem'), ...extraEnv,
  };
  const addReplica = async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'bqgate-replica-'));
    mkdirSync(join(dataDir, 'keys'), { recursive: true, mode: 0o700 });
    copyFileSync(join(shared, 'keys', 'dev-issuer.jwk.json'), join(dataDir, 'keys', 'dev-issuer.jwk.json'));
    const gw = await startGateway({ env, dataDir });
    replicas.push(gw);
    balancer?.pool.addUpstream(gw.url);
    return gw;
  };
  const replicas: TestGateway[] = [];
  let balancer: Awaited<ReturnType<typeof startBalancer>> | undefined;
  for (let i = 0; i < n; i++) await addReplica();
  balancer = await startBalancer(replicas.map((r) => r.url), balancerPort);
  return {
    pg, emulatorUrl: emulator.url, replicas, url: balancer.url, env,
    token: (claims, opts) => dev.sign(claims, opts),
    sdk(token, endpoint = balancer!.url, autoRetry = true) {
      const authClient = new OAuth2Client();
      authClient.setCredentials({ access_token: token });
      return new BigQuery({ projectId: 'demo-project', apiEndpoint: endpoint, authClient, autoRetry });
    },
    addReplica,
    async stop() {
      await balancer!.app.close();
      for (const r of replicas) await r.stop();
      emulator.child.kill('SIGTERM');
      pg.stop();
    },
  };
}
