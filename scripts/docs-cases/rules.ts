/**
 * Which reference pages the docs cases come from, and which examples are not BigQuery's.
 *
 * The zetasql docs are the GoogleSQL reference BigQuery's pages are generated from; a few
 * examples use what BigQuery has no type or statement for (protocol buffers, graph queries) or
 * print one run of a non-deterministic function. Only those are skipped here, each with why;
 * whether a function is BigQuery's is left to the gateway's analyzer (BigQuery's language options
 * and catalog), whose refusals the test prints as their own category.
 */
export const PAGES = [
  'string_functions', 'json_functions', 'array_functions', 'date_functions', 'datetime_functions', 'time_functions',
  'timestamp_functions', 'interval_functions', 'mathematical_functions', 'bit_functions', 'aggregate_functions',
  'statistical_aggregate_functions', 'approximate_aggregate_functions', 'hll_functions', 'navigation_functions',
  'numbering_functions', 'window-function-calls', 'net_functions', 'hash_functions', 'conversion_functions',
  'conditional_expressions', 'range-functions', 'operators', 'query-syntax', 'recursive-ctes', 'pipe-syntax',
];

/** [pattern over the SQL, why]: constructs that are ZetaSQL's and not BigQuery's. */
const ZETASQL_ONLY: Array<[RegExp, string]> = [
  [/\bNEW\s+\w+\s*\(|\bPROTO\b|\.proto\b|EXTRACT\s*\(\s*\w+\s+FROM\s+\w+\s*\)\s*FROM|\bREPLACE_FIELDS\b|\bFILTER_FIELDS\b|\bPROTO_DEFAULT_IF_NULL\b/i, 'protocol buffers: ZetaSQL only, BigQuery has no PROTO type'],
  [/\bGRAPH_TABLE\b|\bGRAPH\s+\w+\s+MATCH\b/i, 'graph queries: ZetaSQL (Spanner) only'],
  [/\bGENERATE_UUID\b|\bRAND\s*\(|\bCURRENT_(DATE|DATETIME|TIME|TIMESTAMP)\b|\bSESSION_USER\b|\bNOW\s*\(/i, 'non-deterministic: the printed result is one run\'s, not a fixed answer'],
];

/**
 * ZetaSQL's other numeric types, as a type name or in a function's name: INT32, UINT32, UINT64, FLOAT
 * and DOUBLE (and the JSON conversions LAX_UINT64, DOUBLE_ARRAY, … and BIT_CAST_TO_*). BigQuery has
 * INT64 and FLOAT64 only (https://cloud.google.com/bigquery/docs/reference/standard-sql/data-types#numeric_types)
 * and its function reference (src/sql/builtins/bigquery-function-list.tsv) lists none of these
 * functions; its JSON page documents INT64 / FLOAT64 / LAX_INT64 / LAX_FLOAT64 instead. Matched outside
 * string literals and comments ("-- Strips the double quotes" is prose).
 */
const ZETASQL_TYPES = /\b(LAX_)?(INT32|UINT32|UINT64|FLOAT|DOUBLE)(_ARRAY)?\b|\bBIT_CAST_TO_\w+/i;

/** The SQL with string literals and comments blanked, for rules about names. */
const codeOf = (sql: string) => sql.replace(/--[^\n]*|\/\*[\s\S]*?\*\/|'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"/g, "''");

/** Pages of ZetaSQL-only language that BigQuery does not document at all. */
const PAGE_ONLY: Record<string, string> = {};

export function skipReason(page: string, anchor: string, sql: string): string | undefined {
  if (PAGE_ONLY[page]) return PAGE_ONLY[page];
  if (/^(CREATE|DEFINE)\b(?!\s+TEMP(ORARY)?\s+FUNCTION)/im.test(sql) && !/^\s*(WITH|SELECT|FROM)/i.test(sql)) return 'a DDL statement (not a query with a result table)';
  for (const [re, why] of ZETASQL_ONLY) if (re.test(sql)) return why;
  if (ZETASQL_TYPES.test(codeOf(sql))) return 'ZetaSQL-only numeric type (INT32, UINT32, UINT64, FLOAT, DOUBLE): BigQuery has INT64 and FLOAT64, and its function reference has none of these conversions';
  if (/proto/.test(anchor)) return 'protocol buffers: ZetaSQL only, BigQuery has no PROTO type';
  return undefined;
}
