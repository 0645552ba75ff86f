/**
 * The diff over recorded traffic: every statement the audit log recorded in a window, analyzed
 * against today's catalog and decided under the current and the proposed policy.
 *
 * Reading: the log's `request` events in pages of `pageSize` events (a keyset cursor over the event
 * sequence, `fromSeq`), so a month of a busy gateway is never in memory at once; only requests that
 * carried SQL and a verified principal count. Each request's identity is the one the audit recorded
 * (subject, issuer, groups, email, actor — other claims are not recorded), with its job project,
 * default dataset and query parameters.
 *
 * Dedupe: a statement is analyzed per (text, project, default dataset, parameter types) — the
 * Analyzer's cache, plus a cache of failures here — and decided once per (analysis fingerprint,
 * identity); later requests of the same pair reuse the outcome.
 *
 * Both policies decide at the same instant (`now`, default the time of the run), so a rule's
 * validity window is read the same way for both.
 *
 * A statement that analyzed when it was recorded (its decision event names a statement kind) but
 * not today (a dropped table or column) is reported under `noLongerAnalyzes` with the analyzer's
 * reason and message (literals redacted), never as a denial; one that did not analyze then either is
 * only counted (`scanned.unanalyzable`).
 */
import { createHash } from 'node:crypto';
import type { Principal } from '../../auth/index.js';
import type { AuditEvent, EventQuery, RequestRecord } from '../../audit/index.js';
import { requestsOf, recordedPrincipal } from '../../audit/index.js';
import type { AnalyzeInput, QueryAnalysis } from '../../sql/index.js';
import { textFingerprint } from '../../sql/quarantine.js';
import { allowsExternalConnection, decideStatement, glob, type Policy } from '../index.js';
import { changesBetween, type Change, type ChangeKind } from './classify.js';
import { redactLiterals, redactMessage } from './redact.js';
import { decideDestinationJob, destinationName, destinationUnits } from '../../pipeline/destination.js';

/** What the diff reads and analyzes with: the audit log (or anything with its `events`) and the gateway's Analyzer. */
export interface DiffSources {
  log: { events(q: EventQuery): Promise<AuditEvent[]> };
  analyzer: { analyze(i: AnalyzeInput): Promise<QueryAnalysis>; regenerate(i: AnalyzeInput, a: QueryAnalysis): Promise<{ sql: string }> };
  /**
   * The structural checks every statement passes before analysis (sql/pool.ts `precheck`: size
   * limits, quarantined crashers); a recorded statement it refuses is not analyzed (it counts as
   * one that does not analyze), so a logged crasher cannot take the analyzer down again.
   */
  precheck?: (sql: string) => void;
  /**
   * Whether a table exists in today's catalog (a query job's destinationTable is a CREATE TABLE AS
   * SELECT when it does not, an INSERT when it does: pipeline/destination.ts). Absent: it exists.
   */
  tableExists?: (table: string) => Promise<boolean>;
}

export interface DiffOptions {
  current: Policy;
  proposed: Policy;
  /** Window, ms since the epoch (inclusive). */
  since?: number;
  until?: number;
  /** Only this principal's requests (the recorded subject). */
  principal?: string;
  /** Only statements that read or write a table matching this glob (policy glob: `*` within a segment), as analyzed today. */
  table?: string;
  /** Stop after this many recorded statements (the report says `truncated`); none by default. */
  maxStatements?: number;
  /** Events per page (default 500). */
  pageSize?: number;
  now?: number;
  /** Called after each page with the next seq to read and the counts so far. */
  onProgress?: (p: { nextSeq: number; requests: number; statements: number }) => void;
}

/** One kind of change to one table/column, and everything it affects. */
export interface ChangeGroup extends Change {
  /** Recorded statements (requests) affected. */
  statements: number;
  /** Distinct analysis fingerprints (first 12 hex). */
  fingerprints: string[];
  principals: string[];
  groups: string[];
  /** Up to 20 affected request ids (audit request ids, for `bqgate sessions`). */
  requestIds: string[];
  /** One affected statement, literal-free (redact.ts); null when it could not be regenerated. */
  example: string | null;
}

export interface NoLongerAnalyzes {
  principal: string;
  /** BigQuery error reason (invalidQuery, notFound, …) and the analyzer's message with literals redacted. */
  reason: string;
  message: string;
  statements: number;
  /** Distinct text fingerprints (sql/quarantine.ts textFingerprint, first 12 hex). */
  fingerprints: string[];
  requestIds: string[];
}

type Counts = Partial<Record<ChangeKind, number>>;

/**
 * The diff's answer (`kind: bqgate#policyDiff`): plain JSON. Times are RFC 3339; `scanned.ms` in ms.
 * `changedStatements` counts recorded statements with at least one change; exit code 1 of the CLI.
 */
export interface DiffReport {
  kind: 'bqgate#policyDiff';
  window: { since?: string; until?: string };
  policy: { current: string; proposed: string };
  scanned: { requests: number; statements: number; decided: number; fingerprints: number; unanalyzable: number; ms: number };
  /** The run stopped at `maxStatements`: later statements of the window were not diffed. */
  truncated: boolean;
  changedStatements: number;
  changes: ChangeGroup[];
  noLongerAnalyzes: NoLongerAnalyzes[];
  byPrincipal: Array<{ principal: string; groups: string[]; statements: number; fingerprints: number; changes: Counts }>;
  byGroup: Array<{ group: string; statements: number; principals: string[]; changes: Counts }>;
  byTable: Array<{ table: string; statements: number; fingerprints: number; changes: Counts }>;
  /** Changed statements per UTC day (YYYY-MM-DD) and group of the principal (`(no group)` when none). */
  byDay: Array<{ day: string; group: string; statements: number }>;
}

const short = (h: string) => h.slice(0, 12);
const MAX_IDS = 20;

/** `DiffSources.tableExists` over a catalog whose getTable rejects `notFound` for a missing table (catalog/index.ts). */
export const tableExistsIn = (catalog: { getTable(table: string): Promise<unknown> }) => (table: string): Promise<boolean> =>
  catalog.getTable(table).then(() => true, (err) => { if ((err as { reason?: string }).reason === 'notFound') return false; throw err; });

/** The decision of a recorded statement, with its destination's write statements when the job had one (pipeline/destination.ts decideDestinationJob, as the gateway decides it). */
function decideJob(policy: Policy, principal: Principal, analysis: QueryAnalysis, units: ReturnType<typeof destinationUnits> | undefined, now: number) {
  return units ? decideDestinationJob(policy, principal, analysis, units, now).decision : decideStatement(policy, principal, analysis, now);
}

/** Recorded statements: requests with SQL from a verified principal, one page of `request` events at a time. */
async function* recordedStatements(log: DiffSources['log'], o: DiffOptions, counts: { requests: number; statements: number }): AsyncGenerator<RequestRecord> {
  const limit = o.pageSize ?? 500;
  let fromSeq = 0;
  for (;;) {
    const page = await log.events({ since: o.since, until: o.until, principal: o.principal, fromSeq, limit });
    for (const e of page) {
      if (e.type !== 'request') continue;
      counts.requests++;
      const [r] = requestsOf([e]);
      if (typeof r.sql === 'string' && r.sql.trim() && r.issuer && r.principal !== '(unauthenticated)') yield r;
    }
    if (page.length) fromSeq = page[page.length - 1].seq + 1;
    o.onProgress?.({ nextSeq: fromSeq, requests: counts.requests, statements: counts.statements });
    if (page.length < limit) return;
  }
}

/** Bounded insertion-ordered cache. */
function remember<K, V>(m: Map<K, V>, k: K, v: V, max = 10_000) { m.set(k, v); if (m.size > max) m.delete(m.keys().next().value as K); return v; }

/** Runs the diff (see the module comment). Throws only when the log cannot be read. */
export async function diffTraffic(src: DiffSources, o: DiffOptions): Promise<DiffReport> {
  const t0 = performance.now();
  const now = o.now ?? Date.now();
  const counts = { requests: 0, statements: 0 };
  const scanned = { requests: 0, statements: 0, decided: 0, fingerprints: 0, unanalyzable: 0, ms: 0 };
  const failures = new Map<string, { reason: string; message: string }>();
  const outcomes = new Map<string, { changes: Change[]; tables: string[]; fingerprint: string }>();
  const fingerprints = new Set<string>();
  const groups = new Map<string, ChangeGroup & { fp: Set<string>; pr: Set<string>; gr: Set<string> }>();
  const lost = new Map<string, NoLongerAnalyzes & { fp: Set<string> }>();
  const byPrincipal = new Map<string, { principal: string; groups: Set<string>; statements: number; fp: Set<string>; changes: Counts }>();
  const byGroup = new Map<string, { group: string; statements: number; pr: Set<string>; changes: Counts }>();
  const byTable = new Map<string, { table: string; statements: number; fp: Set<string>; changes: Counts }>();
  const byDay = new Map<string, number>();
  let changedStatements = 0;
  const bump = (c: Counts, k: ChangeKind) => { c[k] = (c[k] ?? 0) + 1; };

  let truncated = false;
  for await (const r of recordedStatements(src.log, o, counts)) {
    if (o.maxStatements !== undefined && counts.statements >= o.maxStatements) { truncated = true; break; }
    scanned.statements = ++counts.statements;
    const principal = recordedPrincipal(r);
    const projectId = r.projectId ?? 'demo-project';
    const external = (conn: string) => allowsExternalConnection(o.current, principal, conn, now) || allowsExternalConnection(o.proposed, principal, conn, now);
    const input: AnalyzeInput = { sql: r.sql!, projectId, defaultDataset: r.defaultDataset as AnalyzeInput['defaultDataset'], queryParameters: r.parameters as AnalyzeInput['queryParameters'], externalConnectionAllowed: external };
    const textKey = JSON.stringify([r.sql, projectId, r.defaultDataset ?? null, ((r.parameters ?? []) as Array<{ name?: string; parameterType?: unknown }>).map((p) => [p.name ?? null, p.parameterType])]);
    let analysis: QueryAnalysis | undefined;
    let failure = failures.get(textKey);
    if (!failure) {
      try { src.precheck?.(input.sql); analysis = await src.analyzer.analyze(input); } catch (err) {
        failure = remember(failures, textKey, { reason: (err as { reason?: string }).reason ?? 'error', message: redactMessage((err as Error).message ?? String(err)) });
      }
    }
    if (failure || !analysis) {
      // Did it analyze when recorded? Its decision event says (read for failures only: they are few).
      const recorded = requestsOf(await src.log.events({ requestId: r.requestId }))[0];
      if (!recorded?.decision?.statementKind) { scanned.unanalyzable++; continue; }
      const key = JSON.stringify([r.principal, failure!.reason, failure!.message]);
      const g = lost.get(key) ?? remember(lost, key, { principal: r.principal, reason: failure!.reason, message: failure!.message, statements: 0, fingerprints: [], requestIds: [], fp: new Set() }, Infinity);
      g.statements++;
      g.fp.add(short(textFingerprint(r.sql!)));
      if (g.requestIds.length < MAX_IDS) g.requestIds.push(r.requestId);
      continue;
    }
    // A query job's destinationTable adds the write statements it equals, decided with the query as the gateway does (doors/bigquery/jobs.ts withDestination).
    const q = r.configuration?.query;
    let written: { table: string; units: ReturnType<typeof destinationUnits> } | undefined;
    if (q?.destinationTable) {
      try {
        const table = destinationName(q.destinationTable, projectId);
        written = { table, units: destinationUnits(analysis, table, src.tableExists ? await src.tableExists(table) : true, q) };
      } catch { scanned.unanalyzable++; continue; }
    }
    const tables = [...new Set([...analysis.tablesRead, ...analysis.tablesWritten, ...(written ? [written.table] : [])])];
    if (o.table && !tables.some((t) => glob(o.table!, t))) continue;
    fingerprints.add(analysis.fingerprint);
    const identity = [principal.subject, principal.issuer, [...principal.groups].sort(), principal.email ?? null, principal.actor ?? null];
    const pairKey = JSON.stringify([analysis.fingerprint, identity, written ? [written.table, written.units.map((u) => u.statementKind)] : null]);
    let outcome = outcomes.get(pairKey);
    if (!outcome) {
      scanned.decided++;
      const cur = decideJob(o.current, principal, analysis, written?.units, now);
      const next = decideJob(o.proposed, principal, analysis, written?.units, now);
      outcome = remember(outcomes, pairKey, { changes: changesBetween(cur, next, o.current, o.proposed), tables, fingerprint: short(analysis.fingerprint) }, 100_000);
    }
    if (!outcome.changes.length) continue;
    changedStatements++;
    const who = principal.groups.length ? principal.groups : ['(no group)'];
    const day = new Date(r.ts).toISOString().slice(0, 10);
    for (const g of who) byDay.set(JSON.stringify([day, g]), (byDay.get(JSON.stringify([day, g])) ?? 0) + 1);
    const p = byPrincipal.get(r.principal) ?? remember(byPrincipal, r.principal, { principal: r.principal, groups: new Set<string>(), statements: 0, fp: new Set<string>(), changes: {} }, Infinity);
    p.statements++; p.fp.add(outcome.fingerprint); principal.groups.forEach((g) => p.groups.add(g));
    for (const gname of who) {
      const g = byGroup.get(gname) ?? remember(byGroup, gname, { group: gname, statements: 0, pr: new Set<string>(), changes: {} }, Infinity);
      g.statements++; g.pr.add(r.principal);
      for (const c of outcome.changes) bump(g.changes, c.kind);
    }
    const touched = new Set<string>();
    for (const c of outcome.changes) {
      bump(p.changes, c.kind);
      for (const t of c.table ? [c.table] : outcome.tables) {
        const bt = byTable.get(t) ?? remember(byTable, t, { table: t, statements: 0, fp: new Set<string>(), changes: {} }, Infinity);
        if (!touched.has(t)) { bt.statements++; touched.add(t); }
        bt.fp.add(outcome.fingerprint); bump(bt.changes, c.kind);
      }
      const key = JSON.stringify([c.kind, c.table ?? null, c.column ?? null, c.before ?? null, c.after ?? null]);
      let g = groups.get(key);
      if (!g) {
        let example: string | null = null;
        try { example = redactLiterals((await src.analyzer.regenerate(input, analysis)).sql).text; } catch { /* stays null */ }
        g = remember(groups, key, { ...c, statements: 0, fingerprints: [], principals: [], groups: [], requestIds: [], example, fp: new Set(), pr: new Set(), gr: new Set() }, Infinity);
      }
      g.statements++; g.fp.add(outcome.fingerprint); g.pr.add(r.principal); principal.groups.forEach((x) => g!.gr.add(x));
      if (g.requestIds.length < MAX_IDS) g.requestIds.push(r.requestId);
    }
  }
  scanned.requests = counts.requests;
  scanned.fingerprints = fingerprints.size;
  scanned.ms = +(performance.now() - t0).toFixed(1);
  const sorted = <T>(xs: Iterable<T>) => [...xs].sort() as T[];
  return {
    kind: 'bqgate#policyDiff',
    window: { ...(o.since !== undefined ? { since: new Date(o.since).toISOString() } : {}), ...(o.until !== undefined ? { until: new Date(o.until).toISOString() } : {}) },
    policy: { current: o.current.version, proposed: o.proposed.version },
    scanned, truncated, changedStatements,
    changes: [...groups.values()].map(({ fp, pr, gr, ...g }) => ({ ...g, fingerprints: sorted(fp), principals: sorted(pr), groups: sorted(gr) }))
      .sort((a, b) => b.statements - a.statements || a.kind.localeCompare(b.kind)),
    noLongerAnalyzes: [...lost.values()].map(({ fp, ...g }) => ({ ...g, fingerprints: sorted(fp) })),
    byPrincipal: [...byPrincipal.values()].map((p) => ({ principal: p.principal, groups: sorted(p.groups), statements: p.statements, fingerprints: p.fp.size, changes: p.changes })),
    byGroup: [...byGroup.values()].map((g) => ({ group: g.group, statements: g.statements, principals: sorted(g.pr), changes: g.changes })),
    byTable: [...byTable.values()].map((t) => ({ table: t.table, statements: t.statements, fingerprints: t.fp.size, changes: t.changes })),
    byDay: [...byDay.entries()].map(([k, statements]) => { const [day, group] = JSON.parse(k); return { day, group, statements }; }).sort((a, b) => a.day.localeCompare(b.day) || a.group.localeCompare(b.group)),
  };
}

/** Stable digest of a report's changes (for acknowledging a diff in CI: the same changes, the same digest). */
export function changesDigest(r: Pick<DiffReport, 'changes'>): string {
  return createHash('sha256').update(JSON.stringify(r.changes.map((c) => [c.kind, c.table, c.column, c.before, c.after, c.fingerprints, c.principals]))).digest('hex').slice(0, 16);
}
