/**
 * `CREATE [OR REPLACE] FUNCTION [IF NOT EXISTS] path(args) [RETURNS type] AS (expr)` — a persistent
 * SQL UDF created by a query job, read into the BigQuery Routine resource `routines.insert` takes
 * (https://cloud.google.com/bigquery/docs/reference/standard-sql/data-definition-language#create_function_statement,
 * https://cloud.google.com/bigquery/docs/reference/rest/v2/routines#Routine): arguments with their
 * `StandardSqlDataType`, the return type when declared, the body between the outer parentheses.
 * Temporary, aggregate, JavaScript and remote functions and table functions are not read here
 * (undefined: the engine runs them as it runs any other statement, or refuses them).
 */
import { closing, splitTop } from './ddl.js';

/** BigQuery's StandardSqlDataType (https://cloud.google.com/bigquery/docs/reference/rest/v2/StandardSqlDataType). */
export interface SqlDataType {
  typeKind: string;
  arrayElementType?: SqlDataType;
  structType?: { fields: Array<{ name?: string; type: SqlDataType }> };
  rangeElementType?: SqlDataType;
}

export interface FunctionDdl {
  path: string;
  orReplace: boolean;
  ifNotExists: boolean;
  arguments: Array<{ name: string; dataType: SqlDataType }>;
  returnType?: SqlDataType;
  definitionBody: string;
}

const PATH = '((?:`[^`]+`|[A-Za-z_][\\w-]*)(?:\\.(?:`[^`]+`|[A-Za-z_][\\w-]*))*)';
const HEAD = new RegExp(`^CREATE(\\s+OR\\s+REPLACE)?\\s+FUNCTION(\\s+IF\\s+NOT\\s+EXISTS)?\\s+${PATH}\\s*\\(`, 'i');
const ALIASES: Record<string, string> = { INTEGER: 'INT64', INT: 'INT64', SMALLINT: 'INT64', BIGINT: 'INT64', TINYINT: 'INT64', BYTEINT: 'INT64', DECIMAL: 'NUMERIC', BIGDECIMAL: 'BIGNUMERIC', FLOAT: 'FLOAT64', BOOLEAN: 'BOOL' };

/** A GoogleSQL type as written (`ARRAY<STRUCT<name STRING, val INT64>>`) as a StandardSqlDataType; throws on what it cannot read. */
export function sqlType(text: string): SqlDataType {
  const t = text.trim();
  const m = t.match(/^([A-Za-z0-9_]+)\s*(?:<([\s\S]*)>)?\s*(?:\([\d\s,]*\))?$/);
  if (!m) throw new Error(`cannot read the type ${JSON.stringify(t)}`);
  const kind = ALIASES[m[1].toUpperCase()] ?? m[1].toUpperCase();
  if (kind === 'ARRAY') return { typeKind: 'ARRAY', arrayElementType: sqlType(m[2] ?? '') };
  if (kind === 'RANGE') return { typeKind: 'RANGE', rangeElementType: sqlType(m[2] ?? '') };
  if (kind === 'STRUCT') {
    const fields = splitTop(m[2] ?? '', '(<', ')>').map((f) => {
      const named = f.match(/^(`[^`]+`|[A-Za-z_]\w*)\s+([\s\S]+)$/);
      return named && !/^[<(]/.test(named[2]) ? { name: named[1].replace(/`/g, ''), type: sqlType(named[2]) } : { type: sqlType(f) };
    });
    return { typeKind: 'STRUCT', structType: { fields } };
  }
  if (m[2] !== undefined) throw new Error(`cannot read the type ${JSON.stringify(t)}`);
  return { typeKind: kind };
}

/** The persistent SQL UDF `sql` creates, or undefined when `sql` is not one (see the file's comment). Throws on a head it cannot read. */
export function functionDdl(sql: string): FunctionDdl | undefined {
  const head = sql.match(HEAD);
  if (!head) return undefined;
  const open = head[0].length - 1;
  const close = closing(sql, open, 'the argument list');
  const args = splitTop(sql.slice(open + 1, close), '(<', ')>').map((a) => {
    const m = a.match(/^(`[^`]+`|[A-Za-z_]\w*)\s+([\s\S]+)$/);
    if (!m || /^ANY\s+TYPE$/i.test(m[2].trim())) throw new Error(`cannot read the argument ${JSON.stringify(a)}`);
    return { name: m[1].replace(/`/g, ''), dataType: sqlType(m[2]) };
  });
  const rest = sql.slice(close + 1);
  const tail = rest.match(/^\s*(?:RETURNS\s+([\s\S]+?)\s+)?AS\s*\(/i);
  if (!tail) return undefined; // LANGUAGE js, REMOTE WITH CONNECTION, OPTIONS first: not a plain SQL UDF
  const bodyOpen = close + 1 + tail[0].length - 1;
  const bodyClose = closing(sql, bodyOpen, 'the function body');
  if (!/^\s*(OPTIONS\s*\([\s\S]*\))?\s*;?\s*$/i.test(sql.slice(bodyClose + 1))) return undefined;
  return {
    path: head[3].replace(/`/g, ''), orReplace: !!head[1], ifNotExists: !!head[2], arguments: args,
    ...(tail[1] ? { returnType: sqlType(tail[1]) } : {}), definitionBody: sql.slice(bodyOpen + 1, bodyClose).trim(),
  };
}
