/**
 * The README's MCP transcript, produced by the real parts: the official MCP client
 * (@modelcontextprotocol/client, Streamable HTTP) against a real gateway process, tokens from the
 * real `bqgate token --aud`, and the data owner's approval through the real `bqgate approvals
 * approve` (the REST API). Shows: tools/list for an analyst, a masked query, a denied query, a write
 * that waits for approval and completes once approved.
 *
 * Usage: npx tsx scripts/mcp-demo.ts [--port 9050] [--revision 2025-11-25|2026-07-28]
 *   Starts `bqgate serve` on that port (default: a free one) with a fresh data directory and stops
 *   it afterwards; prints the transcript to stdout. Exits 1 if a step does not answer as the demo
 *   says (a masked value in the clear, a denial that runs, an approval that does not complete).
 */
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { freePort, waitForHttp } from '../src/net.js';

const ROOT = resolve(import.meta.dirname, '..');
const args = process.argv.slice(2);
const opt = (name: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const port = Number(opt('--port') ?? await freePort());
const revision = opt('--revision') ?? '2025-11-25';
const url = `http://127.0.0.1:${port}`;
const dataDir = mkdtempSync(join(tmpdir(), 'bqgate-mcp-demo-'));
const OFFLINE = { METADATA_SERVER_DETECTION: 'none', GCE_METADATA_HOST: '127.0.0.1:1', GCE_METADATA_IP: '127.0.0.1:1' };
const env = { ...process.env, ...OFFLINE, BQGATE_PORT: String(port), BQGATE_EMULATOR_PORT: String(await freePort()), BQGATE_DATA_DIR: dataDir, BQGATE_LOG_LEVEL: 'warn' };

const out = (s = '') => process.stdout.write(`${s}\n`);
const fail = (why: string): never => { process.stderr.write(`mcp-demo: ${why}\n`); process.exitCode = 1; throw new Error(why); };
/** Runs the bqgate CLI as the transcript shows it (`npx bqgate …`); returns its stdout. */
const bqgate = (shown: string, cliArgs: string[], extraEnv: Record<string, string> = {}) => {
  out(`$ ${shown}`);
  return execFileSync(process.execPath, [join(ROOT, 'bin', 'bqgate.js'), '--data-dir', dataDir, ...cliArgs], { cwd: ROOT, env: { ...env, ...extraEnv }, encoding: 'utf8' }).trim();
};

/** Rows of a tool result as a small text table. */
const table = (rows: Array<Record<string, unknown>>) => {
  if (!rows.length) return '(no rows)';
  const keys = Object.keys(rows[0]);
  const w = keys.map((k) => Math.max(k.length, ...rows.map((r) => String(r[k] ?? 'NULL').length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(w[i])).join(' | ')} |`;
  return [line(keys), `|${w.map((n) => '-'.repeat(n + 2)).join('|')}|`, ...rows.map((r) => line(keys.map((k) => String(r[k] ?? 'NULL'))))].join('\n');
};

type Result = { isError?: boolean; content: Array<{ type: string; text?: string }>; structuredContent?: any };
async function connect(token: string) {
  const client = new Client({ name: 'mcp-demo', version: '1.0.0' }, revision === '2026-07-28'
    ? { versionNegotiation: { mode: { pin: '2026-07-28' } } } : { supportedProtocolVersions: [revision] });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${url}/mcp`), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
  return client;
}
async function call(client: Client, name: string, a: Record<string, unknown>): Promise<Result> {
  out(`→ tools/call ${name} ${JSON.stringify(a)}`);
  const r = await client.callTool({ name, arguments: a }) as Result;
  const text = r.content.filter((c) => c.type === 'text').map((c) => c.text).join('\n');
  out(`← ${r.isError ? 'isError: ' : ''}${text.split('\n')[0].slice(0, 400)}`);
  if (r.structuredContent?.rowObjects?.length) out(table(r.structuredContent.rowObjects));
  const sc = r.structuredContent ?? {};
  const facts = ['status', 'numDmlAffectedRows'].filter((k) => sc[k] !== undefined).map((k) => `${k}: ${sc[k]}`);
  if (facts.length && !sc.rowObjects?.length) out(`  (${facts.join(', ')})`);
  out();
  return r;
}

const gw = spawn(process.execPath, [join(ROOT, 'bin', 'bqgate.js'), 'serve'], { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'pipe'] });
let log = '';
gw.stderr!.on('data', (d) => { log += d; });
const clients: Client[] = [];
try {
  if (await waitForHttp(`${url}/readyz`, gw, { ready: (s) => s === 200, describe: () => log }) !== 'ready') fail(`the gateway exited: ${log}`);
  out(`# bqgate on ${url} (npm start), MCP client @modelcontextprotocol/client pinned to ${revision}`);
  out();

  const analyst = bqgate(`MCP_TOKEN=$(npx bqgate token --sub agent-7 --groups analysts --act claude-desktop --aud ${url}/mcp)`,
    ['token', '--port', String(port), '--sub', 'agent-7', '--groups', 'analysts', '--act', 'claude-desktop', '--aud', `${url}/mcp`]);
  out();
  const a = await connect(analyst);
  clients.push(a);
  out('→ tools/list');
  out(`← ${(await a.listTools()).tools.map((t) => t.name).join(', ')}`);
  out();

  const masked = await call(a, 'execute_sql_readonly', { projectId: 'demo-project', query: 'SELECT customer_id, email, card_number, birth_date FROM shop.customers ORDER BY customer_id LIMIT 3' });
  if (masked.isError || !masked.structuredContent.rowObjects.every((r: any) => /^XXXXX@/.test(r.email))) fail('the analyst\'s emails are not masked');
  const denied = await call(a, 'execute_sql_readonly', { projectId: 'demo-project', query: 'SELECT customer_id, ssn FROM shop.customers LIMIT 3' });
  if (!denied.isError) fail('the ssn query was not refused');

  const etl = bqgate(`ETL_TOKEN=$(npx bqgate token --sub etl-1 --groups etl-agents --act loader-bot --aud ${url}/mcp)`,
    ['token', '--port', String(port), '--sub', 'etl-1', '--groups', 'etl-agents', '--act', 'loader-bot', '--aud', `${url}/mcp`]);
  out();
  const e = await connect(etl);
  clients.push(e);
  const pending = await call(e, 'execute_sql', { projectId: 'demo-project', query: "UPDATE shop.orders SET status = 'shipped' WHERE order_id = 11" });
  const approval = pending.structuredContent?.approval;
  const jobId = pending.structuredContent?.jobReference?.jobId;
  if (pending.isError || !approval?.id || !jobId) fail(`the UPDATE did not wait for approval: ${JSON.stringify(pending).slice(0, 300)}`);

  out('# meanwhile, a data owner (REST API, their own token):');
  const owner = bqgate('export BQGATE_TOKEN=$(npx bqgate token --sub owner-1 --groups data-owners)', ['token', '--port', String(port), '--sub', 'owner-1', '--groups', 'data-owners']);
  out(bqgate(`npx bqgate approvals approve ${approval.id} --comment "ticket OPS-42"`, ['approvals', 'approve', approval.id, '--comment', 'ticket OPS-42', '--gateway', url], { BQGATE_TOKEN: owner }));
  out();

  let done: Result | undefined;
  for (let i = 0; i < 20 && done?.structuredContent?.status !== 'DONE'; i++) {
    if (i) await new Promise((r) => setTimeout(r, 500));
    done = await call(e, 'get_query_results', { projectId: 'demo-project', jobId });
    if (done.isError) fail('the approved UPDATE failed');
  }
  if (done?.structuredContent?.status !== 'DONE') fail('the approved UPDATE did not complete');

  out(bqgate('npx bqgate sessions list', ['sessions', 'list']));
} finally {
  for (const c of clients) await c.close().catch(() => undefined);
  gw.kill('SIGTERM');
  await new Promise((r) => (gw.exitCode !== null ? r(null) : gw.once('exit', r)));
  rmSync(dataDir, { recursive: true, force: true });
}
