/**
 * A REST method as the statement it equals: the plain data `decide()` takes (policy/index.ts), with
 * the verb and the objects written as the analyzer reports them for the equivalent DDL/DML
 * (sql/walk.ts STMT_VERBS): `tables.insert` is `CREATE TABLE` (`CREATE_TABLE`), `tables.delete` is
 * `DROP TABLE` (`DROP`), `datasets.insert` is `CREATE SCHEMA` (`CREATE_SCHEMA`) and so on. Tables
 * are named `project.dataset.table`; a dataset-level statement writes `project.dataset`.
 *
 * Body fields are allowlisted per resource (`checkFields`): a field bqgate cannot see the effect
 * of (external data, encryption, clones and snapshots, replicas, resource tags…) is refused with
 * accessDenied naming it, never passed through. Sources: REST reference, Table and Dataset
 * resources (https://cloud.google.com/bigquery/docs/reference/rest/v2/tables#Table,
 * https://cloud.google.com/bigquery/docs/reference/rest/v2/datasets#Dataset).
 */
import { BigQueryError } from '../../../bigquery/errors.js';
import type { BqField } from '../../../emulator/encode.js';

/** What `decide()` takes (a subset of QueryAnalysis). */
export interface MethodStatement {
  statementKind: string;
  tablesRead: string[];
  tablesWritten: string[];
  columnsRead: Array<{ table: string; column: string }>;
  tables: Record<string, BqField[]>;
}

/** A statement writing `objects` with `verb`, reading nothing. */
export const writes = (verb: string, ...objects: string[]): MethodStatement => ({ statementKind: verb, tablesRead: [], tablesWritten: objects, columnsRead: [], tables: {} });

/** Table fields a caller may set (tables.insert/patch/update); the output-only ones a read returns are accepted and ignored upstream. */
const TABLE_FIELDS = new Set([
  'kind', 'etag', 'id', 'selfLink', 'tableReference', 'friendlyName', 'description', 'labels', 'schema', 'expirationTime',
  'timePartitioning', 'rangePartitioning', 'clustering', 'requirePartitionFilter', 'view', 'materializedView', 'defaultCollation',
  'type', 'location', 'creationTime', 'lastModifiedTime', 'numRows', 'numBytes', 'numLongTermBytes', 'numPhysicalBytes', 'numTotalLogicalBytes',
]);
/** Dataset fields a caller may set (datasets.insert/patch/update); `access` is decided as GRANT. */
const DATASET_FIELDS = new Set([
  'kind', 'etag', 'id', 'selfLink', 'datasetReference', 'friendlyName', 'description', 'labels', 'location', 'access',
  'defaultTableExpirationMs', 'defaultPartitionExpirationMs', 'defaultCollation', 'isCaseInsensitive', 'maxTimeTravelHours',
  'storageBillingModel', 'creationTime', 'lastModifiedTime', 'type',
]);
/** Schema field keys a caller may set; `policyTags` and `dataPolicies` changes are decided as GRANT. */
const FIELD_KEYS = new Set(['name', 'type', 'mode', 'fields', 'description', 'policyTags', 'maxLength', 'precision', 'scale', 'defaultValueExpression', 'collation', 'roundingMode', 'dataPolicies']);

/** Whether `v` carries nothing (null, '', {} or []): clients send such fields as placeholders (bq update sends `resourceTags: {}`). */
export const isEmpty = (v: unknown) => v === null || v === undefined || v === '' || (typeof v === 'object' && Object.keys(v as object).length === 0);

/**
 * The body to send upstream for `method` (`kind`: the resource): the caller's, without empty
 * placeholders of fields bqgate does not govern. Throws accessDenied naming the first such field
 * that carries a value; nested schema fields are checked too.
 */
export function checkFields(method: string, kind: 'table' | 'dataset', body: Record<string, unknown>): Record<string, any> {
  const allowed = kind === 'table' ? TABLE_FIELDS : DATASET_FIELDS;
  const refuse = (f: string): never => { throw new BigQueryError('accessDenied', `Access Denied: ${method} with ${f} is refused by bqgate: it cannot see the effect of that field, so it does not pass it upstream. Leave it out.`); };
  const out: Record<string, any> = {};
  for (const [k, v] of Object.entries(body ?? {})) {
    if (allowed.has(k)) out[k] = v;
    else if (!isEmpty(v)) refuse(k);
  }
  const walk = (fields: unknown, at: string) => {
    if (fields === undefined) return;
    if (!Array.isArray(fields)) throw new BigQueryError('invalid', `Invalid value for ${at}: it must be a list of fields.`);
    for (const f of fields) {
      for (const k of Object.keys(f ?? {})) if (!FIELD_KEYS.has(k)) refuse(`${at}[].${k}`);
      walk(f?.fields, `${at}[].fields`);
    }
  };
  if (kind === 'table') walk((body.schema as { fields?: unknown } | undefined)?.fields, 'schema.fields');
  return out;
}

/** Each field's policy tags and data policies, keyed by its dotted path (for `changesPolicyTags`). */
function tagsOf(fields: any[] | undefined, prefix = '', out = new Map<string, string>()): Map<string, string> {
  for (const f of fields ?? []) {
    const path = `${prefix}${String(f?.name ?? '').toLowerCase()}`;
    out.set(path, JSON.stringify([[...(f?.policyTags?.names ?? [])].sort(), (f?.dataPolicies ?? []).map((d: any) => d?.name ?? d?.dataPolicyId ?? JSON.stringify(d)).sort()]));
    tagsOf(f?.fields, `${path}.`, out);
  }
  return out;
}

/**
 * Whether `next` (a schema a caller sends) changes the policy tags or data policies of a column of
 * `current`: removing a tag that a policy rule names (`tag:…`) would take the column out of that
 * rule, so it is an access change (GRANT), not an ALTER. A new column with no tags is no change.
 */
export function changesPolicyTags(current: any[] | undefined, next: any[] | undefined): string[] {
  const before = tagsOf(current);
  const after = tagsOf(next);
  const none = JSON.stringify([[], []]);
  const changed: string[] = [];
  for (const [path, tags] of after) if ((before.get(path) ?? none) !== tags) changed.push(path);
  for (const [path, tags] of before) if (!after.has(path) && tags !== none) changed.push(path);
  return changed;
}

/** The verb of creating a routine of `routineType` (REST Routine.routineType) in the policy language. */
export function routineVerb(routineType: unknown): string {
  switch (routineType) {
    case 'PROCEDURE': return 'CREATE_PROCEDURE';
    case 'TABLE_VALUED_FUNCTION': return 'CREATE_TABLE_FUNCTION';
    case 'SCALAR_FUNCTION': case 'AGGREGATE_FUNCTION': return 'CREATE_FUNCTION';
    default: throw new BigQueryError('invalid', `Invalid value for routineType: ${JSON.stringify(routineType)}; it must be SCALAR_FUNCTION, AGGREGATE_FUNCTION, TABLE_VALUED_FUNCTION or PROCEDURE.`);
  }
}
