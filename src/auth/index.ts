/**
 * Authentication: the caller's `Authorization: Bearer <JWT>` → a verified `Principal`.
 *
 * Verification uses jose `jwtVerify` with issuer, audience and algorithms pinned and `exp`/`nbf`
 * checked (RFC 7519 §4.1). Keys come from the embedded development issuer's JWKS, or from an external
 * issuer's JWKS URL (fetched and cached by jose's remote key set, not per request).
 * Every failure throws `BigQueryError('authError')` (HTTP 401), whose message says what was wrong
 * without echoing the token.
 *
 * Verified tokens are cached (keyed by the token's SHA-256, at most `tokenCacheSize` entries, the
 * oldest evicted first), so an agent's repeated calls skip the signature check. An entry is used
 * only before the token's `exp` (never with the clock tolerance, never longer), and only while the
 * key set still resolves the token's header to the very key that verified it: a key the issuer
 * removed from its JWKS (revoked, rotated out) fails the token as soon as jose's key set no longer
 * holds it, exactly as without the cache. Anything else goes through `jwtVerify` again.
 * Every call answers its own deep copy of the principal (`claims` and `groups` included), so a
 * caller that mutates what it got cannot change what the next call with the same token is told.
 */
import { createHash } from 'node:crypto';
import { jwtVerify, createLocalJWKSet, createRemoteJWKSet, errors, type JWTPayload, type JWTVerifyGetKey, type JWTHeaderParameters } from 'jose';
import { BigQueryError } from '../bigquery/errors.js';

/** The verified caller. */
export interface Principal {
  /** `sub` claim. */
  subject: string;
  email?: string;
  groups: string[];
  issuer: string;
  /** The agent acting on the subject's behalf (RFC 8693 `act.sub`), when the token says so. */
  actor?: string;
  /** Every verified claim, for policy conditions on arbitrary claims. */
  claims: JWTPayload;
}

export interface AuthOptions {
  issuer: string;
  /** The accepted `aud` value(s) (RFC 7519 §4.1.3): a token naming any one of them is accepted. */
  audience: string | string[];
  algorithms: string[];
  clockToleranceSec: number;
  groupsClaim: string;
  /** Local JWKS (embedded issuer) … */
  jwks?: { keys: object[] };
  /** … or a remote JWKS URL. */
  jwksUrl?: string;
  /** How long jose keeps a fetched remote JWKS before fetching it again, ms (default 600000). */
  jwksCacheMaxAgeMs?: number;
  /** Verified tokens kept (0: no cache); default 10000. */
  tokenCacheSize?: number;
}

export type Authenticator = ((authorization: string | undefined) => Promise<Principal>) & {
  /** Verified-token cache: calls answered from it, and full verifications. */
  readonly stats: { hits: number; verified: number };
};

interface CachedToken { principal: Principal; expMs: number; header: JWTHeaderParameters; key: unknown }

/** A principal the caller may change freely: claims are JSON (a JWT's payload), so structuredClone copies all of it. */
const ownCopy = (p: Principal): Principal => structuredClone(p);

/** The token of an `Authorization: Bearer <token>` header, or undefined. */
export const bearerToken = (authorization: string | undefined): string | undefined => authorization?.match(/^Bearer\s+(\S+)$/i)?.[1];

/** Builds the authenticator; the key set is created once here, never per request. */
export function createAuthenticator(opts: AuthOptions): Authenticator {
  const algorithms = opts.algorithms.filter((a) => a !== 'none' && !a.startsWith('HS'));
  let keys: JWTVerifyGetKey;
  if (opts.jwks) keys = createLocalJWKSet(opts.jwks as never);
  else if (opts.jwksUrl) keys = createRemoteJWKSet(new URL(opts.jwksUrl), { cooldownDuration: 30_000, cacheMaxAge: opts.jwksCacheMaxAgeMs ?? 600_000 });
  else throw new Error('auth: neither a JWKS nor a JWKS URL is configured');
  const cacheSize = opts.tokenCacheSize ?? 10_000;
  const cache = new Map<string, CachedToken>();
  const stats = { hits: 0, verified: 0 };

  /** The cached principal of `token`, if its entry is still good (see the module comment). */
  const fromCache = async (token: string, id: string): Promise<Principal | undefined> => {
    const hit = cache.get(id);
    if (!hit) return undefined;
    if (Date.now() >= hit.expMs) { cache.delete(id); return undefined; }
    const [protectedHeader, payload, signature] = token.split('.');
    const key = await Promise.resolve().then(() => keys(hit.header, { protected: protectedHeader, payload, signature })).catch(() => undefined);
    if (key !== hit.key) { cache.delete(id); return undefined; }
    stats.hits++;
    return ownCopy(hit.principal);
  };

  const authenticate = async (authorization: string | undefined): Promise<Principal> => {
    const token = bearerToken(authorization);
    if (!token) throw new BigQueryError('authError', 'Request is missing a valid bearer token: send Authorization: Bearer <OIDC token from your issuer>.');
    const id = createHash('sha256').update(token).digest('base64url');
    const cached = cacheSize > 0 ? await fromCache(token, id) : undefined;
    if (cached) return cached;
    let payload: JWTPayload;
    let verified: Awaited<ReturnType<typeof jwtVerify>> & { key?: unknown };
    try {
      verified = await jwtVerify(token, keys, {
        issuer: opts.issuer, audience: opts.audience, algorithms, clockTolerance: opts.clockToleranceSec, requiredClaims: ['sub', 'exp'],
      });
      payload = verified.payload;
      stats.verified++;
    } catch (err) {
      throw new BigQueryError('authError', `Invalid Credentials: ${describe(err, opts.audience)}`);
    }
    const principal = toPrincipal(payload);
    if (cacheSize > 0 && verified.key !== undefined) {
      if (cache.size >= cacheSize) cache.delete(cache.keys().next().value!);
      cache.set(id, { principal, expMs: Number(payload.exp) * 1000, header: verified.protectedHeader, key: verified.key });
    }
    return ownCopy(principal);
  };
  return Object.assign(authenticate, { stats });

  function toPrincipal(payload: JWTPayload): Principal {
    const rawGroups = payload[opts.groupsClaim];
    const groups = Array.isArray(rawGroups) ? rawGroups.map(String) : typeof rawGroups === 'string' ? rawGroups.split(/[ ,]+/).filter(Boolean) : [];
    const act = payload.act as { sub?: string } | undefined;
    return {
      subject: String(payload.sub),
      email: typeof payload.email === 'string' ? payload.email : undefined,
      groups,
      issuer: String(payload.iss),
      actor: typeof act?.sub === 'string' ? act.sub : undefined,
      claims: payload,
    };
  }
}

function describe(err: unknown, audience: string | string[]): string {
  if (err instanceof errors.JWTExpired) return 'the token has expired';
  if (err instanceof errors.JWTClaimValidationFailed && err.claim === 'aud') {
    return `the token was issued for another audience; this endpoint accepts tokens for the audience ${[audience].flat().join(' or ')}`;
  }
  if (err instanceof errors.JWTClaimValidationFailed) return `claim "${err.claim}" check failed (${err.reason})`;
  if (err instanceof errors.JWSSignatureVerificationFailed) return 'the token signature does not verify';
  if (err instanceof errors.JOSEAlgNotAllowed) return 'the token algorithm is not allowed';
  if (err instanceof errors.JWKSNoMatchingKey) return 'no key of the issuer matches the token';
  if (err instanceof errors.JWTInvalid || err instanceof errors.JWSInvalid) return 'the token is malformed';
  return 'the token could not be verified';
}
