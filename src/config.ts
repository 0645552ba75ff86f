/**
 * Gateway configuration: embedded defaults, overridden by environment variables and CLI flags.
 *
 * | setting | env | default |
 * |---|---|---|
 * | listen host / port | BQGATE_HOST, BQGATE_PORT | 127.0.0.1, 9050 |
 * | data directory (keys, SQLite) | BQGATE_DATA_DIR | ./.bqgate |
 * | policy files | BQGATE_POLICIES | ./policies |
 * | upstream | BQGATE_UPSTREAM | `emulator` (embedded), or a URL such as https://bigquery.googleapis.com |
 * | emulator port / fixtures | BQGATE_EMULATOR_PORT, BQGATE_FIXTURES | 9060, ./fixtures |
 * | OIDC issuer / audience / JWKS | BQGATE_ISSUER, BQGATE_AUDIENCE, BQGATE_JWKS_URL | the embedded dev issuer at the gateway's URL, `bqgate` |
 * | audit log in PostgreSQL | BQGATE_AUDIT_POSTGRES (postgres://…) | SQLite `<data dir>/audit.sqlite` |
 * | delivered rows recorded per page | BQGATE_AUDIT_ROWS | 100 |
 * | checkpoint every N events / T ms | BQGATE_AUDIT_CHECKPOINT_EVERY, BQGATE_AUDIT_CHECKPOINT_MS | 1000, 10000 |
 * | retention of event bodies, days | BQGATE_AUDIT_RETENTION_DAYS | unset (kept) |
 * | session idle gap, minutes | BQGATE_SESSION_GAP_MIN | 30 |
 * | SQLite audit log on a worker thread | BQGATE_AUDIT_SQLITE_THREAD=1 | off |
 * | approval notifications: generic JSON / Slack incoming webhooks (comma-separated URLs) | BQGATE_APPROVAL_WEBHOOKS, BQGATE_APPROVAL_SLACK_WEBHOOKS | none |
 * | SIEM sinks (comma-separated: jsonl:PATH, https://…, syslog+tcp://…, syslog+tls://…) | BQGATE_AUDIT_SINKS | none |
 */
import { resolve } from 'node:path';

export interface Config {
  host: string;
  port: number;
  dataDir: string;
  policiesDir: string;
  /** `emulator` starts the embedded emulator; otherwise the base URL of the BigQuery REST API. */
  upstream: string;
  emulatorPort: number;
  fixturesDir: string;
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
  /** Default and maximum long-poll wait for getQueryResults / jobs.query, ms. */
  defaultWaitMs: number;
  logLevel: string;
  approvals: { webhooks: string[]; slackWebhooks: string[] };
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

/** Builds the configuration from `env` and explicit overrides (CLI flags win). */
export function loadConfig(overrides: Partial<Config> = {}, env: NodeJS.ProcessEnv = process.env): Config {
  const port = Number(overrides.port ?? env.BQGATE_PORT ?? 9050);
  const host = overrides.host ?? env.BQGATE_HOST ?? '127.0.0.1';
  const cfg: Config = {
    host,
    port,
    dataDir: resolve(overrides.dataDir ?? env.BQGATE_DATA_DIR ?? '.bqgate'),
    policiesDir: resolve(overrides.policiesDir ?? env.BQGATE_POLICIES ?? 'policies'),
    upstream: overrides.upstream ?? env.BQGATE_UPSTREAM ?? 'emulator',
    emulatorPort: Number(overrides.emulatorPort ?? env.BQGATE_EMULATOR_PORT ?? 9060),
    fixturesDir: resolve(overrides.fixturesDir ?? env.BQGATE_FIXTURES ?? 'fixtures'),
    auth: {
      issuer: env.BQGATE_ISSUER ?? '',
      audience: env.BQGATE_AUDIENCE ?? 'bqgate',
      jwksUrl: env.BQGATE_JWKS_URL,
      algorithms: (env.BQGATE_ALGORITHMS ?? 'RS256,ES256,EdDSA').split(','),
      clockToleranceSec: Number(env.BQGATE_CLOCK_TOLERANCE_SEC ?? 30),
      groupsClaim: env.BQGATE_GROUPS_CLAIM ?? 'groups',
      ...overrides.auth,
    },
    defaultWaitMs: Number(overrides.defaultWaitMs ?? env.BQGATE_DEFAULT_WAIT_MS ?? 10_000),
    logLevel: overrides.logLevel ?? env.BQGATE_LOG_LEVEL ?? 'info',
    approvals: {
      webhooks: (env.BQGATE_APPROVAL_WEBHOOKS ?? '').split(',').map((x) => x.trim()).filter(Boolean),
      slackWebhooks: (env.BQGATE_APPROVAL_SLACK_WEBHOOKS ?? '').split(',').map((x) => x.trim()).filter(Boolean),
      ...overrides.approvals,
    },
    audit: {
      postgresUrl: env.BQGATE_AUDIT_POSTGRES || undefined,
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

/** The embedded issuer's URL for a configuration: `http://host:port`. */
export function devIssuerUrl(cfg: Pick<Config, 'host' | 'port'>): string {
  return `http://${cfg.host}:${cfg.port}`;
}
