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
import { validateParams, type ParamSpec } from './params.js';

export type Operation =
  | 'jobs.query' | 'jobs.getQueryResults' | 'jobs.insert' | 'jobs.get' | 'jobs.cancel' | 'jobs.list'
  | 'tabledata.list' | 'tables.get' | 'tables.list' | 'datasets.get' | 'datasets.list' | 'projects.list'
  // bqgate's own API (/bqgate/v1/…), served through the same authenticated, audited pipeline.
  | 'approvals.list' | 'approvals.get' | 'approvals.approve' | 'approvals.deny'
  | 'audit.reexecute'
  // the web console's API (console/api.ts)
  | 'console.me' | 'sessions.list' | 'sessions.get' | 'policy.explain' | 'audit.stats';

/** Row-read query parameters (getQueryResults, tabledata.list). */
const ROWS = { startIndex: 'uint64', maxResults: 'uint32', pageToken: 'string', 'formatOptions.useInt64Timestamp': 'bool' } as const;
/** List query parameters. */
const LIST = { maxResults: 'uint32', pageToken: 'string' } as const;
/** The query options jobs.query (QueryRequest) and jobs.insert (JobConfigurationQuery) share. */
const queryOptions = (at: string) => ({ [`${at}maximumBytesBilled`]: 'uint64', [`${at}useLegacySql`]: 'bool', [`${at}useQueryCache`]: 'bool', [`${at}query`]: 'string' } as const);

/**
 * The BigQuery v2 methods served, with the parameters the REST reference types (query strings,
 * and dotted paths into the body), checked by `validateRequest` before the operation runs.
 */
export const ROUTES: Array<{ method: 'GET' | 'POST'; path: string; op: Operation; params?: ParamSpec }> = [
  { method: 'POST', path: '/projects/:projectId/queries', op: 'jobs.query', params: { body: {
    maxResults: 'uint32', timeoutMs: 'uint32', dryRun: 'bool', requestId: 'requestId', labels: 'labels', location: 'string', jobTimeoutMs: 'uint64', ...queryOptions(''),
  } } },
  { method: 'GET', path: '/projects/:projectId/queries/:jobId', op: 'jobs.getQueryResults', params: { query: { ...ROWS, timeoutMs: 'uint32', location: 'string' } } },
  { method: 'POST', path: '/projects/:projectId/jobs', op: 'jobs.insert', params: { body: {
    'jobReference.jobId': 'jobId', 'jobReference.location': 'string', 'configuration.dryRun': 'bool', 'configuration.jobTimeoutMs': 'uint64', 'configuration.labels': 'labels',
    'configuration.query.maximumBillingTier': 'int32', ...queryOptions('configuration.query.'),
  } } },
  { method: 'GET', path: '/projects/:projectId/jobs', op: 'jobs.list', params: { query: { ...LIST, allUsers: 'bool', minCreationTime: 'uint64', maxCreationTime: 'uint64' } } },
  { method: 'GET', path: '/projects/:projectId/jobs/:jobId', op: 'jobs.get', params: { query: { location: 'string' } } },
  { method: 'POST', path: '/projects/:projectId/jobs/:jobId/cancel', op: 'jobs.cancel', params: { query: { location: 'string' } } },
  { method: 'GET', path: '/projects/:projectId/datasets/:datasetId/tables/:tableId/data', op: 'tabledata.list', params: { query: { ...ROWS, selectedFields: 'string' } } },
  { method: 'GET', path: '/projects/:projectId/datasets/:datasetId/tables/:tableId', op: 'tables.get', params: { query: { selectedFields: 'string' } } },
  { method: 'GET', path: '/projects/:projectId/datasets/:datasetId/tables', op: 'tables.list', params: { query: LIST } },
  { method: 'GET', path: '/projects/:projectId/datasets/:datasetId', op: 'datasets.get', params: { query: { accessPolicyVersion: 'int32' } } },
  { method: 'GET', path: '/projects/:projectId/datasets', op: 'datasets.list', params: { query: { ...LIST, all: 'bool', filter: 'string' } } },
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
  params: { projectId?: string; jobId?: string; datasetId?: string; tableId?: string; approvalId?: string; requestId?: string; sessionId?: string };
  query: Record<string, string | undefined>;
  body: any;
  client?: string;
}
