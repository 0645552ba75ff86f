/**
 * The ZetaSQL analyzer process: `remote_server` from @fivetrandevelopers/zetasql, a local gRPC
 * server (zetasql.local_service.ZetaSqlLocalService) that bqgate starts on a free loopback port,
 * waits for, watches and restarts if it dies. While it is down `call()` throws
 * `BigQueryError('backendError')` (503), so queries are refused rather than guessed at.
 *
 * `generation` increases on every (re)start: catalogs registered with an earlier generation are
 * gone and must be registered again.
 *
 * A call past its deadline SIGKILLs the process (ZetaSQL keeps computing otherwise, holding a core)
 * and a fresh one replaces it. Errors a call throws because of the process carry `fault`
 * (`AnalyzerFault`): `deadline`, `crash` (the process died of a signal or a non-zero exit while the
 * call was in flight) or `down` (not running, killed from outside, or unreachable). The pool
 * (pool.ts) uses it to quarantine statements and retry elsewhere.
 */
import grpc from '@grpc/grpc-js';
import protoLoader from '@grpc/proto-loader';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../net.js';
import { dirname, join } from 'node:path';
import { BigQueryError } from '../bigquery/errors.js';

const require = createRequire(import.meta.url);
const PKG_DIR = join(dirname(require.resolve('@fivetrandevelopers/zetasql')), 'zetasql');
const BINARY = join(PKG_DIR, `remote_server${process.arch.startsWith('arm') ? '_arm' : ''}${process.platform === 'darwin' ? '' : '.so'}`);

/**
 * Parent death: on Linux the analyzer is exec'd through util-linux's `setpriv --pdeathsig SIGKILL`
 * (prctl PR_SET_PDEATHSIG, then exec of remote_server under the same pid), so the kernel kills every
 * analyzer process when the gateway dies, even of SIGKILL, and none is left holding a core and a
 * port. util-linux is essential in Debian (the image's base); where setpriv is absent (macOS) the
 * analyzer is started directly and only a clean stop (`stop()`, SIGTERM/SIGINT) ends it.
 * https://man7.org/linux/man-pages/man2/PR_SET_PDEATHSIG.2const.html
 */
const SETPRIV = process.platform === 'linux' ? ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p)) : undefined;
/** The command line that starts one analyzer listening on 127.0.0.1:`port`. */
function analyzerCommand(port: number): [string, string[]] {
  const args = ['127.0.0.1', String(port)];
  return SETPRIV ? [SETPRIV, ['--pdeathsig', 'SIGKILL', '--', BINARY, ...args]] : [BINARY, args];
}

type Callback = (err: grpc.ServiceError | null, value: any) => void;
type ServiceClient = grpc.Client & Record<string, (req: unknown, opts: grpc.CallOptions, cb: Callback) => void>;

const packageDefinition = protoLoader.loadSync('local_service.proto', {
  includeDirs: [join(PKG_DIR, 'protos')], longs: String, enums: String, defaults: false, oneofs: true,
});

/** Every `RESOLVED_*_STMT` kind, so Analyze accepts DML, DDL and the rest (DESIGN.md, ZetaSQL notes). */
export function allStatementKinds(): string[] {
  const e = (packageDefinition['zetasql.ResolvedNodeKind'] as { type: { value: Array<{ name: string }> } }).type.value;
  return e.map((v) => v.name).filter((n) => n.endsWith('_STMT'));
}


export interface ZetaSqlStatus { ready: boolean; generation: number; restarts: number; pid?: number }

/**
 * What `Analyzer` (index.ts) needs of the analyzer: LocalService calls, and the generation its
 * registered catalog ids belong to. Implemented by `ZetaSqlServer` (one process) and `ZetaSqlPool`.
 */
export interface ZetaSqlService {
  readonly generation: number;
  call(method: string, req: unknown, timeoutMs?: number): Promise<any>;
}

/** Why a call failed because of the analyzer process rather than the statement (see the module comment). */
export type FaultKind = 'deadline' | 'crash' | 'down';

/** A BigQueryError thrown by `ZetaSqlServer.call` for a process fault; `exit` names how a crashed process ended. */
export class AnalyzerFault extends BigQueryError {
  constructor(readonly fault: FaultKind, message: string, readonly exit?: string, reason: 'backendError' | 'invalidQuery' = 'backendError') {
    super(reason, message, reason === 'invalidQuery' ? { location: 'q' } : {});
  }
}

/** How a child process ended. */
interface Exit { code: number | null; signal: NodeJS.Signals | null }
const EXIT_WAIT_MS = 1000;

/** Supervises one remote_server process. */
export class ZetaSqlServer implements ZetaSqlService {
  private child?: ChildProcess;
  private exits = new WeakMap<ChildProcess, Promise<Exit>>();
  /** Processes this supervisor killed itself (a deadline), so their end is no crash. */
  private killed = new WeakSet<ChildProcess>();
  private client?: ServiceClient;
  private stopping = false;
  private readyFlag = false;
  generation = 0;
  restarts = 0;
  private onReady: Array<() => void> = [];

  /** Starts the process and resolves when it answers; rejects after `timeoutMs`. */
  async start(timeoutMs = 20_000): Promise<void> {
    this.stopping = false;
    await this.spawnOnce(timeoutMs);
  }

  private async spawnOnce(timeoutMs: number) {
    const port = await freePort();
    const [command, args] = analyzerCommand(port);
    const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    this.child = child;
    child.stderr?.on('data', () => { /* the server logs every call; nothing to keep */ });
    this.exits.set(child, new Promise((r) => child.once('exit', (code, signal) => r({ code, signal }))));
    child.once('exit', () => this.onExit(child));
    const proto = grpc.loadPackageDefinition(packageDefinition) as any;
    this.client?.close();
    this.client = new proto.zetasql.local_service.ZetaSqlLocalService(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), {
      'grpc.max_send_message_length': 256 * 1024 * 1024, 'grpc.max_receive_message_length': 256 * 1024 * 1024,
    }) as ServiceClient;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        await this.rawCall('formatSql', { sql: 'SELECT 1' }, 1000);
        break;
      } catch (err) {
        if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline) throw new Error(`ZetaSQL server did not start: ${(err as Error).message}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    this.generation++;
    this.readyFlag = true;
    this.onReady.splice(0).forEach((f) => f());
  }

  private onExit(child: ChildProcess) {
    if (child !== this.child) return;
    this.readyFlag = false;
    if (this.stopping) return;
    this.restarts++;
    const retry = (delay: number) => setTimeout(() => {
      if (this.stopping) return;
      this.spawnOnce(20_000).catch(() => retry(Math.min(delay * 2, 5000)));
    }, delay);
    retry(100);
  }

  status(): ZetaSqlStatus { return { ready: this.readyFlag, generation: this.generation, restarts: this.restarts, pid: this.child?.pid }; }

  /** Resolves when the server is ready (immediately if it is). */
  whenReady(): Promise<void> {
    return this.readyFlag ? Promise.resolve() : new Promise((r) => this.onReady.push(r));
  }

  private rawCall(method: string, req: unknown, timeoutMs: number, c = this.client!): Promise<any> {
    return new Promise((resolve, reject) => {
      c[method](req, { deadline: Date.now() + timeoutMs }, (err, v) => (err ? reject(err) : resolve(v)));
    });
  }

  /**
   * Calls a LocalService method (camelCase, e.g. `analyze`) with a deadline of `timeoutMs`. Throws
   * the gRPC error for analysis errors (code 3 INVALID_ARGUMENT, with `details`); an
   * `AnalyzerFault` otherwise: `deadline` (invalidQuery; the process is SIGKILLed and replaced),
   * `crash` or `down` (backendError: the process is restarting or unreachable).
   */
  async call(method: string, req: unknown, timeoutMs = 10_000): Promise<any> {
    const child = this.child;
    if (!this.readyFlag || !this.client || !child) throw analyzerDown();
    try {
      return await this.rawCall(method, req, timeoutMs, this.client);
    } catch (err) {
      const code = (err as grpc.ServiceError).code;
      if (code === grpc.status.DEADLINE_EXCEEDED) {
        this.kill(child);
        throw new AnalyzerFault('deadline', `bqgate's SQL analyzer did not finish this statement within ${timeoutMs} ms, so it was stopped (and replaced) and the statement was not run. Simplify the statement: split it, or shorten long expressions.`, undefined, 'invalidQuery');
      }
      if (code === grpc.status.UNAVAILABLE || code === grpc.status.CANCELLED) throw await this.faultOf(child);
      throw err;
    }
  }

  /** SIGKILLs `child` (the supervisor restarts it); its end is not counted as a crash. */
  private kill(child: ChildProcess) {
    this.killed.add(child);
    if (child === this.child) this.readyFlag = false; // no more calls for it while it goes
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }

  /**
   * The fault behind a dropped call on `child`: `crash` when the process ended (within a second)
   * of a signal other than SIGKILL/SIGTERM or with a non-zero code, without being told to; else `down`.
   */
  private async faultOf(child: ChildProcess): Promise<AnalyzerFault> {
    const exit = await Promise.race([this.exits.get(child)!, sleep(EXIT_WAIT_MS, undefined, { ref: false })]);
    const told = this.stopping || this.killed.has(child) || exit?.signal === 'SIGKILL' || exit?.signal === 'SIGTERM';
    if (exit && !told && (exit.signal || exit.code)) {
      return new AnalyzerFault('crash', DOWN_MESSAGE, exit.signal ?? `exit code ${exit.code}`);
    }
    return analyzerDown();
  }

  /** The server process id, for fault tests. */
  get pid(): number | undefined { return this.child?.pid; }

  async stop(): Promise<void> {
    this.stopping = true;
    this.readyFlag = false;
    this.client?.close();
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      await new Promise<void>((r) => { child.once('exit', () => r()); child.kill('SIGKILL'); });
    }
  }
}

const DOWN_MESSAGE = 'The SQL analyzer is not available (restarting); bqgate refuses queries it cannot analyze. Retry shortly.';

function analyzerDown(): AnalyzerFault {
  return new AnalyzerFault('down', DOWN_MESSAGE);
}
