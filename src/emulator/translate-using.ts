/**
 * `SELECT *` over a join with USING in BigQuery's column order
 * (https://cloud.google.com/bigquery/docs/reference/standard-sql/query-syntax#using_clause): the
 * USING columns come first, then the left input's other columns, then the right's; over a chain
 * `a JOIN b USING (k) JOIN c USING (m)` that is m, k, then a's, b's and c's others. DuckDB keeps
 * each USING column where the left input has it (`SELECT *` over Roster(LastName, SchoolID) JOIN
 * TeamMascot USING (SchoolID) gave LastName, SchoolID, Mascot); @polyglot-sql/sdk (0.12) passes
 * the `*` through.
 *
 * `usingStars` rewrites, on GoogleSQL text before polyglot reads it, the bare `*` item (or
 * `* EXCEPT (…)`) of a SELECT whose FROM clause joins with USING at the same level into
 * `k…, * EXCEPT (k…)`: DuckDB's unqualified USING column is the merged one (COALESCE of both sides
 * for FULL JOIN, as BigQuery's), and its `* EXCLUDE` keeps the others in input order. A USING
 * column the query's own EXCEPT drops stays dropped. USING inside a parenthesized join is not
 * reordered.
 */
import { bigQueryTokens, isString, type Tok } from './translate-divide.js';

const word = (t: Tok | undefined) => (t && !isString(t) ? t.text.toUpperCase() : '');
const CLAUSE_END = new Set(['WHERE', 'GROUP', 'HAVING', 'QUALIFY', 'WINDOW', 'ORDER', 'LIMIT', 'UNION', 'INTERSECT', 'EXCEPT', ';']);

/** Paren depth before each token (strings excluded). */
function depths(ts: Tok[]): number[] {
  let d = 0;
  return ts.map((t) => { const w = word(t); if (w === ')' || w === ']') d--; const here = d; if (w === '(' || w === '[') d++; return here; });
}

/** The USING column names (source text) of the FROM clause starting at token `from`, at depth `d`, last join's first. */
function usingColumns(sql: string, ts: Tok[], ds: number[], from: number, d: number): string[] {
  const lists: string[][] = [];
  for (let k = from + 1; k < ts.length && ds[k] >= d; k++) {
    if (ds[k] !== d) continue;
    const w = word(ts[k]);
    if (CLAUSE_END.has(w) && !(w === 'EXCEPT' && word(ts[k - 1]) === '*')) break;
    if (w !== 'USING' || word(ts[k + 1]) !== '(') continue;
    const names: string[] = [];
    let j = k + 2;
    for (; j < ts.length && word(ts[j]) !== ')'; j += 2) {
      if (!/IDENTIFIER|VAR/.test(ts[j].type) && !/^[A-Za-z_]\w*$/.test(ts[j].text)) return []; // not a column list (MERGE … USING (SELECT …))
      names.push(sql.slice(ts[j].start, ts[j].end));
      if (word(ts[j + 1]) !== ',' && word(ts[j + 1]) !== ')') return [];
      if (word(ts[j + 1]) === ')') { j++; break; }
    }
    lists.push(names);
  }
  const seen = new Set<string>();
  const out: string[] = [];
  for (const names of lists.reverse()) for (const n of names) { const key = n.replace(/`/g, '').toLowerCase(); if (!seen.has(key)) { seen.add(key); out.push(n); } }
  return out;
}

/** Every `SELECT … * … FROM … JOIN … USING (…)` of GoogleSQL `sql` with its `*` in BigQuery's order (see above). */
export function usingStars(sql: string): string {
  if (!/\bUSING\s*\(/i.test(sql) || !sql.includes('*')) return sql;
  const ts = bigQueryTokens(sql);
  if (!ts) return sql;
  const ds = depths(ts);
  const edits: Array<[number, number, string]> = [];
  for (let i = 0; i < ts.length; i++) {
    if (word(ts[i]) !== 'SELECT') continue;
    const d = ds[i];
    let from = -1;
    let star = -1;
    for (let k = i + 1; k < ts.length && ds[k] >= d; k++) {
      if (ds[k] !== d) continue;
      if (word(ts[k]) === 'FROM') { from = k; break; }
      if (word(ts[k]) === '*' && [',', 'SELECT', 'DISTINCT', 'ALL', 'STRUCT', 'VALUE'].includes(word(ts[k - 1]))) star = k;
    }
    if (from < 0 || star < 0) continue;
    const keys = usingColumns(sql, ts, ds, from, d);
    if (!keys.length) continue;
    let end = ts[star].end;
    let dropped: string[] = [];
    if (word(ts[star + 1]) === 'EXCEPT' && word(ts[star + 2]) === '(') {
      let j = star + 3;
      while (j < ts.length && word(ts[j]) !== ')') { if (word(ts[j]) !== ',') dropped.push(ts[j].text.toLowerCase()); j++; }
      end = ts[j].end;
    } else if (word(ts[star + 1]) === 'REPLACE') continue;
    const kept = keys.filter((k) => !dropped.includes(k.replace(/`/g, '').toLowerCase()));
    const except = sql.slice(ts[star].end, end).replace(/^\s*EXCEPT\s*\(/i, '').replace(/\)\s*$/, '');
    const all = [...kept, ...(except.trim() ? [except.trim()] : [])];
    edits.push([ts[star].start, end, `${kept.map((k) => `${k}, `).join('')}* EXCEPT (${all.join(', ')})`]);
  }
  let out = sql;
  for (const [s, e, text] of edits.reverse()) out = out.slice(0, s) + text + out.slice(e);
  return out;
}
