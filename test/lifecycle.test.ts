/**
 * How the gateway process lives and dies on a production host (issue 22), through the real CLI:
 * - no orphans: every ZetaSQL analyzer process of the pool dies with its gateway, even when the
 *   gateway is SIGKILLed (src/sql/zetasql.ts: setpriv --pdeathsig);
 * - secrets at rest: the HMAC key, the audit signing key and the development issuer's key are
 *   created 0600 (their directory 0700), and a key file its group or other users can open is
 *   refused at start with a message saying how to fix it (src/secret-file.ts); so are the other
 *   secrets the gateway reads: the upstream token file, a service-account key, the emulator secret.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { execFile, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { createSecretFile } from '../src/secret-file.ts';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { OFFLINE_ENV, startGateway, type TestGateway } from './helpers/gateway.ts';

const ROOT = resolve(import.meta.dirname, '..');
const execFileP = promisify(execFile);
const started: TestGateway[] = [];
afterAll(async () => { for (const g of started) await g.stop().catch(() => undefined); });

/** Runs `bqgate ARGS` to its end; exit code and output. */
async function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await execFileP(process.execPath, [join(ROOT, 'bin', 'bqgate.js'), ...args], { cwd: ROOT, env: { ...process.env, ...OFFLINE_ENV, ...env }, timeout: 120_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** `bqgate serve` on free ports until it exits (a refused start); its exit code and output. */
function serveUntilExit(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'bqgate.js'), 'serve'], {
    cwd: ROOT, env: { ...process.env, ...OFFLINE_ENV, BQGATE_PORT: '0', BQGATE_EMULATOR_PORT: '0', BQGATE_LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d) => { output += d; });
  child.stderr.on('data', (d) => { output += d; });
  const guard = setTimeout(() => child.kill('SIGKILL'), 120_000);
  return new Promise((r) => child.once('exit', (code) => { clearTimeout(guard); r({ code, output }); }));
}

/** Processes whose parent is `pid` (from /proc), with their command names. */
function childrenOf(pid: number): Array<{ pid: number; comm: string }> {
  const out: Array<{ pid: number; comm: string }> = [];
  for (const d of readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) === pid) out.push({ pid: Number(d), comm: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')) });
    } catch { /* gone meanwhile */ }
  }
  return out;
}

/** Whether `pid` is still the process named `comm` (not a zombie, not a reused pid). */
function alive(pid: number, comm: string): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')) === comm && stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch { return false; }
}

const mode = (file: string) => statSync(file).mode & 0o777;

describe.skipIf(process.platform !== 'linux')('no orphans', () => {
  it('SIGKILL of the gateway ends every analyzer process of its pool', async () => {
    const gw = await startGateway({ env: { BQGATE_ANALYZER_PROCESSES: '3' } });
    started.push(gw);
    const analyzers = childrenOf(gw.pid).filter((c) => c.comm.startsWith('remote_server'));
    console.log(`gateway ${gw.pid}: analyzer processes ${analyzers.map((a) => `${a.pid} (${a.comm})`).join(', ')}`);
    expect(analyzers).toHaveLength(3);
    // SIGKILL the gateway alone (not through the helper's kill, which reaps children by hand).
    process.kill(gw.pid, 'SIGKILL');
    // The kernel delivers the parent-death signal as the gateway exits: poll (bounded) until none remains.
    let left = analyzers;
    for (let i = 0; i < 100 && left.length; i++) { await sleep(100); left = left.filter((a) => alive(a.pid, a.comm)); }
    console.log(`analyzer processes alive after the gateway's SIGKILL: ${left.length}`);
    for (const a of left) process.kill(a.pid, 'SIGKILL'); // never leave them behind, even on failure
    expect(left).toEqual([]);
  }, 180_000);
});

/** Loosens `file` to mode `bad`, runs `serve` with `env` and expects the refusal naming `what`, `who` and the fix. */
async function expectRefusedStart(env: Record<string, string>, variable: string, what: string, file: string, bad: number, who: string): Promise<void> {
  chmodSync(file, bad);
  try {
    const r = await serveUntilExit(env);
    console.log(`${variable} mode ${bad.toString(8)}: exit ${r.code}: ${r.output.split('\n').find((l) => l.startsWith('Error:'))}`);
    expect(r.code).not.toBe(0);
    expect(r.output).toContain(`${what} ${file} is accessible by ${who} (mode 0${bad.toString(8)})`);
    expect(r.output).toContain(`Fix: chmod 600 ${file}`);
    expect(r.output).not.toContain('bqgate listening');
  } finally { chmodSync(file, 0o600); }
}

describe.skipIf(process.platform === 'win32')('secrets at rest', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bqgate-keys-'));
  const keys = join(dir, 'keys');

  it('`keys init` creates every key 0600 in a 0700 directory', async () => {
    const r = await cli(['keys', 'init', keys]);
    expect(r.code, r.stderr).toBe(0);
    expect(mode(keys)).toBe(0o700);
    for (const f of ['audit-ed25519.pem', 'hmac.key', 'dev-issuer.jwk.json', 'emulator.secret']) {
      console.log(`${f}: ${mode(join(keys, f)).toString(8)}`);
      expect(mode(join(keys, f)), f).toBe(0o600);
    }
  });

  it('a development issuer key its group can read is refused, with the fix (`bqgate token`)', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'bqgate-tok-'));
    const ok = await cli(['--data-dir', dataDir, 'token', '--sub', 'a']);
    expect(ok.code, ok.stderr).toBe(0);
    const file = join(dataDir, 'keys', 'dev-issuer.jwk.json');
    expect(mode(file)).toBe(0o600);
    expect(mode(join(dataDir, 'keys'))).toBe(0o700);
    chmodSync(file, 0o640);
    const r = await cli(['--data-dir', dataDir, 'token', '--sub', 'a']);
    console.log(r.stderr.split('\n').find((l) => l.startsWith('Error:')));
    expect(r.code).not.toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(`the development issuer's key ${file} is accessible by its group (mode 0640)`);
    expect(r.stderr).toContain(`chmod 600 ${file}`);
    chmodSync(file, 0o600);
    expect((await cli(['--data-dir', dataDir, 'token', '--sub', 'a'])).code).toBe(0);
  });

  it.each([
    ['the HMAC key', 'BQGATE_HMAC_KEY_FILE', 'hmac.key', 0o644, 'other users'],
    ['the audit signing key', 'BQGATE_AUDIT_KEY_FILE', 'audit-ed25519.pem', 0o640, 'its group'],
    ["the development issuer's key", 'BQGATE_DEV_ISSUER_KEY_FILE', 'dev-issuer.jwk.json', 0o604, 'other users'],
  ])('`serve` refuses to start when %s (%s) is readable by others', async (what, variable, name, bad, who) => {
    const file = join(keys, name);
    const env = { BQGATE_DATA_DIR: mkdtempSync(join(tmpdir(), 'bqgate-refuse-')), BQGATE_HMAC_KEY_FILE: join(keys, 'hmac.key'), BQGATE_AUDIT_KEY_FILE: join(keys, 'audit-ed25519.pem'), BQGATE_DEV_ISSUER_KEY_FILE: join(keys, 'dev-issuer.jwk.json'), [variable]: file };
    expect(existsSync(file)).toBe(true);
    await expectRefusedStart(env, variable, what, file, bad, who);
  }, 180_000);

  it.each([
    ['the upstream token file (BQGATE_UPSTREAM_TOKEN_FILE)', 'BQGATE_UPSTREAM_TOKEN_FILE', 0o644, 'other users'],
    ['the service-account key (BQGATE_CREDENTIALS)', 'BQGATE_CREDENTIALS', 0o640, 'its group'],
    ['the emulator secret', 'emulator.secret in the data directory', 0o604, 'other users'],
  ])('`serve` refuses to start when %s is readable by others', async (what, variable, bad, who) => {
    const dataDir = mkdtempSync(join(tmpdir(), 'bqgate-refuse-'));
    const env: Record<string, string> = { BQGATE_DATA_DIR: dataDir };
    let file: string;
    if (variable === 'BQGATE_CREDENTIALS') {
      // A service-account key as Google issues it (the key itself is never used: the start is refused first).
      file = join(dir, 'sa.json');
      writeFileSync(file, JSON.stringify({ type: 'service_account', client_email: 'gw@demo-project.iam.gserviceaccount.com', private_key: '-----BEGIN PRIVATE KEY-----\nMII…\n-----END PRIVATE KEY-----\n' }), { mode: 0o600 });
      env.BQGATE_CREDENTIALS = file;
    } else if (variable === 'BQGATE_UPSTREAM_TOKEN_FILE') {
      file = join(keys, 'emulator.secret');
      Object.assign(env, { BQGATE_UPSTREAM: 'http://127.0.0.1:9', BQGATE_UPSTREAM_TOKEN_FILE: file });
    } else {
      file = join(dataDir, 'keys', 'emulator.secret');
      createSecretFile(file, 'an older secret');
    }
    await expectRefusedStart(env, variable, what, file, bad, who);
  }, 180_000);

  it('`emulator` refuses a BQGATE_EMULATOR_SECRET_FILE readable by others', async () => {
    const file = join(keys, 'emulator.secret');
    chmodSync(file, 0o644);
    try {
      const r = await cli(['emulator', '--port', '0'], { BQGATE_EMULATOR_SECRET_FILE: file });
      console.log(`BQGATE_EMULATOR_SECRET_FILE mode 644: exit ${r.code}: ${r.stderr.split('\n').find((l) => l.startsWith('Error:'))}`);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain(`the emulator secret (BQGATE_EMULATOR_SECRET_FILE) ${file} is accessible by other users (mode 0644)`);
      expect(r.stderr).toContain(`Fix: chmod 600 ${file}`);
    } finally { chmodSync(file, 0o600); }
  }, 180_000);

  it('a gateway creates its keys 0600 on first start', async () => {
    const gw = await startGateway();
    started.push(gw);
    for (const f of ['hmac.key', 'audit-ed25519.pem', 'dev-issuer.jwk.json']) {
      console.log(`${f}: ${mode(join(gw.dataDir, 'keys', f)).toString(8)}`);
      expect(mode(join(gw.dataDir, 'keys', f)), f).toBe(0o600);
    }
    expect(mode(join(gw.dataDir, 'keys'))).toBe(0o700);
  }, 180_000);
});
