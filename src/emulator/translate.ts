/**
 * BigQuery GoogleSQL → DuckDB SQL for the emulator, with @polyglot-sql/sdk doing the dialect work.
 *
 * Two things are fixed up around polyglot, on a light lexical pass that skips string literals and
 * comments:
 * - a backticked path `` `p.d.t` `` is split into `` `p`.`d`.`t` `` so it reaches DuckDB as
 *   catalog.schema.table rather than one identifier with dots in it;
 * - query parameters `@name` become `$name` (DuckDB's named parameters); polyglot would otherwise
 *   read `@x` as an operator. Positional `?` become `$1`, `$2`, … (DuckDB's numbered parameters,
 *   bound by position as `?` are): polyglot may repeat an expression that holds one (`x IN
 *   UNNEST(?)`), and a repeated `?` would ask DuckDB for one more value per copy;
 * - an unquoted dashed project id at the start of a table path (`FROM demo-project.shop.t`) is
 *   backticked, as BigQuery reads it;
 * - a wildcard table `` `p.d.prefix*` `` becomes the UNION ALL BY NAME of the matching tables, each
 *   with its `_TABLE_SUFFIX`, as BigQuery's wildcard tables behave (the pseudo-column is a real column
 *   here, so `SELECT *` over a wildcard also returns it).
 *
 * - where polyglot's DuckDB means something else than BigQuery (REGEXP_CONTAINS, CAST AS BYTES), its
 *   output is fixed (polyglot-fixes.ts); UNNEST … WITH OFFSET, ARRAY_AGG … LIMIT and date parts
 *   around it (translate-syntax.ts); functions DuckDB lacks, and SAFE. calls, become DuckDB macros
 *   and TRY (translate-functions.ts); `/`, `*` and AVG become macros with BigQuery's result types
 *   (translate-divide.ts, translate-arith.ts, decimal-arith.ts); `LIKE ANY UNNEST(…)` a subquery (translate-like.ts).
 *
 * Throws `BigQueryError('invalidQuery')` when polyglot cannot read the statement.
 */
import { transpile, Dialect } from '@polyglot-sql/sdk';
import { BigQueryError } from '../bigquery/errors.js';
import { polyglotFixes } from './polyglot-fixes.js';
import { renameCalls } from './translate-functions.js';
import { unnestWithOffset, withExpressions } from './translate-syntax.js';
import { dateTimeBeforePolyglot } from './translate-datetime.js';
import { jsonCalls, jsonLiterals, jsonPaths } from './json-macros.js';
import { divisionOperators } from './translate-divide.js';
import { avgCalls, decimalUnits, multiplyOperators } from './translate-arith.js';
import { quantifiedLikes } from './translate-like.js';
import { usingStars } from './translate-using.js';
import { structSelects } from './translate-struct-select.js';
import { correspondingSetOps } from './translate-corresponding.js';
import { restoreSamples, tableSamples } from './translate-tablesample.js';
import { decimalTypes, hexIntegerCasts, numericTypes } from './translate-numeric.js';
import { insertInto } from './translate-insert.js';
import { semanticsAfterPolyglot, semanticsBeforePolyglot } from './translate-semantics.js';

const PARAM_PREFIX = 'bqgate_param__';
const WILDCARD_PREFIX = 'bqgate_wildcard__';

/** Resolves a wildcard path (`p.d.prefix*`, project/dataset optional) to DuckDB `[catalog, schema, table, suffix]` tuples. */
export type WildcardResolver = (path: string) => Array<[string, string, string, string]>;

/** Calls `visit(kind, start, end)` for every lexical span that is not plain code. */
export function scan(sql: string, visit: (kind: 'string' | 'comment' | 'backtick' | 'param', start: number, end: number) => void) {
  let i = 0;
  const n = sql.length;
  while (i < n) {
    const c = sql[i];
    if (c === '-' && sql[i + 1] === '-' || c === '#') {
      const e = sql.indexOf('\n', i); const end = e < 0 ? n : e;
      visit('comment', i, end); i = end; continue;
    }
    if (c === '/' && sql[i + 1] === '*') {
      const e = sql.indexOf('*/', i + 2); const end = e < 0 ? n : e + 2;
      visit('comment', i, end); i = end; continue;
    }
    if (c === "'" || c === '"') {
      const triple = sql.startsWith(c.repeat(3), i);
      const q = triple ? c.repeat(3) : c;
      const raw = /[rR]/.test(sql[i - 1] ?? '');
      let j = i + q.length;
      while (j < n && !sql.startsWith(q, j)) j += (!raw && sql[j] === '\\') ? 2 : 1;
      const end = Math.min(n, j + q.length);
      visit('string', i, end); i = end; continue;
    }
    if (c === '`') {
      let j = i + 1;
      while (j < n && sql[j] !== '`') j += sql[j] === '\\' ? 2 : 1;
      visit('backtick', i, j + 1); i = j + 1; continue;
    }
    if (c === '@' && sql[i + 1] !== '@' && /[A-Za-z_]/.test(sql[i + 1] ?? '') && sql[i - 1] !== '@') {
      let j = i + 1;
      while (j < n && /[A-Za-z0-9_]/.test(sql[j])) j++;
      visit('param', i, j); i = j; continue;
    }
    i++;
  }
}

/** Rewrites backticked dotted paths, wildcard tables and `@params` so polyglot and DuckDB read them as BigQuery means. */
export function prepareForPolyglot(sql: string, wildcards: string[] = []): string {
  const edits: Array<[number, number, string]> = [];
  scan(sql, (kind, s, e) => {
    if (kind === 'backtick') {
      const inner = sql.slice(s + 1, e - 1);
      if (inner.endsWith('*')) { edits.push([s, e, WILDCARD_PREFIX + wildcards.length]); wildcards.push(inner); }
      else if (inner.includes('.')) edits.push([s, e, inner.split('.').map((p) => `\`${p}\``).join('.')]);
    } else if (kind === 'param') {
      edits.push([s, e, PARAM_PREFIX + sql.slice(s + 1, e)]);
    }
  });
  let positional = 0;
  for (const [s, e] of codeSpans(sql)) {
    for (let i = s; i < e; i++) if (sql[i] === '?') edits.push([i, i + 1, PARAM_PREFIX + String(++positional)]);
    for (const m of sql.slice(s, e).matchAll(DASHED_PROJECT)) {
      const at = s + m.index! + m[1].length;
      edits.push([at, at + m[2].length, `\`${m[2]}\``]);
    }
  }
  edits.sort((a, b) => a[0] - b[0]);
  let out = sql;
  for (const [s, e, text] of edits.reverse()) out = out.slice(0, s) + text + out.slice(e);
  return out;
}

/**
 * An unquoted dashed project id starting a table path (`FROM demo-project.shop.orders`): BigQuery
 * allows dashes in the first part of a path where a table name is expected
 * (https://cloud.google.com/bigquery/docs/reference/standard-sql/lexical#table_names); elsewhere
 * `a-b.c` is a subtraction, so only a path right after a keyword that takes a table is quoted.
 */
const DASHED_PROJECT = /(\b(?:FROM|JOIN|INTO|UPDATE|TABLE|VIEW|EXISTS|MERGE|USING|SCHEMA|TRUNCATE)\s+)([A-Za-z_][A-Za-z0-9_]*(?:-[A-Za-z0-9_]+)+)(?=\s*\.)/gi;

/** `[start, end)` of every stretch of plain code (outside strings, comments, backticks and params). */
function codeSpans(sql: string): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  let at = 0;
  scan(sql, (_k, s, e) => { if (s > at) out.push([at, s]); at = e; });
  if (at < sql.length) out.push([at, sql.length]);
  return out;
}

const dq = (s: string) => `"${s.replace(/"/g, '""')}"`;

/**
 * Translates one or more BigQuery statements to DuckDB statements. `castParam(name)` may give a
 * DuckDB type a named parameter is cast to where it is used (a bound value's JSON type does not
 * survive binding).
 */
export function toDuckDb(sql: string, resolveWildcard?: WildcardResolver, castParam?: (name: string) => string | undefined): string[] {
  sql = semanticsBeforePolyglot(sql); // documented answers DuckDB gives otherwise (translate-semantics.ts)
  const wildcards: string[] = [];
  const samples: string[] = [];
  const r = transpile(tableSamples(correspondingSetOps(structSelects(usingStars(avgCalls(multiplyOperators(divisionOperators(renameCalls(quantifiedLikes(jsonCalls(jsonLiterals(jsonPaths(dateTimeBeforePolyglot(withExpressions(unnestWithOffset(numericTypes(hexIntegerCasts(insertInto(prepareForPolyglot(sql, wildcards)))))))))))))))))), samples), Dialect.BigQuery, Dialect.DuckDB);
  if (!r.success || !r.sql) throw new BigQueryError('invalidQuery', `Syntax error: ${r.error ?? 'cannot read the statement'}`, { location: 'query' });
  const unions = wildcards.map((path) => {
    const tables = resolveWildcard?.(path) ?? [];
    if (!tables.length) throw new BigQueryError('notFound', `Not found: Table ${path} (no table matches the wildcard)`);
    return '(' + tables.map(([c, d, t, suffix]) => `SELECT *, '${suffix.replace(/'/g, "''")}' AS _TABLE_SUFFIX FROM ${dq(c)}.${dq(d)}.${dq(t)}`).join(' UNION ALL BY NAME ') + ')';
  });
  return r.sql.map((s) => restoreSamples(s, samples)
    .replace(new RegExp(`"?${PARAM_PREFIX}([A-Za-z0-9_]+)"?`, 'g'), (_m, name: string) => { const t = castParam?.(name); return t ? `CAST($${name} AS ${t})` : `$${name}`; })
    .replace(new RegExp(`"?${WILDCARD_PREFIX}(\\d+)"?`, 'g'), (_m, i) => unions[Number(i)]))
    .map(polyglotFixes).map(decimalTypes).map(decimalUnits)
    .map(semanticsAfterPolyglot);
}
