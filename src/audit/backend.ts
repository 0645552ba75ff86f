/**
 * The storage interface of the audit log, implemented by SQLite (sqlite-log.ts, the embedded
 * default) and PostgreSQL (pg-log.ts, shared by several gateway replicas). The same test suite runs
 * against both.
 *
 * Contract:
 * - `append` numbers the batch after the log's current end (seq = leaf index, no gaps), computes
 *   leaf hashes, and resolves only once the batch is durable (committed with fsync); it rejects if
 *   anything could not be written, and then nothing of the batch is visible.
 * - writers are serialized (SQLite: one connection; PostgreSQL: an advisory transaction lock), so
 *   seq order is commit order across replicas;
 * - `checkpoint` runs `make` under the same lock with the latest checkpoint and the leaves after it,
 *   and stores what it returns;
 * - pruning (retention) drops event bodies but keeps seq and leaf hash, so checkpoints stay
 *   verifiable.
 */
import type { AuditEvent, AuditEventInput, Checkpoint, EventQuery } from './events.js';

/** An event to append; `dataJson`: its data in RFC 8785 canonical JSON, computed as it was appended (log.ts), so a commit only wraps it. */
export interface PendingEvent extends AuditEventInput { id: string; ts: number; dataJson?: string }

/** A stored entry: the event, or for a pruned one only its seq, time and leaf hash. */
export type StoredEvent = AuditEvent | { seq: number; ts: number; leaf: string; pruned: true };

export interface SinkLease { next: number; advance(next: number): Promise<void>; release(): Promise<void> }

export interface LogBackend {
  readonly kind: 'sqlite' | 'postgres';
  append(batch: PendingEvent[]): Promise<AuditEvent[]>;
  checkpoint(make: (latest: Checkpoint | undefined, leavesAfter: Buffer[]) => Checkpoint | undefined): Promise<Checkpoint | undefined>;
  /** Events matching `q`, ascending seq (pruned events never match). */
  events(q: EventQuery): Promise<AuditEvent[]>;
  /** Entries with fromSeq ≤ seq < toSeq, ascending, pruned ones included. */
  entries(fromSeq: number, toSeq: number): Promise<StoredEvent[]>;
  checkpoints(): Promise<Checkpoint[]>;
  /** Number of events ever appended (the tree size). */
  size(): Promise<number>;
  /** A round trip to the store (readiness); rejects when it cannot be reached. */
  ping(): Promise<void>;
  /**
   * A sink's delivery cursor, leased so only one gateway (replica) delivers for `name` at a time:
   * undefined when another holds it. `next` is the first seq not yet delivered; `advance` stores a
   * new one (durably) and ends the lease; `release` ends it unchanged.
   */
  leaseSink(name: string): Promise<SinkLease | undefined>;
  /** Drops the bodies of events older than `beforeTs` (ms) that a checkpoint covers; returns how many. */
  prune(beforeTs: number): Promise<number>;
  close(): Promise<void>;
}


/** The tables of the log, in SQL both stores accept (`int`: the 64-bit integer type; `json`: the range column's type). */
export const logSchema = (int: string, json: string) => `
  CREATE TABLE IF NOT EXISTS audit_log (
    seq ${int} PRIMARY KEY, id TEXT NOT NULL UNIQUE, ts ${int} NOT NULL, type TEXT NOT NULL,
    request_id TEXT NOT NULL, session_key TEXT, principal TEXT NOT NULL, issuer TEXT NOT NULL, actor TEXT,
    decision TEXT, tables TEXT, columns TEXT, body TEXT, leaf TEXT NOT NULL);
  CREATE INDEX IF NOT EXISTS audit_log_principal ON audit_log(principal, ts);
  CREATE INDEX IF NOT EXISTS audit_log_request ON audit_log(request_id);
  CREATE INDEX IF NOT EXISTS audit_log_ts ON audit_log(ts);
  CREATE TABLE IF NOT EXISTS audit_checkpoints (
    tree_size ${int} PRIMARY KEY, root TEXT NOT NULL, ts ${int} NOT NULL, signature TEXT NOT NULL,
    key_id TEXT NOT NULL, range ${json} NOT NULL);
  CREATE TABLE IF NOT EXISTS audit_sink_cursors (name TEXT PRIMARY KEY, next_seq ${int} NOT NULL);
`;
