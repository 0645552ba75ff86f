/**
 * The BigQuery Storage Read API door: a gRPC server for `google.cloud.bigquery.storage.v1.BigQueryRead`
 * (CreateReadSession, ReadRows, SplitReadStream) beside the REST port, built with @grpc/grpc-js on
 * the service's published protos (protos.ts). Each RPC is one call into the gateway's pipeline
 * (operations.ts decides and relays): the caller's token from the `authorization` metadata,
 * verified as REST's (auth/), the `x-bqgate-session` metadata as the audit session key, and a
 * refusal answered as the gRPC status of its BigQuery reason (status.ts) with BigQuery's message.
 * ReadRows is a server stream: each batch is written after its `delivery` audit event is durable,
 * with gRPC flow control (the next batch is read from the upstream once the caller took this one).
 *
 * `startStorageDoor(opts)` → `{ address, close }`; `storageOperations(deps)` → the pipeline's
 * `storage.*` operations; `StorageUpstream` → the upstream BigQueryRead client.
 * Source: https://cloud.google.com/bigquery/docs/reference/storage/rpc/google.cloud.bigquery.storage.v1
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { once } from 'node:events';
import * as grpc from '@grpc/grpc-js';
import type { Pipeline, PipelineCall, Identity } from '../../pipeline/index.js';
import { readService } from '../../bigquery/storage-protos.js';
import { grpcStatus } from './status.js';
import { namesKey, streamSession } from './names.js';

export { storageOperations, type StorageDeps, type StorageOps } from './operations.js';
export { StorageUpstream, type StorageUpstreamOptions } from './upstream.js';

export interface StorageDoorOptions {
  pipeline: Pipeline;
  /** Verifies an `authorization` header value as the REST door does (auth/ createAuthenticator). */
  verify(authorization: string | undefined): Promise<Identity>;
  host: string;
  /** 0: a free port. */
  port: number;
  /** PEM files; absent: plaintext (loopback). */
  tls?: { certFile: string; keyFile: string };
  /** The longest one ReadRows stream may run, ms. */
  streamDeadlineMs: number;
  /** The gateway's HMAC key: stream names are sealed under a key derived from it (names.ts). */
  hmacKey: Buffer;
  /** Largest message accepted from a caller, bytes (requests are small). */
  maxReceiveBytes?: number;
}

export interface StorageDoor { /** host:port it listens on. */ address: string; close(): Promise<void> }

const meta = (md: grpc.Metadata, key: string): string | undefined => {
  const v = md.get(key)[0];
  return typeof v === 'string' ? v : undefined;
};

/** Starts the gRPC server; resolves once it listens. */
export async function startStorageDoor(o: StorageDoorOptions): Promise<StorageDoor> {
  const server = new grpc.Server({ 'grpc.max_receive_message_length': o.maxReceiveBytes ?? 4 * 1024 * 1024, 'grpc.max_send_message_length': 128 * 1024 * 1024 });
  const { definition } = readService();
  const key = namesKey(o.hmacKey);
  /** A stream call joins the audit session of its read session unless the caller names one. */
  const joined = (md: grpc.Metadata, name: unknown) => meta(md, 'x-bqgate-session') ?? streamSession(key, name);

  const callOf = (op: PipelineCall['op'], md: grpc.Metadata, body: unknown, extra: Partial<PipelineCall> = {}): PipelineCall => ({
    door: 'storage', op, requestId: randomUUID(), params: {}, body,
    identity: () => o.verify(meta(md, 'authorization')),
    client: meta(md, 'user-agent') ?? meta(md, 'x-goog-api-client'),
    sessionKey: meta(md, 'x-bqgate-session'), traceHeaders: { traceparent: meta(md, 'traceparent'), tracestate: meta(md, 'tracestate') },
    ...extra,
  });
  const refusal = (e: Parameters<typeof grpcStatus>[0]) => {
    const s = grpcStatus(e);
    return Object.assign(new Error(s.details), { code: s.code, details: s.details, metadata: new grpc.Metadata() });
  };

  server.addService(definition, {
    CreateReadSession: (call: grpc.ServerUnaryCall<any, any>, cb: grpc.sendUnaryData<any>) => {
      o.pipeline.run(callOf('storage.createReadSession', call.metadata, call.request))
        .then((r) => (r.ok ? cb(null, r.body) : cb(refusal(r.error))), (err) => cb(Object.assign(new Error(String(err)), { code: grpc.status.INTERNAL })));
    },
    SplitReadStream: (call: grpc.ServerUnaryCall<any, any>, cb: grpc.sendUnaryData<any>) => {
      o.pipeline.run(callOf('storage.splitReadStream', call.metadata, call.request, { sessionKey: joined(call.metadata, call.request?.name) }))
        .then((r) => (r.ok ? cb(null, r.body) : cb(refusal(r.error))), (err) => cb(Object.assign(new Error(String(err)), { code: grpc.status.INTERNAL })));
    },
    ReadRows: (call: grpc.ServerWritableStream<any, any>) => {
      let gone = false;
      call.on('cancelled', () => { gone = true; });
      const emit = async (message: unknown) => {
        if (gone) throw new Error('the caller cancelled the stream');
        if (!call.write(message)) await Promise.race([once(call, 'drain'), once(call, 'cancelled')]);
      };
      o.pipeline.run(callOf('storage.readRows', call.metadata, call.request, { emit, sessionKey: joined(call.metadata, call.request?.readStream), deadlineMs: o.streamDeadlineMs })).then((r) => {
        if (gone) return;
        if (r.ok) call.end();
        else call.emit('error', refusal(r.error)); // grpc-js: the status of the error, then the stream ends
      }, (err) => call.emit('error', Object.assign(new Error(String(err)), { code: grpc.status.INTERNAL })));
    },
  });

  const creds = o.tls
    ? grpc.ServerCredentials.createSsl(null, [{ cert_chain: readFileSync(o.tls.certFile), private_key: readFileSync(o.tls.keyFile) }], false)
    : grpc.ServerCredentials.createInsecure();
  const port = await new Promise<number>((resolve, reject) => server.bindAsync(`${o.host.includes(':') ? `[${o.host}]` : o.host}:${o.port}`, creds, (err, p) => (err ? reject(err) : resolve(p))));
  return {
    address: `${o.host}:${port}`,
    close: () => new Promise<void>((resolve) => {
      const cut = setTimeout(() => server.forceShutdown(), 5000);
      server.tryShutdown(() => { clearTimeout(cut); resolve(); });
    }),
  };
}
