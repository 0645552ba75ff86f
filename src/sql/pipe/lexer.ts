/**
 * A GoogleSQL tokenizer, following the BigQuery "Lexical structure and syntax" reference
 * (https://cloud.google.com/bigquery/docs/reference/standard-sql/lexical) and ZetaSQL's lexer where
 * the two could be read differently:
 * - string and bytes literals: `'…'`, `"…"`, `'''…'''`, `"""…"""`, with the prefixes `r`, `b`,
 *   `rb`, `br` in any case; a backslash always takes the next character with it (also in raw
 *   literals, where it keeps a quote from ending the literal); a one-quote literal may not contain
 *   CR or LF;
 * - comments: `--` and `#` end at the next CR or LF (not at U+2028/U+2029), `/* … *\/` ends at the
 *   first `*\/` (they do not nest);
 * - backquoted identifiers with backslash escapes, no CR or LF inside;
 * - `@name` / `@@name` (one token each), numbers (decimal, exponent, hex; after a name, `)` or
 *   `]` a `.` before digits is a path step, not a decimal point), `|>` and the other
 *   multi-character operators.
 *
 * Positions are UTF-16 indices into the input (JavaScript string offsets), `[start, end)`.
 * Anything it cannot read — an unterminated literal, comment or identifier, a character outside
 * GoogleSQL's lexical grammar (any non-ASCII character outside a literal, identifier or comment,
 * except the Unicode spaces of WHITESPACE) —
 * throws BigQueryError('invalidQuery'), so the desugarer never guesses where code ends.
 */
import { BigQueryError } from '../../bigquery/errors.js';

export type TokenKind = 'word' | 'quoted' | 'string' | 'bytes' | 'number' | 'param' | 'op';

export interface Token {
  kind: TokenKind;
  /** The token as written. */
  text: string;
  start: number;
  end: number;
  /** Upper-cased text for a `word` (keywords and plain identifiers). */
  upper?: string;
}

/**
 * Whitespace as ZetaSQL's lexer reads it (zetasql/parser/zetasql.tm `whitespace_character`, probed on
 * this build: test/pipe.test.ts): ASCII space, tab, LF, CR, backspace, FF, VT and the Unicode spaces
 * U+00A0, U+2000–U+200A, U+202F, U+205F, U+3000 — not U+0085, U+1680, U+180E, U+200B, U+2028,
 * U+2029 or U+FEFF, which it refuses outside literals, identifiers and comments (so does this lexer).
 */
export const WHITESPACE: ReadonlySet<string> = new Set([' ', '\t', '\n', '\r', '\b', '\f', '\v', '\u00a0', ...Array.from({ length: 11 }, (_, k) => String.fromCharCode(0x2000 + k)), '\u202f', '\u205f', '\u3000']);

const OPS = ['|>', '<=', '>=', '<>', '!=', '<<', '>>', '||', '=>', '->', '+=', '-='];
const SINGLE = '()[]{},.;*/+-=<>!|&^~%:?';

const fail = (why: string, at: number) => new BigQueryError('invalidQuery', `bqgate cannot read this statement (${why} at character ${at + 1}); it was not run.`, { location: 'q' });

/** The tokens of `sql`, comments and whitespace left out. Throws BigQueryError(invalidQuery). */
export function tokenize(sql: string): Token[] {
  const out: Token[] = [];
  const n = sql.length;
  let i = 0;
  const push = (kind: TokenKind, start: number, end: number) => {
    const text = sql.slice(start, end);
    out.push(kind === 'word' ? { kind, text, start, end, upper: text.toUpperCase() } : { kind, text, start, end });
  };
  while (i < n) {
    const c = sql[i];
    if (WHITESPACE.has(c)) { i++; continue; }
    if (c === '#' || (c === '-' && sql[i + 1] === '-')) {
      while (i < n && sql[i] !== '\n' && sql[i] !== '\r') i++;
      continue;
    }
    if (c === '/' && sql[i + 1] === '*') {
      const j = sql.indexOf('*/', i + 2);
      if (j < 0) throw fail('an unterminated comment', i);
      i = j + 2;
      continue;
    }
    const start = i;
    const prefix = /^(rb|br|r|b)(?=['"])/i.exec(sql.slice(i, i + 3));
    if (c === "'" || c === '"' || prefix) {
      const p = prefix ? prefix[0].length : 0;
      i = readQuoted(sql, i + p);
      push(/b/i.test(prefix?.[0] ?? '') ? 'bytes' : 'string', start, i);
      continue;
    }
    if (c === '`') {
      i++;
      while (i < n && sql[i] !== '`') {
        if (sql[i] === '\n' || sql[i] === '\r') throw fail('a line break inside a backquoted identifier', i);
        i += sql[i] === '\\' ? 2 : 1;
      }
      if (i >= n) throw fail('an unterminated backquoted identifier', start);
      i++;
      push('quoted', start, i);
      continue;
    }
    if (/[A-Za-z_]/.test(c)) {
      while (i < n && /[A-Za-z0-9_]/.test(sql[i])) i++;
      push('word', start, i);
      continue;
    }
    // After a name, `)` or `]`, `.5` is a path step (`.` then `5`), as ZetaSQL lexes it, not a number.
    const afterPath = out.length > 0 && (['word', 'quoted'].includes(out[out.length - 1].kind) || [')', ']'].includes(out[out.length - 1].text));
    if (/[0-9]/.test(c) || (c === '.' && !afterPath && /[0-9]/.test(sql[i + 1] ?? ''))) {
      const m = /^(0[xX][0-9A-Fa-f]+|([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?)/.exec(sql.slice(i))!;
      i += m[0].length;
      push('number', start, i);
      continue;
    }
    if (c === '@') {
      i += sql[i + 1] === '@' ? 2 : 1;
      if (sql[i] === '`') {
        const m = /^`(?:[^`\\\r\n]|\\.)*`/.exec(sql.slice(i));
        if (!m) throw fail('an unterminated backquoted parameter name', start);
        i += m[0].length;
      } else {
        if (!/[A-Za-z_]/.test(sql[i] ?? '')) throw fail('an @ without a name', start);
        while (i < n && /[A-Za-z0-9_]/.test(sql[i])) i++;
      }
      push('param', start, i);
      continue;
    }
    const op = OPS.find((o) => sql.startsWith(o, i));
    if (op) { i += op.length; push('op', start, i); continue; }
    if (SINGLE.includes(c)) { i++; push('op', start, i); continue; }
    throw fail(`the character ${JSON.stringify(c)}`, i);
  }
  return out;
}

/** The end of the quoted literal whose opening quote is at `i`. */
function readQuoted(sql: string, i: number): number {
  const q = sql[i];
  const triple = sql.startsWith(q.repeat(3), i);
  const open = i;
  i += triple ? 3 : 1;
  for (;;) {
    if (i >= sql.length) throw fail('an unterminated string literal', open);
    const c = sql[i];
    if (c === '\\') { i += 2; continue; }
    if (triple ? sql.startsWith(q.repeat(3), i) : c === q) return i + (triple ? 3 : 1);
    if (!triple && (c === '\n' || c === '\r')) throw fail('a line break inside a one-quote string literal', i);
    i++;
  }
}
