/**
 * `ARRAY_INCLUDES` (https://cloud.google.com/bigquery/docs/reference/standard-sql/array_functions#array_includes),
 * which DuckDB lacks and @polyglot-sql/sdk (0.12) passes through:
 * - `ARRAY_INCLUDES(array, value)`: TRUE when an element equals the value; NULL when the array or
 *   the value is NULL — the `ARRAY_INCLUDES` macro (`ARRAY_INCLUDES_MACROS`, over DuckDB's
 *   `list_contains`);
 * - `ARRAY_INCLUDES(array, e -> condition)`: TRUE when the condition holds for an element; NULL for a
 *   NULL array — rewritten on the GoogleSQL text, before polyglot, as `(ARRAY_LENGTH(ARRAY_FILTER(array,
 *   e -> condition)) > 0)` (`arrayIncludesLambdas`), which polyglot translates (array-semantics.ts
 *   keeps the lambda's 0-based index).
 */
import { rewriteCalls } from './call-rewrite.js';

/** name → [DuckDB macro parameters, body], spread into translate-functions.ts MACROS (via translate-semantics.ts). */
export const ARRAY_INCLUDES_MACROS: Record<string, [string, string]> = {
  ARRAY_INCLUDES: ['a, v', 'CASE WHEN a IS NULL OR v IS NULL THEN NULL ELSE list_contains(a, v) END'],
};

const LAMBDA = /^\s*(?:\(\s*[A-Za-z_]\w*\s*(?:,\s*[A-Za-z_]\w*\s*)?\)|[A-Za-z_]\w*)\s*->/;

/** Each `ARRAY_INCLUDES(array, lambda)` of GoogleSQL `sql` as its ARRAY_FILTER form (see above), outermost first. */
export const arrayIncludesLambdas = (sql: string): string => rewriteCalls(sql, ['ARRAY_INCLUDES'], ({ args }) =>
  (args.length === 2 && LAMBDA.test(args[1]) ? `(ARRAY_LENGTH(ARRAY_FILTER(${args[0]}, ${args[1]})) > 0)` : undefined));
