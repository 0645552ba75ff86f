/**
 * Cheap structural limits on SQL text, checked before the ZetaSQL analyzer sees it (issue: a
 * `1+1+…+1` chain of 4,000 terms holds the analyzer past its deadline and usually crashes it).
 *
 * One linear pass of a deliberately small GoogleSQL lexer counts four things; it never decides what
 * the SQL means (the analyzer does that). It is conservative: whatever it cannot classify counts
 * as a token, every `+ - * / % || & | ^ << >> = != <> < > <= >= AND OR LIKE` counts as a binary
 * operator (a unary minus or `SELECT *` too), and only `,` and `;` end an operator run. Strings,
 * quoted identifiers and comments are skipped as wholes, so a `(` or `+` inside them counts for
 * nothing. (No library here: the SQL parsers available recurse over exactly the shapes being
 * limited, and are not linear on them.)
 */
import { BigQueryError } from '../bigquery/errors.js';

/** The measured shape of one SQL text. */
export interface SqlShape {
  /** UTF-8 length, bytes. */
  bytes: number;
  /** Tokens: keywords, identifiers, literals, operators, punctuation (comments and spaces excluded). */
  tokens: number;
  /** Deepest nesting of `(`, `[` and `{`. */
  depth: number;
  /** Longest run of binary operators at one nesting level, between `,`/`;` separators. */
  chain: number;
}

/** Maxima for `SqlShape` (each inclusive; `0` turns that limit off). */
export interface SqlLimits {
  /** Largest statement, bytes. */
  maxBytes: number;
  maxTokens: number;
  maxDepth: number;
  maxChain: number;
}

/**
 * Defaults: BigQuery's own maximum query length (1,024 K characters) for bytes; for the others a
 * few times the largest seen over the 4,304 corpus statements (`npx tsx scripts/sql-limits.ts`:
 * tokens 5,062, depth 11, chain 47), well below where the analyzer degrades. Measured here: a
 * 1,000-term `+` chain takes it ~1 s, 2,000 terms ~5 s, 4,000 past the 10 s deadline; ~3,000
 * nested subqueries crash it; 20,000 tokens of 100-term chains take ~1.4 s (400-term: ~3.8 s).
 */
export const DEFAULT_SQL_LIMITS: SqlLimits = { maxBytes: 1024 * 1024, maxTokens: 25_000, maxDepth: 50, maxChain: 100 };

/** Character classes by code (ASCII): 1 identifier part, 2 operator character, 4 space. */
const CLASS = new Uint8Array(128);
for (let c = 48; c <= 57; c++) CLASS[c] = 1;
for (let c = 65; c <= 90; c++) CLASS[c] = CLASS[c + 32] = 1;
CLASS[95] = 1;
for (const ch of '+-*/%|&^=<>!~') CLASS[ch.charCodeAt(0)] = 2;
for (const c of [9, 10, 11, 12, 13, 32]) CLASS[c] = 4;
const cls = (c: number) => (c >= 128 ? 1 : CLASS[c]); // non-ASCII: part of an identifier

/** Whether sql[i, j) spells AND, OR or LIKE (any case). */
function binaryWord(sql: string, i: number, j: number): boolean {
  const f = sql.charCodeAt(i) | 32; // lowercase ASCII
  if (j - i < 2 || j - i > 4 || (f !== 97 && f !== 111 && f !== 108)) return false;
  const w = sql.slice(i, j).toLowerCase();
  return w === 'and' || w === 'or' || w === 'like';
}

/** Whether the two-character operator `a b` is not binary: `=>`, `->`, `|>`. */
const notBinary2 = (a: number, b: number) => b === 62 && (a === 61 || a === 45 || a === 124);

/** The index just past a quoted run starting at `i` (single, double or triple quotes, backticks), backslash escapes skipped. */
function skipQuoted(sql: string, i: number): number {
  const q = sql.charCodeAt(i);
  const triple = q !== 96 && sql.charCodeAt(i + 1) === q && sql.charCodeAt(i + 2) === q;
  for (let j = i + (triple ? 3 : 1); j < sql.length; j++) {
    const c = sql.charCodeAt(j);
    if (c === 92) { j++; continue; }
    if (c === q && (!triple || (sql.charCodeAt(j + 1) === q && sql.charCodeAt(j + 2) === q))) return j + (triple ? 3 : 1);
  }
  return sql.length; // unterminated: the rest is one token (the analyzer reports the error)
}

/** The index just past a comment starting at `i` (char code `c`), or `i` when there is none. */
function skipComment(sql: string, i: number, c: number): number {
  if (c === 35 || (c === 45 && sql.charCodeAt(i + 1) === 45)) { // # or --
    const nl = sql.indexOf('\n', i);
    return nl < 0 ? sql.length : nl + 1;
  }
  if (c === 47 && sql.charCodeAt(i + 1) === 42) { // /*
    const end = sql.indexOf('*/', i + 2);
    return end < 0 ? sql.length : end + 2;
  }
  return i;
}

/**
 * Measures `sql` in one linear pass (see the module comment); never throws. With `stopAfterTokens`
 * the pass stops once that many tokens are exceeded (the other measures then cover only the text
 * before that point).
 */
export function measureSql(sql: string, stopAfterTokens = Infinity): SqlShape {
  const shape: SqlShape = { bytes: Buffer.byteLength(sql, 'utf8'), tokens: 0, depth: 0, chain: 0 };
  const runs: number[] = [0]; // operator run per open nesting level
  let d = 0;
  const bump = () => { if (++runs[d] > shape.chain) shape.chain = runs[d]; };
  let i = 0;
  while (i < sql.length) {
    const c = sql.charCodeAt(i);
    const k = cls(c);
    if (k === 4) { i++; continue; }
    const past = skipComment(sql, i, c);
    if (past > i) { i = past; continue; }
    if (++shape.tokens > stopAfterTokens) break;
    if (c === 39 || c === 34 || c === 96) { i = skipQuoted(sql, i); continue; } // ' " `
    if (k === 1) {
      let j = i + 1;
      while (j < sql.length && cls(sql.charCodeAt(j)) === 1) j++;
      const q = sql.charCodeAt(j);
      // r'…', b"…", rb'''…''': a string literal with its prefix, one token.
      if ((q === 39 || q === 34) && j - i <= 2 && /^[rb]{1,2}$/i.test(sql.slice(i, j))) { i = skipQuoted(sql, j); continue; }
      if (binaryWord(sql, i, j)) bump();
      i = j;
      continue;
    }
    if (c === 40 || c === 91 || c === 123) { runs[++d] = 0; if (d > shape.depth) shape.depth = d; i++; continue; } // ( [ {
    if (c === 41 || c === 93 || c === 125) { if (d > 0) d--; i++; continue; } // ) ] }
    if (c === 44 || c === 59) { runs[d] = 0; i++; continue; } // , ;
    if (k === 2) {
      const n = sql.charCodeAt(i + 1);
      const two = cls(n) === 2 && !(n === 45 && sql.charCodeAt(i + 2) === 45); // not into a -- comment
      if (two ? !notBinary2(c, n) : c !== 33 && c !== 126) bump(); // a lone ! or ~ is not binary
      i += two ? 2 : 1;
      continue;
    }
    i++; // . @ ? : and anything else: one token
  }
  return shape;
}

/**
 * Refuses `sql` when its shape exceeds `limits`: throws `BigQueryError('invalidQuery')` naming the
 * limit, the measured value, the configured maximum and its setting. Bytes are checked before the
 * text is lexed, and lexing stops past `maxTokens` (the message then says "more than"). Returns
 * the measured shape otherwise.
 */
export function checkSqlLimits(sql: string, limits: SqlLimits): SqlShape {
  const bytes = Buffer.byteLength(sql, 'utf8');
  if (limits.maxBytes && bytes > limits.maxBytes) throw tooLarge('bytes', 'the statement is', bytes, limits.maxBytes, 'BQGATE_SQL_MAX_BYTES', 'Send a shorter statement.');
  const s = measureSql(sql, limits.maxTokens || Infinity);
  if (limits.maxTokens && s.tokens > limits.maxTokens) throw tooLarge('tokens', 'the statement has more than', limits.maxTokens, limits.maxTokens, 'BQGATE_SQL_MAX_TOKENS', 'Split it into smaller statements.');
  if (limits.maxDepth && s.depth > limits.maxDepth) throw tooLarge('nesting depth', 'parentheses/brackets nest', s.depth, limits.maxDepth, 'BQGATE_SQL_MAX_DEPTH', 'Flatten nested expressions or subqueries (use WITH).');
  if (limits.maxChain && s.chain > limits.maxChain) throw tooLarge('operator chain', 'one expression chains', s.chain, limits.maxChain, 'BQGATE_SQL_MAX_CHAIN', 'Shorten long runs like a + b + c + …, e.g. with an array and a subquery, or split the expression with parentheses/columns.');
  return s;
}

function tooLarge(limit: string, what: string, value: number, max: number, setting: string, fix: string): BigQueryError {
  const unit = limit === 'bytes' ? ' bytes' : limit === 'tokens' ? ' tokens' : limit === 'nesting depth' ? ' levels deep' : ' binary operators';
  return new BigQueryError('invalidQuery', `bqgate refused the statement before analysis: SQL ${limit} limit exceeded (${what} ${value}${unit}; the maximum is ${max}, ${setting}). ${fix} It was not run.`, { location: 'q' });
}
