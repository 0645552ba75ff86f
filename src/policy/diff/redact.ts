/**
 * Literal-free statement text for diff reports. The example statement of a change group is the
 * statement as the gateway regenerates it from ZetaSQL's parse (sql/canonical.ts via
 * `Analyzer.regenerate`: no comments, every literal in one plain form, identifiers as written or
 * backquoted) with every literal — strings, bytes, numbers, and the quoted part of typed literals
 * (`DATE '…'`, `NUMERIC '…'`, `JSON '…'`) — replaced by `?`. The recorded text itself is never
 * shown (its comments and literals may carry protected values). TRUE, FALSE, NULL, query parameter
 * names (`@name`) and identifiers stay.
 */

const WORD = /[A-Za-z_][A-Za-z0-9_]*/y;
const NUMBER = /(0[xX][0-9A-Fa-f]+|[0-9]+\.?[0-9]*([eE][+-]?[0-9]+)?|\.[0-9]+([eE][+-]?[0-9]+)?)/y;

/** End (exclusive) of the quoted run starting at `i` (`s[i]` is the quote), backslash escapes honoured. */
function quotedEnd(s: string, i: number): number {
  const q = s[i];
  let j = i + 1;
  while (j < s.length && s[j] !== q) j += s[j] === '\\' ? 2 : 1;
  return Math.min(j + 1, s.length);
}

/**
 * `canonical` (text sql/canonical.ts `reemit` wrote) with its literals as `?`; `literals` counts them.
 * Only for canonical text: it has no comments and only single-quoted, backslash-escaped literals.
 */
export function redactLiterals(canonical: string): { text: string; literals: number } {
  let out = '';
  let literals = 0;
  let i = 0;
  const s = canonical;
  while (i < s.length) {
    const c = s[i];
    if (c === '`') { const j = quotedEnd(s, i); out += s.slice(i, j); i = j; continue; }
    if (c === "'" || c === '"') { i = quotedEnd(s, i); out += '?'; literals++; continue; }
    WORD.lastIndex = i;
    const w = WORD.exec(s);
    if (w) {
      const after = i + w[0].length;
      if (/^[bBrR]{1,2}$/.test(w[0]) && (s[after] === "'" || s[after] === '"')) { i = quotedEnd(s, after); out += '?'; literals++; continue; }
      out += w[0]; i = after; continue;
    }
    NUMBER.lastIndex = i;
    const n = /[0-9.]/.test(c) ? NUMBER.exec(s) : null;
    if (n && n[0] !== '.') { out += '?'; literals++; i += n[0].length; continue; }
    out += c; i++;
  }
  return { text: out, literals };
}

/**
 * An analyzer error message without anything quoted from the statement: quoted runs ('…', "…")
 * become `?`, and so do numbers other than the `[at line:column]` position. Shapes kept: reason
 * phrases, table and column names as the analyzer printed them unquoted.
 */
export function redactMessage(message: string): string {
  return message
    .replace(/'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"/g, '?')
    .replace(/\[at (\d+):(\d+)\]|\b\d[\d.,:/-]*\b/g, (m) => (m.startsWith('[at') ? m : '?'))
    .slice(0, 300);
}
