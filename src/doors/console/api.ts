/**
 * The API behind the web console, served through the gateway's authenticated, audited pipeline
 * like every other call (an auditor reading sessions is itself audited):
 *
 * - `GET  /bqgate/v1/me` (`console.me`): the caller and its console roles (policy `roles`, see
 *   policy `rolesOf`).
 * - `GET  /bqgate/v1/sessions` (`sessions.list`, auditors): sessions newest first, filtered by
 *   `principal`, `actor`, `table`, `column`, `decision` (allow|deny), `since`/`until` (ISO 8601),
 *   `gap` (minutes, default BQGATE_SESSION_GAP_MIN); at most `limit` (default 200).
 * - `GET  /bqgate/v1/sessions/{sessionId}` (`sessions.get`, auditors): the session's requests as
 *   the audit recorded them (SQL, decision and reasons, approval steps, the rows delivered as
 *   delivered, timings), with `verification`: its events checked against the latest signed
 *   checkpoint (audit verifyEvents).
 * - `POST /bqgate/v1/policy/explain` without `principal` (any caller): `{sql, projectId?}` → the
 *   caller's own decision (explainSelf below; the MCP tool explain_access).
 * - `POST /bqgate/v1/policy/explain` (`policy.explain`, auditors): `{principal: {sub, groups,
 *   email?, act?}, sql, projectId?, defaultDataset?}` → the analysis summary, the decision (masks,
 *   row filters, approvals), the rule trace, and the SQL that would go upstream (keyed-mask secrets
 *   redacted). Nothing is run.
 * - `GET  /bqgate/v1/audit/stats` (`audit.stats`, auditors): per principal and time bucket, the
 *   queries asked (jobs.query / jobs.insert with SQL), the requests denied (any operation) and the
 *   bytes delivered (response payloads), over `since`..`until` (default the last 24 h), in buckets of
 *   `bucketMs` (default an hour; at least a minute, at most 500 buckets) that start on multiples of
 *   `bucketMs` since the epoch (`t`, ms).
 *
 * - `POST /bqgate/v1/policy/diff` (`policy.diff`, auditors): the proposed-policy mode (policy-diff.ts).
 *
 * Refusals are BigQuery error envelopes: accessDenied naming the role and the groups that hold it,
 * notFound for an unknown session, invalidQuery for SQL the analyzer refuses.
 */
import { BigQueryError, type Operation } from '../../bigquery/index.js';
import { requestsOf, sessionsOf, verifyEvents, type AuditLog, type RequestRecord } from '../../audit/index.js';
import { explain, rolesOf, hasAnyAllow, requireAnyAllow, rulesFor, nameGlob } from '../../policy/index.js';
import { principalFromClaims } from '../../policy/testing.js';
import { redactMaskSecrets } from '../../rewrite/index.js';
import { upstreamStatement } from '../../pipeline/statement.js';
import type { Analyzer } from '../../sql/index.js';
import { requireAuditor, type Ctx, type Outcome } from '../../pipeline/context.js';
import { policyDiffOperation } from './policy-diff.js';

export interface ConsoleApiDeps {
  auditLog: AuditLog;
  analyzer: Analyzer;
  hmacKey: Buffer;
  /** Default session idle gap, ms (a request's `gap` overrides it, in minutes). */
  sessionGapMs: number;
  /** The structural checks every statement passes before analysis (sql/pool.ts `precheck`). */
  precheck?: (sql: string) => void;
  /** Today's catalog (policy diff: whether a recorded job's destinationTable exists). */
  catalog?: { getTable(table: string): Promise<unknown> };
}

type ConsoleOps = 'console.me' | 'sessions.list' | 'sessions.get' | 'policy.explain' | 'audit.stats' | 'policy.diff';

const HOUR = 3_600_000;

const time = (v: string | undefined, name: string) => {
  if (!v) return undefined;
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw new BigQueryError('invalid', `Invalid ${name}: ${JSON.stringify(v).slice(0, 60)} is not an ISO 8601 time`);
  return t;
};

const queryOf = (r: RequestRecord) => r.sql !== undefined && (r.operation === 'jobs.query' || r.operation === 'jobs.insert');

export function consoleOperations(d: ConsoleApiDeps): Pick<Record<Operation, (c: Ctx) => Promise<Outcome>>, ConsoleOps> {
  /** Requests matching the caller's filters, and their sessions. */
  async function find(c: Ctx, extra: { principal?: string; since?: number } = {}) {
    const q = c.req.query;
    const decision = q.decision === 'allow' || q.decision === 'deny' ? q.decision : undefined;
    const events = await d.auditLog.events({
      principal: extra.principal ?? (q.principal || undefined), actor: q.actor || undefined, table: q.table || undefined, column: q.column || undefined,
      decision, since: extra.since ?? time(q.since, 'since'), until: time(q.until, 'until'),
    });
    const requests = requestsOf(events);
    return { requests, sessions: sessionsOf(requests, q.gap !== undefined ? Number(q.gap) * 60_000 : d.sessionGapMs) };
  }

  /**
   * `policy.explain` without `principal`: the caller's own decision for `sql` (any caller, no role):
   * allowed or denied and by which rules, the masks by column, the denied columns, the tables whose
   * rows are filtered and by which rules (never the predicates), the limits and the approvals it
   * would need. No upstream SQL. A caller no allow rule applies to is answered without analysis.
   */
  async function explainSelf(c: Ctx, b: any): Promise<Outcome> {
    if (typeof b.sql !== 'string' || !b.sql.trim()) throw new BigQueryError('invalid', 'sql is required');
    const base = { kind: 'bqgate#accessExplanation', principal: c.principal.subject, policyVersion: c.policy.version };
    if (!hasAnyAllow(c.policy, c.principal)) {
      try { requireAnyAllow(c.policy, c.principal); } catch (e) { return { body: { ...base, effect: 'deny', reasons: [(e as Error).message], matchedRules: [] } }; }
    }
    d.precheck?.(b.sql);
    const projectId = typeof b.projectId === 'string' && b.projectId ? b.projectId : (c.req.params.projectId ?? 'demo-project');
    const defaultDataset = typeof b.defaultDataset === 'string' && b.defaultDataset ? { projectId, datasetId: b.defaultDataset } : undefined;
    const analysis = await d.analyzer.analyze({ sql: b.sql, projectId, defaultDataset });
    const { decision } = explain(c.policy, c.principal, analysis);
    const summary = { ...base, effect: decision.effect, reasons: decision.reasons, matchedRules: decision.matchedRules, analysis: { statementKind: analysis.statementKind, tablesRead: analysis.tablesRead, tablesWritten: analysis.tablesWritten } };
    if (decision.effect === 'deny') return { body: summary };
    const rules = rulesFor(c.policy, c.principal);
    const rowFilteredTables = Object.fromEntries(Object.keys(decision.rowFilters).map((t) => [t, rules.filter((r) => r.effect === 'filter' && r.tables?.some((g) => nameGlob(g, t))).map((r) => r.id)]));
    const masks = Object.fromEntries(Object.entries(decision.masks).map(([t, cols]) => [t, Object.fromEntries(Object.entries(cols).map(([col, m]) => [col, { rule: m.rule, ruleId: m.ruleId }]))]));
    return { body: { ...summary, masks, deniedColumns: decision.deniedColumns, rowFilteredTables, limits: decision.limits, approvals: decision.approvals ?? [] } };
  }

  return {
    ...policyDiffOperation(d),
    'console.me': async (c) => {
      const { subject, email, groups, actor, issuer } = c.principal;
      return { body: { kind: 'bqgate#principal', subject, email, groups, actor, issuer, roles: rolesOf(c.policy, groups), policyVersion: c.policy.version } };
    },

    'sessions.list': async (c) => {
      requireAuditor(c, 'reading sessions');
      const limit = Math.min(1000, Math.max(1, Number(c.req.query.limit ?? 200) || 200));
      const { sessions } = await find(c);
      return { body: { kind: 'bqgate#sessionList', sessions: sessions.slice(0, limit).map(({ requestIds: _ids, ...s }) => s), truncated: sessions.length > limit } };
    },

    'sessions.get': async (c) => {
      requireAuditor(c, 'reading sessions');
      const id = c.req.params.sessionId!;
      // Narrow the read by what the id says: `<principal>@<ISO start>` or `key:<principal>:<key>`.
      const at = id.lastIndexOf('@');
      const start = at > 0 && !id.startsWith('key:') ? Date.parse(id.slice(at + 1)) : NaN;
      const candidates = !Number.isNaN(start) ? [{ principal: id.slice(0, at), since: start }]
        : id.startsWith('key:') ? [...id.slice(4).matchAll(/:/g)].map((m) => ({ principal: id.slice(4, 4 + m.index!) })) : [];
      for (const narrow of candidates) {
        const { sessions, requests } = await find(c, narrow);
        const s = sessions.find((x) => x.id === id);
        if (!s) continue;
        const mine = requests.filter((r) => s.requestIds.includes(r.requestId));
        const verification = await verifyEvents(d.auditLog, mine.flatMap((r) => r.seqs));
        const { requestIds: _ids, ...session } = s;
        return { body: { kind: 'bqgate#session', session, requests: mine, verification } };
      }
      throw new BigQueryError('notFound', `Not found: session ${id} (list them with GET /bqgate/v1/sessions)`);
    },

    'policy.explain': async (c) => {
      const b = c.req.body ?? {};
      if (b.principal === undefined) return explainSelf(c, b);
      requireAuditor(c, 'the policy playground');
      const who = b.principal ?? {};
      if (typeof who.sub !== 'string' || !who.sub) throw new BigQueryError('invalid', 'principal.sub is required: the subject whose decision to explain');
      if (typeof b.sql !== 'string' || !b.sql.trim()) throw new BigQueryError('invalid', 'sql is required');
      const principal = principalFromClaims({ sub: who.sub, groups: Array.isArray(who.groups) ? who.groups.map(String) : [], email: who.email, act: who.act });
      const projectId = typeof b.projectId === 'string' && b.projectId ? b.projectId : (c.req.params.projectId ?? 'demo-project');
      const defaultDataset = typeof b.defaultDataset === 'string' && b.defaultDataset ? { projectId, datasetId: b.defaultDataset } : undefined;
      const analysis = await d.analyzer.analyze({ sql: b.sql, projectId, defaultDataset });
      const { decision, trace } = explain(c.policy, principal, analysis);
      let upstreamSql: string | undefined;
      if (decision.effect !== 'deny') upstreamSql = redactMaskSecrets((await upstreamStatement(d.analyzer, { sql: b.sql, projectId, defaultDataset }, analysis, decision, d.hmacKey)).sql);
      return {
        body: {
          kind: 'bqgate#explanation', policyVersion: c.policy.version,
          analysis: { statementKind: analysis.statementKind, tablesRead: analysis.tablesRead, tablesWritten: analysis.tablesWritten, columnsRead: analysis.columnsRead },
          decision, trace, upstreamSql,
        },
      };
    },

    'audit.stats': async (c) => {
      requireAuditor(c, 'audit statistics');
      const until = time(c.req.query.until, 'until') ?? Date.now();
      const since = time(c.req.query.since, 'since') ?? until - 24 * HOUR;
      const bucketMs = Math.max(60_000, Number(c.req.query.bucketMs ?? HOUR) || HOUR, Math.ceil((until - since) / 500));
      const requests = requestsOf(await d.auditLog.events({ since, until }));
      const series = new Map<string, Map<number, { t: number; queries: number; denied: number; bytes: number }>>();
      for (const r of requests) {
        const t = Math.floor(r.ts / bucketMs) * bucketMs; // bucket starts on multiples of bucketMs since the epoch
        const byT = series.get(r.principal) ?? new Map();
        series.set(r.principal, byT);
        const point = byT.get(t) ?? { t, queries: 0, denied: 0, bytes: 0 };
        byT.set(t, point);
        if (queryOf(r)) point.queries++;
        if (r.decision?.effect === 'deny') point.denied++;
        point.bytes += r.deliveries.reduce((n, x) => n + x.bytes, 0);
      }
      return {
        body: {
          kind: 'bqgate#auditStats', since: new Date(since).toISOString(), until: new Date(until).toISOString(), bucketMs,
          series: [...series].map(([principal, byT]) => ({ principal, points: [...byT.values()].sort((a, b) => a.t - b.t) })),
        },
      };
    },
  };
}
