/**
 * Renderings of a diff report (run.ts DiffReport): `text` for a terminal, `markdown` for a
 * pull-request comment. Both show only what the report holds — rule ids, tables, columns,
 * principals, groups, counts and the literal-free example statements — never decision reasons or
 * recorded SQL.
 */
import type { DiffReport } from './run.js';

const counts = (c: Record<string, number | undefined>) => Object.entries(c).map(([k, n]) => `${k} ${n}`).join(', ');
const what = (c: DiffReport['changes'][number]) => [c.table && c.column ? `${c.table}.${c.column}` : c.table ?? c.column ?? '',
  c.before !== undefined || c.after !== undefined ? `${c.before ?? '—'} → ${c.after ?? '—'}` : ''].filter(Boolean).join(': ');

/** One line summing the run up. */
export function summary(r: DiffReport): string {
  const s = r.scanned;
  return `${r.changedStatements} of ${s.statements} recorded statements change (policy ${r.policy.current} → ${r.policy.proposed}; ${s.decided} distinct statement/identity pairs, ${s.fingerprints} fingerprints; ${r.noLongerAnalyzes.reduce((n, g) => n + g.statements, 0)} no longer analyze)`;
}

/** Plain text: summary, change groups with their example, then by principal, group and table. */
export function renderText(r: DiffReport): string {
  const out = [summary(r)];
  if (r.changes.length) out.push('', 'changes:');
  for (const c of r.changes) {
    out.push(`  ${c.kind}  ${what(c)}`.trimEnd());
    out.push(`    ${c.statements} statement(s), ${c.fingerprints.length} fingerprint(s) [${c.fingerprints.join(' ')}]; principals ${c.principals.join(', ')}${c.groups.length ? `; groups ${c.groups.join(', ')}` : ''}`);
    out.push(`    requests: ${c.requestIds.join(' ')}${c.statements > c.requestIds.length ? ' …' : ''}`);
    out.push(`    example:  ${c.example ?? '(could not be normalized; not shown)'}`);
  }
  if (r.noLongerAnalyzes.length) out.push('', 'no longer analyzes (not denials):');
  for (const g of r.noLongerAnalyzes) out.push(`  ${g.principal}: ${g.statements} statement(s), ${g.fingerprints.length} text fingerprint(s) — ${g.reason}: ${g.message}`, `    requests: ${g.requestIds.join(' ')}`);
  if (r.byPrincipal.length) out.push('', 'by principal:', ...r.byPrincipal.map((p) => `  ${p.principal} [${p.groups.join(', ') || 'no groups'}]: ${p.statements} statement(s), ${p.fingerprints} fingerprint(s) — ${counts(p.changes)}`));
  if (r.byGroup.length) out.push('', 'by group:', ...r.byGroup.map((g) => `  ${g.group}: ${g.statements} statement(s) of ${g.principals.join(', ')} — ${counts(g.changes)}`));
  if (r.byTable.length) out.push('', 'by table:', ...r.byTable.map((t) => `  ${t.table}: ${t.statements} statement(s), ${t.fingerprints} fingerprint(s) — ${counts(t.changes)}`));
  return out.join('\n') + '\n';
}

/** Escapes a Markdown table cell. */
const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** GitHub-flavoured Markdown for a pull-request comment. */
export function renderMarkdown(r: DiffReport): string {
  const out = ['### bqgate policy diff', '', `**${summary(r)}**`, ''];
  if (!r.changes.length && !r.noLongerAnalyzes.length) return [...out, 'No recorded statement is decided differently.', ''].join('\n');
  if (r.changes.length) {
    out.push('| change | what | statements | fingerprints | principals | groups |', '|---|---|---:|---:|---|---|');
    for (const c of r.changes) out.push(`| ${cell(c.kind)} | ${cell(what(c))} | ${c.statements} | ${c.fingerprints.length} | ${cell(c.principals.join(', '))} | ${cell(c.groups.join(', '))} |`);
    out.push('', '<details><summary>Example statements (literals replaced by ?)</summary>', '');
    for (const c of r.changes) {
      const text = c.example ?? '-- could not be normalized; not shown';
      // A fence longer than any backtick run in the text (backquoted identifiers), so it cannot end the block.
      const fence = '`'.repeat(Math.max(3, ...(text.match(/`+/g) ?? []).map((m) => m.length + 1)));
      out.push(`- **${cell(c.kind)}** ${cell(what(c))}`, '', `  ${fence}sql`, `  ${text}`, `  ${fence}`);
    }
    out.push('', '</details>', '');
  }
  if (r.noLongerAnalyzes.length) {
    out.push('#### No longer analyzes (not denials)', '', '| principal | statements | reason | message |', '|---|---:|---|---|');
    for (const g of r.noLongerAnalyzes) out.push(`| ${cell(g.principal)} | ${g.statements} | ${g.reason} | ${cell(g.message)} |`);
    out.push('');
  }
  if (r.byPrincipal.length) {
    out.push('#### By principal', '', '| principal | groups | statements | changes |', '|---|---|---:|---|');
    for (const p of r.byPrincipal) out.push(`| ${cell(p.principal)} | ${cell(p.groups.join(', '))} | ${p.statements} | ${cell(counts(p.changes))} |`);
    out.push('');
  }
  if (r.byTable.length) {
    out.push('#### By table', '', '| table | statements | changes |', '|---|---:|---|');
    for (const t of r.byTable) out.push(`| ${cell(t.table)} | ${t.statements} | ${cell(counts(t.changes))} |`);
    out.push('');
  }
  return out.join('\n');
}
