/**
 * The GoogleSQL `*` operator and AVG as the decimal-aware macros of decimal-arith.ts, which give
 * BigQuery's result types (https://cloud.google.com/bigquery/docs/reference/standard-sql/operators#arithmetic_operators,
 * https://cloud.google.com/bigquery/docs/reference/standard-sql/aggregate_functions#avg):
 *
 * - `multiplyOperators` (GoogleSQL, before polyglot): every `L * R` → `bqgate_fn__OP_MULTIPLY(L, R)`, the
 *   operands read as translate-divide.ts reads a division's (`*`, `/` and `||` share a precedence level).
 *   A star without a left operand (`SELECT *`, `COUNT(*)`, `t.*`) is no operator; a quantifier of a
 *   MATCH_RECOGNIZE PATTERN stays as written;
 * - `avgCalls` (GoogleSQL, before polyglot): `AVG(args) [OVER w]` → `bqgate_fn__AVG_OF(AVG(args) [OVER w],
 *   SUM(args) [OVER w], COUNT(args) [OVER w])`: a decimal's average is its SUM / COUNT at the decimal's type;
 * - `decimalUnits` (DuckDB, after polyglot): each call of OP_DIVIDE / OP_MULTIPLY / AVG_OF gets its
 *   result unit as a last argument, `10^-scale` typed DECIMAL(38, scale) (scale 19 when an operand is the
 *   emulator's BIGNUMERIC, else 9). It is written in the statement because DuckDB binds a macro's body
 *   when the macro is created, and ROUND, which gives the unit its type, needs its precision constant
 *   then; in the statement the precision is `typeof` of the operands, which DuckDB folds. The operands'
 *   copies in it are only typed, never evaluated — but they are text: each nesting level copies its
 *   operands (an inner call with its unit) three times, so `a * b * c * …` grows about 3× per factor
 *   (8 factors: 231 KB; 10: 2 MB and seconds of translation). A translation past `MAX_UNIT_TEXT`
 *   (1 MiB) is refused with invalidQuery, naming the cause, before it can grow further: an agent's
 *   statement cannot make the emulator translate or bind megabytes.
 */
import { bigQueryTokens, forwardMatch, operatorCalls, type Tok } from './translate-divide.js';
import { closing, quotedSpans, topLevelCommaParts } from './native-masks.js';
import { BigQueryError } from '../bigquery/errors.js';

/** The largest translation decimalUnits builds (characters); past it the statement is refused. */
export const MAX_UNIT_TEXT = 1024 * 1024;

/** Whether the star at `i` is in the parentheses of a MATCH_RECOGNIZE `PATTERN (…)` (a quantifier). */
function inPattern(ts: Tok[], i: number): boolean {
  let depth = 0;
  for (let k = i - 1; k >= 0; k--) {
    if (ts[k].text === ')') depth++;
    else if (ts[k].text === '(' && depth-- === 0 && ts[k - 1]?.text.toUpperCase() === 'PATTERN') return true;
  }
  return false;
}

/** Every `*` operator of GoogleSQL `sql` as `bqgate_fn__OP_MULTIPLY(L, R)` (see above). */
export function multiplyOperators(sql: string): string {
  return operatorCalls(sql, 'STAR', 'OP_MULTIPLY', inPattern);
}

/** Index one past the token closing the group opened at `open` (`(`); -1 if none. */
const after = (ts: Tok[], open: number): number => { const k = forwardMatch(ts, open); return k < 0 ? -1 : k + 1; };

/** Every `AVG(args) [OVER w]` of GoogleSQL `sql` as the AVG_OF call (see above). */
export function avgCalls(sql: string): string {
  if (!/\bAVG\s*\(/i.test(sql)) return sql;
  const ts = bigQueryTokens(sql);
  if (!ts) return sql;
  const edits: Array<[number, number, string]> = [];
  for (let i = 0; i < ts.length; i++) {
    if (ts[i].text.toUpperCase() !== 'AVG' || ts[i + 1]?.text !== '(' || ts[i - 1]?.text === '.' || /STRING|QUOTED/.test(ts[i].type)) continue;
    let end = after(ts, i + 1);
    if (end < 0) continue;
    if (ts[end]?.text.toUpperCase() === 'OVER') {
      if (ts[end + 1]?.text === '(') end = after(ts, end + 1); else if (ts[end + 1]) end += 2;
      if (end < 0) continue;
    }
    const args = sql.slice(ts[i + 1].start, ts[end - 1].end); // `(args) [OVER w]`
    edits.push([ts[i].start, ts[end - 1].end, `bqgate_fn__AVG_OF(AVG${args}, SUM${args}, COUNT${args})`]);
    i = end - 1;
  }
  let out = sql;
  for (const [s, e, text] of edits.reverse()) out = out.slice(0, s) + text + out.slice(e);
  return out;
}

const CALLS = /memory\.main\.bq_(op_divide|op_multiply|avg_of)\(/gi;
const NUMERIC_UNIT = `'0.${'0'.repeat(8)}1'`;
const BIGNUMERIC_UNIT = `'0.${'0'.repeat(18)}1'`;

/** The top-level arguments of the call whose `(` is at `open` in DuckDB text, and the index of its `)`; undefined if unbalanced. */
function callArgs(sql: string, open: number, quoted: Array<[number, number]>): { args: string[]; close: number } | undefined {
  const end = closing(sql, open, quoted);
  return end < 0 ? undefined : { args: topLevelCommaParts(sql, open + 1, end - 1, quoted).map((a) => a.trim()), close: end - 1 };
}

/** Each OP_DIVIDE / OP_MULTIPLY / AVG_OF call of DuckDB text `duck` with its unit argument (see above), innermost first. */
export function decimalUnits(duck: string): string {
  for (let guard = 0; guard < 10_000; guard++) {
    const quoted = quotedSpans(duck);
    const calls = [...duck.matchAll(CALLS)].filter((m) => !quoted.some(([s, e]) => m.index! > s && m.index! < e));
    let done = true;
    for (const m of calls.reverse()) { // innermost (last opened) first
      const open = m.index! + m[0].length - 1;
      const call = callArgs(duck, open, quoted);
      if (!call) continue;
      const want = m[1].toLowerCase() === 'avg_of' ? 3 : 2;
      if (call.args.length !== want) continue; // done already (it has its unit) or not ours
      const [x, y] = want === 3 ? [call.args[1], call.args[2]] : call.args;
      const scale = `memory.main.bq_bqgate_dec_scale(${x}, ${y})`;
      const unit = `round(CAST(CASE WHEN ${scale} = 19 THEN ${BIGNUMERIC_UNIT} ELSE ${NUMERIC_UNIT} END AS DECIMAL(38,19)), ${scale})`;
      duck = `${duck.slice(0, call.close)}, ${unit}${duck.slice(call.close)}`;
      if (duck.length > MAX_UNIT_TEXT) throw new BigQueryError('invalidQuery', `The emulator cannot run this statement: its translation of nested NUMERIC-aware *, / and AVG grows past ${MAX_UNIT_TEXT / 1024} KiB (each level copies its operands' types). Split the arithmetic into a subquery or CTE, or run it on BigQuery.`, { location: 'query' });
      done = false;
      break;
    }
    if (done) return duck;
  }
  return duck;
}
