/**
 * `bqgate sessions export-tests`: a recorded session's statements as policy test cases
 * (src/policy/testing.ts format), with the decisions today's policy gives them, so a data team pins
 * today's behaviour before refactoring rules. Plain data in (the session's RequestRecords as
 * `requestsOf` builds them from the audit store, the policy, the analyzer), plain data out (cases,
 * and what was skipped and why).
 *
 * Each request that carried SQL (jobs.query, a jobs.insert query job) becomes one case (identical
 * statements by the same principal once): the recorded identity — subject, groups, email, actor —
 * as `principal`, the recorded job project, default dataset and query parameters, and as
 * expectation what `runPolicyTests` decides for it now (the analyzer, then `explain` /
 * `decideStatement`, the decision the gateway's statement stage makes, src/pipeline/check.ts; the
 * analysis through `analyzeCase`, as that stage asks for it):
 * `decision`, the matched `rules`, every mask of the tables read and the columns read in the clear
 * (`none`), the `approvals` needed; a statement that no longer analyzes expects its error reason.
 * The expectation is read from `runPolicyTests`'s own run of the case (the function `policy test`
 * runs), so the file passes on the policy and catalog it was exported under.
 *
 * Not carried over: claims other than sub/groups/email/act (the audit does not record them), a
 * A query job's destinationTable is carried as the case's `destination` (its dispositions, and
 * whether the table exists now when `tableExists` is given, else as existing), so the case is decided
 * with the writes it equals, as the gateway decides the job.
 *
 * **Literals**: the cases hold the statements as recorded, literals included (a test case must be
 * runnable SQL), so the file can hold the values agents filtered on. `redactLiterals: true` writes
 * each statement with its string, bytes and number literals replaced by neutral ones
 * (`redactLiterals`) and comments dropped — where that still decides the same (same expectation);
 * otherwise the case keeps the recorded SQL and `notes` says so.
 */
import type { RequestRecord } from '../audit/index.js';
import type { QueryAnalysis } from '../sql/index.js';
import { tokenize } from '../sql/pipe/index.js';
import { destinationName } from '../pipeline/destination.js';
import type { Policy } from './index.js';
import { runPolicyTests, type PolicyTestCase, type PolicyTestResult } from './testing.js';

export interface ExportResult {
  cases: PolicyTestCase[];
  /** Requests of the session that are not statements (polls, metadata reads), by request id. */
  skipped: Array<{ requestId: string; operation: string }>;
  /** Per case, what the reader should know (literals kept, destination tables not decided). */
  notes: string[];
  /** Cases whose SQL was written with literals redacted. */
  redacted: number;
}

/** A typed literal's neutral value, by the keyword before its string. */
const NEUTRAL_TYPED: Record<string, string> = {
  DATE: "'1970-01-01'", DATETIME: "'1970-01-01 00:00:00'", TIME: "'00:00:00'", TIMESTAMP: "'1970-01-01 00:00:00+00'",
  NUMERIC: "'0'", BIGNUMERIC: "'0'", DECIMAL: "'0'", BIGDECIMAL: "'0'", JSON: "'null'", INTERVAL: "'0'",
};

/**
 * `sql` with every string literal written `'?'` (a typed literal's string — DATE '…', NUMERIC '…',
 * JSON '…', INTERVAL '…' — a neutral value of its type), every bytes literal `b'?'`, every number
 * `0`, and comments replaced by a space; identifiers, parameters, keywords and spacing kept.
 * Throws BigQueryError('invalidQuery') where the tokenizer cannot read the text (src/sql/pipe/lexer.ts).
 */
export function redactLiterals(sql: string): string {
  const tokens = tokenize(sql);
  let out = '';
  let at = 0;
  tokens.forEach((t, i) => {
    const gap = sql.slice(at, t.start);
    out += /^\s*$/.test(gap) ? gap : ' ';
    const before = tokens[i - 1];
    if (t.kind === 'string') out += (before?.kind === 'word' && NEUTRAL_TYPED[before.upper!]) || "'?'";
    else if (t.kind === 'bytes') out += "b'?'";
    else if (t.kind === 'number') out += '0';
    else out += t.text;
    at = t.end;
  });
  return out;
}

/** The expectation `runPolicyTests` checks, from what it decided for `r` now. */
function expectationOf(r: PolicyTestResult): PolicyTestCase['expect'] {
  const d = r.decision;
  if (!d) return { error: (r.problems[0]?.match(/^analysis failed \(([^)]+)\)/)?.[1]) ?? 'error' };
  if (d.effect === 'deny') return { decision: 'deny', ...(d.matchedRules.length ? { rules: [...d.matchedRules] } : {}) };
  const masks: Record<string, string> = {};
  for (const c of r.analysis?.columnsRead ?? []) masks[`${c.table}.${c.column}`] = 'none';
  for (const [t, cols] of Object.entries(d.masks)) for (const [c, m] of Object.entries(cols)) masks[`${t}.${c}`] = m.rule;
  return {
    decision: 'allow', rules: [...d.matchedRules],
    ...(Object.keys(masks).length ? { masks: Object.fromEntries(Object.entries(masks).sort(([a], [b]) => a.localeCompare(b))) } : {}),
    approvals: (d.approvals ?? []).map((q) => q.ruleId),
  };
}

const oneLine = (sql: string) => { const s = sql.replace(/\s+/g, ' ').trim(); return s.length > 70 ? `${s.slice(0, 67)}...` : s; };

/** A recorded query job's destinationTable as a case's `destination` (none without one; a malformed one is kept as written, and the case reports it). */
async function destinationOf(rec: RequestRecord, tableExists?: (table: string) => Promise<boolean>): Promise<Pick<PolicyTestCase, 'destination'>> {
  const q = rec.configuration?.query;
  if (!q?.destinationTable) return {};
  let table: string;
  try { table = destinationName(q.destinationTable, rec.projectId ?? 'demo-project'); } catch { table = JSON.stringify(q.destinationTable); }
  const exists = tableExists ? await tableExists(table).catch(() => true) : true;
  return { destination: { table, ...(q.writeDisposition ? { write_disposition: String(q.writeDisposition) } : {}), ...(q.createDisposition ? { create_disposition: String(q.createDisposition) } : {}), exists } };
}

/** Decides `c` now and fills in its expectation; the result of running it. */
async function pinned(policy: Policy, c: PolicyTestCase, analyze: (c: PolicyTestCase) => Promise<QueryAnalysis>): Promise<PolicyTestCase> {
  const [r] = await runPolicyTests(policy, [{ ...c, expect: {} }], analyze);
  return { ...c, expect: expectationOf(r) };
}

/** The session's statements as pinned test cases (see the module comment). */
export async function exportSessionTests(policy: Policy, records: RequestRecord[], analyze: (c: PolicyTestCase) => Promise<QueryAnalysis>, opts: { redactLiterals?: boolean; tableExists?: (table: string) => Promise<boolean> } = {}): Promise<ExportResult> {
  const out: ExportResult = { cases: [], skipped: [], notes: [], redacted: 0 };
  const seen = new Set<string>();
  for (const rec of records) {
    if (typeof rec.sql !== 'string' || !rec.sql.trim()) { out.skipped.push({ requestId: rec.requestId, operation: rec.operation }); continue; }
    const ds = rec.defaultDataset;
    const base: PolicyTestCase = {
      name: '',
      principal: { sub: rec.principal, groups: rec.groups ?? [], ...(rec.email ? { email: rec.email } : {}), ...(rec.actor ? { act: rec.actor } : {}) },
      sql: rec.sql,
      ...(rec.projectId ? { project: rec.projectId } : {}),
      ...(ds?.datasetId ? { default_dataset: ds.projectId && ds.projectId !== rec.projectId ? `${ds.projectId}.${ds.datasetId}` : ds.datasetId } : {}),
      ...(Array.isArray(rec.parameters) && rec.parameters.length ? { parameters: rec.parameters as Array<Record<string, unknown>> } : {}),
      ...(await destinationOf(rec, opts.tableExists)),
      expect: {},
    };
    const key = JSON.stringify([base.principal, base.sql, base.project, base.default_dataset, base.parameters]);
    if (seen.has(key)) continue;
    seen.add(key);
    let c = await pinned(policy, base, analyze);
    const label = `request ${rec.requestId}`;
    if (opts.redactLiterals) {
      let redacted: PolicyTestCase | undefined;
      try { redacted = await pinned(policy, { ...base, sql: redactLiterals(rec.sql) }, analyze); } catch { redacted = undefined; }
      if (redacted && redacted.sql !== base.sql && JSON.stringify(redacted.expect) === JSON.stringify(c.expect)) { c = redacted; out.redacted++; }
      else if (redacted?.sql !== base.sql) out.notes.push(`${label}: kept the recorded SQL (with its literals): with literals redacted it ${redacted ? 'decides differently' : 'cannot be tokenized'}`);
    }
    c.name = `${label} (${rec.operation}): ${oneLine(c.sql)}`;
    out.cases.push(c);
  }
  return out;
}
