/**
 * Micro-benchmark of streaming delivery alone (src/deliver/stream.ts `streamPage`), no gateway, no
 * network: `pages` getQueryResults bodies of `pageRows` rows shaped like section 3's masked result
 * (customer_id, email hex, full_name hex, phone hex, n), fed in 64 KiB chunks, with no column
 * scanned and with the backstop on one STRING column. Prints rows/s (rows ÷ summed wall time, ms
 * from performance.now()), rows per CPU second (process.cpuUsage, user + system: steadier than wall
 * time on a shared machine) and the process's peak RSS (MB). Nothing is hard-coded.
 *
 * Usage: npx tsx bench/stream-page.ts [pages=50] [pageRows=20000]
 */
import { createHash } from 'node:crypto';
import { streamPage } from '../src/deliver/index.js';

const [pages, pageRows] = [Number(process.argv[2] ?? 50), Number(process.argv[3] ?? 20_000)];
const hex = (s: string) => createHash('sha256').update(s).digest('hex');
const schema = { fields: ['customer_id:INTEGER', 'email:STRING', 'full_name:STRING', 'phone:STRING', 'n:INTEGER'].map((f) => ({ name: f.split(':')[0], type: f.split(':')[1], mode: 'NULLABLE' })) };
const rows = Array.from({ length: pageRows }, (_, i) => ({ f: [String(i), `XXXXX@example.com`, hex(`n${i}`), hex(`p${i}`), String(i % 100)].map((v) => ({ v })) }));
const body = Buffer.from(JSON.stringify({ kind: 'bigquery#getQueryResultsResponse', etag: 'x', schema, jobReference: { projectId: 'demo-project', jobId: 'j', location: 'US' }, totalRows: String(pages * pageRows), pageToken: 'next', rows, jobComplete: true, cacheHit: false }));
async function* chunks(b: Buffer) { for (let i = 0; i < b.length; i += 65536) yield b.subarray(i, i + 65536); }

for (const [name, scan] of [['no column scanned', []], ['backstop on full_name', [2]]] as const) {
  let ms = 0;
  let n = 0;
  const cpu0 = process.cpuUsage();
  for (let p = 0; p < pages; p++) {
    const t = performance.now();
    const page = await streamPage(chunks(body), { kind: 'bigquery#getQueryResultsResponse', scan: [...scan], cap: { start: p * pageRows, max: pages * pageRows } });
    ms += performance.now() - t;
    n += page.rows;
  }
  const c = process.cpuUsage(cpu0);
  const cpuMs = (c.user + c.system) / 1000;
  console.log(`${name}: ${n} rows in ${ms.toFixed(0)} ms, ${Math.round(n / (ms / 1000))} rows/s; CPU ${cpuMs.toFixed(0)} ms, ${Math.round(n / (cpuMs / 1000))} rows per CPU s; peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(1)} MB`);
}
