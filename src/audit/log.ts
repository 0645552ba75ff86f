/**
 * The audit log: append-only events (events.ts) in a backend (SQLite or PostgreSQL), with
 * group commit, signed checkpoints and retention.
 *
 * - `append(events)` resolves once the events are durable. Appends arriving while a commit is in
 *   flight (or within the same event-loop turn) share the next commit, so concurrent requests
 *   share fsyncs. If the backend cannot write, every waiting append rejects with
 *   BigQueryError(backendError) and the gateway fails the request closed.
 * - A checkpoint is signed after every `checkpointEvery` events and every `checkpointIntervalMs`
 *   when events arrived, and on close.
 * - `retentionMs`: event bodies older than that are pruned (seq and leaf hashes stay, so
 *   checkpoints remain verifiable); checked with each interval checkpoint.
 */
import { randomUUID } from 'node:crypto';
import { BigQueryError } from '../bigquery/errors.js';
import type { LogBackend } from './backend.js';
import type { AuditEvent, AuditEventInput, Checkpoint, EventQuery } from './events.js';
import { loadSigner, type CheckpointSigner } from './signer.js';
import { SqliteLog } from './sqlite-log.js';
import { SqliteThreadLog } from './sqlite-thread.js';
import { PostgresLog } from './pg-log.js';

export interface AuditLogOptions {
  /** PostgreSQL connection URL; SQLite under the data directory when absent. */
  postgresUrl?: string;
  checkpointEvery?: number;
  checkpointIntervalMs?: number;
  retentionMs?: number;
  /**
   * Run SQLite on a worker thread: sealing, inserts and fsync off the event loop, so the next batch
   * forms while one commits. Opt-in for the gateway (config.ts BQGATE_AUDIT_SQLITE_THREAD=1); off here
   * for readers and tools. `npm run bench -- --only audit,latency` prints both side by side.
   */
  sqliteThread?: boolean;
  /** Readers (CLI, tests): no checkpoint timer, no final checkpoint, appends refused. */
  readOnly?: boolean;
  /** Called with each committed batch (sinks); errors are the listener's to handle. */
  onCommit?: (events: AuditEvent[]) => void;
}

/** Counts since the log was opened: durable commits of appended events, and the events they held. */
export interface CommitStats { commits: number; events: number; largestCommit: number }

interface Waiter { events: Array<AuditEventInput & { id: string; ts: number }>; resolve: (e: AuditEvent[]) => void; reject: (e: Error) => void }

export const auditDown = () => new BigQueryError('backendError', 'The bqgate audit log cannot be written, so the request was not run (fail closed). Retry later.');

export class AuditLog {
  private queue: Waiter[] = [];
  private running = false;
  private sinceCheckpoint = 0;
  private timer?: NodeJS.Timeout;
  private closed = false;
  private readonly counts: CommitStats = { commits: 0, events: 0, largestCommit: 0 };

  private constructor(readonly backend: LogBackend, readonly signer: CheckpointSigner, private readonly o: AuditLogOptions) {
    if (o.readOnly) { this.closed = false; return; }
    this.timer = setInterval(() => { void this.tick(); }, o.checkpointIntervalMs ?? 10_000);
    this.timer.unref();
  }

  /** Opens the log in `dataDir` (SQLite) or at `o.postgresUrl`, with the signer's key under `dataDir`. */
  static async open(dataDir: string, o: AuditLogOptions = {}): Promise<AuditLog> {
    let backend: LogBackend;
    if (o.postgresUrl) backend = await PostgresLog.open(o.postgresUrl);
    else if (o.sqliteThread && !o.readOnly) { const t = new SqliteThreadLog(dataDir); await t.ready(); backend = t; }
    else backend = new SqliteLog(dataDir);
    return new AuditLog(backend, loadSigner(dataDir), o);
  }

  /** Appends `inputs` in order; resolves with them stored (seq, leaf) once durable. */
  append(inputs: AuditEventInput[]): Promise<AuditEvent[]> {
    if (this.closed || this.o.readOnly) return Promise.reject(auditDown());
    const events = inputs.map((e) => ({ ...e, id: randomUUID(), ts: Date.now() }));
    return new Promise((resolve, reject) => {
      this.queue.push({ events, resolve, reject });
      if (!this.running) { this.running = true; setImmediate(() => { void this.drain(); }); }
    });
  }

  private async drain() {
    while (this.queue.length) {
      const batch = this.queue.splice(0);
      try {
        const stored = await this.backend.append(batch.flatMap((w) => w.events));
        let i = 0;
        for (const w of batch) { w.resolve(stored.slice(i, i + w.events.length)); i += w.events.length; }
        this.sinceCheckpoint += stored.length;
        this.counts.commits++; this.counts.events += stored.length; this.counts.largestCommit = Math.max(this.counts.largestCommit, stored.length);
        this.o.onCommit?.(stored);
      } catch {
        for (const w of batch) w.reject(auditDown());
      }
      if (this.sinceCheckpoint >= (this.o.checkpointEvery ?? 1000)) await this.checkpointLocked();
    }
    this.running = false;
  }

  private async checkpointLocked(): Promise<Checkpoint | undefined> {
    try {
      const cp = await this.backend.checkpoint((latest, leaves) => this.signer.make(latest, leaves));
      this.sinceCheckpoint = 0;
      return cp;
    } catch {
      return undefined; // retried at the next interval; appends are unaffected
    }
  }

  private async tick() {
    if (this.running) return;
    this.running = true;
    try {
      if (this.sinceCheckpoint > 0) await this.checkpointLocked();
      if (this.o.retentionMs) await this.backend.prune(Date.now() - this.o.retentionMs).catch(() => 0);
    } finally {
      this.running = false;
      if (this.queue.length) { this.running = true; void this.drain(); }
    }
  }

  /** Signs a checkpoint now (after pending appends); undefined if nothing new since the last. */
  async checkpoint(): Promise<Checkpoint | undefined> {
    while (this.running) await new Promise((r) => setTimeout(r, 1));
    this.running = true;
    try { return await this.checkpointLocked(); } finally { this.running = false; if (this.queue.length) { this.running = true; void this.drain(); } }
  }

  /** Commits and events committed since open (events ÷ commits = the group commit's batching). */
  stats(): CommitStats { return { ...this.counts }; }

  events(q: EventQuery = {}) { return this.backend.events(q); }
  checkpoints() { return this.backend.checkpoints(); }
  size() { return this.backend.size(); }
  /** A round trip to the log's store (readiness); rejects when it cannot be reached. */
  ping() { return this.backend.ping(); }
  prune(beforeTs: number) { return this.backend.prune(beforeTs); }

  /** Flushes, signs a final checkpoint, and closes the backend. */
  async close() {
    if (this.closed) return;
    clearInterval(this.timer);
    if (!this.o.readOnly) await this.checkpoint();
    this.closed = true;
    await this.backend.close();
  }
}
