/**
 * The statement the gateway analyzed, declared to the upstream with every query it sends (jobs.query,
 * jobs.insert, dry runs): header `x-bqgate-declared: <base64url JSON {"statementKind", "tables"}>`,
 * the statement kind (QueryAnalysis.statementKind) and every table it reads or writes, fully
 * qualified (`project.dataset.table`; wildcard members and the tables under views included). The
 * emulator runs the statement only if DuckDB's plan agrees (emulator/guard.ts); BigQuery ignores
 * the header. It carries table names the SQL already carries, nothing else.
 */
import type { QueryAnalysis } from '../sql/index.js';

export interface Declared { statementKind: string; tables: string[] }

export const DECLARED_HEADER = 'x-bqgate-declared';

/** The declaration of an analyzed statement. */
export function declaredOf(a: Pick<QueryAnalysis, 'statementKind' | 'tablesRead' | 'tablesWritten'> & Partial<Pick<QueryAnalysis, 'wildcards' | 'views'>>): Declared {
  const tables = new Set([...a.tablesRead, ...a.tablesWritten, ...Object.values(a.wildcards ?? {}).flat(), ...Object.values(a.views ?? {}).flat()]);
  return { statementKind: a.statementKind, tables: [...tables].sort() };
}

/** The header value for a declaration: base64url of its JSON. */
export const declaredHeader = (d: Declared): string => Buffer.from(JSON.stringify(d)).toString('base64url');
