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

const BINARY_WORDS = new Set(['and', 'or', 'like']);
const OPERATOR_CHARS = '+-*/%|&^=<>!~';
/** Multi-character operators that are not binary (they end no run and add none). */
const NOT_BINARY = new Set(['=>', '->', '|>', '!', '~']);

const isIdentStart = (c: number) => (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c >= 128;
const isIdentPart = (c: number) => isIdentStart(c) || (c >= 48 && c <= 57);
const isSpace = (c: number) => c === 32 || c === 9 || c === 10 || c === 13 || c === 12 || c === 11;

/** The index just past a quoted run starting at `i` (`'…'`, `"…"`, `'''…'''`, `"""…"""`, `` `…` ``), backslash escapes skipped. */
function skipQuoted(sql: string, i: number): number {
  const q = sql[i];
  const triple = q !== '`' && sql.startsWith(q + q + q, i);
  const close = triple ? q + q + q : q;
  for (let j = i + close.length; j < sql.length; j++) {
    if (sql[j] === '\\') { j++; continue; }
    if (sql.startsWith(close, j)) return j + close.length;
  }
  return sql.length; // unterminated: the rest is one token (the analyzer reports the error)
}

/** The index just past a comment starting at `i`, or `i` when there is none. */
function skipComment(sql: string, i: number): number {
  const c = sql[i];
  if (c === '#' || (c === '-' && sql[i + 1] === '-')) {
    const nl = sql.indexOf('\n', i);
    return nl < 0 ? sql.length : nl + 1;
  }
  if (c === '/' && sql[i + 1] === '*') {
    const end = sql.indexOf('*/', i + 2);
    return end < 0 ? sql.length : end + 2;
  }
  return i;
}

/** Measures `sql` in one linear pass (see the module comment). Never throws. */
export function measureSql(sql: string): SqlShape {
  const shape: SqlShape = { bytes: Buffer.byteLength(sql, 'utf8'), tokens: 0, depth: 0, chain: 0 };
  const runs: number[] = [0]; // operator run per open nesting level
  const bump = () => { const d = runs.length - 1; runs[d]++; if (runs[d] > shape.chain) shape.chain = runs[d]; };
  let i = 0;
  while (i < sql.length) {
    const c = sql.charCodeAt(i);
    if (isSpace(c)) { i++; continue; }
    const past = skipComment(sql, i);
    if (past > i) { i = past; continue; }
    shape.tokens++;
    const ch = sql[i];
    if (ch === "'" || ch === '"' || ch === '`') { i = skipQuoted(sql, i); continue; }
    if (isIdentPart(c)) {
      let j = i + 1;
      while (j < sql.length && isIdentPart(sql.charCodeAt(j))) j++;
      // r'…', b"…", rb'''…''': a string literal with its prefix, one token.
      if (j < sql.length && (sql[j] === "'" || sql[j] === '"') && j - i <= 2 && /^[rb]{1,2}$/i.test(sql.slice(i, j))) { i = skipQuoted(sql, j); continue; }
      if (j - i <= 4 && BINARY_WORDS.has(sql.slice(i, j).toLowerCase())) bump();
      i = j;
      continue;
    }
    if (ch === '(' || ch === '[' || ch === '{') { runs.push(0); if (runs.length - 1 > shape.depth) shape.depth = runs.length - 1; i++; continue; }
    if (ch === ')' || ch === ']' || ch === '}') { if (runs.length > 1) runs.pop(); i++; continue; }
    if (ch === ',' || ch === ';') { runs[runs.length - 1] = 0; i++; continue; }
    if (OPERATOR_CHARS.includes(ch)) {
      let j = i + 1;
      while (j < sql.length && j - i < 2 && OPERATOR_CHARS.includes(sql[j]) && !(sql[j] === '-' && sql[j + 1] === '-')) j++;
      const op = sql.slice(i, j);
      if (!NOT_BINARY.has(op)) bump();
      i = j;
      continue;
    }
    i++; // . @ ? : and anything else: one token
  }
  return shape;
}

/**
 * Refuses `sql` when its shape exceeds `limits`: throws `BigQueryError('invalidQuery')` naming the
 * limit, the measured value, the configured maximum and its setting. Bytes are checked before the
 * text is lexed. Returns the measured shape otherwise.
 */
export function checkSqlLimits(sql: string, limits: SqlLimits): SqlShape {
  const bytes = Buffer.byteLength(sql, 'utf8');
  if (limits.maxBytes && bytes > limits.maxBytes) throw tooLarge('bytes', 'the statement is', bytes, limits.maxBytes, 'BQGATE_SQL_MAX_BYTES', 'Send a shorter statement.');
  const s = measureSql(sql);
  if (limits.maxTokens && s.tokens > limits.maxTokens) throw tooLarge('tokens', 'the statement has', s.tokens, limits.maxTokens, 'BQGATE_SQL_MAX_TOKENS', 'Split it into smaller statements.');
  if (limits.maxDepth && s.depth > limits.maxDepth) throw tooLarge('nesting depth', 'parentheses/brackets nest', s.depth, limits.maxDepth, 'BQGATE_SQL_MAX_DEPTH', 'Flatten nested expressions or subqueries (use WITH).');
  if (limits.maxChain && s.chain > limits.maxChain) throw tooLarge('operator chain', 'one expression chains', s.chain, limits.maxChain, 'BQGATE_SQL_MAX_CHAIN', 'Shorten long runs like a + b + c + …, e.g. with an array and a subquery, or split the expression with parentheses/columns.');
  return s;
}

function tooLarge(limit: string, what: string, value: number, max: number, setting: string, fix: string): BigQueryError {
  const unit = limit === 'bytes' ? ' bytes' : limit === 'tokens' ? ' tokens' : limit === 'nesting depth' ? ' levels deep' : ' binary operators';
  return new BigQueryError('invalidQuery', `bqgate refused the statement before analysis: SQL ${limit} limit exceeded (${what} ${value}${unit}; the maximum is ${max}, ${setting}). ${fix} It was not run.`, { location: 'q' });
}
