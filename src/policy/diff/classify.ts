/**
 * What changed between two decisions of one statement for one principal (plain data in and out):
 * the current policy's decision and the proposed policy's.
 *
 * Kinds: `allow→deny`, `deny→allow`, and when both allow: `approval added` / `approval dropped`
 * (require_approval rule ids), `mask added` / `mask removed` / `mask changed` (column and masking
 * rule), `column hidden` / `column shown` (denied columns projected as NULL), `row filter changed`
 * (the filter rules that apply to a table, by id), `limit changed` (maximum_rows,
 * maximum_bytes_billed). Decision reasons are never copied: they can quote literals of the
 * statement (an export URI), so a change names rules, tables and columns only.
 */
import { nameGlob, type Decision, type Policy } from '../index.js';

export type ChangeKind = 'allow→deny' | 'deny→allow' | 'approval added' | 'approval dropped' | 'mask added' | 'mask removed' | 'mask changed'
  | 'column hidden' | 'column shown' | 'row filter changed' | 'limit changed';

/** One difference. `table`/`column` where it is about one; `before`/`after`: rule ids, masking rules or limit values as text. */
export interface Change { kind: ChangeKind; table?: string; column?: string; before?: string; after?: string }

/** The deny rule that refused `d` under `policy`, or `default deny` (no allow rule covered it). */
const denier = (policy: Policy, d: Decision) => d.matchedRules.find((id) => policy.rules.some((r) => r.id === id && r.effect === 'deny')) ?? 'default deny';

/** Filter rule ids of `policy` that produced `d.rowFilters[table]` (rules that decided and filter that table). */
function filterRules(policy: Policy, d: Decision, table: string): string {
  const ids = policy.rules.filter((r) => r.effect === 'filter' && d.matchedRules.includes(r.id) && r.tables?.some((t) => nameGlob(t, table))).map((r) => r.id);
  return ids.length ? ids.join(', ') : 'no filter rule (no rows)';
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
const fmtLimit = (n: number | undefined) => (n === undefined ? 'none' : String(n));

/** The changes from `cur` (under `curPolicy`) to `next` (under `nextPolicy`); empty when nothing differs. */
export function changesBetween(cur: Decision, next: Decision, curPolicy: Policy, nextPolicy: Policy): Change[] {
  if (cur.effect !== next.effect) {
    return [cur.effect === 'allow' ? { kind: 'allow→deny', after: denier(nextPolicy, next) } : { kind: 'deny→allow', before: denier(curPolicy, cur), after: next.matchedRules.join(', ') }];
  }
  if (cur.effect === 'deny') return [];
  const out: Change[] = [];
  const ca = new Set((cur.approvals ?? []).map((a) => a.ruleId));
  const na = new Set((next.approvals ?? []).map((a) => a.ruleId));
  for (const id of na) if (!ca.has(id)) out.push({ kind: 'approval added', after: id });
  for (const id of ca) if (!na.has(id)) out.push({ kind: 'approval dropped', before: id });
  for (const table of new Set([...Object.keys(cur.masks), ...Object.keys(next.masks)])) {
    const a = cur.masks[table] ?? {};
    const b = next.masks[table] ?? {};
    for (const column of new Set([...Object.keys(a), ...Object.keys(b)])) {
      const x = a[column];
      const y = b[column];
      const show = (m: typeof x) => (m ? `${m.rule} (${m.ruleId})` : undefined);
      if (!x) out.push({ kind: 'mask added', table, column, after: show(y) });
      else if (!y) out.push({ kind: 'mask removed', table, column, before: show(x) });
      else if (x.rule !== y.rule) out.push({ kind: 'mask changed', table, column, before: show(x), after: show(y) });
    }
  }
  for (const table of new Set([...Object.keys(cur.deniedColumns), ...Object.keys(next.deniedColumns)])) {
    const a = new Set(cur.deniedColumns[table] ?? []);
    const b = new Set(next.deniedColumns[table] ?? []);
    for (const column of b) if (!a.has(column)) out.push({ kind: 'column hidden', table, column });
    for (const column of a) if (!b.has(column)) out.push({ kind: 'column shown', table, column });
  }
  for (const table of new Set([...Object.keys(cur.rowFilters), ...Object.keys(next.rowFilters)])) {
    if (same([...(cur.rowFilters[table] ?? ['(all rows)'])].sort(), [...(next.rowFilters[table] ?? ['(all rows)'])].sort())) continue;
    out.push({ kind: 'row filter changed', table,
      before: table in cur.rowFilters ? filterRules(curPolicy, cur, table) : 'all rows', after: table in next.rowFilters ? filterRules(nextPolicy, next, table) : 'all rows' });
  }
  if (cur.limits.maximumRows !== next.limits.maximumRows) out.push({ kind: 'limit changed', column: 'maximum_rows', before: fmtLimit(cur.limits.maximumRows), after: fmtLimit(next.limits.maximumRows) });
  if (cur.limits.maximumBytesBilled !== next.limits.maximumBytesBilled) out.push({ kind: 'limit changed', column: 'maximum_bytes_billed', before: fmtLimit(cur.limits.maximumBytesBilled), after: fmtLimit(next.limits.maximumBytesBilled) });
  return out;
}
