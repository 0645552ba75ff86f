/**
 * The BigQuery Storage Read API through bqgate (src/doors/storage/), with the real Node client
 * `@google-cloud/bigquery-storage` (BigQueryReadClient on the gateway's gRPC port, insecure
 * credentials on loopback, the dev issuer's token as `authorization` metadata) against a real
 * gateway process and its embedded emulator's BigQueryRead server. Values are compared with what the
 * real REST SDK returns through the same gateway for the same caller; Arrow batches are decoded with
 * apache-arrow, Avro rows with avsc.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { OAuth2Client } from 'google-auth-library';
import { BigQueryReadClient } from '@google-cloud/bigquery-storage';
import { tableFromIPC } from 'apache-arrow';
import avro from 'avsc';
import { auditRequests, freePort, startGateway, type TestGateway } from './helpers/gateway.ts';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

let gw: TestGateway;
let storagePort: number;
let analyst: string;
let euSupport: string;
let support: string;
const clients: BigQueryReadClient[] = [];

beforeAll(async () => {
  storagePort = await freePort();
  gw = await startGateway({ env: { BQGATE_STORAGE_PORT: String(storagePort) } });
  analyst = await gw.token({ sub: 'storage-analyst', groups: ['analysts'] });
  euSupport = await gw.token({ sub: 'storage-eu', groups: ['eu-support'] });
  support = await gw.token({ sub: 'storage-support', groups: ['support'] });
}, 180_000);
afterAll(async () => { for (const c of clients) await c.close(); if (process.env.SHOW_GATEWAY) console.log(gw?.output()); await gw?.stop(); });

/** The real client at the gateway: plaintext on loopback, the caller's token per call (sslCreds carry no call credentials). */
function reader(token: string, port = storagePort, sslCreds = grpc.credentials.createInsecure()) {
  const authClient = new OAuth2Client();
  authClient.setCredentials({ access_token: token });
  const client = new BigQueryReadClient({ apiEndpoint: '127.0.0.1', port, sslCreds, authClient: authClient as any, projectId: 'demo-project' });
  clients.push(client);
  // No client retries: a refusal is the answer under test (gax retries UNAVAILABLE on CreateReadSession).
  const opts = { otherArgs: { headers: { authorization: `Bearer ${token}` } }, retry: null as any, timeout: 120_000 };
  return {
    async session(table: string, o: { fields?: string[]; restriction?: string; format?: 'ARROW' | 'AVRO'; streams?: number; auditSession?: string } = {}) {
      const [s] = await client.createReadSession({
        parent: 'projects/demo-project', maxStreamCount: o.streams ?? 1,
        readSession: { table: `projects/demo-project/datasets/${table.split('.')[0]}/tables/${table.split('.')[1]}`, dataFormat: o.format ?? 'ARROW', readOptions: { selectedFields: o.fields ?? [], rowRestriction: o.restriction ?? '' } },
      }, o.auditSession ? { ...opts, otherArgs: { headers: { ...opts.otherArgs.headers, 'x-bqgate-session': o.auditSession } } } : opts);
      return s;
    },
    /** Every response of one stream, from `offset`. */
    async read(stream: string | null | undefined, offset = 0) {
      const out: any[] = [];
      await new Promise<void>((resolve, reject) => {
        client.readRows({ readStream: stream, offset }, opts).on('data', (m: any) => out.push(m)).on('error', reject).on('end', () => resolve());
      });
      return out;
    },
    async split(name: string | null | undefined, fraction: number) { const [r] = await client.splitReadStream({ name, fraction }, opts); return r; },
  };
}

/** Arrow rows of a session's responses, as plain objects. */
function arrowRows(session: any, responses: any[]): Array<Record<string, unknown>> {
  const schema = Buffer.from(session.arrowSchema.serializedSchema);
  const rows: Array<Record<string, unknown>> = [];
  for (const m of responses) {
    const t = tableFromIPC(Buffer.concat([schema, Buffer.from(m.arrowRecordBatch.serializedRecordBatch)]));
    for (const r of t) rows.push(Object.fromEntries(t.schema.fields.map((f) => [f.name, (r as any)[f.name]])));
  }
  return rows;
}

/** Avro rows of a session's responses. */
function avroRows(session: any, responses: any[]): Array<Record<string, unknown>> {
  const type = avro.Type.forSchema(JSON.parse(session.avroSchema.schema), { wrapUnions: false } as any);
  const rows: Array<Record<string, unknown>> = [];
  for (const m of responses) {
    const buf = Buffer.from(m.avroRows.serializedBinaryRows);
    for (let pos = 0; pos < buf.length;) { const r = type.decode(buf, pos); rows.push(r.value as any); pos = r.offset; }
  }
  return rows;
}

/** The gRPC error a call rejects with. */
async function grpcError(p: Promise<unknown>): Promise<{ code: number; details: string }> {
  try { await p; } catch (e) { return e as { code: number; details: string }; }
  throw new Error('expected a gRPC error');
}

/** The caller's REST rows for `sql` through the gateway, keyed by customer_id. */
async function restRows(token: string, sql: string): Promise<Map<string, Record<string, unknown>>> {
  const [rows] = await gw.sdk(token).query({ query: sql, useLegacySql: false });
  return new Map(rows.map((r: any) => [String(r.customer_id), r]));
}

describe('sessions over a table, decided like SELECT fields FROM t WHERE restriction', { timeout: 120_000 }, () => {
  it('serves masked values (EMAIL_MASK, LAST_FOUR_CHARACTERS, SHA256) equal to what REST returns the same caller', async () => {
    const r = reader(analyst);
    const s = await r.session('shop.customers', { fields: ['customer_id', 'email', 'card_number', 'full_name'], restriction: 'customer_id <= 300' });
    expect(s.streams!.length).toBeGreaterThan(0);
    const got = arrowRows(s, (await Promise.all(s.streams!.map((st: any) => r.read(st.name)))).flat());
    const rest = await restRows(analyst, 'SELECT customer_id, email, card_number, full_name FROM `demo-project.shop.customers` WHERE customer_id <= 300');
    console.log(`masked read: ${got.length} rows over ${s.streams!.length} stream(s); REST: ${rest.size} rows; first email ${String(got[0]?.email)}`);
    expect(got.length).toBe(rest.size);
    for (const row of got) {
      const want = rest.get(String(row.customer_id))!;
      expect(want).toBeDefined();
      expect(row.email).toBe(want.email);
      expect(row.card_number).toBe(want.card_number);
      expect(row.full_name).toBe(want.full_name);
      expect(String(row.email)).toMatch(/^XXXXX@/);
      expect(String(row.card_number)).toMatch(/^X+\d{4}$/);
    }
  });

  it('filters rows: eu-support reads EU customers only, as through REST', async () => {
    const r = reader(euSupport);
    const s = await r.session('shop.customers', { fields: ['customer_id', 'country', 'email'], streams: 3 });
    const got = arrowRows(s, (await Promise.all(s.streams!.map((st: any) => r.read(st.name)))).flat());
    const rest = await restRows(euSupport, 'SELECT customer_id, country, email FROM `demo-project.shop.customers`');
    const countries = [...new Set(got.map((x) => x.country))].sort();
    console.log(`eu-support: ${got.length} rows (REST ${rest.size}), countries ${countries.join(',')}`);
    expect(got.length).toBe(rest.size);
    expect(got.length).toBeGreaterThan(0);
    for (const c of countries) expect(['DE', 'FR', 'NL', 'ES', 'IT']).toContain(c);
    expect(new Set(got.map((x) => String(x.customer_id))).size).toBe(got.length);
  });

  it('applies the policy\'s row cap (analysts: 5,000 rows) to a whole-table session', async () => {
    const r = reader(analyst);
    const s = await r.session('shop.customers', { fields: ['customer_id', 'email'], streams: 2 });
    const got = arrowRows(s, (await Promise.all(s.streams!.map((st: any) => r.read(st.name)))).flat());
    const [all] = await gw.emulatorSdk().query({ query: 'SELECT COUNT(*) AS n FROM shop.customers', useLegacySql: false });
    console.log(`row cap: ${got.length} rows delivered of ${all[0].n} in the table`);
    expect(Number(all[0].n)).toBeGreaterThan(5000);
    expect(got.length).toBe(5000);
  });

  it('refuses a denied column in selected_fields, naming the rule', async () => {
    const e = await grpcError(reader(analyst).session('shop.customers', { fields: ['customer_id', 'ssn'] }));
    console.log(`denied column: ${e.code} ${e.details}`);
    expect(e.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(e.details).toContain('analysts-deny-ssn');
  });

  it('refuses a row_restriction that smuggles a denied column, a second statement, a set operation or another table', async () => {
    const r = reader(analyst);
    const smuggled = await grpcError(r.session('shop.customers', { fields: ['customer_id'], restriction: "ssn LIKE '1%'" }));
    expect(smuggled.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(smuggled.details).toContain('analysts-deny-ssn');
    const attempts = [
      "TRUE); SELECT ssn FROM `demo-project.shop.customers`; SELECT (1",
      'TRUE) UNION ALL SELECT customer_id FROM `demo-project.shop.customers` WHERE (TRUE',
      'TRUE) ORDER BY (customer_id',
      'TRUE /*',
      'customer_id IN (SELECT customer_id FROM `demo-project.shop.orders`)',
    ];
    for (const restriction of attempts) {
      const e = await grpcError(r.session('shop.customers', { fields: ['customer_id'], restriction }));
      console.log(`restriction ${JSON.stringify(restriction)} → ${e.code} ${e.details.slice(0, 120)}`);
      expect(e.code).toBe(grpc.status.INVALID_ARGUMENT);
    }
  });

  it('refuses a caller without a token, and with a token of another issuer', async () => {
    const none = await grpcError(reader('not-a-jwt').session('shop.customers', { fields: ['customer_id'] }));
    expect(none.code).toBe(grpc.status.UNAUTHENTICATED);
  });
});

describe('sessions over a job\'s results', { timeout: 120_000 }, () => {
  it('reads the caller\'s own query job results over many streams (as governed when the job ran); another caller\'s job is refused', async () => {
    const sql = 'SELECT customer_id, ssn, card_number FROM `demo-project.shop.customers`';
    const [job] = await gw.sdk(support).createQueryJob({ query: sql, useLegacySql: false });
    const [restRowsOfJob] = await job.getQueryResults({ maxResults: 20_000 });
    const rest = new Map(restRowsOfJob.map((x: any) => [String(x.customer_id), x]));
    const r = reader(support);
    const s = await r.session(`_bqgate_results.${job.id}`, { streams: 4 });
    const per = await Promise.all(s.streams!.map((st) => r.read(st.name)));
    const rows = per.map((m) => arrowRows(s, m));
    console.log(`job ${job.id}: ${s.streams!.length} streams of ${rows.map((x) => x.length).join(' + ')} rows; REST ${rest.size}`);
    expect(s.streams!.length).toBeGreaterThan(1);
    expect(rows.flat().length).toBe(rest.size);
    expect(new Set(rows.flat().map((x) => String(x.customer_id))).size).toBe(rest.size);
    for (const x of rows.flat()) {
      expect(x.ssn).toBe(rest.get(String(x.customer_id))!.ssn);
      expect(String(x.ssn)).toMatch(/^X+\d{4}$/);
    }
    const other = await grpcError(reader(euSupport).session(`_bqgate_results.${job.id}`));
    console.log(`another caller's job table: ${other.code} ${other.details}`);
    expect(other.code).toBe(grpc.status.PERMISSION_DENIED);
  });

  it('reads the table jobs.get names as the job\'s destinationTable (what Python\'s QueryJob.to_dataframe(bqstorage_client=…) reads); the upstream\'s anonymous table is never shown, and naming it finds nothing', async () => {
    const [job] = await gw.sdk(support).createQueryJob({ query: 'SELECT customer_id, ssn FROM `demo-project.shop.customers` WHERE customer_id <= 50', useLegacySql: false });
    await job.getQueryResults();
    const [meta] = await job.getMetadata();
    const dest = meta.configuration.query.destinationTable;
    console.log(`jobs.get destinationTable: ${JSON.stringify(dest)}`);
    expect(dest).toEqual({ projectId: 'demo-project', datasetId: '_bqgate_results', tableId: job.id });
    const r = reader(support);
    const s = await r.session(`${dest.datasetId}.${dest.tableId}`);
    const rows = (await Promise.all(s.streams!.map((st) => r.read(st.name)))).flatMap((m) => arrowRows(s, m));
    expect(rows.map((x) => Number(x.customer_id)).sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    expect(rows.every((x) => /^X+\d{4}$/.test(String(x.ssn)))).toBe(true);
    // The upstream's own name for that table (from the emulator, behind the gateway) is not a name callers can use.
    const [up] = await gw.emulatorSdk().job(gw.upstreamJobId('storage-support', job.id!)).getMetadata();
    const anon = up.configuration.query.destinationTable;
    expect(anon.datasetId).toMatch(/^_/);
    const guessed = await grpcError(r.session(`${anon.datasetId}.${anon.tableId}`));
    console.log(`the upstream's anonymous name: ${guessed.code} ${guessed.details}`);
    expect(guessed.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(guessed.details).toContain('_bqgate_results.<jobId>');
  });
});

describe('streams and audit', { timeout: 120_000 }, () => {
  it('reads Avro, honours offsets and SplitReadStream, and keeps a stream for the caller that created it', async () => {
    const r = reader(support);
    const s = await r.session('shop.customers', { fields: ['customer_id', 'ssn'], format: 'AVRO', restriction: 'customer_id <= 500' });
    const all = avroRows(s, await r.read(s.streams![0].name));
    const rest = await restRows(support, 'SELECT customer_id, ssn FROM `demo-project.shop.customers` WHERE customer_id <= 500');
    console.log(`avro: ${all.length} rows (REST ${rest.size}); ssn ${String(all[0]?.ssn)}`);
    expect(all.length).toBe(rest.size);
    for (const row of all) expect(row.ssn).toBe(rest.get(String(row.customer_id))!.ssn);
    const tail = avroRows(s, await r.read(s.streams![0].name, 100));
    expect(tail.length).toBe(all.length - 100);
    expect(tail[0].customer_id).toEqual(all[100].customer_id);
    const split = await r.split(s.streams![0].name, 0.5);
    const halves = [split.primaryStream, split.remainderStream].filter((x: any) => x?.name);
    const parts = (await Promise.all(halves.map((h: any) => r.read(h.name)))).map((m) => avroRows(s, m));
    console.log(`split: ${halves.length} halves of ${parts.map((p) => p.length).join(' + ')} rows`);
    expect(parts.flat().length).toBe(all.length);
    // Another caller with the stream's name: refused.
    const stolen = await grpcError(reader(analyst).read(s.streams![0].name));
    expect(stolen.code).toBe(grpc.status.PERMISSION_DENIED);
    // A name altered by one character: not a stream of anyone's.
    const name = s.streams![0].name!;
    const forged = await grpcError(r.read(name.slice(0, -3) + (name.endsWith('A') ? 'B' : 'A') + name.slice(-2)));
    expect(forged.code).toBe(grpc.status.PERMISSION_DENIED);
  });

  it('records each read session and each delivered batch (rows, bytes, sha256 of the batch) in the caller\'s audit', async () => {
    const r = reader(euSupport);
    const s = await r.session('shop.customers', { fields: ['customer_id', 'country'], restriction: "country = 'DE'", auditSession: 'storage-audit-session' });
    const responses = await r.read(s.streams![0].name);
    const hashes = responses.map((m) => createHash('sha256').update(Buffer.from(m.arrowRecordBatch.serializedRecordBatch)).digest('hex'));
    const requests = (await auditRequests(gw.dataDir)).filter((q) => q.principal === 'storage-eu');
    const created = requests.filter((q) => q.operation === 'storage.createReadSession');
    const reads = requests.filter((q) => q.operation === 'storage.readRows');
    const delivered = reads.flatMap((q) => q.deliveries as any[]);
    console.log(`audit: ${created.length} sessions, ${reads.length} reads, ${delivered.length} delivery events; batches read now ${hashes.length}`);
    const last = created.at(-1)!;
    expect(last.decision?.effect).toBe('allow');
    expect(last.decision?.tables).toContain('demo-project.shop.customers');
    expect(last.upstream?.sql).toContain('country');
    expect(last.response?.status).toBe(200);
    const read = reads.at(-1)!;
    expect(last.sessionKey).toBe('storage-audit-session');
    expect(read.sessionKey).toBe('storage-audit-session'); // the read joins its session's audit session without naming it
    expect(read.response?.status).toBe(200);
    for (const h of hashes) expect(delivered.map((d) => d.sha256)).toContain(h);
    const mine = delivered.filter((d) => hashes.includes(d.sha256));
    expect(mine.reduce((n, d) => n + d.rows, 0)).toBe(arrowRows(s, responses).length);
    expect(mine.every((d) => d.bytes > 0)).toBe(true);
  });
});

describe('the per-principal rate limit', { timeout: 240_000 }, () => {
  it('counts Storage Read API calls in the same per-minute budget as REST: past it, RESOURCE_EXHAUSTED naming BQGATE_RATE_LIMIT, and REST is refused too', async () => {
    const port = await freePort();
    const limited = await startGateway({ env: { BQGATE_STORAGE_PORT: String(port), BQGATE_RATE_LIMIT: '4' } });
    try {
      const token = await limited.token({ sub: 'storage-flood', groups: ['support'] });
      const r = reader(token, port);
      const [datasets] = await limited.sdk(token).getDatasets(); // 1 REST request
      expect(datasets.length).toBeGreaterThan(0);
      for (let i = 0; i < 3; i++) await r.session('shop.customers', { fields: ['customer_id'], restriction: `customer_id = ${i + 1}` }); // 3 more: 4 of 4
      const over = await grpcError(r.session('shop.customers', { fields: ['customer_id'], restriction: 'customer_id = 9' }));
      console.log(`5th request of the minute (gRPC): ${over.code} ${over.details}`);
      expect(over.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
      expect(over.details).toMatch(/more than 4 requests per minute for this principal \(bqgate BQGATE_RATE_LIMIT\)/);
      const rest = await fetch(`${limited.url}/bigquery/v2/projects/demo-project/datasets`, { headers: { authorization: `Bearer ${token}` } });
      expect(rest.status).toBe(429);
    } finally { await limited.stop(); }
  });
});

describe('TLS on the door (BQGATE_STORAGE_TLS_CERT / _KEY)', { timeout: 240_000 }, () => {
  it('serves a client that trusts the certificate, masked as over plaintext; a plaintext client gets no answer', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bqgate-storage-tls-'));
    const cert = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
      '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert], { stdio: 'ignore' });
    execFileSync('chmod', ['600', key]);
    const port = await freePort();
    const tls = await startGateway({ env: { BQGATE_STORAGE_PORT: String(port), BQGATE_STORAGE_TLS_CERT: cert, BQGATE_STORAGE_TLS_KEY: key } });
    try {
      const token = await tls.token({ sub: 'storage-tls', groups: ['analysts'] });
      const r = reader(token, port, grpc.credentials.createSsl(readFileSync(cert)));
      const s = await r.session('shop.customers', { fields: ['customer_id', 'email'], restriction: 'customer_id <= 3' });
      const rows = arrowRows(s, await r.read(s.streams![0].name));
      console.log(`over TLS: ${rows.map((x) => `${x.customer_id} ${x.email}`).join(", ")}`);
      expect(rows.map((x) => Number(x.customer_id)).sort()).toEqual([1, 2, 3]);
      expect(rows.every((x) => /^X+@/.test(String(x.email)))).toBe(true);
      const plain = await grpcError(reader(token, port).session('shop.customers', { fields: ['customer_id'] }));
      console.log(`plaintext client on the TLS port: ${plain.code} ${plain.details}`);
      expect(plain.code).toBe(grpc.status.UNAVAILABLE);
    } finally { await tls.stop(); }
  });
});
