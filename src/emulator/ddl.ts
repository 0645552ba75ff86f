/**
 * Reading a DDL statement's shape from its GoogleSQL text, as BigQuery reports it in
 * `statistics.query` (https://cloud.google.com/bigquery/docs/reference/rest/v2/Job#JobStatistics2):
 * `statementType` (CREATE_TABLE, CREATE_TABLE_AS_SELECT, CREATE_VIEW, DROP_TABLE, DROP_VIEW,
 * CREATE_SCHEMA, DROP_SCHEMA, TRUNCATE_TABLE, else the first keyword: SELECT, INSERT, …), the
 * target as written, and the modifiers (`OR REPLACE`, `IF [NOT] EXISTS`, `CASCADE`). The text is
 * read after the comments before its first keyword; nothing here runs anything.
 */

/** `sql` without the whitespace and comments before its first keyword. */
export const statementStart = (sql: string) => sql.replace(/^(\s|--[^\n]*\n|#[^\n]*\n|\/\*[\s\S]*?\*\/)*/, '');

/** A table path as written: backticked or plain parts (dashes allowed), dot-separated. */
const PATH = '((?:`[^`]+`|[A-Za-z_][\\w-]*)(?:\\.(?:`[^`]+`|[A-Za-z_][\\w-]*))*)';

export interface DdlShape {
  statementType: 'CREATE_TABLE' | 'CREATE_TABLE_AS_SELECT' | 'CREATE_VIEW' | 'DROP_TABLE' | 'DROP_VIEW' | 'CREATE_SCHEMA' | 'DROP_SCHEMA';
  /** The target as written, backticks removed: `t`, `d.t`, `p.d.t` (a schema: `d` or `p.d`). */
  path: string;
  orReplace: boolean;
  /** CREATE … IF NOT EXISTS / DROP … IF EXISTS. */
  conditional: boolean;
  /** DROP SCHEMA … CASCADE. */
  cascade: boolean;
  /** CREATE VIEW: the GoogleSQL text after `AS`. */
  body?: string;
  /** The statement, and the length of its matched head (after `statementStart`). */
  original: string;
  length: number;
}

const CREATE = new RegExp(`^CREATE(\\s+OR\\s+REPLACE)?(?:\\s+TEMP(?:ORARY)?)?\\s+(TABLE|VIEW|SCHEMA)(\\s+IF\\s+NOT\\s+EXISTS)?\\s+${PATH}`, 'i');
const DROP = new RegExp(`^DROP\\s+(TABLE|VIEW|SCHEMA)(\\s+IF\\s+EXISTS)?\\s+${PATH}(\\s+CASCADE)?`, 'i');

/** The DDL shape of `sql`, or undefined for any other statement. */
export function ddlShape(sql: string): DdlShape | undefined {
  const text = statementStart(sql);
  const c = text.match(CREATE);
  if (c) {
    const what = c[2].toUpperCase();
    const rest = text.slice(c[0].length);
    const as = rest.match(/^[\s\S]*?\bAS\s*(\(?\s*(?:SELECT|WITH|FROM)\b[\s\S]*)$/i);
    const statementType = what === 'SCHEMA' ? 'CREATE_SCHEMA' : what === 'VIEW' ? 'CREATE_VIEW' : as ? 'CREATE_TABLE_AS_SELECT' : 'CREATE_TABLE';
    return { statementType, path: c[4].replace(/`/g, ''), orReplace: !!c[1], conditional: !!c[3], cascade: false, original: sql, length: c[0].length, ...(what === 'VIEW' && as ? { body: as[1].trim().replace(/;\s*$/, '') } : {}) };
  }
  const d = text.match(DROP);
  if (d) {
    const what = d[1].toUpperCase() as 'TABLE' | 'VIEW' | 'SCHEMA';
    return { statementType: `DROP_${what}`, path: d[3].replace(/`/g, ''), orReplace: false, conditional: !!d[2], cascade: !!d[4], original: sql, length: d[0].length };
  }
  return undefined;
}

/** BigQuery statementType of `sql` (statistics.query.statementType). */
export function statementType(sql: string): string {
  const ddl = ddlShape(sql);
  if (ddl) return ddl.statementType;
  const m = statementStart(sql).match(/^\(*\s*([A-Za-z]+)(\s+TABLE\b)?/);
  const w = (m?.[1] ?? 'SELECT').toUpperCase();
  if (w === 'TRUNCATE') return 'TRUNCATE_TABLE';
  return w === 'WITH' ? 'SELECT' : w;
}
