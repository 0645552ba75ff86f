/**
 * `bigquery/`: the REST surface. `ROUTES` maps each BigQuery v2 method the clients use
 * (CONTRACT.md §3) to an operation name; `parseRequest` turns a fastify request into plain data.
 * Both `/bigquery/v2/projects/…` and `/projects/…` are served.
 */
export { BigQueryError, envelope, asBigQueryError, type Reason } from './errors.js';
export { discoveryDocument } from './discovery.js';
export { installBigQueryHttp, sendError, pageToken, fromPageToken } from './http.js';

export type Operation =
  | 'jobs.query' | 'jobs.getQueryResults' | 'jobs.insert' | 'jobs.get' | 'jobs.cancel' | 'jobs.list'
  | 'tabledata.list' | 'tables.get' | 'tables.list' | 'datasets.get' | 'datasets.list' | 'projects.list'
  // bqgate's own API (/bqgate/v1/…), served through the same authenticated, audited pipeline.
  | 'approvals.list' | 'approvals.get' | 'approvals.approve' | 'approvals.deny'
  | 'audit.reexecute'
  // the web console's API (console/api.ts)
  | 'console.me' | 'sessions.list' | 'sessions.get' | 'policy.explain' | 'audit.stats';

export const ROUTES: Array<{ method: 'GET' | 'POST'; path: string; op: Operation }> = [
  { method: 'POST', path: '/projects/:projectId/queries', op: 'jobs.query' },
  { method: 'GET', path: '/projects/:projectId/queries/:jobId', op: 'jobs.getQueryResults' },
  { method: 'POST', path: '/projects/:projectId/jobs', op: 'jobs.insert' },
  { method: 'GET', path: '/projects/:projectId/jobs', op: 'jobs.list' },
  { method: 'GET', path: '/projects/:projectId/jobs/:jobId', op: 'jobs.get' },
  { method: 'POST', path: '/projects/:projectId/jobs/:jobId/cancel', op: 'jobs.cancel' },
  { method: 'GET', path: '/projects/:projectId/datasets/:datasetId/tables/:tableId/data', op: 'tabledata.list' },
  { method: 'GET', path: '/projects/:projectId/datasets/:datasetId/tables/:tableId', op: 'tables.get' },
  { method: 'GET', path: '/projects/:projectId/datasets/:datasetId/tables', op: 'tables.list' },
  { method: 'GET', path: '/projects/:projectId/datasets/:datasetId', op: 'datasets.get' },
  { method: 'GET', path: '/projects/:projectId/datasets', op: 'datasets.list' },
  { method: 'GET', path: '/projects', op: 'projects.list' },
];

/** One REST call as plain data. */
export interface ApiRequest {
  op: Operation;
  params: { projectId?: string; jobId?: string; datasetId?: string; tableId?: string; approvalId?: string; requestId?: string; sessionId?: string };
  query: Record<string, string | undefined>;
  body: any;
  client?: string;
}
