/**
 * The credentials bqgate uses upstream; the caller never holds one, and its own token never leaves
 * the gateway except as the subject token of a Workload Identity Federation exchange at Google's STS.
 *
 * - **Gateway credential** (`UpstreamAuthConfig.credentials`): `local` (the emulator's secret: the
 *   one the gateway generated for its embedded emulator, or `BQGATE_UPSTREAM_TOKEN` for one started
 *   apart), `adc` (google-auth-library's Application Default Credentials: the
 *   GOOGLE_APPLICATION_CREDENTIALS file, gcloud's user credentials, or the metadata server — workload
 *   identity on GKE/Cloud Run), or a credentials JSON file (a service-account key, or an
 *   `external_account` configuration). Optionally impersonating a service account (IAM Credentials
 *   `generateAccessToken`). Used for the catalog (tables.get), dry runs and, without federation,
 *   for jobs.
 * - **Per-group impersonation** (`impersonateByGroup`): a caller in a listed group runs its jobs as
 *   that service account (impersonated by the gateway credential).
 * - **Per-user token** (`federation`): the caller's OIDC token is exchanged at STS (RFC 8693 token
 *   exchange; https://cloud.google.com/iam/docs/workload-identity-federation) through
 *   google-auth-library's IdentityPoolClient with a subject-token supplier, optionally followed by
 *   impersonation; one client per principal, its token cached until `refreshBeforeMs` before expiry.
 *   When the exchange fails: `fallback: gateway` uses the gateway credential, `refuse` fails the
 *   request (BigQueryError accessDenied, naming the principal and the STS error code, never a token).
 *
 * Every Google endpoint the clients call can be redirected (`endpoints`, origin → origin), e.g. to
 * Private Service Connect addresses. Errors from google-auth-library are turned into messages that
 * carry no token, key or request body.
 */
import { GoogleAuth, Impersonated, IdentityPoolClient, OAuth2Client, type AuthClient } from 'google-auth-library';
import { createHash } from 'node:crypto';
import type { UpstreamAuthConfig } from '../config.js';
import type { Principal } from '../auth/index.js';
import { BigQueryError } from '../bigquery/errors.js';
import { checkSecretFile } from '../secret-file.js';
import { existsSync, readFileSync } from 'node:fs';

export const BIGQUERY_SCOPE = 'https://www.googleapis.com/auth/bigquery';
const IAM_CREDENTIALS = 'https://iamcredentials.googleapis.com';

/** Which credential ran a job (kept with the job, so its polls use the same one). */
export type UpstreamIdentity = 'gateway' | `sa:${string}` | 'user';

export interface JobCredential { identity: UpstreamIdentity; client: AuthClient }

/** The identity a stored job runs with; jobs recorded before identities were kept ran with the gateway's. */
export const storedIdentity = (stored: string | undefined): UpstreamIdentity => (stored ?? 'gateway') as UpstreamIdentity;

/** `url` with its origin replaced per `endpoints` (origin → replacement base). */
const rewrite = (url: string, endpoints: Record<string, string>) => {
  const u = new URL(url);
  const to = endpoints[u.origin];
  return to ? to + u.pathname + u.search : url;
};

/**
 * The credential for a local upstream (the emulator): its secret as the bearer token. Without one
 * (no BQGATE_UPSTREAM_TOKEN for an emulator started apart) a fixed placeholder is sent, which an
 * emulator refuses (401) — the readiness probe then reports the upstream down.
 */
export function localCredential(secret?: string): AuthClient {
  const c = new OAuth2Client();
  c.setCredentials({ access_token: secret ?? 'bqgate-local-emulator' });
  return c;
}

/**
 * Refuses a service-account key file (JSON with a `private_key`) that its group or others can read
 * (secret-file.ts; throws its message naming the file and `chmod 600`). An `external_account`
 * configuration holds no secret (it names where the token comes from) and is not checked; a
 * missing or unreadable file is left to google-auth-library's own error.
 */
function checkKeyFile(file: string): void {
  let doc: { private_key?: unknown } | undefined;
  try { doc = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : undefined; } catch { return; }
  if (doc && typeof doc.private_key === 'string') checkSecretFile(file, 'the service-account key (BQGATE_CREDENTIALS)');
}

/** Redirects a client's Google endpoints (origin → replacement base) for every request it makes. */
function redirect(client: AuthClient, endpoints: Record<string, string>): AuthClient {
  if (!Object.keys(endpoints).length) return client;
  client.transporter.interceptors.request.add({
    resolved: async (opts) => {
      const to = endpoints[opts.url.origin];
      if (to) opts.url = new URL(to + opts.url.pathname + opts.url.search);
      return opts;
    },
  });
  return client;
}

/** A short, token-free description of a google-auth-library failure. */
export function credentialFailure(err: unknown): string {
  const e = err as { response?: { status?: number; data?: any }; status?: number; code?: string; message?: string };
  const data = e.response?.data;
  const code = typeof data === 'object' && data ? (data.error?.status ?? data.error ?? '') : '';
  const described = typeof data === 'object' && data && typeof data.error_description === 'string' ? data.error_description : '';
  const status = e.response?.status ?? e.status;
  if (status) return `HTTP ${status}${code ? ` ${typeof code === 'string' ? code : JSON.stringify(code)}` : ''}${described ? `: ${described.slice(0, 200)}` : ''}`;
  return e.code ?? (e.message ?? 'unknown error').split('\n')[0].replace(/(ya29|eyJ)[\w.-]+/g, '<redacted>').slice(0, 200);
}

export class UpstreamCredentials {
  private readonly impersonated = new Map<string, AuthClient>();
  private readonly federated = new Map<string, { client: IdentityPoolClient; subjectToken: string }>();

  private constructor(private readonly cfg: UpstreamAuthConfig, readonly gateway: AuthClient) {}

  /**
   * Builds the gateway credential. Throws (at startup) when the credentials file cannot be read or
   * ADC finds nothing; the message names the setting, not the key.
   */
  static async create(cfg: UpstreamAuthConfig): Promise<UpstreamCredentials> {
    let base: AuthClient;
    if (cfg.credentials === 'local') base = localCredential(cfg.localToken);
    else {
      if (cfg.credentials !== 'adc') checkKeyFile(cfg.credentials);
      const auth = new GoogleAuth({ scopes: [BIGQUERY_SCOPE], ...(cfg.credentials === 'adc' ? {} : { keyFilename: cfg.credentials }) });
      try { base = await auth.getClient(); } catch (err) {
        throw new Error(`BQGATE_CREDENTIALS=${cfg.credentials}: no usable Google credential (${credentialFailure(err)})`);
      }
    }
    redirect(base, cfg.endpoints);
    const creds = new UpstreamCredentials(cfg, base);
    if (cfg.impersonate) return new UpstreamCredentials(cfg, creds.impersonate(cfg.impersonate, base));
    return creds;
  }

  /** An IAM Credentials impersonation of `serviceAccount` by `source` (cached per account). */
  private impersonate(serviceAccount: string, source: AuthClient = this.gateway): AuthClient {
    let c = this.impersonated.get(serviceAccount);
    if (!c) {
      c = redirect(new Impersonated({ sourceClient: source, targetPrincipal: serviceAccount, targetScopes: [BIGQUERY_SCOPE], lifetime: 3600, endpoint: IAM_CREDENTIALS }), this.cfg.endpoints);
      this.impersonated.set(serviceAccount, c);
    }
    return c;
  }

  /** The service account a caller's groups map to, if any (first mapping in configuration order). */
  private groupAccount(p: Pick<Principal, 'groups'>): string | undefined {
    return this.cfg.impersonateByGroup.find(([g]) => p.groups.includes(g))?.[1];
  }

  /**
   * The credential for a job of `principal`, whose verified token is `rawToken` (undefined when the
   * owner is not the caller, e.g. an approver's request submits the requester's job); `identity`
   * pins the one a job already ran with (its polls). Federation first (when configured), then the
   * policy's `serviceAccount` for the statement (an allow rule's upstream_service_account), then
   * per-group impersonation, then the gateway credential. Throws BigQueryError(accessDenied) when
   * federation fails and `fallback` is `refuse`, or when a job ran as the user and no exchange is
   * possible now.
   */
  async forJob(principal: Pick<Principal, 'issuer' | 'subject' | 'groups'>, rawToken: string | undefined, identity?: UpstreamIdentity, serviceAccount?: string): Promise<JobCredential> {
    const fed = this.cfg.federation;
    if (identity === 'gateway') return { identity, client: this.gateway };
    if (identity?.startsWith('sa:')) return { identity, client: this.impersonate(identity.slice(3)) };
    const client = fed && (identity === 'user' || identity === undefined) ? this.federatedClient(principal, rawToken) : undefined;
    if (client) {
      try {
        await client.getAccessToken();
        return { identity: 'user', client };
      } catch (err) {
        if (identity === 'user' || fed!.fallback === 'refuse') {
          throw new BigQueryError('accessDenied', `Access Denied: bqgate could not obtain a BigQuery credential for ${principal.subject} through Workload Identity Federation (STS: ${credentialFailure(err)}); ${identity === 'user' ? 'this job runs as you' : 'the gateway is configured not to fall back to its own credential'}. Ask the operator to trust your issuer in the workload identity pool.`);
        }
      }
    } else if (identity === 'user') {
      throw new BigQueryError('accessDenied', `Access Denied: this job runs with ${principal.subject}'s federated credential, which is not available on this request; poll it with your own token.`);
    }
    const sa = serviceAccount ?? this.groupAccount(principal);
    return sa ? { identity: `sa:${sa}`, client: this.impersonate(sa) } : { identity: 'gateway', client: this.gateway };
  }

  /**
   * The per-principal federation client: the supplier hands STS the principal's latest verified
   * token; google-auth-library caches the access token and refreshes it `refreshBeforeMs` ahead.
   */
  private federatedClient(p: Pick<Principal, 'issuer' | 'subject'>, rawToken: string | undefined): IdentityPoolClient | undefined {
    const fed = this.cfg.federation!;
    const key = createHash('sha256').update(`${p.issuer}\0${p.subject}`).digest('hex');
    let entry = this.federated.get(key);
    if (!entry && rawToken === undefined) return undefined;
    if (!entry) {
      rawToken = rawToken!;
      const holder = { subjectToken: rawToken };
      const client = new IdentityPoolClient({
        // The STS call goes through a transporter of its own: its URL is rewritten here.
        type: 'external_account', audience: fed.audience, subject_token_type: fed.subjectTokenType, token_url: rewrite(fed.tokenUrl, this.cfg.endpoints),
        subject_token_supplier: { getSubjectToken: async () => holder.subjectToken },
        ...(fed.serviceAccount ? { service_account_impersonation_url: `${IAM_CREDENTIALS}/v1/projects/-/serviceAccounts/${fed.serviceAccount}:generateAccessToken` } : {}),
        scopes: [BIGQUERY_SCOPE],
        eagerRefreshThresholdMillis: fed.refreshBeforeMs,
        ...(this.cfg.quotaProject ? { quota_project_id: this.cfg.quotaProject } : {}),
      });
      redirect(client, this.cfg.endpoints);
      entry = Object.assign(holder, { client });
      this.federated.set(key, entry);
      if (this.federated.size > 10_000) this.federated.delete(this.federated.keys().next().value!); // oldest principal out
    }
    if (rawToken !== undefined) entry.subjectToken = rawToken;
    return entry.client;
  }
}
