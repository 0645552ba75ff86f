/**
 * The emulator's statement queue: DuckDB shares the machine's cores among every running
 * statement, so one principal's heavy joins would otherwise slow everyone else's small queries.
 * At most `perPrincipal` statements of one principal run at once and at most `total` overall;
 * the rest wait in per-principal queues, served round robin (the principal that waited longest
 * for a slot goes first), so another principal's statement starts as soon as any slot frees.
 * At most `maxQueued` statements of one principal wait; more are refused with rateLimitExceeded.
 *
 * The principal is the gateway's `bqgate_principal` job label (the same caller's jobs share it);
 * jobs without one share the principal `''`.
 */
import { BigQueryError } from '../bigquery/errors.js';

export interface SchedulerLimits {
  /** Statements running at once per principal (≥ 1). */
  perPrincipal: number;
  /** Statements running at once in all (≥ perPrincipal). */
  total: number;
  /** Statements waiting per principal before more are refused. */
  maxQueued: number;
}

interface Waiting { start: () => void; signal?: AbortSignal; onAbort: () => void }

export class Scheduler {
  private running = 0;
  private readonly runningBy = new Map<string, number>();
  /** Per-principal queues; Map order is the round-robin order (a served principal moves to the end). */
  private readonly queues = new Map<string, Waiting[]>();

  constructor(private readonly limits: SchedulerLimits) {}

  /** Statements running now, in all and for `principal`. */
  stats(principal?: string): { running: number; queued: number } {
    const queued = principal === undefined ? [...this.queues.values()].reduce((n, q) => n + q.length, 0) : this.queues.get(principal)?.length ?? 0;
    return { running: principal === undefined ? this.running : this.runningBy.get(principal) ?? 0, queued };
  }

  /**
   * Runs `task` once a slot is free for `principal` and resolves with its result. Rejects with
   * `signal.reason` when aborted while waiting (the task never starts), and with
   * BigQueryError(rateLimitExceeded) when the principal already has `maxQueued` statements waiting.
   */
  async run<T>(principal: string, task: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    signal?.throwIfAborted();
    if (!this.canStart(principal)) await this.wait(principal, signal);
    else this.take(principal);
    try { return await task(); } finally { this.release(principal); }
  }

  private canStart(p: string): boolean {
    return this.running < this.limits.total && (this.runningBy.get(p) ?? 0) < this.limits.perPrincipal && !this.queues.get(p)?.length;
  }

  private take(p: string) { this.running++; this.runningBy.set(p, (this.runningBy.get(p) ?? 0) + 1); }

  private release(p: string) {
    this.running--;
    const n = (this.runningBy.get(p) ?? 1) - 1;
    if (n > 0) this.runningBy.set(p, n); else this.runningBy.delete(p);
    this.dispatch();
  }

  private wait(p: string, signal?: AbortSignal): Promise<void> {
    const q = this.queues.get(p) ?? [];
    if (q.length >= this.limits.maxQueued) {
      throw new BigQueryError('rateLimitExceeded', `Exceeded rate limits: ${q.length} statements of this principal are already waiting in the emulator's queue; retry later.`);
    }
    this.queues.set(p, q);
    return new Promise<void>((resolve, reject) => {
      const w: Waiting = {
        signal,
        start: () => { signal?.removeEventListener('abort', w.onAbort); this.take(p); resolve(); },
        onAbort: () => { this.drop(p, w); reject(signal!.reason); },
      };
      signal?.addEventListener('abort', w.onAbort, { once: true });
      q.push(w);
    });
  }

  private drop(p: string, w: Waiting) {
    const q = this.queues.get(p);
    if (!q) return;
    const i = q.indexOf(w);
    if (i >= 0) q.splice(i, 1);
    if (!q.length) this.queues.delete(p);
  }

  /** Starts waiting statements while slots are free, one principal at a time in round-robin order. */
  private dispatch() {
    let progressed = true;
    while (progressed && this.running < this.limits.total) {
      progressed = false;
      for (const [p, q] of this.queues) {
        if ((this.runningBy.get(p) ?? 0) >= this.limits.perPrincipal) continue;
        const w = q.shift()!;
        this.queues.delete(p);
        if (q.length) this.queues.set(p, q); // to the back of the round
        w.start();
        progressed = true;
        break;
      }
    }
  }
}
