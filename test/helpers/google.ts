/**
 * Local stand-ins, on loopback, for the three Google endpoints bqgate's credentials call, each
 * checking requests as Google documents them and issuing `ya29.`-style tokens it remembers:
 *
 * - OAuth 2.0 token endpoint (https://oauth2.googleapis.com/token), service-account JWT bearer
 *   grant (RFC 7523; https://developers.google.com/identity/protocols/oauth2/service-account):
 *   `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`, an RS256 assertion signed by the key
 *   whose public half we hold, `iss` = the client_email, `aud` = the token URL, a `scope`.
 * - Security Token Service (https://sts.googleapis.com/v1/token), RFC 8693 token exchange for
 *   Workload Identity Federation (https://cloud.google.com/iam/docs/reference/sts/rest/v1/TopLevel/token):
 *   grant type, audience of the provider, requested and subject token types, a subject token that
 *   verifies against the issuer's JWKS; subjects in `refuse` get `invalid_grant`.
 * - IAM Credentials generateAccessToken (https://cloud.google.com/iam/docs/reference/credentials/rest/v1/projects.serviceAccounts/generateAccessToken):
 *   authorized by a token this stand-in issued, with `scope[]` and `lifetime`.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRemoteJWKSet, jwtVerify, importSPKI } from 'jose';
import { freePort } from '../../src/net.ts';

export interface GoogleCall { endpoint: 'oauth2' | 'sts' | 'iamcredentials'; form?: Record<string, string>; body?: any; authorization?: string; status: number; issued?: string }

export interface GoogleStandIn {
  url: string;
  /** Every call, in order, with what was issued. */
  calls: GoogleCall[];
  /** Every token issued (to search logs, responses and audit events for). */
  issued: string[];
  /** Writes a service-account key file whose public key this stand-in trusts; returns its path. */
  serviceAccountKey(dir: string): string;
  clientEmail: string;
  privateKeyPem: string;
  /** The `BQGATE_GOOGLE_ENDPOINTS` value that points the three Google origins here. */
  endpoints: string;
  /** Lifetime (s) of the STS tokens it issues. */
  stsExpiresIn: number;
  close(): Promise<void>;
}

const readForm = async (req: IncomingMessage) => {
  let b = '';
  for await (const d of req) b += d;
  return b;
};

/** Starts the stand-ins. `audience`: the provider audience STS accepts; `jwksUrl`: the caller tokens' issuer keys; `refuse`: subjects STS turns away. */
export async function startGoogleStandIn(o: { audience: string; jwksUrl: string; refuse?: string[] }): Promise<GoogleStandIn> {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const privateKeyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const spki = await importSPKI(publicKey.export({ type: 'spki', format: 'pem' }).toString(), 'RS256');
  const clientEmail = 'bqgate-gateway@demo-project.iam.gserviceaccount.com';
  const jwks = createRemoteJWKSet(new URL(o.jwksUrl));
  const issued: string[] = [];
  const calls: GoogleCall[] = [];
  const mint = (what: string) => { const t = `ya29.${what}-${randomBytes(12).toString('hex')}`; issued.push(t); return t; };
  const port = await freePort();
  const stand: GoogleStandIn = {
    url: `http://127.0.0.1:${port}`, calls, issued, clientEmail, privateKeyPem, stsExpiresIn: 3600,
    endpoints: ['https://oauth2.googleapis.com', 'https://sts.googleapis.com', 'https://iamcredentials.googleapis.com'].map((g) => `${g}=http://127.0.0.1:${port}`).join(','),
    serviceAccountKey(dir) {
      const file = join(dir, 'sa-key.json');
      writeFileSync(file, JSON.stringify({
        type: 'service_account', project_id: 'demo-project', private_key_id: 'k1', private_key: privateKeyPem, client_email: clientEmail,
        client_id: '1234567890', auth_uri: 'https://accounts.google.com/o/oauth2/auth', token_uri: 'https://oauth2.googleapis.com/token',
      }), { mode: 0o600 }); // as a real key must be: the gateway refuses a group/world-readable one
      return file;
    },
    close: () => new Promise((r) => server.close(() => r())),
  };

  const server: Server = createServer(async (req, res) => {
    const send = (call: GoogleCall, status: number, body: unknown) => {
      call.status = status;
      calls.push(call);
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    const raw = await readForm(req);
    const path = new URL(req.url!, stand.url).pathname;
    try {
      if (req.method === 'POST' && path === '/token') {
        const form = Object.fromEntries(new URLSearchParams(raw));
        const call: GoogleCall = { endpoint: 'oauth2', form, status: 0 };
        if (form.grant_type !== 'urn:ietf:params:oauth:grant-type:jwt-bearer') return send(call, 400, { error: 'unsupported_grant_type' });
        const { payload } = await jwtVerify(form.assertion, spki, { algorithms: ['RS256'], audience: 'https://oauth2.googleapis.com/token', issuer: clientEmail })
          .catch(() => ({ payload: undefined }));
        if (!payload) return send(call, 400, { error: 'invalid_grant', error_description: 'Invalid JWT Signature.' });
        if (!String(payload.scope ?? '').split(' ').includes('https://www.googleapis.com/auth/bigquery')) return send(call, 400, { error: 'invalid_scope' });
        if (Number(payload.exp) - Number(payload.iat) > 3600) return send(call, 400, { error: 'invalid_grant', error_description: 'Invalid JWT: Token must be a short-lived token (60 minutes)' });
        call.issued = mint('gw');
        return send(call, 200, { access_token: call.issued, expires_in: 3599, token_type: 'Bearer' });
      }
      if (req.method === 'POST' && path === '/v1/token') {
        const form = Object.fromEntries(new URLSearchParams(raw));
        const call: GoogleCall = { endpoint: 'sts', form, status: 0 };
        if (form.grant_type !== 'urn:ietf:params:oauth:grant-type:token-exchange') return send(call, 400, { error: 'unsupported_grant_type' });
        if (form.audience !== o.audience) return send(call, 400, { error: 'invalid_target', error_description: 'The target service indicated by the "audience" parameters is invalid.' });
        if (form.requested_token_type !== 'urn:ietf:params:oauth:token-type:access_token') return send(call, 400, { error: 'invalid_request', error_description: 'requested_token_type' });
        if (!['urn:ietf:params:oauth:token-type:jwt', 'urn:ietf:params:oauth:token-type:id_token'].includes(form.subject_token_type)) return send(call, 400, { error: 'invalid_request', error_description: 'subject_token_type' });
        if (!form.scope?.split(' ').some((s) => ['https://www.googleapis.com/auth/bigquery', 'https://www.googleapis.com/auth/cloud-platform'].includes(s))) return send(call, 400, { error: 'invalid_scope' });
        const verified = await jwtVerify(form.subject_token, jwks).catch(() => undefined);
        if (!verified) return send(call, 400, { error: 'invalid_grant', error_description: 'The subject token could not be verified.' });
        const sub = String(verified.payload.sub);
        if (o.refuse?.includes(sub)) return send(call, 400, { error: 'invalid_grant', error_description: 'The given credential is rejected by the attribute condition.' });
        call.issued = mint(`fed-${sub}`);
        return send(call, 200, { access_token: call.issued, issued_token_type: 'urn:ietf:params:oauth:token-type:access_token', token_type: 'Bearer', expires_in: stand.stsExpiresIn });
      }
      const gen = path.match(/^\/v1\/projects\/-\/serviceAccounts\/([^/:]+):generateAccessToken$/);
      if (req.method === 'POST' && gen) {
        const body = JSON.parse(raw || '{}');
        const call: GoogleCall = { endpoint: 'iamcredentials', body, authorization: req.headers.authorization, status: 0 };
        const bearer = req.headers.authorization?.replace(/^Bearer /, '');
        if (!bearer || !issued.includes(bearer)) return send(call, 401, { error: { code: 401, message: 'Request had invalid authentication credentials.', status: 'UNAUTHENTICATED' } });
        if (!Array.isArray(body.scope) || !body.scope.length) return send(call, 400, { error: { code: 400, message: 'scope is required', status: 'INVALID_ARGUMENT' } });
        call.issued = mint(`imp-${decodeURIComponent(gen[1]).split('@')[0]}`);
        return send(call, 200, { accessToken: call.issued, expireTime: new Date(Date.now() + 3600_000).toISOString() });
      }
      return send({ endpoint: 'oauth2', status: 0 }, 404, { error: 'not_found' });
    } catch (err) {
      res.writeHead(500).end(String(err));
    }
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
  return stand;
}
