/**
 * The MCP door's authorization: `/mcp` is an OAuth 2.1 resource server (MCP authorization spec,
 * https://modelcontextprotocol.io/specification/2025-11-25/basic/authorization).
 *
 * - Protected-resource metadata (RFC 9728 §3) at `/.well-known/oauth-protected-resource/mcp` (the
 *   path-aware URL of the resource, RFC 9728 §3.1) and the root fallback
 *   `/.well-known/oauth-protected-resource`: `resource` (cfg.mcp.resource), `authorization_servers`
 *   (the gateway's OIDC issuer), `bearer_methods_supported: ["header"]`, `scopes_supported`.
 * - `verify(authorization)`: the token is verified by the gateway's OIDC verification
 *   (auth/index.ts: issuer, keys, algorithms, `exp`/`nbf` pinned as for REST) with the audience set
 *   to the MCP resource URI (RFC 8707 §2; plus cfg.mcp.audiences, e.g. the REST audience when the
 *   two are configured as one). Refusals (RFC 6750 §3):
 *     - no bearer token → 401 `WWW-Authenticate: Bearer resource_metadata="…"` (no error code, §3.1);
 *     - an invalid, expired or other-audience token → 401 `Bearer error="invalid_token", …`;
 *     - a token without cfg.mcp.requiredScopes (`scope` claim, space-separated, RFC 9068 §2.2.3, or
 *       an `scp` array) → 403 `Bearer error="insufficient_scope", scope="…", …`.
 *   The body is the OAuth error JSON `{error, error_description}` (RFC 6749 §5.2 shape); `error` is
 *   the same refusal as a `BigQueryError` (`authError` / `accessDenied`) for the audit record.
 * - `allowedOrigins` / `originAllowed(origin)`: the Origin check against DNS rebinding (MCP
 *   transports spec, "Security Warning"): entries are hostnames as the SDK's `validateOriginHeader`
 *   takes them (any scheme and port) or exact origins; a request without Origin passes.
 */
import type { FastifyInstance } from 'fastify';
import type { JSONWebKeySet, JWTPayload } from 'jose';
import { getOAuthProtectedResourceMetadataUrl, OAuthError, OAuthErrorCode, type OAuthProtectedResourceMetadata } from '@modelcontextprotocol/server';
import { createAuthenticator, bearerToken, type Principal } from '../../auth/index.js';
import { BigQueryError } from '../../bigquery/errors.js';
import type { Config } from '../../config.js';

export type McpAuthResult =
  | { ok: true; principal: Principal; token: string }
  | {
    ok: false; status: 401 | 403; headers: Record<string, string>; body: unknown; error: unknown;
    /** The verified caller a 403 insufficient_scope refused (absent on 401). */
    principal?: Principal;
  };

export interface McpAuth {
  /** The MCP resource URI (RFC 8707), e.g. `http://127.0.0.1:9050/mcp`. */
  resource: string;
  /** URL of the protected-resource metadata document named in every challenge (RFC 9728 §5.1). */
  resourceMetadataUrl: string;
  /** Accepted Origins: hostnames (SDK `validateOriginHeader` form) or exact origins. */
  allowedOrigins: string[];
  /** Whether an `Origin` header value is allowed: absent, the resource's own origin, or one of `allowedOrigins` (`null` or unparsable: no). */
  originAllowed(origin: string | undefined): boolean;
  /** The metadata routes (GET, with `access-control-allow-origin: *` for browser-based clients); once per app, later calls do nothing. */
  install(app: FastifyInstance): void;
  /** The caller of an `Authorization` header, or the refusal to send (status, headers, body). */
  verify(authorization: string | undefined): Promise<McpAuthResult>;
}

/** The scopes a token carries: `scope` (space-separated string) or `scp` (array or string). */
export function scopesOf(claims: JWTPayload): string[] {
  const raw = claims.scope ?? claims.scp;
  return Array.isArray(raw) ? raw.map(String) : typeof raw === 'string' ? raw.split(' ').filter(Boolean) : [];
}

/**
 * An RFC 7235 quoted-string. Clients parse challenges with a regex (`name="([^"]+)"`, the official
 * MCP client among them), so a value carries no `"` or `\` at all (they become `'`), and the free
 * text `error_description` comes last: nothing in it can be mistaken for another parameter.
 */
const quoted = (v: string) => `"${v.replace(/["\\]/g, "'").replace(/[^\x20-\x7e]/g, ' ')}"`;

/** `Bearer k="v", …` (RFC 6750 §3), in the order given. */
const challenge = (params: Record<string, string | undefined>) =>
  `Bearer ${Object.entries(params).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${quoted(v!)}`).join(', ')}`;

export function createMcpAuth(cfg: Config, parts: { issuer: string; jwks?: JSONWebKeySet }): McpAuth {
  const { resource, requiredScopes, allowedOrigins } = cfg.mcp;
  const audience = [resource, ...cfg.mcp.audiences.filter((a) => a !== resource)];
  const authenticate = createAuthenticator({ ...cfg.auth, issuer: parts.issuer, audience, jwks: parts.jwks, jwksUrl: parts.jwks ? undefined : cfg.auth.jwksUrl });
  const resourceMetadataUrl = getOAuthProtectedResourceMetadataUrl(new URL(resource));
  const resourceOrigin = new URL(resource).origin;
  const metadata: OAuthProtectedResourceMetadata = {
    resource,
    authorization_servers: [parts.issuer],
    bearer_methods_supported: ['header'],
    scopes_supported: cfg.mcp.scopesSupported,
    resource_name: 'bqgate: BigQuery through identity, policy, masking, approval and audit',
  };
  const installed = new WeakSet<FastifyInstance>();
  const scope = requiredScopes.length ? requiredScopes.join(' ') : undefined;
  const refuse = (status: 401 | 403, code: OAuthErrorCode | undefined, description: string, error: BigQueryError, principal?: Principal): McpAuthResult => ({
    ok: false, status, error, ...(principal ? { principal } : {}),
    headers: {
      'www-authenticate': challenge({ error: code, scope, resource_metadata: resourceMetadataUrl, error_description: code ? description : undefined }),
      'cache-control': 'no-store',
    },
    body: code ? new OAuthError(code, description).toResponseObject() : { error_description: description },
  });

  return {
    resource,
    resourceMetadataUrl,
    allowedOrigins,
    originAllowed(origin) {
      if (origin === undefined || origin === '') return true;
      let u: URL;
      try { u = new URL(origin); } catch { return false; }
      if (!u.hostname || u.origin === 'null') return false;
      if (u.origin === resourceOrigin) return true; // a page the gateway itself serves
      return allowedOrigins.some((a) => (a.includes('://') ? a.replace(/\/+$/, '') === u.origin : a === u.hostname));
    },
    install(app) {
      if (installed.has(app)) return;
      installed.add(app);
      const paths = [...new Set([new URL(resourceMetadataUrl).pathname, '/.well-known/oauth-protected-resource'])];
      for (const path of paths) {
        app.get(path, async (_req, reply) => reply.header('access-control-allow-origin', '*').header('cache-control', 'max-age=300').send(metadata));
      }
    },
    async verify(authorization) {
      const token = bearerToken(authorization);
      if (!token) {
        const msg = `Request is missing a bearer token: send Authorization: Bearer <token for ${resource}> (the issuer and scopes are in ${resourceMetadataUrl}).`;
        return refuse(401, undefined, msg, new BigQueryError('authError', msg));
      }
      let principal: Principal;
      try {
        principal = await authenticate(`Bearer ${token}`);
      } catch (err) {
        const e = err instanceof BigQueryError ? err : new BigQueryError('authError', 'Invalid Credentials: the token could not be verified');
        return refuse(401, OAuthErrorCode.InvalidToken, e.message, e);
      }
      const has = scopesOf(principal.claims);
      const missing = requiredScopes.filter((s) => !has.includes(s));
      if (missing.length) {
        const msg = `Access Denied: the token lacks the scope ${missing.join(' ')} that /mcp requires (it carries ${has.length ? has.join(' ') : 'no scope'}); ask the issuer for the scopes ${requiredScopes.join(' ')}.`;
        return refuse(403, OAuthErrorCode.InsufficientScope, msg, new BigQueryError('accessDenied', msg), principal);
      }
      return { ok: true, principal, token };
    },
  };
}
