/**
 * The SQLite audit log on its own worker thread (opt-in, BQGATE_AUDIT_SQLITE_THREAD=1; the default keeps
 * it on the event loop, which measured faster at 1, 16 and 64 callers on the 2-core bench machine): better-sqlite3 is synchronous, and a commit on the gateway's event loop — the
 * events' sealing (RFC 8785 canonical JSON, SHA-256 leaf hash), the inserts and the fsync — stalls
 * every request in flight, so a batch's cost lands on every concurrent request's own time. On the
 * worker, the next batch forms on the event loop while the current one commits (log.ts). The worker owns the
 * connection (sqlite-log.ts) and answers calls by message; the gateway thread only waits.
 * If the worker dies, every pending and later call rejects, and the gateway fails closed.
 */
import { Worker } from 'node:worker_threads';
import type { LogBackend, PendingEvent, StoredEvent } from './backend.js';
import type { AuditEvent, Checkpoint, EventQuery } from './events.js';

export class SqliteThreadLog implements LogBackend {
  readonly kind = 'sqlite' as const;
  private worker: Worker;
  private next = 0;
  private pending = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>();
  private dead?: Error;

  constructor(dataDir: string) {
    // Compiled (dist/, `npm run build`): the worker is plain JavaScript. From the sources: worker-boot.mjs
    // registers tsx's loader in the thread first.
    this.worker = import.meta.url.endsWith('.js')
      ? new Worker(new URL('./sqlite-worker.js', import.meta.url), { workerData: { dataDir } })
      : new Worker(new URL('./worker-boot.mjs', import.meta.url), {
        workerData: { entry: new URL('./sqlite-worker.ts', import.meta.url).href, dataDir },
      });
    this.worker.on('message', (m: { id: number; result?: unknown; error?: string }) => {
      const p = this.pending.get(m.id);
      this.pending.delete(m.id);
      if (m.error !== undefined) p?.reject(new Error(m.error)); else p?.resolve(m.result);
    });
    const die = (err: Error) => {
      this.dead = err;
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    };
    this.worker.on('error', die);
    this.worker.on('exit', (code) => die(new Error(`audit log worker exited (${code})`)));
  }

  private call<T>(method: string, ...args: unknown[]): Promise<T> {
    if (this.dead) return Promise.reject(this.dead);
    const id = this.next++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, method, args });
    });
  }

  /** Resolves once the worker opened the database (throws if it could not). */
  ready(): Promise<number> { return this.call('size'); }

  /** The worker seals and commits; only the leaf hashes come back (the events are not copied twice). */
  async append(batch: PendingEvent[]): Promise<AuditEvent[]> {
    const { first, leaves } = await this.call<{ first: number; leaves: string[] }>('appendLeaves', batch);
    return batch.map((p, i) => ({ ...p, seq: first + i, leaf: leaves[i] }) as AuditEvent);
  }

  async checkpoint(make: (latest: Checkpoint | undefined, leavesAfter: Buffer[]) => Checkpoint | undefined) {
    const { latest, leaves } = await this.call<{ latest?: Checkpoint; leaves: string[] }>('checkpointInputs');
    const cp = make(latest, leaves.map((l) => Buffer.from(l, 'hex')));
    if (cp) await this.call('insertCheckpoint', cp);
    return cp;
  }

  events(q: EventQuery): Promise<AuditEvent[]> { return this.call('events', q); }
  entries(fromSeq: number, toSeq: number): Promise<StoredEvent[]> { return this.call('entries', fromSeq, toSeq); }
  checkpoints(): Promise<Checkpoint[]> { return this.call('checkpoints'); }
  size(): Promise<number> { return this.call('size'); }
  ping(): Promise<void> { return this.call('ping'); }
  prune(beforeTs: number): Promise<number> { return this.call('prune', beforeTs); }

  async leaseSink(name: string) {
    return { next: await this.call<number>('sinkCursor', name), advance: (n: number) => this.call<void>('setSinkCursor', name, n), release: async () => {} };
  }

  async close() {
    if (!this.dead) await this.call('close').catch(() => {});
    await this.worker.terminate();
  }
}
