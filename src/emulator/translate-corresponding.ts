/**
 * Set operations that match columns by name (https://cloud.google.com/bigquery/docs/reference/standard-sql/query-syntax#corresponding):
 * `A [INNER | {FULL | LEFT} [OUTER]] {UNION | INTERSECT | EXCEPT} {ALL | DISTINCT}
 * {BY NAME [ON (cols)] | [STRICT] CORRESPONDING [BY (cols)]} B`. @polyglot-sql/sdk (0.12) passes the
 * modifiers through and DuckDB parses none but `UNION [ALL] BY NAME` (its full mode).
 *
 * `correspondingSetOps` rewrites one such operation per query level, on GoogleSQL text before
 * polyglot, to the positional operation of projections: `SELECT c… FROM (A) AS bqgate_l <op> SELECT
 * c… FROM (B) AS bqgate_r`, a column a side lacks as `NULL AS c`. The columns c, as BigQuery
 * documents them:
 * - `BY (cols)` / `ON (cols)`: that list, in its order;
 * - CORRESPONDING (INNER, the default) / `INNER … BY NAME`: the columns both sides have, in A's order;
 * - LEFT: A's columns; FULL: A's then B's others;
 * - STRICT CORRESPONDING and BY NAME without a mode: both sides must have the same columns, else
 *   invalidQuery (A's order).
 * The names are read from each side's select list (aliases, implicit aliases, the last part of a
 * path), case-insensitively; a side whose list has `*` or an unnamed item, or a chain of several
 * such operations, is left as it is (DuckDB then refuses it, or runs its own FULL BY NAME).
 */
import { BigQueryError } from '../bigquery/errors.js';
import { bigQueryTokens, isString, type Tok } from './translate-divide.js';

const word = (t: Tok | undefined) => (t && !isString(t) ? t.text.toUpperCase() : '');
const nameLike = (t: Tok | undefined) => !!t && !isString(t) && (t.type === 'QUOTED_IDENTIFIER' || /^[A-Za-z_]\w*$/.test(t.text));
const OPS = new Set(['UNION', 'INTERSECT', 'EXCEPT']);

/** Paren depth before each token. */
function depths(ts: Tok[]): number[] {
  let d = 0;
  return ts.map((t) => { const w = word(t); if (w === ')' || w === ']') d--; const here = d; if (w === '(' || w === '[') d++; return here; });
}

/** The output column names of the query `[s, e)` (tokens), or undefined when one cannot be read statically. */
function columnNames(ts: Tok[], ds: number[], s: number, e: number): string[] | undefined {
  while (word(ts[s]) === '(' && word(ts[e - 1]) === ')') { s++; e--; }
  const d = ds[s];
  let i = s;
  while (i < e && !(word(ts[i]) === 'SELECT' && ds[i] === d)) i++;
  if (i >= e) return undefined;
  i++;
  while (['ALL', 'DISTINCT'].includes(word(ts[i]))) i++;
  const names: string[] = [];
  let start = i;
  for (let k = i; k <= e; k++) {
    const end = k === e || (ds[k] === d && (word(ts[k]) === ',' || word(ts[k]) === 'FROM'));
    if (!end) continue;
    const last = ts[k - 1];
    if (k - 1 < start || word(last) === '*' || !nameLike(last)) return undefined;
    const prev = k - 1 > start ? ts[k - 2] : undefined;
    if (prev && !(word(prev) === 'AS' || word(prev) === '.' || nameLike(prev) || /^[)\]]$/.test(word(prev)) || /STRING|NUMBER/.test(prev.type))) return undefined;
    names.push(last.text);
    if (word(ts[k]) === 'FROM' || k === e) break;
    start = k + 1;
  }
  return names;
}

/** Index of the token opening the group closed at `i`. */
function openOf(ts: Tok[], i: number): number {
  let depth = 0;
  for (let k = i; k >= 0; k--) { const w = word(ts[k]); if (w === ')') depth++; else if (w === '(' && --depth === 0) return k; }
  return -1;
}

/** A parenthesized name list starting at token `i` (`(`): [names, index after `)`]. */
function nameList(ts: Tok[], i: number): [string[], number] | undefined {
  if (word(ts[i]) !== '(') return undefined;
  const names: string[] = [];
  let k = i + 1;
  for (; word(ts[k]) !== ')'; k++) { if (word(ts[k]) === ',') continue; if (!nameLike(ts[k])) return undefined; names.push(ts[k].text); }
  return [names, k + 1];
}

/** Every name-matching set operation of GoogleSQL `sql` as a positional one (see above). */
export function correspondingSetOps(sql: string): string {
  if (!/\b(?:CORRESPONDING|BY\s+NAME)\b/i.test(sql)) return sql;
  const ts = bigQueryTokens(sql);
  if (!ts) return sql;
  const ds = depths(ts);
  for (let i = 0; i < ts.length; i++) {
    if (!OPS.has(word(ts[i])) || word(ts[i - 1]) === '*') continue;
    const d = ds[i];
    let m = i - 1;
    const mode = ['INNER', 'FULL', 'LEFT', 'OUTER'].includes(word(ts[m])) ? (word(ts[m]) === 'OUTER' ? word(ts[--m]) : word(ts[m])) : '';
    const opStart = mode ? m : i;
    let k = i + 1;
    const quantifier = ['ALL', 'DISTINCT'].includes(word(ts[k])) ? word(ts[k++]) : '';
    let strict = false;
    let list: string[] | undefined;
    if (word(ts[k]) === 'BY' && word(ts[k + 1]) === 'NAME') {
      k += 2;
      strict = !mode;
      if (word(ts[k]) === 'ON') { const l = nameList(ts, k + 1); if (!l) continue; [list, k] = l; }
    } else {
      if (word(ts[k]) === 'STRICT') { strict = true; k++; }
      if (word(ts[k]) !== 'CORRESPONDING') continue;
      k++;
      if (word(ts[k]) === 'BY') { const l = nameList(ts, k + 1); if (!l) continue; [list, k] = l; }
    }
    // A: back to the query's start at depth d; B: to its end (ORDER BY / LIMIT at depth d stay outside).
    let a = opStart - 1;
    while (a >= 0 && ds[a] >= d && !(word(ts[a]) === 'SELECT' && ds[a] === d)) a--;
    if ((a < 0 || ds[a] < d) && word(ts[opStart - 1]) === ')') a = openOf(ts, opStart - 1); // (A) UNION …
    let b = k;
    // A `)` at depth d closes B's own group (`… UNION (B)`) unless it opened before B.
    while (b < ts.length && ds[b] >= d && !(ds[b] === d && (OPS.has(word(ts[b])) || ['ORDER', 'LIMIT', ';'].includes(word(ts[b])) || (word(ts[b]) === ')' && openOf(ts, b) < k)))) b++;
    if (a < 0 || ts.slice(a, opStart).some((t, j) => ds[a + j] === d && OPS.has(word(t))) || OPS.has(word(ts[b]))) continue; // chains: left alone
    const left = columnNames(ts, ds, a, opStart);
    const right = columnNames(ts, ds, k, b);
    if (!left || !right) continue;
    const has = (cols: string[], c: string) => cols.some((x) => x.toLowerCase() === c.toLowerCase());
    if (strict && !list && (left.length !== right.length || left.some((c) => !has(right, c)))) {
      throw new BigQueryError('invalidQuery', `Queries in ${word(ts[i])} ${quantifier} ${mode ? `${mode} ` : ''}BY NAME / STRICT CORRESPONDING must have the same column names: ${left.join(', ')} vs ${right.join(', ')}`, { location: 'query' });
    }
    const cols = list ?? (mode === 'FULL' ? [...left, ...right.filter((c) => !has(left, c))]
      : mode === 'LEFT' ? left : left.filter((c) => has(right, c)));
    if (list && list.some((c) => !has(left, c) && !has(right, c))) throw new BigQueryError('invalidQuery', `Column ${list.find((c) => !has(left, c) && !has(right, c))} in the set operation's column list is in neither input`, { location: 'query' });
    const side = (own: string[]) => cols.map((c) => (has(own, c) ? `\`${c}\`` : `NULL AS \`${c}\``)).join(', ');
    const text = (x: number, y: number) => sql.slice(ts[x].start, ts[y - 1].end);
    const out = `SELECT ${side(left)} FROM (${text(a, opStart)}) AS bqgate_l ${word(ts[i])} ${quantifier} SELECT ${side(right)} FROM (${text(k, b)}) AS bqgate_r`;
    return correspondingSetOps(`${sql.slice(0, ts[a].start)}${out}${sql.slice(ts[b - 1].end)}`);
  }
  return sql;
}
