/**
 * Pipe operators (BigQuery "Pipe query syntax" reference,
 * https://cloud.google.com/bigquery/docs/reference/standard-sql/pipe-syntax) folded into standard
 * GoogleSQL, one operator at a time, into a `Frame`: one SELECT being built, clause by clause. An
 * operator that fits the frame's next clause joins it (so range variables of a FROM-first query
 * stay visible to its WHERE, JOIN and AGGREGATE, and ORDER BY + LIMIT stay one query); one that does
 * not closes the frame into a subquery `(…)` that a new frame reads.
 *
 * | pipe operator | standard GoogleSQL |
 * |---|---|
 * | `WHERE c` | `WHERE c` (`QUALIFY c` when c holds a window function) |
 * | `SELECT …` | `SELECT …` |
 * | `EXTEND e`, `WINDOW e` | `SELECT *, e` |
 * | `SET c = e` | `SELECT * REPLACE (e AS c)` |
 * | `DROP c` | `SELECT * EXCEPT (c)` |
 * | `RENAME a AS b` | `SELECT c1, a AS b, c2 …` (the input's columns, in order, from the analyzer) |
 * | `AS t` | `FROM (…) AS t` |
 * | `AGGREGATE a GROUP [AND ORDER] BY k` | `SELECT k, a … GROUP BY 1, … [ORDER BY …]` |
 * | `ORDER BY`, `LIMIT … OFFSET` | the same clauses |
 * | `DISTINCT` | `SELECT DISTINCT *` |
 * | `[kind] JOIN x …` | `FROM … [kind] JOIN x …` |
 * | `CALL f(args) [AS t]` | `FROM f((…), args) [AS t]` (after a leading `MODEL m` argument) |
 * | `TABLESAMPLE`, `PIVOT`, `UNPIVOT` | `FROM (…) TABLESAMPLE / PIVOT / UNPIVOT …` |
 * | `UNION` / `INTERSECT` / `EXCEPT … (q), …` | `(…) UNION … (q) …` |
 * | `WITH n AS (q)` | a WITH entry of the enclosing query |
 *
 * Operators it cannot translate exactly (ASSERT, grouping sets inside AGGREGATE, RENAME where the
 * input's columns cannot be asked for) are refused with BigQueryError('invalidQuery').
 */
import { commas, flat, isGroup, isOp, isWord, refuse, render, some, split, type Item } from './items.js';
import { renderSetOps, setOpAt, type SetOpState } from './setops.js';

/** One SELECT under construction. `raw`: a finished query (a set operation) standing alone. */
export interface Frame {
  raw?: string;
  from?: string;
  where: string[];
  qualify: string[];
  selectKw: string;
  select: string;
  groupBy?: string;
  window?: string;
  orderBy?: string;
  limit?: string;
  /** 0 FROM only, 1 WHERE, 2 projection, 3 ORDER BY, 4 LIMIT. */
  stage: number;
}

/** What operators may ask of their context. */
export interface OpContext {
  /** The output column names of a query text (top-level queries only; RENAME needs them). */
  columnsOf?: (query: string) => Promise<string[]>;
  /** Pipe WITH entries, appended to the enclosing query's WITH list. */
  ctes: string[];
  /** The enclosing WITH list as text (`WITH a AS (…), `), for columnsOf. */
  withText: () => string;
  /** Set operations by name registered for checking after analysis (setops.ts). */
  setOps: SetOpState;
}

export const fromFrame = (from: string): Frame => ({ from, where: [], qualify: [], selectKw: 'SELECT', select: '*', stage: 0 });
export const rawFrame = (raw: string): Frame => ({ raw, where: [], qualify: [], selectKw: 'SELECT', select: '*', stage: 5 });

/** The standard query text of a frame. */
export function renderFrame(f: Frame): string {
  if (f.raw !== undefined) return f.raw;
  const where = f.where.length ? f.where : f.qualify.length && !f.groupBy ? ['TRUE'] : [];
  return [
    `${f.selectKw} ${f.select}`,
    f.from !== undefined ? `FROM ${f.from}` : '',
    where.length ? `WHERE ${where.map((w) => `(${w})`).join(' AND ')}` : '',
    f.groupBy ? `GROUP BY ${f.groupBy}` : '',
    f.qualify.length ? `QUALIFY ${f.qualify.map((w) => `(${w})`).join(' AND ')}` : '',
    f.window ? `WINDOW ${f.window}` : '',
    f.orderBy ? `ORDER BY ${f.orderBy}` : '',
    f.limit ? `LIMIT ${f.limit}` : '',
  ].filter(Boolean).join(' ');
}

/** A frame reading `f` as a subquery (its range variables gone, as after any projection). */
const wrap = (f: Frame, alias = ''): Frame => fromFrame(`(${renderFrame(f)})${alias}`);
/** `f` if its stage allows the next clause at `stage`, else a frame over it. */
const at = (f: Frame, stage: number): Frame => (f.stage <= stage ? f : wrap(f));

/** Splits a select list's trailing `WINDOW name AS (…)` clause off. */
function windowClause(items: Item[]): [Item[], string | undefined] {
  const k = items.findIndex((it) => isWord(it, 'WINDOW'));
  return k < 0 ? [items, undefined] : [items.slice(0, k), flat(items.slice(k + 1))];
}

/** An item's order suffix (`ASC`/`DESC` [`NULLS FIRST`/`LAST`]) taken out: [item, suffix]. */
function orderSuffix(item: Item[]): [Item[], string | undefined] {
  const k = item.findIndex((it) => isWord(it, 'ASC', 'DESC'));
  if (k < 0) return [item, undefined];
  const n = isWord(item[k + 1], 'NULLS') && isWord(item[k + 2], 'FIRST', 'LAST') ? 3 : 1;
  return [[...item.slice(0, k), ...item.slice(k + n)], flat(item.slice(k, k + n))];
}

const JOIN_START = ['JOIN', 'INNER', 'LEFT', 'RIGHT', 'FULL', 'CROSS', 'NATURAL'];
const SET_OPS = ['UNION', 'INTERSECT', 'EXCEPT'];

/** Applies one pipe operator (its items, `|>` excluded) to `f`. */
export async function apply(f: Frame, op: Item[], ctx: OpContext): Promise<Frame> {
  const kw = op[0]?.t === 'tok' ? op[0].tok.upper ?? op[0].tok.text : '';
  const body = op.slice(1);
  const isSetOp = SET_OPS.includes(kw) || (['FULL', 'LEFT', 'INNER', 'OUTER'].includes(kw) && op.slice(1, 3).some((it) => isWord(it, ...SET_OPS)));
  if (isSetOp) return setOperation(f, op, ctx.setOps);
  if (JOIN_START.includes(kw)) return join(f, op, kw);
  switch (kw) {
    case 'WHERE': {
      if (!body.length) throw refuse('an empty WHERE');
      const g = at(f, 1);
      // A window function filters as QUALIFY, over the rows after WHERE; nothing else may then merge before it.
      if (some(body, (it) => isWord(it, 'OVER'))) return { ...g, qualify: [flat(body)], stage: 2 };
      return { ...g, where: [...g.where, flat(body)], stage: 1 };
    }
    case 'SELECT': {
      const g = at(f, 1);
      let k = 0;
      const mods: string[] = [];
      while (isWord(body[k], 'ALL', 'DISTINCT') || (isWord(body[k], 'AS') && body[k + 1])) {
        if (isWord(body[k], 'AS')) { mods.push(flat(body.slice(k, k + 2))); k += 2; } else { mods.push(flat([body[k]])); k++; }
      }
      const [list, window] = windowClause(body.slice(k));
      return { ...g, selectKw: ['SELECT', ...mods].join(' '), select: flat(list), window, stage: 2 };
    }
    case 'EXTEND':
    case 'WINDOW': {
      const g = at(f, 1);
      const [list, window] = windowClause(body);
      if (!list.length) throw refuse(`an empty ${kw}`);
      return { ...g, select: `*, ${flat(list)}`, window, stage: 2 };
    }
    case 'SET': {
      const g = at(f, 1);
      const parts = commas(body).map((p) => {
        const eq = p.findIndex((it) => isOp(it, '='));
        if (eq !== 1) throw refuse('SET needs `column = expression` items');
        return `${flat(p.slice(eq + 1))} AS ${flat(p.slice(0, eq))}`;
      });
      return { ...g, select: `* REPLACE (${parts.join(', ')})`, stage: 2 };
    }
    case 'DROP': {
      const g = at(f, 1);
      return { ...g, select: `* EXCEPT (${commas(body).map(flat).join(', ')})`, stage: 2 };
    }
    case 'RENAME': return rename(f, body, ctx);
    case 'AS': {
      const name = body[0]?.t === 'tok' && isWord(body[0], 'AS') ? body.slice(1) : body;
      if (name.length !== 1) throw refuse('AS needs one alias');
      return wrap(f, ` AS ${flat(name)}`);
    }
    case 'ORDER': {
      if (!isWord(body[0], 'BY')) throw refuse('ORDER without BY');
      const g = at(f, 2);
      return { ...g, orderBy: flat(body.slice(1)), stage: 3 };
    }
    case 'LIMIT': {
      const g = at(f, 3);
      return { ...g, limit: flat(body), stage: 4 };
    }
    case 'DISTINCT': {
      if (body.length) throw refuse('DISTINCT takes no arguments');
      const g = at(f, 1);
      return { ...g, selectKw: 'SELECT DISTINCT', stage: 2 };
    }
    case 'AGGREGATE': return aggregate(f, body);
    case 'CALL': return call(f, body);
    case 'TABLESAMPLE': return fromFrame(`(${renderFrame(f)}) ${flat(op)}`);
    case 'PIVOT':
    case 'UNPIVOT': return fromFrame(`(${renderFrame(f)}) ${flat(op)}`);
    case 'WITH': {
      ctx.ctes.push(...commas(isWord(body[0], 'RECURSIVE') ? body.slice(1) : body).map(flat));
      return f;
    }
    default:
      throw refuse(`the pipe operator ${kw || flat(op).slice(0, 20)}`);
  }
}

/** JOIN: joins the FROM while its range variables are in scope and the join keeps WHERE's meaning. */
function join(f: Frame, op: Item[], kw: string): Frame {
  const keepsWhere = f.stage === 0 || (f.stage === 1 && !f.qualify.length && ['JOIN', 'INNER', 'CROSS', 'LEFT'].includes(kw));
  const g = f.raw === undefined && keepsWhere ? f : wrap(f);
  return { ...g, from: `${g.from} ${flat(op)}` };
}

/** AGGREGATE … [GROUP [AND ORDER] BY …]: keys first, then aggregates; suffixes become ORDER BY. */
function aggregate(f: Frame, body: Item[]): Frame {
  const g = at(f, 1);
  const k = body.findIndex((it, i) => isWord(it, 'GROUP') && (isWord(body[i + 1], 'BY') || (isWord(body[i + 1], 'AND') && isWord(body[i + 2], 'ORDER'))));
  const aggItems = commas(k < 0 ? body : body.slice(0, k)).filter((p) => p.length);
  let keyItems: Item[][] = [];
  let orderAll = false;
  if (k >= 0) {
    orderAll = isWord(body[k + 1], 'AND');
    keyItems = commas(body.slice(k + (orderAll ? 4 : 2))).filter((p) => p.length);
    if (!keyItems.length) throw refuse('GROUP BY without grouping items');
  }
  if (!aggItems.length && !keyItems.length) throw refuse('an empty AGGREGATE');
  if (keyItems.some((p) => isWord(p[0], 'ROLLUP', 'CUBE', 'GROUPING') || (p.length === 1 && isGroup(p[0]) && !p[0].items.length))) {
    throw refuse('ROLLUP, CUBE, GROUPING SETS or () inside pipe AGGREGATE');
  }
  const select: string[] = [];
  const order: string[] = [];
  keyItems.forEach((p, i) => {
    const [item, suffix] = orderSuffix(p);
    select.push(flat(item));
    if (suffix || orderAll) order.push(`${i + 1} ${suffix ?? 'ASC'}`);
  });
  aggItems.forEach((p, i) => {
    const [item, suffix] = orderSuffix(p);
    select.push(flat(item));
    if (suffix) order.push(`${keyItems.length + i + 1} ${suffix}`);
  });
  return {
    ...g, select: select.join(', '),
    groupBy: keyItems.length ? keyItems.map((_, i) => String(i + 1)).join(', ') : undefined,
    orderBy: order.length ? order.join(', ') : undefined,
    stage: order.length ? 3 : 2,
  };
}

/** CALL tvf(args) [AS alias]: the input table becomes the first table argument. */
function call(f: Frame, body: Item[]): Frame {
  const k = body.findIndex((it) => isGroup(it));
  if (k < 1) throw refuse('CALL needs a table function call');
  const args = body[k] as Extract<Item, { t: 'group' }>;
  const parts = commas(args.items).map(flat);
  const input = `(${renderFrame(f)})`;
  const at0 = parts.length && /^MODEL\b/i.test(parts[0]) ? 1 : 0;
  parts.splice(at0, 0, input);
  return fromFrame(`${flat(body.slice(0, k))}(${parts.join(', ')})${body.length > k + 1 ? ` ${flat(body.slice(k + 1))}` : ''}`);
}

/** `|> UNION ALL (q1), (q2)` → `(input) UNION ALL (q1) UNION ALL (q2)` (by name: setops.ts). */
function setOperation(f: Frame, op: Item[], setOps: SetOpState): Frame {
  const s = setOpAt(op, op.findIndex((it) => isWord(it, ...SET_OPS)));
  if (!s || s.start !== 0) throw refuse('a set operation it cannot read');
  const queries = commas(op.slice(s.end));
  if (!queries.length || queries.some((q) => q.length !== 1 || !isGroup(q[0]))) throw refuse('set operation arguments must be parenthesized queries');
  const operands = [`(${renderFrame(f)})`, ...queries.map((q) => render(q).trim())];
  return rawFrame(s.named ? renderSetOps(operands, s, setOps) : operands.join(` ${flat(op.slice(0, s.end))} `));
}

/** RENAME a AS b, …: every input column listed in order, the renamed ones under their new names. */
async function rename(f: Frame, body: Item[], ctx: OpContext): Promise<Frame> {
  const pairs = commas(body).map((p) => {
    const q = p.filter((it) => !isWord(it, 'AS'));
    if (q.length !== 2 || q.some((it) => it.t !== 'tok')) throw refuse('RENAME needs `old AS new` items');
    return [unquote(flat([q[0]])), flat([q[1]])] as const;
  });
  if (!ctx.columnsOf) throw refuse('RENAME inside a subquery or script (bqgate needs the input\'s columns; use SELECT … AS)');
  const input = renderFrame(f);
  const cols = await ctx.columnsOf(`${ctx.withText()}${input}`);
  const lower = cols.map((c) => c.toLowerCase());
  for (const [old] of pairs) {
    if (lower.filter((c) => c === old.toLowerCase()).length !== 1) throw refuse(`RENAME ${old}: the column must exist exactly once in the input`);
  }
  if (cols.some((c) => c.startsWith('$') || lower.filter((x) => x === c.toLowerCase()).length > 1)) throw refuse('RENAME over an input with anonymous or duplicate columns');
  const renamed = new Map(pairs.map(([o, n]) => [o.toLowerCase(), n]));
  const list = cols.map((c) => (renamed.has(c.toLowerCase()) ? `${quote(c)} AS ${renamed.get(c.toLowerCase())}` : quote(c)));
  return { ...fromFrame(`(${input})`), select: list.join(', '), stage: 2 };
}

const unquote = (s: string) => (s.startsWith('`') ? s.slice(1, -1).replace(/\\(.)/g, '$1') : s);
const quote = (s: string) => (/^[A-Za-z_][A-Za-z0-9_]*$/.test(s) ? `\`${s}\`` : `\`${s.replace(/[\\`]/g, (m) => `\\${m}`)}\``);

export { split, some };
