/**
 * Statements that crashed or stalled an analyzer process, remembered for a while so that sending
 * the same one again is refused at once instead of taking another process down.
 *
 * A statement is remembered by a fingerprint of its text: SHA-256 (hex) of the text lowercased with
 * every run of whitespace made one space and the ends trimmed — cheap, and blind to re-indenting
 * and keyword case (it also folds the case of literals, erring towards refusing). In memory, per
 * gateway process; at most `maxEntries`, the oldest forgotten first.
 */
import { createHash } from 'node:crypto';
import { BigQueryError } from '../bigquery/errors.js';

/** SHA-256 (hex) of `sql` normalized as the module comment says. */
export function textFingerprint(sql: string): string {
  return createHash('sha256').update(sql.toLowerCase().replace(/\s+/g, ' ').trim()).digest('hex');
}

/** What happened to the statement: it crashed the process, or passed the call deadline. */
export type QuarantineCause = 'crash' | 'deadline';

/** One quarantined statement: what it did, when, until when it is refused (ms since the epoch), and a note on the cause. */
export interface QuarantineEntry { cause: QuarantineCause; at: number; until: number; note?: string }
type Entry = QuarantineEntry;

export class Quarantine {
  private entries = new Map<string, Entry>();

  /** `ttlMs`: how long a statement stays refused, ms (0: never remembered). */
  constructor(private readonly ttlMs: number, private readonly maxEntries = 10_000, private readonly now = () => Date.now()) {}

  /** Remembers `sql` for `ttlMs` from now; returns the entry (not kept when `ttlMs` is 0). */
  add(sql: string, cause: QuarantineCause, note?: string): Entry {
    const e: Entry = { cause, at: this.now(), until: this.now() + Math.max(0, this.ttlMs), ...(note ? { note } : {}) };
    if (this.ttlMs <= 0) return e;
    const fp = textFingerprint(sql);
    this.entries.delete(fp);
    this.entries.set(fp, e);
    if (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value as string);
    return e;
  }

  /** The entry for `sql` while it is quarantined. */
  lookup(sql: string): Entry | undefined {
    if (!this.entries.size) return undefined;
    const fp = textFingerprint(sql);
    const e = this.entries.get(fp);
    if (e && e.until <= this.now()) { this.entries.delete(fp); return undefined; }
    return e;
  }

  /**
   * Throws `BigQueryError('invalidQuery')` when `sql` is quarantined: the message says what it did,
   * when, and until when (ISO 8601) it stays refused.
   */
  check(sql: string): void {
    const e = this.lookup(sql);
    if (e) throw quarantined(e);
  }

  get size(): number { return this.entries.size; }
}

/** The refusal for a quarantined statement (also what the call that crashed or stalled gets). */
export function quarantined(e: Entry): BigQueryError {
  const what = e.cause === 'crash' ? "crashed bqgate's SQL analyzer" : "stalled bqgate's SQL analyzer past its deadline";
  const until = e.until > e.at ? `; bqgate refuses it (ignoring case and spacing) without analyzing it again until ${new Date(e.until).toISOString()}` : '';
  return new BigQueryError('invalidQuery', `This statement ${what} (${new Date(e.at).toISOString()}${e.note ? `, ${e.note}` : ''})${until}. It was not run. Change the statement: simplify or split it.`, { location: 'q' });
}
