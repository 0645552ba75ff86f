/**
 * The durability of the SQLite audit log, off the event loop: the connection runs with
 * synchronous=NORMAL (a commit writes its WAL frames but does not fsync them; checkpoints of the WAL
 * into the database still sync both files, https://www.sqlite.org/pragma.html#pragma_synchronous),
 * and after each commit `flush()` fdatasyncs the `-wal` file on libuv's threadpool
 * (https://nodejs.org/api/fs.html#fsfdatasyncfd-callback). A commit is durable once its flush
 * resolves — the same point synchronous=FULL would have returned — but the gateway's event loop is
 * not blocked for the disk while it waits, so other requests run and the next batch commits
 * (and starts its own flush) meanwhile.
 *
 * - Flushes resolve in the order they were started; a flush resolves only after every earlier one
 *   succeeded (a later fdatasync must not report a batch durable whose WAL frames follow ones an
 *   earlier, failed flush may have lost: WAL frames are checksummed in a chain).
 * - Any failure breaks the syncer for good: that flush and every later one reject (fail closed;
 *   the log must be reopened). Linux may drop dirty pages after a failed fdatasync, so nothing
 *   written before it can be trusted durable.
 * - The WAL file is opened read-only by path and reopened when its inode changes; the directory is
 *   fsynced once per WAL inode, as SQLite does for a WAL it creates.
 */
import { closeSync, fdatasync, fsyncSync, openSync, statSync } from 'node:fs';
import { dirname } from 'node:path';

export class WalSync {
  private fd?: number;
  private ino?: number;
  private last: Promise<void> = Promise.resolve();
  private broken?: Error;

  constructor(private readonly walPath: string) {}

  /** Resolves once everything written to the WAL before this call is on disk; rejects (for good) if it cannot be. */
  flush(): Promise<void> {
    if (this.broken) return Promise.reject(this.broken);
    let fd: number;
    try {
      fd = this.file();
    } catch (err) {
      return Promise.reject(this.break(err));
    }
    const mine = new Promise<void>((resolve, reject) => fdatasync(fd, (err) => (err ? reject(this.break(err)) : resolve())));
    const prev = this.last;
    const ordered = (async () => {
      try { await prev; } catch (err) { mine.catch(() => {}); throw err; }
      await mine;
      if (this.broken) throw this.broken;
    })();
    this.last = ordered;
    return ordered;
  }

  /** Why the syncer stopped, once it has. */
  get failure(): Error | undefined { return this.broken; }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  private break(err: unknown): Error {
    this.broken ??= new Error(`the audit log's WAL could not be synced to disk: ${(err as Error).message}`);
    return this.broken;
  }

  private file(): number {
    const ino = statSync(this.walPath).ino; // after a commit the WAL exists; a missing one is a failure
    if (this.fd === undefined || ino !== this.ino) {
      this.close();
      this.fd = openSync(this.walPath, 'r');
      this.ino = ino;
      const dir = openSync(dirname(this.walPath), 'r');
      try { fsyncSync(dir); } finally { closeSync(dir); }
    }
    return this.fd;
  }
}
