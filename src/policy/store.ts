/**
 * Hot reload of the policy directory: a changed file is validated and the whole policy swapped in
 * atomically; a broken file keeps the last good policy and reports why. Readers take `current()` once
 * per request, so one request never sees two policy versions.
 */
import { watch, type FSWatcher } from 'node:fs';
import { loadPolicy, type Policy } from './index.js';

export class PolicyStore {
  private policy: Policy;
  private watcher?: FSWatcher;
  private timer?: NodeJS.Timeout;

  /** Loads `dir` (throws if the initial policy is invalid: the gateway does not start without one). */
  constructor(private readonly dir: string, private readonly log: (level: 'info' | 'warn', msg: string) => void = () => {}) {
    this.policy = loadPolicy(dir);
  }

  current(): Policy { return this.policy; }

  /** Re-reads the directory now; returns the error text when the new files are rejected. */
  reload(): string | undefined {
    try {
      const next = loadPolicy(this.dir);
      if (next.version !== this.policy.version) this.log('info', `policy reloaded: version ${this.policy.version} → ${next.version}, ${next.rules.length} rules`);
      this.policy = next;
      return undefined;
    } catch (err) {
      const why = (err as Error).message;
      this.log('warn', `policy change rejected, keeping version ${this.policy.version}: ${why}`);
      return why;
    }
  }

  /** Watches the directory; changes are debounced by `debounceMs` (default 100 ms). */
  watch(debounceMs = 100): void {
    this.watcher = watch(this.dir, () => {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.reload(), debounceMs);
    });
  }

  close(): void { clearTimeout(this.timer); this.watcher?.close(); }
}
