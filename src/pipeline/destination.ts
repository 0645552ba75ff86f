/**
 * A query job's `configuration.query.destinationTable` as the statements it equals
 * (https://cloud.google.com/bigquery/docs/reference/rest/v2/Job#JobConfigurationQuery):
 *
 *   table absent, createDisposition CREATE_IF_NEEDED (default)  → CREATE_TABLE_AS_SELECT of it
 *   writeDisposition WRITE_APPEND, or WRITE_EMPTY (default)     → INSERT into it
 *   writeDisposition WRITE_TRUNCATE                             → TRUNCATE and INSERT
 *   schemaUpdateOptions (ALLOW_FIELD_ADDITION / _RELAXATION)     → also ALTER_TABLE of an existing table
 *
 * (a write that may add or relax columns changes the table's schema: BigQuery asks for
 * bigquery.tables.update, https://cloud.google.com/bigquery/docs/managing-table-schemas).
 * Each reads what the query reads, so the decision is the query's plus the write verbs on the
 * destination, and the rows written are the query's as the caller may see them: the text sent
 * upstream is the masked, filtered rewrite (pipeline/statement.ts), exactly as for a CREATE TABLE
 * … AS SELECT. Plain data in and out. Errors: BigQueryError('invalid') for a malformed
 * destination or disposition, or a statement that is not a query.
 */
import { BigQueryError } from '../bigquery/errors.js';
import { decideStatement, type Decision, type Policy } from '../policy/index.js';
import type { Principal } from '../auth/index.js';

export interface Destination { projectId?: string; datasetId?: string; tableId?: string }
/** What `decide()` takes, for one statement. */
export interface WriteUnit { statementKind: string; tablesRead: string[]; tablesWritten: string[]; columnsRead: Array<{ table: string; column: string }>; tables: Record<string, any[]> }

const WRITE = ['WRITE_EMPTY', 'WRITE_APPEND', 'WRITE_TRUNCATE'];
const CREATE = ['CREATE_IF_NEEDED', 'CREATE_NEVER'];
const SCHEMA_UPDATES = ['ALLOW_FIELD_ADDITION', 'ALLOW_FIELD_RELAXATION'];

/** `project.dataset.table` of a destination; `projectId` defaults to the job's project. */
export function destinationName(dest: Destination, projectId: string): string {
  const ok = (s: unknown) => typeof s === 'string' && /^[A-Za-z0-9_$-]{1,1024}$/u.test(s);
  if (!ok(dest?.datasetId) || !ok(dest?.tableId) || (dest.projectId !== undefined && !/^[a-z0-9:.-]{1,128}$/.test(dest.projectId))) {
    throw new BigQueryError('invalid', 'Invalid value for configuration.query.destinationTable: it must name datasetId and tableId (letters, digits, _ and -).');
  }
  return `${dest.projectId ?? projectId}.${dest.datasetId}.${dest.tableId}`;
}

/**
 * The write statements of a query job writing `analysis`'s result into `table`; `exists`: whether
 * the table exists upstream now. The query's own statement kind must be SELECT.
 */
export function destinationUnits(analysis: Omit<WriteUnit, 'tablesWritten'> & { tablesWritten?: string[] }, table: string, exists: boolean, dispositions: { writeDisposition?: unknown; createDisposition?: unknown; schemaUpdateOptions?: unknown }): WriteUnit[] {
  if (analysis.statementKind !== 'SELECT') throw new BigQueryError('invalid', `configuration.query.destinationTable is only for queries (SELECT); this statement is ${analysis.statementKind}.`);
  const write = dispositions.writeDisposition ?? 'WRITE_EMPTY';
  const create = dispositions.createDisposition ?? 'CREATE_IF_NEEDED';
  if (!WRITE.includes(String(write))) throw new BigQueryError('invalid', `Invalid value for configuration.query.writeDisposition: ${JSON.stringify(write)}; it must be one of ${WRITE.join(', ')}.`);
  if (!CREATE.includes(String(create))) throw new BigQueryError('invalid', `Invalid value for configuration.query.createDisposition: ${JSON.stringify(create)}; it must be one of ${CREATE.join(', ')}.`);
  const updates = dispositions.schemaUpdateOptions ?? [];
  if (!Array.isArray(updates) || updates.some((u) => !SCHEMA_UPDATES.includes(String(u)))) throw new BigQueryError('invalid', `Invalid value for configuration.query.schemaUpdateOptions: ${JSON.stringify(updates)}; it must be a list of ${SCHEMA_UPDATES.join(', ')}.`);
  const unit = (statementKind: string): WriteUnit => ({ statementKind, tablesRead: analysis.tablesRead, tablesWritten: [table], columnsRead: analysis.columnsRead, tables: analysis.tables });
  if (!exists) {
    if (create === 'CREATE_NEVER') throw new BigQueryError('notFound', `Not found: Table ${table} (createDisposition is CREATE_NEVER).`);
    return [unit('CREATE_TABLE_AS_SELECT')];
  }
  const alter = updates.length ? [unit('ALTER_TABLE')] : [];
  return write === 'WRITE_TRUNCATE' ? [unit('TRUNCATE'), unit('INSERT'), ...alter] : [unit('INSERT'), ...alter];
}

/**
 * The decision of a query job with a destination: the query decided together with its write
 * statements (`units` from `destinationUnits`), as one decision — a refusal of any of them refuses
 * the job, their approvals join. A row cap on the caller (`limits.maximumRows`) refuses it too: the
 * rows written to a table would pass the cap. `rowCap` names that cap when it is the reason.
 * Used by the REST door (jobs.insert) and by `policy diff`, so both decide such a job alike.
 */
export function decideDestinationJob(policy: Policy, principal: Principal, analysis: Parameters<typeof decideStatement>[2], units: WriteUnit[], now = Date.now()): { decision: Decision; rowCap?: number } {
  const decision = decideStatement(policy, principal, { ...analysis, units: [analysis, ...units] }, now);
  if (decision.effect !== 'deny' && decision.limits.maximumRows !== undefined) {
    return { decision: { ...decision, effect: 'deny', reasons: [`destinationTable is refused: a row cap of ${decision.limits.maximumRows} rows applies to the results, and rows written to a table would pass it`, ...decision.reasons] }, rowCap: decision.limits.maximumRows };
  }
  return { decision };
}
