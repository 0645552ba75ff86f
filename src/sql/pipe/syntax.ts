/**
 * Newer standard syntax this ZetaSQL build's parser lacks, rewritten on one level of a token tree
 * (the caller applies it to every level):
 * - chained function calls `(x).F(args)` / `'lit'.F(args)` / `f(x).G(args)` → `F(x, args)`
 *   (BigQuery "Function calls": chained function calls);
 * - `GROUP BY ALL` → `GROUP BY` the ordinals of the select items that are neither aggregates nor
 *   window functions (BigQuery "GROUP BY clause": group by all). An item whose kind cannot be read
 *   from its tokens (`*`) is refused.
 */
import { commas, isGroup, isName, isOp, isWord, refuse, render, some, text, type Item } from './items.js';

/** Chained calls on one level. */
export function chainedCalls(items: Item[]): Item[] {
  const out: Item[] = [];
  for (let i = 0; i < items.length; i++) {
    const it = items[i];
    // receiver `.` name [`.` name]* `(` args `)`
    let j = i;
    const path: Item[] = [];
    if (out.length && isReceiver(out[out.length - 1]) && isOp(it, '.') && isName(items[i + 1])) {
      j = i + 1;
      path.push(items[j]);
      while (isOp(items[j + 1], '.') && isName(items[j + 2])) { path.push(items[j + 2]); j += 2; }
      const args = items[j + 1];
      if (isGroup(args) && path.length) {
        const recv = takeReceiver(out);
        const name = path.map((p) => render([p])).join('.');
        const rest = render(args.items).trim();
        out.push(text(`${name}(${recv.text}${rest ? `, ${rest}` : ''})`, recv.gap));
        i = j + 1;
        continue;
      }
    }
    out.push(it);
  }
  return out;
}

/** A string literal, a parenthesized expression or a call (the last item of `f(x)`). */
const isReceiver = (it: Item) => (it.t === 'tok' && (it.tok.kind === 'string' || it.tok.kind === 'bytes')) || isGroup(it) || it.t === 'text';

/** Pops the receiver (with the function path of a call before it) off `out`. */
function takeReceiver(out: Item[]): { text: string; gap: string } {
  const last = out.pop()!;
  const parts: Item[] = [last];
  if (isGroup(last) && out.length && isName(out[out.length - 1]) && !isWord(out[out.length - 1], ...RESERVED)) {
    parts.unshift(out.pop()!);
    while (out.length >= 2 && isOp(out[out.length - 1], '.') && isName(out[out.length - 2])) { parts.unshift(out.pop()!); parts.unshift(out.pop()!); }
  }
  return { text: render(parts).trim(), gap: parts[0].gap };
}

/** Reserved words that may stand before a parenthesized expression without calling it. */
const RESERVED = ['SELECT', 'AND', 'OR', 'NOT', 'IN', 'BY', 'ON', 'WHERE', 'WHEN', 'THEN', 'ELSE', 'CASE', 'AS', 'FROM', 'JOIN', 'EXISTS', 'IS', 'LIKE', 'BETWEEN', 'HAVING', 'QUALIFY', 'RETURN', 'UNNEST', 'SET', 'UNION', 'ALL', 'DISTINCT', 'INTERSECT', 'EXCEPT', 'WITH', 'ANY', 'SOME', 'LIMIT', 'OFFSET', 'OVER', 'PARTITION', 'IF', 'ARRAY', 'STRUCT'];

/** Aggregate functions of BigQuery's function reference (a name, or a path's first part). */
const AGGREGATES = new Set([
  'ANY_VALUE', 'ARRAY_AGG', 'ARRAY_CONCAT_AGG', 'AVG', 'BIT_AND', 'BIT_OR', 'BIT_XOR', 'COUNT', 'COUNTIF', 'GROUPING', 'LOGICAL_AND', 'LOGICAL_OR',
  'MAX', 'MAX_BY', 'MIN', 'MIN_BY', 'STRING_AGG', 'SUM', 'APPROX_COUNT_DISTINCT', 'APPROX_QUANTILES', 'APPROX_TOP_COUNT', 'APPROX_TOP_SUM', 'CORR',
  'COVAR_POP', 'COVAR_SAMP', 'STDDEV', 'STDDEV_POP', 'STDDEV_SAMP', 'VARIANCE', 'VAR_POP', 'VAR_SAMP', 'HLL_COUNT', 'KLL_QUANTILES', 'ST_UNION_AGG',
  'ST_CENTROID_AGG', 'ST_EXTENT', 'ST_NEAREST_NEIGHBORS', 'JSON_AGG', 'ARRAY_UNION_AGG', 'ARRAY_INTERSECT_AGG', 'RANGE_BUCKET_AGG', 'AVG_BY', 'SUM_BY',
]);

/** Whether a select item holds an aggregate call or a window function (at any depth, outside subqueries). */
function aggregateOrWindow(item: Item[]): boolean {
  const scan = (items: Item[]): boolean => items.some((it, i) => {
    if (isWord(it, 'OVER')) return true;
    if (it.t === 'tok' && it.tok.kind === 'word' && AGGREGATES.has(it.tok.upper!) && (isGroup(items[i + 1]) || isOp(items[i + 1], '.')) && !isOp(items[i - 1], '.')) return true;
    return it.t === 'group' && !isWord(it.items[0], 'SELECT', 'WITH', 'FROM') && scan(it.items);
  });
  return scan(item);
}

/** `GROUP BY ALL` on one level (the SELECT it belongs to is the nearest one before it). */
export function groupByAll(items: Item[]): Item[] {
  const out = [...items];
  for (let i = 0; i < out.length; i++) {
    if (!(isWord(out[i], 'GROUP') && isWord(out[i + 1], 'BY') && isWord(out[i + 2], 'ALL'))) continue;
    let s = i - 1;
    while (s >= 0 && !isWord(out[s], 'SELECT')) s--;
    if (s < 0) throw refuse('GROUP BY ALL without its SELECT');
    let f = s + 1;
    while (f < i && !isWord(out[f], 'FROM')) f++;
    let first = s + 1;
    if (isWord(out[first], 'ALL', 'DISTINCT')) first++;
    if (isWord(out[first], 'AS')) first += 2;
    const list = commas(out.slice(first, f));
    if (list.some((it) => some(it, (x, k, lvl) => isOp(x, '*') && (k === 0 || isOp(lvl[k - 1], '.')) && lvl === it))) throw refuse('GROUP BY ALL with a * select item');
    const keys = list.map((it, k) => (aggregateOrWindow(it) ? 0 : k + 1)).filter(Boolean);
    out.splice(i, 3, text(`GROUP BY ${keys.length ? keys.join(', ') : '()'}`, out[i].gap));
  }
  return out;
}

/** Words that end a GROUP BY list on its level. */
const AFTER_GROUP_BY = ['HAVING', 'QUALIFY', 'WINDOW', 'ORDER', 'LIMIT', 'OFFSET', 'UNION', 'INTERSECT', 'EXCEPT'];

/** A select item split into its expression and its alias (`AS name`, or a trailing name after a value), if any. */
function aliased(item: Item[]): { expr: Item[]; alias?: string } {
  const n = item.length;
  if (n >= 3 && isWord(item[n - 2], 'AS') && isName(item[n - 1])) return { expr: item.slice(0, n - 2), alias: nameOf(item[n - 1]) };
  const prev = item[n - 2];
  const valueBefore = prev && (isGroup(prev) || (prev.t === 'tok' && ['word', 'quoted', 'number', 'string', 'bytes'].includes(prev.tok.kind)));
  if (n >= 2 && isName(item[n - 1]) && valueBefore && !isOp(prev, '.')) return { expr: item.slice(0, n - 1), alias: nameOf(item[n - 1]) };
  return { expr: item };
}

const nameOf = (it: Item) => (it.t === 'tok' ? it.tok.text.replace(/^`|`$/g, '').toUpperCase() : '');

/** A token list's spelling for comparison: words upper-cased (names and keywords are case-insensitive), the rest as written. */
function spelling(items: Item[]): string {
  return items.map((it) => (it.t === 'group' ? `${it.open}${spelling(it.items)}` : it.t === 'text' ? it.text : it.tok.kind === 'word' ? it.tok.upper! : it.tok.text)).join(' ');
}

/**
 * `GROUP BY <expression>` where the expression is spelled as an aliased select item's
 * (`SELECT DATE(ts) AS d, … GROUP BY DATE(ts) ORDER BY d`) → `GROUP BY <that item's ordinal>`, the
 * same grouping (BigQuery "GROUP BY clause": grouping by an ordinal groups by that select item's
 * expression). This ZetaSQL build refuses the first spelling when an ORDER BY or HAVING follows
 * ("SELECT list expression references column ts which is neither grouped nor aggregated"). A key
 * is left as written when it is one name or number, holds a query parameter, a subquery or a name
 * some select item is aliased to (the key's name could mean the alias), or the item aggregates.
 */
export function groupByExpressions(items: Item[]): Item[] {
  const out = [...items];
  for (let i = 0; i < out.length; i++) {
    if (!(isWord(out[i], 'GROUP') && isWord(out[i + 1], 'BY')) || isWord(out[i + 2], 'ALL', 'ROLLUP', 'CUBE', 'GROUPING') || isGroup(out[i + 2])) continue;
    let s = i - 1;
    while (s >= 0 && !isWord(out[s], 'SELECT') && !isOp(out[s], '|>')) s--;
    if (s < 0 || !isWord(out[s], 'SELECT')) continue;
    let f = s + 1;
    while (f < i && !isWord(out[f], 'FROM')) f++;
    let first = s + 1;
    if (isWord(out[first], 'ALL', 'DISTINCT')) first++;
    if (isWord(out[first], 'AS')) first += 2;
    const select = commas(out.slice(first, f)).map(aliased);
    const aliases = new Set(select.flatMap((x) => (x.alias ? [x.alias] : [])));
    let e = i + 2;
    while (e < out.length && !isWord(out[e], ...AFTER_GROUP_BY) && !isOp(out[e], ';') && !isOp(out[e], '|>')) e++;
    const keys = commas(out.slice(i + 2, e));
    let changed = false;
    const rewritten = keys.map((key) => {
      if (key.length < 2 || some(key, (x) => (x.t === 'tok' && x.tok.kind === 'param') || (isGroup(x) && isWord(x.items[0], 'SELECT', 'WITH')) || (isName(x) && aliases.has(nameOf(x))))) return key;
      const want = spelling(key);
      const k = select.findIndex((x) => x.alias && !aggregateOrWindow(x.expr) && spelling(x.expr) === want);
      if (k < 0) return key;
      changed = true;
      return [text(String(k + 1), key[0].gap)];
    });
    if (!changed) continue;
    const list = rewritten.flatMap((key, k) => (k ? [text(',', ''), ...key] : key));
    out.splice(i + 2, e - (i + 2), ...list);
    i += 2 + list.length - 1;
  }
  return out;
}
