/**
 * The GoogleSQL division operator `x / y` with BigQuery's meaning in DuckDB
 * (https://cloud.google.com/bigquery/docs/reference/standard-sql/operators#arithmetic_operators):
 * dividing by zero is the error "division by zero: x / 0" for INT64, NUMERIC and FLOAT64 alike
 * (IEEE_DIVIDE gives ±inf/NaN, SAFE_DIVIDE NULL — both functions, untouched here). DuckDB's `/`
 * gives Infinity, NaN or NULL, and @polyglot-sql/sdk (0.12) passes the operator through.
 *
 * `divisionOperators` rewrites every `L / R` in GoogleSQL text (before polyglot reads it) to the
 * call `bqgate_fn__OP_DIVIDE(L, R)` (the OP_DIVIDE macro of decimal-arith.ts, pointed at by translate-functions.ts
 * `nativeCalls`). The operands are found on polyglot's BigQuery tokens with BigQuery's precedence
 * (https://cloud.google.com/bigquery/docs/reference/standard-sql/operators#operator_precedence):
 * `*`, `/` and `||` share a level, left-associative, above `+`/`-`; unary `+ - ~`, field access
 * and subscripts bind tighter. So L is the chain of units joined by `*`/`||` left of the slash
 * (earlier slashes already rewritten, left to right) and R one unit with its unary signs. A unit is
 * a literal, a (typed) NUMERIC literal, a name path, a call (with OVER), a parenthesized or
 * bracketed group, or CASE … END, with its `.field` / `[…]` suffixes. A leading unary sign of L is
 * left outside (`-a / b` → `-(a / b)`: the same value). A slash whose operands cannot be read, or whose
 * left operand is an INTERVAL literal (an INTERVAL divided by an INT64), is left to DuckDB.
 * NULL / 0 is NULL, as BigQuery's operators return NULL on a NULL input.
 */
import { tokenize, Dialect } from '@polyglot-sql/sdk';

/** BigQuery's message inside DuckDB's error for the OP_DIVIDE macro's failing cast (decimal-arith.ts: the cast carries it), if it is one. */
export function divisionByZeroMessage(duckMessage: string): string | undefined {
  return /Could not convert string '(division by zero: [^']*)'/.exec(duckMessage)?.[1];
}

export interface Tok { type: string; text: string; start: number; end: number }

/** BigQuery reserved keywords (https://cloud.google.com/bigquery/docs/reference/standard-sql/lexical#reserved_keywords) that cannot name a unit or a function. */
const RESERVED = new Set(('ALL AND ANY AS ASC ASSERT_ROWS_MODIFIED AT BETWEEN BY CASE CONTAINS CREATE CROSS CUBE DEFAULT DEFINE DESC '
  + 'DISTINCT ELSE END ENUM ESCAPE EXCEPT EXCLUDE FETCH FOLLOWING FOR FROM FULL GROUP GROUPS HAVING IGNORE IN INNER INTERSECT '
  + 'INTERVAL INTO IS JOIN LATERAL LIKE LIMIT MERGE NATURAL NEW NO NOT NULLS OF ON OR ORDER OUTER OVER PARTITION PRECEDING PROTO '
  + 'QUALIFY RECURSIVE RESPECT ROLLUP ROWS SELECT SET SOME TABLESAMPLE THEN TO TREAT UNBOUNDED UNION UNNEST USING WHEN WHERE '
  + 'WINDOW WITH WITHIN').split(' '));
const NUMERIC_TYPES = new Set(['NUMERIC', 'BIGNUMERIC', 'DECIMAL', 'BIGDECIMAL']);
const INTERVAL_PART = /^(?:YEAR|QUARTER|MONTH|WEEK|DAY|HOUR|MINUTE|SECOND|MILLISECOND|MICROSECOND)$/i;
const OPEN: Record<string, string> = { '(': ')', '[': ']' };
const CLOSE: Record<string, string> = { ')': '(', ']': '[' };

const isName = (t?: Tok) => !!t && (t.type === 'QUOTED_IDENTIFIER' || (/^[A-Za-z_]/.test(t.text) && !isString(t) && !RESERVED.has(t.text.toUpperCase())));
const isLiteral = (t?: Tok) => !!t && (/^(?:[0-9.]|['"])/.test(t.text) || /STRING|NUMBER/.test(t.type));
export const isString = (t?: Tok) => !!t && /STRING/.test(t.type);
const isWord = (t: Tok | undefined, w: string) => !!t && t.text.toUpperCase() === w;

/** Index of the token closing the group opened at `i` (`(`/`[` or CASE); -1 if none. */
export function forwardMatch(ts: Tok[], i: number): number {
  const open = ts[i].text.toUpperCase();
  const close = open === 'CASE' ? 'END' : OPEN[open];
  let depth = 0;
  for (let k = i; k < ts.length; k++) {
    const x = isString(ts[k]) ? '' : ts[k].text.toUpperCase();
    if (x === open) depth++;
    else if (x === close && --depth === 0) return k;
  }
  return -1;
}

/** Index of the token opening the group closed at `i` (`)`/`]` or END); -1 if none. */
function backwardMatch(ts: Tok[], i: number): number {
  const close = ts[i].text.toUpperCase();
  const open = close === 'END' ? 'CASE' : CLOSE[close];
  let depth = 0;
  for (let k = i; k >= 0; k--) {
    const x = isString(ts[k]) ? '' : ts[k].text.toUpperCase();
    if (x === close) depth++;
    else if (x === open && --depth === 0) return k;
  }
  return -1;
}

/** First token of the unit (with its prefixes: function name, path, subscript base, OVER) ending at `j`; -1 if none. */
export function unitStart(ts: Tok[], j: number): number {
  const t = ts[j];
  if (!t) return -1;
  let s = isString(t) ? j : CLOSE[t.text] || isWord(t, 'END') ? backwardMatch(ts, j) : isName(t) || isLiteral(t) || /^(?:NULL|TRUE|FALSE)$/i.test(t.text) ? j : -1;
  if (s < 0) return -1;
  for (;;) {
    const p = ts[s - 1];
    const here = isString(ts[s]) ? '' : ts[s].text;
    if (here === '(' && isWord(p, 'OVER')) { s = unitStart(ts, s - 2); if (s < 0) return -1; continue; }
    if (isName(ts[s]) && isWord(p, 'OVER')) { s = unitStart(ts, s - 2); if (s < 0) return -1; continue; }
    if (here === '(' && (isName(p) || /^(?:ARRAY|CAST|EXTRACT|IF|STRUCT|EXISTS|RANGE|LEFT|RIGHT|GROUPING)$/i.test(p?.text ?? ''))) { s--; continue; }
    if (here === '[' && p && (CLOSE[p.text] || isName(p))) { s = unitStart(ts, s - 1); if (s < 0) return -1; continue; }
    if (isName(ts[s]) && p?.text === '.') { s = unitStart(ts, s - 2); if (s < 0) return -1; continue; }
    if (isString(ts[s]) && NUMERIC_TYPES.has(p?.text.toUpperCase() ?? '')) s--;
    return s;
  }
}

/** One past the last token of the unit (with its suffixes) starting at `k`; -1 if none. */
function unitEnd(ts: Tok[], k: number): number {
  const t = ts[k];
  if (!t) return -1;
  let e: number;
  if (!isString(t) && (OPEN[t.text] || isWord(t, 'CASE'))) { const m = forwardMatch(ts, k); if (m < 0) return -1; e = m + 1; }
  else if (NUMERIC_TYPES.has(t.text.toUpperCase()) && isString(ts[k + 1])) e = k + 2;
  else if (isName(t) || isLiteral(t) || /^(?:NULL|TRUE|FALSE|ARRAY|CAST|EXTRACT|IF|STRUCT|EXISTS|RANGE|LEFT|RIGHT|GROUPING)$/i.test(t.text)) e = k + 1;
  else return -1;
  for (;;) {
    const n = ts[e];
    if (n && !isString(n) && OPEN[n.text]) { const m = forwardMatch(ts, e); if (m < 0) return -1; e = m + 1; continue; }
    if (n?.text === '.' && isName(ts[e + 1])) { e += 2; continue; }
    if (isWord(n, 'OVER')) {
      if (ts[e + 1]?.text === '(') { const m = forwardMatch(ts, e + 1); if (m < 0) return -1; e = m + 1; } else if (isName(ts[e + 1])) e += 2;
      continue;
    }
    return e;
  }
}

/** `[startToken, endToken)` of `L / R` around the slash at `i`, or undefined when an operand cannot be read. */
function operands(ts: Tok[], i: number): [number, number] | undefined {
  if (INTERVAL_PART.test(ts[i - 1]?.text ?? '') && ts.slice(Math.max(0, i - 6), i).some((t) => isWord(t, 'INTERVAL'))) return undefined; // INTERVAL n PART / k: left to DuckDB
  let s = unitStart(ts, i - 1);
  while (s > 1 && (ts[s - 1].text === '*' || ts[s - 1].text === '||')) {
    const s2 = unitStart(ts, s - 2);
    if (s2 < 0) break;
    s = s2;
  }
  let k = i + 1;
  while (ts[k] && /^[-+~]$/.test(ts[k].text)) k++;
  const e = unitEnd(ts, k);
  return s < 0 || e < 0 ? undefined : [s, e];
}

/** polyglot's BigQuery tokens of `sql` (a string literal one token, comments dropped); undefined when it cannot read them. */
export function bigQueryTokens(sql: string): Tok[] | undefined {
  const r = tokenize(sql, Dialect.BigQuery) as { success: boolean; tokens?: Array<{ token_type: string; text: string; span: { start: number; end: number } }> };
  return r.success && r.tokens ? r.tokens.map((t) => ({ type: t.token_type, text: t.text, start: t.span.start, end: t.span.end })) : undefined;
}

/** Every `/` operator of GoogleSQL `sql` as `bqgate_fn__OP_DIVIDE(L, R)` (see above). */
export function divisionOperators(sql: string): string {
  return operatorCalls(sql, 'SLASH', 'OP_DIVIDE');
}

/**
 * Every binary operator token of `type` (`SLASH`, `STAR`) in GoogleSQL `sql` whose operands can be read (see above) as the call
 * `bqgate_fn__<fn>(L, R)`, left to right; `skip(ts, i)` may leave one as written. A token without a left operand (`SELECT *`,
 * `COUNT(*)`, `t.*`) is not an operator and stays.
 */
export function operatorCalls(sql: string, type: string, fn: string, skip: (ts: Tok[], i: number) => boolean = () => false): string {
  const text = type === 'SLASH' ? '/' : '*';
  if (!sql.includes(text)) return sql;
  let skipped = 0;
  for (let round = 0; round < 10_000; round++) {
    const ts = bigQueryTokens(sql);
    if (!ts) return sql;
    const ops = ts.map((t, i) => (t.text === text && t.type === type ? i : -1)).filter((i) => i >= 0);
    const i = ops[skipped];
    if (i === undefined) return sql;
    const span = skip(ts, i) ? undefined : operands(ts, i);
    if (!span) { skipped++; continue; }
    const [s, e] = span;
    const left = sql.slice(ts[s].start, ts[i].start).trim();
    const right = sql.slice(ts[i].end, ts[e - 1].end).trim();
    sql = `${sql.slice(0, ts[s].start)}bqgate_fn__${fn}(${left}, ${right})${sql.slice(ts[e - 1].end)}`;
  }
  return sql;
}
