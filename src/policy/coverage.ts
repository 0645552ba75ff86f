/**
 * `bqgate policy test --coverage`: which rules of the policy no test case exercises, and which masks
 * no test asserts. Plain data in (the policy, the results of `runPolicyTests`), plain data out.
 *
 * - A rule is **exercised** when, in at least one case, it decided or contributed to the case's
 *   decision: its id is among the decision's matched rules (the allows used, the deny that refused,
 *   the mask that won a column, the row filters applied), it is one of the approvals the statement
 *   needs, or it is a `limit` rule that applies to the case's principal (its caps are in the
 *   decision's limits) on an allowed statement. A rule the trace shows as applying to the principal
 *   but that never decided anything is not exercised (the report says so, as a hint).
 * - A **mask** is one entry of a mask rule's `masks` list (column pattern + masking rule). A test
 *   **asserts** it when its expectation's `masks` names a column with exactly that masking rule and,
 *   in that case's decision, the column is masked with that rule by that rule id, through that
 *   entry's pattern (tag patterns included).
 * - Coverage = (exercised rules + asserted masks) / (rules + masks) × 100, over the whole policy
 *   and per policy file (rules and masks are counted in the file that declares them). A policy
 *   with nothing to cover is 100 %.
 *
 * Cases that failed count too (they ran); a failing case makes `policy test` exit 1 anyway.
 */
import { columnId, columnMatches, type Policy } from './index.js';
import type { PolicyTestResult } from './testing.js';

/** Counts and percentage (0–100, unrounded) of one scope. */
export interface CoverageFigures { rules: number; rulesExercised: number; masks: number; masksAsserted: number; percent: number }

export interface CoverageReport extends CoverageFigures {
  /** Per policy file (the rule's `source`), sorted by file name. */
  files: Array<CoverageFigures & { file: string }>;
  /** Rules no case exercises; `hint`: why, from the rule traces. */
  unexercisedRules: Array<{ id: string; file: string; effect: string; hint: string }>;
  /** Mask entries no case asserts. */
  unassertedMasks: Array<{ ruleId: string; file: string; column: string; rule: string }>;
}

const percentOf = (f: Omit<CoverageFigures, 'percent'>) => {
  const total = f.rules + f.masks;
  return total === 0 ? 100 : ((f.rulesExercised + f.masksAsserted) / total) * 100;
};

/** The coverage of `policy` by `results` (see the module comment for what counts). */
export function policyCoverage(policy: Policy, results: PolicyTestResult[]): CoverageReport {
  const exercised = new Set<string>();
  const appliedTo = new Map<string, number>();
  const asserted = new Set<string>(); // `${ruleId}\0${index}`
  for (const r of results) {
    const d = r.decision;
    if (!d) continue;
    for (const id of d.matchedRules) exercised.add(id);
    for (const q of d.approvals ?? []) exercised.add(q.ruleId);
    for (const t of r.trace ?? []) {
      if (!t.applies) continue;
      appliedTo.set(t.id, (appliedTo.get(t.id) ?? 0) + 1);
      if (t.effect === 'limit' && d.effect === 'allow') exercised.add(t.id);
    }
    for (const [col, want] of Object.entries(r.case.expect.masks ?? {})) {
      const i = col.lastIndexOf('.');
      const [table, column] = [col.slice(0, i), col.slice(i + 1)];
      const got = d.masks[table]?.[column];
      if (!got || got.rule !== want) continue;
      const rule = policy.rules.find((x) => x.id === got.ruleId);
      const id = columnId(policy, table, column, r.analysis?.tables[table]);
      (rule?.masks ?? []).forEach((m, k) => { if (m.rule === want && columnMatches(m.column, id)) asserted.add(`${got.ruleId}\0${k}`); });
    }
  }
  const unexercisedRules: CoverageReport['unexercisedRules'] = [];
  const unassertedMasks: CoverageReport['unassertedMasks'] = [];
  const byFile = new Map<string, Omit<CoverageFigures, 'percent'>>();
  for (const rule of policy.rules) {
    const file = rule.source ?? '';
    const f = byFile.get(file) ?? { rules: 0, rulesExercised: 0, masks: 0, masksAsserted: 0 };
    byFile.set(file, f);
    f.rules++;
    if (exercised.has(rule.id)) f.rulesExercised++;
    else {
      const n = appliedTo.get(rule.id) ?? 0;
      unexercisedRules.push({ id: rule.id, file, effect: rule.effect, hint: n ? `applies to the principal of ${n} case(s), but none of their statements is decided by it` : 'no case\'s principal is one it applies to' });
    }
    (rule.masks ?? []).forEach((m, k) => {
      f.masks++;
      if (asserted.has(`${rule.id}\0${k}`)) f.masksAsserted++;
      else unassertedMasks.push({ ruleId: rule.id, file, column: m.column, rule: m.rule });
    });
  }
  const files = [...byFile.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([file, f]) => ({ file, ...f, percent: percentOf(f) }));
  const sum = (k: keyof Omit<CoverageFigures, 'percent'>) => files.reduce((n, f) => n + f[k], 0);
  const total = { rules: sum('rules'), rulesExercised: sum('rulesExercised'), masks: sum('masks'), masksAsserted: sum('masksAsserted') };
  return { ...total, percent: percentOf(total), files, unexercisedRules, unassertedMasks };
}

/** One decimal, rounded down (so a printed figure never claims more than was measured). */
export const formatPercent = (p: number) => `${(Math.floor(p * 10) / 10).toFixed(1)}%`;

/** The report as terminal lines. */
export function renderCoverage(c: CoverageReport): string {
  const line = (name: string, f: CoverageFigures) => `  ${name}: ${formatPercent(f.percent)} (${f.rulesExercised}/${f.rules} rules exercised, ${f.masksAsserted}/${f.masks} masks asserted)`;
  return [
    'coverage (exercised rules + asserted masks) / (rules + masks):',
    ...c.files.map((f) => line(f.file, f)),
    line('total', c),
    ...(c.unexercisedRules.length ? ['rules no case exercises:', ...c.unexercisedRules.map((r) => `  ${r.file}: ${r.id} (${r.effect}) — ${r.hint}`)] : []),
    ...(c.unassertedMasks.length ? ['masks no case asserts:', ...c.unassertedMasks.map((m) => `  ${m.file}: ${m.ruleId}: ${m.column} → ${m.rule}`)] : []),
  ].join('\n');
}
