/**
 * A pool of ZetaSQL analyzer processes (`ZetaSqlServer`s), so that one statement that stalls or
 * crashes a process does not refuse everyone else's while it restarts.
 *
 * - One call at a time per process: calls wait (FIFO) for a free ready process — one freeing up or
 *   coming back from a restart — up to `queueTimeoutMs`, then are refused (backendError). One call
 *   per process is what makes a crash attributable to the statement that was in flight.
 * - Catalogs: `registerCatalog` returns a pool-wide id and touches no process; each process gets
 *   the catalog registered on first use, inside the same slot as the call that uses it (so a
 *   catalog that crashes registration is blamed on that statement too, and refused for the
 *   quarantine time to every statement that needs it). Ids stay valid across
 *   process restarts; `generation` changes only when the pool forgets a catalog (more than
 *   `maxCatalogs` held), telling `Analyzer` to register again.
 * - Faults (`AnalyzerFault` from zetasql.ts): a call past its deadline (the process is SIGKILLed
 *   and replaced) or one in flight when its process crashed puts its statement text in the
 *   quarantine (quarantine.ts) and is refused invalidQuery; the same text is then refused without
 *   reaching any process. A process killed from outside (`down`) has its call retried on another.
 */
import { BigQueryError } from '../bigquery/errors.js';
import { AnalyzerFault, ZetaSqlServer, type ZetaSqlService, type ZetaSqlStatus } from './zetasql.js';
import { Quarantine, quarantined } from './quarantine.js';
import { checkSqlLimits, type SqlLimits } from './limits.js';

export interface PoolOptions {
  /** Processes (at least 1); default 2. */
  size?: number;
  /** Deadline of one call, ms (callers may pass less); default 10 000. */
  deadlineMs?: number;
  /** How long a statement that crashed or stalled a process stays refused, ms; default 600 000. */
  quarantineMs?: number;
  /** How long a call waits for a free process, ms; default `deadlineMs`. */
  queueTimeoutMs?: number;
  /** Catalogs held for lazy registration before the oldest is forgotten; default 1 000. */
  maxCatalogs?: number;
}

/** `ZetaSqlStatus` of the pool: ready while any process is; restarts summed; `pid` of the first ready process. */
export interface PoolStatus extends ZetaSqlStatus { processes: number; readyProcesses: number }

interface Worker { server: ZetaSqlServer; busy: boolean }
interface Waiter { resolve: (w: Worker) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }
interface PoolCatalog { request: unknown; ids: Map<ZetaSqlServer, { generation: number; id: string }>; poisoned?: { error: BigQueryError; until: number } }

export class ZetaSqlPool implements ZetaSqlService {
  readonly quarantine: Quarantine;
  /** Generation of the pool's catalog ids (see the module comment). */
  generation = 1;
  private readonly workers: Worker[];
  private readonly waiters: Waiter[] = [];
  private readonly catalogs = new Map<string, PoolCatalog>();
  private serial = 0;
  private stopped = false;
  private readonly deadlineMs: number;
  private readonly queueTimeoutMs: number;
  private readonly maxCatalogs: number;
  private readonly quarantineMs: number;

  constructor(o: PoolOptions = {}) {
    this.workers = Array.from({ length: Math.max(1, o.size ?? 2) }, () => ({ server: new ZetaSqlServer(), busy: false }));
    this.deadlineMs = o.deadlineMs ?? 10_000;
    this.queueTimeoutMs = o.queueTimeoutMs ?? this.deadlineMs;
    this.maxCatalogs = o.maxCatalogs ?? 1000;
    this.quarantineMs = o.quarantineMs ?? 600_000;
    this.quarantine = new Quarantine(this.quarantineMs);
  }

  /** Starts every process; resolves when all answer, rejects (after `timeoutMs`) if one does not. */
  async start(timeoutMs?: number): Promise<void> {
    this.stopped = false;
    await Promise.all(this.workers.map((w) => w.server.start(timeoutMs)));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const q of this.waiters.splice(0)) { clearTimeout(q.timer); q.reject(poolDown()); }
    await Promise.all(this.workers.map((w) => w.server.stop()));
  }

  status(): PoolStatus {
    const st = this.workers.map((w) => w.server.status());
    const ready = st.filter((s) => s.ready);
    return { ready: ready.length > 0, generation: this.generation, restarts: st.reduce((n, s) => n + s.restarts, 0), pid: (ready[0] ?? st[0]).pid, processes: st.length, readyProcesses: ready.length };
  }

  /** Resolves when some process is ready. */
  whenReady(): Promise<void> {
    return Promise.any(this.workers.map((w) => w.server.whenReady()));
  }

  /** The first ready process's id (fault tests kill it); `pids` lists all. */
  get pid(): number | undefined { return this.status().pid; }
  get pids(): number[] { return this.workers.map((w) => w.server.pid).filter((p): p is number => p !== undefined); }

  /**
   * The checks before any analysis (server.ts `check()`): throws `BigQueryError('invalidQuery')`
   * for a quarantined statement, or one past the structural `limits` (limits.ts).
   */
  precheck(sql: string, limits: SqlLimits): void {
    this.quarantine.check(sql);
    checkSqlLimits(sql, limits);
  }

  /**
   * A LocalService call (as `ZetaSqlServer.call`) on a free process, `timeoutMs` its deadline
   * (at most the pool's). Throws `BigQueryError('invalidQuery')` for a quarantined statement (before
   * any process sees it), or for one that just crashed or stalled a process; backendError when no
   * process is free and ready within `queueTimeoutMs`; the gRPC error of an analysis error.
   */
  async call(method: string, req: unknown, timeoutMs = this.deadlineMs): Promise<any> {
    const sql = statementOf(req);
    if (sql !== undefined) this.quarantine.check(sql);
    if (method === 'registerCatalog') return this.register(req);
    if (method === 'unregisterCatalog') return this.unregister(req);
    for (let attempt = 0; ; attempt++) {
      const w = await this.acquire();
      try {
        return await this.callOn(w, method, req, Math.min(timeoutMs, this.deadlineMs));
      } catch (err) {
        if (!(err instanceof AnalyzerFault)) throw err;
        this.whenBack(w);
        if (err.fault === 'down' && attempt + 1 < this.workers.length) continue;
        if (err.fault === 'down' || sql === undefined) throw err;
        const note = err.fault === 'crash' ? `the process ended with ${err.exit}` : `no answer within ${Math.min(timeoutMs, this.deadlineMs)} ms; the process was stopped and replaced`;
        throw quarantined(this.quarantine.add(sql, err.fault, note));
      } finally {
        this.release(w);
      }
    }
  }

  /** `req` on `w`, with the pool's catalog id replaced by `w`'s own (registered first if need be). */
  private async callOn(w: Worker, method: string, req: unknown, timeoutMs: number): Promise<any> {
    const pooled = (req as { registeredCatalogId?: string } | undefined)?.registeredCatalogId;
    if (pooled === undefined) return w.server.call(method, req, timeoutMs);
    const id = await this.catalogOn(w, pooled, timeoutMs);
    return w.server.call(method, { ...(req as object), registeredCatalogId: id }, timeoutMs);
  }

  private async catalogOn(w: Worker, pooled: string, timeoutMs: number): Promise<string> {
    const cat = this.catalogs.get(pooled);
    if (!cat) throw new BigQueryError('backendError', 'The SQL analyzer dropped the catalog of this statement meanwhile (too many catalogs in use); retry.');
    if (cat.poisoned && cat.poisoned.until > Date.now()) throw cat.poisoned.error;
    const have = cat.ids.get(w.server);
    if (have && have.generation === w.server.generation) return have.id;
    const generation = w.server.generation;
    let r: { registeredId: string };
    try {
      r = await w.server.call('registerCatalog', cat.request, timeoutMs);
    } catch (err) {
      if (!(err instanceof AnalyzerFault)) {
        // The catalog itself is refused, worded as Analyzer words it (it is tried again next time).
        throw new BigQueryError('invalidQuery', `bqgate could not build the catalog for this statement, so it was not run: ${(err as { details?: string }).details ?? (err as Error).message}`, { location: 'q' });
      }
      if (err.fault !== 'down') {
        // It crashed or stalled a process: refused, without registering it again, for as long as
        // statements are quarantined (other statements reading the same tables share it).
        const error = new BigQueryError('invalidQuery', `The catalog of this statement's tables ${err.fault === 'crash' ? 'crashed' : 'stalled'} bqgate's SQL analyzer when it was registered; statements reading the same tables are refused for now. It was not run.`, { location: 'q' });
        cat.poisoned = { error, until: Date.now() + this.quarantineMs };
      }
      throw err;
    }
    cat.ids.set(w.server, { generation, id: r.registeredId });
    return r.registeredId;
  }

  /** Keeps the catalog for lazy registration; returns its pool-wide id. */
  private register(req: unknown): { registeredId: string } {
    const registeredId = `pool-${++this.serial}`;
    this.catalogs.set(registeredId, { request: req, ids: new Map() });
    if (this.catalogs.size > this.maxCatalogs) {
      const oldest = this.catalogs.keys().next().value as string;
      this.unregister({ registeredId: oldest });
      this.generation++; // ids handed out before may be gone: register again
    }
    return { registeredId };
  }

  /** Forgets a catalog and unregisters it from the processes holding it (outside the slots: it cannot stall). */
  private unregister(req: unknown): Record<string, never> {
    const pooled = (req as { registeredId?: string }).registeredId ?? '';
    const cat = this.catalogs.get(pooled);
    this.catalogs.delete(pooled);
    for (const [server, { generation, id }] of cat?.ids ?? []) {
      if (server.generation === generation) server.call('unregisterCatalog', { registeredId: id }).catch(() => {});
    }
    return {};
  }

  /**
   * A free ready process, waiting (FIFO) for one to free up or come back from a restart, up to
   * `queueTimeoutMs`; then backendError.
   */
  private acquire(): Promise<Worker> {
    const free = this.workers.find((w) => !w.busy && w.server.status().ready);
    if (free) { free.busy = true; return Promise.resolve(free); }
    if (this.stopped) return Promise.reject(poolDown());
    for (const w of this.workers) if (!w.server.status().ready) this.whenBack(w);
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        resolve, reject,
        timer: setTimeout(() => {
          this.waiters.splice(this.waiters.indexOf(waiter), 1);
          reject(this.workers.some((w) => w.server.status().ready)
            ? new BigQueryError('backendError', `bqgate's SQL analyzer processes stayed busy for ${this.queueTimeoutMs} ms; the statement was not analyzed or run. Retry shortly.`)
            : poolDown());
        }, this.queueTimeoutMs),
      };
      this.waiters.push(waiter);
    });
  }

  private release(w: Worker) {
    w.busy = false;
    this.dispatch();
  }

  /** Hands free ready processes to waiting calls, oldest first. */
  private dispatch() {
    while (this.waiters.length) {
      const free = this.workers.find((x) => !x.busy && x.server.status().ready);
      if (!free) return;
      const q = this.waiters.shift()!;
      clearTimeout(q.timer);
      free.busy = true;
      q.resolve(free);
    }
  }

  /** Dispatch again once `w` (or its replacement) is up. */
  private whenBack(w: Worker) {
    void w.server.whenReady().then(() => this.dispatch());
  }
}

/** The statement text of a LocalService request, when it carries one. */
function statementOf(req: unknown): string | undefined {
  const r = req as { sqlStatement?: unknown; sql?: unknown } | undefined;
  const s = r?.sqlStatement ?? r?.sql;
  return typeof s === 'string' ? s : undefined;
}

function poolDown() {
  return new AnalyzerFault('down', 'The SQL analyzer is not available (restarting); bqgate refuses queries it cannot analyze. Retry shortly.');
}
