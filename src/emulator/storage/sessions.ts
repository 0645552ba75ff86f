/**
 * Read sessions and their streams, in memory
 * (https://cloud.google.com/bigquery/docs/reference/storage/rpc/google.cloud.bigquery.storage.v1).
 *
 * A session holds the rows it was created over (a snapshot) and is named
 * `projects/P/locations/US/sessions/<id>`; its streams `<session>/streams/<id>` are contiguous row
 * ranges `[start, end)` of it. `create` splits the rows over `streamCount(rows, max_stream_count)`
 * streams deterministically (stream i gets rows ⌊i·n/k⌋ … ⌊(i+1)·n/k⌋ − 1), so together they
 * cover every row exactly once. `split(name, fraction)` makes two new streams, the first
 * ⌊len·fraction⌋ rows (at least 1) and the rest, leaving the original readable; a stream of fewer
 * than 2 rows cannot be split (both answers absent, as the proto says).
 *
 * Sessions expire 6 hours after creation (BigQuery's session lifetime); at most MAX_SESSIONS are
 * kept, the oldest dropped first. A stream of an expired or dropped session is NOT_FOUND.
 */
import { randomBytes } from 'node:crypto';
import type { Schema } from 'apache-arrow';
import type avro from 'avsc';
import type { BqField } from '../encode.js';
import type { DuckDBValue } from '@duckdb/node-api';
import { StorageError } from './errors.js';

/** Session lifetime, ms (BigQuery: 6 hours). */
export const SESSION_LIFETIME_MS = 6 * 3600 * 1000;
/** Sessions kept at once. */
export const MAX_SESSIONS = 64;
/** Streams when max_stream_count is 0: one per this many rows, at least 1, at most DEFAULT_MAX_STREAMS. */
export const ROWS_PER_DEFAULT_STREAM = 10_000;
export const DEFAULT_MAX_STREAMS = 100;

export interface Session {
  name: string;
  table: string;
  format: 'ARROW' | 'AVRO';
  fields: BqField[];
  rows: DuckDBValue[][];
  expireAt: number;
  arrow?: { schema: Schema; serialized: Uint8Array };
  avro?: { json: string; type: avro.Type };
}

export interface Stream { name: string; session: Session; start: number; end: number }

/** How many streams a session of `rows` rows gets for `max_stream_count` `requested` (0: the emulator's choice). */
export function streamCount(rows: number, requested: number): number {
  const k = requested > 0 ? requested : Math.min(DEFAULT_MAX_STREAMS, Math.ceil(rows / ROWS_PER_DEFAULT_STREAM));
  return Math.max(1, Math.min(k, rows));
}

const id = () => randomBytes(12).toString('hex');

export class Sessions {
  private readonly sessions = new Map<string, Session>();
  private readonly streams = new Map<string, Stream>();

  /** A new session over `s.rows` with its streams. */
  create(projectId: string, s: Omit<Session, 'name' | 'expireAt'>, requestedStreams: number, now = Date.now()): { session: Session; streams: Stream[] } {
    this.expire(now);
    while (this.sessions.size >= MAX_SESSIONS) this.drop(this.sessions.keys().next().value as string);
    const session: Session = { ...s, name: `projects/${projectId}/locations/US/sessions/${id()}`, expireAt: now + SESSION_LIFETIME_MS };
    this.sessions.set(session.name, session);
    const n = session.rows.length;
    const k = streamCount(n, requestedStreams);
    const streams = Array.from({ length: k }, (_x, i) => this.addStream(session, Math.floor((i * n) / k), Math.floor(((i + 1) * n) / k)));
    return { session, streams };
  }

  private addStream(session: Session, start: number, end: number): Stream {
    const st = { name: `${session.name}/streams/${id()}`, session, start, end };
    this.streams.set(st.name, st);
    return st;
  }

  /** The stream `name`; NOT_FOUND when unknown or its session expired. */
  stream(name: string, now = Date.now()): Stream {
    this.expire(now);
    const st = this.streams.get(name);
    if (!st) throw new StorageError('NOT_FOUND', `Not found: read stream ${name} (unknown, or its session expired).`);
    return st;
  }

  /** Splits a stream at `fraction` ∈ (0, 1) (module docstring); INVALID_ARGUMENT for a fraction outside. */
  split(name: string, fraction: number): { primary?: Stream; remainder?: Stream } {
    if (!(fraction > 0 && fraction < 1)) throw new StorageError('INVALID_ARGUMENT', `fraction must be in (0.0, 1.0); got ${fraction}.`);
    const st = this.stream(name);
    const len = st.end - st.start;
    if (len < 2) return {};
    const at = st.start + Math.min(len - 1, Math.max(1, Math.floor(len * fraction)));
    return { primary: this.addStream(st.session, st.start, at), remainder: this.addStream(st.session, at, st.end) };
  }

  private drop(sessionName: string): void {
    this.sessions.delete(sessionName);
    for (const [n, st] of this.streams) if (st.session.name === sessionName) this.streams.delete(n);
  }

  private expire(now: number): void {
    for (const s of [...this.sessions.values()]) if (s.expireAt <= now) this.drop(s.name);
  }
}
