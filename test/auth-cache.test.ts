/**
 * The verified-token cache of the authenticator (src/auth/index.ts): real jose keys and tokens, a
 * real JWKS served over loopback HTTP. A repeated token skips the signature check; an expired token
 * fails even when cached; a token whose signing key the issuer removed from its JWKS (revoked)
 * fails even when cached; a token never verified is never answered from the cache.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';
import { createAuthenticator } from '../src/auth/index.js';

const ISSUER = 'http://issuer.test';
let jwks: { keys: JWK[] } = { keys: [] };
let server: Server;
let jwksUrl: string;
let fetches = 0;
let priv: CryptoKey;
let otherPriv: CryptoKey;

beforeAll(async () => {
  const a = await generateKeyPair('ES256');
  const b = await generateKeyPair('ES256');
  priv = a.privateKey; otherPriv = b.privateKey;
  jwks = { keys: [{ ...(await exportJWK(a.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' }, { ...(await exportJWK(b.publicKey)), kid: 'k2', alg: 'ES256', use: 'sig' }] };
  server = createServer((_req, res) => { fetches++; res.setHeader('content-type', 'application/json'); res.end(JSON.stringify(jwks)); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const sign = (o: { sub: string; expSec: number; kid?: string; key?: CryptoKey; groups?: string[] }) =>
  new SignJWT({ groups: o.groups ?? ['analysts'] }).setProtectedHeader({ alg: 'ES256', kid: o.kid ?? 'k1' }).setSubject(o.sub).setIssuer(ISSUER)
    .setAudience('bqgate').setIssuedAt().setExpirationTime(o.expSec).sign(o.key ?? priv);
const nowSec = () => Math.floor(Date.now() / 1000);
const base = { issuer: ISSUER, audience: 'bqgate', algorithms: ['ES256'], clockToleranceSec: 0, groupsClaim: 'groups' };

describe('verified-token cache', () => {
  it('answers a repeated token from the cache, with the same principal, and copies it per call', async () => {
    const auth = createAuthenticator({ ...base, jwks: { keys: jwks.keys } });
    const token = await sign({ sub: 'alice', expSec: nowSec() + 600 });
    const first = await auth(`Bearer ${token}`);
    first.groups.push('admins'); // a caller mutating its copy must not change the next caller's
    const again = await Promise.all(Array.from({ length: 5 }, () => auth(`Bearer ${token}`)));
    console.log(`cache: ${auth.stats.verified} verification(s), ${auth.stats.hits} hit(s) for 6 calls`);
    expect(auth.stats.verified).toBe(1);
    expect(auth.stats.hits).toBe(5);
    for (const p of again) expect(p).toMatchObject({ subject: 'alice', issuer: ISSUER, groups: ['analysts'] });
  });

  it('answers each call its own claims: a caller mutating them changes nothing for the next call', async () => {
    const auth = createAuthenticator({ ...base, jwks: { keys: jwks.keys } });
    const token = await sign({ sub: 'alice', expSec: nowSec() + 600 });
    const first = await auth(`Bearer ${token}`);
    // What a careless (or hostile) consumer of the principal might do to the verified claims.
    (first.claims as any).sub = 'mallory';
    (first.claims as any).groups.push('admins');
    first.claims.aud = 'elsewhere';
    const second = await auth(`Bearer ${token}`);
    (second.claims as any).extra = { nested: true };
    const third = await auth(`Bearer ${token}`);
    console.log(`claims after two mutating callers: ${JSON.stringify(third.claims)}; hits ${auth.stats.hits}`);
    expect(auth.stats.hits).toBe(2); // both later calls came from the cache
    for (const p of [second, third]) {
      expect(p.claims.sub).toBe('alice');
      expect(p.claims.aud).toBe('bqgate');
      expect(p.claims.groups).toEqual(['analysts']);
    }
    expect(third.claims).not.toHaveProperty('extra');
    expect(third.claims).not.toBe(second.claims);
  });

  it('still refuses a tampered token whose original is cached (the key is the whole token)', async () => {
    const auth = createAuthenticator({ ...base, jwks: { keys: jwks.keys } });
    const token = await sign({ sub: 'alice', expSec: nowSec() + 600 });
    await auth(`Bearer ${token}`);
    const [h, p, s] = token.split('.');
    const forged = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p, 'base64url').toString()), groups: ['admins'] })).toString('base64url');
    await expect(auth(`Bearer ${h}.${forged}.${s}`)).rejects.toMatchObject({ reason: 'authError' });
    const wrongKey = await sign({ sub: 'alice', expSec: nowSec() + 600, key: otherPriv }); // claims k1, signed by k2's key
    await expect(auth(`Bearer ${wrongKey}`)).rejects.toThrow(/signature does not verify/);
  });

  it('fails an expired token that was cached, at its exp', async () => {
    const auth = createAuthenticator({ ...base, jwks: { keys: jwks.keys } });
    const exp = nowSec() + 2;
    const token = await sign({ sub: 'bob', expSec: exp });
    await auth(`Bearer ${token}`);
    await auth(`Bearer ${token}`);
    expect(auth.stats.hits).toBe(1); // it was in the cache
    await new Promise((r) => setTimeout(r, exp * 1000 - Date.now() + 50));
    await expect(auth(`Bearer ${token}`)).rejects.toThrow(/the token has expired/);
    console.log(`expired: hits ${auth.stats.hits}, verifications ${auth.stats.verified}`);
    expect(auth.stats.hits).toBe(1);
  });

  it('fails a cached token once the issuer removed its key from the JWKS (revoked)', async () => {
    // cacheMaxAge 0: jose fetches the JWKS on every key lookup, so a removal is seen at once.
    const auth = createAuthenticator({ ...base, jwksUrl, jwksCacheMaxAgeMs: 0 });
    const token = await sign({ sub: 'carol', expSec: nowSec() + 600, kid: 'k2', key: otherPriv });
    await auth(`Bearer ${token}`);
    expect(auth.stats.verified).toBe(1);
    const kept = jwks;
    jwks = { keys: kept.keys.filter((k) => k.kid !== 'k2') };
    try {
      const before = fetches;
      await expect(auth(`Bearer ${token}`)).rejects.toThrow(/no key of the issuer matches the token/);
      console.log(`revoked: JWKS fetched ${fetches - before} time(s) for the refused call; hits ${auth.stats.hits}`);
      expect(auth.stats.hits).toBe(0);
    } finally {
      jwks = kept;
    }
  });

  it('with a cached remote JWKS, hits without fetching; tokenCacheSize 0 verifies every call', async () => {
    const auth = createAuthenticator({ ...base, jwksUrl });
    const token = await sign({ sub: 'dave', expSec: nowSec() + 600 });
    const before = fetches;
    for (let i = 0; i < 4; i++) await auth(`Bearer ${token}`);
    expect(fetches - before).toBe(1);
    expect(auth.stats).toEqual({ verified: 1, hits: 3 });
    const none = createAuthenticator({ ...base, jwks: { keys: jwks.keys }, tokenCacheSize: 0 });
    for (let i = 0; i < 3; i++) await none(`Bearer ${token}`);
    expect(none.stats).toEqual({ verified: 3, hits: 0 });
  });

  it('evicts the oldest entry beyond tokenCacheSize', async () => {
    const auth = createAuthenticator({ ...base, jwks: { keys: jwks.keys }, tokenCacheSize: 2 });
    const [t1, t2, t3] = await Promise.all(['u1', 'u2', 'u3'].map((sub) => sign({ sub, expSec: nowSec() + 600 })));
    for (const t of [t1, t2, t3]) await auth(`Bearer ${t}`);
    await auth(`Bearer ${t3}`); await auth(`Bearer ${t2}`); // kept
    await auth(`Bearer ${t1}`); // evicted: verified again
    expect(auth.stats).toEqual({ verified: 4, hits: 2 });
  });
});
