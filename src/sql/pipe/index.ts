/**
 * `sql/pipe/`: GoogleSQL syntax this ZetaSQL build's parser lacks, desugared into standard
 * GoogleSQL that it analyzes — pipe syntax and FROM-first queries (BigQuery "Pipe query syntax"
 * reference, https://cloud.google.com/bigquery/docs/reference/standard-sql/pipe-syntax), set
 * operations by name — `BY NAME [ON (…)]`, `[STRICT] CORRESPONDING [BY (…)]`, their modes —
 * (setops.ts; STRICT mode is verified on the resolved AST by `checkSetOperations`, fed by
 * `DesugarOptions.setOperations`), `GROUP BY ALL`, chained function calls, and a GROUP BY expression
 * spelled as an aliased select item's, which this build refuses before ORDER BY / HAVING (syntax.ts);
 * multi-level aggregation, `AGG(SUM(x) GROUP BY g)` (multilevel.ts).
 *
 * Input: one statement or a script. Output: the desugared text, or `undefined` when nothing needed
 * desugaring. The text is tokenized by lexer.ts (GoogleSQL's lexical rules, as ZetaSQL reads them)
 * and rewritten on its token tree, inner queries first (pipes in subqueries, CTEs and view bodies);
 * comments are dropped, the rest keeps its spelling. The desugared text is what the analyzer
 * analyzes, the rewrite masks and `regenerate` re-emits: nothing of the caller's text runs unless
 * it went through ZetaSQL as part of that text.
 *
 * Positional query parameters (`?`, BigQuery `parameterMode: POSITIONAL`) bind by their order in the
 * text; the desugarer moves clauses (a select list is written before its WHERE, grouping keys before
 * the aggregates), so it tracks each `?` and refuses a desugared text that would bind them in
 * another order.
 *
 * Throws BigQueryError('invalidQuery') for text the tokenizer cannot read, for pipe operators it
 * cannot translate exactly (operators.ts) and for reordered positional parameters.
 */
import { tokenize, type Token } from './lexer.js';
import { isGroup, isName, isOp, isWord, nest, refuse, render, split, some, text, type Item } from './items.js';
import { chainedCalls, groupByAll, groupByExpressions } from './syntax.js';
import { multiLevelAggregates } from './multilevel.js';
import { byName, SET_MARK, type SetOperationCheck, type SetOpState } from './setops.js';
import { apply, fromFrame, rawFrame, renderFrame, type Frame } from './operators.js';

export { tokenize, type Token } from './lexer.js';
export { checkSetOperations, setOperationMessage, type SetOperationCheck } from './setops.js';

export interface DesugarOptions {
  /**
   * The output column names of a standalone query (the analyzer's `outputColumns`); used by
   * `|> RENAME` in a single top-level statement, whose output keeps the input's column order.
   */
  columnsOf?: (query: string) => Promise<string[]>;
  /**
   * Filled with the STRICT-mode set operations by name (`BY NAME`, `STRICT CORRESPONDING`) of the
   * desugared text, which `checkSetOperations` verifies on its resolved AST (setops.ts).
   */
  setOperations?: SetOperationCheck[];
}

/** Text that may hold syntax to desugar; anything else is returned as is without tokenizing. */
const MAYBE = /\|>|\bNAME\b|\bALL\b|\bFROM\b|[)'"`]\s*\.\s*[A-Za-z_]\w*\s*\(/i;

/** See the module comment. */
export async function desugar(sql: string, options: DesugarOptions = {}): Promise<string | undefined> {
  if (!MAYBE.test(sql)) return undefined;
  const tokens = tokenize(sql);
  if (!tokens.length) return undefined;
  const positional = markPositional(tokens);
  const items = nest(sql, tokens);
  const statements = split(items, (it) => isOp(it, ';'));
  const single = statements.filter((s) => s.length).length === 1;
  const columnsOf = single && options.columnsOf ? (q: string) => options.columnsOf!(unmark(q).text) : undefined;
  const setOps: SetOpState = { pending: [] };
  const out: string[] = [];
  let changed = false;
  for (const [i, st] of statements.entries()) {
    const done = await query(await children(st, setOps), { columnsOf, setOps });
    changed ||= some(done, (it) => it.t === 'text');
    out.push((i && st.length ? st[0].gap : '') + render(done));
  }
  if (!changed) return undefined;
  const { text: result, order, sets } = unmark(out.join(';'));
  // Every STRICT operation registered must stand in the text, so each one is checked after analysis.
  if (new Set(sets.map((s) => s.index)).size !== setOps.pending.length || sets.some((s) => !setOps.pending[s.index])) throw refuse('a set operation by name it lost track of');
  for (const s of sets) options.setOperations?.push({ ...setOps.pending[s.index], at: s.at });
  // A `?` binds the request's parameters by its position in the text: the desugared text must keep them in order.
  if (order.length !== positional || order.some((n, k) => n !== k + 1)) {
    throw refuse('positional query parameters (?) whose desugared form would bind them in another order; use named parameters (@name)');
  }
  return result;
}

/** Marker text standing for the n-th `?` while desugaring (a named-parameter token, so no literal can hold one). */
const MARK = '@__bqgate_positional_';

/** Renames every `?` token to its marker, in text order; returns how many there are. */
function markPositional(tokens: Token[]): number {
  const reserved = tokens.find((t) => t.kind === 'param' && [MARK, SET_MARK].some((m) => t.text.toLowerCase().startsWith(m)));
  if (reserved) throw refuse(`the parameter ${reserved.text}, whose name bqgate reserves`);
  let n = 0;
  for (const t of tokens) if (t.kind === 'op' && t.text === '?') t.text = `${MARK}${++n}`;
  return n;
}

/**
 * The markers in `sql` turned back into `?` (and set-operation markers removed), with the order the
 * `?` appeared in and where each set-operation marker stood (UTF-8 byte offset in the result).
 */
function unmark(sql: string): { text: string; order: number[]; sets: Array<{ index: number; at: number }> } {
  const order: number[] = [];
  const sets: Array<{ index: number; at: number }> = [];
  let text = '';
  let at = 0;
  for (const t of tokenize(sql)) {
    if (t.kind !== 'param') continue;
    if (t.text.startsWith(MARK)) {
      order.push(Number(t.text.slice(MARK.length)));
      text += `${sql.slice(at, t.start)}?`;
      at = t.end;
    } else if (t.text.startsWith(SET_MARK)) {
      text += sql.slice(at, t.start);
      sets.push({ index: Number(t.text.slice(SET_MARK.length)), at: Buffer.byteLength(text, 'utf8') });
      at = t.end + (sql[t.end] === ' ' ? 1 : 0);
    }
  }
  return { text: text + sql.slice(at), order, sets };
}

interface Ctx { columnsOf?: (query: string) => Promise<string[]>; setOps: SetOpState }

/** Every group's content desugared (as a query when it is one), then this level's newer syntax. */
async function children(items: Item[], setOps: SetOpState): Promise<Item[]> {
  const inner: Item[] = [];
  for (const it of items) inner.push(it.t === 'group' ? { ...it, items: it.open === '(' ? await query(await children(it.items, setOps), { setOps }) : await children(it.items, setOps) } : it);
  return multiLevelAggregates(groupByExpressions(groupByAll(byName(chainedCalls(inner), setOps))));
}

const QUERY_START = ['SELECT', 'WITH', 'FROM'];
/** Pipe operators one query may chain (measured: 40 nested subqueries analyze, 50 do not). */
const MAX_OPERATORS = 40;

/** One level: a FROM-first query and the pipe operators after a query, as standard SQL. */
async function query(items: Item[], ctx: Ctx): Promise<Item[]> {
  const pipes = items.flatMap((it, i) => (isOp(it, '|>') ? [i] : []));
  // A leading generated text is a query (a set operation by name with a column list, setops.ts).
  const qs = isGroup(items[0]) || items[0]?.t === 'text' || isWord(items[0], ...QUERY_START) ? 0 : items.findIndex((it) => isWord(it, ...QUERY_START));
  const fromFirst = qs >= 0 && isWord(items[qs], 'FROM') && (qs === 0 || isWord(items[qs - 1], 'AS'));
  if (!pipes.length && !fromFirst && !(qs >= 0 && isWord(items[qs], 'WITH') && fromFirstAfterWith(items.slice(qs)))) return items;
  if (qs < 0 || (pipes.length && qs > pipes[0])) return items; // not a query the parser would accept either
  const input = items.slice(qs, pipes[0] ?? items.length);
  const [ctes, recursive, main] = withList(input);
  if (!main.length) throw refuse('a pipe without the query before it');
  let frame: Frame;
  if (isWord(main[0], 'FROM')) {
    if (main.length < 2) throw refuse('FROM without a table');
    frame = fromFrame(render(main.slice(1)).trim());
  } else if (isGroup(main[0]) && (isWord(main[1], 'AS') || (main.length === 2 && isName(main[1])))) {
    frame = fromFrame(render(main).trim()); // `(query) AS alias |> …`: the alias names the input
  } else {
    frame = rawFrame(render(main).trim());
  }
  const pipeCtes: string[] = [];
  const withText = () => {
    const all = [...ctes, ...pipeCtes];
    return all.length ? `WITH ${recursive ? 'RECURSIVE ' : ''}${all.join(', ')} ` : '';
  };
  const ops = pipes.map((p, i) => items.slice(p + 1, pipes[i + 1] ?? items.length));
  // Each operator may nest one subquery; past ~50 levels the analyzer's resolved AST is too deep to return.
  if (ops.length > MAX_OPERATORS) throw refuse(`${ops.length} pipe operators in one query, more than the ${MAX_OPERATORS} bqgate analyzes; name intermediate results with WITH`);
  for (const op of ops) {
    if (!op.length) throw refuse('an empty pipe operator');
    frame = await apply(frame, op, { columnsOf: ctx.columnsOf, ctes: pipeCtes, withText, setOps: ctx.setOps });
  }
  return [...items.slice(0, qs), text(`${withText()}${renderFrame(frame)}`, items[qs].gap)];
}

/** `WITH … FROM …`: a FROM-first main query after a WITH list. */
function fromFirstAfterWith(items: Item[]): boolean {
  try {
    const [ctes, , main] = withList(items);
    return ctes.length > 0 && isWord(main[0], 'FROM');
  } catch {
    return false; // not a WITH list (`WITH CONNECTION …`, `WITH PARTITION COLUMNS`): nothing to desugar here
  }
}

/** Splits `WITH [RECURSIVE] a AS (…), …` off a query: [entries, recursive, main query]. */
function withList(items: Item[]): [string[], boolean, Item[]] {
  if (!isWord(items[0], 'WITH')) return [[], false, items];
  let i = 1;
  const recursive = isWord(items[1], 'RECURSIVE');
  if (recursive) i++;
  const ctes: string[] = [];
  for (;;) {
    const start = i;
    while (i < items.length && !isGroup(items[i])) i++;
    if (i >= items.length) throw refuse('a WITH entry without its query');
    ctes.push(render(items.slice(start, i + 1)).trim());
    i++;
    if (!isOp(items[i], ',')) break;
    i++;
  }
  return [ctes, recursive, items.slice(i)];
}
