/**
 * The embedded BigQuery emulator: BigQuery REST v2 over DuckDB, loaded from `fixtures/`.
 * Public entry: `startEmulator({host, port, fixturesDir})` → `{url, close}`. Runnable alone with
 * `bqgate emulator`.
 */
import { Engine } from './engine.js';
import { buildEmulatorApp, type SeenRequest } from './server.js';

export type { SeenRequest } from './server.js';

export interface EmulatorOptions {
  host?: string;
  /** TCP port; 0 picks a free one. */
  port?: number;
  fixturesDir: string;
  logger?: boolean;
  /** Sees every request (method, URL, Authorization header, body). */
  onRequest?: (r: SeenRequest) => void;
}

export interface RunningEmulator {
  /** Base URL, e.g. `http://127.0.0.1:9060` (clients add `/bigquery/v2`). */
  url: string;
  close(): Promise<void>;
}

/** Loads the fixtures and starts listening; throws if a fixture cannot be loaded or the port is taken. */
export async function startEmulator(opts: EmulatorOptions): Promise<RunningEmulator> {
  const engine = await Engine.open(opts.fixturesDir);
  const app = buildEmulatorApp(engine, { logger: opts.logger, onRequest: opts.onRequest });
  const host = opts.host ?? '127.0.0.1';
  await app.listen({ host, port: opts.port ?? 0 });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : opts.port;
  return { url: `http://${host}:${port}`, close: () => app.close() };
}
