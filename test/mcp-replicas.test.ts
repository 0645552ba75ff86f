/**
 * Legacy (2025-06-18) MCP sessions across two gateway replicas sharing PostgreSQL
 * (src/state/mcp-sessions.ts, src/doors/mcp/sessions.ts): a session the official MCP client opens on
 * replica A is served on replica B for the same principal and refused (403, audited under the
 * presenter) for another; DELETE on B ends it on A; the per-principal and total caps count the
 * sessions of both replicas; an idle session ends on every replica (the idle time is 20 s here, so that no other step of a loaded machine outlasts it).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { startReplicas, type ReplicaSet } from './helpers/replicas.ts';
import { auditRequests } from './helpers/gateway.ts';
import pg from 'pg';

const RESOURCE = 'http://mcp.bqgate.test/mcp'; // one MCP resource URI for both replicas (BQGATE_MCP_RESOURCE)
let set: ReplicaSet;
let db: pg.Pool;
const tokens: Record<string, string> = {};
const count = async () => Number((await db.query('SELECT COUNT(*) AS n FROM bqgate_mcp_sessions')).rows[0].n);
beforeAll(async () => {
  set = await startReplicas(2, { BQGATE_MCP_RESOURCE: RESOURCE, BQGATE_MCP_MAX_SESSIONS: '12', BQGATE_MCP_MAX_SESSIONS_PER_PRINCIPAL: '4', BQGATE_MCP_SESSION_IDLE_SEC: '20' });
  for (const [k, sub, groups] of [['analyst', 'rep-analyst', ['analysts']], ['eu', 'rep-eu', ['eu-support']], ['crowd', 'rep-crowd', ['analysts']]] as const) {
    tokens[k] = await set.token({ sub, groups: [...groups] }, { audience: RESOURCE });
  }
  db = new pg.Pool({ connectionString: set.pg.url, max: 2 });
}, 300_000);
afterAll(async () => { await db?.end(); await set?.stop(); });

const init = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'replica-test', version: '0.0.1' } } };
const post = (base: string, body: unknown, token: string, sid?: string) => fetch(`${base}/mcp`, {
  method: 'POST',
  headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${token}`, ...(sid ? { 'mcp-session-id': sid, 'mcp-protocol-version': '2025-06-18' } : {}) },
  body: JSON.stringify(body),
});
const open = async (base: string, token: string) => { const r = await post(base, init, token); await r.arrayBuffer(); return r.headers.get('mcp-session-id')!; };
const list = async (base: string, token: string, sid: string) => { const r = await post(base, { jsonrpc: '2.0', id: 2, method: 'tools/list' }, token, sid); await r.arrayBuffer(); return r.status; };

describe('legacy MCP sessions across replicas', () => {
  it('opens a session on A with the official client and serves it on B for the same principal, with the same audit session', async () => {
    const [a, b] = set.replicas;
    const client = new Client({ name: 'replica-client', version: '9.9.9' }, { supportedProtocolVersions: ['2025-06-18'] });
    const onA = new StreamableHTTPClientTransport(new URL(`${a.url}/mcp`), { requestInit: { headers: { authorization: `Bearer ${tokens.analyst}` } } });
    await client.connect(onA);
    const sid = onA.sessionId!;
    expect(sid).toMatch(/^[0-9a-f-]{36}$/);
    // The same session id, now sent to replica B (a client resuming through another replica).
    const onB = new StreamableHTTPClientTransport(new URL(`${b.url}/mcp`), { sessionId: sid, requestInit: { headers: { authorization: `Bearer ${tokens.analyst}` } } });
    const resumed = new Client({ name: 'replica-client', version: '9.9.9' }, { supportedProtocolVersions: ['2025-06-18'] });
    (resumed as any).setProtocolVersion?.('2025-06-18');
    onB.setProtocolVersion?.('2025-06-18');
    await resumed.connect(onB);
    const r = await resumed.callTool({ name: 'execute_sql_readonly', arguments: { projectId: 'demo-project', query: 'SELECT customer_id, email FROM shop.customers ORDER BY customer_id LIMIT 2' } }) as any;
    expect(r.isError).toBeFalsy();
    expect(r.structuredContent.rowObjects[0].email).toMatch(/^XXXXX@/);
    const viaA = await client.callTool({ name: 'execute_sql_readonly', arguments: { projectId: 'demo-project', query: 'SELECT 1 AS one' } }) as any;
    expect(viaA.isError).toBeFalsy();
    const recs = (await auditRequests(set.replicas[0].dataDir, set.pg.url)).filter((x) => x.principal === 'rep-analyst' && x.operation === 'jobs.query');
    console.log('calls of one session on two replicas:', recs.map((x) => `${x.sessionKey} ${x.client} ${x.mcp?.era}`));
    expect(recs.length).toBe(2);
    expect(new Set(recs.map((x) => x.sessionKey)).size).toBe(1);
    expect(recs[0].sessionKey).toMatch(/^mcp-[0-9a-f]{16}$/);
    expect(recs.map((x) => x.client)).toEqual(['replica-client/9.9.9', 'replica-client/9.9.9']); // the client info initialize recorded on A
    await client.close();
    await resumed.close();
  });

  it('refuses the session on B for another principal (audited under it), and DELETE on B ends it on A', async () => {
    const [a, b] = set.replicas;
    const sid = await open(a.url, tokens.analyst);
    expect(await list(b.url, tokens.analyst, sid)).toBe(200);
    expect(await list(b.url, tokens.eu, sid)).toBe(403);
    const hijack = (await auditRequests(a.dataDir, set.pg.url)).filter((x) => /opened by another principal/.test(x.response?.errorMessage ?? ''));
    expect(hijack.map((x) => [x.principal, x.response?.status])).toEqual([['rep-eu', 403]]);
    const del = await fetch(`${b.url}/mcp`, { method: 'DELETE', headers: { authorization: `Bearer ${tokens.analyst}`, 'mcp-session-id': sid } });
    expect(del.status).toBe(200);
    expect(await list(a.url, tokens.analyst, sid)).toBe(404);
  });

  it('holds the per-principal cap across replicas: the fifth session (4 per principal here) closes the least recently used, wherever it was opened', async () => {
    const [a, b] = set.replicas;
    const ids = [await open(a.url, tokens.eu), await open(b.url, tokens.eu), await open(a.url, tokens.eu), await open(b.url, tokens.eu)];
    const served: number[] = [];
    for (const [i, id] of ids.entries()) served.push(await list(i % 2 ? a.url : b.url, tokens.eu, id)); // in order: ids[0] is the least recently seen
    expect(served).toEqual([200, 200, 200, 200]);
    const fifth = await open(b.url, tokens.eu);
    const statuses = await Promise.all([...ids, fifth].map((id) => list(a.url, tokens.eu, id)));
    console.log('per-principal cap 4, five opened on A and B:', statuses);
    expect(statuses).toEqual([404, 200, 200, 200, 200]);
  });

  it('holds the total cap across replicas (12 here): opening past it closes the least recently used of anyone', async () => {
    const [a, b] = set.replicas;
    await db.query('DELETE FROM bqgate_mcp_sessions');
    const who = await Promise.all([1, 2, 3, 4].map((i) => set.token({ sub: `rep-crowd-${i}`, groups: ['analysts'] }, { audience: RESOURCE })));
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) ids.push(await open(i % 2 ? a.url : b.url, who[i % 4])); // 3 each: under the per-principal cap
    expect(await count()).toBe(12);
    const late = await open(a.url, tokens.crowd);
    const n = await count();
    const first = await list(b.url, who[0], ids[0]);
    console.log('total cap 12: sessions after a 13th opened', n, '; the oldest answers', first, '; the newest', await list(b.url, tokens.crowd, late));
    expect(n).toBe(12);
    expect(first).toBe(404);
    expect(await list(a.url, who[1], ids[1])).toBe(200);
  });

  it('ends an idle session on every replica (20 s idle here)', async () => {
    const [a, b] = set.replicas;
    const sid = await open(a.url, tokens.analyst);
    expect(await list(b.url, tokens.analyst, sid)).toBe(200);
    await new Promise((r) => setTimeout(r, 21_000)); // past the idle time (BQGATE_MCP_SESSION_IDLE_SEC)
    expect(await list(b.url, tokens.analyst, sid)).toBe(404);
    expect(await list(a.url, tokens.analyst, sid)).toBe(404);
  });
});
