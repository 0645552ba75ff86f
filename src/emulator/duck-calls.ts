/**
 * Rewrites calls of a function in translated DuckDB text: for each match of `call` (a regexp ending
 * in the call's `(`, global) outside quoted spans and not part of a longer name, `rewrite` gets the
 * call's text, its top-level arguments (untrimmed) and where it starts and ends, and returns the new
 * text or undefined to keep it. A call inside one already rewritten is left to the outer rewrite.
 */
import { closing, inQuoted, quotedSpans, topLevelCommaParts } from './native-masks.js';

export interface DuckCall { text: string; args: string[]; start: number; end: number }

export function rewriteDuckCalls(duck: string, call: RegExp, rewrite: (c: DuckCall) => string | undefined): string {
  const quoted = quotedSpans(duck);
  const edits: Array<[number, number, string]> = [];
  for (const m of duck.matchAll(call)) {
    const at = m.index!;
    if (inQuoted(at, quoted) || /[\w.]/.test(duck[at - 1] ?? '') || edits.some(([s, e]) => at > s && at < e)) continue;
    const end = closing(duck, at + m[0].length - 1, quoted);
    if (end < 0) continue;
    const text = rewrite({ text: duck.slice(at, end), args: topLevelCommaParts(duck, at + m[0].length, end - 1, quoted), start: at, end });
    if (text !== undefined) edits.push([at, end, text]);
  }
  let out = duck;
  for (const [s, e, text] of edits.reverse()) out = out.slice(0, s) + text + out.slice(e);
  return out;
}
