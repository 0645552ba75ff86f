/**
 * MCP Inspector's CLI (@modelcontextprotocol/inspector --cli) as a second, external MCP client of
 * a real gateway process: tools/list per caller and a masked tools/call over Streamable HTTP with
 * the caller's bearer token; no token is refused.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { startGateway, type TestGateway } from './helpers/gateway.ts';

const execFileP = promisify(execFile);
const BIN = join(resolve(import.meta.dirname, '..'), 'node_modules', '.bin', 'mcp-inspector');

let gw: TestGateway;
beforeAll(async () => { gw = await startGateway(); }, 120_000);
afterAll(async () => { await gw?.stop(); });

/** Runs the Inspector CLI against the gateway's /mcp; its stdout parsed as JSON when it exits 0. */
async function inspector(args: string[], token?: string) {
  const r = await execFileP(BIN, ['--cli', `${gw.url}/mcp`, '--transport', 'http', ...(token ? ['--header', `Authorization: Bearer ${token}`] : []), ...args], { timeout: 60_000, env: { ...process.env, HOME: gw.dataDir } })
    .then((x) => ({ code: 0, stdout: x.stdout, stderr: x.stderr }), (e) => ({ code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' }));
  return { ...r, json: r.code === 0 ? JSON.parse(r.stdout) : undefined };
}

describe('MCP Inspector CLI', () => {
  it('lists the tools of each caller', async () => {
    const analyst = await inspector(['--method', 'tools/list'], await gw.token({ sub: 'analyst-1', groups: ['analysts'] }, { audience: `${gw.url}/mcp` }));
    expect(analyst.code, analyst.stderr).toBe(0);
    const names = analyst.json.tools.map((t: { name: string }) => t.name).sort();
    console.log('inspector: analyst tools', names.join(', '));
    expect(names).toContain('execute_sql_readonly');
    expect(names).not.toContain('execute_sql');
    const nobody = await inspector(['--method', 'tools/list'], await gw.token({ sub: 'nobody-1', groups: [] }, { audience: `${gw.url}/mcp` }));
    expect(nobody.json.tools.map((t: { name: string }) => t.name)).toEqual(['explain_access']);
  });

  it('runs a masked query with tools/call', async () => {
    const r = await inspector(['--method', 'tools/call', '--tool-name', 'execute_sql_readonly', '--tool-arg', 'projectId=demo-project', '--tool-arg', 'query=SELECT email FROM shop.customers ORDER BY customer_id LIMIT 2'], await gw.token({ sub: 'analyst-1', groups: ['analysts'] }, { audience: `${gw.url}/mcp` }));
    expect(r.code, r.stderr).toBe(0);
    const rows = r.json.structuredContent.rowObjects;
    console.log('inspector: masked rows', rows);
    expect(rows).toHaveLength(2);
    for (const row of rows) expect(row.email).toMatch(/^XXXXX@/);
  });

  it('is refused without a token', async () => {
    const r = await inspector(['--method', 'tools/list']);
    console.log('inspector without token: exit', r.code, (r.stderr + r.stdout).slice(0, 300));
    expect(r.code).not.toBe(0);
    expect(r.stderr + r.stdout).toMatch(/auth_required|401/);
  });
});
