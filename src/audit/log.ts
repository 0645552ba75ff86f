/**
 * The audit log: append-only events (events.ts) in a backend (SQLite or PostgreSQL), with
 * group commit, signed checkpoints and retention.
 *
 * - `append(events)` resolves once the events are durable. Appends arriving within the same
 *   event-loop turn share a commit, and so do those arriving while `PIPELINE` commits are in flight;
 *   below that, a batch starts its commit at once, beside the ones in flight (SQLite: its own WAL
 *   flush, resolved in order, sqlite-log.ts; PostgreSQL: its own transaction, queued on the writer
 *   lock), so a request waits for its own commit, not for the one before it to end first. If the
 *   backend cannot write, every waiting append rejects with BigQueryError(backendError) and the
 *   gateway fails the request closed.
 * - Each event's data is put in canonical JSON (RFC 8785, the costly part of sealing it) as it is
 *   appended, in the appending request's own turn, not inside the shared commit.
 * - A checkpoint is signed after every `checkpointEvery` events and every `checkpointIntervalMs`
 *   when events arrived, and on close.
 * - `retentionMs`: event bodies older than that are pruned (seq and leaf hashes stay, so
 *   checkpoints remain verifiable); checked with each interval checkpoint.
 */
import { randomUUID } from 'node:crypto';
import { BigQueryError } from '../bigquery/errors.js';
import type { LogBackend, PendingEvent } from './backend.js';
import { canonicalData, type AuditEvent, type AuditEventInput, type Checkpoint, type EventQuery } from './events.js';
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

interface Waiter { events: PendingEvent[]; resolve: (e: AuditEvent[]) => void; reject: (e: Error) => void }

/** Commits in flight at once (beyond it, appends wait and share the next one). */
const PIPELINE = 4;

export const auditDown = () => new BigQueryError('backendError', 'The bqgate audit log cannot be written, so the request was not run (fail closed). Retry later.');

export class AuditLog {
  private queue: Waiter[] = [];
  private running = false;
  /** Commits started and not yet settled (their waiters resolved or rejected). */
  private readonly inFlight = new Set<Promise<void>>();
  /** Events in those commits. */
  private uncommitted = 0;
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
    let events: PendingEvent[];
    try {
      events = inputs.map((e) => ({ ...e, id: randomUUID(), ts: Date.now(), dataJson: canonicalData(e.data) }));
    } catch {
      return Promise.reject(auditDown()); // data with no canonical JSON (a cycle, a BigInt) cannot be sealed: as a failed write
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ events, resolve, reject });
      if (!this.running) { this.running = true; setImmediate(() => { void this.drain(); }); }
    });
  }

  private async drain() {
    while (this.queue.length) {
      while (this.inFlight.size >= PIPELINE) await Promise.race(this.inFlight);
      const batch = this.queue.splice(0);
      const settled = this.commit(batch).finally(() => { this.inFlight.delete(settled); });
      this.inFlight.add(settled);
      if (this.sinceCheckpoint + this.uncommitted >= (this.o.checkpointEvery ?? 1000)) {
        await this.settleAll();
        if (this.sinceCheckpoint >= (this.o.checkpointEvery ?? 1000)) await this.checkpointLocked();
      }
    }
    this.running = false;
  }

  /** Commits one batch and settles its waiters; never rejects. */
  private async commit(batch: Waiter[]): Promise<void> {
    const events = batch.flatMap((w) => w.events);
    this.uncommitted += events.length;
    try {
      const stored = await this.backend.append(events);
      let i = 0;
      for (const w of batch) { w.resolve(stored.slice(i, i + w.events.length)); i += w.events.length; }
      this.sinceCheckpoint += stored.length;
      this.counts.commits++; this.counts.events += stored.length; this.counts.largestCommit = Math.max(this.counts.largestCommit, stored.length);
      this.o.onCommit?.(stored);
    } catch {
      for (const w of batch) w.reject(auditDown());
    } finally {
      this.uncommitted -= events.length;
    }
  }

  /** Waits until every commit in flight has settled. */
  private async settleAll() {
    while (this.inFlight.size) await Promise.all(this.inFlight);
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
      await this.settleAll();
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
    try { await this.settleAll(); return await this.checkpointLocked(); } finally { this.running = false; if (this.queue.length) { this.running = true; void this.drain(); } }
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
