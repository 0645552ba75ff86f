/**
 * A read session over a table, as the statement it equals:
 *
 *   SELECT <selected_fields, or *> FROM `project.dataset.table` WHERE (<row_restriction>)
 *
 * (https://cloud.google.com/bigquery/docs/reference/storage/rpc/google.cloud.bigquery.storage.v1#tablereadoptions:
 * "selected_fields … names of the fields in the table that should be read"; "row_restriction: SQL
 * text filtering statement, similar to a WHERE clause in a query. Aggregates are not supported.")
 *
 * The restriction is GoogleSQL, never passed on as text: the statement is built around it, parsed
 * by ZetaSQL, and refused unless the parse is exactly one plain SELECT of the selected columns from
 * the one table whose WHERE clause is the whole bracketed restriction — so a `)` that closes the
 * WHERE early (to add UNION, ORDER BY, GROUP BY, a window), a comment, or a `;` and a second
 * statement is refused here, before the pipeline (analysis → policy → rewrite) decides the rest
 * (a denied column named in the restriction is the policy's refusal; a subquery is refused after
 * analysis, `checkShape`). Plain data in and out; errors are BigQueryError('invalid' | 'invalidQuery').
 */
import { BigQueryError } from '../../bigquery/index.js';
import type { QueryAnalysis } from '../../sql/index.js';

/** A table named by the Storage API: `projects/P/datasets/D/tables/T`. */
export interface TableName { projectId: string; datasetId: string; tableId: string }

const ID = /^[A-Za-z0-9_-]{1,1024}$/;

/** Parses `projects/P/datasets/D/tables/T` (no decorators); throws invalid naming the field. */
export function parseTableName(name: unknown): TableName {
  const m = typeof name === 'string' ? /^projects\/([a-z0-9:.-]{1,128})\/datasets\/([^/]+)\/tables\/([^/]+)$/.exec(name) : null;
  if (!m || !ID.test(m[2]) || !/^[\p{L}\p{M}\p{N}\p{Pc}\p{Pd} ]{1,1024}$/u.test(m[3])) {
    throw new BigQueryError('invalid', `Invalid read_session.table ${JSON.stringify(typeof name === 'string' ? name.slice(0, 300) : name)}: it must be projects/PROJECT/datasets/DATASET/tables/TABLE (no snapshot or partition decorators; bqgate does not serve table_modifiers).`);
  }
  return { projectId: m[1], datasetId: m[2], tableId: m[3] };
}

/** `project.dataset.table`. */
export const fullName = (t: TableName) => `${t.projectId}.${t.datasetId}.${t.tableId}`;

/**
 * The selected fields, checked: top-level column names (letters, digits, underscores), no repeats.
 * bqgate does not select nested fields (`s.f`) of a STRUCT: select the whole column.
 */
export function selectedFields(fields: unknown): string[] {
  const list = Array.isArray(fields) ? fields : [];
  for (const f of list) {
    if (typeof f !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]{0,299}$/.test(f)) {
      throw new BigQueryError('invalid', `Invalid read_options.selected_fields entry ${JSON.stringify(String(f).slice(0, 300))}: bqgate reads top-level columns by name (letters, digits, _); to read a nested field, select its whole column.`);
    }
  }
  if (new Set(list.map((f: string) => f.toLowerCase())).size !== list.length) throw new BigQueryError('invalid', 'Invalid read_options.selected_fields: a column is named twice.');
  return list as string[];
}

/** The statement a table session equals, and the byte offsets its parse must show. */
export interface SessionStatement { sql: string; whereAt?: number; bytes: number }

/** Builds the statement (see the module comment); `limit`: the policy's row cap. */
export function sessionStatement(table: TableName, fields: string[], restriction: string | undefined, limit?: number): SessionStatement {
  const cols = fields.length ? fields.map((f) => `\`${f}\``).join(', ') : '*';
  const head = `SELECT ${cols} FROM \`${fullName(table)}\``;
  const where = restriction !== undefined && restriction.trim() !== '' ? ` WHERE (\n${restriction}\n)` : '';
  const sql = `${head}${where}${limit !== undefined ? `\nLIMIT ${limit}` : ''}`;
  return { sql, bytes: Buffer.byteLength(head + where), ...(where ? { whereAt: Buffer.byteLength(head) + 1 } : {}) };
}

/** Keys a plain `SELECT … FROM t WHERE (…)` parse node may carry (ZetaSQL ParseResponse, protobuf-as-JSON). */
const PLAIN = new Set(['parent', 'parseLocationRange', 'parenthesized', 'distinct', 'selectList', 'fromClause', 'whereClause', 'node', 'query', 'queryExpr', 'astSelectNode', 'isNested', 'isPivotInput']);

const refusedShape = (what: string) => new BigQueryError('invalidQuery',
  `Invalid read_options.row_restriction: ${what}. A row restriction is one GoogleSQL boolean expression over the table's columns (like a WHERE clause; no subqueries, aggregates or further clauses or statements).`);

/** A parse node's byte range. */
const range = (n: any): { start: number; end: number } | undefined => n?.parseLocationRange ?? n?.parent?.parseLocationRange ?? n?.parent?.parent?.parseLocationRange;

/** Whether a parse node has a set member other than the allowed ones (false / null / empty are unset). */
const extra = (n: any, allowed: Set<string>) => Object.entries(n ?? {}).find(([k, v]) => !allowed.has(k) && v !== false && v !== null && v !== undefined && !(Array.isArray(v) && !v.length) && v !== '');

/**
 * Checks ZetaSQL's parse (`parsedStatement` of the Parse call on `s.sql` without LIMIT) is one plain
 * SELECT whose WHERE spans exactly the bracketed restriction. Throws invalidQuery otherwise.
 */
export function checkParse(s: SessionStatement, parsed: any): void {
  const stmt = parsed?.astQueryStatementNode;
  const query = stmt?.query;
  const select = query?.queryExpr?.astSelectNode;
  if (!select) throw refusedShape('it makes the read more than one plain SELECT of the table (a set operation, or a statement of another kind)');
  const e1 = extra(query, new Set([...PLAIN])) ?? extra(select, PLAIN);
  if (e1) throw refusedShape(`it adds ${e1[0].replace(/^ast|Node$/g, '')} to the read (the WHERE clause closed early)`);
  const stmtRange = range(query) ?? range(stmt);
  if (stmtRange && stmtRange.end !== s.bytes) throw refusedShape('it ends the statement early');
  if (s.whereAt !== undefined) {
    const w = range(select.whereClause);
    if (!w || w.start !== s.whereAt || w.end !== s.bytes) throw refusedShape('it closes the WHERE clause early');
  } else if (select.whereClause) throw refusedShape('unexpected WHERE clause');
}

/**
 * Checks the analysis of the governed statement reads only the session's table, once (no
 * subquery, no other table), as a SELECT. Throws invalidQuery otherwise.
 */
export function checkShape(a: QueryAnalysis, table: string): void {
  if (a.statementKind !== 'SELECT') throw refusedShape(`it makes the read a ${a.statementKind} statement`);
  const others = a.tablesRead.filter((t) => t !== table);
  if (others.length) throw refusedShape(`it reads another table (${others.join(', ')})`);
  if (a.scans.length !== 1) throw refusedShape('it reads the table more than once (a subquery)');
}
