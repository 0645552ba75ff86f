/**
 * The BigQuery Storage Read API's published protos (`google.cloud.bigquery.storage.v1`, from
 * `@google-cloud/bigquery-storage`'s `build/protos/`, with google-gax's `google/api` and `google/rpc`),
 * loaded once with @grpc/proto-loader for @grpc/grpc-js: the service definition the gateway serves
 * and the client constructor it calls the upstream with. No hand-written wire format.
 *
 * Message shapes are proto-loader's objects: camelCase field names, int64 as decimal strings,
 * enums as their names, bytes as Buffers, oneofs named by a virtual field (`rows: 'arrowRecordBatch'`).
 * Source: https://cloud.google.com/bigquery/docs/reference/storage/rpc/google.cloud.bigquery.storage.v1
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

const require = createRequire(import.meta.url);

/** The `BigQueryRead` service: its definition (for a server) and client constructor (for the upstream). */
export interface ReadService { definition: grpc.ServiceDefinition; Client: grpc.ServiceClientConstructor }

let loaded: ReadService | undefined;

/** Loads (once) `google.cloud.bigquery.storage.v1.BigQueryRead` from the published protos. */
export function readService(): ReadService {
  if (loaded) return loaded;
  // The packages' `exports` hide package.json: their roots are found from their main entry points.
  const root = (pkg: string) => { const main = require.resolve(pkg); return main.slice(0, main.lastIndexOf(`/node_modules/${pkg}/`) + `/node_modules/${pkg}/`.length); };
  const storageRoot = join(root('@google-cloud/bigquery-storage'), 'build', 'protos');
  const gaxRoot = join(root('google-gax'), 'build', 'protos');
  const def = protoLoader.loadSync('google/cloud/bigquery/storage/v1/storage.proto', {
    includeDirs: [storageRoot, gaxRoot], keepCase: false, longs: String, enums: String, defaults: true, oneofs: true,
  });
  const pkg = grpc.loadPackageDefinition(def) as any;
  const Client = pkg.google.cloud.bigquery.storage.v1.BigQueryRead as grpc.ServiceClientConstructor;
  loaded = { definition: Client.service, Client };
  return loaded;
}
