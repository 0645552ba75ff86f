/**
 * The upstream BigQueryRead service: the embedded emulator's (`RunningEmulator.storageAddress`,
 * plaintext on loopback) or BigQuery's (`bigquerystorage.googleapis.com:443`, TLS), called with a
 * gateway-side credential (the gateway's, a group's service account, a federated user's — never the
 * caller's token): its `authorization` header (google-auth-library `getRequestHeaders`) as gRPC
 * metadata, with `x-goog-request-params` for BigQuery's routing and `x-goog-user-project` when a
 * quota project is set. Every call first makes the request's audit events durable (request-scope.ts
 * `beforeUpstream`). Errors are the upstream's gRPC status errors (`code`, `details`).
 */
import * as grpc from '@grpc/grpc-js';
import type { AuthClient } from 'google-auth-library';
import { beforeUpstream, stage } from '../../request-scope.js';
import { readService } from '../../bigquery/storage-protos.js';

export interface StorageUpstreamOptions {
  /** host:port of the upstream BigQueryRead service. */
  address: string;
  /** TLS (real BigQuery); plaintext otherwise (loopback emulator only). */
  tls: boolean;
  quotaProject?: string;
}

/** One upstream gRPC error, as grpc-js reports it. */
export type UpstreamGrpcError = Error & { code: number; details: string };

export class StorageUpstream {
  private readonly client: grpc.Client & Record<string, any>;

  constructor(private readonly opts: StorageUpstreamOptions) {
    const { Client } = readService();
    this.client = new Client(opts.address, opts.tls ? grpc.credentials.createSsl() : grpc.credentials.createInsecure(), {
      'grpc.max_receive_message_length': 128 * 1024 * 1024,
      'grpc.max_send_message_length': 16 * 1024 * 1024,
    }) as any;
  }

  private async metadata(auth: AuthClient, routing: string): Promise<grpc.Metadata> {
    const md = new grpc.Metadata();
    const headers: any = await auth.getRequestHeaders();
    const authorization = typeof headers?.get === 'function' ? headers.get('authorization') : headers?.authorization ?? headers?.Authorization;
    if (authorization) md.set('authorization', authorization);
    md.set('x-goog-request-params', routing);
    if (this.opts.quotaProject) md.set('x-goog-user-project', this.opts.quotaProject);
    return md;
  }

  private unary<T>(method: string, request: unknown, md: grpc.Metadata): Promise<T> {
    return new Promise((resolve, reject) => {
      this.client[method](request, md, (err: grpc.ServiceError | null, res: T) => (err ? reject(err) : resolve(res)));
    });
  }

  /** CreateReadSession on the upstream (request in the proto's shape, protos.ts). */
  async createReadSession(request: any, auth: AuthClient): Promise<any> {
    await beforeUpstream();
    const md = await this.metadata(auth, `read_session.table=${encodeURIComponent(request.readSession.table)}`);
    return stage('upstream', () => this.unary('createReadSession', request, md));
  }

  /** SplitReadStream on the upstream. */
  async splitReadStream(request: { name: string; fraction: number }, auth: AuthClient): Promise<any> {
    await beforeUpstream();
    const md = await this.metadata(auth, `name=${encodeURIComponent(request.name)}`);
    return stage('upstream', () => this.unary('splitReadStream', request, md));
  }

  /**
   * ReadRows on the upstream: the responses as they arrive (backpressure: the next is read when
   * the consumer asks for it). Breaking out of the iteration cancels the upstream call.
   */
  async *readRows(request: { readStream: string; offset: string | number }, auth: AuthClient): AsyncGenerator<any> {
    await beforeUpstream();
    const md = await this.metadata(auth, `read_stream=${encodeURIComponent(request.readStream)}`);
    const call: grpc.ClientReadableStream<any> = this.client.readRows(request, md);
    try {
      for await (const msg of call) yield msg;
    } finally {
      call.cancel();
    }
  }

  close(): void { this.client.close(); }
}
