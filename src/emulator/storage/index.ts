/**
 * The emulator's BigQuery Storage Read API: `google.cloud.bigquery.storage.v1.BigQueryRead`
 * (CreateReadSession, ReadRows, SplitReadStream) over DuckDB, on its own gRPC port, plaintext
 * (loopback). Public entry: `startStorageServer(engine, {host, port, secret, anon})` →
 * `{address: '127.0.0.1:PORT', port, close}`; `startEmulator` starts it beside the REST port
 * (`storagePort`, env BQGATE_EMULATOR_STORAGE_PORT; `RunningEmulator.storageAddress`).
 *
 * Sessions read catalog tables (selected_fields, row_restriction checked as one expression:
 * restriction.ts) and query jobs' result tables (anon.ts: `projects/P/datasets/_…/tables/anon…`,
 * as jobs.get's `configuration.query.destinationTable` names them), in ARROW (arrow.ts) or AVRO
 * (avro.ts) as https://cloud.google.com/bigquery/docs/reference/storage describes; values are
 * those tabledata.list returns for the same table. Auth: `authorization: Bearer <secret>`
 * metadata, else UNAUTHENTICATED.
 */
import * as grpc from '@grpc/grpc-js';
import type { Engine } from '../engine.js';
import { readServiceDefinition, readServiceHandlers } from './service.js';
import { AnonTables } from './anon.js';

export { AnonTables, type AnonTable, type TableRef } from './anon.js';
export { StorageError } from './errors.js';

export interface StorageServerOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** TCP port; 0 picks a free one. */
  port: number;
  /** The bearer token every call must carry (the emulator's secret); `null` accepts any. */
  secret: string | null;
  /** Query jobs' result tables, shared with the REST side (server.ts). */
  anon: AnonTables;
}

export interface RunningStorageServer {
  /** `host:port`, e.g. `127.0.0.1:9061` (a gRPC target; clients connect without TLS). */
  address: string;
  port: number;
  close(): Promise<void>;
}

/** Starts the gRPC server; rejects when the port cannot be bound. */
export async function startStorageServer(engine: Engine, opts: StorageServerOptions): Promise<RunningStorageServer> {
  const server = new grpc.Server({ 'grpc.max_send_message_length': 16 * 1024 * 1024 });
  server.addService(readServiceDefinition(), readServiceHandlers(engine, { secret: opts.secret, anon: opts.anon }));
  const host = opts.host ?? '127.0.0.1';
  const port = await new Promise<number>((resolve, reject) => server.bindAsync(`${host}:${opts.port}`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
  return {
    address: `${host}:${port}`, port,
    close: () => new Promise<void>((resolve) => {
      const t = setTimeout(() => { server.forceShutdown(); resolve(); }, 2000);
      server.tryShutdown(() => { clearTimeout(t); resolve(); });
    }),
  };
}
