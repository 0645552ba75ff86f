/**
 * Rewriting function calls on GoogleSQL text before polyglot: `rewriteCalls(sql, names, rule)` finds
 * each unqualified call of one of `names` (not inside a string, comment or quoted name; not `x.f(` or
 * `SAFE.f(`), splits its arguments at top-level commas and replaces the call with what `rule`
 * returns (undefined leaves it). The text is rescanned after each replacement, outermost call first,
 * so a call inside a rewritten call's arguments is rewritten in a later pass.
 */
import { scan } from './translate.js';
import { closing, topLevelCommaParts } from './native-masks.js';

/** What a rule sees of one call: its name (upper case), trimmed argument texts, and the raw text between its parentheses. */
export interface Call { name: string; args: string[]; inner: string }

/** `sql` with the calls `rule` rewrites replaced (see the module comment); at most 10,000 replacements. */
export function rewriteCalls(sql: string, names: string[], rule: (c: Call) => string | undefined): string {
  const call = new RegExp(`\\b(${names.join('|')})\\s*\\(`, 'gi');
  if (!new RegExp(call.source, 'i').test(sql)) return sql;
  const done = new Set<number>();
  for (let pass = 0; pass < 10_000; pass++) {
    const skip: Array<[number, number]> = [];
    scan(sql, (_k, s, e) => skip.push([s, e]));
    let edit: [number, number, string] | undefined;
    for (const m of sql.matchAll(call)) {
      const at = m.index!;
      if (done.has(at) || skip.some(([s, e]) => at >= s && at < e) || /[\w.]/.test(sql[at - 1] ?? '')) continue;
      const open = at + m[0].length - 1;
      const end = closing(sql, open, skip); // just past the closing parenthesis
      if (end < 0) continue;
      const args = topLevelCommaParts(sql, open + 1, end - 1, skip).map((p) => p.trim());
      const out = rule({ name: m[1].toUpperCase(), args, inner: sql.slice(open + 1, end - 1) });
      if (out === undefined) { done.add(at); continue; }
      edit = [at, end, out];
      break;
    }
    if (!edit) break;
    sql = sql.slice(0, edit[0]) + edit[2] + sql.slice(edit[1]);
    done.clear();
  }
  return sql;
}
