/**
 * What the audit records of an MCP tool call, through the official MCP client against a real gateway
 * process: the delivery event's sha256 is the SHA-256 of exactly the tool result the door wrote (the
 * JSON-RPC `result` bytes as received on the wire, captured under the client's fetch), in both eras;
 * `execute_sql_readonly` is one audited request (refusing a non-SELECT inside it); and
 * `bqgate sessions show --json` lists the MCP calls with their door, tool, client and era.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { startGateway, auditRequests, type TestGateway } from './helpers/gateway.ts';

let gw: TestGateway;
let analyst: string;
beforeAll(async () => {
  gw = await startGateway();
  analyst = await gw.token({ sub: 'hash-analyst', groups: ['analysts'] }, { audience: `${gw.url}/mcp` });
}, 120_000);
afterAll(async () => { await gw?.stop(); });

const sha = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');

/** A client whose HTTP responses are kept as received (the bytes of each tool call's JSON-RPC answer). */
async function capturing(era: 'legacy' | 'modern', session: string) {
  const bodies: string[] = [];
  const fetchKeep: typeof fetch = async (input, init) => {
    const res = await fetch(input, init);
    const text = await res.text();
    bodies.push(text);
    return new Response(text, { status: res.status, statusText: res.statusText, headers: res.headers });
  };
  const client = new Client({ name: 'hash-check', version: '4.5.6' }, era === 'legacy' ? { supportedProtocolVersions: ['2025-06-18'] } : { versionNegotiation: { mode: { pin: '2026-07-28' } } });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${gw.url}/mcp`), { fetch: fetchKeep, requestInit: { headers: { authorization: `Bearer ${analyst}`, 'x-bqgate-session': session } } }));
  return { client, bodies };
}

/** The `result` of the JSON-RPC answer to tools/call `id` among the captured bodies, as the exact substring received. */
function resultBytes(bodies: string[], id: number) {
  const body = bodies.find((b) => { try { return JSON.parse(b).id === id && JSON.parse(b).result; } catch { return false; } });
  if (!body) throw new Error(`no answer with id ${id}`);
  const result = JSON.parse(body).result;
  return { body, result };
}

for (const era of ['legacy', 'modern'] as const) {
  describe(`audit of MCP tool calls (${era})`, () => {
    it('hashes exactly the tool result the door wrote: the delivery sha256 matches the bytes received', async () => {
      const session = `hash-${era}`;
      const { client, bodies } = await capturing(era, session);
      const r = await client.callTool({ name: 'execute_sql_readonly', arguments: { projectId: 'demo-project', query: 'SELECT customer_id, email FROM shop.customers ORDER BY customer_id LIMIT 3' } }) as any;
      expect(r.isError).toBeFalsy();
      // The answer to the tools/call: the last body carrying a result with structuredContent.
      const body = [...bodies].reverse().find((b) => b.includes('"structuredContent"'))!;
      const envelope = JSON.parse(body);
      const { result } = resultBytes([body], envelope.id);
      const bytes = JSON.stringify(result);
      expect(body).toContain(`"result":${bytes}`); // the result's bytes, exactly as they came over the wire
      if (era === 'modern') expect(result).toMatchObject({ resultType: 'complete', _meta: { 'io.modelcontextprotocol/serverInfo': { name: 'bqgate' } } });
      const recs = (await auditRequests(gw.dataDir)).filter((x) => x.sessionKey === session && x.operation === 'jobs.query');
      expect(recs.length).toBe(1);
      const d = recs[0].deliveries[0];
      console.log(era, 'delivery', { rows: d.rows, bytes: d.bytes, sha256: d.sha256, recomputed: sha(bytes), wire: Buffer.byteLength(body) });
      expect(d.sha256).toBe(sha(bytes));
      expect(d.bytes).toBe(Buffer.byteLength(bytes));
      expect(d.rows).toBe(r.structuredContent.rows.length);
      expect(d.sample.map((row: any) => row.f[1].v)).toEqual(r.structuredContent.rows.map((row: any) => row.f[1].v));
      // The same figures through the CLI.
      const show = await gw.cli(['sessions', 'replay', `key:hash-analyst:${session}`, '--json']);
      expect(show.code, show.stderr).toBe(0);
      const viaCli = JSON.parse(show.stdout).requests.find((x: any) => x.operation === 'jobs.query');
      expect(viaCli.deliveries[0].sha256).toBe(sha(bytes));
      expect(viaCli).toMatchObject({ door: 'mcp', client: 'hash-check/4.5.6', mcp: { tool: 'execute_sql_readonly', era } });
      await client.close();
    });

    it('execute_sql_readonly is one audited request, and refuses a write inside it before the policy decides', async () => {
      const session = `one-${era}`;
      const { client } = await capturing(era, session);
      await client.callTool({ name: 'execute_sql_readonly', arguments: { projectId: 'demo-project', query: 'SELECT 1 AS x' } });
      const w = await client.callTool({ name: 'execute_sql_readonly', arguments: { projectId: 'demo-project', query: 'DELETE FROM shop.orders WHERE TRUE' } }) as any;
      expect(w.isError).toBe(true);
      expect(w.content[0].text).toMatch(/this statement is DELETE; execute_sql_readonly runs SELECT statements only/);
      const recs = (await auditRequests(gw.dataDir)).filter((x) => x.sessionKey === session && x.mcp?.tool === 'execute_sql_readonly');
      console.log(era, 'readonly calls audited as', recs.map((x) => `${x.operation}:${x.decision?.effect}`));
      expect(recs.map((x) => [x.operation, x.decision?.effect, x.decision?.statementKind])).toEqual([['jobs.query', 'allow', 'SELECT'], ['jobs.query', 'deny', 'DELETE']]);
      await client.close();
    });
  });
}
