/**
 * The processes the benchmark measures, each on its own free loopback port:
 * - the emulator (`bqgate emulator`), the upstream of both other paths;
 * - a plain pass-through proxy (bench/proxy.ts) in front of it;
 * - the gateway (`bqgate serve --upstream <emulator URL>`) with the benchmark policy
 *   (bench/policies), a fresh data directory (SQLite audit store, keys) and default logging.
 * Separate processes, so the load generator, the gateway and the emulator do not share an event loop.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort, waitForHttp } from '../src/net.js';
import { loadDevIssuer } from '../src/auth/dev-issuer.js';

const ROOT = resolve(import.meta.dirname, '..');
const OFFLINE = { METADATA_SERVER_DETECTION: 'none', GCE_METADATA_HOST: '127.0.0.1:1', GCE_METADATA_IP: '127.0.0.1:1' };


async function waitFor(url: string, child: ChildProcess, log: () => string) {
  if (await waitForHttp(url, child, { describe: log }) === 'exited') throw new Error(`${url}: process exited: ${log()}`);
}

/** With BQGATE_BENCH_PROF=DIR, the gateway and the emulator write V8 CPU profiles there on exit. */
const PROF = process.env.BQGATE_BENCH_PROF;

function launch(args: string[], env: Record<string, string> = {}, profile = false) {
  const prof = profile && PROF ? ['--cpu-prof', `--cpu-prof-dir=${resolve(PROF)}`] : [];
  const child = spawn(process.execPath, [...prof, ...args], { cwd: ROOT, env: { ...process.env, ...OFFLINE, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.on('data', (d) => { log = (log + d).slice(-4000); });
  return { child, log: () => log };
}

export interface Stack {
  emulatorUrl: string;
  /** The emulator's secret: the bearer token direct (and plain-proxy) calls carry. */
  emulatorSecret: string;
  proxyUrl: string;
  gatewayUrl: string;
  /** The gateway's Storage Read API (gRPC) port on 127.0.0.1. */
  storagePort: number;
  /**
   * With `startStack({ baseline: true })`: a second gateway on the same emulator, data directory of
   * its own, with the audit log on its worker thread (BQGATE_AUDIT_SQLITE_THREAD=1, the opt-in),
   * for before/after rows from one run.
   */
  baselineUrl?: string;
  /** A token the baseline gateway accepts (its own development issuer). */
  baselineToken?: (sub: string, group?: 'bench-agents' | 'bench-plain') => Promise<string>;
  /** The gateway's process id (for its peak RSS, /proc/PID/status VmHWM). */
  gatewayPid: number;
  /** The gateway's data directory (SQLite store, keys). */
  dataDir: string;
  /** A token for `sub` in `group` (bench-agents: masks and a row filter; bench-plain: allow only). */
  token(sub: string, group?: 'bench-agents' | 'bench-plain'): Promise<string>;
  /** A token for `sub` in `groups`, for the REST audience or (`mcp`) the gateway's MCP resource URI (`<gatewayUrl>/mcp`). */
  tokenFor(sub: string, groups: string[], audience: 'rest' | 'mcp'): Promise<string>;
  stop(): Promise<void>;
}

/** `gatewayEnv`: extra environment of the measured gateway (e.g. BQGATE_AUDIT_POSTGRES for the scale section). */
export async function startStack(o: { baseline?: boolean; gatewayEnv?: Record<string, string> } = {}): Promise<Stack> {
  const [emuPort, proxyPort, gwPort, emuStoragePort, storagePort] = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort()];
  const dataDir = mkdtempSync(join(tmpdir(), 'bqgate-bench-'));
  const emulatorUrl = `http://127.0.0.1:${emuPort}`;
  const emulatorSecret = randomBytes(32).toString('base64url'); // the emulator serves only callers holding it
  // The benchmark measures throughput, not the emulator's per-principal queue: its limits are raised.
  const emu = launch([join(ROOT, 'bin', 'bqgate.js'), 'emulator', '--port', String(emuPort)], { BQGATE_EMULATOR_SECRET: emulatorSecret, BQGATE_EMULATOR_STORAGE_PORT: String(emuStoragePort), UV_THREADPOOL_SIZE: '128', BQGATE_EMULATOR_MAX_PER_PRINCIPAL: '64', BQGATE_EMULATOR_MAX_RUNNING: '64' }, true);
  await waitFor(`${emulatorUrl}/bigquery/v2/projects/demo-project/datasets`, emu.child, emu.log);
  const px = launch(['--import', 'tsx', join(ROOT, 'bench', 'proxy.ts'), String(proxyPort), emulatorUrl]);
  const proxyUrl = `http://127.0.0.1:${proxyPort}`;
  await waitFor(`${proxyUrl}/bigquery/v2/projects/demo-project/datasets`, px.child, px.log);
  const gw = launch([join(ROOT, 'bin', 'bqgate.js'), 'serve', '--port', String(gwPort), '--upstream', emulatorUrl, '--policies', join(ROOT, 'bench', 'policies')],
    // The Storage Read API door on its own free port, relaying the emulator's BigQueryRead (section 8).
    { BQGATE_DATA_DIR: dataDir, BQGATE_RATE_LIMIT: '0', BQGATE_MAX_CONCURRENT: '0', BQGATE_UPSTREAM_TOKEN: emulatorSecret, BQGATE_STORAGE_PORT: String(storagePort), BQGATE_UPSTREAM_STORAGE: `127.0.0.1:${emuStoragePort}`, ...o.gatewayEnv }, true); // the benchmark measures throughput, not the abuse limits
  const gatewayUrl = `http://127.0.0.1:${gwPort}`;
  await waitFor(`${gatewayUrl}/readyz`, gw.child, gw.log);
  const issuer = await loadDevIssuer(dataDir, gatewayUrl);
  const procs = [gw, px, emu];
  let baselineUrl: string | undefined;
  let baselineToken: Stack['baselineToken'];
  if (o.baseline) {
    // Its own data directory (audit store on its worker thread) and development issuer.
    const basePort = await freePort();
    const baseDir = join(dataDir, 'baseline');
    const b = launch([join(ROOT, 'bin', 'bqgate.js'), 'serve', '--port', String(basePort), '--upstream', emulatorUrl, '--policies', join(ROOT, 'bench', 'policies')],
      { BQGATE_DATA_DIR: baseDir, BQGATE_RATE_LIMIT: '0', BQGATE_MAX_CONCURRENT: '0', BQGATE_UPSTREAM_TOKEN: emulatorSecret, BQGATE_AUDIT_SQLITE_THREAD: '1', BQGATE_STORAGE_PORT: 'off' }, true); // profiled too (BQGATE_BENCH_PROF), so both pay the profiler
    baselineUrl = `http://127.0.0.1:${basePort}`;
    await waitFor(`${baselineUrl}/readyz`, b.child, b.log);
    procs.unshift(b);
    const baseIssuer = await loadDevIssuer(baseDir, baselineUrl);
    baselineToken = (sub, group = 'bench-agents') => baseIssuer.sign({ sub, groups: [group] }, { ttlSec: 3600 });
  }
  return {
    emulatorUrl, emulatorSecret, proxyUrl, gatewayUrl, storagePort, baselineUrl, baselineToken, gatewayPid: gw.child.pid!, dataDir,
    token: (sub, group = 'bench-agents') => issuer.sign({ sub, groups: [group] }, { ttlSec: 3600 }),
    tokenFor: (sub, groups, audience) => issuer.sign({ sub, groups }, { ttlSec: 3600, ...(audience === 'mcp' ? { audience: `${gatewayUrl}/mcp` } : {}) }),
    async stop() {
      for (const p of procs) { p.child.kill('SIGTERM'); }
      await Promise.all(procs.map((p) => new Promise((r) => (p.child.exitCode !== null ? r(null) : p.child.once('exit', r)))));
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Peak resident set size of a process so far, bytes (Linux /proc/PID/status VmHWM). */
export function peakRss(pid: number): number {
  const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmHWM:\s+(\d+) kB/);
  return m ? Number(m[1]) * 1024 : NaN;
}
