/**
 * Call aliases: one TVF called more than once in a statement with outputs that cannot share one
 * registration (`ML.PREDICT(MODEL a, …)` over the result of `ML.PREDICT(MODEL b, …)`: each output is
 * `predicted_<label>` + that call's input). A FIXED_OUTPUT_SCHEMA_TVF has one output per catalog and
 * a template cannot take a MODEL argument (ZetaSQL answers `13 INTERNAL`), so each further call is
 * registered under a name of its own for the analysis only:
 *
 * - the alias has the byte length of the TVF's last name segment (`PREDICT` → `PREDI_2`), so the text
 *   the analyzer reads differs from the caller's in those letters only and every parse location —
 *   the rewrite's splice points, error positions — is the same in both;
 * - an alias the statement itself spells anywhere (as a word, any case) is never used: the call is
 *   refused instead, so no call the caller wrote can resolve to a registration made for another;
 * - after the analysis (and TvfPlan.check, which is keyed by the alias), every resolved scan of an
 *   alias is named back (`restore`), so policy, lineage, the audit and the fingerprint see the
 *   TVF's own name; the text sent upstream is the caller's statement re-emitted, which never holds an
 *   alias (sql/canonical.ts works from the original text).
 */
import { location } from '../canonical.js';

/** Where the analyzed text spells an alias instead of the TVF's last name segment (UTF-8 byte offsets). */
export interface AliasEdit { start: number; end: number; text: string }

const PLAIN = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * The alias (`ML.PREDI_2`) for the `n`-th registration (n ≥ 2) of the TVF `name`, or undefined when
 * none can be spelled (a last segment too short for the number, or the alias already spelled in `sql`).
 */
export function aliasName(sql: string, name: string, n: number): string | undefined {
  const segments = name.split('.');
  const last = segments.at(-1)!;
  const suffix = `_${n}`;
  if (last.length <= suffix.length) return undefined;
  const alias = last.slice(0, last.length - suffix.length) + suffix;
  if (new RegExp(`(?<![A-Za-z0-9_])${alias}(?![A-Za-z0-9_])`, 'i').test(sql)) return undefined;
  return [...segments.slice(0, -1), alias].join('.');
}

/**
 * Spells `alias` (aliasName's) at the call `node` (an ASTTVF) of the TVF `name`: appends the edit
 * of its last name segment to `edits` and returns true; false when that segment is not written as a
 * plain word equal to the TVF's (a quoted or multi-part spelling).
 */
export function spellAlias(sql: string, node: any, name: string, alias: string, edits: AliasEdit[]): boolean {
  const last = name.split('.').at(-1)!;
  const r = location((node?.name?.names ?? []).at(-1));
  if (!r) return false;
  const written = Buffer.from(sql, 'utf8').subarray(r[0], r[1]).toString('utf8');
  if (!PLAIN.test(written) || written.toUpperCase() !== last.toUpperCase()) return false;
  edits.push({ start: r[0], end: r[1], text: alias.split('.').at(-1)! });
  return true;
}

/** `sql` with every edit applied (same byte length as `sql`). */
export function applyEdits(sql: string, edits: AliasEdit[]): string {
  if (!edits.length) return sql;
  const bytes = Buffer.from(sql, 'utf8');
  for (const e of edits) bytes.write(e.text, e.start, 'utf8');
  return bytes.toString('utf8');
}

/**
 * Names every resolved TVF scan of an alias back to its TVF (`aliases`: alias upper case → TVF name),
 * in place, anywhere in `resolved`; and `message` with each alias spelled back.
 */
export function restoreNames(resolved: unknown, aliases: Map<string, string>): void {
  if (!aliases.size) return;
  const walk = (o: unknown): void => {
    if (Array.isArray(o)) { o.forEach(walk); return; }
    if (!o || typeof o !== 'object') return;
    const x = o as Record<string, any>;
    if (x.resolvedTvfscanNode?.tvf?.name !== undefined) {
      const back = aliases.get(String(x.resolvedTvfscanNode.tvf.name).toUpperCase());
      if (back) x.resolvedTvfscanNode.tvf.name = back;
    }
    for (const v of Object.values(x)) walk(v);
  };
  walk(resolved);
}

/** An analyzer message with each alias spelled as its TVF. */
export function restoreMessage(message: string, aliases: Map<string, string>): string {
  let m = message;
  for (const [alias, name] of aliases) m = m.replace(new RegExp(alias.replace(/\./g, '\\.'), 'gi'), name);
  return m;
}
