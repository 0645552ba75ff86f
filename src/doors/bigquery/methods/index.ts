/**
 * `methods/`: the BigQuery v2 methods beyond queries and reads, each decided as the statement it
 * equals (statements.ts) by the same `decide()` as SQL, so the same rules, explanations and audit
 * events apply; and the refusal of every method bqgate does not govern (catalogue.ts).
 *
 *   tables.insert          CREATE_TABLE, or CREATE_VIEW / CREATE_MATERIALIZED_VIEW (the view's query
 *                          is analyzed as a SELECT through the query pipeline: its sources must be
 *                          readable, and what is sent upstream is the query text bqgate regenerated)
 *   tables.patch/update    ALTER_TABLE, or ALTER_VIEW (a changed view query re-analyzed); a change of a
 *                          column's policy tags or data policies also GRANT
 *   tables.delete          DROP
 *   tabledata.insertAll    INSERT (refused when the INSERT needs an approval: only query jobs can wait)
 *   datasets.insert        CREATE_SCHEMA (+ GRANT when it sets `access`)
 *   datasets.patch/update  ALTER_SCHEMA (+ GRANT when it sets `access`; update replaces the access list, so always)
 *   datasets.delete        DROP of the dataset (+ DROP of each of its tables with deleteContents)
 *   routines.list/get      reads: only routines of datasets the caller may see
 *   routines.insert/update CREATE_FUNCTION / CREATE_TABLE_FUNCTION / CREATE_PROCEDURE (an update is CREATE OR REPLACE)
 *   routines.delete        DROP_FUNCTION / DROP_TABLE_FUNCTION, DROP for a procedure (as the analyzer names DROP PROCEDURE)
 *   models.list/get        reads: only models of datasets the caller may see
 *   models.patch/delete    ALTER_MODEL / DROP (as the analyzer names DROP MODEL)
 *   jobs.delete            the caller's own job only
 *   *.getIamPolicy/setIamPolicy  GRANT on the table or routine (who may access it is an access change)
 *   rowAccessPolicies.*    list/get as reads of the table; insert/update CREATE_ROW_ACCESS_POLICY; delete DROP_ROW_ACCESS_POLICY
 *   datasets.undelete      UNDROP of the dataset
 *   projects.getServiceAccount  metadata for any caller with an allow rule
 *   (tables/rowAccessPolicies.testIamPermissions stay refused: upstream they answer for bqgate's credential, not the caller's)
 *
 * Writes run upstream with the caller's job credential (the one its queries run with). Answers are
 * built from allowlists. Errors: accessDenied naming the rule or the verb, invalid for a malformed
 * body, and the upstream's own errors.
 */
import { BigQueryError, type Operation } from '../../../bigquery/index.js';
import type { Catalog } from '../../../catalog/index.js';
import { decideStatement, requireAnyAllow, canSeeDataset, canSeeTable, type Decision } from '../../../policy/index.js';
import type { Upstream, UpstreamCredentials } from '../../../upstream/index.js';
import { callerError, datasetResource, tableResource } from '../../../deliver/index.js';
import { findOwnJob } from '../job-ids.js';
import { datasetDenied } from '../metadata.js';
import type { JobStore } from '../../../state/index.js';
import { enc, pick, decisionAudit, type Ctx, type Outcome } from '../../../pipeline/context.js';
import { checkFields, changesPolicyTags, isEmpty, routineVerb, writes, type MethodStatement } from './statements.js';
import { METHODS, matchMethod } from './catalogue.js';

export { METHODS, matchMethod, type MethodSpec, type HttpVerb } from './catalogue.js';
export type { MethodStatement } from './statements.js';

/** The operations this module serves. */
export type MethodOperation =
  | 'tables.insert' | 'tables.patch' | 'tables.update' | 'tables.delete' | 'tabledata.insertAll'
  | 'datasets.insert' | 'datasets.patch' | 'datasets.update' | 'datasets.delete'
  | 'routines.list' | 'routines.get' | 'routines.insert' | 'routines.update' | 'routines.delete'
  | 'models.list' | 'models.get' | 'models.patch' | 'models.delete'
  | 'jobs.delete' | 'method.refused'
  | 'tables.getIamPolicy' | 'tables.setIamPolicy' | 'routines.getIamPolicy' | 'routines.setIamPolicy'
  | 'rowAccessPolicies.list' | 'rowAccessPolicies.get' | 'rowAccessPolicies.insert' | 'rowAccessPolicies.update' | 'rowAccessPolicies.delete' | 'rowAccessPolicies.batchDelete'
  | 'datasets.undelete' | 'projects.getServiceAccount';

/**
 * Governed methods whose paths fastify cannot route by template (`…/tables/{t}:getIamPolicy`): the
 * gateway's catch-all route matches them with the catalogue and runs them as these operations.
 */
export const CATALOGUE_ROUTED: ReadonlySet<string> = new Set([
  'tables.getIamPolicy', 'tables.setIamPolicy', 'routines.getIamPolicy', 'routines.setIamPolicy', 'rowAccessPolicies.list', 'rowAccessPolicies.get',
  'rowAccessPolicies.insert', 'rowAccessPolicies.update', 'rowAccessPolicies.delete', 'rowAccessPolicies.batchDelete', 'datasets.undelete', 'projects.getServiceAccount',
]);

/** What a checked SELECT gives back (server.ts `check`): its decision and the text to send upstream. */
export interface CheckedQuery { analysis: { statementKind: string; tablesRead: string[]; columnsRead: Array<{ table: string; column: string }>; tables: Record<string, any[]> }; decision: Decision; sql: string }

export interface MethodDeps {
  upstream: Upstream;
  catalog: Catalog;
  credentials: UpstreamCredentials;
  store: JobStore;
  /** The query pipeline (analyze → decide → rewrite → regenerate) for a view's query; throws the refusal. */
  check(c: Ctx, projectId: string, q: Record<string, unknown>): Promise<CheckedQuery>;
  /** tables.get as the metadata operations answer it (policy-filtered schema). */
  tableGet(c: Ctx): Promise<Outcome>;
}

const only = (o: any, keys: readonly string[]) => Object.fromEntries(keys.filter((k) => o?.[k] !== undefined).map((k) => [k, o[k]]));
const ROUTINE_KEYS = ['etag', 'routineReference', 'routineType', 'creationTime', 'lastModifiedTime', 'language', 'arguments', 'returnType', 'returnTableType', 'importedLibraries', 'definitionBody', 'description', 'determinismLevel', 'securityMode', 'strictMode', 'dataGovernanceType'] as const;
const MODEL_KEYS = ['etag', 'modelReference', 'creationTime', 'lastModifiedTime', 'description', 'friendlyName', 'labels', 'expirationTime', 'location', 'modelType', 'featureColumns', 'labelColumns', 'bestTrialId', 'defaultTrialId'] as const;
/** Routine and model fields a caller may set (routines.insert/update, models.patch). */
const ROUTINE_SET = new Set([...ROUTINE_KEYS, 'kind']);
const MODEL_SET = new Set(['etag', 'modelReference', 'description', 'friendlyName', 'labels', 'expirationTime', 'kind']);

/** Why a catalogued method stays refused, for the caller. */
const WHY: Record<string, string> = {
  'tables.testIamPermissions': 'Upstream it would answer for bqgate\'s credential, not yours; bqgate policy decides what you may do (bqgate policy explain).',
  'rowAccessPolicies.testIamPermissions': 'Upstream it would answer for bqgate\'s credential, not yours; bqgate policy decides what you may do (bqgate policy explain).',
  'rowAccessPolicies.getIamPolicy': 'Row access policy IAM is not governed by bqgate yet.',
};

/** The method a refused request is (from the catalogue), for the message. */
const refusal = (http: string, url: string): BigQueryError => {
  const path = url.split('?')[0];
  const m = matchMethod(http, path);
  if (m && !m.wrongVerb) return new BigQueryError('accessDenied', `Access Denied: bqgate refuses methods it does not govern: bigquery.${m.id} (${http} ${path}) is not one bqgate governs, so nothing was sent upstream. ${WHY[m.id] ?? 'Use a governed method or the equivalent SQL statement.'}`);
  if (m) return new BigQueryError('accessDenied', `Access Denied: bqgate refuses methods it does not govern: ${http} ${path} is not a BigQuery v2 method (bigquery.${m.id} is ${METHODS.find((x) => x.id === m.id)!.http}).`);
  return new BigQueryError('accessDenied', `Access Denied: bqgate refuses methods it does not govern: ${http} ${path} is no BigQuery v2 method bqgate knows.`);
};

/** Every method bqgate governs (routed through the pipeline), for refusal messages and tests. */
export const GOVERNED: readonly string[] = [
  'jobs.query', 'jobs.getQueryResults', 'jobs.insert', 'jobs.get', 'jobs.cancel', 'jobs.list', 'jobs.delete',
  'tabledata.list', 'tabledata.insertAll', 'tables.get', 'tables.list', 'tables.insert', 'tables.patch', 'tables.update', 'tables.delete',
  'datasets.get', 'datasets.list', 'datasets.insert', 'datasets.patch', 'datasets.update', 'datasets.delete', 'projects.list',
  'routines.list', 'routines.get', 'routines.insert', 'routines.update', 'routines.delete', 'models.list', 'models.get', 'models.patch', 'models.delete',
  'tables.getIamPolicy', 'tables.setIamPolicy', 'routines.getIamPolicy', 'routines.setIamPolicy', 'rowAccessPolicies.list', 'rowAccessPolicies.get',
  'rowAccessPolicies.insert', 'rowAccessPolicies.update', 'rowAccessPolicies.delete', 'rowAccessPolicies.batchDelete', 'datasets.undelete', 'projects.getServiceAccount',
];

/** The handlers. */
export function methodOperations(d: MethodDeps): Record<MethodOperation, (c: Ctx) => Promise<Outcome>> {
  const { upstream, catalog, credentials, store, check } = d;

  /**
   * Decides `main` (and `more`, e.g. a GRANT beside an ALTER) as one script would be: the first
   * refusal wins. Records the decision in the audit; throws accessDenied (with the decision) when
   * denied, or when an approval would be needed (only query jobs can wait for one).
   */
  function decideMethod(c: Ctx, method: string, main: MethodStatement, ...more: MethodStatement[]): Decision {
    requireAnyAllow(c.policy, c.principal);
    const units = [main, ...more];
    const decision = decideStatement(c.policy, c.principal, units.length > 1 ? { ...main, units } : main);
    const analysis = { ...main, statementKind: units.map((u) => u.statementKind).join('+'), tablesRead: [...new Set(units.flatMap((u) => u.tablesRead))], tablesWritten: [...new Set(units.flatMap((u) => u.tablesWritten))] };
    c.audit = {
      ...decisionAudit(decision, ''), upstreamSql: undefined, upstreamMethod: method, statementKind: analysis.statementKind,
      tables: [...new Set([...analysis.tablesRead, ...analysis.tablesWritten])], columns: [...new Set(analysis.columnsRead.map((x) => `${x.table}.${x.column}`))],
    };
    if (decision.effect === 'deny') throw Object.assign(new BigQueryError('accessDenied', decision.reasons[0]), { decision, analysis });
    if (decision.approvals?.length) {
      throw Object.assign(new BigQueryError('accessDenied', `Access Denied: ${method} needs an approval (rule ${decision.approvals.map((a) => a.ruleId).join(', ')}), and only query jobs can wait for one. Send the equivalent statement as a query.`), { decision: { ...decision, effect: 'deny' as const }, analysis });
    }
    return decision;
  }
  /**
   * Before an upstream read that picks the verb (a table's type, a routine's kind): refuses, as
   * `verbs[0]`, when none of `verbs` is allowed on `object`, so a caller without any right learns
   * nothing from that read (not even whether the object exists). Records nothing when it passes.
   */
  function precheck(c: Ctx, method: string, object: string, verbs: string[]): void {
    requireAnyAllow(c.policy, c.principal);
    if (verbs.some((v) => decideStatement(c.policy, c.principal, writes(v, object)).effect === 'allow')) return;
    decideMethod(c, method, writes(verbs[0], object));
  }
  const as = async (c: Ctx, decision: Decision) => (await credentials.forJob(c.principal, c.callerToken, undefined, decision.upstreamServiceAccount)).client;
  const ids = (c: Ctx) => {
    const { projectId, datasetId, tableId, routineId, modelId } = c.req.params;
    return { projectId: projectId!, datasetId: datasetId!, tableId, routineId, modelId, dataset: `${projectId}.${datasetId}`, path: `/projects/${enc(projectId!)}/datasets/${enc(datasetId!)}` };
  };
  const body = (c: Ctx): Record<string, any> => {
    const b = c.req.body;
    if (!b || typeof b !== 'object' || Array.isArray(b)) throw new BigQueryError('invalid', `Invalid request: ${c.req.op} needs a JSON object body.`);
    return b;
  };
  const mustSeeDataset = (c: Ctx, projectId: string, datasetId: string) => {
    if (!canSeeDataset(c.policy, c.principal, projectId, datasetId)) throw datasetDenied(c, projectId, datasetId);
  };

  /**
   * The view (or materialized view) query of a table body, analyzed as a SELECT through the query
   * pipeline; undefined when the body defines none. GoogleSQL only (REST defaults a view to legacy SQL).
   */
  async function viewQuery(c: Ctx, projectId: string, b: Record<string, any>): Promise<{ key: 'view' | 'materializedView'; checked: CheckedQuery } | undefined> {
    const key = b.materializedView ? 'materializedView' : b.view ? 'view' : undefined;
    if (!key) return undefined;
    const v = b[key];
    if (typeof v?.query !== 'string') throw new BigQueryError('invalid', `Invalid value for ${key}.query: the view's query must be a string.`);
    if (key === 'view' && v.useLegacySql !== false) throw new BigQueryError('invalidQuery', 'bqgate accepts GoogleSQL views only: set view.useLegacySql=false (bq mk --view: --nouse_legacy_sql).');
    if (Array.isArray(v.userDefinedFunctionResources) && v.userDefinedFunctionResources.length) throw new BigQueryError('accessDenied', 'Access Denied: userDefinedFunctionResources in a view are refused by bqgate.');
    // As BigQuery resolves a view's names: in the view's project, with no default dataset.
    const checked = await check(c, projectId, { query: v.query, useLegacySql: false });
    if (checked.analysis.statementKind !== 'SELECT') throw new BigQueryError('invalidQuery', `${key}.query must be a query (SELECT); it is ${checked.analysis.statementKind}.`);
    return { key, checked };
  }
  /** The statement a view creation or change is: `verb` on the view, reading what its query reads. */
  const viewStatement = (verb: string, table: string, q: CheckedQuery): MethodStatement => ({
    statementKind: verb, tablesWritten: [table], tablesRead: q.analysis.tablesRead, columnsRead: q.analysis.columnsRead, tables: q.analysis.tables as never,
  });
  /** The body sent upstream: the caller's, with a view query replaced by the regenerated text. */
  const withView = (b: Record<string, any>, v: Awaited<ReturnType<typeof viewQuery>>) => (v ? { ...b, [v.key]: { ...b[v.key], query: v.checked.sql, ...(v.key === 'view' ? { useLegacySql: false } : {}) } } : b);
  /** The caller's answer after a table write: tables.get's (policy-filtered), or the bare reference when the caller may not read it. */
  const tableAnswer = async (c: Ctx, r: any): Promise<unknown> => {
    try { return (await d.tableGet({ ...c, audit: {}, req: { ...c.req, op: 'tables.get', query: {}, params: { ...c.req.params, tableId: r?.tableReference?.tableId ?? c.req.params.tableId } } })).body; } catch { return tableResource(r, undefined); }
  };

  async function tableWrite(c: Ctx, method: 'tables.patch' | 'tables.update'): Promise<Outcome> {
    const { projectId, datasetId, tableId, path } = ids(c);
    const table = `${projectId}.${datasetId}.${tableId}`;
    const b = checkFields(method, 'table', body(c));
    precheck(c, method, table, ['ALTER_TABLE', 'ALTER_VIEW', 'ALTER_MATERIALIZED_VIEW']);
    const current = await upstream.ok('GET', `${path}/tables/${enc(tableId!)}`);
    const isView = current.type === 'VIEW' || !!current.view || current.type === 'MATERIALIZED_VIEW';
    const v = await viewQuery(c, projectId, b);
    const verb = current.type === 'MATERIALIZED_VIEW' ? 'ALTER_MATERIALIZED_VIEW' : isView ? 'ALTER_VIEW' : 'ALTER_TABLE';
    const main = v ? viewStatement(verb, table, v.checked) : writes(verb, table);
    // tables.update replaces the resource: without a schema it would drop the columns' tags too.
    const tags = b.schema || method === 'tables.update' ? changesPolicyTags(current.schema?.fields, b.schema?.fields ?? []) : [];
    const decision = decideMethod(c, method, main, ...(tags.length ? [writes('GRANT', table)] : []));
    catalog.invalidate(table);
    if (v) c.audit = { ...c.audit, upstreamSql: decisionAudit(decision, v.checked.sql).upstreamSql };
    const r = await upstream.ok(method === 'tables.patch' ? 'PATCH' : 'PUT', `${path}/tables/${enc(tableId!)}`, { body: withView(b, v), query: pick(c.req.query, ['autodetect_schema']), as: await as(c, decision) });
    return { body: await tableAnswer(c, r) };
  }

  async function datasetWrite(c: Ctx, method: 'datasets.patch' | 'datasets.update'): Promise<Outcome> {
    const { dataset, path } = ids(c);
    const b = checkFields(method, 'dataset', body(c));
    const grant = method === 'datasets.update' || b.access !== undefined;
    const decision = decideMethod(c, method, writes('ALTER_SCHEMA', dataset), ...(grant ? [writes('GRANT', dataset)] : []));
    const r = await upstream.ok(method === 'datasets.patch' ? 'PATCH' : 'PUT', path, { body: b, query: pick(c.req.query, ['updateMode', 'accessPolicyVersion']), as: await as(c, decision) });
    return { body: withAcl(c, dataset, r) };
  }

  /**
   * A dataset answer, with its access list only for a caller some rule allows GRANT on the dataset
   * (as datasets.get shows it): a client that reads, changes and writes back `access` (the SDK
   * samples' updateDatasetAccess) must see the whole list, or its PATCH would drop the others.
   */
  function withAcl(c: Ctx, dataset: string, r: any) {
    const grant = decideStatement(c.policy, c.principal, writes('GRANT', dataset));
    return { ...datasetResource(r), ...(grant.effect === 'allow' && Array.isArray(r?.access) ? { access: r.access } : {}) };
  }

  /** The routine's type as the upstream knows it (for the verb of changing or dropping it). */
  const routineType = async (c: Ctx) => { const { path, routineId } = ids(c); return (await upstream.ok('GET', `${path}/routines/${enc(routineId!)}`)).routineType; };
  /** The analyzer's verb for dropping a routine: DROP FUNCTION and DROP TABLE FUNCTION have their own statements, DROP PROCEDURE is a DROP. */
  const dropVerb = (create: string) => (create === 'CREATE_PROCEDURE' ? 'DROP' : create.replace(/^CREATE_/, 'DROP_'));

  const ops: Record<MethodOperation, (c: Ctx) => Promise<Outcome>> = {
    'method.refused': async (c) => { throw refusal(c.req.method ?? 'GET', c.req.url ?? ''); },

    'tables.insert': async (c) => {
      const { projectId, datasetId, path } = ids(c);
      const b = checkFields('tables.insert', 'table', body(c));
      const ref = b.tableReference ?? {};
      if (typeof ref.tableId !== 'string' || !ref.tableId) throw new BigQueryError('invalid', 'Invalid value for tableReference.tableId: tables.insert needs the new table\'s id.');
      if ((ref.projectId ?? projectId) !== projectId || (ref.datasetId ?? datasetId) !== datasetId) throw new BigQueryError('invalid', `Invalid value for tableReference: it must name a table of ${projectId}:${datasetId}, the dataset of the request path.`);
      const table = `${projectId}.${datasetId}.${ref.tableId}`;
      const v = await viewQuery(c, projectId, b);
      const decision = decideMethod(c, 'tables.insert', v ? viewStatement(v.key === 'view' ? 'CREATE_VIEW' : 'CREATE_MATERIALIZED_VIEW', table, v.checked) : writes('CREATE_TABLE', table));
      catalog.invalidate(table);
      if (v) c.audit = { ...c.audit, upstreamSql: decisionAudit(decision, v.checked.sql).upstreamSql };
      const r = await upstream.ok('POST', `${path}/tables`, { body: withView(b, v), as: await as(c, decision) });
      return { body: await tableAnswer(c, r) };
    },
    'tables.patch': (c) => tableWrite(c, 'tables.patch'),
    'tables.update': (c) => tableWrite(c, 'tables.update'),
    'tables.delete': async (c) => {
      const { projectId, datasetId, tableId, path } = ids(c);
      const table = `${projectId}.${datasetId}.${tableId}`;
      const decision = decideMethod(c, 'tables.delete', writes('DROP', table));
      catalog.invalidate(table);
      await upstream.ok('DELETE', `${path}/tables/${enc(tableId!)}`, { as: await as(c, decision) });
      return { status: 204, body: '' };
    },
    'tabledata.insertAll': async (c) => {
      const { projectId, datasetId, tableId, path } = ids(c);
      const table = `${projectId}.${datasetId}.${tableId}`;
      const b = body(c);
      if (!isEmpty(b.templateSuffix)) throw new BigQueryError('accessDenied', 'Access Denied: tabledata.insertAll with templateSuffix (a table created from a template) is refused by bqgate; insert into the table itself.');
      const decision = decideMethod(c, 'tabledata.insertAll', writes('INSERT', table));
      const r = await upstream.ok('POST', `${path}/tables/${enc(tableId!)}/insertAll`, { body: pick(b, ['kind', 'rows', 'skipInvalidRows', 'ignoreUnknownValues', 'traceId']), as: await as(c, decision) });
      return { body: { kind: 'bigquery#tableDataInsertAllResponse', ...(Array.isArray(r.insertErrors) && r.insertErrors.length ? { insertErrors: r.insertErrors.map((e: any) => ({ index: e.index, errors: (e.errors ?? []).map((x: any) => only(x, ['reason', 'location', 'message'])) })) } : {}) } };
    },

    'datasets.insert': async (c) => {
      const projectId = c.req.params.projectId!;
      const b = checkFields('datasets.insert', 'dataset', body(c));
      const ref = b.datasetReference ?? {};
      if (typeof ref.datasetId !== 'string' || !ref.datasetId) throw new BigQueryError('invalid', 'Invalid value for datasetReference.datasetId: datasets.insert needs the new dataset\'s id.');
      if ((ref.projectId ?? projectId) !== projectId) throw new BigQueryError('invalid', `Invalid value for datasetReference.projectId: it must be ${projectId}, the project of the request path.`);
      const dataset = `${projectId}.${ref.datasetId}`;
      const decision = decideMethod(c, 'datasets.insert', writes('CREATE_SCHEMA', dataset), ...(b.access !== undefined ? [writes('GRANT', dataset)] : []));
      const r = await upstream.ok('POST', `/projects/${enc(projectId)}/datasets`, { body: b, as: await as(c, decision) });
      return { body: withAcl(c, dataset, r) };
    },
    'datasets.patch': (c) => datasetWrite(c, 'datasets.patch'),
    'datasets.update': (c) => datasetWrite(c, 'datasets.update'),
    'datasets.delete': async (c) => {
      const { projectId, datasetId, dataset, path } = ids(c);
      const contents = c.req.query.deleteContents === 'true';
      precheck(c, 'datasets.delete', dataset, ['DROP']);
      // With deleteContents every table goes too: each is a DROP the policy must allow.
      const tables = contents ? await listAll(`${path}/tables`, 'tables', (t) => `${projectId}.${datasetId}.${t.tableReference?.tableId}`) : [];
      const decision = decideMethod(c, 'datasets.delete', writes('DROP', dataset), ...tables.map((t) => writes('DROP', t)));
      for (const t of tables) catalog.invalidate(t);
      await upstream.ok('DELETE', path, { query: pick(c.req.query, ['deleteContents']), as: await as(c, decision) });
      return { status: 204, body: '' };
    },

    'routines.list': async (c) => {
      const { projectId, datasetId, path } = ids(c);
      mustSeeDataset(c, projectId, datasetId);
      const r = await upstream.ok('GET', `${path}/routines`, { query: pick(c.req.query, ['maxResults', 'pageToken', 'filter', 'readMask']) });
      return { body: { kind: 'bigquery#listRoutinesResponse', ...only(r, ['nextPageToken']), routines: (r.routines ?? []).map((x: any) => only(x, ROUTINE_KEYS)) } };
    },
    'routines.get': async (c) => {
      const { projectId, datasetId, path, routineId } = ids(c);
      mustSeeDataset(c, projectId, datasetId);
      return { body: only(await upstream.ok('GET', `${path}/routines/${enc(routineId!)}`, { query: pick(c.req.query, ['readMask']) }), ROUTINE_KEYS) };
    },
    'routines.insert': async (c) => {
      const { projectId, datasetId, path } = ids(c);
      const b = body(c);
      for (const k of Object.keys(b)) if (!ROUTINE_SET.has(k)) throw new BigQueryError('accessDenied', `Access Denied: routines.insert with ${k} is refused by bqgate: it cannot see the effect of that field. Leave it out.`);
      const id = b.routineReference?.routineId;
      if (typeof id !== 'string' || !id) throw new BigQueryError('invalid', 'Invalid value for routineReference.routineId: routines.insert needs the new routine\'s id.');
      const decision = decideMethod(c, 'routines.insert', writes(routineVerb(b.routineType), `${projectId}.${datasetId}.${id}`));
      const r = await upstream.ok('POST', `${path}/routines`, { body: b, as: await as(c, decision) });
      return { body: only(r, ROUTINE_KEYS) };
    },
    'routines.update': async (c) => {
      const { projectId, datasetId, path, routineId } = ids(c);
      const b = body(c);
      for (const k of Object.keys(b)) if (!ROUTINE_SET.has(k)) throw new BigQueryError('accessDenied', `Access Denied: routines.update with ${k} is refused by bqgate: it cannot see the effect of that field. Leave it out.`);
      const routine = `${projectId}.${datasetId}.${routineId}`;
      // BigQuery changes a routine with CREATE OR REPLACE: the analyzer reports the CREATE_* verb.
      precheck(c, 'routines.update', routine, ['CREATE_FUNCTION', 'CREATE_TABLE_FUNCTION', 'CREATE_PROCEDURE']);
      const decision = decideMethod(c, 'routines.update', writes(routineVerb(b.routineType ?? await routineType(c)), routine));
      const r = await upstream.ok('PUT', `${path}/routines/${enc(routineId!)}`, { body: b, as: await as(c, decision) });
      return { body: only(r, ROUTINE_KEYS) };
    },
    'routines.delete': async (c) => {
      const { projectId, datasetId, path, routineId } = ids(c);
      const routine = `${projectId}.${datasetId}.${routineId}`;
      precheck(c, 'routines.delete', routine, ['DROP_FUNCTION', 'DROP_TABLE_FUNCTION', 'DROP']);
      const decision = decideMethod(c, 'routines.delete', writes(dropVerb(routineVerb(await routineType(c))), routine));
      await upstream.ok('DELETE', `${path}/routines/${enc(routineId!)}`, { as: await as(c, decision) });
      return { status: 204, body: '' };
    },

    'models.list': async (c) => {
      const { projectId, datasetId, path } = ids(c);
      mustSeeDataset(c, projectId, datasetId);
      const r = await upstream.ok('GET', `${path}/models`, { query: pick(c.req.query, ['maxResults', 'pageToken']) });
      return { body: { ...only(r, ['nextPageToken']), models: (r.models ?? []).map((x: any) => only(x, MODEL_KEYS)) } };
    },
    'models.get': async (c) => {
      const { projectId, datasetId, path, modelId } = ids(c);
      mustSeeDataset(c, projectId, datasetId);
      return { body: only(await upstream.ok('GET', `${path}/models/${enc(modelId!)}`), MODEL_KEYS) };
    },
    'models.patch': async (c) => {
      const { projectId, datasetId, path, modelId } = ids(c);
      const b = body(c);
      for (const k of Object.keys(b)) if (!MODEL_SET.has(k)) throw new BigQueryError('accessDenied', `Access Denied: models.patch with ${k} is refused by bqgate: it cannot see the effect of that field. Leave it out.`);
      const decision = decideMethod(c, 'models.patch', writes('ALTER_MODEL', `${projectId}.${datasetId}.${modelId}`));
      return { body: only(await upstream.ok('PATCH', `${path}/models/${enc(modelId!)}`, { body: b, as: await as(c, decision) }), MODEL_KEYS) };
    },
    'models.delete': async (c) => {
      const { projectId, datasetId, path, modelId } = ids(c);
      const decision = decideMethod(c, 'models.delete', writes('DROP', `${projectId}.${datasetId}.${modelId}`));
      await upstream.ok('DELETE', `${path}/models/${enc(modelId!)}`, { as: await as(c, decision) });
      return { status: 204, body: '' };
    },

    // IAM policies: reading or setting who may access a table or routine is GRANT on it (admin-only unless a rule allows GRANT).
    'tables.getIamPolicy': (c) => iam(c, 'tables.getIamPolicy', `${ids(c).projectId}.${ids(c).datasetId}.${c.req.params.tableId}`, `tables/${enc(c.req.params.tableId!)}:getIamPolicy`),
    'tables.setIamPolicy': (c) => iam(c, 'tables.setIamPolicy', `${ids(c).projectId}.${ids(c).datasetId}.${c.req.params.tableId}`, `tables/${enc(c.req.params.tableId!)}:setIamPolicy`),
    'routines.getIamPolicy': (c) => iam(c, 'routines.getIamPolicy', `${ids(c).projectId}.${ids(c).datasetId}.${c.req.params.routineId}`, `routines/${enc(c.req.params.routineId!)}:getIamPolicy`),
    'routines.setIamPolicy': (c) => iam(c, 'routines.setIamPolicy', `${ids(c).projectId}.${ids(c).datasetId}.${c.req.params.routineId}`, `routines/${enc(c.req.params.routineId!)}:setIamPolicy`),

    // Row access policies of a table: listing and reading them are reads of the table; creating,
    // replacing and dropping them are CREATE_ROW_ACCESS_POLICY / DROP_ROW_ACCESS_POLICY (the verbs of the DDL).
    'rowAccessPolicies.list': (c) => rowPolicies(c, 'GET', undefined, ''),
    'rowAccessPolicies.get': (c) => rowPolicies(c, 'GET', undefined, `/${enc(c.req.params.policyId!)}`),
    'rowAccessPolicies.insert': (c) => rowPolicies(c, 'POST', 'CREATE_ROW_ACCESS_POLICY', ''),
    'rowAccessPolicies.update': (c) => rowPolicies(c, 'PUT', 'CREATE_ROW_ACCESS_POLICY', `/${enc(c.req.params.policyId!)}`),
    'rowAccessPolicies.delete': (c) => rowPolicies(c, 'DELETE', 'DROP_ROW_ACCESS_POLICY', `/${enc(c.req.params.policyId!)}`),
    'rowAccessPolicies.batchDelete': (c) => rowPolicies(c, 'POST', 'DROP_ROW_ACCESS_POLICY', ':batchDelete'),

    'datasets.undelete': async (c) => {
      const { dataset, path } = ids(c);
      const decision = decideMethod(c, 'datasets.undelete', writes('UNDROP', dataset));
      return { body: datasetResource(await upstream.ok('POST', `${path}:undelete`, { body: pick(body(c), ['deletionTime']), as: await as(c, decision) })) };
    },
    'projects.getServiceAccount': async (c) => {
      // The project's BigQuery service account (for CMEK grants): metadata for any caller with an allow rule.
      requireAnyAllow(c.policy, c.principal);
      const r = await upstream.ok('GET', `/projects/${enc(c.req.params.projectId!)}/serviceAccount`);
      return { body: { kind: 'bigquery#getServiceAccountResponse', ...only(r, ['email']) } };
    },

    'jobs.delete': async (c) => {
      const { projectId, jobId } = c.req.params;
      const j = await findOwnJob(store, c.principal, projectId!, jobId!);
      if (!j) throw new BigQueryError('notFound', `Not found: Job ${projectId}:${jobId}`);
      c.audit = { decision: 'allow', matchedRules: [], reasons: ['The caller\'s own job (a caller may delete only the jobs it created).'], policyVersion: c.policy.version, upstreamMethod: 'jobs.delete', jobId: j.jobId };
      await upstream.ok('DELETE', `/projects/${enc(j.projectId)}/jobs/${enc(j.jobId)}/delete`, { query: { location: c.req.query.location ?? j.location }, as: (await credentials.forJob(c.principal, c.callerToken)).client });
      return { status: 204, body: '' };
    },
  };

  /** An IAM policy read or change of `object`, decided as GRANT on it; the body is the caller's (policy, updateMask, options). */
  async function iam(c: Ctx, method: string, object: string, tail: string): Promise<Outcome> {
    const decision = decideMethod(c, method, writes('GRANT', object));
    const r = await upstream.ok('POST', `${ids(c).path}/${tail}`, { body: pick(body(c), ['policy', 'updateMask', 'options']), as: await as(c, decision) });
    return { body: only(r, ['version', 'bindings', 'etag', 'auditConfigs']) };
  }

  /** A row access policy method of the table in the path: a read when `verb` is undefined, else decided as `verb` on the table. */
  async function rowPolicies(c: Ctx, http: 'GET' | 'POST' | 'PUT' | 'DELETE', verb: string | undefined, tail: string): Promise<Outcome> {
    const { projectId, datasetId, tableId, path } = ids(c);
    const table = `${projectId}.${datasetId}.${tableId}`;
    const base = `${path}/tables/${enc(tableId!)}/rowAccessPolicies${tail}`;
    if (!verb) {
      if (!canSeeTable(c.policy, c.principal, table)) throw new BigQueryError('accessDenied', `Access Denied: Table ${table}: no bqgate policy rule lets ${c.principal.subject} read it.`);
      return { body: await upstream.ok('GET', base, { query: pick(c.req.query, ['pageSize', 'pageToken']) }) };
    }
    const decision = decideMethod(c, `rowAccessPolicies.${http === 'DELETE' ? 'delete' : tail === ':batchDelete' ? 'batchDelete' : http === 'PUT' ? 'update' : 'insert'}`, writes(verb, table));
    const r = await upstream.ok(http, base, { ...(http === 'DELETE' ? { query: pick(c.req.query, ['force']) } : { body: body(c) }), as: await as(c, decision) });
    return http === 'DELETE' || tail === ':batchDelete' ? { status: 204, body: '' } : { body: r };
  }

  /** Every item of a paged upstream list (gateway credential), mapped by `name`. */
  async function listAll(path: string, key: string, name: (x: any) => string): Promise<string[]> {
    const out: string[] = [];
    let pageToken: string | undefined;
    for (let i = 0; i < 1000; i++) {
      const r = await upstream.ok('GET', path, { query: { maxResults: '1000', pageToken } });
      out.push(...(r[key] ?? []).map(name));
      pageToken = r.nextPageToken;
      if (!pageToken) return out;
    }
    throw new BigQueryError('accessDenied', `Access Denied: ${path} lists too many items for bqgate to decide each; nothing was deleted.`);
  }

  // Refusals that carry an upstream message are redacted of keyed-mask material.
  return Object.fromEntries(Object.entries(ops).map(([op, h]) => [op, async (c: Ctx) => { try { return await h(c); } catch (err) { throw callerError(err); } }])) as typeof ops;
}

export type { Operation };
