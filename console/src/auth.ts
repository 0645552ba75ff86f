/**
 * Sign-in: the OIDC authorization-code flow with PKCE (RFC 7636, S256) as a public client, through
 * oauth4webapi, against the issuer the gateway names (`GET /bqgate/v1/console/config`). The access
 * token (a JWT for the gateway's audience) is the bearer token of every API call; it is kept in
 * this tab's sessionStorage only, and dropped on sign-out or on a 401.
 */
import * as oauth from 'oauth4webapi';

export interface ConsoleConfig { issuer: string; clientId: string; scope: string; project: string }
export interface SignedIn { accessToken: string; expiresAt: number; subject: string }

const KEY = 'bqgate.console.session';
const FLOW = 'bqgate.console.flow';
const redirectUri = () => `${location.origin}/console/`;

let config: ConsoleConfig | undefined;
export async function consoleConfig(): Promise<ConsoleConfig> {
  if (!config) config = await (await fetch('/bqgate/v1/console/config')).json() as ConsoleConfig;
  return config;
}

async function server(cfg: ConsoleConfig) {
  const issuer = new URL(cfg.issuer);
  const insecure = issuer.protocol === 'http:'; // the local development issuer
  const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: 'oidc', [oauth.allowInsecureRequests]: insecure }));
  return { as, client: { client_id: cfg.clientId } as oauth.Client, insecure };
}

/** The stored sign-in, if still valid for at least 30 s. */
export function current(): SignedIn | undefined {
  const s = JSON.parse(sessionStorage.getItem(KEY) ?? 'null') as SignedIn | null;
  return s && s.expiresAt - 30_000 > Date.now() ? s : undefined;
}

export function signOut() { sessionStorage.removeItem(KEY); }

/** Starts the sign-in: to the issuer's authorization endpoint, back to this page afterwards. */
export async function signIn(): Promise<never> {
  const cfg = await consoleConfig();
  const { as } = await server(cfg);
  if (!as.authorization_endpoint) throw new Error(`The issuer ${cfg.issuer} offers no authorization endpoint, so the console cannot sign you in there. With the development issuer, its login page is off unless the gateway listens on loopback or BQGATE_DEV_LOGIN=on; otherwise point BQGATE_ISSUER at your identity provider.`);
  const verifier = oauth.generateRandomCodeVerifier();
  const state = oauth.generateRandomState();
  const nonce = oauth.generateRandomNonce();
  sessionStorage.setItem(FLOW, JSON.stringify({ verifier, state, nonce, returnTo: location.hash }));
  const url = new URL(as.authorization_endpoint!);
  url.search = new URLSearchParams({
    response_type: 'code', client_id: cfg.clientId, redirect_uri: redirectUri(), scope: cfg.scope, state, nonce,
    code_challenge: await oauth.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
  }).toString();
  location.assign(url.toString());
  return new Promise<never>(() => {});
}

/** Completes a sign-in when this page is the redirect back from the issuer; undefined otherwise. */
export async function completeSignIn(): Promise<SignedIn | undefined> {
  const here = new URL(location.href);
  if (!here.searchParams.has('code') && !here.searchParams.has('error')) return undefined;
  const flow = JSON.parse(sessionStorage.getItem(FLOW) ?? 'null') as { verifier: string; state: string; nonce: string; returnTo: string } | null;
  sessionStorage.removeItem(FLOW);
  history.replaceState(null, '', `/console/${flow?.returnTo ?? ''}`);
  dispatchEvent(new HashChangeEvent('hashchange')); // the page routes by hash: back where the sign-in started
  if (!flow) throw new Error('This sign-in was not started from this tab; sign in again.');
  const cfg = await consoleConfig();
  const { as, client, insecure } = await server(cfg);
  const params = oauth.validateAuthResponse(as, client, here, flow.state);
  const response = await oauth.authorizationCodeGrantRequest(as, client, oauth.None(), params, redirectUri(), flow.verifier, { [oauth.allowInsecureRequests]: insecure });
  const tokens = await oauth.processAuthorizationCodeResponse(as, client, response, { expectedNonce: flow.nonce, requireIdToken: true });
  const claims = oauth.getValidatedIdTokenClaims(tokens)!;
  const signedIn: SignedIn = { accessToken: tokens.access_token, expiresAt: Date.now() + (tokens.expires_in ?? 3600) * 1000, subject: String(claims.sub) };
  sessionStorage.setItem(KEY, JSON.stringify(signedIn));
  return signedIn;
}
