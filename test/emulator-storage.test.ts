/**
 * The emulator's BigQuery Storage Read API (src/emulator/storage/) through the real Node client
 * `@google-cloud/bigquery-storage` (BigQueryReadClient on the emulator's plaintext gRPC port):
 * Arrow (decoded with apache-arrow) and Avro (decoded with avsc) give the values tabledata.list
 * gives for the same table, selected_fields, row restrictions good and bad, streams covering every
 * row exactly once, offsets, SplitReadStream, a query job's anonymous result table, the secret.
 *
 * The client sends no credentials of its own when given `sslCreds` (google-gax uses them as the
 * channel credentials as they are), so each call carries the emulator's secret as
 * `otherArgs.headers.authorization`, the metadata the emulator checks.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolve } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { BigQueryReadClient, protos } from '@google-cloud/bigquery-storage';
import { OAuth2Client } from 'google-auth-library';
import { tableFromIPC, type Data, type Table, DataType } from 'apache-arrow';
import avro from 'avsc';
import { startEmulator, newEmulatorSecret, type RunningEmulator } from '../src/emulator/index.ts';

Object.assign(process.env, { METADATA_SERVER_DETECTION: 'none', GCE_METADATA_HOST: '127.0.0.1:1', GCE_METADATA_IP: '127.0.0.1:1' });

let emu: RunningEmulator;
let client: BigQueryReadClient;
const secret = newEmulatorSecret();
const headers = { authorization: `Bearer ${secret}` };
const call = (token = secret) => ({ otherArgs: { headers: { authorization: `Bearer ${token}` } } });
const rest = async (method: string, path: string, body?: unknown) => {
  const r = await fetch(`${emu.url}/bigquery/v2/projects/demo-project${path}`, { method, headers, ...(body ? { body: JSON.stringify(body) } : {}) });
  return { status: r.status, body: r.status === 204 ? undefined : await r.json() as any };
};
const TABLE = (t: string, d = 'shop') => `projects/demo-project/datasets/${d}/tables/${t}`;

type Fv = unknown;
type BqField = { name: string; type: string; mode?: string; fields?: BqField[] };

/** Every row of tabledata.list (int64 timestamps), f/v cells. */
async function tabledata(d: string, t: string, selected?: string[]): Promise<{ fields: BqField[]; rows: Fv[] }> {
  const meta = await rest('GET', `/datasets/${d}/tables/${t}`);
  const rows: Fv[] = [];
  let token: string | undefined;
  do {
    const q = new URLSearchParams({ 'formatOptions.useInt64Timestamp': 'true', ...(token ? { pageToken: token } : {}), ...(selected ? { selectedFields: selected.join(',') } : {}) });
    const r = await rest('GET', `/datasets/${d}/tables/${t}/data?${q}`);
    expect(r.status).toBe(200);
    rows.push(...(r.body.rows ?? []));
    token = r.body.pageToken;
  } while (token);
  const fields = meta.body.schema.fields as BqField[];
  return { fields: selected ? fields.filter((f) => selected.includes(f.name)) : fields, rows };
}

/** A decimal's unscaled value as BigQuery's text (trailing zeros dropped), `scale` digits. */
const decimalText = (v: bigint, scale: number) => {
  const neg = v < 0n; const a = (neg ? -v : v).toString().padStart(scale + 1, '0');
  const s = `${a.slice(0, a.length - scale)}.${a.slice(a.length - scale)}`.replace(/\.?0+$/, '');
  return `${neg ? '-' : ''}${s}`;
};
const days = (n: number) => new Date(n * 86_400_000).toISOString().slice(0, 10);
const timeText = (us: bigint) => { const s = new Date(Number(us / 1000n)).toISOString().slice(11, 19); const f = us % 1_000_000n; return f ? `${s}.${f.toString().padStart(6, '0')}` : s; };
const datetimeText = (us: bigint) => { const s = new Date(Number(us / 1000n)).toISOString().slice(0, 19); const f = ((us % 1_000_000n) + 1_000_000n) % 1_000_000n; return f ? `${s}.${f.toString().padStart(6, '0')}` : s; };

/** One Arrow cell (read from the raw buffers, so µs and decimals are exact) as the f/v `v` tabledata.list gives. */
function arrowCell(data: Data, i: number, f: BqField): Fv {
  const type = data.type as DataType;
  if (f.mode === 'REPEATED') {
    const o = data.valueOffsets as Int32Array;
    const item = { ...f, mode: 'NULLABLE' };
    return Array.from({ length: o[i + 1] - o[i] }, (_x, k) => ({ v: arrowCell(data.children[0], o[i] + k, item) }));
  }
  if (data.nullBitmap && data.nullBitmap.length && !(data.nullBitmap[(data.offset + i) >> 3] & (1 << ((data.offset + i) & 7)))) return null;
  if (DataType.isStruct(type)) return { f: (f.fields ?? []).map((c, k) => ({ v: arrowCell(data.children[k], i, c) })) };
  const j = data.offset + i;
  const values = data.values as any;
  switch (f.type) {
    case 'INTEGER': case 'TIMESTAMP': return String(values[j]);
    case 'FLOAT': return String(values[j]);
    case 'BOOLEAN': return (values[j >> 3] & (1 << (j & 7))) ? 'true' : 'false';
    case 'NUMERIC': case 'BIGNUMERIC': {
      const words = (type as any).bitWidth / 32;
      let x = 0n;
      for (let w = words - 1; w >= 0; w--) x = (x << 32n) | BigInt(values[j * words + w]);
      return decimalText(BigInt.asIntN(words * 32, x), (type as any).scale);
    }
    case 'DATE': return days(values[j]);
    case 'TIME': return timeText(values[j]);
    case 'DATETIME': return datetimeText(values[j]);
    case 'BYTES': { const o = data.valueOffsets as Int32Array; return Buffer.from(values.subarray(o[j], o[j + 1])).toString('base64'); }
    default: { const o = data.valueOffsets as Int32Array; return Buffer.from(values.subarray(o[j], o[j + 1])).toString('utf8'); }
  }
}

/** An Arrow table's rows as f/v rows. */
function arrowRows(t: Table, fields: BqField[]): Fv[] {
  const out: Fv[] = [];
  for (const batch of t.batches) {
    for (let i = 0; i < batch.numRows; i++) out.push({ f: fields.map((f, k) => ({ v: arrowCell(batch.data.children[k], i, f) })) });
  }
  return out;
}

/** One decoded Avro value as the f/v `v`. */
function avroCell(v: any, f: BqField): Fv {
  if (f.mode === 'REPEATED') return (v as any[]).map((x) => ({ v: avroCell(x, { ...f, mode: 'REQUIRED' }) }));
  if (v === null) return null;
  switch (f.type) {
    case 'RECORD': return { f: (f.fields ?? []).map((c) => ({ v: avroCell(v[c.name], c) })) };
    case 'NUMERIC': case 'BIGNUMERIC': {
      const b = v as Buffer;
      const x = BigInt.asIntN(b.length * 8, BigInt(`0x${b.toString('hex') || '0'}`));
      return decimalText(x, f.type === 'NUMERIC' ? 9 : 38);
    }
    case 'DATE': return days(v);
    case 'TIME': return timeText(BigInt(v));
    case 'DATETIME': return String(v);
    case 'BOOLEAN': return v ? 'true' : 'false';
    case 'BYTES': return Buffer.from(v).toString('base64');
    default: return String(v);
  }
}

/** Concatenated Avro rows decoded one after another. */
function avroDecode(schemaJson: string, buffers: Buffer[], fields: BqField[]): Fv[] {
  // Longs as bigint: INT64 past 2^53 (avsc's default long refuses them as a precision loss).
  const big = avro.types.LongType.__with({
    fromBuffer: (b: Buffer) => b.readBigInt64LE(), toBuffer: (n: bigint) => { const b = Buffer.alloc(8); b.writeBigInt64LE(n); return b; },
    fromJSON: BigInt, toJSON: Number, isValid: (n: unknown) => typeof n === 'bigint', compare: (a: bigint, b: bigint) => (a < b ? -1 : a > b ? 1 : 0),
  });
  const type = avro.Type.forSchema(JSON.parse(schemaJson), { typeHook: (x: any) => (x === 'long' || x?.type === 'long' ? big : undefined) });
  const out: Fv[] = [];
  for (const buf of buffers) {
    let pos = 0;
    while (pos < buf.length) {
      const { value, offset } = type.decode(buf, pos);
      if (offset < 0) throw new Error('truncated Avro row');
      out.push({ f: fields.map((f) => ({ v: avroCell((value as any)[f.name], f) })) });
      pos = offset;
    }
  }
  return out;
}

type Session = protos.google.cloud.bigquery.storage.v1.IReadSession;

async function session(table: string, format: 'ARROW' | 'AVRO', opts: { selected?: string[]; restriction?: string; streams?: number } = {}): Promise<Session> {
  const [s] = await client.createReadSession({
    parent: 'projects/demo-project',
    readSession: { table, dataFormat: format, readOptions: { selectedFields: opts.selected ?? [], rowRestriction: opts.restriction ?? '' } },
    maxStreamCount: opts.streams ?? 1,
  }, call());
  return s;
}

/** Every response of a stream from `offset`. */
async function readStream(name: string, offset = 0, token = secret) {
  const out: any[] = [];
  for await (const r of client.readRows({ readStream: name, offset }, call(token))) out.push(r);
  return out;
}

/** A session's rows (every stream, in order) as f/v rows, with the responses read. */
async function readAll(s: Session, fields: BqField[], streams = s.streams!.map((x) => x.name!), offset = 0) {
  const responses = (await Promise.all(streams.map((n) => readStream(n, offset)))).flat();
  if (s.dataFormat === 'ARROW' || s.dataFormat === 1) {
    const ipc = Buffer.concat([Buffer.from(s.arrowSchema!.serializedSchema as Uint8Array), ...responses.map((r) => Buffer.from(r.arrowRecordBatch.serializedRecordBatch))]);
    return { rows: arrowRows(tableFromIPC(ipc), fields), responses };
  }
  return { rows: avroDecode(s.avroSchema!.schema!, responses.map((r) => Buffer.from(r.avroRows.serializedBinaryRows)), fields), responses };
}

const sorted = (rows: Fv[]) => rows.map((r) => JSON.stringify(r)).sort();
const grpcError = async (p: Promise<unknown>) => { try { await p; } catch (e) { return e as { code: number; details?: string; message: string }; } throw new Error('expected an error'); };

beforeAll(async () => {
  emu = await startEmulator({ fixturesDir: resolve('fixtures'), port: 0, storagePort: 0, secret });
  const [host, port] = emu.storageAddress.split(':');
  const auth = new OAuth2Client();
  auth.setCredentials({ access_token: secret });
  client = new BigQueryReadClient({ apiEndpoint: host, port: Number(port), sslCreds: grpc.credentials.createInsecure(), authClient: auth as never });
  // A table of every type the Storage Read API maps (and NULLs): tables.insert + insertAll.
  expect((await rest('POST', '/datasets', { datasetReference: { datasetId: 'st' } })).status).toBe(200);
  const fields = [
    { name: 'i', type: 'INTEGER', mode: 'REQUIRED' }, { name: 'f', type: 'FLOAT' }, { name: 'n', type: 'NUMERIC' }, { name: 'bn', type: 'BIGNUMERIC' },
    { name: 'b', type: 'BOOLEAN' }, { name: 's', type: 'STRING' }, { name: 'by', type: 'BYTES' }, { name: 'd', type: 'DATE' },
    { name: 'dt', type: 'DATETIME' }, { name: 't', type: 'TIME' }, { name: 'ts', type: 'TIMESTAMP' }, { name: 'j', type: 'JSON' },
    { name: 'a', type: 'INTEGER', mode: 'REPEATED' },
    { name: 'r', type: 'RECORD', fields: [{ name: 'x', type: 'INTEGER' }, { name: 'y', type: 'STRING', mode: 'REPEATED' }] },
  ];
  expect((await rest('POST', '/datasets/st/tables', { tableReference: { tableId: 'types' }, schema: { fields } })).status).toBe(200);
  const ins = await rest('POST', '/datasets/st/tables/types/insertAll', { rows: [
    { json: { i: '9007199254740993', f: 1.5, n: '-12345678901234567890.123456789', bn: '-1234.000000000000000001', b: true, s: 'é;"x', by: Buffer.from([0, 255, 7]).toString('base64'),
      d: '1969-12-31', dt: '2026-11-03T10:00:00.123456', t: '23:59:59.000001', ts: '2026-11-03T10:00:00.654321Z', j: '{"k":[1,2]}', a: ['1', '-2'], r: { x: '3', y: ['p', 'q'] } } },
    { json: { i: '-1', f: -0.25, n: '0', b: false, s: '', by: '', d: '2026-11-03', a: [], r: { x: null, y: [] } } },
    { json: { i: '0' } },
  ] });
  expect(ins.body.insertErrors).toBeUndefined();
});
afterAll(async () => { await client?.close(); await emu?.close(); });

describe('emulator Storage Read API', { timeout: 240_000 }, () => {
  it('serves a table in Arrow with BigQuery\'s Arrow types and tabledata.list\'s values', async () => {
    const s = await session(TABLE('customers'), 'ARROW');
    expect(s.name).toMatch(/^projects\/demo-project\/locations\/US\/sessions\/[0-9a-f]+$/);
    expect(Number(s.expireTime!.seconds)).toBeGreaterThan(Date.now() / 1000);
    const truth = await tabledata('shop', 'customers');
    const { rows } = await readAll(s, truth.fields);
    const schema = tableFromIPC(Buffer.from(s.arrowSchema!.serializedSchema as Uint8Array)).schema;
    console.log('customers arrow schema', schema.fields.map((f) => `${f.name}:${f.type}${f.nullable ? '' : ' not null'}`).join(', '));
    expect(Object.fromEntries(schema.fields.map((f) => [f.name, `${f.type}${f.nullable ? '' : '!'}`]))).toMatchObject({
      customer_id: 'Int64!', full_name: 'Utf8', birth_date: 'Date32<DAY>', created_at: 'Timestamp<MICROSECOND, UTC>',
      tags: 'List<Utf8>!', address: 'Struct<{street:Utf8, zip:Utf8}>',
    });
    console.log('customers rows', rows.length, 'tabledata.list', truth.rows.length, 'first', JSON.stringify(rows[0]));
    expect(rows.length).toBe(truth.rows.length);
    expect(sorted(rows)).toEqual(sorted(truth.rows));
    expect(String(s.estimatedRowCount)).toBe(String(truth.rows.length));
  });

  it('serves every mapped type in Arrow and in Avro as tabledata.list does', async () => {
    const truth = await tabledata('st', 'types');
    for (const format of ['ARROW', 'AVRO'] as const) {
      const s = await session(TABLE('types', 'st'), format);
      const { rows } = await readAll(s, truth.fields);
      console.log(format, 'types rows', JSON.stringify(rows));
      expect(rows).toHaveLength(3);
      expect(sorted(rows)).toEqual(sorted(truth.rows));
    }
    const arrow = tableFromIPC(Buffer.from((await session(TABLE('types', 'st'), 'ARROW')).arrowSchema!.serializedSchema as Uint8Array)).schema;
    const types = Object.fromEntries(arrow.fields.map((f) => [f.name, String(f.type)]));
    console.log('types arrow schema', JSON.stringify(types), 'json metadata', JSON.stringify([...arrow.fields.find((f) => f.name === 'j')!.metadata]));
    expect(types).toMatchObject({ n: 'Decimal[38e+9]', bn: 'Decimal[76e+38]', dt: 'Timestamp<MICROSECOND>', t: 'Time64<MICROSECOND>', by: 'Binary', j: 'Utf8', a: 'List<Int64>' });
    expect(arrow.fields.find((f) => f.name === 'j')!.metadata.get('ARROW:extension:name')).toBe('google:sqlType:json');
    const av = JSON.parse((await session(TABLE('types', 'st'), 'AVRO')).avroSchema!.schema!);
    console.log('types avro schema', JSON.stringify(av));
    expect(av).toMatchObject({ type: 'record', name: '__root__' });
    const byName = Object.fromEntries(av.fields.map((f: any) => [f.name, f.type]));
    expect(byName.i).toBe('long');
    expect(byName.n).toEqual(['null', { type: 'bytes', logicalType: 'decimal', precision: 38, scale: 9 }]);
    expect(byName.ts).toEqual(['null', { type: 'long', logicalType: 'timestamp-micros' }]);
    expect(byName.a).toEqual({ type: 'array', items: 'long' });
  });

  it('serves orders in Avro as tabledata.list does', async () => {
    const truth = await tabledata('shop', 'orders');
    const s = await session(TABLE('orders'), 'AVRO', { streams: 2 });
    const { rows, responses } = await readAll(s, truth.fields);
    console.log('orders avro rows', rows.length, 'responses', responses.length, 'largest response rows', Math.max(...responses.map((r) => Number(r.rowCount))));
    expect(sorted(rows)).toEqual(sorted(truth.rows));
    expect(responses[0].avroSchema?.schema).toBe(s.avroSchema!.schema);
  });

  it('reads selected_fields only, in table order, and applies a row_restriction', async () => {
    const s = await session(TABLE('orders'), 'ARROW', { selected: ['status', 'order_id'], restriction: "currency = 'EUR' AND amount > 100" });
    const t = tableFromIPC(Buffer.concat([Buffer.from(s.arrowSchema!.serializedSchema as Uint8Array), ...(await readStream(s.streams![0].name!)).map((r) => Buffer.from(r.arrowRecordBatch.serializedRecordBatch))]));
    expect(t.schema.fields.map((f) => f.name)).toEqual(['order_id', 'status']);
    const q = await rest('POST', '/queries', { query: "SELECT COUNT(*) FROM shop.orders WHERE currency = 'EUR' AND amount > 100", useLegacySql: false });
    const want = Number(q.body.rows[0].f[0].v);
    console.log('restricted rows', t.numRows, 'COUNT(*) of the same WHERE', want);
    expect(want).toBeGreaterThan(0);
    expect(t.numRows).toBe(want);
  });

  it('refuses a row_restriction that is not one expression, and a column that does not exist, INVALID_ARGUMENT', async () => {
    for (const restriction of ['1=1; DROP TABLE shop.orders', '(amount > 1', "amount > 1) OR (1=1", 'amount > 1 -- )', 'order_id IN (SELECT customer_id FROM shop.customers)', 'no_such_column = 1']) {
      const e = await grpcError(session(TABLE('orders'), 'ARROW', { restriction }));
      console.log(JSON.stringify(restriction), '→', e.code, e.details);
      expect(e.code).toBe(grpc.status.INVALID_ARGUMENT);
    }
    expect((await grpcError(session(TABLE('orders'), 'ARROW', { selected: ['nope'] }))).code).toBe(grpc.status.INVALID_ARGUMENT);
    expect((await grpcError(session(TABLE('customer_contacts'), 'ARROW'))).code).toBe(grpc.status.INVALID_ARGUMENT);
    expect((await grpcError(session(TABLE('missing'), 'ARROW'))).code).toBe(grpc.status.NOT_FOUND);
    expect((await rest('GET', '/datasets/shop/tables/orders')).status).toBe(200);
  });

  it('splits rows over several streams, each row in exactly one', async () => {
    const s = await session(TABLE('orders'), 'ARROW', { streams: 5, selected: ['order_id'] });
    expect(s.streams).toHaveLength(5);
    const per = await Promise.all(s.streams!.map(async (st) => (await readAll(s, [{ name: 'order_id', type: 'INTEGER' }], [st.name!])).rows.map((r: any) => r.f[0].v)));
    const all = per.flat();
    const total = Number((await rest('GET', '/datasets/shop/tables/orders')).body.numRows);
    console.log('stream sizes', per.map((p) => p.length), 'total', all.length, 'table', total);
    expect(per.every((p) => p.length > 0)).toBe(true);
    expect(all.length).toBe(total);
    expect(new Set(all).size).toBe(total);
  });

  it('honours offsets, and refuses one past the end OUT_OF_RANGE', async () => {
    const s = await session(TABLE('orders'), 'AVRO', { selected: ['order_id'], restriction: 'order_id <= 5000' });
    const f = [{ name: 'order_id', type: 'INTEGER', mode: 'REQUIRED' }];
    const full = (await readAll(s, f)).rows;
    const k = 1234; // past the first response (BATCH_ROWS 1000)
    const tail = await readAll(s, f, undefined, k);
    console.log('stream rows', full.length, 'from offset', k, tail.rows.length, 'first progress', JSON.stringify(tail.responses[0].stats.progress));
    expect(tail.rows).toEqual(full.slice(k));
    expect(tail.responses[0].stats.progress.atResponseStart).toBeCloseTo(k / full.length, 6);
    expect(await readStream(s.streams![0].name!, full.length)).toEqual([]);
    expect((await grpcError(readStream(s.streams![0].name!, full.length + 1))).code).toBe(grpc.status.OUT_OF_RANGE);
  });

  it('SplitReadStream gives a primary and a remainder that together are the original stream', async () => {
    const s = await session(TABLE('orders'), 'ARROW', { selected: ['order_id'], restriction: 'order_id <= 5000' });
    const f = [{ name: 'order_id', type: 'INTEGER', mode: 'REQUIRED' }];
    const original = (await readAll(s, f)).rows;
    const [split] = await client.splitReadStream({ name: s.streams![0].name, fraction: 0.3 }, call());
    const primary = (await readAll(s, f, [split.primaryStream!.name!])).rows;
    const remainder = (await readAll(s, f, [split.remainderStream!.name!])).rows;
    console.log('original', original.length, 'primary', primary.length, 'remainder', remainder.length);
    expect(primary.length).toBe(Math.floor(original.length * 0.3));
    expect([...primary, ...remainder]).toEqual(original);
    expect((await readAll(s, f)).rows).toEqual(original);
    const one = await session(TABLE('orders'), 'ARROW', { restriction: 'order_id = 1' });
    const [none] = await client.splitReadStream({ name: one.streams![0].name, fraction: 0.5 }, call());
    expect(none.primaryStream ?? null).toBeNull();
    expect((await grpcError(client.splitReadStream({ name: s.streams![0].name, fraction: 1.5 }, call()))).code).toBe(grpc.status.INVALID_ARGUMENT);
  });

  it('reads a query job\'s anonymous result table, which jobs.get names and tables.get describes', async () => {
    const job = await rest('POST', '/jobs', { configuration: { query: { query: "SELECT customer_id, email, tags FROM shop.customers WHERE country = 'DE'", useLegacySql: false } } });
    const id = job.body.jobReference.jobId;
    const results = await rest('GET', `/queries/${id}?formatOptions.useInt64Timestamp=true&maxResults=100000`);
    const got = await rest('GET', `/jobs/${id}`);
    const dest = got.body.configuration.query.destinationTable;
    console.log('job', id, 'destinationTable', JSON.stringify(dest), 'rows', results.body.totalRows);
    expect(dest.projectId).toBe('demo-project');
    expect(dest.datasetId).toMatch(/^_[0-9a-f]{40}$/);
    expect(dest.tableId).toMatch(/^anon[0-9a-f]{40}$/);
    const meta = await rest('GET', `/datasets/${dest.datasetId}/tables/${dest.tableId}`);
    expect(meta.status).toBe(200);
    expect(meta.body.numRows).toBe(results.body.totalRows);
    expect(meta.body.schema.fields.map((f: BqField) => f.name)).toEqual(['customer_id', 'email', 'tags']);
    const listed = await tabledata(dest.datasetId, dest.tableId);
    expect(listed.rows).toEqual(results.body.rows);
    for (const format of ['ARROW', 'AVRO'] as const) {
      const s = await session(TABLE(dest.tableId, dest.datasetId), format, { streams: 3 });
      const { rows } = await readAll(s, results.body.schema.fields);
      console.log(format, 'job result streams', s.streams!.length, 'rows', rows.length);
      expect(rows).toEqual(results.body.rows);
    }
    expect((await grpcError(session(TABLE(dest.tableId, dest.datasetId), 'ARROW', { restriction: 'customer_id = 1' }))).code).toBe(grpc.status.UNIMPLEMENTED);
    expect((await rest('DELETE', `/jobs/${id}/delete`)).status).toBe(204);
    expect((await grpcError(session(TABLE(dest.tableId, dest.datasetId), 'ARROW'))).code).toBe(grpc.status.NOT_FOUND);
    expect((await rest('GET', `/datasets/${dest.datasetId}/tables/${dest.tableId}`)).status).toBe(404);
  });

  it('refuses a wrong or missing secret UNAUTHENTICATED', async () => {
    const s = await session(TABLE('orders'), 'ARROW', { selected: ['order_id'], restriction: 'order_id <= 10' });
    const wrong = newEmulatorSecret();
    const created = await grpcError(client.createReadSession({ parent: 'projects/demo-project', readSession: { table: TABLE('orders'), dataFormat: 'ARROW' } }, call(wrong)));
    const read = await grpcError(readStream(s.streams![0].name!, 0, wrong));
    const split = await grpcError(client.splitReadStream({ name: s.streams![0].name, fraction: 0.5 }, call(wrong)));
    const bare = await grpcError(client.createReadSession({ parent: 'projects/demo-project', readSession: { table: TABLE('orders'), dataFormat: 'ARROW' } }));
    console.log('wrong secret', created.code, created.details, '| read', read.code, '| split', split.code, '| none', bare.code);
    for (const e of [created, read, split, bare]) expect(e.code).toBe(grpc.status.UNAUTHENTICATED);
  });
});
