/**
 * Benchmark section 8: the BigQuery Storage Read API through bqgate (src/doors/storage/). One
 * caller runs the masked 1,000,000-row query of section 3 (jobs.insert) and reads its results twice
 * through the gateway: paged with getQueryResults (`pageRows` rows a page), and through the Storage
 * Read API with the real Node client (`BigQueryReadClient`, the job's results named
 * `_bqgate_results.<jobId>`, `streams` streams read concurrently, Arrow). Reports rows/s of each
 * (rows received ÷ wall time of the reading, ms; the job has completed before either is timed),
 * storage ÷ paging, bytes received, and the gateway's peak RSS (VmHWM, MB) after each.
 */
import * as grpc from '@grpc/grpc-js';
import { OAuth2Client } from 'google-auth-library';
import { BigQueryReadClient } from '@google-cloud/bigquery-storage';
import { largeQuery, pageThrough } from './delivery.js';
import { peakRss } from './stack.js';

const mb = (b: number) => +(b / 2 ** 20).toFixed(1);

export async function benchStorage(s: { gatewayUrl: string; storagePort: number; gatewayPid: number; token: string }, rows = 1_000_000, pageRows = 20_000, streams = 4) {
  const before = peakRss(s.gatewayPid);
  const expect = Math.max(1, Math.round(rows / 10_000)) * 10_000;
  const paged = await pageThrough(s.gatewayUrl, s.token, pageRows, expect, largeQuery(rows));
  const pagedRss = peakRss(s.gatewayPid);
  // A job of the same query, read through the Storage Read API.
  const call = async (method: string, path: string, body?: unknown) => {
    const r = await fetch(`${s.gatewayUrl}/bigquery/v2/projects/demo-project${path}`, { method, headers: { 'content-type': 'application/json', authorization: `Bearer ${s.token}` }, ...(body ? { body: JSON.stringify(body) } : {}) });
    const j = await r.json() as any;
    if (r.status !== 200) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(j).slice(0, 300)}`);
    return j;
  };
  const job = await call('POST', '/jobs', { configuration: { query: { query: largeQuery(rows), useLegacySql: false } } });
  const jobId = job.jobReference.jobId as string;
  for (let done = false; !done;) done = (await call('GET', `/queries/${encodeURIComponent(jobId)}?maxResults=0&timeoutMs=60000`)).jobComplete === true;
  const authClient = new OAuth2Client();
  authClient.setCredentials({ access_token: s.token });
  const client = new BigQueryReadClient({ apiEndpoint: '127.0.0.1', port: s.storagePort, sslCreds: grpc.credentials.createInsecure(), authClient: authClient as any });
  const opts = { otherArgs: { headers: { authorization: `Bearer ${s.token}` } }, retry: null as any, timeout: 600_000 };
  try {
    const t0 = performance.now();
    const [session] = await client.createReadSession({ parent: 'projects/demo-project', maxStreamCount: streams, readSession: { table: `projects/demo-project/datasets/_bqgate_results/tables/${jobId}`, dataFormat: 'ARROW' } }, opts);
    let got = 0;
    let bytes = 0;
    await Promise.all((session.streams ?? []).map((st) => new Promise<void>((resolve, reject) => {
      client.readRows({ readStream: st.name }, opts).on('data', (m: any) => { got += Number(m.rowCount ?? 0); bytes += m.arrowRecordBatch?.serializedRecordBatch?.length ?? 0; }).on('error', reject).on('end', () => resolve());
    })));
    const ms = performance.now() - t0;
    if (got !== expect) throw new Error(`storage read: expected ${expect} rows, received ${got}`);
    const storageRowsPerSec = Math.round(got / (ms / 1000));
    return {
      rows: got, streams: session.streams?.length ?? 0, arrow_mb: mb(bytes),
      getqueryresults_rows_per_s: paged.rowsPerSec, storage_rows_per_s: storageRowsPerSec, storage_vs_paging: +(storageRowsPerSec / paged.rowsPerSec).toFixed(2),
      peak_rss_before_mb: mb(before), peak_rss_after_paging_mb: mb(pagedRss), peak_rss_after_storage_mb: mb(peakRss(s.gatewayPid)),
    };
  } finally {
    await client.close();
  }
}
