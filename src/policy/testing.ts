/**
 * `bqgate policy test`: test files beside the policies (`policies/tests/*.yaml`), each a list of
 * cases — principal claims + SQL → expected decision, matched rule, masks — run through the real
 * analyzer and the current policy.
 *
 * ```yaml
 * tests:
 *   - name: analysts see emails masked
 *     principal: { sub: agent-7, groups: [analysts] }
 *     sql: SELECT email FROM shop.customers
 *     expect: { decision: allow, masks: { demo-project.shop.customers.email: EMAIL_MASK } }
 *   - name: a recorded statement (bqgate sessions export-tests writes these)
 *     principal: { sub: agent-7, groups: [analysts] }
 *     sql: SELECT order_id FROM shop.orders WHERE amount > @min
 *     parameters: [{ name: min, parameterType: { type: INT64 }, parameterValue: { value: "10" } }]
 *     expect: { decision: allow, rules: [analysts-read-shop], approvals: [] }
 * ```
 *
 * Expectation keys (all optional; each one given is checked):
 * - `decision`: allow | deny.
 * - `rule`: one rule id that must be among the decision's matched rules; `rules`: several, all of them.
 * - `masks`: `project.dataset.table.column` → the masking rule that must apply (`none`: in the clear).
 *   A test "asserts" a mask for `bqgate policy test --coverage` when it names the column with the
 *   rule the policy's mask gives it (src/policy/coverage.ts).
 * - `approvals`: the ids of the require_approval rules the statement needs, exactly (`[]`: none).
 * - `error`: the analysis must fail with this BigQuery reason (e.g. invalidQuery).
 *
 * Case keys beside `principal` and `sql`: `project` (the job's project, default demo-project),
 * `default_dataset`, `parameters` (BigQuery REST QueryParameter objects, as jobs.query takes them:
 * https://cloud.google.com/bigquery/docs/reference/rest/v2/QueryParameter).
 */
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { Principal } from '../auth/index.js';
import type { Analyzer, QueryAnalysis } from '../sql/index.js';
import { allowsExternalConnection, explain, type Decision, type Policy, type RuleTrace } from './index.js';
import { decideDestinationJob, destinationUnits } from '../pipeline/destination.js';

export interface PolicyTestCase {
  name: string;
  principal: { sub: string; groups?: string[]; email?: string; act?: string; [claim: string]: unknown };
  sql: string;
  project?: string;
  default_dataset?: string;
  /** Query parameters (REST QueryParameter objects). */
  parameters?: Array<Record<string, unknown>>;
  /**
   * A query job's `configuration.query.destinationTable`: the case is decided as the gateway decides
   * such a job (pipeline/destination.ts) — the query with the write statements it equals, and a row
   * cap refusing it. `table` is `project.dataset.table`; `exists` (default true) whether it exists,
   * which chooses CREATE TABLE AS SELECT or INSERT / TRUNCATE.
   */
  destination?: { table: string; write_disposition?: string; create_disposition?: string; exists?: boolean };
  expect: {
    decision?: 'allow' | 'deny';
    /** A rule id that must be among the matched rules. */
    rule?: string;
    /** Rule ids that must all be among the matched rules. */
    rules?: string[];
    /** column → masking rule that must apply; `none` means the column must be in the clear. */
    masks?: Record<string, string>;
    /** The require_approval rule ids the statement needs, exactly (empty: none). */
    approvals?: string[];
    /** The analysis must fail with this BigQuery reason (e.g. invalidQuery). */
    error?: string;
  };
  file?: string;
}

/** A case's outcome; `analysis` and `decision` (with `explain`'s rule trace) are absent when the analysis failed. */
export interface PolicyTestResult { case: PolicyTestCase; ok: boolean; problems: string[]; analysis?: QueryAnalysis; decision?: Decision; trace?: RuleTrace[] }

/** Reads every `*.yaml` test file in `dir`. */
export function loadPolicyTests(dir: string): PolicyTestCase[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort()
    .flatMap((f) => ((parseYaml(readFileSync(join(dir, f), 'utf8'))?.tests ?? []) as PolicyTestCase[]).map((t) => ({ ...t, file: f })));
}

/** The principal a test case describes (claims as a verified token would carry them). */
export function principalFromClaims(c: PolicyTestCase['principal']): Principal {
  return { subject: c.sub, groups: c.groups ?? [], email: c.email, actor: c.act, issuer: 'policy-test', claims: { ...c, ...(c.act ? { act: { sub: c.act } } : {}) } };
}

/**
 * What the analyzer is asked for a case, as the gateway asks it for a jobs.query (src/pipeline/check.ts):
 * the SQL, the job's project (default demo-project), the default dataset, the query parameters.
 */
export function caseInput(c: PolicyTestCase): { sql: string; projectId: string; defaultDataset?: { projectId?: string; datasetId: string }; queryParameters?: any[] } {
  return {
    sql: c.sql, projectId: c.project ?? 'demo-project',
    // `dataset` or `project.dataset`
    ...(c.default_dataset ? { defaultDataset: c.default_dataset.includes('.') ? { projectId: c.default_dataset.split('.')[0], datasetId: c.default_dataset.split('.').slice(1).join('.') } : { datasetId: c.default_dataset } } : {}),
    ...(c.parameters?.length ? { queryParameters: c.parameters } : {}),
  };
}

/**
 * Analyzes a case as the gateway's statement stage does (src/pipeline/check.ts): `caseInput`, and
 * an EXTERNAL_QUERY's connection asked about only where the case's principal may use it.
 */
export function analyzeCase(analyzer: Pick<Analyzer, 'analyze'>, policy: Policy, c: PolicyTestCase): Promise<QueryAnalysis> {
  const principal = principalFromClaims(c.principal);
  return analyzer.analyze({ ...caseInput(c), externalConnectionAllowed: (conn) => allowsExternalConnection(policy, principal, conn) });
}

/** Runs the cases; `analyze` is the real analyzer bound to a catalog. */
export async function runPolicyTests(policy: Policy, cases: PolicyTestCase[], analyze: (c: PolicyTestCase) => Promise<QueryAnalysis>): Promise<PolicyTestResult[]> {
  const results: PolicyTestResult[] = [];
  for (const c of cases) {
    const problems: string[] = [];
    let analysis: QueryAnalysis | undefined;
    try { analysis = await analyze(c); } catch (err) {
      const reason = (err as { reason?: string }).reason ?? 'error';
      if (c.expect.error !== reason) problems.push(`analysis failed (${reason}): ${(err as Error).message}`);
    }
    let decided: ReturnType<typeof explain> | undefined;
    if (analysis) {
      if (c.expect.error) problems.push(`expected error ${c.expect.error}, but the statement analyzed`);
      decided = explain(policy, principalFromClaims(c.principal), analysis);
      if (c.destination) {
        const { table, write_disposition: writeDisposition, create_disposition: createDisposition, exists } = c.destination;
        try {
          const units = destinationUnits(analysis, table, exists ?? true, { writeDisposition, createDisposition });
          decided = { ...decided, decision: decideDestinationJob(policy, principalFromClaims(c.principal), analysis, units).decision };
        } catch (err) {
          problems.push(`destination ${table}: ${(err as Error).message}`);
        }
      }
      const d = decided.decision;
      if (c.expect.decision && d.effect !== c.expect.decision) problems.push(`decision ${d.effect}, expected ${c.expect.decision}: ${d.reasons.join(' ')}`);
      for (const rule of [...(c.expect.rule ? [c.expect.rule] : []), ...(c.expect.rules ?? [])]) {
        if (!d.matchedRules.includes(rule)) problems.push(`rule ${rule} did not match (matched: ${d.matchedRules.join(', ') || 'none'})`);
      }
      if (c.expect.approvals) {
        const got = (d.approvals ?? []).map((q) => q.ruleId).sort();
        const want = [...c.expect.approvals].sort();
        if (got.join() !== want.join()) problems.push(`approvals [${got.join(', ')}], expected [${want.join(', ')}]`);
      }
      for (const [col, rule] of Object.entries(c.expect.masks ?? {})) {
        const i = col.lastIndexOf('.');
        const got = d.masks[col.slice(0, i)]?.[col.slice(i + 1)]?.rule ?? 'none';
        if (got !== rule) problems.push(`${col}: mask ${got}, expected ${rule}`);
      }
    }
    results.push({ case: c, ok: problems.length === 0, problems, ...(analysis && decided ? { analysis, decision: decided.decision, trace: decided.trace } : {}) });
  }
  return results;
}
