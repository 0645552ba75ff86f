/**
 * TABLESAMPLE on a subquery (https://cloud.google.com/bigquery/docs/reference/standard-sql/query-syntax#tablesample_operator).
 * The gateway reads a governed table through its masking projection, so `FROM t TABLESAMPLE
 * SYSTEM (n PERCENT)` reaches the emulator as `FROM (SELECT <masked columns> FROM t …) AS t
 * TABLESAMPLE SYSTEM (n PERCENT)`: the sample is drawn from the masked rows. @polyglot-sql/sdk
 * (0.12) then returns the whole statement untranslated (REGEXP_CONTAINS, SHA256, … reach DuckDB
 * as they are: "Scalar Function with name regexp_contains does not exist"); on a table it
 * translates fine.
 *
 * `tableSamples` takes the clause off before polyglot reads the statement, leaving the alias
 * marked (`t__bqgate_sample_<i>`), and `restoreSamples` puts it back after the marked alias in the
 * DuckDB text: DuckDB samples a subquery with the same clause
 * (https://duckdb.org/docs/stable/sql/samples), SYSTEM as block (vector) sampling like BigQuery's.
 */
import { bigQueryTokens, isString } from './translate-divide.js';

const MARK = '__bqgate_sample_';

/** GoogleSQL `sql` with each `(…) [AS] alias TABLESAMPLE …(…)` clause moved into `clauses` (see above). */
export function tableSamples(sql: string, clauses: string[]): string {
  if (!/\bTABLESAMPLE\b/i.test(sql)) return sql;
  const ts = bigQueryTokens(sql);
  if (!ts) return sql;
  const edits: Array<[number, number, string]> = [];
  ts.forEach((t, i) => {
    if (isString(t) || t.text.toUpperCase() !== 'TABLESAMPLE') return;
    const alias = ts[i - 1];
    const before = ts[i - 2]?.text.toUpperCase() === 'AS' ? ts[i - 3] : ts[i - 2];
    if (!alias || !before || before.text !== ')' || !(alias.type === 'QUOTED_IDENTIFIER' || /^[A-Za-z_]\w*$/.test(alias.text))) return;
    let k = i + 1;
    while (ts[k] && ts[k].text !== '(') k++;
    let depth = 0;
    for (; k < ts.length; k++) { if (ts[k].text === '(') depth++; else if (ts[k].text === ')' && --depth === 0) break; }
    if (!ts[k]) return;
    edits.push([alias.start, ts[k].end, `\`${alias.text}${MARK}${clauses.length}\``]);
    clauses.push(sql.slice(t.start, ts[k].end));
  });
  let out = sql;
  for (const [s, e, text] of edits.reverse()) out = out.slice(0, s) + text + out.slice(e);
  return out;
}

/** DuckDB `duck` with each marked alias back as `"alias" <its TABLESAMPLE clause>`. */
export function restoreSamples(duck: string, clauses: string[]): string {
  if (!clauses.length) return duck;
  return duck.replace(new RegExp(`"?([^"\\s]+?)${MARK}(\\d+)"?`, 'g'), (_m, name: string, i: string) => `"${name.replace(/"/g, '""')}" ${clauses[Number(i)]}`);
}
