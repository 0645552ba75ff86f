/**
 * FORMAT_DATE / FORMAT_DATETIME / FORMAT_TIME / FORMAT_TIMESTAMP format elements that DuckDB's
 * `strftime` (what polyglot writes for them) reads otherwise than BigQuery
 * (https://cloud.google.com/bigquery/docs/reference/standard-sql/format-elements#format_elements_date_time):
 *
 * | element | BigQuery | DuckDB's strftime |
 * |---|---|---|
 * | `%x` | `%m/%d/%y` (`12/25/08`) | ISO date (`2008-12-25`) |
 * | `%X` | `%H:%M:%S` | ISO time |
 * | `%D` | `%m/%d/%y` | not an element |
 * | `%F` | `%Y-%m-%d` | not an element |
 * | `%R` | `%H:%M` | not an element |
 * | `%T` | `%H:%M:%S` | not an element |
 *
 * `formatElements` spells them with the elements both read alike, in every `STRFTIME(…, '<literal>')`
 * of the translated DuckDB text (a format given as a parameter or column is left as it is).
 */
import { rewriteDuckCalls } from './duck-calls.js';

const SPELLED: Record<string, string> = { x: '%m/%d/%y', X: '%H:%M:%S', D: '%m/%d/%y', F: '%Y-%m-%d', R: '%H:%M', T: '%H:%M:%S' };
const STRFTIME = /\bSTRFTIME\(/gi;

/** One format text (the literal's body, `''` escaped) with the elements above spelled out; `%%` and the rest kept. */
const spell = (fmt: string) => fmt.replace(/%(.)/gs, (m, c: string) => SPELLED[c] ?? m);

export function formatElements(duck: string): string {
  if (!/STRFTIME\(/i.test(duck) || !/%[xXDFRT]/.test(duck)) return duck;
  return rewriteDuckCalls(duck, STRFTIME, (c) => {
    const lit = /^(\s*)'((?:[^']|'')*)'(\s*)$/.exec(c.args[c.args.length - 1]);
    return c.args.length < 2 || !lit ? undefined : `${c.text.slice(0, c.text.length - 1 - c.args[c.args.length - 1].length)}${lit[1]}'${spell(lit[2])}'${lit[3]})`;
  });
}
