/**
 * Re-execution for investigators (`POST /bqgate/v1/audit/requests/{requestId}/reexecute`, CLI
 * `bqgate sessions reexecute`): a recorded query is analyzed and decided again as the original
 * principal (the subject, groups, email and actor the audit recorded, at the original instant), its
 * tables read `FOR SYSTEM_TIME AS OF` the original request time (BigQuery time travel,
 * https://cloud.google.com/bigquery/docs/time-travel), masked as that principal is masked, and the
 * rows compared with what the audit says was delivered, page by page.
 *
 * Credential: the one the original job ran with when the gateway can hold it again — its service
 * account (an allow rule's upstream_service_account, or per-group impersonation), or the gateway's
 * own. A job that ran with the principal's federated token (Workload Identity Federation) is re-run
 * with that token only while this replica still caches the principal's exchange; otherwise with the
 * gateway credential, and `credential.note` says so (an investigator cannot obtain the user's token).
 *
 * Only members of the policy's `roles.auditors` (or `roles.admins`) may re-execute. The re-execution
 * is itself an audited request of the auditor (request, decision, upstream SQL, response).
 *
 * Comparison, per delivered page: the SHA-256 of the page's rows (`rowsSha256`, f/v cells as
 * delivered) against the same rows of the re-execution, and the recorded sample rows cell by cell.
 * Columns fed by a RANDOM_HASH mask (a fresh salt per query) are not comparable and are left out of
 * the cell comparison; pages holding them are compared on the other columns only.
 *
 * Errors (BigQuery envelope): accessDenied (not an auditor), notFound (no such request),
 * invalidQuery (not an allowed query, time travel or wildcard in the original, outside BigQuery's
 * time travel window — from the upstream).
 */
import { BigQueryError, type Operation } from '../bigquery/index.js';
import type { Principal } from '../auth/index.js';
import { requestsOf, recordedPrincipal, type AuditLog, type RequestRecord } from '../audit/index.js';
import type { JobStore } from '../state/index.js';
import { decideStatement } from '../policy/index.js';
import { redactMaskSecrets } from '../rewrite/index.js';
import { upstreamStatement } from './statement.js';
import { upstreamError, storedIdentity, declaredOf, type Upstream, type UpstreamCredentials, type UpstreamIdentity } from '../upstream/index.js';
import type { AuthClient } from 'google-auth-library';
import { deliverPage } from '../deliver/index.js';
import type { Analyzer, QueryAnalysis } from '../sql/index.js';
import { enc, requireAuditor, type Ctx, type Outcome } from './context.js';
import { createHash } from 'node:crypto';

export interface ReexecuteDeps {
  auditLog: AuditLog;
  store: JobStore;
  analyzer: Analyzer;
  upstream: Upstream;
  hmacKey: Buffer;
  credentials: UpstreamCredentials;
  /** Most rows read back from the re-execution (default 100 000). */
  maxRows?: number;
}

type Row = { f: Array<{ v: unknown }> };
type Delivery = RequestRecord['deliveries'][number];

/** One delivered page against the re-execution. `match`: null when the page's place in the result is unknown. */
export interface PageComparison { requestId: string; startIndex?: number; rows: number; match: boolean | null; why?: string }

/** The answer of a re-execution (`kind: bqgate#reexecution`). Times are RFC 3339. */
export interface Reexecution {
  kind: 'bqgate#reexecution';
  requestId: string;
  principal: string;
  actor?: string;
  jobId?: string;
  asOf: string;
  policyVersion: { recorded?: string; now: string };
  /** The re-execution's decision under today's policy for the original principal. */
  decision: { effect: 'allow' | 'deny'; matchedRules: string[]; reasons: string[] };
  /** The SQL sent upstream, mask secrets redacted. */
  upstreamSql?: string;
  delivered: { pages: number; rows: number };
  reexecuted?: { jobId: string; totalRows: number; rowsRead: number };
  /** The upstream identity that ran the re-execution (and why, when it is not the original job's). */
  credential?: { identity: UpstreamIdentity; original?: UpstreamIdentity; note?: string };
  pages: PageComparison[];
  /** Output columns left out of the comparison, and why. */
  notCompared: Array<{ column: string; why: string }>;
  firstDifference?: { requestId: string; row: number; column: string; delivered: unknown; reexecuted: unknown };
  /** `match`: every placed page matches; `differs`: some page differs; `denied`: today's policy refuses it; `unknown`: nothing could be compared. */
  verdict: 'match' | 'differs' | 'denied' | 'unknown';
  /** The first re-executed rows (up to 20), masked as the original principal's. */
  sample: Row[];
}

const sha = (rows: unknown) => createHash('sha256').update(JSON.stringify(rows)).digest('hex');

/** Whether the request asked for int64 timestamps (CONTRACT.md §6). */
const int64Of = (r: RequestRecord) => r.operation === 'jobs.query' ? !!r.formatOptions?.useInt64Timestamp
  : r.query?.['formatOptions.useInt64Timestamp'] === 'true';

/**
 * The delivered pages of a job with their first row: a page without pageToken/startIndex starts at
 * 0 (or at startIndex), a page asked for with a token starts where the page that handed that token
 * out ended.
 */
export function placePages(requests: RequestRecord[]): Array<{ request: RequestRecord; delivery: Delivery; start?: number }> {
  const ends = new Map<string, number>(); // nextPageToken → first row of the page it asks for
  const out: Array<{ request: RequestRecord; delivery: Delivery; start?: number }> = [];
  for (const request of requests) {
    for (const delivery of request.deliveries) {
      const token = request.query?.pageToken;
      const start = token !== undefined ? ends.get(token)
        : request.query?.startIndex !== undefined ? Number(request.query.startIndex) : 0;
      if (start !== undefined && delivery.nextPageToken) ends.set(delivery.nextPageToken, start + delivery.rows);
      out.push({ request, delivery, start });
    }
  }
  return out;
}

export function reexecuteOperations(d: ReexecuteDeps): Pick<Record<Operation, (c: Ctx) => Promise<Outcome>>, 'audit.reexecute'> {
  const maxRows = d.maxRows ?? 100_000;

  /** Reads `[0, want)` rows of an upstream job's result in the format asked for, through the delivery backstop. */
  async function readRows(projectId: string, jobId: string, location: string | undefined, want: number, int64: boolean, backstop: number[] | undefined, as: AuthClient) {
    const rows: Row[] = [];
    let total = 0;
    for (;;) {
      const r = await d.upstream.call('GET', `/projects/${enc(projectId)}/queries/${enc(jobId)}`, {
        query: { startIndex: String(rows.length), maxResults: String(Math.min(10_000, want - rows.length)), timeoutMs: '10000', location, 'formatOptions.useInt64Timestamp': int64 ? 'true' : undefined }, as,
      });
      if (r.status >= 300) throw upstreamError(r);
      if (!r.body.jobComplete) continue;
      const page = deliverPage(r.body, 'bigquery#getQueryResultsResponse', backstop);
      total = Number(page.body.totalRows ?? 0);
      rows.push(...((page.body.rows ?? []) as Row[]));
      if (rows.length >= Math.min(want, total) || !(page.body.rows ?? []).length) return { rows, total };
    }
  }

  return {
    'audit.reexecute': async (c) => {
      requireAuditor(c, 're-execution');
      const requestId = c.req.params.requestId!;
      const [rec] = requestsOf(await d.auditLog.events({ requestId }));
      if (!rec) throw new BigQueryError('notFound', `Not found: audit request ${requestId}`);
      if (!rec.sql || !['jobs.query', 'jobs.insert'].includes(rec.operation)) throw new BigQueryError('invalidQuery', `Audit request ${requestId} is ${rec.operation || 'not a request'}, not a query; re-execute the jobs.query or jobs.insert request that carried the SQL.`);
      if (rec.decision?.effect !== 'allow') throw new BigQueryError('invalidQuery', `Audit request ${requestId} was refused (${rec.decision?.reasons?.[0] ?? 'no decision recorded'}); nothing was delivered to compare with.`);
      const projectId = rec.projectId ?? c.req.params.projectId ?? '';
      const jobId = rec.upstream?.jobId;
      // The job's pages, from every request of that principal that delivered them (polls included).
      const later = requestsOf(await d.auditLog.events({ principal: rec.principal, since: rec.ts }))
        .filter((r) => r.issuer === rec.issuer && jobId !== undefined && r.upstream?.jobId === jobId);
      const placed = placePages(later.length ? later : [rec]);
      const asOf = new Date(rec.ts).toISOString();
      const principal = recordedPrincipal(rec);
      const query = { projectId, defaultDataset: rec.defaultDataset, queryParameters: rec.parameters as never };
      const analysis: QueryAnalysis = await d.analyzer.analyze({ sql: rec.sql, ...query });
      const decision = decideStatement(c.policy, principal, analysis, rec.ts);
      const out: Reexecution = {
        kind: 'bqgate#reexecution', requestId, principal: rec.principal, actor: rec.actor, jobId, asOf,
        policyVersion: { recorded: rec.decision.policyVersion, now: c.policy.version },
        decision: { effect: decision.effect, matchedRules: decision.matchedRules, reasons: decision.reasons },
        delivered: { pages: placed.length, rows: placed.reduce((n, p) => n + p.delivery.rows, 0) },
        pages: [], notCompared: [], verdict: 'unknown', sample: [],
      };
      if (decision.effect === 'deny') return { body: { ...out, verdict: 'denied' } };

      const rw = await upstreamStatement(d.analyzer, { sql: rec.sql, ...query }, analysis, decision, d.hmacKey, { asOf });
      out.upstreamSql = redactMaskSecrets(rw.sql);
      c.audit = { decision: 'allow', matchedRules: decision.matchedRules, reasons: [`re-execution of ${requestId} as ${rec.principal} as of ${asOf}`], policyVersion: c.policy.version, upstreamSql: out.upstreamSql };

      const random = new Set(Object.entries(decision.masks).flatMap(([t, cols]) => Object.entries(cols).filter(([, m]) => m.rule === 'RANDOM_HASH').map(([col]) => `${t}.${col}`)));
      const skip = new Set(analysis.lineage.map((l, i) => (l.sources.some((s) => random.has(`${s.table}.${s.column}`)) ? i : -1)).filter((i) => i >= 0));
      out.notCompared = [...skip].map((i) => ({ column: analysis.lineage[i].name, why: 'RANDOM_HASH mask (a fresh salt per query)' }));

      const job = jobId ? await d.store.getJobAnyOwner(projectId, jobId) : undefined;
      const original = job ? storedIdentity(job.upstreamIdentity) : undefined;
      let client: AuthClient;
      try {
        const cred = await d.credentials.forJob(principal, undefined, original, decision.upstreamServiceAccount);
        client = cred.client;
        out.credential = { identity: cred.identity, ...(original ? { original } : {}) };
      } catch {
        client = d.credentials.gateway;
        out.credential = { identity: 'gateway', original, note: `the original job ran with ${rec.principal}'s federated token, which an investigator cannot obtain; the gateway credential ran the re-execution` };
      }
      const r = await d.upstream.call('POST', `/projects/${enc(projectId)}/queries`, {
        as: client, declared: declaredOf(rw.analysis),
        body: { query: rw.sql, useLegacySql: false, defaultDataset: rec.defaultDataset, queryParameters: rec.parameters, maxResults: 0, timeoutMs: 60_000, labels: { bqgate_reexecution_of: requestId.toLowerCase().replace(/[^a-z0-9_-]/g, '_').slice(0, 63) } },
      });
      if (r.status >= 300) throw upstreamError(r);
      const ref = r.body.jobReference;
      const want = Math.min(maxRows, Math.max(20, ...placed.map((p) => (p.start ?? 0) + p.delivery.rows)));
      const backstop = job?.backstopColumns;
      const formats = new Map<boolean, Awaited<ReturnType<typeof readRows>>>();
      const rowsIn = async (int64: boolean) => {
        if (!formats.has(int64)) formats.set(int64, await readRows(projectId, ref.jobId, ref.location, want, int64, backstop, client));
        return formats.get(int64)!;
      };
      const first = await rowsIn(placed[0] ? int64Of(placed[0].request) : true);
      out.reexecuted = { jobId: ref.jobId, totalRows: first.total, rowsRead: first.rows.length };
      out.sample = first.rows.slice(0, 20);

      const strip = (row: Row) => ({ f: row.f.filter((_, i) => !skip.has(i)) });
      for (const p of placed) {
        const cmp: PageComparison = { requestId: p.request.requestId, startIndex: p.start, rows: p.delivery.rows, match: null };
        out.pages.push(cmp);
        if (p.start === undefined) { cmp.why = 'the page was asked for with a token bqgate did not see handed out'; continue; }
        const { rows } = await rowsIn(int64Of(p.request));
        const mine = rows.slice(p.start, p.start + p.delivery.rows);
        if (mine.length < p.delivery.rows) { cmp.match = false; cmp.why = `the re-execution has ${Math.max(0, rows.length - p.start)} rows from row ${p.start}`; }
        else if (skip.size === 0 && p.delivery.rowsSha256) cmp.match = sha(mine) === p.delivery.rowsSha256;
        else cmp.match = sha((p.delivery.sample as Row[]).map(strip)) === sha(mine.slice(0, p.delivery.sample.length).map(strip));
        if (cmp.match === false && !out.firstDifference) {
          (p.delivery.sample as Row[]).some((row, i) => row.f.some((cell, j) => {
            const now = mine[i]?.f[j]?.v;
            if (skip.has(j) || JSON.stringify(cell.v) === JSON.stringify(now)) return false;
            out.firstDifference = { requestId: p.request.requestId, row: p.start! + i, column: p.delivery.columns[j] ?? `f${j}_`, delivered: cell.v, reexecuted: now };
            return true;
          }));
        }
      }
      const placedPages = out.pages.filter((p) => p.match !== null);
      out.verdict = placedPages.length === 0 ? 'unknown' : placedPages.every((p) => p.match) ? 'match' : 'differs';
      return { body: out, audit: { ...c.audit, jobId: ref.jobId } };
    },
  };
}
