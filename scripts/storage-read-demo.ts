/**
 * The README's Storage Read API transcript, produced by the real parts: the real Node client
 * `@google-cloud/bigquery-storage` (BigQueryReadClient, the low-level gRPC client Python's
 * `BigQueryReadClient` mirrors) against a real `bqgate serve` (its embedded emulator's BigQueryRead
 * behind it), tokens from `bqgate token`. Shows: a masked read (Arrow), a row-filtered read (Avro),
 * a denied column, a row_restriction that tries to close the WHERE, and a job's results over two
 * streams.
 *
 * Usage: npx tsx scripts/storage-read-demo.ts
 *   Starts `bqgate serve` on free ports with a fresh data directory and stops it afterwards; prints
 *   the transcript. Exits 1 if a step does not answer as the transcript says.
 */
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { OAuth2Client } from 'google-auth-library';
import { BigQueryReadClient } from '@google-cloud/bigquery-storage';
import { BigQuery } from '@google-cloud/bigquery';
import { tableFromIPC } from 'apache-arrow';
import avro from 'avsc';
import { freePort, waitForHttp } from '../src/net.js';

const ROOT = resolve(import.meta.dirname, '..');
const port = await freePort();
const storagePort = await freePort();
const dataDir = mkdtempSync(join(tmpdir(), 'bqgate-storage-demo-'));
const OFFLINE = { METADATA_SERVER_DETECTION: 'none', GCE_METADATA_HOST: '127.0.0.1:1', GCE_METADATA_IP: '127.0.0.1:1' };
const env = { ...process.env, ...OFFLINE, BQGATE_PORT: String(port), BQGATE_STORAGE_PORT: String(storagePort), BQGATE_EMULATOR_PORT: String(await freePort()), BQGATE_DATA_DIR: dataDir, BQGATE_LOG_LEVEL: 'warn' };
const out = (s = '') => process.stdout.write(`${s}\n`);
const fail = (why: string): never => { process.stderr.write(`storage-read-demo: ${why}\n`); process.exitCode = 1; throw new Error(why); };
const token = (sub: string, groups: string) => execFileSync(process.execPath, [join(ROOT, 'bin', 'bqgate.js'), '--data-dir', dataDir, 'token', '--sub', sub, '--groups', groups], { cwd: ROOT, env, encoding: 'utf8' }).trim();

const child = spawn(process.execPath, [join(ROOT, 'bin', 'bqgate.js'), 'serve'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
let log = '';
child.stdout!.on('data', (d) => { log += d; });
child.stderr!.on('data', (d) => { log += d; });
const clients: BigQueryReadClient[] = [];
try {
  if (await waitForHttp(`http://127.0.0.1:${port}/readyz`, child, { timeoutMs: 120_000, ready: (s) => s === 200, describe: () => log }) !== 'ready') fail(`gateway exited: ${log}`);
  const reader = (tok: string) => {
    const authClient = new OAuth2Client();
    authClient.setCredentials({ access_token: tok });
    const client = new BigQueryReadClient({ apiEndpoint: '127.0.0.1', port: storagePort, sslCreds: grpc.credentials.createInsecure(), authClient: authClient as any });
    clients.push(client);
    const opts = { otherArgs: { headers: { authorization: `Bearer ${tok}` } }, retry: null as any };
    return {
      session: async (table: string, format: 'ARROW' | 'AVRO', selectedFields: string[], rowRestriction = '', maxStreamCount = 1) =>
        (await client.createReadSession({ parent: 'projects/demo-project', maxStreamCount, readSession: { table, dataFormat: format, readOptions: { selectedFields, rowRestriction } } }, opts))[0],
      read: (stream: string) => new Promise<any[]>((res, rej) => { const m: any[] = []; client.readRows({ readStream: stream }, opts).on('data', (x: any) => m.push(x)).on('error', rej).on('end', () => res(m)); }),
    };
  };
  const rowsOf = (s: any, msgs: any[]) => msgs.flatMap((m) => {
    if (s.arrowSchema?.serializedSchema?.length) {
      const t = tableFromIPC(Buffer.concat([Buffer.from(s.arrowSchema.serializedSchema), Buffer.from(m.arrowRecordBatch.serializedRecordBatch)]));
      return [...t].map((r: any) => Object.fromEntries(t.schema.fields.map((f) => [f.name, r[f.name]])));
    }
    const type = avro.Type.forSchema(JSON.parse(s.avroSchema.schema), { wrapUnions: false } as any);
    const buf = Buffer.from(m.avroRows.serializedBinaryRows);
    const rows: any[] = [];
    for (let pos = 0; pos < buf.length;) { const r = type.decode(buf, pos); rows.push(r.value); pos = r.offset; }
    return rows;
  });
  const show = (rows: any[], n = 3) => rows.slice(0, n).map((r) => `    ${JSON.stringify(r, (_k, v) => (typeof v === 'bigint' ? Number(v) : v))}`).join('\n');
  const refusal = async (p: Promise<unknown>) => { try { await p; } catch (e: any) { return `${grpc.status[e.code]}: ${e.details}`; } return fail('expected a refusal'); };

  const analyst = token('agent-7', 'analysts');
  const eu = token('eu-agent', 'eu-support');
  const support = token('support-agent', 'support');
  const customers = 'projects/demo-project/datasets/shop/tables/customers';

  out(`$ bqgate serve   # REST on :${port}, BigQueryRead (gRPC) on :${storagePort}`);
  out('\n# 1. analysts: a masked read, Arrow (EMAIL_MASK, LAST_FOUR_CHARACTERS, SHA256 at the scan)');
  out(`createReadSession(table=${customers}, ARROW, selected_fields=[customer_id, email, card_number, full_name], row_restriction="customer_id <= 3")`);
  const s1 = await reader(analyst).session(customers, 'ARROW', ['customer_id', 'email', 'card_number', 'full_name'], 'customer_id <= 3');
  const r1 = rowsOf(s1, await reader(analyst).read(s1.streams![0].name!));
  out(`  → ${s1.streams!.length} stream, ${r1.length} rows:\n${show(r1)}`);
  if (r1.some((r) => !String(r.email).startsWith('XXXXX@'))) fail('an email in the clear');

  out('\n# 2. eu-support: row-filtered to EU customers, Avro');
  const s2 = await reader(eu).session(customers, 'AVRO', ['customer_id', 'country', 'email'], '', 2);
  const r2 = (await Promise.all(s2.streams!.map((st: any) => reader(eu).read(st.name)))).flatMap((m) => rowsOf(s2, m));
  const countries = [...new Set(r2.map((r) => r.country))].sort();
  out(`  → ${s2.streams!.length} streams, ${r2.length} rows, countries ${countries.join(', ')}:\n${show(r2, 2)}`);
  if (countries.some((c) => !['DE', 'FR', 'NL', 'ES', 'IT'].includes(c))) fail('a non-EU row');

  out('\n# 3. analysts: a denied column in selected_fields');
  out(`  → ${await refusal(reader(analyst).session(customers, 'ARROW', ['customer_id', 'ssn']))}`);
  out('\n# 4. analysts: a row_restriction that closes the WHERE to add a statement');
  out(`  → ${await refusal(reader(analyst).session(customers, 'ARROW', ['customer_id'], 'TRUE) UNION ALL SELECT ssn FROM shop.customers WHERE (TRUE'))}`);

  out('\n# 5. support: a query job\'s results through the Storage API (projects/demo-project/datasets/_bqgate_results/tables/<jobId>)');
  const bqAuth = new OAuth2Client();
  bqAuth.setCredentials({ access_token: support });
  const [job] = await new BigQuery({ projectId: 'demo-project', apiEndpoint: `http://127.0.0.1:${port}`, authClient: bqAuth }).createQueryJob({ query: 'SELECT customer_id, ssn FROM shop.customers WHERE customer_id <= 1000', useLegacySql: false });
  await job.getQueryResults({ maxResults: 0 });
  const s5 = await reader(support).session(`projects/demo-project/datasets/_bqgate_results/tables/${job.id}`, 'ARROW', [], '', 2);
  const r5 = (await Promise.all(s5.streams!.map((st: any) => reader(support).read(st.name)))).map((m) => rowsOf(s5, m));
  out(`  job ${job.id} → ${s5.streams!.length} streams of ${r5.map((x) => x.length).join(' + ')} rows:\n${show(r5.flat(), 2)}`);
  out('  the same table read by eu-support:');
  out(`  → ${await refusal(reader(eu).session(`projects/demo-project/datasets/_bqgate_results/tables/${job.id}`, 'ARROW', []))}`);
} finally {
  for (const c of clients) await c.close().catch(() => {});
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  rmSync(dataDir, { recursive: true, force: true });
}
