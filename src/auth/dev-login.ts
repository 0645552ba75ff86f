/**
 * Sign-in for the web console against the local development issuer: the OAuth 2.0 authorization
 * code flow (RFC 6749 §4.1) with PKCE (RFC 7636, `S256` only) for a public client, as an OpenID
 * Connect provider (OIDC Core §3.1). Demo only: the "login" is a form where you name yourself and
 * your groups; nothing checks a password. A real deployment points BQGATE_ISSUER at its own IdP.
 *
 * - `GET  /oauth2/authorize?response_type=code&client_id&redirect_uri&state&nonce&code_challenge&code_challenge_method=S256[&resource][&scope]`
 *   → an HTML login form (personas from `personas`, or any subject and groups);
 * - `POST /oauth2/authorize` (form) → 303 to `redirect_uri?code&state&iss` (RFC 9207);
 * - `POST /oauth2/token` (form: grant_type=authorization_code, code, redirect_uri, client_id,
 *   code_verifier[, resource]) → `{access_token, id_token, token_type: 'Bearer', expires_in}`. The
 *   access token is a JWT for the gateway's audience (it is the console's bearer token on the API),
 *   or for the `resource` the authorization request named (RFC 8707 resource indicator: one of
 *   `opts.resources`, the MCP endpoint's URI; any other is `invalid_target`), with the requested
 *   `scope` as its scope claim; the ID token's audience is the client, with the nonce;
 * - `POST /oauth2/register` (JSON, RFC 7591 dynamic client registration, as MCP clients do it) →
 *   201 with a new public `client_id` (`token_endpoint_auth_method: none`) for redirect URIs that
 *   pass the check below; the endpoint keeps nothing (any client id may use the flow).
 *
 * Codes are single-use, live 60 s, and are kept in this process's memory (with several replicas,
 * the demo login needs session affinity). Errors follow RFC 6749 §4.1.2.1 / §5.2 (`invalid_request`,
 * `invalid_grant`, `unsupported_grant_type`, …). A redirect URI is accepted when its origin is the
 * issuer's or a loopback address, and it is never redirected to before it is checked.
 */
import type { FastifyInstance } from 'fastify';
import formbody from '@fastify/formbody';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { isLoopbackHttp } from '../net.js';
import type { DevIssuer } from './dev-issuer.js';

/** A demo identity offered on the login page. */
export interface Persona { sub: string; email?: string; groups: string[]; note?: string }

interface PendingCode {
  clientId: string; redirectUri: string; challenge: string; nonce?: string; resource?: string; scope?: string;
  claims: { sub: string; email?: string; groups: string[] }; expires: number;
}

const CODE_TTL_MS = 60_000;
const TOKEN_TTL_SEC = 3600;

/** The OIDC discovery fields this login adds (RFC 8414 / OIDC Discovery §3). */
export const devLoginMetadata = (issuer: string) => ({
  authorization_endpoint: `${issuer}/oauth2/authorize`,
  token_endpoint: `${issuer}/oauth2/token`,
  response_types_supported: ['code'],
  grant_types_supported: ['authorization_code'],
  registration_endpoint: `${issuer}/oauth2/register`,
  code_challenge_methods_supported: ['S256'],
  token_endpoint_auth_methods_supported: ['none'],
  subject_types_supported: ['public'],
  scopes_supported: ['openid', 'email', 'groups'],
  claims_supported: ['sub', 'email', 'groups', 'iss', 'aud', 'exp', 'iat', 'nonce'],
  authorization_response_iss_parameter_supported: true,
});

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]!));

/**
 * Installs the authorize, token and registration endpoints of `dev` on `app` (in their own plugin
 * scope, with a form parser). `opts.resources`: the RFC 8707 resource indicators a client may ask a
 * token for (the MCP endpoint's URI); without one the token is for the gateway's REST audience.
 */
export async function installDevLogin(app: FastifyInstance, dev: DevIssuer, personas: Persona[], opts: { resources?: string[] } = {}): Promise<void> {
  const resources = opts.resources ?? [];
  const codes = new Map<string, PendingCode>();
  const issuerOrigin = new URL(dev.issuer).origin;
  const redirectAllowed = (uri: string) => {
    try {
      const u = new URL(uri);
      return !u.hash && (u.origin === issuerOrigin || isLoopbackHttp(u.origin));
    } catch { return false; }
  };

  await app.register(async (scope) => {
    await scope.register(formbody);

    scope.get('/oauth2/authorize', async (req, reply) => {
      const q = req.query as Record<string, string | undefined>;
      // Without a valid client and redirect URI the error is shown here, never redirected (RFC 6749 §4.1.2.1).
      if (!q.client_id || !q.redirect_uri || !redirectAllowed(q.redirect_uri)) {
        return reply.code(400).type('text/html; charset=utf-8').send(page('Sign-in refused', `<p>invalid_request: client_id and a redirect_uri on ${esc(issuerOrigin)} or loopback are required.</p>`));
      }
      const badTarget = q.resource !== undefined && !resources.includes(q.resource);
      if (q.response_type !== 'code' || q.code_challenge_method !== 'S256' || !/^[\w-]{43,128}$/.test(q.code_challenge ?? '') || badTarget) {
        const u = new URL(q.redirect_uri);
        u.searchParams.set('error', q.response_type !== 'code' ? 'unsupported_response_type' : badTarget ? 'invalid_target' : 'invalid_request');
        u.searchParams.set('error_description', badTarget ? `resource must be one of: ${resources.join(', ') || '(none)'} (RFC 8707)` : 'response_type=code with a PKCE S256 code_challenge is required');
        if (q.state) u.searchParams.set('state', q.state);
        return reply.redirect(u.toString(), 303);
      }
      const hidden = ['client_id', 'redirect_uri', 'state', 'nonce', 'code_challenge', 'resource', 'scope'].map((k) => `<input type="hidden" name="${k}" value="${esc(q[k] ?? '')}">`).join('');
      const options = personas.map((p) => `<button type="submit" name="persona" value="${esc(p.sub)}" class="persona"><b>${esc(p.sub)}</b><span>${esc(p.groups.join(', '))}</span>${p.note ? `<small>${esc(p.note)}</small>` : ''}</button>`).join('');
      return reply.type('text/html; charset=utf-8').send(page('Sign in to bqgate', `
        <p class="lead">Development issuer at <code>${esc(dev.issuer)}</code>. Pick a demo identity, or name one.</p>
        <form method="post" action="/oauth2/authorize">${hidden}
          <div class="personas">${options}</div>
          <fieldset><legend>Someone else</legend>
            <label>Subject <input name="sub" autocomplete="username"></label>
            <label>Email <input name="email" type="email"></label>
            <label>Groups (comma-separated) <input name="groups"></label>
            <button type="submit" name="persona" value="" id="sign-in">Sign in</button>
          </fieldset>
        </form>`));
    });

    scope.post('/oauth2/authorize', async (req, reply) => {
      const b = req.body as Record<string, string | undefined>;
      if (!b.client_id || !b.redirect_uri || !redirectAllowed(b.redirect_uri) || !/^[\w-]{43,128}$/.test(b.code_challenge ?? '') || (b.resource && !resources.includes(b.resource))) {
        return reply.code(400).type('text/html; charset=utf-8').send(page('Sign-in refused', '<p>invalid_request</p>'));
      }
      const persona = b.persona ? personas.find((p) => p.sub === b.persona) : undefined;
      const sub = persona?.sub ?? (b.sub ?? '').trim();
      const u = new URL(b.redirect_uri);
      if (b.state) u.searchParams.set('state', b.state);
      u.searchParams.set('iss', dev.issuer);
      if (!sub) {
        u.searchParams.set('error', 'access_denied');
        u.searchParams.set('error_description', 'no subject given');
        return reply.redirect(u.toString(), 303);
      }
      const groups = persona?.groups ?? (b.groups ?? '').split(/[\s,]+/).filter(Boolean);
      const email = persona?.email ?? (b.email?.trim() || undefined);
      const code = randomBytes(32).toString('base64url');
      codes.set(code, {
        clientId: b.client_id, redirectUri: b.redirect_uri, challenge: b.code_challenge!, nonce: b.nonce || undefined, resource: b.resource || undefined,
        scope: b.scope?.trim() || undefined, claims: { sub, email, groups }, expires: Date.now() + CODE_TTL_MS,
      });
      for (const [k, v] of codes) if (v.expires < Date.now()) codes.delete(k);
      u.searchParams.set('code', code);
      return reply.redirect(u.toString(), 303);
    });

    scope.post('/oauth2/token', async (req, reply) => {
      const b = (req.body ?? {}) as Record<string, string | undefined>;
      const fail = (error: string, description: string) => reply.code(400).header('cache-control', 'no-store').send({ error, error_description: description });
      reply.header('access-control-allow-origin', '*');
      if (b.grant_type !== 'authorization_code') return fail('unsupported_grant_type', 'only grant_type=authorization_code is supported');
      const pending = b.code ? codes.get(b.code) : undefined;
      if (b.code) codes.delete(b.code); // single use, whatever happens next
      if (!pending || pending.expires < Date.now()) return fail('invalid_grant', 'the authorization code is unknown, used or expired');
      if (b.client_id !== pending.clientId || b.redirect_uri !== pending.redirectUri) return fail('invalid_grant', 'client_id or redirect_uri differ from the authorization request');
      const computed = createHash('sha256').update(b.code_verifier ?? '').digest();
      const expected = Buffer.from(pending.challenge, 'base64url');
      if (!b.code_verifier || computed.length !== expected.length || !timingSafeEqual(computed, expected)) return fail('invalid_grant', 'code_verifier does not match the code_challenge (PKCE S256)');
      // RFC 8707 §2.2: the token request may name the resource again, but no other than the grant's.
      if (b.resource && b.resource !== pending.resource) return fail('invalid_target', 'resource differs from the authorization request');
      const { sub, email, groups } = pending.claims;
      const claims = { sub, groups, ...(email ? { email } : {}) };
      const access_token = await dev.sign({ ...claims, ...(pending.scope ? { scope: pending.scope } : {}) }, { ttlSec: TOKEN_TTL_SEC, ...(pending.resource ? { audience: pending.resource } : {}) });
      const id_token = await dev.sign({ ...claims, ...(pending.nonce ? { nonce: pending.nonce } : {}) }, { audience: pending.clientId, ttlSec: TOKEN_TTL_SEC });
      return reply.header('cache-control', 'no-store').send({ access_token, id_token, token_type: 'Bearer', expires_in: TOKEN_TTL_SEC, scope: pending.scope ?? 'openid email groups' });
    });

    scope.post('/oauth2/register', async (req, reply) => {
      const m = (req.body ?? {}) as { redirect_uris?: unknown; client_name?: unknown; scope?: unknown };
      const uris = Array.isArray(m.redirect_uris) ? m.redirect_uris.filter((u): u is string => typeof u === 'string') : [];
      reply.header('cache-control', 'no-store');
      if (!uris.length || uris.length !== (m.redirect_uris as unknown[]).length || !uris.every(redirectAllowed)) {
        return reply.code(400).send({ error: 'invalid_redirect_uri', error_description: `redirect_uris must be URIs on ${issuerOrigin} or loopback` });
      }
      return reply.code(201).send({
        client_id: `dyn-${randomBytes(12).toString('base64url')}`, client_id_issued_at: Math.floor(Date.now() / 1000), redirect_uris: uris,
        ...(typeof m.client_name === 'string' ? { client_name: m.client_name.slice(0, 200) } : {}),
        token_endpoint_auth_method: 'none', grant_types: ['authorization_code'], response_types: ['code'],
      });
    });
  });
}

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${esc(title)}</title>
<style>
body{font:15px/1.45 system-ui,sans-serif;background:#f4f6f8;color:#1d2733;margin:0;display:flex;justify-content:center}
main{background:#fff;margin:48px 16px;padding:28px 32px;border-radius:10px;box-shadow:0 2px 12px #0002;max-width:560px;width:100%}
h1{font-size:20px;margin:0 0 8px}.lead{color:#52606d}code{background:#eef1f4;padding:1px 4px;border-radius:4px}
.personas{display:grid;gap:8px;margin:16px 0}
.persona{display:flex;flex-direction:column;align-items:flex-start;text-align:left;padding:10px 14px;border:1px solid #cfd6dd;border-radius:8px;background:#fafbfc;cursor:pointer;font:inherit}
.persona:hover{border-color:#2f6fde;background:#f0f5ff}.persona span{color:#52606d;font-size:13px}.persona small{color:#7b8794}
fieldset{border:1px solid #e1e6eb;border-radius:8px;display:grid;gap:8px;padding:12px 14px}label{display:grid;gap:2px;font-size:13px;color:#52606d}
input{font:inherit;padding:6px 8px;border:1px solid #cfd6dd;border-radius:6px}#sign-in{justify-self:start;padding:6px 16px;border:0;border-radius:6px;background:#2f6fde;color:#fff;font:inherit;cursor:pointer}
</style></head><body><main><h1>${esc(title)}</h1>${body}</main></body></html>`;
}

/**
 * Demo personas for the login page: one per group a policy names (roles first, then approver and
 * break-glass groups, then rule principals), each with that one group; the subject is the group's
 * name in the singular (`auditors` → `auditor`). Plain data in: the policy's `roles` and `rules`.
 */
export function demoPersonas(policy: { roles?: Record<string, string[] | undefined>; rules: Array<{ principals?: { groups?: string[] } | '*'; approval?: { approvers: { groups: string[] }; break_glass_groups?: string[] } }> }): Persona[] {
  const notes = new Map<string, string[]>();
  const note = (g: string, what: string) => { const n = notes.get(g) ?? []; if (!n.includes(what)) n.push(what); notes.set(g, n); };
  for (const [role, groups] of Object.entries(policy.roles ?? {})) for (const g of groups ?? []) note(g, role.replace(/s$/, ''));
  for (const r of policy.rules) {
    for (const g of r.approval?.approvers.groups ?? []) note(g, 'approver');
    for (const g of r.approval?.break_glass_groups ?? []) note(g, 'break-glass approver');
  }
  for (const r of policy.rules) for (const g of (typeof r.principals === 'object' ? r.principals.groups : undefined) ?? []) if (!notes.has(g)) notes.set(g, []);
  return [...notes].map(([g, n]) => {
    const sub = g.replace(/s$/, '');
    return { sub, email: `${sub}@example.com`, groups: [g], ...(n.length ? { note: n.join(', ') } : {}) };
  });
}
