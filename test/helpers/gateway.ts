/**
 * Test harness: a real gateway process (`bin/bqgate.js serve`, with its embedded emulator and the
 * ZetaSQL server) on free loopback ports and a fresh data directory; tokens from the same local
 * development issuer; clients for the real SDK and the real `bq` CLI.
 */
import { runBq } from './bq.ts';
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort, waitForHttp } from '../../src/net.ts';
import { promisify } from 'node:util';
import { BigQuery } from '@google-cloud/bigquery';
import { OAuth2Client } from 'google-auth-library';
import { loadDevIssuer, type TokenClaims } from '../../src/auth/dev-issuer.ts';
import { AuditLog, requestsOf, type RequestRecord } from '../../src/audit/index.ts';
import { forbiddenInResponses } from './response-check.ts';
import { upstreamJobId } from '../../src/doors/bigquery/job-ids.ts';

/** Every request the gateway's audit log recorded (read-only; oldest first). */
export async function auditRequests(dataDir: string, postgresUrl?: string): Promise<RequestRecord[]> {
  const log = await AuditLog.open(dataDir, { readOnly: true, postgresUrl });
  try { return requestsOf(await log.events()); } finally { await log.close(); }
}

export { freePort };

/** The error a client call rejects with (the SDK's ApiError shape); throws if the call resolves. */
export const apiError = async (p: Promise<unknown>) => { try { await p; } catch (e) { return e as { code?: number; message: string; errors?: Array<{ reason: string }> }; } throw new Error('expected an error'); };

const ROOT = resolve(import.meta.dirname, '..', '..');
const execFileP = promisify(execFile);


/** Environment that keeps Google client libraries off the network (no metadata server probe). */
export const OFFLINE_ENV = { METADATA_SERVER_DETECTION: 'none', GCE_METADATA_HOST: '127.0.0.1:1', GCE_METADATA_IP: '127.0.0.1:1' };
Object.assign(process.env, OFFLINE_ENV);

export interface TestGateway {
  url: string;
  emulatorUrl: string;
  dataDir: string;
  /** The gateway process id (its ZetaSQL server is a child). */
  pid: number;
  token(claims: TokenClaims, opts?: { ttlSec?: number; audience?: string }): Promise<string>;
  /**
   * The id a job the caller `sub` (a token of this gateway's issuer) named `jobId` has upstream and
   * in the gateway's records (audit `upstream.jobId`, approvals): namespaced per principal (src/doors/bigquery/job-ids.ts).
   */
  upstreamJobId(sub: string, jobId: string): string;
  sdk(token: string): BigQuery;
  /** The emulator directly, for ground truth (with its secret). */
  emulatorSdk(): BigQuery;
  /**
   * The emulator's secret (the bearer token it requires): the embedded emulator's, as the gateway
   * wrote it to `<dataDir>/keys/emulator.secret` this start; BQGATE_UPSTREAM_TOKEN for an emulator of its own.
   */
  emulatorSecret(): string;
  bq(token: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
  /** Runs the `bqgate` CLI against this gateway's data directory. */
  cli(args: string[], env?: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }>;
  /** Everything the gateway process wrote to stdout and stderr so far. */
  output(): string;
  /** Sends `signal` to the gateway process and waits for it to exit; resolves with its exit code (null when killed by the signal). */
  kill(signal: NodeJS.Signals): Promise<number | null>;
  stop(): Promise<void>;
}

/**
 * `env`: extra environment for the gateway process (e.g. BQGATE_POSTGRES; BQGATE_UPSTREAM for an
 * emulator of its own, BQGATE_ISSUER for the `iss` its tokens carry); `dataDir` and
 * `port`: reuse a data directory and the port (a restart: the development issuer's URL, the `iss` of
 * its tokens, stays the same), else fresh ones.
 */
export async function startGateway(opts: { env?: Record<string, string>; dataDir?: string; port?: number } = {}): Promise<TestGateway> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'bqgate-test-'));
  /** Every response this gateway sends, for the check in `stop()` (src/response-log.ts). */
  const responseLog = (port: number) => join(dataDir, `responses-${port}.log`);
  /** Starts the process and waits for /readyz; undefined when a free port was taken meanwhile (retry). */
  const launch = async (port: number, emulatorPort: number) => {
    const child: ChildProcess = spawn(process.execPath, [join(ROOT, 'bin', 'bqgate.js'), 'serve'], {
      cwd: ROOT,
      env: { ...process.env, ...OFFLINE_ENV, BQGATE_PORT: String(port), BQGATE_EMULATOR_PORT: String(emulatorPort), BQGATE_DATA_DIR: dataDir, BQGATE_LOG_LEVEL: 'warn', BQGATE_TEST_RESPONSE_LOG: responseLog(port), BQGATE_STORAGE_PORT: 'off', ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out = { child, log: '', port, emulatorPort };
    child.stdout!.on('data', (d) => { out.log += d; });
    child.stderr!.on('data', (d) => { out.log += d; });
    const up = await waitForHttp(`http://127.0.0.1:${port}/readyz`, child, { timeoutMs: 60_000, ready: (s) => s === 200, describe: () => out.log })
      .catch((err) => { child.kill('SIGKILL'); throw err; });
    if (up === 'ready') return out;
    if (out.log.includes('EADDRINUSE') && opts.port === undefined) return undefined;
    throw new Error(`gateway exited: ${out.log}`);
  };
  // freePort closes the port before the gateway binds it: another process may take it meanwhile.
  let started: Awaited<ReturnType<typeof launch>>;
  for (let attempt = 0; !started; attempt++) {
    if (attempt === 3) throw new Error('gateway could not bind free ports three times');
    started = await launch(opts.port ?? await freePort(), await freePort());
  }
  const { child, port, emulatorPort } = started;
  const log = () => started!.log;
  const url = `http://127.0.0.1:${port}`;
  const issuer = await loadDevIssuer(dataDir, opts.env?.BQGATE_ISSUER || url);
  const emulatorSecret = () => opts.env?.BQGATE_UPSTREAM ? opts.env.BQGATE_UPSTREAM_TOKEN ?? '' : readFileSync(join(dataDir, 'keys', 'emulator.secret'), 'utf8').trim();
  const cloudsdk = join(dataDir, 'gcloud');
  mkdirSync(cloudsdk, { recursive: true });
  const sdkFor = (apiEndpoint: string, token: string) => {
    const authClient = new OAuth2Client();
    authClient.setCredentials({ access_token: token });
    return new BigQuery({ projectId: 'demo-project', apiEndpoint, authClient, autoRetry: false });
  };
  return {
    url,
    emulatorUrl: opts.env?.BQGATE_UPSTREAM ?? `http://127.0.0.1:${emulatorPort}`,
    dataDir,
    pid: child.pid!,
    token: (claims, opts) => issuer.sign(claims, opts),
    upstreamJobId: (sub, jobId) => upstreamJobId({ issuer: opts.env?.BQGATE_ISSUER || url, subject: sub }, jobId),
    output: log,
    sdk: (token) => sdkFor(url, token),
    emulatorSdk: () => sdkFor(opts.env?.BQGATE_UPSTREAM ?? `http://127.0.0.1:${emulatorPort}`, emulatorSecret()),
    emulatorSecret,
    bq: (token, args) => runBq(url, token, args, cloudsdk),
    async cli(args, env = {}) {
      try {
        const r = await execFileP(process.execPath, [join(ROOT, 'bin', 'bqgate.js'), '--data-dir', dataDir, ...args], { cwd: ROOT, env: { ...process.env, ...OFFLINE_ENV, ...opts.env, ...env }, timeout: 60_000 });
        return { code: 0, stdout: r.stdout, stderr: r.stderr };
      } catch (err) {
        const e = err as { code?: number; stdout?: string; stderr?: string };
        return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
      }
    },
    async kill(signal) {
      if (child.exitCode !== null || child.signalCode) return child.exitCode;
      // The gateway's analyzer processes die with it (setpriv --pdeathsig, src/sql/zetasql.ts;
      // test/lifecycle.test.ts proves it); reaped here too where setpriv is missing.
      const kids = await execFileP('ps', ['-o', 'pid=', '--ppid', String(child.pid)]).then((r) => r.stdout.split(/\s+/).filter(Boolean).map(Number), () => [] as number[]);
      const code = await new Promise<number | null>((r) => { child.once('exit', (c) => r(c)); child.kill(signal); });
      for (const pid of kids) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
      return code;
    },
    async stop() {
      if (child.exitCode === null && !child.signalCode) {
        await new Promise<void>((r) => { child.once('exit', () => r()); child.kill('SIGTERM'); setTimeout(() => child.kill('SIGKILL'), 5000).unref(); });
      }
      // No response may have carried gateway internals (HMAC pads, salts, row filters): checked for
      // every test file that starts a gateway.
      const env = { ...process.env, ...opts.env };
      const found = forbiddenInResponses(opts.env?.BQGATE_TEST_RESPONSE_LOG ?? responseLog(port), { dataDir, policiesDir: resolve(ROOT, env.BQGATE_POLICIES ?? 'policies'), env });
      if (found.length) throw new Error(`gateway responses carried internals (${found.length}):\n${[...new Set(found)].slice(0, 20).join('\n')}`);
    },
  };
}
