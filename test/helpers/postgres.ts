/**
 * A throwaway PostgreSQL server for tests and the benchmark: Debian's binaries
 * (/usr/lib/postgresql/<version>/bin, installed by .ci/run), a fresh cluster in a temporary
 * directory, listening on a free loopback port only. Run as the `postgres` user when we are root
 * (PostgreSQL refuses to run as root). BQGATE_TEST_POSTGRES=postgres://… uses an existing server
 * instead.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../src/net.ts';

export interface TestPostgres {
  url: string;
  /** Stops the server (fast shutdown: clients are disconnected); the data stays. */
  pause(): void;
  /** Starts the stopped server again on the same port. */
  resume(): void;
  /** Stops the server and removes its data. */
  stop(): void;
}


/** The directory of Debian's PostgreSQL server binaries, or undefined if not installed. */
export function postgresBin(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const v = readdirSync(root).filter((d) => existsSync(join(root, d, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a))[0];
  return v ? join(root, v, 'bin') : undefined;
}

export async function startPostgres(): Promise<TestPostgres> {
  if (process.env.BQGATE_TEST_POSTGRES) {
    const unsupported = () => { throw new Error('pause/resume need a server this helper started (BQGATE_TEST_POSTGRES is set)'); };
    return { url: process.env.BQGATE_TEST_POSTGRES, pause: unsupported, resume: unsupported, stop() {} };
  }
  const bin = postgresBin();
  if (!bin) throw new Error('PostgreSQL server binaries not found under /usr/lib/postgresql (apt-get install postgresql; .ci/run does)');
  const dir = mkdtempSync(join(tmpdir(), 'bqgate-pg-'));
  chmodSync(dir, 0o777);
  const data = join(dir, 'data');
  const port = await freePort();
  const asPg = process.getuid?.() === 0;
  const run = (cmd: string, args: string[]) => {
    const r = asPg ? spawnSync('runuser', ['-u', 'postgres', '--', join(bin, cmd), ...args], { encoding: 'utf8' }) : spawnSync(join(bin, cmd), args, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr || r.stdout}`);
  };
  run('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-instructions']);
  const start = () => run('pg_ctl', ['-D', data, '-l', join(dir, 'log'), '-w', '-t', '60', '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=on`, 'start']);
  start();
  run('createdb', ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', 'bqgate']);
  return {
    url: `postgres://postgres@127.0.0.1:${port}/bqgate`,
    pause: () => run('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']),
    resume: start,
    stop() {
      try { run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']); } catch { /* already down */ }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Runs one SQL statement with psql; its unaligned, tuples-only output. */
export function psql(url: string, sql: string): string {
  return execFileSync('psql', [url, '-Atc', sql], { encoding: 'utf8' });
}
