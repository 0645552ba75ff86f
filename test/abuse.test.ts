/**
 * Abuse at the gateway's edge (issue 10), against a real gateway process trusting an external
 * issuer's JWKS URL (served here on loopback, its fetches counted): forged and malformed tokens
 * (alg none, HS256 signed with the RSA public key, unknown kid, expired, not yet valid, wrong issuer
 * or audience) are refused with authError and the JWKS is not fetched per request; a principal over
 * its rate or concurrency limit gets 429 rateLimitExceeded while others are served; an oversized body
 * gets 413; a client trickling its headers is cut off.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import { connect } from 'node:net';
import { generateKeyPair, exportJWK, exportSPKI, SignJWT } from 'jose';
import { createHmac } from 'node:crypto';
import { startGateway, freePort, type TestGateway } from './helpers/gateway.ts';

let gw: TestGateway;
let jwksServer: Server;
let jwksFetches = 0;
let issuer: string;
let key: CryptoKey;
let publicPem: string;
const KID = 'test-key-1';

beforeAll(async () => {
  const pair = await generateKeyPair('RS256', { extractable: true });
  key = pair.privateKey;
  publicPem = await exportSPKI(pair.publicKey);
  const jwk = { ...(await exportJWK(pair.publicKey)), kid: KID, alg: 'RS256', use: 'sig' };
  const port = await freePort();
  issuer = `http://127.0.0.1:${port}`;
  jwksServer = createServer((req, res) => {
    if (req.url === '/jwks.json') jwksFetches++;
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise<void>((r) => jwksServer.listen(port, '127.0.0.1', () => r()));
  gw = await startGateway({ env: {
    BQGATE_ISSUER: issuer, BQGATE_JWKS_URL: `${issuer}/jwks.json`,
    BQGATE_RATE_LIMIT: '30', BQGATE_MAX_CONCURRENT: '2', BQGATE_MAX_BODY_BYTES: '4096', BQGATE_HEADERS_TIMEOUT_MS: '1500',
  } });
}, 120_000);
afterAll(async () => { await gw?.stop(); jwksServer?.close(); });

const now = () => Math.floor(Date.now() / 1000);
const sign = (claims: Record<string, unknown>, o: { kid?: string; key?: CryptoKey; iss?: string; aud?: string; exp?: number; nbf?: number } = {}) =>
  new SignJWT({ groups: ['analysts'], ...claims }).setProtectedHeader({ alg: 'RS256', kid: o.kid ?? KID }).setIssuer(o.iss ?? issuer).setAudience(o.aud ?? 'bqgate')
    .setIssuedAt().setExpirationTime(o.exp ?? now() + 600).setNotBefore(o.nbf ?? now() - 5).sign(o.key ?? key);
const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
const call = (token: string | undefined, init: RequestInit = {}, path = '/bigquery/v2/projects/demo-project/datasets') =>
  fetch(`${gw.url}${path}`, { ...init, headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), 'content-type': 'application/json', ...(init.headers ?? {}) } });

describe('JWT attacks', () => {
  it('refuses forged, malformed and out-of-date tokens with authError, without echoing them, and fetches the JWKS once', async () => {
    const good = await sign({ sub: 'jwt-ok' });
    expect((await call(good)).status).toBe(200);
    const claims = { sub: 'jwt-attacker', groups: ['analysts'], iss: issuer, aud: 'bqgate', exp: now() + 600, iat: now() };
    const other = (await generateKeyPair('RS256')).privateKey;
    const attacks: Record<string, string> = {
      'alg none': `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`,
      // The classic confusion: HS256 with the issuer's RSA public key (which anyone can fetch) as the secret.
      'HS256 with the RSA public key': (() => { const h = `${b64({ alg: 'HS256', typ: 'JWT', kid: KID })}.${b64(claims)}`; return `${h}.${createHmac('sha256', publicPem).update(h).digest('base64url')}`; })(),
      'unknown kid': await sign({ sub: 'jwt-attacker' }, { kid: 'not-a-key', key: other }),
      'right kid, wrong key': await sign({ sub: 'jwt-attacker' }, { key: other }),
      expired: await sign({ sub: 'jwt-attacker' }, { exp: now() - 3600, nbf: now() - 7200 }),
      'not yet valid': await sign({ sub: 'jwt-attacker' }, { nbf: now() + 3600 }),
      'wrong issuer': await sign({ sub: 'jwt-attacker' }, { iss: 'https://evil.example' }),
      'wrong audience': await sign({ sub: 'jwt-attacker' }, { aud: 'another-service' }),
      garbage: 'not.a.jwt',
    };
    for (const [name, token] of Object.entries(attacks)) {
      const r = await call(token);
      const body = await r.json() as any;
      expect([name, r.status, body.error.errors[0].reason]).toEqual([name, 401, 'authError']);
      expect(body.error.message, name).not.toContain(token.slice(0, 20));
    }
    // The key set was fetched once (at the first verification), not per request nor per unknown kid beyond jose's cooldown.
    expect(jwksFetches).toBeLessThanOrEqual(2);
    expect((await call(good)).status).toBe(200);
  });
});

describe('limits', () => {
  it('answers 429 rateLimitExceeded, with Retry-After, to a principal over its rate, and keeps serving others', async () => {
    const noisy = await sign({ sub: 'rate-noisy' });
    const statuses: number[] = [];
    let limited: Response | undefined;
    for (let i = 0; i < 35; i++) {
      const r = await call(noisy);
      statuses.push(r.status);
      if (r.status === 429 && !limited) limited = r; else await r.arrayBuffer();
    }
    expect(statuses.filter((s) => s === 200).length).toBe(30);
    expect(limited).toBeDefined();
    expect(Number(limited!.headers.get('retry-after'))).toBeGreaterThan(0);
    const body = await limited!.json() as any;
    expect(body.error.errors[0].reason).toBe('rateLimitExceeded');
    expect(body.error.message).toMatch(/more than 30 requests per minute/);
    expect((await call(await sign({ sub: 'rate-quiet' }))).status).toBe(200);
    const metrics = await (await fetch(`${gw.url}/metrics`)).text();
    expect(Number(metrics.match(/^bqgate_refusals_total\{reason="rateLimitExceeded"\} (\d+)/m)?.[1])).toBeGreaterThanOrEqual(5);
  });

  it('answers 429 to a principal with too many requests in flight', async () => {
    const etl = await sign({ sub: 'cap-etl', groups: ['etl-agents'] });
    const insert = await call(etl, { method: 'POST', body: JSON.stringify({ configuration: { query: { query: "UPDATE shop.orders SET status = 'cap' WHERE order_id = 7", useLegacySql: false } } }) }, '/bigquery/v2/projects/demo-project/jobs');
    const job = await insert.json() as any;
    expect(job.status.state).toBe('PENDING'); // parked for approval: its polls wait
    const poll = () => call(etl, {}, `/bigquery/v2/projects/demo-project/queries/${job.jobReference.jobId}?location=${job.jobReference.location}&timeoutMs=2000`);
    const results = await Promise.all([poll(), poll(), new Promise((r) => setTimeout(r, 300)).then(poll)]);
    const statuses = results.map((r) => r.status).sort();
    expect(statuses).toEqual([200, 200, 429]);
    const refused = await results.find((r) => r.status === 429)!.json() as any;
    expect(refused.error.message).toMatch(/already has 2 requests in flight/);
    expect((await poll()).status).toBe(200); // slots are given back
  });

  it('refuses an oversized body with 413 in the BigQuery envelope', async () => {
    const r = await call(await sign({ sub: 'big-body' }), { method: 'POST', body: JSON.stringify({ query: `SELECT '${'x'.repeat(8000)}'`, useLegacySql: false }) }, '/bigquery/v2/projects/demo-project/queries');
    expect(r.status).toBe(413);
    expect(((await r.json()) as any).error.errors[0].reason).toBe('invalid');
  });

  it('cuts off a client that trickles its headers', async () => {
    const port = Number(new URL(gw.url).port);
    const sock = connect(port, '127.0.0.1');
    const t0 = Date.now();
    const closed = new Promise<number>((r) => sock.once('close', () => r(Date.now() - t0)));
    sock.on('error', () => {});
    sock.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    const trickle = setInterval(() => { if (!sock.destroyed) sock.write('X-Slow: y\r\n'); }, 300);
    const ms = await Promise.race([closed, new Promise<number>((r) => setTimeout(() => r(Infinity), 10_000))]);
    clearInterval(trickle);
    sock.destroy();
    expect(ms).toBeLessThan(5000);
  });
});
