/**
 * `bigquery/`: the REST surface. `ROUTES` maps each BigQuery v2 method the clients use
 * (CONTRACT.md §3) to an operation name; `parseRequest` turns a fastify request into plain data.
 * Both `/bigquery/v2/projects/…` and `/projects/…` are served.
 */
export { BigQueryError, envelope, asBigQueryError, type Reason } from './errors.js';
export { discoveryDocument } from './discovery.js';
export { installBigQueryHttp, sendError, pageToken, fromPageToken } from './http.js';
export { validateLabels, callerLabels, isGatewayLabel, GATEWAY_LABELS } from './labels.js';
export { checkParam, type ParamSpec, type ParamType } from './params.js';
export { multipartParts, multipartBody } from './multipart.js';

/**
 * The dataset under which a caller names its own query job's anonymous results:
 * `projects/P/datasets/_bqgate_results/tables/<jobId>` (the job id as the caller knows it). jobs.get
 * shows it as the job's `configuration.query.destinationTable` (BigQuery shows its `_…` anonymous
 * table there, which the gateway keeps inside), so a client that reads a job's results with the
 * Storage Read API (Python's `QueryJob.to_dataframe(bqstorage_client=…)` reads `job.destination`)
 * asks the gateway's read door for exactly this name, served for the job's owner only.
 */
export const RESULTS_DATASET = '_bqgate_results';
import { validateParams, type ParamSpec } from './params.js';

export type Operation =
  | 'jobs.query' | 'jobs.getQueryResults' | 'jobs.insert' | 'jobs.get' | 'jobs.cancel' | 'jobs.list'
  | 'tabledata.list' | 'tables.get' | 'tables.list' | 'datasets.get' | 'datasets.list' | 'projects.list'
  // decided as the statement each equals (methods/)
  | 'tables.insert' | 'tables.patch' | 'tables.update' | 'tables.delete' | 'tabledata.insertAll'
  | 'datasets.insert' | 'datasets.patch' | 'datasets.update' | 'datasets.delete'
  | 'routines.list' | 'routines.get' | 'routines.insert' | 'routines.update' | 'routines.delete'
  | 'models.list' | 'models.get' | 'models.patch' | 'models.delete' | 'jobs.delete'
  | 'tables.getIamPolicy' | 'tables.setIamPolicy' | 'routines.getIamPolicy' | 'routines.setIamPolicy'
  | 'rowAccessPolicies.list' | 'rowAccessPolicies.get' | 'rowAccessPolicies.insert' | 'rowAccessPolicies.update' | 'rowAccessPolicies.delete' | 'rowAccessPolicies.batchDelete'
  | 'datasets.undelete' | 'projects.getServiceAccount'
  // the media upload endpoint (/upload/bigquery/v2/projects/{p}/jobs): a load job's POST, a resumable session's PUT
  | 'jobs.upload' | 'jobs.uploadChunk'
  // every other BigQuery v2 method, and any other path under /bigquery/v2: refused, audited
  | 'method.refused'
  // bqgate's own API (/bqgate/v1/…), served through the same authenticated, audited pipeline.
  | 'approvals.list' | 'approvals.get' | 'approvals.approve' | 'approvals.deny'
  | 'audit.reexecute'
  // the web console's API (console/api.ts)
  | 'console.me' | 'sessions.list' | 'sessions.get' | 'policy.explain' | 'audit.stats' | 'policy.diff'
  // the BigQuery Storage Read API (gRPC google.cloud.bigquery.storage.v1.BigQueryRead, doors/storage/)
  | 'storage.createReadSession' | 'storage.readRows' | 'storage.splitReadStream';

/** Row-read query parameters (getQueryResults, tabledata.list). */
const ROWS = { startIndex: 'uint64', maxResults: 'uint32', pageToken: 'string', 'formatOptions.useInt64Timestamp': 'bool' } as const;
/** List query parameters. */
const LIST = { maxResults: 'uint32', pageToken: 'string' } as const;
const D = '/projects/:projectId/datasets/:datasetId';
const T = `${D}/tables/:tableId`;
/** Typed fields of a Table body (tables.insert/patch/update). */
const TABLE_BODY = { description: 'string', friendlyName: 'string', labels: 'labels', expirationTime: 'int64', requirePartitionFilter: 'bool', 'view.query': 'string', 'view.useLegacySql': 'bool', 'materializedView.query': 'string' } as const;
/** Typed fields of a Dataset body (datasets.insert/patch/update). */
const DATASET_BODY = { description: 'string', friendlyName: 'string', labels: 'labels', location: 'string', defaultTableExpirationMs: 'int64', defaultPartitionExpirationMs: 'int64', maxTimeTravelHours: 'int64' } as const;
/** The query options jobs.query (QueryRequest) and jobs.insert (JobConfigurationQuery) share. */
const queryOptions = (at: string) => ({ [`${at}maximumBytesBilled`]: 'uint64', [`${at}useLegacySql`]: 'bool', [`${at}useQueryCache`]: 'bool', [`${at}query`]: 'string' } as const);

/**
 * The BigQuery v2 methods served, with the parameters the REST reference types (query strings,
 * and dotted paths into the body), checked by `validateRequest` before the operation runs.
 */
export const ROUTES: Array<{ method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'; path: string; op: Operation; params?: ParamSpec }> = [
  { method: 'POST', path: '/projects/:projectId/queries', op: 'jobs.query', params: { body: {
    maxResults: 'uint32', timeoutMs: 'uint32', dryRun: 'bool', requestId: 'requestId', labels: 'labels', location: 'string', jobTimeoutMs: 'uint64', ...queryOptions(''),
  } } },
  { method: 'GET', path: '/projects/:projectId/queries/:jobId', op: 'jobs.getQueryResults', params: { query: { ...ROWS, timeoutMs: 'uint32', location: 'string' } } },
  { method: 'POST', path: '/projects/:projectId/jobs', op: 'jobs.insert', params: { body: {
    'jobReference.jobId': 'jobId', 'jobReference.location': 'string', 'configuration.dryRun': 'bool', 'configuration.jobTimeoutMs': 'uint64', 'configuration.labels': 'labels',
    'configuration.query.maximumBillingTier': 'int32', ...queryOptions('configuration.query.'),
  } } },
  { method: 'GET', path: '/projects/:projectId/jobs', op: 'jobs.list', params: { query: { ...LIST, allUsers: 'bool', minCreationTime: 'uint64', maxCreationTime: 'uint64', parentJobId: 'string', projection: 'string' } } },
  { method: 'DELETE', path: '/projects/:projectId/jobs/:jobId/delete', op: 'jobs.delete', params: { query: { location: 'string' } } },
  { method: 'GET', path: '/projects/:projectId/jobs/:jobId', op: 'jobs.get', params: { query: { location: 'string' } } },
  { method: 'POST', path: '/projects/:projectId/jobs/:jobId/cancel', op: 'jobs.cancel', params: { query: { location: 'string' } } },
  { method: 'GET', path: '/projects/:projectId/datasets/:datasetId/tables/:tableId/data', op: 'tabledata.list', params: { query: { ...ROWS, selectedFields: 'string' } } },
  { method: 'POST', path: `${T}/insertAll`, op: 'tabledata.insertAll', params: { body: { skipInvalidRows: 'bool', ignoreUnknownValues: 'bool', templateSuffix: 'string', traceId: 'string' } } },
  { method: 'GET', path: T, op: 'tables.get', params: { query: { selectedFields: 'string', view: 'string' } } },
  { method: 'PATCH', path: T, op: 'tables.patch', params: { query: { autodetect_schema: 'bool' }, body: { ...TABLE_BODY, labels: 'patchLabels' } } },
  { method: 'PUT', path: T, op: 'tables.update', params: { query: { autodetect_schema: 'bool' }, body: TABLE_BODY } },
  { method: 'DELETE', path: T, op: 'tables.delete' },
  { method: 'GET', path: `${D}/tables`, op: 'tables.list', params: { query: LIST } },
  { method: 'POST', path: `${D}/tables`, op: 'tables.insert', params: { body: { ...TABLE_BODY, 'tableReference.tableId': 'string' } } },
  { method: 'GET', path: `${D}/routines/:routineId`, op: 'routines.get', params: { query: { readMask: 'string' } } },
  { method: 'PUT', path: `${D}/routines/:routineId`, op: 'routines.update', params: { body: { routineType: 'string', definitionBody: 'string', language: 'string' } } },
  { method: 'DELETE', path: `${D}/routines/:routineId`, op: 'routines.delete' },
  { method: 'GET', path: `${D}/routines`, op: 'routines.list', params: { query: { ...LIST, filter: 'string', readMask: 'string' } } },
  { method: 'POST', path: `${D}/routines`, op: 'routines.insert', params: { body: { 'routineReference.routineId': 'string', routineType: 'string', definitionBody: 'string', language: 'string' } } },
  { method: 'GET', path: `${D}/models/:modelId`, op: 'models.get' },
  { method: 'PATCH', path: `${D}/models/:modelId`, op: 'models.patch', params: { body: { description: 'string', friendlyName: 'string', labels: 'patchLabels', expirationTime: 'int64' } } },
  { method: 'DELETE', path: `${D}/models/:modelId`, op: 'models.delete' },
  { method: 'GET', path: `${D}/models`, op: 'models.list', params: { query: LIST } },
  { method: 'GET', path: D, op: 'datasets.get', params: { query: { accessPolicyVersion: 'int32', datasetView: 'string' } } },
  { method: 'PATCH', path: D, op: 'datasets.patch', params: { query: { updateMode: 'string', accessPolicyVersion: 'int32' }, body: { ...DATASET_BODY, labels: 'patchLabels' } } },
  { method: 'PUT', path: D, op: 'datasets.update', params: { query: { updateMode: 'string', accessPolicyVersion: 'int32' }, body: DATASET_BODY } },
  { method: 'DELETE', path: D, op: 'datasets.delete', params: { query: { deleteContents: 'bool' } } },
  { method: 'GET', path: '/projects/:projectId/datasets', op: 'datasets.list', params: { query: { ...LIST, all: 'bool', filter: 'string' } } },
  { method: 'POST', path: '/projects/:projectId/datasets', op: 'datasets.insert', params: { query: { accessPolicyVersion: 'int32' }, body: { ...DATASET_BODY, 'datasetReference.datasetId': 'string' } } },
  { method: 'GET', path: '/projects', op: 'projects.list', params: { query: LIST } },
];

const SPECS = new Map(ROUTES.map((r) => [r.op, r.params]));

/**
 * Checks `req`'s query string and body against its method's declared parameters (ROUTES);
 * throws BigQueryError('invalid') naming the first bad one. Methods without a declaration pass.
 */
export function validateRequest(req: Pick<ApiRequest, 'op' | 'query' | 'body'>): void {
  validateParams(SPECS.get(req.op), req.query, req.body);
}

/** One REST call as plain data. */
export interface ApiRequest {
  op: Operation;
  params: { projectId?: string; jobId?: string; datasetId?: string; tableId?: string; routineId?: string; modelId?: string; policyId?: string; approvalId?: string; requestId?: string; sessionId?: string };
  /** The HTTP verb and path as received (for the refusal of a method bqgate does not govern). */
  method?: string;
  url?: string;
  query: Record<string, string | undefined>;
  body: any;
  client?: string;
  /** An upload endpoint request (jobs.upload, jobs.uploadChunk): `body` is then its Job resource. */
  upload?: MediaUpload;
}

/** What an upload request carries besides its Job resource (upload.ts). */
export interface MediaUpload {
  /** The file (multipart) or the chunk (PUT); absent for a resumable session's opening POST. */
  media?: Buffer;
  mediaType?: string;
  /** The PUT's Content-Range and the opening POST's X-Upload-Content-Length, as sent. */
  contentRange?: string;
  uploadLength?: string;
}
