/**
 * Set operations that match columns by name (BigQuery "Set operators": BY NAME or CORRESPONDING,
 * https://cloud.google.com/bigquery/docs/reference/standard-sql/query-syntax#corresponding), in
 * what this ZetaSQL build implements: `[FULL|LEFT] … CORRESPONDING` without a column list, in
 * INNER, FULL and LEFT modes. Its parser lacks `BY NAME`, `STRICT`, `OUTER` alone, the `INNER` prefix
 * and column lists (`BY NAME ON (…)`, `CORRESPONDING BY (…)`), and its resolver implements neither
 * STRICT mode nor `CORRESPONDING BY`.
 *
 * | written | sent (and analyzed) |
 * |---|---|
 * | `INNER … BY NAME`, `[INNER] … CORRESPONDING` | `… CORRESPONDING` |
 * | `FULL [OUTER] …`, `OUTER …`, `LEFT [OUTER] …` (BY NAME or CORRESPONDING) | `FULL … CORRESPONDING`, `LEFT … CORRESPONDING` |
 * | `… BY NAME`, `… STRICT CORRESPONDING` | `… CORRESPONDING`, checked after analysis: every input has the same column names (`checkSetOperations`) |
 * | `A [mode] UNION ALL BY NAME ON (c1, c2) B …` (= `CORRESPONDING BY`) | `SELECT x.c1, x.c2 FROM (A [mode] UNION ALL CORRESPONDING B …) AS x` |
 * | STRICT with a list, any operation | the same projection, checked: every input has exactly the listed columns |
 *
 * Why the list form is exact for UNION ALL: its rows are the inputs' rows, so projecting the listed
 * columns after the operation equals projecting them before; the output columns are the list's, in
 * its order and spelling (ZetaSQL's resolver names them after the list), typed by the supertype of
 * the inputs' columns; `x.c` resolves only against the operation's output (a range variable, never a
 * correlated outer name), so a listed column missing where the mode requires it fails as BigQuery
 * fails (INNER: in every input; LEFT: in the first; FULL: in some input). Where this build checks
 * more (duplicate or anonymous columns outside the list, incompatible types of unlisted common
 * columns, LEFT inputs sharing no column) the statement is refused although BigQuery would run it.
 * A list with INTERSECT, EXCEPT or UNION DISTINCT outside STRICT mode deduplicates on the listed
 * columns only, which no form of this build expresses: refused.
 *
 * Errors: BigQueryError('invalidQuery') with BigQuery's message for what BigQuery rejects (duplicate
 * list entries, different modifiers without parentheses, non-identical inputs in STRICT mode), and
 * the desugarer's refusal for what cannot be translated exactly.
 */
import { BigQueryError } from '../../bigquery/errors.js';
import { commas, isGroup, isName, isOp, isWord, refuse, render, some, text, type Item } from './items.js';

/** A name-matched set operation to verify after analysis: where its `CORRESPONDING` stands (UTF-8 byte offset in the desugared text). */
export interface SetOperationCheck {
  at: number;
  /** STRICT with a list: the number of listed columns every input must have exactly. */
  columns?: number;
  /** How the caller wrote it (`BY NAME`, `STRICT CORRESPONDING`), for messages. */
  written: string;
}

/** The checks registered while desugaring one text; `MARK` + index stands before each `CORRESPONDING`. */
export interface SetOpState { pending: Array<Omit<SetOperationCheck, 'at'>> }
export const SET_MARK = '@__bqgate_set_';

type Mode = 'STRICT' | 'INNER' | 'FULL' | 'LEFT';

/** One set-operation keyword run `[mode] op ALL|DISTINCT [modifier]`, items [start, end) of its level. */
export interface SetOp {
  start: number;
  end: number;
  /** `UNION ALL`, `INTERSECT DISTINCT`, … */
  op: string;
  /** Columns matched by name (BY NAME or CORRESPONDING), not by position. */
  named: boolean;
  mode: Mode;
  /** The column list as written (`ON (…)` / `BY (…)`), each an identifier. */
  list?: string[];
  written: string;
}

const OPS = ['UNION', 'INTERSECT', 'EXCEPT'];
/** The alias the list form projects through; statements naming it are refused. */
const ALIAS = '__bqgate_by_name';

/** The set-operation run whose operation keyword is `items[i]`, or undefined. */
export function setOpAt(items: Item[], i: number): SetOp | undefined {
  if (!isWord(items[i], ...OPS) || !isWord(items[i + 1], 'ALL', 'DISTINCT')) return undefined;
  let start = i;
  let prefix: string | undefined;
  if (isWord(items[i - 1], 'OUTER')) { prefix = 'FULL'; start--; if (isWord(items[i - 2], 'FULL', 'LEFT')) { prefix = (items[i - 2] as any).tok.upper; start--; } }
  else if (isWord(items[i - 1], 'FULL', 'LEFT', 'INNER')) { prefix = (items[i - 1] as any).tok.upper; start--; }
  const op = `${(items[i] as any).tok.upper} ${(items[i + 1] as any).tok.upper}`;
  let k = i + 2;
  let byName = false;
  let strict = false;
  if (isWord(items[k], 'BY') && isWord(items[k + 1], 'NAME')) { byName = true; k += 2; }
  else if (isWord(items[k], 'STRICT') && isWord(items[k + 1], 'CORRESPONDING')) { strict = true; k += 2; }
  else if (isWord(items[k], 'CORRESPONDING')) k++;
  else return { start, end: k, op, named: false, mode: (prefix ?? 'INNER') as Mode, written: `${prefix ? `${prefix} ` : ''}${op}` };
  let list: string[] | undefined;
  if (isWord(items[k], byName ? 'ON' : 'BY') && isGroup(items[k + 1])) {
    const parts = commas((items[k + 1] as Extract<Item, { t: 'group' }>).items);
    if (!parts.length || parts.some((p) => p.length !== 1 || !isName(p[0]))) throw refuse(`${byName ? 'BY NAME ON' : 'CORRESPONDING BY'} needs a list of column names`);
    list = parts.map((p) => render(p).trim());
    k += 2;
  }
  const written = `${prefix ? `${prefix} ` : ''}${byName ? 'BY NAME' : `${strict ? 'STRICT ' : ''}CORRESPONDING`}${list ? (byName ? ' ON' : ' BY') : ''}`;
  if (strict && prefix) throw new BigQueryError('invalidQuery', `Syntax error: STRICT CORRESPONDING cannot be used with ${prefix}`, { location: 'q' });
  const mode: Mode = prefix === 'FULL' || prefix === 'LEFT' ? prefix : prefix === 'INNER' ? 'INNER' : byName || strict ? 'STRICT' : 'INNER';
  return { start, end: k, op, named: true, mode, list, written };
}

/** The standard text of `operands[0] op operands[1] op …` (operands as query text). */
export function renderSetOps(operands: string[], s: SetOp, state: SetOpState): string {
  if (!s.named) return operands.join(` ${s.written} `);
  const modeKw = s.mode === 'FULL' || s.mode === 'LEFT' ? `${s.mode} ` : '';
  let mark = '';
  if (s.mode === 'STRICT') {
    state.pending.push({ written: s.written, ...(s.list ? { columns: s.list.length } : {}) });
    mark = `${SET_MARK}${state.pending.length - 1} `;
  }
  const joined = operands.join(` ${modeKw}${s.op} ${mark}CORRESPONDING `);
  if (!s.list) return joined;
  const keys = s.list.map((n) => (n.startsWith('`') ? n.slice(1, -1).replace(/\\(.)/g, '$1') : n).toLowerCase());
  const dup = keys.find((k, i) => keys.indexOf(k) !== i);
  if (dup !== undefined) throw new BigQueryError('invalidQuery', `Duplicate identifiers are not allowed in the ${s.written} list: ${dup}`, { location: 'q' });
  if (s.mode !== 'STRICT' && s.op !== 'UNION ALL') throw refuse(`${s.written} (…) with ${s.op}: it deduplicates on the listed columns only`);
  return `SELECT ${s.list.map((n) => `${ALIAS}.${n}`).join(', ')} FROM (${joined}) AS ${ALIAS}`;
}

/**
 * Name-matched set operations on one level of a token tree (not those of pipe operators, which
 * operators.ts renders with `renderSetOps`). Without a column list each keyword run is replaced in
 * place; with one, the whole operation — from the start of the query expression (after a WITH list)
 * to a trailing ORDER BY, LIMIT or `|>` — becomes the projection.
 */
export function byName(items: Item[], state: SetOpState): Item[] {
  const ops: SetOp[] = [];
  for (let i = 0; i < items.length; i++) {
    const s = setOpAt(items, i);
    if (s && !isOp(items[s.start - 1], '|>')) ops.push(s);
  }
  if (!ops.some((s) => s.named)) return items;
  const key = (s: SetOp) => `${s.op}|${s.named}|${s.mode}|${(s.list ?? []).join(',').toLowerCase()}`;
  if (ops.some((s) => key(s) !== key(ops[0]))) {
    throw new BigQueryError('invalidQuery', 'Syntax error: Different set operations or set operation modifiers cannot be used in the same query without using parentheses for grouping', { location: 'q' });
  }
  const first = ops[0];
  if (first.list && some(items, (it) => it.t === 'tok' && it.tok.text.replace(/`/g, '').toLowerCase() === ALIAS)) throw refuse(`the name ${ALIAS}, which bqgate reserves`);
  if (!first.list) {
    const out = [...items];
    for (const s of [...ops].reverse()) {
      const kw = renderSetOps(['', ''], s, state).trim();
      out.splice(s.start, s.end - s.start, text(kw, items[s.start].gap));
    }
    return out;
  }
  const start = queryStart(items);
  if (start < 0 || start > first.start) throw refuse(`${first.written} (…) outside a query expression`);
  const last = ops[ops.length - 1];
  let end = last.end;
  while (end < items.length && !(isWord(items[end], 'ORDER') && isWord(items[end + 1], 'BY')) && !isWord(items[end], 'LIMIT') && !isOp(items[end], '|>')) end++;
  const bounds = [start, ...ops.flatMap((s) => [s.start, s.end]), end];
  const operands = [];
  for (let k = 0; k < bounds.length; k += 2) operands.push(render(items.slice(bounds[k], bounds[k + 1])).trim());
  const sql = renderSetOps(operands, first, state);
  return [...items.slice(0, start), text(end < items.length ? `(${sql})` : sql, items[start].gap), ...items.slice(end)];
}

/** Where the query expression of a level starts (after a WITH list), or -1 when the level is no query. */
function queryStart(items: Item[]): number {
  let i = 0;
  if (isWord(items[0], 'WITH')) {
    i = isWord(items[1], 'RECURSIVE') ? 2 : 1;
    for (;;) {
      while (i < items.length && !isGroup(items[i])) i++;
      i++;
      if (!isOp(items[i], ',')) break;
      i++;
    }
  }
  return isWord(items[i], 'SELECT', 'FROM') || isGroup(items[i]) ? i : -1;
}

/**
 * After analysis: each STRICT-mode operation (`checks`, from the desugarer) resolved to a
 * CORRESPONDING set operation whose inputs all have the same column names (and, with a list,
 * exactly as many as listed) — BigQuery's STRICT rule. Throws BigQueryError('invalidQuery') with
 * BigQuery's message otherwise, and when the operation cannot be found in the resolved AST.
 */
export function checkSetOperations(resolved: unknown, checks: SetOperationCheck[]): void {
  if (!checks.length) return;
  // Each set operation with its parse range; the main query of a WITH records none, so a node
  // without one takes its nearest located ancestor's (which holds its keywords too).
  const nodes: Array<{ start: number; end: number; node: any }> = [];
  const visit = (o: unknown, outer?: { start: number; end: number }): void => {
    if (!o || typeof o !== 'object') return;
    if (Array.isArray(o)) { o.forEach((x) => visit(x, outer)); return; }
    for (const [k, v] of Object.entries(o as Record<string, any>)) {
      if (!/^resolved.*Node$/.test(k) || !v || typeof v !== 'object') { visit(v, outer); continue; }
      const loc = find(v, 'parseLocationRange');
      const range = loc ? { start: Number(loc.start ?? 0), end: Number(loc.end ?? 0) } : outer;
      if (k === 'resolvedSetOperationScanNode' && range) nodes.push({ ...range, node: v });
      visit(v, range);
    }
  };
  visit(resolved);
  for (const c of checks) {
    const [n, next] = nodes.filter((x) => x.start <= c.at && c.at < x.end && x.node.columnMatchMode === 'CORRESPONDING').sort((a, b) => (a.end - a.start) - (b.end - b.start));
    const ambiguous = n && next && next.start === n.start && next.end === n.end;
    const inputs: string[][] | undefined = n?.node.inputItemList?.map((item: any) => columnNames(item.scan));
    const output = n ? (find(n.node, 'columnList') as any[] | undefined)?.map((col) => String(col.name)) : undefined;
    if (!n || ambiguous || !output || !inputs?.length || inputs.some((x) => !x)) {
      throw new BigQueryError('invalidQuery', `bqgate could not verify the ${c.written} set operation after analysis, so the statement was not run.`, { location: 'q' });
    }
    const set = (xs: string[]) => [...new Set(xs.map((x) => x.toLowerCase()))].sort().join('\u0000');
    const list = (xs: string[]) => `[${xs.join(', ')}]`;
    const bad = inputs.findIndex((x) => set(x) !== set(inputs[0]));
    const listed = c.columns !== undefined ? ` must share the same set of column names as the ${c.written.endsWith('ON') ? 'ON' : 'BY'} list when using ${c.written}` : undefined;
    if (bad > 0) {
      throw new BigQueryError('invalidQuery', listed ? `Query ${bad + 1}${listed}` : `${c.written} requires all input queries to have identical column names, but query 1 has ${list(inputs[0])} and query ${bad + 1} has ${list(inputs[bad])}`, { location: 'q' });
    }
    if (set(inputs[0]) !== set(output) || (listed && output.length !== c.columns)) {
      throw new BigQueryError('invalidQuery', `Query 1${listed ?? ` of the ${c.written} set operation has columns that are not in the result`}`, { location: 'q' });
    }
  }
}

/**
 * The analyzer's message for a listed column the projection could not find (`Name c not found
 * inside <alias>`) in BigQuery's words; other messages unchanged.
 */
export function setOperationMessage(details: string): string {
  return details.replace(new RegExp(`Name (\\S+) not found inside ${ALIAS}`), 'The column name $1 from the BY NAME ON (CORRESPONDING BY) list does not appear in the input queries its mode requires (INNER and STRICT: every input; LEFT: the first; FULL: any)');
}

/** The first `key` on the `parent` chain of a resolved node. */
function find(node: any, key: string): any {
  for (let p = node; p && typeof p === 'object'; p = p.parent) if (p[key] !== undefined) return p[key];
  return undefined;
}

/** The column names a set operation input scan produces (`{resolvedProjectScanNode: …}`). */
function columnNames(scan: any): string[] | undefined {
  const k = scan && Object.keys(scan).find((x) => x.startsWith('resolved'));
  const cols = k ? find(scan[k], 'columnList') : undefined;
  return Array.isArray(cols) ? cols.map((c: any) => String(c.name)) : undefined;
}
