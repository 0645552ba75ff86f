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
 * ```
 */
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { Principal } from '../auth/index.js';
import type { QueryAnalysis } from '../sql/index.js';
import { decideStatement, type Policy } from './index.js';

export interface PolicyTestCase {
  name: string;
  principal: { sub: string; groups?: string[]; email?: string; act?: string; [claim: string]: unknown };
  sql: string;
  project?: string;
  default_dataset?: string;
  expect: {
    decision?: 'allow' | 'deny';
    /** A rule id that must be among the matched rules. */
    rule?: string;
    /** column → masking rule that must apply; `none` means the column must be in the clear. */
    masks?: Record<string, string>;
    /** The analysis must fail with this BigQuery reason (e.g. invalidQuery). */
    error?: string;
  };
  file?: string;
}

export interface PolicyTestResult { case: PolicyTestCase; ok: boolean; problems: string[] }

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
    if (analysis) {
      if (c.expect.error) problems.push(`expected error ${c.expect.error}, but the statement analyzed`);
      const d = decideStatement(policy, principalFromClaims(c.principal), analysis);
      if (c.expect.decision && d.effect !== c.expect.decision) problems.push(`decision ${d.effect}, expected ${c.expect.decision}: ${d.reasons.join(' ')}`);
      if (c.expect.rule && !d.matchedRules.includes(c.expect.rule)) problems.push(`rule ${c.expect.rule} did not match (matched: ${d.matchedRules.join(', ') || 'none'})`);
      for (const [col, rule] of Object.entries(c.expect.masks ?? {})) {
        const i = col.lastIndexOf('.');
        const got = d.masks[col.slice(0, i)]?.[col.slice(i + 1)]?.rule ?? 'none';
        if (got !== rule) problems.push(`${col}: mask ${got}, expected ${rule}`);
      }
    }
    results.push({ case: c, ok: problems.length === 0, problems });
  }
  return results;
}
