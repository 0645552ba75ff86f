/**
 * The embedded BigQuery emulator: BigQuery REST v2 over DuckDB, loaded from `fixtures/`.
 * Public entry: `startEmulator({host, port, storagePort, fixturesDir, secret})` → `{url, storageAddress, close}`.
 * Runnable alone with `bqgate emulator`. Beside the REST port it serves the BigQuery Storage Read
 * API (gRPC `google.cloud.bigquery.storage.v1.BigQueryRead`, plaintext) on `storagePort`
 * (storage/index.ts), with the same secret as `authorization: Bearer <secret>` metadata.
 *
 * Settings it reads from the environment (`emulatorSettings`), each overridable per start:
 *
 * | setting | env | default |
 * |---|---|---|
 * | statement timeout, ms | BQGATE_EMULATOR_STATEMENT_TIMEOUT_MS | 30000 |
 * | statements running at once per principal / in all | BQGATE_EMULATOR_MAX_PER_PRINCIPAL, BQGATE_EMULATOR_MAX_RUNNING | 1, libuv pool − 1 |
 * | statements waiting per principal | BQGATE_EMULATOR_MAX_QUEUED | 100 |
 * | directory standing in for Cloud Storage (`gs://b/o` = `<root>/b/o`: extract writes, load reads) | BQGATE_EMULATOR_BUCKET_ROOT | `<tmpdir>/bqgate-emulator-gcs` |
 * | largest load upload or `gs://` file read, bytes | BQGATE_EMULATOR_MAX_UPLOAD_BYTES | 67108864 (64 MiB) |
 * | tests only: a slow upstream — query jobs whose SQL contains `bqgate_test_slow`, and requests whose URL matches the regular expression, are delayed this long, ms | BQGATE_EMULATOR_TEST_SLOW_MS, BQGATE_EMULATOR_TEST_SLOW_URL | 0 (off), `bqgate_test_slow` |
 * | Storage Read API gRPC port (0: a free one) | BQGATE_EMULATOR_STORAGE_PORT | 0 |
 * | the gateway's masking spellings as native DuckDB expressions (native-masks.ts; `0`: as translated) | BQGATE_EMULATOR_NATIVE_MASKS | on |
 *
 * Why "libuv pool − 1": @duckdb/node-api runs each statement on a libuv worker thread, so as many
 * running statements as the pool has threads (UV_THREADPOOL_SIZE, default 4, fixed when the process
 * starts) leave none for anyone else: measured here, a 8 ms query waited 14.5 s behind four heavy
 * joins, and took 0.4 s behind three. The total is clamped to one less than the pool; set
 * UV_THREADPOOL_SIZE in the environment for more.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { checkSecretFile } from '../secret-file.js';
import { dirname, join } from 'node:path';
import { tmpdir } from 'node:os';
import { Engine } from './engine.js';
import { buildEmulatorApp, type SeenRequest } from './server.js';
import type { SchedulerLimits } from './scheduler.js';
import { AnonTables, startStorageServer } from './storage/index.js';

export type { SeenRequest } from './server.js';

export interface EmulatorOptions {
  host?: string;
  /** TCP port; 0 picks a free one. */
  port?: number;
  /** The Storage Read API's gRPC port on `host`; 0 picks a free one. Default from `emulatorSettings()` (BQGATE_EMULATOR_STORAGE_PORT, else 0). */
  storagePort?: number;
  fixturesDir: string;
  /**
   * The bearer token every request must carry (`newEmulatorSecret()`); `null` accepts any token,
   * only for an in-process stand-in for BigQuery in tests that inspect tokens via `onRequest`.
   */
  secret: string | null;
  logger?: boolean;
  /** Sees every authorized request (method, URL, Authorization header, body). */
  onRequest?: (r: SeenRequest) => void;
  /** Default from `emulatorSettings()`. */
  statementTimeoutMs?: number;
  /** Default from `emulatorSettings()`. */
  limits?: SchedulerLimits;
  /** Default from `emulatorSettings()`. */
  bucketRoot?: string;
  /** Default from `emulatorSettings()`. */
  maxUploadBytes?: number;
}

export interface RunningEmulator {
  /** Base URL, e.g. `http://127.0.0.1:9060` (clients add `/bigquery/v2`). */
  url: string;
  /** The Storage Read API's gRPC target `host:PORT`, e.g. `127.0.0.1:9061` (plaintext). */
  storageAddress: string;
  close(): Promise<void>;
}

/** A fresh emulator secret: 32 random bytes, base64url (43 characters). */
export const newEmulatorSecret = (): string => randomBytes(32).toString('base64url');

/** Where a gateway or `bqgate emulator` keeps the secret of the emulator it started: `<dataDir>/keys/emulator.secret`. */
export const emulatorSecretFile = (dataDir: string): string => join(dataDir, 'keys', 'emulator.secret');

/**
 * Writes `secret` to `file` (mode 0600, its directory 0700), replacing an older one atomically.
 * Throws (secret-file.ts's message, naming the file and `chmod 600`) when an older file is
 * readable by its group or others: something loosened it, and the start is refused, as for the
 * gateway's other keys.
 */
export function writeSecretFile(file: string, secret: string): void {
  if (existsSync(file)) checkSecretFile(file, 'the emulator secret');
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, secret, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
}

const num = (v: string | undefined, d: number) => (v !== undefined && v !== '' && Number.isFinite(Number(v)) ? Number(v) : d);

/** The emulator's statement timeout (ms) and queue limits from `env` (table above). */
export function emulatorSettings(env: NodeJS.ProcessEnv = process.env): { storagePort: number; statementTimeoutMs: number; limits: SchedulerLimits; bucketRoot: string; maxUploadBytes: number; testSlowMs: number; testSlowUrl?: string } {
  const room = Math.max(1, num(env.UV_THREADPOOL_SIZE, 4) - 1);
  const total = Math.max(1, Math.min(room, num(env.BQGATE_EMULATOR_MAX_RUNNING, room)));
  return {
    storagePort: Math.max(0, Math.floor(num(env.BQGATE_EMULATOR_STORAGE_PORT, 0))),
    statementTimeoutMs: Math.max(1, num(env.BQGATE_EMULATOR_STATEMENT_TIMEOUT_MS, 30_000)),
    bucketRoot: env.BQGATE_EMULATOR_BUCKET_ROOT || join(tmpdir(), 'bqgate-emulator-gcs'),
    maxUploadBytes: Math.max(1, num(env.BQGATE_EMULATOR_MAX_UPLOAD_BYTES, 64 * 1024 * 1024)),
    testSlowMs: Math.max(0, num(env.BQGATE_EMULATOR_TEST_SLOW_MS, 0)), testSlowUrl: env.BQGATE_EMULATOR_TEST_SLOW_URL || undefined,
    limits: { perPrincipal: Math.max(1, Math.min(total, num(env.BQGATE_EMULATOR_MAX_PER_PRINCIPAL, 1))), total, maxQueued: Math.max(0, num(env.BQGATE_EMULATOR_MAX_QUEUED, 100)) },
  };
}

/** Loads the fixtures and starts listening; throws if a fixture cannot be loaded or the port is taken. */
export async function startEmulator(opts: EmulatorOptions): Promise<RunningEmulator> {
  const engine = await Engine.open(opts.fixturesDir);
  const settings = emulatorSettings();
  const anon = new AnonTables();
  const app = buildEmulatorApp(engine, {
    anon, logger: opts.logger, onRequest: opts.onRequest, secret: opts.secret, fixturesDir: opts.fixturesDir,
    statementTimeoutMs: opts.statementTimeoutMs ?? settings.statementTimeoutMs, limits: opts.limits ?? settings.limits,
    bucketRoot: opts.bucketRoot ?? settings.bucketRoot, maxUploadBytes: opts.maxUploadBytes ?? settings.maxUploadBytes, testSlowMs: settings.testSlowMs, testSlowUrl: settings.testSlowUrl,
  });
  const host = opts.host ?? '127.0.0.1';
  await app.listen({ host, port: opts.port ?? 0 });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : opts.port;
  let storage;
  try { storage = await startStorageServer(engine, { host, port: opts.storagePort ?? settings.storagePort, secret: opts.secret, anon }); } catch (err) { await app.close(); throw err; }
  return { url: `http://${host}:${port}`, storageAddress: storage.address, close: async () => { await Promise.all([app.close(), storage.close()]); } };
}
