/**
 * Time travel for the emulator, as BigQuery's `FOR SYSTEM_TIME AS OF` behaves
 * (https://cloud.google.com/bigquery/docs/access-historical-data): a query reads a table as it was
 * at a past instant, within the 7-day time travel window, never before the table's creation and
 * never in the future.
 *
 * History is kept copy-on-write: before a DML statement changes a table, the engine copies the
 * table's current contents into `<project>.__bqgate_history.<dataset>__<table>__<n>` and records the
 * instant (µs) until which that copy was the table's state. `timeTravelClauses` finds the clauses in
 * a statement (a light lexical pass that skips strings and comments); the engine evaluates each
 * clause's timestamp expression and replaces `path FOR SYSTEM_TIME AS OF expr` by the path of the
 * version that was current at that instant.
 */
import { scan } from './translate.js';

export const HISTORY_DATASET = '__bqgate_history';
/** BigQuery's default (and maximum) time travel window: 7 days, in µs. */
export const TIME_TRAVEL_WINDOW_US = 7 * 24 * 3600 * 1_000_000;

export interface TimeTravelClause {
  /** Byte range (UTF-16 offsets) of `path FOR SYSTEM_TIME AS OF expr` in the statement. */
  start: number;
  end: number;
  /** The table path as written, backticks removed: `p.d.t`, `d.t` or `t`. */
  path: string;
  /** The timestamp expression as written. */
  expr: string;
}

/** One past state of a table: the copy's name and the instant (µs since epoch) it stopped being current. */
export interface TableVersion { snapshot: string; untilUs: number }

const PATH_BEFORE = /((?:`[^`]+`|[A-Za-z_][\w-]*)(?:\s*\.\s*(?:`[^`]+`|[A-Za-z_][\w-]*))*)\s*$/;

/**
 * Every `FOR SYSTEM_TIME AS OF` clause of `sql`, in order. The timestamp expression may be a
 * literal (`TIMESTAMP '…'`, `'…'`), a query parameter (`@t`), a function call or a parenthesized
 * expression; anything else is not recognized and left to fail in the dialect translation.
 */
export function timeTravelClauses(sql: string): TimeTravelClause[] {
  const spans: Array<[number, number, string]> = [];
  scan(sql, (kind, s, e) => spans.push([s, e, kind]));
  const inSpan = (i: number) => spans.some(([s, e, k]) => i >= s && i < e && k !== 'param');
  const spanAt = (i: number) => spans.find(([s]) => s === i);
  const out: TimeTravelClause[] = [];
  const re = /\bFOR\s+SYSTEM_TIME\s+AS\s+OF\b/gi;
  for (let m = re.exec(sql); m; m = re.exec(sql)) {
    if (inSpan(m.index)) continue;
    const before = sql.slice(0, m.index).match(PATH_BEFORE);
    if (!before) continue;
    const start = m.index - before[0].length;
    let i = m.index + m[0].length;
    while (/\s/.test(sql[i] ?? '')) i++;
    const exprStart = i;
    const literal = sql.slice(i).match(/^TIMESTAMP\s*/i);
    if (literal && spanAt(i + literal[0].length)?.[2] === 'string') i = spanAt(i + literal[0].length)![1];
    else if (spanAt(i)?.[2] === 'string' || spanAt(i)?.[2] === 'param') i = spanAt(i)![1];
    else {
      const name = sql.slice(i).match(/^[A-Za-z_][\w.]*\s*/);
      if (name) i += name[0].length;
      if (sql[i] === '(') {
        let depth = 0;
        for (; i < sql.length; i++) {
          const sp = spanAt(i);
          if (sp) { i = sp[1] - 1; continue; }
          if (sql[i] === '(') depth++;
          else if (sql[i] === ')' && --depth === 0) { i++; break; }
        }
      }
    }
    out.push({ start, end: i, path: before[1].replace(/[`\s]/g, ''), expr: sql.slice(exprStart, i).trim() });
  }
  return out;
}

/**
 * The version of a table current at `atUs`: the first copy that stopped being current after it,
 * else the live table (undefined). Throws a message (string) when `atUs` lies in the future, before
 * the table's creation or outside the time travel window, as BigQuery refuses those.
 */
export function versionAt(table: string, versions: TableVersion[], atUs: number, createdUs: number, nowUs: number): TableVersion | undefined {
  if (atUs > nowUs) throw `Invalid time travel timestamp ${atUs} for table ${table}: it is in the future.`;
  if (atUs < nowUs - TIME_TRAVEL_WINDOW_US) throw `Invalid time travel timestamp ${atUs} for table ${table}: it is outside the time travel window of 7 days.`;
  if (atUs < createdUs) throw `Invalid time travel timestamp ${atUs} for table ${table}: it is before the table was created (${createdUs}).`;
  return versions.find((v) => atUs < v.untilUs);
}

/**
 * A table id's snapshot decorator (`t@<ms>`, `t@-<ms>`, `t@0`;
 * https://cloud.google.com/bigquery/docs/table-decorators#time_decorators): the table and the
 * decorator's number (Engine.snapshotAt reads it), or undefined for an id without one.
 */
export function snapshotDecorator(tableId: string): { table: string; atMs: number } | undefined {
  const m = tableId.match(/^(.+?)@(-?\d+)$/);
  return m ? { table: m[1], atMs: Number(m[2]) } : undefined;
}
