/**
 * The local development token issuer (embedded default). Its ES256 signing key is created on first
 * use under `<dataDir>/keys/dev-issuer.jwk.json` (mode 0600; or BQGATE_DEV_ISSUER_KEY_FILE) and reused after; the public half is
 * served as a JWKS by the gateway at `/.well-known/jwks.json`, beside an OIDC discovery document.
 * Tokens are JWTs per RFC 7519 with `iss`, `aud`, `sub`, `iat`, `exp`, optional `email`, `groups`
 * and `act` (RFC 8693 actor claim: the agent acting for the subject).
 */
import { generateKeyPair, exportJWK, importJWK, SignJWT, calculateJwkThumbprint, type JWK } from 'jose';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { readSecretFile } from '../secret-file.js';

export interface DevIssuer {
  issuer: string;
  /** Public keys as a JWKS document. */
  jwks: { keys: JWK[] };
  /** Signs a token. `ttlSec` is the lifetime in seconds (default 3600). */
  sign(claims: TokenClaims, opts?: { audience?: string; ttlSec?: number }): Promise<string>;
}

export interface TokenClaims {
  sub: string;
  email?: string;
  groups?: string[];
  /** RFC 8693 actor: `{sub: 'agent-7'}`. */
  act?: { sub: string };
  [claim: string]: unknown;
}

const ALG = 'ES256';

/**
 * Loads the issuer key from `keyFile` (BQGATE_DEV_ISSUER_KEY_FILE: replicas sharing one development
 * issuer) or `<dataDir>/keys/dev-issuer.jwk.json`, creating it on first use.
 */
export async function loadDevIssuer(dataDir: string, issuer: string, audience = 'bqgate', keyFile = process.env.BQGATE_DEV_ISSUER_KEY_FILE): Promise<DevIssuer> {
  const file = keyFile || join(dataDir, 'keys', 'dev-issuer.jwk.json');
  const dir = dirname(file);
  let priv: JWK;
  if (existsSync(file)) {
    priv = JSON.parse(readSecretFile(file, "the development issuer's key").toString('utf8'));
  } else {
    const { privateKey } = await generateKeyPair(ALG, { extractable: true });
    priv = await exportJWK(privateKey);
    priv.kid = await calculateJwkThumbprint(priv);
    priv.alg = ALG;
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileSync(file, JSON.stringify(priv), { mode: 0o600 });
  }
  const { d: _d, ...pub } = priv;
  const key = await importJWK(priv, ALG);
  return {
    issuer,
    jwks: { keys: [{ ...pub, use: 'sig', alg: ALG }] },
    async sign(claims, opts = {}) {
      const { sub, ...rest } = claims;
      return new SignJWT(rest)
        .setProtectedHeader({ alg: ALG, kid: priv.kid, typ: 'JWT' })
        .setIssuer(issuer)
        .setSubject(sub)
        .setAudience(opts.audience ?? audience)
        .setIssuedAt()
        .setExpirationTime(`${opts.ttlSec ?? 3600}s`)
        .sign(key);
    },
  };
}
