/**
 * Multi-level aggregation (BigQuery "Aggregate function calls": `AGG(inner_aggregate GROUP BY keys)`,
 * https://cloud.google.com/bigquery/docs/reference/standard-sql/aggregate-function-calls#group_by_modifier),
 * which this ZetaSQL build's parser lacks, desugared on one level of a token tree into two levels of
 * standard grouping:
 *
 *   SELECT k, AVG(SUM(x) GROUP BY g) AS a FROM t WHERE … GROUP BY k ORDER BY …
 *   → SELECT k, AVG(__bqgate_ml_1) AS a
 *     FROM (SELECT k, SUM(x) AS __bqgate_ml_1 FROM t WHERE … GROUP BY k, g) GROUP BY k ORDER BY …
 *
 * the same answer: within each group of the query's keys `k`, the inner expression is computed per
 * group of `g` and the outer aggregate runs over those results (with no GROUP BY, over all of them,
 * one row). Only that exact shape is translated; anything else with a multi-level call is refused
 * (BigQueryError('invalidQuery'), nothing guessed): a set operation, SELECT DISTINCT / AS STRUCT,
 * HAVING, QUALIFY, WINDOW, a `*` item, grouping keys that are not plain column names, calls whose
 * inner GROUP BY lists differ, a call modifier after the inner GROUP BY (HAVING MAX / ORDER BY /
 * LIMIT), nested multi-level calls, or a select item reading anything but the query's keys outside
 * its multi-level calls.
 */
import { commas, isGroup, isName, isOp, isWord, refuse, render, some, text, type Item } from './items.js';

const ML = '__bqgate_ml_';
/** Words that end the FROM … WHERE part of the level (the GROUP BY, the clauses refused, the tail kept). */
const REFUSED_CLAUSES = ['HAVING', 'QUALIFY', 'WINDOW'];
const TAIL = ['ORDER', 'LIMIT', 'OFFSET'];
/** Words a select item may hold beside the query's keys outside its multi-level calls. */
const KEYWORDS = new Set(['AS', 'AND', 'OR', 'NOT', 'IS', 'NULL', 'TRUE', 'FALSE', 'CASE', 'WHEN', 'THEN', 'ELSE', 'END', 'IN', 'BETWEEN', 'LIKE', 'DISTINCT']);

/** Index of the top-level `GROUP BY` among a call's argument items, or -1. */
const groupByAt = (args: Item[]) => args.findIndex((it, i) => isWord(it, 'GROUP') && isWord(args[i + 1], 'BY'));

/** A parenthesized query (a subquery's own GROUP BY is not a multi-level call's). */
const isQuery = (it: Item) => isGroup(it) && (isWord(it.items[0], 'SELECT', 'WITH', 'FROM') || isGroup(it.items[0]));

/** Whether the group at `xs[i]` is the argument list of a multi-level call `f( … GROUP BY … )`. */
const isCall = (xs: Item[], i: number) => isGroup(xs[i]) && !isQuery(xs[i]) && i > 0 && isName(xs[i - 1]) && groupByAt((xs[i] as Extract<Item, { t: 'group' }>).items) >= 0;

/** Whether `items` (outside subqueries) hold a multi-level call. */
function hasMultiLevel(items: Item[]): boolean {
  return items.some((it, i) => isCall(items, i) || (isGroup(it) && !isQuery(it) && hasMultiLevel(it.items)));
}

/** See the module comment: the level's query translated, or `items` unchanged when it has no multi-level call. */
export function multiLevelAggregates(items: Item[]): Item[] {
  const s = items.findIndex((it) => isWord(it, 'SELECT'));
  if (s < 0) return items;
  const f = items.findIndex((it, i) => i > s && isWord(it, 'FROM'));
  const list = items.slice(s + 1, f < 0 ? items.length : f);
  if (!hasMultiLevel(list)) return items;
  const no = (why: string) => refuse(`a multi-level aggregate (aggregate GROUP BY inside a call) ${why}`);
  if (f < 0) throw no('without FROM');
  if (items.some((it, i) => i !== s && isWord(it, 'SELECT', 'UNION', 'INTERSECT', 'EXCEPT'))) throw no('beside a set operation');
  if (isWord(list[0], 'DISTINCT', 'AS', 'ALL')) throw no('under SELECT DISTINCT, ALL or AS');
  const at = (ws: string[]) => items.findIndex((it, i) => i > f && isWord(it, ...ws));
  if (at(REFUSED_CLAUSES) >= 0) throw no('with HAVING, QUALIFY or WINDOW');
  const tail = at(TAIL) >= 0 ? at(TAIL) : items.length;
  const g = items.findIndex((it, i) => i > f && i < tail && isWord(it, 'GROUP') && isWord(items[i + 1], 'BY'));
  const source = items.slice(f, g >= 0 ? g : tail);
  const keys = g >= 0 ? commas(items.slice(g + 2, tail)) : [];
  if (keys.some((k) => k.length !== 1 || !isName(k[0]) || isWord(k[0], 'ALL', 'ROLLUP', 'CUBE', 'GROUPING'))) throw no('with grouping keys other than column names');
  const keyNames = new Set(keys.map((k) => render(k).trim().replace(/^`|`$/g, '').toUpperCase()));
  const inner: string[] = [];
  let innerKeys: string | undefined;
  /** The item with each multi-level call `f(e GROUP BY g)` replaced by `f(__bqgate_ml_n)`, `e` kept for the inner query. */
  const replace = (xs: Item[]): Item[] => xs.map((it, i) => {
    if (!isGroup(it) || isQuery(it)) return it;
    if (!isCall(xs, i)) return { ...it, items: replace(it.items) };
    const k = groupByAt(it.items);
    const args = it.items;
    const distinct = isWord(args[0], 'DISTINCT');
    const expr = args.slice(distinct ? 1 : 0, k);
    const by = args.slice(k + 2);
    if (!expr.length || !by.length || hasMultiLevel(expr)) throw no('nested, or without its expression or keys');
    if (by.some((x) => isWord(x, 'HAVING', 'ORDER', 'LIMIT'))) throw no('with HAVING MAX/MIN, ORDER BY or LIMIT after its GROUP BY');
    const spelled = render(by).trim();
    if (innerKeys !== undefined && innerKeys !== spelled) throw no('whose calls group by different keys');
    innerKeys = spelled;
    inner.push(`${render(expr).trim()} AS ${ML}${inner.length + 1}`);
    return { ...it, items: [text(`${distinct ? 'DISTINCT ' : ''}${ML}${inner.length}`, args[0].gap)] };
  });
  const select = commas(list).map((item) => {
    const out = replace(item);
    // Outside its multi-level calls an item reads only the query's keys (an alias is the name after AS, or the last name).
    const names: Item[] = [];
    const walk = (xs: Item[]) => xs.forEach((x, i) => {
      if (isOp(x, '*') && (i === 0 || isOp(xs[i - 1], '.'))) throw no('beside a * select item');
      if (isGroup(x)) { if (isWord(x.items[0], 'SELECT', 'WITH')) throw no('beside a subquery in the select list'); walk(x.items); return; }
      if (isName(x) && !isGroup(xs[i + 1]) && !(x.t === 'tok' && x.tok.kind === 'word' && KEYWORDS.has(x.tok.upper!))) names.push(x);
    });
    walk(out);
    const n = out.length;
    const alias = n >= 2 && isName(out[n - 1]) && (isWord(out[n - 2], 'AS') || isGroup(out[n - 2]) || isName(out[n - 2])) ? out[n - 1] : undefined;
    for (const x of names) {
      if (x === alias) continue;
      if (!keyNames.has(render([x]).trim().replace(/^`|`$/g, '').toUpperCase())) throw no(`beside ${render([x]).trim()}, which is not one of the query's GROUP BY columns`);
    }
    return render(out).trim();
  });
  const keyList = keys.map((k) => render(k).trim());
  const innerSql = `SELECT ${[...keyList, ...inner].join(', ')} ${render(source).trim()} GROUP BY ${[...keyList, innerKeys!].join(', ')}`;
  const outer = `SELECT ${select.join(', ')} FROM (${innerSql})${keyList.length ? ` GROUP BY ${keyList.join(', ')}` : ''}`;
  if (some(items.slice(tail), (x) => x.t === 'group' && hasMultiLevel([x]))) throw no('in ORDER BY');
  return [...items.slice(0, s), text(outer, items[s].gap), ...items.slice(tail)];
}
