/**
 * The `google.cloud.bigquery.storage.v1.BigQueryRead` gRPC service over the engine
 * (https://cloud.google.com/bigquery/docs/reference/storage/rpc/google.cloud.bigquery.storage.v1),
 * with @grpc/grpc-js on the service's published protos (bigquery/storage-protos.ts).
 *
 * - CreateReadSession: the session over source.ts's rows, its schema in the requested format
 *   (arrow.ts / avro.ts), its streams (sessions.ts), `estimated_row_count`, `estimated_total_bytes_scanned`.
 * - ReadRows: the stream's rows from `offset` in responses of at most BATCH_ROWS rows and about
 *   MAX_BATCH_BYTES bytes (halved until under), the schema on the first response, `row_count`,
 *   `stats.progress` (fractions of the stream), `throttle_state` 0. An offset past the stream's
 *   end is OUT_OF_RANGE.
 * - SplitReadStream: sessions.ts's split.
 *
 * Compression requests are accepted and answered uncompressed, as the proto allows: Arrow buffer
 * compression (LZ4_FRAME, ZSTD: the Python client asks for LZ4_FRAME) is per message in the IPC
 * metadata, which says "none"; a `response_compression_codec` session's responses carry
 * `uncompressed_byte_size` -1 ("compression would not have reduced the size").
 * `sample_percentage` and `table_modifiers.snapshot_time` are refused UNIMPLEMENTED.
 *
 * Every call must carry `authorization: Bearer <secret>` metadata (compared as the REST side does,
 * server.ts `bearerMatches`); otherwise UNAUTHENTICATED. Refusals are gRPC statuses (errors.ts).
 */
import * as grpc from '@grpc/grpc-js';
import type { Engine } from '../engine.js';
import { readService } from '../../bigquery/storage-protos.js';
import { bearerMatches } from '../server.js';
import { arrowSchema, serializedBatch, serializedSchema } from './arrow.js';
import { avroRows, avroSchema, avroType } from './avro.js';
import { StorageError, toStorageError } from './errors.js';
import { readSource, tablePath } from './source.js';
import { Sessions, type Session, type Stream } from './sessions.js';
import { plainRows } from './values.js';
import type { AnonTables } from './anon.js';

/** Rows per ReadRows response, at most. */
export const BATCH_ROWS = 1000;
/** A response's rows are halved until their serialization is under this, bytes (gRPC clients take 4 MiB by default). */
export const MAX_BATCH_BYTES = 1024 * 1024;

/** The BigQueryRead service definition from the published protos (bigquery/storage-protos.ts, shared with the gateway's door). */
export const readServiceDefinition = (): grpc.ServiceDefinition => readService().definition;

const timestamp = (ms: number) => ({ seconds: String(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1e6 });

/** The session's schema fields, the same on the ReadSession and on a stream's first response. */
function schemaOf(s: Session): Record<string, unknown> {
  return s.format === 'ARROW' ? { arrowSchema: { serializedSchema: Buffer.from(s.arrow!.serialized) } } : { avroSchema: { schema: s.avro!.json } };
}

/** One response's rows serialized; halves the slice until under MAX_BATCH_BYTES (or one row). */
function encode(s: Session, from: number, to: number): { to: number; rows: Record<string, unknown> } {
  for (;;) {
    const plain = plainRows(s.rows.slice(from, to), s.fields);
    const bytes = s.format === 'ARROW' ? Buffer.from(serializedBatch(s.arrow!.schema, plain)) : avroRows(s.avro!.type, s.fields, plain);
    if (bytes.length <= MAX_BATCH_BYTES || to - from <= 1) {
      return { to, rows: s.format === 'ARROW' ? { arrowRecordBatch: { serializedRecordBatch: bytes, rowCount: String(to - from) } } : { avroRows: { serializedBinaryRows: bytes, rowCount: String(to - from) } } };
    }
    to = from + Math.ceil((to - from) / 2);
  }
}

/** Writes `msg`, waiting for the client when the stream's buffer is full (or until the call is cancelled). */
async function send(call: grpc.ServerWritableStream<any, any>, msg: unknown): Promise<void> {
  if (call.write(msg)) return;
  await new Promise<void>((r) => {
    const done = () => { call.off('drain', done); call.off('cancelled', done); r(); };
    call.once('drain', done);
    call.once('cancelled', done);
  });
}

export interface ReadServiceOptions {
  /** The bearer token every call must carry; `null` accepts any. */
  secret: string | null;
  /** Query jobs' result tables (server.ts keeps them). */
  anon: AnonTables;
}

/** The service's handlers over `engine`. */
export function readServiceHandlers(engine: Engine, opts: ReadServiceOptions): grpc.UntypedServiceImplementation {
  const sessions = new Sessions();
  const authorize = (md: grpc.Metadata) => {
    if (opts.secret === null) return;
    const a = md.get('authorization')[0];
    if (!bearerMatches(typeof a === 'string' ? a : a?.toString(), opts.secret)) throw new StorageError('UNAUTHENTICATED', 'Request is missing the emulator\'s credential (authorization: Bearer <secret> metadata); the emulator serves only the gateway that started it.');
  };
  const fail = (err: unknown) => { const e = toStorageError(err); return { code: e.grpcCode, details: e.message }; };
  const streamResource = (st: Stream) => ({ name: st.name });

  return {
    CreateReadSession: (call: grpc.ServerUnaryCall<any, any>, done: grpc.sendUnaryData<any>) => {
      (async () => {
        authorize(call.metadata);
        const req = call.request;
        const parent = /^projects\/([^/]+)$/.exec(req.parent ?? '')?.[1];
        if (!parent) throw new StorageError('INVALID_ARGUMENT', `Invalid parent ${JSON.stringify(req.parent)}: expected projects/{project}.`);
        const rs = req.readSession ?? {};
        const format = rs.dataFormat;
        if (format !== 'ARROW' && format !== 'AVRO') throw new StorageError('INVALID_ARGUMENT', 'read_session.data_format must be ARROW or AVRO.');
        const t = tablePath(rs.table);
        const ro = rs.readOptions ?? {};
        if (ro.samplePercentage !== undefined && ro.samplePercentage !== null && ro.samplePercentage !== 0) throw new StorageError('UNIMPLEMENTED', 'read_options.sample_percentage is not supported by the emulator.');
        if (rs.tableModifiers?.snapshotTime) throw new StorageError('UNIMPLEMENTED', 'table_modifiers.snapshot_time is not supported by the emulator; the session reads the table as it is now.');
        const src = await readSource(engine, opts.anon, t, ro.selectedFields ?? [], ro.rowRestriction);
        const compressed = Boolean(ro.responseCompressionCodec && ro.responseCompressionCodec !== 'RESPONSE_COMPRESSION_CODEC_UNSPECIFIED');
        const base = { table: rs.table, format, fields: src.schema, rows: src.rows, compressed } as Omit<Session, 'name' | 'expireAt'>;
        if (format === 'ARROW') { const schema = arrowSchema(src.schema); base.arrow = { schema, serialized: serializedSchema(schema) }; }
        else { const s = avroSchema(src.schema); base.avro = { json: JSON.stringify(s), type: avroType(s) }; }
        const { session, streams } = sessions.create(parent, base, Number(req.maxStreamCount ?? 0));
        return {
          name: session.name, expireTime: timestamp(session.expireAt), dataFormat: format, ...schemaOf(session), table: rs.table,
          readOptions: ro, streams: streams.map(streamResource), estimatedRowCount: String(session.rows.length),
          estimatedTotalBytesScanned: String(src.bytesScanned), estimatedTotalPhysicalFileSize: String(src.bytesScanned), traceId: rs.traceId ?? '',
        };
      })().then((r) => done(null, r), (err) => done(fail(err)));
    },

    ReadRows: (call: grpc.ServerWritableStream<any, any>) => {
      let cancelled = false;
      call.on('cancelled', () => { cancelled = true; });
      (async () => {
        authorize(call.metadata);
        const st = sessions.stream(call.request.readStream);
        const len = st.end - st.start;
        const offset = Number(call.request.offset ?? 0);
        if (!Number.isInteger(offset) || offset < 0 || offset > len) throw new StorageError('OUT_OF_RANGE', `offset ${call.request.offset} is outside stream ${st.name}, which has ${len} rows.`);
        let at = st.start + offset;
        let first = true;
        while (at < st.end && !cancelled) {
          const { to, rows } = encode(st.session, at, Math.min(st.end, at + BATCH_ROWS));
          const progress = { atResponseStart: len ? (at - st.start) / len : 1, atResponseEnd: len ? (to - st.start) / len : 1 };
          await send(call, {
            ...rows, rowCount: String(to - at), stats: { progress }, throttleState: { throttlePercent: 0 }, ...(first ? schemaOf(st.session) : {}),
            ...(st.session.compressed ? { uncompressedByteSize: '-1' } : {}),
          });
          first = false;
          at = to;
        }
      })().then(() => { if (!cancelled) call.end(); }, (err) => { if (!cancelled) call.emit('error', fail(err)); });
    },

    SplitReadStream: (call: grpc.ServerUnaryCall<any, any>, done: grpc.sendUnaryData<any>) => {
      (async () => {
        authorize(call.metadata);
        const { primary, remainder } = sessions.split(call.request.name, Number(call.request.fraction));
        return { ...(primary ? { primaryStream: streamResource(primary) } : {}), ...(remainder ? { remainderStream: streamResource(remainder) } : {}) };
      })().then((r) => done(null, r), (err) => done(fail(err)));
    },
  };
}
