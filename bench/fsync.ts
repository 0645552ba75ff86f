/**
 * Benchmark section 8: what one durable commit costs on this disk, the floor under the audit's
 * share of the gateway's own time. Three measurements, each `n` times, ms from performance.now():
 * - `fsync`: write 512 bytes at the end of a file and `fs.fdatasyncSync` it (the disk's flush);
 * - `SQLite WAL commit`: one single-row INSERT transaction in a WAL database with
 *   synchronous=FULL (https://www.sqlite.org/pragma.html#pragma_synchronous), as the audit log opens it;
 * - `PostgreSQL commit` (when `pg` is given): one single-row INSERT with synchronous_commit on.
 * Every request makes two durable commits (request + decision before the upstream call, the rest
 * before the response), so the own-p50 budget left after them is the target minus 2 × commit p50.
 *
 * Standalone: `npx tsx bench/fsync.ts` (prints the rows and the budget); also `npm run bench -- --only fsync`.
 */
import { closeSync, fdatasyncSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { openSqlite } from '../src/sqlite.js';
import { pct } from './latency.js';

const row = (name: string, xs: number[]) => ({ name, samples: xs.length, p50_ms: +pct(xs, 50).toFixed(3), p99_ms: +pct(xs, 99).toFixed(3) });

async function time(n: number, f: () => unknown): Promise<number[]> {
  const xs: number[] = [];
  for (let i = 0; i < n; i++) { const t = performance.now(); await f(); xs.push(performance.now() - t); }
  return xs;
}

/** Rows of `{name, samples, p50_ms, p99_ms}`; `pgUrl`: a PostgreSQL to measure too. */
export async function benchFsync(o: { n?: number; pgUrl?: string } = {}) {
  const n = o.n ?? 500;
  const dir = mkdtempSync(join(tmpdir(), 'bqgate-fsync-'));
  const rows: Array<ReturnType<typeof row>> = [];
  try {
    const fd = openSync(join(dir, 'raw'), 'a');
    const buf = Buffer.alloc(512, 1);
    rows.push(row('fsync (fdatasync after a 512-byte append)', await time(n, () => { writeSync(fd, buf); fdatasyncSync(fd); })));
    closeSync(fd);
    const db = openSqlite(dir, 'wal.sqlite', 'FULL');
    db.exec('CREATE TABLE t (i INTEGER PRIMARY KEY, body TEXT)');
    const ins = db.prepare('INSERT INTO t (body) VALUES (?)');
    const body = 'x'.repeat(400);
    rows.push(row('SQLite WAL commit, synchronous=FULL (one row)', await time(n, () => db.transaction(() => ins.run(body))())));
    db.close();
    if (o.pgUrl) {
      const { default: pg } = await import('pg');
      const c = new pg.Client({ connectionString: o.pgUrl });
      await c.connect();
      await c.query('CREATE TABLE IF NOT EXISTS fsync_bench (i BIGSERIAL PRIMARY KEY, body TEXT)');
      rows.push(row('PostgreSQL commit, synchronous_commit=on (one row)', await time(n, () => c.query('INSERT INTO fsync_bench (body) VALUES ($1)', [body]))));
      await c.end();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

/** The own-p50 budget left by two durable commits of `commitP50` ms each under a `targetMs` target. */
export const budgetLine = (commitP50: number, targetMs = 1) =>
  `two durable commits per request at the SQLite commit p50 of ${commitP50} ms: ${(2 * commitP50).toFixed(3)} ms of a ${targetMs} ms own-p50 target, ${(targetMs - 2 * commitP50).toFixed(3)} ms left for everything else${2 * commitP50 > targetMs ? ' (the target is below the disk\'s floor)' : ''}`;

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const rows = await benchFsync({ n: Number(process.env.N ?? 500) });
  console.table(rows);
  console.log(budgetLine(rows[1].p50_ms));
}
