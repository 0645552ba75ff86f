/**
 * TIME functions DuckDB lacks and that @polyglot-sql/sdk (0.12) passes through unchanged, and two
 * date / timestamp forms with a time zone it writes wrongly, rewritten on the GoogleSQL text before
 * polyglot into calls it translates exactly (`timeFunctions`, applied by translate-semantics.ts):
 *
 * - `FORMAT_TIME(f, t)` (https://cloud.google.com/bigquery/docs/reference/standard-sql/time_functions#format_time)
 *   → `FORMAT_DATETIME(f, <t on 1970-01-01>)` (`CAST(CONCAT('1970-01-01 ', CAST(t AS STRING)) AS
 *   DATETIME)`): the time-of-day elements of a DATETIME are the TIME's (format-elements.ts maps the
 *   elements DuckDB's strftime reads otherwise);
 * - `PARSE_TIME(f, s)` (…/time_functions#parse_time) → `TIME(PARSE_DATETIME(f, s))`;
 * - `TIME_TRUNC(t, part)` (…/time_functions#time_trunc) → `TIME(DATETIME_TRUNC(<t on 1970-01-01>,
 *   part))` (a TIME truncated to HOUR, MINUTE, SECOND, … stays within its day);
 * - `FORMAT_TIMESTAMP(f, ts, zone)` (…/timestamp_functions#format_timestamp), whose three-argument
 *   form polyglot passes through: with a literal format that prints no zone (`%Z`, `%z`, `%Ez`) it
 *   is `FORMAT_DATETIME(f, DATETIME(ts, zone))`, the wall time in that zone; with a zone element it
 *   is left as written (the emulator then refuses it);
 * - `DATE(ts, zone)` (…/date_functions#date), which polyglot writes as DuckDB's STRPTIME of the
 *   zone's text → `DATE(DATETIME(ts, zone))`.
 * - `EXTRACT(part FROM ts AT TIME ZONE zone)` (…/timestamp_functions#extract), which polyglot
 *   writes over a zone-less DuckDB TIMESTAMP (the wall time read as the zone's, not converted to it)
 *   → `EXTRACT(part FROM DATETIME(ts, zone))`; `EXTRACT(DATE | TIME | DATETIME FROM x [AT TIME ZONE
 *   zone])`, parts DuckDB's EXTRACT lacks → `DATE(x)` / `TIME(x)` / `DATETIME(x)` (of `DATETIME(x, zone)`).
 * A call with another argument count, or qualified (`SAFE.`, `x.f`), is left as written.
 */
import { scan } from './translate.js';
import { rewriteCalls } from './call-rewrite.js';

/** A TIME as the DATETIME of that time on 1970-01-01 (polyglot reads `DATETIME(d, t)` of a non-literal t as a time zone conversion). */
const onEpochDay = (t: string) => `CAST(CONCAT('1970-01-01 ', CAST(${t} AS STRING)) AS DATETIME)`;
const ZONE_ELEMENT = /%(?:E?z|Z|Ez)/;

/** name → argument count → the rewritten call, or undefined to leave it. */
const RULES: Record<string, (a: string[]) => string | undefined> = {
  FORMAT_TIME: (a) => (a.length === 2 ? `FORMAT_DATETIME(${a[0]}, ${onEpochDay(a[1])})` : undefined),
  PARSE_TIME: (a) => (a.length === 2 ? `TIME(PARSE_DATETIME(${a[0]}, ${a[1]}))` : undefined),
  TIME_TRUNC: (a) => (a.length === 2 ? `TIME(DATETIME_TRUNC(${onEpochDay(a[0])}, ${a[1]}))` : undefined),
  FORMAT_TIMESTAMP: (a) => (a.length === 3 && /^\s*(['"]).*\1\s*$/s.test(a[0]) && !ZONE_ELEMENT.test(a[0]) ? `FORMAT_DATETIME(${a[0]}, DATETIME(${a[1]}, ${a[2]}))` : undefined),
  DATE: (a) => (a.length === 2 ? `DATE(DATETIME(${a[0]}, ${a[1]}))` : undefined),
};

/**
 * EXTRACT's argument text `part FROM x [AT TIME ZONE zone]` rewritten (the whole call's text), or
 * undefined to leave it: a zone → `EXTRACT(part FROM DATETIME(x, zone))`; the parts DuckDB's
 * EXTRACT lacks → `DATE(DATETIME(x, zone))` / `TIME(…)` / `DATETIME(x, zone)`, `DATE(x)`, … without one.
 */
function extractCall(inner: string): string | undefined {
  const skip: Array<[number, number]> = [];
  scan(inner, (_k, s, e) => skip.push([s, e]));
  let depth = 0;
  let fromAt = -1;
  let zoneAt = -1;
  let zoneLen = 0;
  let k = 0; // scan's spans come in text order: one pass over them
  for (let i = 0; i < inner.length; i++) {
    while (k < skip.length && skip[k][1] <= i) k++;
    if (k < skip.length && skip[k][0] <= i) { i = skip[k][1] - 1; continue; }
    if (inner[i] === '(') depth++;
    else if (inner[i] === ')') depth--;
    else if (depth === 0 && /[A-Za-z]/.test(inner[i]) && !/[\w.]/.test(inner[i - 1] ?? '')) {
      const word = inner.slice(i).match(/^(FROM|AT\s+TIME\s+ZONE)\b/i);
      if (word && word[1].toUpperCase() === 'FROM' && fromAt < 0) fromAt = i;
      else if (word && fromAt >= 0) { zoneAt = i; zoneLen = word[0].length; }
    }
  }
  if (fromAt < 0) return undefined;
  const part = inner.slice(0, fromAt).trim().toUpperCase();
  const x = inner.slice(fromAt + 4, zoneAt < 0 ? inner.length : zoneAt).trim();
  const local = zoneAt < 0 ? undefined : `DATETIME(${x}, ${inner.slice(zoneAt + zoneLen).trim()})`;
  if (part === 'DATETIME') return local ?? `DATETIME(${x})`;
  if (part === 'DATE' || part === 'TIME') return `${part}(${local ?? x})`;
  return local && `EXTRACT(${inner.slice(0, fromAt + 4)} ${local})`;
}

/** `sql` (GoogleSQL) with every call above rewritten, outermost first (its arguments are rewritten in later passes). */
export const timeFunctions = (sql: string): string => rewriteCalls(sql, [...Object.keys(RULES), 'EXTRACT'], ({ name, args, inner }) =>
  (name === 'EXTRACT' ? extractCall(inner) : RULES[name](args)));
