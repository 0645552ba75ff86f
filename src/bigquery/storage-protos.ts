/**
 * The BigQuery Storage Read API's published protos (`google.cloud.bigquery.storage.v1`, the
 * protobufjs JSON of @google-cloud/bigquery-storage's .proto files and their imports,
 * `build/protos/protos.json`), loaded once with @grpc/proto-loader for @grpc/grpc-js: the service
 * definition the gateway's door and the emulator serve, and the client constructor the gateway calls
 * the upstream with. No hand-written wire format.
 *
 * Message shapes are proto-loader's objects: camelCase field names, int64 as decimal strings,
 * enums as their names, bytes as Buffers, oneofs named by a virtual field (`rows: 'arrowRecordBatch'`).
 * Source: https://cloud.google.com/bigquery/docs/reference/storage/rpc/google.cloud.bigquery.storage.v1
 */
import { createRequire } from 'node:module';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

const require = createRequire(import.meta.url);

/** The `BigQueryRead` service: its definition (for a server) and client constructor (for the upstream). */
export interface ReadService { definition: grpc.ServiceDefinition; Client: grpc.ServiceClientConstructor }

let loaded: ReadService | undefined;

/** Loads (once) `google.cloud.bigquery.storage.v1.BigQueryRead` from the published protos. */
export function readService(): ReadService {
  if (loaded) return loaded;
  const json = require('@google-cloud/bigquery-storage/build/protos/protos.json');
  const def = protoLoader.fromJSON(json, { keepCase: false, longs: String, enums: String, defaults: true, oneofs: true });
  const pkg = grpc.loadPackageDefinition(def) as any;
  const Client = pkg.google.cloud.bigquery.storage.v1.BigQueryRead as grpc.ServiceClientConstructor;
  loaded = { definition: Client.service, Client };
  return loaded;
}
