/**
 * Date, time and INTERVAL GoogleSQL that @polyglot-sql/sdk (0.12) writes as DuckDB text with
 * another meaning or that DuckDB cannot parse, fixed on its DuckDB output (`dateTimeFixes`, applied
 * by polyglot-fixes.ts). Each is an upstream polyglot bug (listed in the report of issue 20).
 *
 * 1. `DATE_TRUNC(x, part)` (https://cloud.google.com/bigquery/docs/reference/standard-sql/date_functions#date_trunc):
 *    polyglot writes DuckDB's `DATE_TRUNC('part', x)`, which returns a TIMESTAMP for a DATE (BigQuery:
 *    a DATE), starts `WEEK` on Monday (BigQuery: Sunday) and cannot read `'WEEK(<WEEKDAY>)'`. For
 *    DAY, WEEK, WEEK(<WEEKDAY>), ISOWEEK, MONTH, QUARTER and YEAR it becomes DuckDB's
 *    `time_bucket(width, x[, offset])` (https://duckdb.org/docs/stable/sql/functions/timestamp#time_bucketbucket_width-timestamptz-offset),
 *    which keeps the argument's type; weeks are 7-day buckets from DuckDB's Monday origin shifted by
 *    `k - 1` days for weekday k (Sunday 0). ISOYEAR (the Monday of ISO week 1) stays DuckDB's
 *    `date_trunc('isoyear', …)`, cast back to DATE when the argument is syntactically a DATE.
 *    A string literal argument is read as BigQuery coerces it: a DATE when it is `YYYY-MM-DD`, else a
 *    TIMESTAMP.
 * 2. `DATE_DIFF`/`DATETIME_DIFF(a, b, WEEK(<WEEKDAY>) | ISOWEEK | ISOYEAR)`
 *    (https://cloud.google.com/bigquery/docs/reference/standard-sql/datetime_functions#datetime_diff):
 *    polyglot passes `'WEEK(MONDAY)'`, `'ISOWEEK'`, `'ISOYEAR'` to DuckDB's DATE_DIFF, which refuses
 *    them. They count week boundaries (weeks starting on that weekday; ISO weeks on Monday) or ISO
 *    year numbers: `date_diff('week', date_trunc('week', b + shift), date_trunc('week', a + shift))`
 *    with `shift = 1 - k` days, and `isoyear(a) - isoyear(b)`. polyglot's own text for WEEK (Sunday),
 *    `DATE_DIFF('WEEK', DATE_TRUNC('WEEK', b + 1 day), …)` over DuckDB's Monday weeks, is right: it is
 *    kept under DuckDB's alias names (`datediff`, `datetrunc`) so that (1) does not read it as BigQuery's.
 *    This runs before (1).
 * 3. INTERVAL literals (https://cloud.google.com/bigquery/docs/reference/standard-sql/data-types#interval_type):
 *    `INTERVAL -3 DAY` is written unquoted, which DuckDB's parser refuses: it becomes `INTERVAL '-3'
 *    DAY`. `INTERVAL '<text>' <from> TO <to>` (`'1-2 3 4:5:6.789' YEAR TO SECOND`, `'10 -12:30' DAY TO
 *    MINUTE`) is read with BigQuery's format (each of the year-month, day and time groups carries its
 *    own sign; fields may overflow: `'0-13 370 48:61:61'`) and written as DuckDB's `INTERVAL '<m>
 *    months <d> days <µs> microseconds'`, the same months, days and microseconds BigQuery keeps.
 *    A text that does not match its range is left as written (DuckDB then refuses it).
 * 5. `LAST_DAY(x, part)` (https://cloud.google.com/bigquery/docs/reference/standard-sql/date_functions#last_day):
 *    polyglot drops the part (every call answered the month's last day). Before polyglot reads it,
 *    `LAST_DAY(x, YEAR | QUARTER | MONTH | WEEK | WEEK(<WEEKDAY>) | ISOWEEK)` becomes
 *    `DATE_SUB(DATE_ADD(DATE_TRUNC(DATE(x), part), INTERVAL 1 unit), INTERVAL 1 DAY)`: the day before
 *    the next period starts, a DATE as BigQuery returns (`dateTimeBeforePolyglot`).
 * 6. `MAKE_INTERVAL([year, month, day, hour, minute, second], name => v …)`
 *    (https://cloud.google.com/bigquery/docs/reference/standard-sql/interval_functions#make_interval):
 *    polyglot drops the positional day, hour, minute and second. Before polyglot the call becomes
 *    `bqgate_make_interval__(y, m, d, h, mi, s)` (absent parts 0; polyglot translates the arguments
 *    and keeps the unknown call), and after it the sum of DuckDB's `to_months`, `to_days` and
 *    `to_microseconds` parts, kept apart as BigQuery keeps them.
 * 7. `UNIX_SECONDS(ts)` (https://cloud.google.com/bigquery/docs/reference/standard-sql/timestamp_functions#unix_seconds):
 *    polyglot writes `CAST(EPOCH(ts) AS BIGINT)`, which rounds (1.8 s gave 2); BigQuery rounds down
 *    to the beginning of the second: `CAST(floor(EPOCH(ts)) AS BIGINT)`.
 * 8. `TIMESTAMP_DIFF(a, b, part)` (https://cloud.google.com/bigquery/docs/reference/standard-sql/timestamp_functions#timestamp_diff)
 *    counts whole parts elapsed, where DATE_DIFF and DATETIME_DIFF count part boundaries; polyglot
 *    writes all three as DuckDB's boundary-counting `DATE_DIFF('part', b, a)`. Its TIMESTAMP operands
 *    are DuckDB TIMESTAMPTZ, so for MICROSECOND … DAY the call becomes `CASE WHEN typeof(a) LIKE
 *    'TIMESTAMP WITH%' THEN date_sub('part', b, a) ELSE <as written> END` (DuckDB's
 *    `date_sub` counts whole parts; the CASE is folded at bind time by the operand's type).
 * 4. `EXTRACT(MILLISECOND | MICROSECOND FROM x)` (https://cloud.google.com/bigquery/docs/reference/standard-sql/timestamp_functions#extract):
 *    BigQuery's are the fraction of the second (0–999, 0–999999); DuckDB's include the seconds
 *    (`6.789 s` gives 6789): taken modulo 1000 / 1000000.
 */
import { closing, inQuoted, quotedSpans, topLevelCommaParts } from './native-masks.js';
import { scan } from './translate.js';

/** An interval's months, days and microseconds in DuckDB (datepart's microsecond includes the seconds). */
const M = (i: string) => `(datepart('year', ${i}) * 12 + datepart('month', ${i}))`;
const D = (i: string) => `datepart('day', ${i})`;
const US = (i: string) => `(datepart('hour', ${i})::BIGINT * 3600000000 + datepart('minute', ${i})::BIGINT * 60000000 + datepart('microsecond', ${i}))`;
const parts = (m: string, d: string, us: string) => `to_months(CAST(${m} AS INTEGER)) + to_days(CAST(${d} AS INTEGER)) + to_microseconds(CAST(${us} AS BIGINT))`;
const DAY_US = 86400000000;

/**
 * INTERVAL functions DuckDB lacks, as DuckDB macros (name → [parameters, body]), created with the
 * others of translate-functions.ts (which spreads these into its MACROS). BigQuery
 * (https://cloud.google.com/bigquery/docs/reference/standard-sql/interval_functions): JUSTIFY_DAYS
 * moves whole 30-day periods into months, JUSTIFY_HOURS whole 24-hour periods into days (both
 * truncating toward zero, the remainder keeping its sign), JUSTIFY_INTERVAL does both, hours first.
 */
export const DATETIME_MACROS: Record<string, [string, string]> = {
  JUSTIFY_DAYS: ['i', parts(`${M('i')} + trunc(${D('i')} / 30)`, `${D('i')} % 30`, US('i'))],
  JUSTIFY_HOURS: ['i', parts(M('i'), `${D('i')} + trunc(${US('i')} / ${DAY_US})`, `${US('i')} % ${DAY_US}`)],
  JUSTIFY_INTERVAL: ['i', parts(`${M('i')} + trunc((${D('i')} + trunc(${US('i')} / ${DAY_US})) / 30)`, `(${D('i')} + trunc(${US('i')} / ${DAY_US})) % 30`, `${US('i')} % ${DAY_US}`)],
};

const WEEKDAYS = ['SUNDAY', 'MONDAY', 'TUESDAY', 'WEDNESDAY', 'THURSDAY', 'FRIDAY', 'SATURDAY'];

/** Top-level comma-separated arguments of the call whose `(` is at `open` and `)` ends before `end`, trimmed. */
const args = (duck: string, open: number, end: number, quoted: Array<[number, number]>): string[] =>
  topLevelCommaParts(duck, open + 1, end - 1, quoted).map((a) => a.trim());

/** `[start, end)` of every string, comment and backticked name of GoogleSQL text (translate.ts `scan`). */
function googleSqlSpans(sql: string): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  scan(sql, (kind, s, e) => { if (kind !== 'param') out.push([s, e]); });
  return out;
}

/**
 * Replaces every call `NAME(` (outside the lexical spans `spans` finds, not part of a longer name)
 * by `fix(args)`; `undefined` leaves it. DuckDB text by default (its quotes).
 */
function rewriteCalls(duck: string, name: RegExp, fix: (a: string[]) => string | undefined, spans = quotedSpans): string {
  for (let guard = 0; guard < 1000; guard++) {
    const quoted = spans(duck);
    let done = true;
    for (const m of duck.matchAll(name)) {
      const at = m.index!;
      if (quoted.some(([s, e]) => at >= s && at < e) || /[\w.]/.test(duck[at - 1] ?? '')) continue;
      const open = at + m[0].length - 1;
      const end = closing(duck, open, quoted);
      if (end < 0) continue;
      const text = fix(args(duck, open, end, quoted));
      if (text === undefined) continue;
      duck = duck.slice(0, at) + text + duck.slice(end);
      done = false;
      break; // spans moved: scan again (an argument may hold another call)
    }
    if (done) return duck;
  }
  return duck;
}

/** A string literal argument as BigQuery coerces it (DATE when date-shaped, else TIMESTAMP); other text unchanged. */
function literalArg(x: string): string {
  const lit = /^'([^']*)'$/.exec(x);
  if (!lit) return x;
  return /^\d{4}-\d{1,2}-\d{1,2}$/.test(lit[1]) ? `CAST(${x} AS DATE)` : `CAST(${x} AS TIMESTAMP)`;
}

const isDateText = (x: string) => /^CAST\(.*AS DATE\)$/is.test(x);

/** (1) above: one `DATE_TRUNC('part', x)`; undefined when it has another shape or a part DuckDB truncates as BigQuery does. */
function trunc([part, x, ...rest]: string[]): string | undefined {
  const p = /^'([A-Z]+)(?:\(([A-Z]+)\))?'$/i.exec(part ?? '');
  if (!p || rest.length || x === undefined) return undefined;
  const unit = p[1].toUpperCase();
  const arg = literalArg(x);
  const bucket: Record<string, string> = { DAY: '1 day', MONTH: '1 month', QUARTER: '3 months', YEAR: '1 year' };
  if (bucket[unit] && !p[2]) return `time_bucket(INTERVAL '${bucket[unit]}', ${arg})`;
  if (unit === 'WEEK' || unit === 'ISOWEEK') {
    const k = unit === 'ISOWEEK' ? 1 : p[2] ? WEEKDAYS.indexOf(p[2].toUpperCase()) : 0;
    if (k < 0) return undefined;
    return k === 1 ? `time_bucket(INTERVAL '7 days', ${arg})` : `time_bucket(INTERVAL '7 days', ${arg}, INTERVAL '${k - 1} days')`;
  }
  if (unit === 'ISOYEAR' && !p[2]) return isDateText(arg) ? `CAST(datetrunc('isoyear', ${arg}) AS DATE)` : `datetrunc('isoyear', ${arg})`;
  return undefined;
}

/** (2) above: one `DATE_DIFF('part', b, a)` (DuckDB's order: start, end). */
function diff([part, b, a, ...rest]: string[]): string | undefined {
  const p = /^'(WEEK|ISOWEEK|ISOYEAR)(?:\(([A-Z]+)\))?'$/i.exec(part ?? '');
  if (!p || rest.length || a === undefined) return undefined;
  const unit = p[1].toUpperCase();
  if (unit === 'ISOYEAR') return `(EXTRACT(isoyear FROM ${literalArg(a)}) - EXTRACT(isoyear FROM ${literalArg(b)}))`;
  if (unit === 'WEEK' && !p[2]) {
    // polyglot's own Sunday shift over DuckDB's Monday weeks: kept, under DuckDB's alias names so (1) leaves it alone
    const own = (x: string) => /^DATE_TRUNC\('WEEK', ([\s\S]+)\)$/i.exec(x)?.[1];
    return own(a) && own(b) ? `datediff('week', datetrunc('week', ${own(b)}), datetrunc('week', ${own(a)}))` : undefined;
  }
  const k = unit === 'ISOWEEK' ? 1 : WEEKDAYS.indexOf(p[2].toUpperCase());
  if (k < 0) return undefined;
  const shift = (x: string) => `datetrunc('week', ${literalArg(x)} + INTERVAL '${1 - k}' DAY)`;
  return `datediff('week', ${shift(b)}, ${shift(a)})`;
}

const UNITS = ['YEAR', 'MONTH', 'DAY', 'HOUR', 'MINUTE', 'SECOND'];

/**
 * BigQuery's `'<text>' <from> TO <to>` interval text → [months, days, microseconds], or undefined when
 * it does not match the range. Groups: `[-]Y-M` (from YEAR), `[-]M` (from MONTH), `[-]D`, `[-]H:M:S.F`.
 */
export function intervalParts(text: string, from: string, to: string): [number, number, bigint] | undefined {
  const f = UNITS.indexOf(from.toUpperCase());
  const t = UNITS.indexOf(to.toUpperCase());
  if (f < 0 || t <= f) return undefined;
  const has = (u: string) => UNITS.indexOf(u) >= f && UNITS.indexOf(u) <= t;
  const groups = text.trim().split(/\s+/);
  let months = 0;
  let days = 0;
  let micros = 0n;
  if (has('YEAR')) {
    const g = /^([-+]?)(\d+)(?:-(\d+))?$/.exec(groups.shift() ?? '');
    if (!g || (has('MONTH') && g[3] === undefined)) return undefined;
    months = (g[1] === '-' ? -1 : 1) * (Number(g[2]) * 12 + Number(g[3] ?? 0));
  } else if (has('MONTH')) {
    const g = /^([-+]?\d+)$/.exec(groups.shift() ?? '');
    if (!g) return undefined;
    months = Number(g[1]);
  }
  if (has('DAY')) {
    const g = /^([-+]?\d+)$/.exec(groups.shift() ?? '');
    if (!g) return undefined;
    days = Number(g[1]);
  }
  const timeUnits = ['HOUR', 'MINUTE', 'SECOND'].filter(has);
  if (timeUnits.length) {
    const g = /^([-+]?)(\d+(?::\d+)*)(?:\.(\d{1,9}))?$/.exec(groups.shift() ?? '');
    if (!g) return undefined;
    const fields = g[2].split(':');
    if (fields.length !== timeUnits.length || (g[3] && timeUnits.at(-1) !== 'SECOND')) return undefined;
    const scale: Record<string, bigint> = { HOUR: 3_600_000_000n, MINUTE: 60_000_000n, SECOND: 1_000_000n };
    for (let i = 0; i < fields.length; i++) micros += BigInt(fields[i]) * scale[timeUnits[i]];
    if (g[3]) micros += BigInt(g[3].slice(0, 6).padEnd(6, '0'));
    if (g[1] === '-') micros = -micros;
  }
  if (groups.length) return undefined;
  return [months, days, micros];
}

const RANGE_INTERVAL = /\bINTERVAL\s+'([^']*)'\s+(YEAR|MONTH|DAY|HOUR|MINUTE)\s+TO\s+(MONTH|DAY|HOUR|MINUTE|SECOND)\b/gi;
const NEGATIVE_INTERVAL = /\bINTERVAL\s+(-\s*\d+(?:\.\d+)?)\s+(YEAR|QUARTER|MONTH|WEEK|DAY|HOUR|MINUTE|SECOND|MILLISECOND|MICROSECOND)\b/gi;

/** (3) above. */
export function intervalLiterals(duck: string): string {
  if (!/\bINTERVAL\b/i.test(duck)) return duck;
  const q = quotedSpans(duck);
  duck = duck.replace(NEGATIVE_INTERVAL, (m, n: string, unit: string, at: number) => (inQuoted(at, q) ? m : `INTERVAL '${n.replace(/\s+/g, '')}' ${unit}`));
  const q2 = quotedSpans(duck);
  return duck.replace(RANGE_INTERVAL, (m, text: string, from: string, to: string, at: number) => {
    const p = inQuoted(at, q2) ? undefined : intervalParts(text, from, to);
    return p ? `INTERVAL '${p[0]} months ${p[1]} days ${p[2]} microseconds'` : m;
  });
}

/** (4) above. */
function subsecondParts(duck: string): string {
  if (!/SECOND FROM/i.test(duck)) return duck;
  return rewriteCalls(duck, /\bEXTRACT\(/gi, ([only]) => {
    const m = /^(MILLISECOND|MICROSECOND) FROM ([\s\S]+)$/i.exec(only ?? '');
    if (!m) return undefined;
    const unit = m[1].toLowerCase();
    return `(date_part('${unit}', ${m[2]}) % ${unit === 'millisecond' ? 1000 : 1000000})`;
  });
}

const PERIOD: Record<string, string> = { YEAR: 'YEAR', QUARTER: 'QUARTER', MONTH: 'MONTH', WEEK: 'WEEK', ISOWEEK: 'WEEK' };
const MAKE_INTERVAL_ARGS = ['year', 'month', 'day', 'hour', 'minute', 'second'];
const MAKE_INTERVAL = 'bqgate_make_interval__';

/** (5) and (6) above, on the GoogleSQL text before polyglot reads it. */
export function dateTimeBeforePolyglot(sql: string): string {
  if (/\bLAST_DAY\s*\(/i.test(sql)) {
    sql = rewriteCalls(sql, /\bLAST_DAY\s*\(/gi, ([x, part, ...rest]) => {
      const p = /^([A-Z]+)(\s*\(\s*[A-Z]+\s*\))?$/i.exec(part ?? '');
      const unit = p && !rest.length ? PERIOD[p[1].toUpperCase()] : undefined;
      return unit ? `DATE_SUB(DATE_ADD(DATE_TRUNC(DATE(${x}), ${part}), INTERVAL 1 ${unit}), INTERVAL 1 DAY)` : undefined;
    }, googleSqlSpans);
  }
  if (/\bMAKE_INTERVAL\s*\(/i.test(sql)) {
    sql = rewriteCalls(sql, /\bMAKE_INTERVAL\s*\(/gi, (a) => {
      const values = MAKE_INTERVAL_ARGS.map(() => '0');
      let positional = 0;
      for (const arg of a.filter((x) => x !== '')) {
        const named = /^([A-Za-z_]+)\s*=>\s*([\s\S]+)$/.exec(arg);
        const at = named ? MAKE_INTERVAL_ARGS.indexOf(named[1].toLowerCase()) : positional++;
        if (at < 0 || at >= values.length) return undefined;
        values[at] = named ? named[2] : arg;
      }
      return `${MAKE_INTERVAL}(${values.join(', ')})`;
    }, googleSqlSpans);
  }
  return sql;
}

/** (6) after polyglot: the marker call as DuckDB interval parts. */
function makeInterval(duck: string): string {
  if (!duck.toLowerCase().includes(MAKE_INTERVAL)) return duck;
  return rewriteCalls(duck, new RegExp(`"?${MAKE_INTERVAL}"?\\(`, 'gi'), (a) => {
    if (a.length !== 6) return undefined;
    const n = (x: string) => `CAST(${x} AS BIGINT)`;
    return `(to_months(CAST(${n(a[0])} * 12 + ${n(a[1])} AS INTEGER)) + to_days(CAST(${n(a[2])} AS INTEGER))`
      + ` + to_microseconds(${n(a[3])} * 3600000000 + ${n(a[4])} * 60000000 + ${n(a[5])} * 1000000))`;
  });
}

/** (7) above. */
function unixSeconds(duck: string): string {
  if (!/CAST\(EPOCH\(/i.test(duck)) return duck;
  return rewriteCalls(duck, /\bCAST\(/gi, ([only]) => {
    const m = /^EPOCH\(([\s\S]+)\) AS BIGINT$/i.exec(only ?? '');
    return m && closing(`(${m[1]})`, 0, quotedSpans(`(${m[1]})`)) === m[1].length + 2 ? `CAST(floor(epoch(${m[1]})) AS BIGINT)` : undefined;
  });
}

const ELAPSED = new Set(['MICROSECOND', 'MILLISECOND', 'SECOND', 'MINUTE', 'HOUR', 'DAY']);

/** (8) above. */
function timestampDiff(duck: string): string {
  if (!/DATE_DIFF\('/i.test(duck)) return duck;
  return rewriteCalls(duck, /\bDATE_DIFF\(/g, ([part, b, a, ...rest]) => {
    const p = /^'([A-Z]+)'$/i.exec(part ?? '');
    if (!p || rest.length || a === undefined || !ELAPSED.has(p[1].toUpperCase())) return undefined;
    return `CASE WHEN typeof(${a}) LIKE 'TIMESTAMP WITH%' THEN date_sub('${p[1].toLowerCase()}', ${b}, ${a}) ELSE date_diff('${p[1].toLowerCase()}', ${b}, ${a}) END`;
  });
}

/** Every fix above, on one translated statement. */
export function dateTimeFixes(duck: string): string {
  let out = timestampDiff(unixSeconds(makeInterval(intervalLiterals(duck))));
  if (/DATE_DIFF\('(WEEK|ISO)/i.test(out)) out = rewriteCalls(out, /\bDATE_DIFF\(/gi, diff);
  if (/DATE_TRUNC/i.test(out)) out = rewriteCalls(out, /\bDATE_TRUNC\(/gi, trunc);
  return subsecondParts(out);
}
