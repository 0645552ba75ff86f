/**
 * The MCP door's authorization (src/doors/mcp/auth.ts) through real gateway processes: the RFC 9728
 * protected-resource metadata as the official MCP client discovers it, `bqgate token --aud` minting
 * MCP-audience tokens through the real CLI, every refusal of a token on POST /mcp (no token, expired,
 * wrong audience, a REST-audience token unless BQGATE_MCP_AUDIENCES makes the audiences one, a
 * missing BQGATE_MCP_REQUIRED_SCOPES scope) with its status and the WWW-Authenticate challenge as the
 * official client parses it, each recorded in the audit log (door mcp); the official client's whole
 * OAuth flow against the development issuer (dynamic registration, RFC 8707 resource); configured
 * Origins; the rate limit keyed by the MCP token's principal.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeJwt } from 'jose';
import { Client, StreamableHTTPClientTransport, discoverOAuthServerInfo, extractWWWAuthenticateParams } from '@modelcontextprotocol/client';
import type { OAuthClientProvider, OAuthClientInformationMixed, OAuthDiscoveryState, OAuthTokens } from '@modelcontextprotocol/client';
import { startGateway, auditRequests, type TestGateway } from './helpers/gateway.ts';
import { loadDevIssuer } from '../src/auth/dev-issuer.ts';
import { loadConfig } from '../src/config.ts';
import { createMcpAuth, type McpAuth } from '../src/doors/mcp/auth.ts';

let gw: TestGateway;
beforeAll(async () => { gw = await startGateway(); }, 120_000);
afterAll(async () => { await gw?.stop(); });

const port = () => new URL(gw.url).port;

describe('protected-resource metadata (RFC 9728)', () => {
  it('names the MCP resource, the gateway issuer, header bearer tokens and scopes, at the path-aware URL and the root fallback', async () => {
    const at = await fetch(`${gw.url}/.well-known/oauth-protected-resource/mcp`);
    expect(at.status).toBe(200);
    expect(at.headers.get('access-control-allow-origin')).toBe('*');
    const doc = await at.json() as Record<string, unknown>;
    console.log('protected-resource metadata:', JSON.stringify(doc));
    expect(doc).toMatchObject({ resource: `${gw.url}/mcp`, authorization_servers: [gw.url], bearer_methods_supported: ['header'] });
    expect(doc.scopes_supported).toEqual(expect.arrayContaining(['openid', 'groups']));
    expect(await (await fetch(`${gw.url}/.well-known/oauth-protected-resource`)).json()).toEqual(doc);
  });

  it('is what the official MCP client discovers, and leads it to the issuer\'s metadata', async () => {
    const info = await discoverOAuthServerInfo(`${gw.url}/mcp`);
    expect(info.resourceMetadata?.resource).toBe(`${gw.url}/mcp`);
    expect(info.authorizationServerUrl).toBe(gw.url);
    expect(info.authorizationServerMetadata).toMatchObject({ issuer: gw.url, token_endpoint: `${gw.url}/oauth2/token`, code_challenge_methods_supported: ['S256'] });
  });
});

describe('bqgate token --aud', () => {
  it('mints a token for the MCP resource URI, with a scope claim, that the REST door refuses as another audience', async () => {
    const r = await gw.cli(['token', '--port', port(), '--sub', 'mcp-agent', '--groups', 'analysts', '--aud', `${gw.url}/mcp`, '--scope', 'bigquery,mcp']);
    expect(r.code).toBe(0);
    const token = r.stdout.trim();
    const claims = decodeJwt(token);
    expect(claims).toMatchObject({ iss: gw.url, aud: `${gw.url}/mcp`, sub: 'mcp-agent', groups: ['analysts'], scope: 'bigquery mcp' });
    const rest = await fetch(`${gw.url}/bigquery/v2/projects/demo-project/datasets`, { headers: { authorization: `Bearer ${token}` } });
    expect(rest.status).toBe(401);
    const body = await rest.json() as { error: { message: string; errors: Array<{ reason: string }> } };
    expect(body.error.errors[0].reason).toBe('authError');
    expect(body.error.message).toContain('another audience; this endpoint accepts tokens for the audience bqgate');
    // Without --aud the token is the REST audience's, as before.
    const plain = decodeJwt((await gw.cli(['token', '--port', port(), '--sub', 'mcp-agent'])).stdout.trim());
    expect(plain.aud).toBe('bqgate');
  });
});

/**
 * `verify` with the gateway's own configuration and issuer keys (its data directory), for the
 * configuration variants; the same checks through `/mcp` are below.
 */
describe('verify (the check the /mcp endpoint runs)', () => {
  const authFor = async (env: Record<string, string> = {}): Promise<McpAuth> => {
    const cfg = loadConfig({ host: '127.0.0.1', port: Number(port()), dataDir: gw.dataDir }, { ...env });
    return createMcpAuth(cfg, { issuer: gw.url, jwks: (await loadDevIssuer(gw.dataDir, gw.url)).jwks });
  };
  const mcpToken = (claims: Record<string, unknown> = {}, opts: { ttlSec?: number; audience?: string } = {}) =>
    gw.token({ sub: 'mcp-agent', groups: ['analysts'], ...claims }, { audience: `${gw.url}/mcp`, ...opts });

  it('accepts an MCP-audience token: the principal and the token itself', async () => {
    const auth = await authFor();
    const token = await mcpToken({ act: { sub: 'claude' } });
    const v = await auth.verify(`Bearer ${token}`);
    expect(v).toMatchObject({ ok: true, token, principal: { subject: 'mcp-agent', groups: ['analysts'], actor: 'claude', issuer: gw.url } });
  });

  it('refuses no token with 401 and a challenge naming the metadata, without an error code (RFC 6750 §3.1)', async () => {
    const auth = await authFor();
    for (const header of [undefined, '', 'Basic bWNwOnB3', 'Bearer']) {
      const v = await auth.verify(header);
      if (v.ok) throw new Error('accepted');
      expect(v.status).toBe(401);
      expect(v.headers['www-authenticate']).toBe(`Bearer resource_metadata="${gw.url}/.well-known/oauth-protected-resource/mcp"`);
      expect((v.error as Error).message).toMatch(/missing a bearer token/);
      const parsed = extractWWWAuthenticateParams(new Response(null, { status: 401, headers: v.headers }));
      expect(parsed.resourceMetadataUrl?.href).toBe(`${gw.url}/.well-known/oauth-protected-resource/mcp`);
      expect(parsed.error).toBeUndefined();
    }
  });

  it('refuses expired, other-audience, REST-audience and forged tokens with 401 invalid_token and says why', async () => {
    const auth = await authFor();
    const cases: Record<string, [string, RegExp]> = {
      expired: [await mcpToken({}, { ttlSec: -120 }), /expired/],
      'another audience': [await mcpToken({}, { audience: 'https://other.example/mcp' }), /another audience; this endpoint accepts tokens for the audience http:\/\/127\.0\.0\.1:\d+\/mcp$/],
      'the REST audience': [await gw.token({ sub: 'mcp-agent', groups: ['analysts'] }), /another audience/],
      garbage: ['not.a.jwt', /malformed/],
    };
    for (const [name, [token, why]] of Object.entries(cases)) {
      const v = await auth.verify(`Bearer ${token}`);
      if (v.ok) throw new Error(`${name}: accepted`);
      const parsed = extractWWWAuthenticateParams(new Response(null, { status: v.status, headers: v.headers }));
      expect([name, v.status, parsed.error, parsed.resourceMetadataUrl?.href]).toEqual([name, 401, 'invalid_token', `${gw.url}/.well-known/oauth-protected-resource/mcp`]);
      expect(parsed.errorDescription, name).toMatch(why);
      expect(v.body, name).toMatchObject({ error: 'invalid_token', error_description: expect.stringMatching(why) });
      expect(JSON.stringify(v.body), name).not.toContain(token.slice(0, 20));
    }
  });

  it('accepts the REST-audience token when BQGATE_MCP_AUDIENCES makes the audiences one', async () => {
    const auth = await authFor({ BQGATE_MCP_AUDIENCES: 'bqgate' });
    expect((await auth.verify(`Bearer ${await gw.token({ sub: 'rest-agent', groups: ['analysts'] })}`)).ok).toBe(true);
    expect((await auth.verify(`Bearer ${await mcpToken()}`)).ok).toBe(true);
    expect((await auth.verify(`Bearer ${await mcpToken({}, { audience: 'someone-else' })}`)).ok).toBe(false);
  });

  it('refuses a token without the required scopes with 403 insufficient_scope naming them; scope or scp claims satisfy it', async () => {
    const auth = await authFor({ BQGATE_MCP_REQUIRED_SCOPES: 'bigquery mcp' });
    const v = await auth.verify(`Bearer ${await mcpToken({ scope: 'openid bigquery' })}`);
    if (v.ok) throw new Error('accepted');
    expect(v.status).toBe(403);
    expect(v.principal?.subject).toBe('mcp-agent');
    const parsed = extractWWWAuthenticateParams(new Response(null, { status: 403, headers: v.headers }));
    expect([parsed.error, parsed.scope]).toEqual(['insufficient_scope', 'bigquery mcp']);
    expect(parsed.errorDescription).toMatch(/lacks the scope mcp that \/mcp requires \(it carries openid bigquery\)/);
    expect((await auth.verify(`Bearer ${await mcpToken({ scope: 'bigquery mcp openid' })}`)).ok).toBe(true);
    expect((await auth.verify(`Bearer ${await mcpToken({ scp: ['mcp', 'bigquery'] })}`)).ok).toBe(true);
    const none = await auth.verify(undefined);
    expect(!none.ok && none.headers['www-authenticate']).toBe(`Bearer scope="bigquery mcp", resource_metadata="${gw.url}/.well-known/oauth-protected-resource/mcp"`);
  });

  it('allows loopback Origins by default and a configured exact origin or hostname, nothing else', async () => {
    const def = await authFor();
    expect(['http://localhost:6274', 'http://127.0.0.1:3000', 'http://[::1]:8080', undefined].map((o) => def.originAllowed(o))).toEqual([true, true, true, true]);
    expect(['https://evil.example', 'http://localhost.evil.example', 'null', 'garbage'].map((o) => def.originAllowed(o))).toEqual([false, false, false, false]);
    const conf = await authFor({ BQGATE_MCP_ALLOWED_ORIGINS: 'https://agents.example.com,studio.example.org' });
    expect(['https://agents.example.com', 'http://agents.example.com', 'https://agents.example.com:8443', 'http://studio.example.org:9', 'http://localhost:6274', gw.url]
      .map((o) => conf.originAllowed(o))).toEqual([true, false, false, true, false, true]);
  });
});

/** A JSON-RPC request to /mcp as a client sends it (initialize, 2025-06-18), with `authorization`. */
const initialize = (authorization?: string, extra: Record<string, string> = {}) => fetch(`${gw.url}/mcp`, {
  method: 'POST',
  headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...(authorization ? { authorization } : {}), ...extra },
  body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'mcp-auth-test', version: '1.0.0' } } }),
});

/** The official MCP client connected to `url`/mcp with `token`, pinned to 2025-06-18; its tool names. */
async function toolNames(url: string, token: string) {
  const client = new Client({ name: 'mcp-auth-test', version: '1.0.0' }, { supportedProtocolVersions: ['2025-06-18'] });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${url}/mcp`), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
  try { return (await client.listTools()).tools.map((t) => t.name); } finally { await client.close(); }
}

/** The audit record of the refusal whose message matches `why` (answered with `status`). */
const refusalRecord = async (dataDir: string, status: number, why: RegExp) =>
  (await auditRequests(dataDir)).filter((r) => r.response?.status === status && why.test(r.response?.errorMessage ?? ''));

describe('POST /mcp (the MCP endpoint) refuses before any tool runs, and audits it', () => {
  it('no token: 401 with the metadata challenge, audited', async () => {
    const r = await initialize();
    expect(r.status).toBe(401);
    expect(r.headers.get('www-authenticate')).toBe(`Bearer resource_metadata="${gw.url}/.well-known/oauth-protected-resource/mcp"`);
    expect((await r.json() as { error_description: string }).error_description).toMatch(/missing a bearer token/);
    // The official client follows the challenge to the metadata (no auth provider: it gives up there).
    const parsed = extractWWWAuthenticateParams(r);
    expect((await discoverOAuthServerInfo(`${gw.url}/mcp`, { resourceMetadataUrl: parsed.resourceMetadataUrl })).resourceMetadata?.resource).toBe(`${gw.url}/mcp`);
    const rec = await refusalRecord(gw.dataDir, 401, /missing a bearer token/);
    expect(rec.length).toBeGreaterThanOrEqual(1);
    expect(rec[0]).toMatchObject({ principal: '(unauthenticated)', door: 'mcp', operation: 'method.refused', response: { errorReason: 'authError' } });
  });

  it('expired, other-audience and REST-audience tokens: 401 invalid_token saying why, audited', async () => {
    const cases: Array<[string, string, RegExp]> = [
      ['expired', await gw.token({ sub: 'mcp-agent', groups: ['analysts'] }, { audience: `${gw.url}/mcp`, ttlSec: -120 }), /the token has expired/],
      ['another audience', await gw.token({ sub: 'mcp-agent', groups: ['analysts'] }, { audience: 'https://other.example/mcp' }), /another audience; this endpoint accepts tokens for the audience http/],
      ['the REST audience', await gw.token({ sub: 'rest-agent', groups: ['analysts'] }), /another audience/],
    ];
    const before = (await refusalRecord(gw.dataDir, 401, /another audience/)).length;
    for (const [name, token, why] of cases) {
      const r = await initialize(`Bearer ${token}`);
      const p = extractWWWAuthenticateParams(r);
      expect([name, r.status, p.error, p.resourceMetadataUrl?.href]).toEqual([name, 401, 'invalid_token', `${gw.url}/.well-known/oauth-protected-resource/mcp`]);
      expect(p.errorDescription, name).toMatch(why);
    }
    const audience = await refusalRecord(gw.dataDir, 401, /another audience/);
    expect(audience.length).toBe(before + 2);
    expect(audience.slice(-2).map((r) => [r.door, r.principal])).toEqual([['mcp', '(unauthenticated)'], ['mcp', '(unauthenticated)']]);
    expect((await refusalRecord(gw.dataDir, 401, /the token has expired/)).length).toBeGreaterThanOrEqual(1);
  });

  it('an MCP-audience token from `bqgate token --aud` is accepted: the official client lists the tools', async () => {
    const token = (await gw.cli(['token', '--port', port(), '--sub', 'mcp-agent', '--groups', 'analysts', '--aud', `${gw.url}/mcp`])).stdout.trim();
    const names = await toolNames(gw.url, token);
    console.log('tools for an analyst:', names.join(', '));
    expect(names).toEqual(expect.arrayContaining(['execute_sql_readonly', 'get_table_info', 'explain_access']));
  });
});

describe('OAuth with the official MCP client against the development issuer', () => {
  it('401 → metadata → dynamic registration → authorize (demo login) → a token for the MCP resource (RFC 8707) → tools', async () => {
    const redirect = 'http://127.0.0.1:1/callback';
    const saved: { info?: OAuthClientInformationMixed; tokens?: OAuthTokens; verifier: string; authUrl?: URL; discovery?: OAuthDiscoveryState } = { verifier: '' };
    const provider: OAuthClientProvider = {
      get redirectUrl() { return redirect; },
      get clientMetadata() { return { client_name: 'mcp-auth-test', redirect_uris: [redirect], grant_types: ['authorization_code'], response_types: ['code'], token_endpoint_auth_method: 'none' }; },
      clientInformation: () => saved.info,
      saveClientInformation: (i) => { saved.info = i; },
      tokens: () => saved.tokens,
      saveTokens: (t) => { saved.tokens = t; },
      redirectToAuthorization: (u) => { saved.authUrl = u; },
      saveCodeVerifier: (v) => { saved.verifier = v; },
      codeVerifier: () => saved.verifier,
      saveDiscoveryState: (d) => { saved.discovery = d; },
      discoveryState: () => saved.discovery,
    };
    const transport = new StreamableHTTPClientTransport(new URL(`${gw.url}/mcp`), { authProvider: provider });
    await expect(new Client({ name: 'mcp-auth-test', version: '1.0.0' }).connect(transport)).rejects.toThrow(/nauthorized/);
    expect(saved.info?.client_id).toMatch(/^dyn-/);
    const authUrl = saved.authUrl!;
    console.log('authorization request:', authUrl.href);
    expect(authUrl.origin + authUrl.pathname).toBe(`${gw.url}/oauth2/authorize`);
    expect(authUrl.searchParams.get('resource')).toBe(`${gw.url}/mcp`);
    // The demo login page's form, submitted with the analyst persona (what a browser does).
    const page = await (await fetch(authUrl)).text();
    expect(page).toContain(`name="resource" value="${gw.url}/mcp"`);
    const form = new URLSearchParams({ persona: 'analyst' });
    for (const k of ['client_id', 'redirect_uri', 'state', 'code_challenge', 'resource', 'scope']) form.set(k, authUrl.searchParams.get(k) ?? '');
    const back = await fetch(`${gw.url}/oauth2/authorize`, { method: 'POST', body: form, redirect: 'manual' });
    expect(back.status).toBe(303);
    await transport.finishAuth(new URL(back.headers.get('location')!).searchParams);
    const claims = decodeJwt(saved.tokens!.access_token);
    expect(claims).toMatchObject({ aud: `${gw.url}/mcp`, sub: 'analyst', groups: ['analysts'] });
    expect(await toolNames(gw.url, saved.tokens!.access_token)).toContain('execute_sql_readonly');
    // A resource the issuer does not serve is refused (invalid_target), never minted.
    const other = new URL(authUrl);
    other.searchParams.set('resource', 'https://other.example/mcp');
    const refused = await fetch(other, { redirect: 'manual' });
    expect(new URL(refused.headers.get('location')!).searchParams.get('error')).toBe('invalid_target');
  });
});

describe('a gateway whose MCP audiences are one with REST and that requires the scope mcp', () => {
  let one: TestGateway;
  beforeAll(async () => {
    one = await startGateway({ env: { BQGATE_MCP_AUDIENCES: 'bqgate', BQGATE_MCP_REQUIRED_SCOPES: 'mcp', BQGATE_MCP_ALLOWED_ORIGINS: 'https://agents.example.com,studio.example.org', BQGATE_RATE_LIMIT: '30' } });
  }, 120_000);
  afterAll(async () => { await one?.stop(); });
  const post = (token: string, headers: Record<string, string> = {}) => fetch(`${one.url}/mcp`, {
    method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${token}`, ...headers },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'mcp-auth-test', version: '1.0.0' } } }),
  });

  it('advertises the required scope, and refuses a token without it with 403 insufficient_scope, audited', async () => {
    const doc = await (await fetch(`${one.url}/.well-known/oauth-protected-resource/mcp`)).json() as { scopes_supported: string[] };
    expect(doc.scopes_supported).toEqual(['mcp']);
    for (const token of [await one.token({ sub: 'no-scope', groups: ['analysts'] }), await one.token({ sub: 'no-scope', groups: ['analysts'], scope: 'openid' }, { audience: `${one.url}/mcp` })]) {
      const r = await post(token);
      const p = extractWWWAuthenticateParams(r);
      expect([r.status, p.error, p.scope]).toEqual([403, 'insufficient_scope', 'mcp']);
      expect((await r.json() as { error: string }).error).toBe('insufficient_scope');
    }
    // The token verified: each refusal is the principal's request, with the reason.
    const rec = await refusalRecord(one.dataDir, 403, /lacks the scope mcp/);
    expect(rec.map((r) => [r.door, r.principal, r.operation, r.decision?.effect, r.response?.errorReason])).toEqual(Array(2).fill(['mcp', 'no-scope', 'method.refused', 'deny', 'accessDenied']));
  });

  it('accepts a REST-audience token carrying the scope, and an MCP-audience one from `bqgate token --aud --scope`', async () => {
    expect(await toolNames(one.url, await one.token({ sub: 'rest-agent', groups: ['analysts'], scope: 'mcp' }))).toContain('execute_sql_readonly');
    const cli = (await one.cli(['token', '--port', new URL(one.url).port, '--sub', 'cli-agent', '--groups', 'analysts', '--aud', `${one.url}/mcp`, '--scope', 'mcp'])).stdout.trim();
    expect(await toolNames(one.url, cli)).toContain('execute_sql_readonly');
    // The REST door still takes only its own audience.
    const rest = await fetch(`${one.url}/bigquery/v2/projects/demo-project/datasets`, { headers: { authorization: `Bearer ${cli}` } });
    expect(rest.status).toBe(401);
  });

  it('accepts the Origins BQGATE_MCP_ALLOWED_ORIGINS lists (exact origin, or hostname on any port) and its own, refuses others with 403', async () => {
    const token = await one.token({ sub: 'origin-agent', groups: ['analysts'], scope: 'mcp' });
    const statuses: Record<string, number> = {};
    for (const origin of ['https://agents.example.com', 'https://agents.example.com:8443', 'http://studio.example.org:3000', one.url, 'http://localhost:6274', 'https://evil.example']) {
      const r = await post(token, { origin });
      statuses[origin] = r.status;
      await r.arrayBuffer();
    }
    expect(statuses).toEqual({
      'https://agents.example.com': 200, 'https://agents.example.com:8443': 403, 'http://studio.example.org:3000': 200, [one.url]: 200, 'http://localhost:6274': 403, 'https://evil.example': 403,
    });
  });

  it('rate-limits /mcp per principal of the MCP token (not per client address): one caller over the limit, another still served', async () => {
    const busy = await one.token({ sub: 'busy-agent', groups: ['analysts'], scope: 'mcp' }, { audience: `${one.url}/mcp` });
    const statuses: number[] = [];
    for (let i = 0; i < 35; i++) { const r = await post(busy); statuses.push(r.status); await r.arrayBuffer(); }
    console.log('busy-agent statuses:', statuses.join(' '));
    expect(statuses.filter((x) => x === 200).length).toBe(30);
    expect(statuses.slice(30)).toEqual([429, 429, 429, 429, 429]);
    // A JSON-RPC error body (the request's id) with Retry-After, not a BigQuery error envelope.
    const over = await post(busy);
    const body = await over.json() as { jsonrpc: string; id: unknown; error: { code: number; message: string; data: { reason: string; retryAfterSeconds: number } } };
    console.log('429 on /mcp:', over.headers.get('retry-after'), JSON.stringify(body));
    expect(over.status).toBe(429);
    expect(Number(over.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(body).toMatchObject({ jsonrpc: '2.0', id: 1, error: { code: -32000, data: { reason: 'rateLimitExceeded', retryAfterSeconds: Number(over.headers.get('retry-after')) } } });
    expect(body.error.message).toMatch(/Exceeded rate limits/);
    expect(body).not.toHaveProperty('error.errors');
    const quiet = await post(await one.token({ sub: 'quiet-agent', groups: ['analysts'], scope: 'mcp' }, { audience: `${one.url}/mcp` }));
    expect(quiet.status).toBe(200);
  });
});
