/**
 * What a read session reads: the rows of a table as of session creation, the selected columns only,
 * filtered by the checked row restriction (restriction.ts).
 *
 * - A table of the catalog: `SELECT <columns> FROM \`p.d.t\` WHERE (<restriction>)` run by the
 *   engine with the gateway-style declaration `{SELECT, [p.d.t]}`, so the engine's checks refuse a
 *   statement that reads any other table; the schema is the table's own (the BigQuery types).
 * - A query job's result table (anon.ts): the job's rows, kept in memory; a row restriction on one
 *   is refused UNIMPLEMENTED (the emulator does not evaluate SQL over a kept result).
 *
 * Views are refused INVALID_ARGUMENT, as BigQuery's Storage Read API reads tables only.
 * Errors: NOT_FOUND (no such table, dataset or column), INVALID_ARGUMENT (a bad restriction or
 * column), UNIMPLEMENTED (a type values.ts does not serve).
 */
import type { DuckDBValue } from '@duckdb/node-api';
import type { Engine } from '../engine.js';
import type { BqField } from '../encode.js';
import { StorageError, toStorageError } from './errors.js';
import { checkRestriction } from './restriction.js';
import { checkServed } from './values.js';
import type { AnonTables } from './anon.js';

/** `projects/P/datasets/D/tables/T` split. */
export interface TablePath { projectId: string; datasetId: string; tableId: string }

/** The rows a session serves: BigQuery fields (selected, in table order) and DuckDB values in that order. */
export interface SessionRows { schema: BqField[]; rows: DuckDBValue[][]; bytesScanned: number }

const TABLE_NAME = /^projects\/([^/]+)\/datasets\/([^/]+)\/tables\/([^/]+)$/;

/** Parses `projects/P/datasets/D/tables/T`; throws INVALID_ARGUMENT otherwise. */
export function tablePath(name: string): TablePath {
  const m = TABLE_NAME.exec(name ?? '');
  if (!m) throw new StorageError('INVALID_ARGUMENT', `Invalid read_session.table ${JSON.stringify(name)}: expected projects/{project}/datasets/{dataset}/tables/{table}.`);
  return { projectId: m[1], datasetId: m[2], tableId: m[3] };
}

/** The table's fields named by `selected` (all when empty), in table order; INVALID_ARGUMENT for an unknown or nested name. */
function pick(schema: BqField[], selected: string[], label: string): BqField[] {
  if (!selected.length) return schema;
  const want = new Set(selected.map((s) => s.toLowerCase()));
  for (const s of selected) {
    if (s.includes('.')) throw new StorageError('UNIMPLEMENTED', `selected_fields ${s}: the emulator selects top-level columns only.`);
    if (!schema.some((f) => f.name.toLowerCase() === s.toLowerCase())) throw new StorageError('INVALID_ARGUMENT', `selected_fields: ${s} is not a column of ${label}.`);
  }
  return schema.filter((f) => want.has(f.name.toLowerCase()));
}

/** Reads the session's rows (module docstring). */
export async function readSource(engine: Engine, anon: AnonTables, t: TablePath, selected: string[], restriction: string | undefined): Promise<SessionRows> {
  const label = `${t.projectId}:${t.datasetId}.${t.tableId}`;
  const kept = anon.get(t);
  if (kept) {
    const where = checkRestriction(restriction);
    if (where) throw new StorageError('UNIMPLEMENTED', `The emulator does not apply a row_restriction to a query job's result table (${label}); read it without one.`);
    const schema = pick(kept.schema, selected, label);
    checkServed(schema);
    const at = schema.map((f) => kept.schema.indexOf(f));
    return { schema, rows: kept.rows.map((r) => at.map((i) => r[i])), bytesScanned: kept.totalBytes };
  }
  try {
    engine.catalog.dataset(t.projectId, t.datasetId);
    const meta = await engine.catalog.findTable(t.projectId, t.datasetId, t.tableId);
    if (!meta) throw new StorageError('NOT_FOUND', `Not found: Table ${label}`);
    if (meta.viewQuery !== undefined) throw new StorageError('INVALID_ARGUMENT', `${label} is a view; the Storage Read API reads tables only (query the view and read the query's result table).`);
    const schema = pick(meta.schema, selected, label);
    checkServed(schema);
    const where = checkRestriction(restriction);
    const path = `${t.projectId}.${t.datasetId}.${t.tableId}`;
    const sql = `SELECT ${schema.map((f) => `\`${f.name}\``).join(', ')} FROM \`${path}\`${where ? ` WHERE (${where})` : ''}`;
    const r = await engine.run(sql, { projectId: t.projectId }, { declared: { statementKind: 'SELECT', tables: [path] } });
    return { schema, rows: r.rows, bytesScanned: r.totalBytesProcessed };
  } catch (err) { throw toStorageError(err); }
}
