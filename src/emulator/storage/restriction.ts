/**
 * `read_options.row_restriction` checked as one GoogleSQL boolean expression before the emulator
 * evaluates it (https://cloud.google.com/bigquery/docs/reference/storage/rpc/google.cloud.bigquery.storage.v1#tablereadoptions:
 * "SQL text filtering statement, similar to a WHERE clause in a query. Aggregates are not supported").
 *
 * The text is parsed by polyglot as the WHERE of `SELECT * FROM <sentinel> WHERE (<text>)`, and
 * accepted only when that parse is exactly one SELECT of the sentinel table with nothing but the
 * WHERE, and the WHERE holds no query (subquery, EXISTS, IN (SELECT …)). Before parsing, the text
 * may hold no `;` and no comment outside string literals, and its parentheses must balance (never
 * closing one it did not open), so it can neither end the statement nor the parenthesis it is put
 * in. Anything else is refused `INVALID_ARGUMENT` with the reason. The engine then runs the SELECT
 * through its usual checks (one statement; only the session's table may be read).
 */
import { parse, Dialect } from '@polyglot-sql/sdk';
import { scan } from '../translate.js';
import { StorageError } from './errors.js';

const SENTINEL = 'bqgate_restricted_table';
/** SELECT clauses other than the WHERE that must be empty in the parse. */
const OTHER_CLAUSES = ['group_by', 'having', 'qualify', 'order_by', 'distribute_by', 'cluster_by', 'sort_by', 'limit', 'offset', 'fetch', 'distinct_on', 'top', 'with', 'sample', 'windows', 'connect', 'into'];
/** AST node kinds that hold a query. */
const QUERY_NODES = new Set(['select', 'subquery', 'exists', 'union', 'intersect', 'except', 'query']);

const refuse = (why: string) => new StorageError('INVALID_ARGUMENT', `Invalid row_restriction: ${why}. It must be one boolean SQL expression over the table's columns, as a WHERE clause (no statement separators, comments or subqueries).`);

/** The lexical checks above; throws INVALID_ARGUMENT. */
function lexical(text: string): void {
  const skip: Array<[number, number]> = [];
  scan(text, (kind, start, end) => {
    if (kind === 'comment') throw refuse('it holds a comment');
    if (kind === 'param') throw refuse('it holds a query parameter');
    skip.push([start, end]);
  });
  for (const [s, e] of skip) {
    const q = text[s];
    const quote = q === '`' ? '`' : text.startsWith(q.repeat(3), s) ? q.repeat(3) : q;
    if (e - s < quote.length * 2 || !text.startsWith(quote, e - quote.length)) throw refuse('a quoted string or name is not closed');
  }
  let depth = 0;
  let k = 0;
  for (let i = 0; i < text.length; i++) {
    while (k < skip.length && skip[k][1] <= i) k++;
    if (k < skip.length && skip[k][0] <= i) { i = skip[k][1] - 1; continue; }
    const c = text[i];
    if (c === ';') throw refuse('it holds a statement separator (;)');
    if (c === '(') depth++;
    if (c === ')' && --depth < 0) throw refuse('it closes a parenthesis it did not open');
  }
  if (depth !== 0) throw refuse('its parentheses do not balance');
}

/** Whether an AST value holds a node of one of QUERY_NODES (keys of objects are node kinds). */
function holdsQuery(node: unknown): boolean {
  if (Array.isArray(node)) return node.some(holdsQuery);
  if (!node || typeof node !== 'object') return false;
  return Object.entries(node).some(([k, v]) => (QUERY_NODES.has(k) && v !== null && typeof v === 'object') || holdsQuery(v));
}

/**
 * Checks `text` (table above) and returns it as the condition to put in `WHERE (…)`; throws
 * `StorageError('INVALID_ARGUMENT')` naming what is wrong. An empty or blank text is no restriction
 * (`undefined`).
 */
export function checkRestriction(text: string | undefined): string | undefined {
  if (text === undefined || !text.trim()) return undefined;
  if (text.length > 1_000_000) throw refuse('it is longer than 1,000,000 characters');
  lexical(text);
  const r = parse(`SELECT * FROM ${SENTINEL} WHERE (${text})`, Dialect.BigQuery) as { success: boolean; ast?: any[]; error?: string };
  if (!r.success || !r.ast) throw refuse(`it does not parse (${r.error ?? 'unknown error'})`);
  if (r.ast.length !== 1 || !r.ast[0]?.select) throw refuse('it is not one expression');
  const sel = r.ast[0].select;
  const from = sel.from?.expressions ?? [];
  if (from.length !== 1 || from[0]?.table?.name?.name !== SENTINEL || from[0].table.alias || (sel.joins ?? []).length || (sel.lateral_views ?? []).length) throw refuse('it is not one expression');
  if (OTHER_CLAUSES.some((c) => sel[c] !== null && sel[c] !== undefined && sel[c] !== false) || sel.distinct) throw refuse('it adds clauses after the WHERE');
  if (!sel.where_clause || holdsQuery(sel.where_clause)) throw refuse('it holds a subquery');
  return text;
}
