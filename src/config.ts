/**
 * Gateway configuration: embedded defaults, overridden by environment variables and CLI flags.
 *
 * | setting | env | default |
 * |---|---|---|
 * | listen host / port | BQGATE_HOST, BQGATE_PORT | 127.0.0.1, 9050 |
 * | the gateway's URL as clients reach it (the origin of the resumable upload session URLs it hands out; behind a load balancer, the balancer's) | BQGATE_PUBLIC_URL | `http://host:port`, the listen address |
 * | data directory (keys, SQLite) | BQGATE_DATA_DIR | ./.bqgate |
 * | policy files | BQGATE_POLICIES | ./policies |
 * | upstream | BQGATE_UPSTREAM | `emulator` (embedded), or a URL such as https://bigquery.googleapis.com |
 * | emulator port / fixtures | BQGATE_EMULATOR_PORT, BQGATE_FIXTURES | 9060, ./fixtures |
 * | OIDC issuer / audience / JWKS | BQGATE_ISSUER, BQGATE_AUDIENCE, BQGATE_JWKS_URL | the embedded dev issuer at the gateway's URL, `bqgate` |
 * | jobs, approvals and (unless BQGATE_AUDIT_POSTGRES says otherwise) the audit log in PostgreSQL, shared by replicas | BQGATE_POSTGRES (postgres://…) | SQLite files in the data dir |
 * | audit log in PostgreSQL | BQGATE_AUDIT_POSTGRES (postgres://…) | BQGATE_POSTGRES, else SQLite `<data dir>/audit.sqlite` |
 * | delivered rows recorded per page | BQGATE_AUDIT_ROWS | 100 |
 * | checkpoint every N events / T ms | BQGATE_AUDIT_CHECKPOINT_EVERY, BQGATE_AUDIT_CHECKPOINT_MS | 1000, 10000 |
 * | retention of event bodies, days | BQGATE_AUDIT_RETENTION_DAYS | unset (kept) |
 * | session idle gap, minutes | BQGATE_SESSION_GAP_MIN | 30 |
 * | SQLite audit log on a worker thread (1), or on the event loop (0: measured faster on 2 cores, README Benchmarks) | BQGATE_AUDIT_SQLITE_THREAD | 0 |
 * | keys replicas share, as files: audit checkpoint key / HMAC_SHA256 key (hex) / development issuer key (`bqgate keys init DIR`) | BQGATE_AUDIT_KEY_FILE, BQGATE_HMAC_KEY_FILE (or BQGATE_HMAC_KEY, hex), BQGATE_DEV_ISSUER_KEY_FILE | created under `<data dir>/keys/` |
 * | OpenTelemetry traces over OTLP/HTTP (telemetry/tracing.ts) | OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, OTEL_SERVICE_NAME | off |
 * | abuse limits: requests per principal per minute / in flight per principal / body bytes / headers and request receive timeouts, ms (0: off) | BQGATE_RATE_LIMIT, BQGATE_MAX_CONCURRENT, BQGATE_MAX_BODY_BYTES, BQGATE_HEADERS_TIMEOUT_MS, BQGATE_REQUEST_TIMEOUT_MS | 1200, 32, 10485760, 10000, 30000 |
 * | with BQGATE_POSTGRES the rate limit and in-flight cap are shared by the replicas; a dead replica's in-flight slots are reclaimed after this lease, ms (state/pg-limits.ts) | BQGATE_INFLIGHT_LEASE_MS | 30000 |
 * | deadlines: the longest long-poll (jobs.query / getQueryResults `timeoutMs` is capped at it) / the most any request may take before it is answered `timeout` and its upstream calls are aborted, ms | BQGATE_DEFAULT_WAIT_MS, BQGATE_DEADLINE_MS | 10000, 60000 |
 * | SQL structural limits checked before analysis (sql/limits.ts): statement bytes / tokens / nesting depth of ( [ { / binary operators in one run (0: off) | BQGATE_SQL_MAX_BYTES, BQGATE_SQL_MAX_TOKENS, BQGATE_SQL_MAX_DEPTH, BQGATE_SQL_MAX_CHAIN | 1048576, 25000, 50, 100 |
 * | ZetaSQL analyzer processes (sql/pool.ts) / deadline of one analyzer call, ms (past it the process is killed and replaced) / how long a statement that crashed or stalled one stays refused, ms | BQGATE_ANALYZER_PROCESSES, BQGATE_ANALYZER_DEADLINE_MS, BQGATE_ANALYZER_QUARANTINE_MS | 2, 10000, 600000 |
 * | shutdown: readiness 503 this long before the listener closes / give up on in-flight requests after, ms | BQGATE_SHUTDOWN_DELAY_MS, BQGATE_SHUTDOWN_TIMEOUT_MS | 0, 30000 |
 * | approval notifications: generic JSON / Slack incoming webhooks (comma-separated URLs) | BQGATE_APPROVAL_WEBHOOKS, BQGATE_APPROVAL_SLACK_WEBHOOKS | none |
 * | web console: OAuth client id at the issuer / scope / playground's default project / built files | BQGATE_CONSOLE_CLIENT_ID, BQGATE_CONSOLE_SCOPE, BQGATE_CONSOLE_PROJECT, BQGATE_CONSOLE_DIR | bqgate-console, `openid email groups`, demo-project, `console/dist` |
 * | the development issuer's demo login page for the console (anyone reaching it may sign in as anyone) | BQGATE_DEV_LOGIN (on/off) | on only while listening on loopback; never with BQGATE_JWKS_URL |
 * | SIEM sinks (comma-separated: jsonl:PATH, https://…, syslog+tcp://…, syslog+tls://…) | BQGATE_AUDIT_SINKS | none |
 * | gateway credential: `local`, `adc`, or a credentials JSON file (service-account key, external_account) | BQGATE_CREDENTIALS | `local` for the embedded emulator or an http loopback upstream, else `adc` |
 * | the `local` credential's token: the secret of an emulator started apart (`bqgate emulator`), or a file holding it | BQGATE_UPSTREAM_TOKEN, BQGATE_UPSTREAM_TOKEN_FILE | the embedded emulator's secret, generated per start (written to `<data dir>/keys/emulator.secret`, mode 0600) |
 * | the emulator's statement timeout (ms), statements running per principal / in all, waiting per principal | BQGATE_EMULATOR_STATEMENT_TIMEOUT_MS, BQGATE_EMULATOR_MAX_PER_PRINCIPAL, BQGATE_EMULATOR_MAX_RUNNING, BQGATE_EMULATOR_MAX_QUEUED | 30000, 1, UV_THREADPOOL_SIZE − 1 (3), 100 (emulator/index.ts) |
 * | service account the gateway impersonates (all upstream calls) | BQGATE_IMPERSONATE_SERVICE_ACCOUNT | none |
 * | per-group impersonation for jobs (`group=sa@…,group2=sa2@…`) | BQGATE_IMPERSONATE_BY_GROUP | none |
 * | quota project (x-goog-user-project) / default job location | BQGATE_QUOTA_PROJECT, BQGATE_LOCATION | none / the client's |
 * | Google endpoint overrides (`https://oauth2.googleapis.com=https://…,…`: Private Service Connect) | BQGATE_GOOGLE_ENDPOINTS | none |
 * | upstream retries of 429/5xx/network errors | BQGATE_UPSTREAM_RETRIES | 4 |
 * | Workload Identity Federation: provider audience (`//iam.googleapis.com/projects/N/locations/global/workloadIdentityPools/P/providers/R`) | BQGATE_FEDERATION_AUDIENCE | off |
 * | federation: subject token type / STS URL / SA to impersonate after the exchange | BQGATE_FEDERATION_SUBJECT_TOKEN_TYPE, BQGATE_FEDERATION_TOKEN_URL, BQGATE_FEDERATION_SERVICE_ACCOUNT | `urn:ietf:params:oauth:token-type:jwt`, https://sts.googleapis.com/v1/token, none |
 * | federation fails: `refuse` or `gateway` (use the gateway credential) / refresh this long before expiry, ms | BQGATE_FEDERATION_FALLBACK, BQGATE_FEDERATION_REFRESH_BEFORE_MS | refuse, 300000 |
 * | MCP door (mcp/auth.ts): its resource URI, the audience its tokens must carry (RFC 8707, RFC 9728) | BQGATE_MCP_RESOURCE | `http://<host>:<port>/mcp` |
 * | MCP: further token audiences accepted on /mcp (comma-separated; `bqgate`, the REST audience, makes the two one) | BQGATE_MCP_AUDIENCES | none |
 * | MCP: scopes a token must carry on /mcp (`scope` / `scp` claim; else 403 insufficient_scope) / scopes advertised to clients | BQGATE_MCP_REQUIRED_SCOPES, BQGATE_MCP_SCOPES (space- or comma-separated) | none / the required ones, else `openid email groups` |
 * | MCP: legacy (2025-era) sessions open at most, in all and per principal, across replicas; idle seconds before one ends | BQGATE_MCP_MAX_SESSIONS, BQGATE_MCP_MAX_SESSIONS_PER_PRINCIPAL, BQGATE_MCP_SESSION_IDLE_SEC | 1024, 16, 1800 |
 * | BigQuery Storage Read API (gRPC BigQueryRead, doors/storage/): its port (`off`: not served; `0`: a free port, logged) / TLS certificate and key files (PEM; both or neither; plaintext otherwise, for loopback) | BQGATE_STORAGE_PORT, BQGATE_STORAGE_TLS_CERT, BQGATE_STORAGE_TLS_KEY | the REST port + 1 (9051), plaintext |
 * | the longest one ReadRows stream may run, ms (other calls: BQGATE_DEADLINE_MS) | BQGATE_STORAGE_STREAM_DEADLINE_MS | 21600000 (6 h, a read session's lifetime) |
 * | the upstream BigQueryRead service, host:port (TLS; plaintext only on loopback) / the embedded emulator's port (0: a free loopback port) | BQGATE_UPSTREAM_STORAGE, BQGATE_EMULATOR_STORAGE_PORT | the embedded emulator's, else bigquerystorage.googleapis.com:443 for https://bigquery.googleapis.com / 0 |
 * | MCP: Origin headers accepted on /mcp (comma-separated hostnames, matching any scheme and port, or exact origins `https://host:port`) | BQGATE_MCP_ALLOWED_ORIGINS | `localhost,127.0.0.1,[::1]` |
 */
import { readSecretFile } from './secret-file.js';
import { resolve } from 'node:path';
import { isLoopbackHttp } from './net.js';
import type { LimitsConfig } from './limits.js';
import { DEFAULT_SQL_LIMITS, type SqlLimits } from './sql/limits.js';

export interface Config {
  host: string;
  port: number;
  /**
   * The gateway's URL as clients reach it, without a trailing slash (`https://bqgate.example.com`):
   * the origin of the URLs bqgate hands out (resumable upload sessions). Never taken from a
   * request's Host header, which the caller controls.
   */
  publicUrl: string;
  dataDir: string;
  policiesDir: string;
  /** `emulator` starts the embedded emulator; otherwise the base URL of the BigQuery REST API. */
  upstream: string;
  emulatorPort: number;
  fixturesDir: string;
  /** PostgreSQL for jobs and approvals (state/), shared by replicas; unset: SQLite in dataDir. */
  statePostgresUrl?: string;
  auth: {
    /** Expected `iss`. Empty means the embedded development issuer at `http://host:port`. */
    issuer: string;
    audience: string;
    /** JWKS URL of an external issuer; unused with the embedded issuer. */
    jwksUrl?: string;
    /** Accepted JWS algorithms (pinned; `none` and HS* are never accepted). */
    algorithms: string[];
    /** Allowed clock skew, seconds. */
    clockToleranceSec: number;
    /** Claim holding group names. */
    groupsClaim: string;
  };
  /** How the gateway authenticates to the upstream (upstream/credentials.ts). */
  upstreamAuth: UpstreamAuthConfig;
  /** Default and maximum long-poll wait for getQueryResults / jobs.query (their `timeoutMs` is capped at it), ms. */
  defaultWaitMs: number;
  /**
   * The most one request may take, ms (BQGATE_DEADLINE_MS): past it the gateway answers a BigQuery
   * `timeout` error (HTTP 504) and aborts its upstream calls. Long-polls end sooner (defaultWaitMs).
   */
  deadlineMs: number;
  logLevel: string;
  /** SIGTERM: `delayMs` answering /readyz 503 while still serving (the load balancer stops sending), then in-flight requests get up to `timeoutMs`. */
  shutdown: { delayMs: number; timeoutMs: number };
  /** Abuse limits (limits.ts). */
  limits: LimitsConfig;
  /** The ZetaSQL analyzer: structural limits checked before it (sql/limits.ts) and its process pool (sql/pool.ts). */
  analyzer: AnalyzerConfig;
  approvals: { webhooks: string[]; slackWebhooks: string[] };
  /** The web console (console/): its OAuth client at the issuer, the scope it asks, the default project of the playground, where the built files are. */
  console: {
    clientId: string; scope: string; project: string; distDir: string;
    /**
     * The development issuer's demo login page (anyone who reaches it signs in as anyone, with any
     * groups): on by default only while the gateway listens on loopback.
     */
    devLogin: boolean;
  };
  /** The MCP door's authorization (mcp/auth.ts). */
  mcp: McpConfig;
  /** The Storage Read API door (doors/storage/). */
  storage: StorageConfig;
  audit: {
    postgresUrl?: string;
    /** Delivered rows recorded per page in `delivery` events. */
    rowsCap: number;
    checkpointEvery: number;
    checkpointIntervalMs: number;
    retentionMs?: number;
    sessionGapMs: number;
    sqliteThread: boolean;
    /** Sink addresses (audit/sinks.ts). */
    sinks: string[];
  };
}

/**
 * The MCP endpoint as an OAuth 2.1 resource server (MCP authorization spec;
 * https://modelcontextprotocol.io/specification/2025-11-25/basic/authorization).
 */
export interface McpConfig {
  /** Its resource URI (RFC 8707 §2, RFC 9728 §2 `resource`): the `aud` a token must carry on /mcp. */
  resource: string;
  /** Further audiences accepted on /mcp beside `resource` (e.g. `bqgate`, the REST audience: the two are then one). */
  audiences: string[];
  /** Scopes every token on /mcp must carry (RFC 6750 §3.1 `insufficient_scope` otherwise); empty: none. */
  requiredScopes: string[];
  /** `scopes_supported` of the protected-resource metadata (RFC 9728 §2): what a client should ask its issuer for. */
  scopesSupported: string[];
  /** Accepted `Origin` headers: hostnames (`localhost`, `[::1]`: any scheme and port) or exact origins (`https://app.example.com`). */
  allowedOrigins: string[];
  /** Legacy (2025-era) sessions (doors/mcp/sessions.ts): caps counted in the state store, so across replicas; idle time in ms. */
  sessions: { total: number; perPrincipal: number; idleMs: number };
}

export interface AnalyzerConfig {
  sqlLimits: SqlLimits;
  /** remote_server processes analyzing in parallel (at least 1). */
  processes: number;
  /** Deadline of one analyzer call, ms; past it the process is SIGKILLed and replaced. */
  deadlineMs: number;
  /** How long a statement whose analysis crashed or stalled a process stays refused, ms. */
  quarantineMs: number;
}

/** The SQL structural limits from BQGATE_SQL_MAX_BYTES / _TOKENS / _DEPTH / _CHAIN, defaults from sql/limits.ts. */
export function sqlLimitsFrom(env: NodeJS.ProcessEnv): SqlLimits {
  const n = (v: string | undefined, d: number) => (v === undefined || v === '' ? d : Number(v));
  return {
    maxBytes: n(env.BQGATE_SQL_MAX_BYTES, DEFAULT_SQL_LIMITS.maxBytes),
    maxTokens: n(env.BQGATE_SQL_MAX_TOKENS, DEFAULT_SQL_LIMITS.maxTokens),
    maxDepth: n(env.BQGATE_SQL_MAX_DEPTH, DEFAULT_SQL_LIMITS.maxDepth),
    maxChain: n(env.BQGATE_SQL_MAX_CHAIN, DEFAULT_SQL_LIMITS.maxChain),
  };
}

export interface UpstreamAuthConfig {
  /** `local` (the emulator's secret as a bearer token), `adc` (Application Default Credentials), or a credentials JSON file path. */
  credentials: string;
  /** The `local` credential's token: an emulator's secret (never logged, never sent to callers). */
  localToken?: string;
  /** Service account the gateway credential impersonates for every call. */
  impersonate?: string;
  /** group → service account impersonated for that group's jobs (first listed group of the caller wins). */
  impersonateByGroup: Array<[string, string]>;
  quotaProject?: string;
  /** Default job location when the client sends none. */
  location?: string;
  /** Google endpoint origin → replacement origin, for every Google call the credentials make. */
  endpoints: Record<string, string>;
  retries: number;
  federation?: {
    audience: string;
    subjectTokenType: string;
    tokenUrl: string;
    serviceAccount?: string;
    fallback: 'refuse' | 'gateway';
    refreshBeforeMs: number;
  };
}

/** A list setting: comma- and/or space-separated values, blanks dropped. */
const list = (s: string | undefined) => (s ?? '').split(/[\s,]+/).filter(Boolean);

const pairs = (s: string | undefined) => (s ?? '').split(',').map((x) => x.trim()).filter(Boolean).map((x) => {
  const i = x.lastIndexOf('=');
  if (i <= 0) throw new Error(`expected name=value in "${x}"`);
  return [x.slice(0, i).trim(), x.slice(i + 1).trim()] as [string, string];
});

/**
 * The BigQuery Storage Read API door (https://cloud.google.com/bigquery/docs/reference/storage):
 * where it listens, with what TLS, and which upstream BigQueryRead service it relays.
 */
export interface StorageConfig {
  /** Listen port on `host` (0: a free port); undefined: the door is off. */
  port?: number;
  /** PEM files of the server's TLS certificate chain and key; absent: plaintext. */
  tls?: { certFile: string; keyFile: string };
  /** The upstream BigQueryRead `host:port` (not for the embedded emulator, whose address is its own); undefined: none. */
  upstream?: string;
  /** The embedded emulator's storage port (0: free). */
  emulatorPort: number;
  /** The longest one ReadRows stream may run, ms (instead of BQGATE_DEADLINE_MS; BigQuery read sessions live 6 hours). */
  streamDeadlineMs: number;
}

function storageConfig(port: number, upstream: string, env: NodeJS.ProcessEnv, o?: Partial<StorageConfig>): StorageConfig {
  const raw = env.BQGATE_STORAGE_PORT ?? String(port + 1);
  const cert = env.BQGATE_STORAGE_TLS_CERT;
  const key = env.BQGATE_STORAGE_TLS_KEY;
  if (Boolean(cert) !== Boolean(key)) throw new Error('BQGATE_STORAGE_TLS_CERT and BQGATE_STORAGE_TLS_KEY go together: set both (PEM files) or neither.');
  if (raw !== 'off' && !/^\d{1,5}$/.test(raw)) throw new Error(`BQGATE_STORAGE_PORT must be a port number, 0 (a free port) or off; got ${JSON.stringify(raw)}.`);
  const google = /^https:\/\/bigquery\.googleapis\.com\/?$/.test(upstream) ? 'bigquerystorage.googleapis.com:443' : undefined;
  return {
    port: raw === 'off' ? undefined : Number(raw), ...(cert && key ? { tls: { certFile: cert, keyFile: key } } : {}),
    upstream: upstream === 'emulator' ? undefined : env.BQGATE_UPSTREAM_STORAGE || google,
    emulatorPort: Number(env.BQGATE_EMULATOR_STORAGE_PORT ?? 0), streamDeadlineMs: Number(env.BQGATE_STORAGE_STREAM_DEADLINE_MS ?? 6 * 3600_000), ...o,
  };
}

/** Builds the configuration from `env` and explicit overrides (CLI flags win). */
export function loadConfig(overrides: Partial<Config> = {}, env: NodeJS.ProcessEnv = process.env): Config {
  const port = Number(overrides.port ?? env.BQGATE_PORT ?? 9050);
  const host = overrides.host ?? env.BQGATE_HOST ?? '127.0.0.1';
  const upstream = overrides.upstream ?? env.BQGATE_UPSTREAM ?? 'emulator';
  const cfg: Config = {
    host,
    port,
    publicUrl: publicUrl(overrides.publicUrl ?? env.BQGATE_PUBLIC_URL, host, port),
    dataDir: resolve(overrides.dataDir ?? env.BQGATE_DATA_DIR ?? '.bqgate'),
    policiesDir: resolve(overrides.policiesDir ?? env.BQGATE_POLICIES ?? 'policies'),
    upstream,
    emulatorPort: Number(overrides.emulatorPort ?? env.BQGATE_EMULATOR_PORT ?? 9060),
    fixturesDir: resolve(overrides.fixturesDir ?? env.BQGATE_FIXTURES ?? 'fixtures'),
    statePostgresUrl: overrides.statePostgresUrl ?? (env.BQGATE_POSTGRES || undefined),
    auth: {
      issuer: env.BQGATE_ISSUER ?? '',
      audience: env.BQGATE_AUDIENCE ?? 'bqgate',
      jwksUrl: env.BQGATE_JWKS_URL,
      algorithms: (env.BQGATE_ALGORITHMS ?? 'RS256,ES256,EdDSA').split(','),
      clockToleranceSec: Number(env.BQGATE_CLOCK_TOLERANCE_SEC ?? 30),
      groupsClaim: env.BQGATE_GROUPS_CLAIM ?? 'groups',
      ...overrides.auth,
    },
    upstreamAuth: {
      // A local upstream (the embedded emulator, or one on loopback over http) takes the fixed local token.
      credentials: env.BQGATE_CREDENTIALS ?? (upstream === 'emulator' || isLoopbackHttp(upstream) ? 'local' : 'adc'),
      // A token file others can read is refused (secret-file.ts), as the gateway's own keys are.
      localToken: env.BQGATE_UPSTREAM_TOKEN || (env.BQGATE_UPSTREAM_TOKEN_FILE ? readSecretFile(env.BQGATE_UPSTREAM_TOKEN_FILE, 'the upstream token file (BQGATE_UPSTREAM_TOKEN_FILE)').toString('utf8').trim() : undefined),
      impersonate: env.BQGATE_IMPERSONATE_SERVICE_ACCOUNT || undefined,
      impersonateByGroup: pairs(env.BQGATE_IMPERSONATE_BY_GROUP),
      quotaProject: env.BQGATE_QUOTA_PROJECT || undefined,
      location: env.BQGATE_LOCATION || undefined,
      endpoints: Object.fromEntries(pairs(env.BQGATE_GOOGLE_ENDPOINTS).map(([a, b]) => [new URL(a).origin, b.replace(/\/+$/, '')])),
      retries: Number(env.BQGATE_UPSTREAM_RETRIES ?? 4),
      federation: env.BQGATE_FEDERATION_AUDIENCE ? {
        audience: env.BQGATE_FEDERATION_AUDIENCE,
        subjectTokenType: env.BQGATE_FEDERATION_SUBJECT_TOKEN_TYPE ?? 'urn:ietf:params:oauth:token-type:jwt',
        tokenUrl: env.BQGATE_FEDERATION_TOKEN_URL ?? 'https://sts.googleapis.com/v1/token',
        serviceAccount: env.BQGATE_FEDERATION_SERVICE_ACCOUNT || undefined,
        fallback: env.BQGATE_FEDERATION_FALLBACK === 'gateway' ? 'gateway' : 'refuse',
        refreshBeforeMs: Number(env.BQGATE_FEDERATION_REFRESH_BEFORE_MS ?? 300_000),
      } : undefined,
      ...overrides.upstreamAuth,
    },
    defaultWaitMs: Number(overrides.defaultWaitMs ?? env.BQGATE_DEFAULT_WAIT_MS ?? 10_000),
    deadlineMs: Number(overrides.deadlineMs ?? env.BQGATE_DEADLINE_MS ?? 60_000),
    logLevel: overrides.logLevel ?? env.BQGATE_LOG_LEVEL ?? 'info',
    limits: {
      ratePerMinute: Number(env.BQGATE_RATE_LIMIT ?? 1200), maxConcurrent: Number(env.BQGATE_MAX_CONCURRENT ?? 32), maxBodyBytes: Number(env.BQGATE_MAX_BODY_BYTES ?? 10 * 1024 * 1024),
      headersTimeoutMs: Number(env.BQGATE_HEADERS_TIMEOUT_MS ?? 10_000), requestTimeoutMs: Number(env.BQGATE_REQUEST_TIMEOUT_MS ?? 30_000),
      inflightLeaseMs: Number(env.BQGATE_INFLIGHT_LEASE_MS ?? 30_000), ...overrides.limits,
    },
    analyzer: {
      sqlLimits: sqlLimitsFrom(env), processes: Math.max(1, Number(env.BQGATE_ANALYZER_PROCESSES ?? 2)),
      deadlineMs: Number(env.BQGATE_ANALYZER_DEADLINE_MS ?? 10_000), quarantineMs: Number(env.BQGATE_ANALYZER_QUARANTINE_MS ?? 600_000), ...overrides.analyzer,
    },
    shutdown: { delayMs: Number(env.BQGATE_SHUTDOWN_DELAY_MS ?? 0), timeoutMs: Number(env.BQGATE_SHUTDOWN_TIMEOUT_MS ?? 30_000), ...overrides.shutdown },
    approvals: {
      webhooks: (env.BQGATE_APPROVAL_WEBHOOKS ?? '').split(',').map((x) => x.trim()).filter(Boolean),
      slackWebhooks: (env.BQGATE_APPROVAL_SLACK_WEBHOOKS ?? '').split(',').map((x) => x.trim()).filter(Boolean),
      ...overrides.approvals,
    },
    console: {
      clientId: env.BQGATE_CONSOLE_CLIENT_ID ?? 'bqgate-console', scope: env.BQGATE_CONSOLE_SCOPE ?? 'openid email groups',
      devLogin: env.BQGATE_DEV_LOGIN ? /^(1|on|true|yes)$/i.test(env.BQGATE_DEV_LOGIN) : /^(127\.|localhost$|::1$)/.test(overrides.host ?? env.BQGATE_HOST ?? '127.0.0.1'),
      project: env.BQGATE_CONSOLE_PROJECT ?? 'demo-project', distDir: resolve(env.BQGATE_CONSOLE_DIR ?? new URL('../console/dist', import.meta.url).pathname),
      ...overrides.console,
    },
    mcp: mcpConfig(host, port, env, overrides.mcp),
    storage: storageConfig(port, upstream, env, overrides.storage),
    audit: {
      postgresUrl: env.BQGATE_AUDIT_POSTGRES || env.BQGATE_POSTGRES || undefined,
      rowsCap: Number(env.BQGATE_AUDIT_ROWS ?? 100),
      checkpointEvery: Number(env.BQGATE_AUDIT_CHECKPOINT_EVERY ?? 1000),
      checkpointIntervalMs: Number(env.BQGATE_AUDIT_CHECKPOINT_MS ?? 10_000),
      retentionMs: env.BQGATE_AUDIT_RETENTION_DAYS ? Number(env.BQGATE_AUDIT_RETENTION_DAYS) * 86_400_000 : undefined,
      sessionGapMs: Number(env.BQGATE_SESSION_GAP_MIN ?? 30) * 60_000,
      sqliteThread: env.BQGATE_AUDIT_SQLITE_THREAD === '1',
      sinks: (env.BQGATE_AUDIT_SINKS ?? '').split(',').map((x) => x.trim()).filter(Boolean),
      ...overrides.audit,
    },
  };
  return cfg;
}

/**
 * BQGATE_PUBLIC_URL checked: an http(s) origin with an optional path, returned without a trailing
 * slash; unset, the listen address `http://host:port`. Throws naming the variable otherwise.
 */
function publicUrl(value: string | undefined, host: string, port: number): string {
  if (!value) return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  let u: URL;
  try { u = new URL(value); } catch { throw new Error(`BQGATE_PUBLIC_URL ${JSON.stringify(value)} is not a URL (expected e.g. https://bqgate.example.com)`); }
  if (!/^https?:$/.test(u.protocol) || u.search || u.hash || u.username || u.password) throw new Error(`BQGATE_PUBLIC_URL ${JSON.stringify(value)}: expected an http(s) URL without query, fragment or credentials`);
  return `${u.origin}${u.pathname.replace(/\/+$/, '')}`;
}

/** The MCP door's settings from BQGATE_MCP_* (table above); `overrides` win. */
function mcpConfig(host: string, port: number, env: NodeJS.ProcessEnv, overrides: Partial<McpConfig> = {}): McpConfig {
  const requiredScopes = list(env.BQGATE_MCP_REQUIRED_SCOPES);
  const scopes = list(env.BQGATE_MCP_SCOPES);
  return {
    resource: env.BQGATE_MCP_RESOURCE || `http://${host}:${port}/mcp`,
    audiences: list(env.BQGATE_MCP_AUDIENCES),
    requiredScopes,
    scopesSupported: scopes.length ? scopes : requiredScopes.length ? requiredScopes : ['openid', 'email', 'groups'],
    allowedOrigins: env.BQGATE_MCP_ALLOWED_ORIGINS ? list(env.BQGATE_MCP_ALLOWED_ORIGINS) : ['localhost', '127.0.0.1', '[::1]'],
    sessions: {
      total: Number(env.BQGATE_MCP_MAX_SESSIONS ?? 1024), perPrincipal: Number(env.BQGATE_MCP_MAX_SESSIONS_PER_PRINCIPAL ?? 16),
      idleMs: 1000 * Number(env.BQGATE_MCP_SESSION_IDLE_SEC ?? 1800),
    },
    ...overrides,
  };
}

/** The embedded issuer's URL for a configuration: `http://host:port`. */
export function devIssuerUrl(cfg: Pick<Config, 'host' | 'port'>): string {
  return `http://${cfg.host}:${cfg.port}`;
}
