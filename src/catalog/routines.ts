/**
 * routines.get (BigQuery REST reference, Routine:
 * https://cloud.google.com/bigquery/docs/reference/rest/v2/routines#Routine) → `RoutineInfo`, the
 * part of the resource the analyzer needs: type, language, arguments (name, argumentKind, mode,
 * dataType), returnType, returnTableType, definitionBody and remoteFunctionOptions.
 * Throws BigQueryError('notFound') for a routine the upstream does not have, 'backendError' for any
 * other upstream failure, 'invalidQuery' for a resource bqgate cannot read (unknown routineType).
 */
import { pathParts } from '../bigquery/table-path.js';
import { BigQueryError } from '../bigquery/errors.js';
import type { Upstream } from '../upstream/index.js';
import type { RoutineInfo } from '../sql/index.js';

const TYPES = new Set(['SCALAR_FUNCTION', 'AGGREGATE_FUNCTION', 'TABLE_VALUED_FUNCTION', 'PROCEDURE']);

/** `project.dataset.routine` (three segments) from the upstream. */
export async function fetchRoutine(upstream: Upstream, fullName: string): Promise<RoutineInfo> {
  const parts = pathParts(fullName);
  if (parts.length !== 3 || parts.some((x) => !x)) throw new BigQueryError('notFound', `Not found: Routine ${fullName} (a routine is named project.dataset.routine)`);
  const [p, d, r] = parts;
  const enc = encodeURIComponent;
  const res = await upstream.call('GET', `/projects/${enc(p)}/datasets/${enc(d)}/routines/${enc(r)}`);
  if (res.status === 404) throw new BigQueryError('notFound', `Not found: Routine ${p}:${d}.${r}`);
  if (res.status >= 300) throw new BigQueryError('backendError', `Could not read the routine ${fullName} from the upstream (HTTP ${res.status}); the query was not run.`);
  const b = res.body ?? {};
  if (!TYPES.has(b.routineType)) throw new BigQueryError('invalidQuery', `Routine ${fullName} has a routineType bqgate does not know (${String(b.routineType)}); the query was not run.`, { location: 'q' });
  return {
    fullName,
    routineType: b.routineType,
    ...(b.language ? { language: b.language } : {}),
    arguments: (b.arguments ?? []).map((a: any) => ({
      ...(a.name !== undefined ? { name: String(a.name) } : {}),
      ...(a.argumentKind ? { argumentKind: a.argumentKind } : {}),
      ...(a.mode ? { mode: a.mode } : {}),
      ...(a.dataType ? { dataType: a.dataType } : {}),
      // A table function's table parameter (argumentKind FIXED_TABLE): its columns.
      ...(a.tableType ? { tableType: { columns: a.tableType.columns ?? [] } } : {}),
      ...(a.isAggregate !== undefined ? { isAggregate: !!a.isAggregate } : {}),
    })),
    ...(b.returnType ? { returnType: b.returnType } : {}),
    ...(b.returnTableType ? { returnTableType: { columns: b.returnTableType.columns ?? [] } } : {}),
    ...(typeof b.definitionBody === 'string' ? { definitionBody: b.definitionBody } : {}),
    ...(b.remoteFunctionOptions ? { remoteFunctionOptions: { endpoint: b.remoteFunctionOptions.endpoint, connection: b.remoteFunctionOptions.connection } } : {}),
  };
}
