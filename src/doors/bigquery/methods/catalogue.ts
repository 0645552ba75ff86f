/**
 * The BigQuery v2 method catalogue: every method of the v2 discovery document (the one `bq` ships,
 * `platform/bq/discovery_next/bigquery.json`; REST reference
 * https://cloud.google.com/bigquery/docs/reference/rest), with its HTTP verb and path relative to
 * `/bigquery/v2`. The gateway routes each one: a method it governs runs through the pipeline, any
 * other is refused with accessDenied naming it (never a 404), after authentication, audited.
 *
 * `matchMethod` turns an HTTP verb and path into `{id, params}` (plain data): the method id without
 * the `bigquery.` prefix (`tables.delete`) and the path's named parts (`projectId`, `datasetId`,
 * `tableId`, `jobId`, `routineId`, `modelId`, `policyId`), URL-decoded.
 */

export type HttpVerb = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** One v2 method: its id, HTTP verb and path template (`{name}` is one path segment). */
export interface MethodSpec { id: string; http: HttpVerb; path: string }

const P = '/projects/{projectId}';
const D = `${P}/datasets/{datasetId}`;
const T = `${D}/tables/{tableId}`;
const RAP = `${T}/rowAccessPolicies`;

/** Every BigQuery v2 method (46), as the discovery document lists them. */
export const METHODS: readonly MethodSpec[] = [
  { id: 'datasets.delete', http: 'DELETE', path: D },
  { id: 'datasets.get', http: 'GET', path: D },
  { id: 'datasets.insert', http: 'POST', path: `${P}/datasets` },
  { id: 'datasets.list', http: 'GET', path: `${P}/datasets` },
  { id: 'datasets.patch', http: 'PATCH', path: D },
  { id: 'datasets.undelete', http: 'POST', path: `${D}:undelete` },
  { id: 'datasets.update', http: 'PUT', path: D },
  { id: 'jobs.cancel', http: 'POST', path: `${P}/jobs/{jobId}/cancel` },
  { id: 'jobs.delete', http: 'DELETE', path: `${P}/jobs/{jobId}/delete` },
  { id: 'jobs.get', http: 'GET', path: `${P}/jobs/{jobId}` },
  { id: 'jobs.getQueryResults', http: 'GET', path: `${P}/queries/{jobId}` },
  { id: 'jobs.insert', http: 'POST', path: `${P}/jobs` },
  { id: 'jobs.list', http: 'GET', path: `${P}/jobs` },
  { id: 'jobs.query', http: 'POST', path: `${P}/queries` },
  { id: 'models.delete', http: 'DELETE', path: `${D}/models/{modelId}` },
  { id: 'models.get', http: 'GET', path: `${D}/models/{modelId}` },
  { id: 'models.list', http: 'GET', path: `${D}/models` },
  { id: 'models.patch', http: 'PATCH', path: `${D}/models/{modelId}` },
  { id: 'projects.getServiceAccount', http: 'GET', path: `${P}/serviceAccount` },
  { id: 'projects.list', http: 'GET', path: '/projects' },
  { id: 'routines.delete', http: 'DELETE', path: `${D}/routines/{routineId}` },
  { id: 'routines.get', http: 'GET', path: `${D}/routines/{routineId}` },
  { id: 'routines.getIamPolicy', http: 'POST', path: `${D}/routines/{routineId}:getIamPolicy` },
  { id: 'routines.insert', http: 'POST', path: `${D}/routines` },
  { id: 'routines.list', http: 'GET', path: `${D}/routines` },
  { id: 'routines.setIamPolicy', http: 'POST', path: `${D}/routines/{routineId}:setIamPolicy` },
  { id: 'routines.update', http: 'PUT', path: `${D}/routines/{routineId}` },
  { id: 'rowAccessPolicies.batchDelete', http: 'POST', path: `${RAP}:batchDelete` },
  { id: 'rowAccessPolicies.delete', http: 'DELETE', path: `${RAP}/{policyId}` },
  { id: 'rowAccessPolicies.get', http: 'GET', path: `${RAP}/{policyId}` },
  { id: 'rowAccessPolicies.getIamPolicy', http: 'POST', path: `${RAP}/{policyId}:getIamPolicy` },
  { id: 'rowAccessPolicies.insert', http: 'POST', path: RAP },
  { id: 'rowAccessPolicies.list', http: 'GET', path: RAP },
  { id: 'rowAccessPolicies.testIamPermissions', http: 'POST', path: `${RAP}/{policyId}:testIamPermissions` },
  { id: 'rowAccessPolicies.update', http: 'PUT', path: `${RAP}/{policyId}` },
  { id: 'tabledata.insertAll', http: 'POST', path: `${T}/insertAll` },
  { id: 'tabledata.list', http: 'GET', path: `${T}/data` },
  { id: 'tables.delete', http: 'DELETE', path: T },
  { id: 'tables.get', http: 'GET', path: T },
  { id: 'tables.getIamPolicy', http: 'POST', path: `${T}:getIamPolicy` },
  { id: 'tables.insert', http: 'POST', path: `${D}/tables` },
  { id: 'tables.list', http: 'GET', path: `${D}/tables` },
  { id: 'tables.patch', http: 'PATCH', path: T },
  { id: 'tables.setIamPolicy', http: 'POST', path: `${T}:setIamPolicy` },
  { id: 'tables.testIamPermissions', http: 'POST', path: `${T}:testIamPermissions` },
  { id: 'tables.update', http: 'PUT', path: T },
];

/** A template as a regular expression over the raw path, and its parameter names in order. */
function compile(path: string): { re: RegExp; names: string[] } {
  const names: string[] = [];
  const src = path.split(/(\{[A-Za-z]+\})/).map((part) => {
    const m = /^\{([A-Za-z]+)\}$/.exec(part);
    if (m) { names.push(m[1]); return '([^/:]+)'; }
    return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }).join('');
  return { re: new RegExp(`^${src}/?$`), names };
}

const COMPILED = METHODS.map((m) => ({ ...m, ...compile(m.path) }));

/**
 * The method `http path` is, and its path parameters; undefined when the path is no v2 method.
 * `path` is relative to `/bigquery/v2` (a `/bigquery/v2` prefix and a query string are removed).
 * A path of a known method under another HTTP verb answers that method with `wrongVerb` set.
 */
export function matchMethod(http: string, rawPath: string): { id: string; params: Record<string, string>; wrongVerb?: boolean } | undefined {
  const path = rawPath.split('?')[0].replace(/^\/bigquery\/v2(?=\/|$)/, '') || '/';
  let sameWrongVerb: { id: string; params: Record<string, string>; wrongVerb: true } | undefined;
  for (const m of COMPILED) {
    const hit = m.re.exec(path);
    if (!hit) continue;
    let params: Record<string, string>;
    try { params = Object.fromEntries(m.names.map((n, i) => [n, decodeURIComponent(hit[i + 1])])); } catch { return undefined; }
    if (m.http === http.toUpperCase()) return { id: m.id, params };
    sameWrongVerb ??= { id: m.id, params, wrongVerb: true };
  }
  return sameWrongVerb;
}
