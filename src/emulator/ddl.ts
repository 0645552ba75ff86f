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

/** A CREATE TABLE / VIEW's `OPTIONS(name = expr, …)` clause: the statement without it, and the options as written. */
export interface DdlOptions { sql: string; options: Array<[name: string, expr: string]> }

/**
 * The `OPTIONS(…)` clause right after a CREATE VIEW's path (or a CREATE TABLE's column list), cut
 * out of the statement so DuckDB can run the rest, with its `name = expression` pairs
 * (https://cloud.google.com/bigquery/docs/reference/standard-sql/data-definition-language#view_option_list).
 * Undefined when the statement has none. Strings, backticks and nested parentheses are skipped over.
 */
export function ddlOptions(ddl: DdlShape): DdlOptions | undefined {
  if (!ddl.statementType.startsWith('CREATE_') || ddl.statementType === 'CREATE_SCHEMA') return undefined;
  const text = statementStart(ddl.original);
  const lead = ddl.original.length - text.length;
  let at = ddl.length;
  const skipSpace = () => { while (/\s/.test(text[at] ?? '')) at++; };
  skipSpace();
  if (text[at] === '(' && ddl.statementType !== 'CREATE_VIEW') { at = closing(text, at) + 1; skipSpace(); }
  const m = /^OPTIONS\s*\(/i.exec(text.slice(at));
  if (!m) return undefined;
  const open = at + m[0].length - 1;
  const close = closing(text, open);
  const options = splitTop(text.slice(open + 1, close)).map((o) => {
    const eq = o.indexOf('=');
    return [o.slice(0, eq).trim().toLowerCase(), o.slice(eq + 1).trim()] as [string, string];
  }).filter(([n]) => n);
  return { sql: ddl.original.slice(0, lead + at) + ddl.original.slice(lead + close + 1), options };
}

/** Index of the `)` closing the `(` at `open` (strings and backticks skipped); throws naming `what` when unbalanced. */
export function closing(s: string, open: number, what = 'OPTIONS'): number {
  let depth = 0;
  for (let i = open; i < s.length; i++) {
    const c = s[i];
    if (c === "'" || c === '"' || c === '`') { i = s.indexOf(c, i + 1); if (i < 0) break; continue; }
    if (c === '(') depth++;
    else if (c === ')' && --depth === 0) return i;
  }
  throw new Error(`unbalanced parentheses in ${what}`);
}

/**
 * `s` split at its top-level commas: not inside strings, nor inside the brackets `opens` / `closes`
 * (by default parentheses and square brackets; a type list adds angle brackets).
 */
export function splitTop(s: string, opens = '([', closes = ')]'): string[] {
  const out: string[] = [];
  let depth = 0;
  let from = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === "'" || c === '"' || c === '`') { const j = s.indexOf(c, i + 1); i = j < 0 ? s.length : j; continue; }
    if (opens.includes(c)) depth++;
    else if (closes.includes(c)) depth--;
    else if (c === ',' && depth === 0) { out.push(s.slice(from, i)); from = i + 1; }
  }
  out.push(s.slice(from));
  return out.map((x) => x.trim()).filter(Boolean);
}
