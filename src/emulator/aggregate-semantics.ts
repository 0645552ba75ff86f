/**
 * Aggregate calls polyglot (0.12) translates to DuckDB with another meaning, rewritten on the
 * GoogleSQL text before polyglot reads it (`aggregateCalls`):
 *
 * - `STRING_AGG([DISTINCT] x [, delimiter] [ORDER BY …] LIMIT n)`
 *   (https://cloud.google.com/bigquery/docs/reference/standard-sql/aggregate_functions#string_agg):
 *   polyglot drops the LIMIT (`LISTAGG(…)` of every value). Written as
 *   `ARRAY_TO_STRING(ARRAY_AGG([DISTINCT] x IGNORE NULLS [ORDER BY …] LIMIT n), delimiter)`, the
 *   first n non-NULL values joined (the delimiter defaults to `,`), which translate-syntax.ts's
 *   ARRAY_AGG … LIMIT handles.
 * - `BIT_AND|BIT_OR|BIT_XOR(DISTINCT x)` (#bit_xor): polyglot drops the DISTINCT, so
 *   `BIT_XOR(DISTINCT x)` over [1234, 5678, 1234] was 5678 (BigQuery: 4860). Written as the macros
 *   `BQGATE_BIT_*_DISTINCT` (`AGGREGATE_MACROS`), DuckDB's aggregate over the distinct values.
 * - `CORR(y, x)` (https://cloud.google.com/bigquery/docs/reference/standard-sql/statistical_aggregate_functions#corr):
 *   NULL when fewer than two rows have both values (DuckDB's `corr` gives NaN for one pair); the
 *   `BQGATE_CORR` macro. An analytic `CORR(…) OVER (…)` is left to polyglot.
 * - `APPROX_QUANTILES([DISTINCT] x, n [RESPECT | IGNORE NULLS])`
 *   (https://cloud.google.com/bigquery/docs/reference/standard-sql/approximate_aggregate_functions#approx_quantiles):
 *   polyglot writes DuckDB's `APPROX_QUANTILE` (a t-digest: `[1, 6, 10]` for the page's `[1, 5, 10]`)
 *   and drops RESPECT NULLS. Here the answer is exact: the n + 1 boundaries of the sorted values
 *   (NULLs first when RESPECTed, else left out), boundary i being the value at 0-based rank
 *   ⌊i·(m − 1)/n⌋ of the m values — the answers the page prints. BigQuery's own answer is an
 *   approximation on large inputs (its page: "the approximate boundaries"), so the emulator's exact
 *   one is within what BigQuery guarantees, not always equal to it.
 *
 * And on the DuckDB text after polyglot (`percentileDisc`):
 * - `PERCENTILE_DISC(x, p) OVER (…)` (https://cloud.google.com/bigquery/docs/reference/standard-sql/navigation_functions#percentile_disc),
 *   which polyglot passes through: DuckDB's `QUANTILE_DISC`, the first value (NULLs ignored) whose
 *   cumulative distribution reaches p — BigQuery's definition (measured: over [1, 2, 3, 4], p 0.26 →
 *   2, 0.75 → 3, 0.76 → 4, 0 → 1). `RESPECT NULLS` (NULLs sorted first) has no DuckDB equivalent,
 *   and polyglot drops it: `percentileRespectNulls` (GoogleSQL text, before polyglot) refuses such a
 *   statement (invalidQuery) rather than answer as if NULLs were ignored.
 */
import { scan } from './translate.js';
import { closing, topLevelCommaParts } from './native-masks.js';
import { BigQueryError } from '../bigquery/errors.js';

/** GoogleSQL `sql`, unchanged; throws BigQueryError('invalidQuery') for PERCENTILE_DISC / PERCENTILE_CONT … RESPECT NULLS (see above). */
export function percentileRespectNulls(sql: string): string {
  if (!/\bRESPECT\s+NULLS\b/i.test(sql)) return sql;
  const skip: Array<[number, number]> = [];
  scan(sql, (_k, s, e) => skip.push([s, e]));
  for (const m of sql.matchAll(/\bPERCENTILE_(DISC|CONT)\s*\(/gi)) {
    const open = m.index! + m[0].length - 1;
    const end = closing(sql, open, skip);
    if (end > 0 && /\bRESPECT\s+NULLS\b/i.test(sql.slice(open, end))) {
      throw new BigQueryError('invalidQuery', `The emulator cannot run PERCENTILE_${m[1].toUpperCase()}(… RESPECT NULLS): DuckDB's quantiles ignore NULLs. Use IGNORE NULLS (the default), or run it on BigQuery.`, { location: 'query' });
    }
  }
  return sql;
}

/** DuckDB text with each PERCENTILE_DISC call as QUANTILE_DISC (see above). */
export const percentileDisc = (duck: string): string =>
  (duck.replace(/\bPERCENTILE_DISC\s*\(/gi, (m, at: number) => (/[\w.]/.test(duck[at - 1] ?? '') ? m : 'QUANTILE_DISC(')));

const RENAMED = 'bqgate_fn__'; // translate-functions.ts: a renamed call of a MACROS entry

/** name → [DuckDB macro parameters, body], spread into translate-functions.ts MACROS. */
export const AGGREGATE_MACROS: Record<string, [string, string]> = {
  BQGATE_BIT_AND_DISTINCT: ['x', 'bit_and(DISTINCT x)'],
  BQGATE_BIT_OR_DISTINCT: ['x', 'bit_or(DISTINCT x)'],
  BQGATE_BIT_XOR_DISTINCT: ['x', 'bit_xor(DISTINCT x)'],
  // CORR: NULL with fewer than two non-NULL pairs (DuckDB's corr gives NaN for one)
  BQGATE_CORR: ['y, x', 'CASE WHEN count(CASE WHEN y IS NOT NULL AND x IS NOT NULL THEN 1 END) < 2 THEN NULL ELSE corr(y, x) END'],
  // l: the values sorted (ARRAY_AGG … ORDER BY), n: the number of quantiles; NULL for no values, as BigQuery's aggregate is
  BQGATE_QUANTILES: ['l, n', `CASE WHEN l IS NULL OR len(l) = 0 THEN NULL
    ELSE list_transform(range(0, CASE WHEN n > 0 THEN n + 1 ELSE CAST('APPROX_QUANTILES: the number of quantiles must be positive' AS INTEGER) END),
      lambda i: l[(i * (len(l) - 1)) // n + 1]) END`],
};

const CALL = /\b(STRING_AGG|BIT_AND|BIT_OR|BIT_XOR|APPROX_QUANTILES|CORR)\s*\(/gi;

/** Rewrites of one call `name(inner)`, or undefined to leave it. */
function rewrite(name: string, inner: string, skip: Array<[number, number]>, offset: number, sql: string): string | undefined {
  if (name === 'STRING_AGG') {
    const lim = /\s+LIMIT\s+(\d+|@\w+|\?)\s*$/i.exec(inner);
    if (!lim) return undefined;
    const body = inner.slice(0, lim.index);
    const order = /\s+ORDER\s+BY\s+/i.exec(body);
    const head = order ? body.slice(0, order.index) : body;
    const parts = topLevelCommaParts(sql, offset, offset + head.length, skip);
    const tail = order ? body.slice(order.index) : '';
    const delimiter = parts.length > 1 ? parts.slice(1).join(',') : "','";
    return `ARRAY_TO_STRING(ARRAY_AGG(${parts[0]} IGNORE NULLS${tail} LIMIT ${lim[1]}), ${delimiter})`;
  }
  if (name === 'CORR') return `${RENAMED}BQGATE_CORR(${inner})`;
  if (name.startsWith('BIT_')) {
    const d = /^\s*DISTINCT\s+/i.exec(inner);
    return d ? `${RENAMED}BQGATE_${name}_DISTINCT(${inner.slice(d[0].length)})` : undefined;
  }
  // APPROX_QUANTILES
  const parts = topLevelCommaParts(sql, offset, offset + inner.length, skip);
  if (parts.length !== 2) return undefined;
  const nulls = /\s+(RESPECT|IGNORE)\s+NULLS\s*$/i.exec(parts[1]);
  const n = nulls ? parts[1].slice(0, nulls.index) : parts[1];
  const d = /^\s*DISTINCT\s+/i.exec(parts[0]);
  const x = d ? parts[0].slice(d[0].length) : parts[0];
  const respect = nulls?.[1].toUpperCase() === 'RESPECT';
  return `${RENAMED}BQGATE_QUANTILES(ARRAY_AGG(${d ? 'DISTINCT ' : ''}${x}${respect ? '' : ' IGNORE NULLS'} ORDER BY ${x} NULLS FIRST), ${n})`;
}

/** The calls above rewritten (GoogleSQL text; strings, comments and backticks skipped; innermost first). */
export function aggregateCalls(sql: string): string {
  if (!/\b(STRING_AGG|BIT_AND|BIT_OR|BIT_XOR|APPROX_QUANTILES|CORR)\s*\(/i.test(sql)) return sql;
  for (;;) {
    const skip: Array<[number, number]> = [];
    scan(sql, (_k, s, e) => skip.push([s, e]));
    const hits = [...sql.matchAll(CALL)].filter((m) => !skip.some(([s, e]) => m.index! >= s && m.index! < e) && !/[\w.]/.test(sql[m.index! - 1] ?? ''));
    let changed = false;
    for (const m of hits.reverse()) {
      const open = m.index! + m[0].length - 1;
      const end = closing(sql, open, skip);
      if (end < 0 || /^\s*OVER\b/i.test(sql.slice(end))) continue; // an analytic call: left to polyglot
      const text = rewrite(m[1].toUpperCase(), sql.slice(open + 1, end - 1), skip, open + 1, sql);
      if (text === undefined) continue;
      sql = sql.slice(0, m.index!) + text + sql.slice(end);
      changed = true;
      break; // offsets moved: rescan
    }
    if (!changed) return sql;
  }
}
