/**
 * `INSERT [INTO] target …`: BigQuery lets INTO be left out
 * (https://cloud.google.com/bigquery/docs/reference/standard-sql/dml-syntax#insert_statement);
 * polyglot (0.12) stops at `INSERT t (…)` with "Expected Into". `insertInto` writes the keyword in
 * (on polyglot's BigQuery tokens: the statement's first token INSERT, the next one not INTO).
 */
import { bigQueryTokens } from './translate-divide.js';

/** GoogleSQL `INSERT t …` as `INSERT INTO t …`; any other text unchanged. */
export function insertInto(sql: string): string {
  if (!/^\s*(?:--[^\n]*\n\s*|\/\*[\s\S]*?\*\/\s*|#[^\n]*\n\s*)*INSERT\b/i.test(sql)) return sql;
  const ts = bigQueryTokens(sql);
  if (!ts || ts[0]?.text.toUpperCase() !== 'INSERT' || !ts[1] || ts[1].text.toUpperCase() === 'INTO') return sql;
  return `${sql.slice(0, ts[0].end)} INTO${sql.slice(ts[0].end)}`;
}
