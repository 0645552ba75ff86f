/**
 * The MCP tools: Google's BigQuery MCP server's names and camelCase arguments
 * (https://cloud.google.com/bigquery/docs/reference/mcp — list_dataset_ids, get_dataset_info,
 * list_table_ids, get_table_info, execute_sql_readonly, execute_sql, get_query_results, get_job,
 * cancel_job) plus bqgate's explain_access. Each tool is one or more pipeline calls (the same
 * operations a REST client makes: datasets.list, tables.get, jobs.query, …), so every stage — analyze,
 * decide, approval, rewrite, upstream, deliver, audit — is the REST door's; a tool only reshapes the
 * answer (results.ts). Plain data: `Tool` is a definition, `run` the caller's pipeline.
 */
import type { CallToolResult, ToolAnnotations } from '@modelcontextprotocol/server';
import type { Operation } from '../../bigquery/index.js';
import type { PipelineResult } from '../../pipeline/index.js';
import { ok, refused, queryPage, clampRows, fromMcpPageToken, pickDefined, QUERY_OUTPUT, type PageCaps } from './results.js';

/** One pipeline call of a tool: the REST operation, its path params, URL query and body. */
export type RunOp = (op: Operation, params: Record<string, string | undefined>, opts?: { query?: Record<string, string | undefined>; body?: unknown }) => Promise<PipelineResult>;

export interface Tool {
  name: string;
  /** The operation a call is recorded as when the door refuses its arguments (its main pipeline call). */
  op: Operation;
  title: string;
  description: string;
  inputSchema: Record<string, unknown>;
  outputSchema: Record<string, unknown>;
  annotations: ToolAnnotations;
  /** Which callers see it in tools/list (the handler is governed by the pipeline regardless). */
  audience: 'everyone' | 'readers' | 'writers';
  handler(args: any, run: RunOp, caps: PageCaps): Promise<CallToolResult>;
}

/** An identifier argument: no backtick, backslash or line break (it may be spliced into a table path). */
const str = (description: string) => ({ type: 'string', minLength: 1, maxLength: 1024, pattern: '^[^`\\\\\\r\\n]+$', description });
const PROJECT = str('Required. The project ID.');
const DATASET = str('Required. The dataset ID.');
const TABLE = str('Required. The table ID.');
const JOB = str('Required. The job ID (jobReference.jobId of execute_sql).');
const LOCATION = { type: 'string', maxLength: 64, description: 'Optional. The job location.' };
const PAGE_SIZE = { type: 'integer', minimum: 1, maximum: 1000, description: 'Optional. At most this many entries.' };
const PAGE_TOKEN = { type: 'string', maxLength: 4096, description: 'Optional. The pageToken of the previous answer.' };
const object = (properties: Record<string, unknown>, required: string[]) => ({ type: 'object', properties, required, additionalProperties: false });
const READ: ToolAnnotations = { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false };

/** A pipeline answer as a tool result: `shape` on success, the REST refusal as isError. */
const answer = async (r: Promise<PipelineResult>, shape: (body: any) => Record<string, unknown>, summary?: (out: Record<string, unknown>) => string): Promise<CallToolResult> => {
  const res = await r;
  if (!res.ok) return refused(res.error);
  const out = shape(res.body);
  return ok(out, summary?.(out));
};

/**
 * A query answer (jobs.query or getQueryResults, rows from `start`): the page, or — not complete —
 * the job that runs, or waits for approval (its approval id, approver groups and expiry, from the
 * caller's own approvals list), to be resumed with get_query_results / get_job.
 */
async function queryAnswer(res: PipelineResult, start: number, run: RunOp, caps: PageCaps): Promise<CallToolResult> {
  if (!res.ok) return refused(res.error);
  const b = res.body;
  if (b.jobComplete) {
    const page = queryPage(b, start, caps);
    return ok({ status: 'DONE', ...page }, `${(page.rows as unknown[]).length} row(s)${page.pageToken ? '; more with get_query_results and this pageToken' : ''}.`);
  }
  const ref = b.jobReference ?? {};
  const approval = await pendingApproval(run, ref.jobId);
  if (approval) {
    return ok({ status: 'PENDING_APPROVAL', jobComplete: false, jobReference: ref, approval },
      `The statement waits for approval ${approval.id} by ${approval.approverGroups.join(', ')} (expires ${approval.expiresAt}). Nothing has run. Call get_query_results with jobId ${ref.jobId} later: it returns the result once approved, or the denial.`);
  }
  return ok({ status: 'RUNNING', jobComplete: false, jobReference: ref }, `The job is still running; call get_query_results with jobId ${ref.jobId}.`);
}

/** The caller's pending approval of its job `jobId` (approvals.list shows a requester its own). */
async function pendingApproval(run: RunOp, jobId: string | undefined) {
  if (!jobId) return undefined;
  const r = await run('approvals.list', {}, { query: { status: 'pending' } });
  if (!r.ok) return undefined;
  const a = (r.body.items ?? r.body.approvals ?? []).find((x: any) => x.jobId === jobId);
  if (!a) return undefined;
  return {
    id: String(a.id), status: String(a.status), expiresAt: String(a.expiresAt),
    approverGroups: [...new Set((a.requirements ?? []).flatMap((q: any) => q.approverGroups ?? []))] as string[],
    requirements: (a.requirements ?? []).map((q: any) => pickDefined(q, ['ruleId', 'description', 'approverGroups', 'count'])),
  };
}

/** jobs.query body of a tool's statement (GoogleSQL; the caller's labels). */
const queryBody = (a: any, caps: PageCaps) => ({
  query: a.query, useLegacySql: false, dryRun: a.dryRun === true || undefined, maxResults: clampRows(a.maxResults, caps),
  timeoutMs: typeof a.timeoutMs === 'number' ? Math.min(a.timeoutMs, 60_000) : 5000, ...(a.labels ? { labels: a.labels } : {}),
});

const dryRunAnswer = (b: any) => ok({ status: 'DRY_RUN', jobComplete: true, schema: b.schema ?? { fields: [] }, ...pickDefined(b, ['totalBytesProcessed', 'cacheHit']) },
  `Dry run: the statement is allowed and would process ${b.totalBytesProcessed ?? '?'} bytes. Nothing ran.`);

/** The caller's own access explanation (policy.explain for itself): a statement, or SELECT * of a table. */
const explainBody = (a: any) => ({ projectId: a.projectId, sql: a.query ?? `SELECT * FROM \`${a.projectId}.${a.datasetId}.${a.tableId}\`` });

const SQL_INPUT = (extra: Record<string, unknown> = {}) => object({
  projectId: str('Required. Project that will be used for query execution and billing.'),
  query: { type: 'string', minLength: 1, maxLength: 1_048_576, description: 'Required. The query to execute in the form of a GoogleSQL query.' },
  dryRun: { type: 'boolean', description: 'Optional. If true, the statement is checked and its bytes estimated; nothing runs.' },
  maxResults: PAGE_SIZE,
  timeoutMs: { type: 'integer', minimum: 0, maximum: 60000, description: 'Optional. How long to wait for the job to complete, ms (default 5000).' },
  ...extra,
}, ['projectId', 'query']);

export const TOOLS: Tool[] = [
  {
    name: 'list_dataset_ids', op: 'datasets.list', title: 'List datasets', audience: 'readers', annotations: READ,
    description: 'List BigQuery dataset IDs in a Google Cloud project (only the datasets the bqgate policy lets this caller see). Supports pagination with pageSize and pageToken.',
    inputSchema: object({ projectId: PROJECT, pageSize: PAGE_SIZE, pageToken: PAGE_TOKEN }, ['projectId']),
    outputSchema: { type: 'object', properties: { datasets: { type: 'array', items: { type: 'object' } }, nextPageToken: { type: 'string' } } },
    handler: (a, run) => answer(run('datasets.list', { projectId: a.projectId }, { query: { maxResults: a.pageSize?.toString(), pageToken: a.pageToken } }),
      (b) => ({ datasets: (b.datasets ?? []).map((d: any) => ({ id: d.datasetReference?.datasetId, ...pickDefined(d, ['friendlyName', 'location']) })), ...pickDefined(b, ['nextPageToken']) })),
  },
  {
    name: 'get_dataset_info', op: 'datasets.get', title: 'Get dataset info', audience: 'readers', annotations: READ,
    description: 'Get metadata information about a BigQuery dataset (datasets.get, as the bqgate policy lets this caller see it).',
    inputSchema: object({ projectId: PROJECT, datasetId: DATASET }, ['projectId', 'datasetId']),
    outputSchema: { type: 'object', properties: { datasetReference: { type: 'object' }, location: { type: 'string' } } },
    handler: (a, run) => answer(run('datasets.get', { projectId: a.projectId, datasetId: a.datasetId }), (b) => b),
  },
  {
    name: 'list_table_ids', op: 'tables.list', title: 'List tables', audience: 'readers', annotations: READ,
    description: 'List table IDs in a BigQuery dataset (only the tables the bqgate policy lets this caller see). Supports pagination with pageSize and pageToken.',
    inputSchema: object({ projectId: PROJECT, datasetId: DATASET, pageSize: PAGE_SIZE, pageToken: PAGE_TOKEN }, ['projectId', 'datasetId']),
    outputSchema: { type: 'object', properties: { tables: { type: 'array', items: { type: 'object' } }, nextPageToken: { type: 'string' } } },
    handler: (a, run) => answer(run('tables.list', { projectId: a.projectId, datasetId: a.datasetId }, { query: { maxResults: a.pageSize?.toString(), pageToken: a.pageToken } }),
      (b) => ({ tables: (b.tables ?? []).map((t: any) => ({ id: t.tableReference?.tableId, ...pickDefined(t, ['type']) })), ...pickDefined(b, ['nextPageToken']) })),
  },
  {
    name: 'get_table_info', op: 'tables.get', title: 'Get table info', audience: 'readers', annotations: READ,
    description: 'Get metadata information about a BigQuery table: its schema shows only the columns this caller may read (tables.get through the bqgate policy).',
    inputSchema: object({ projectId: PROJECT, datasetId: DATASET, tableId: TABLE }, ['projectId', 'datasetId', 'tableId']),
    outputSchema: { type: 'object', properties: { tableReference: { type: 'object' }, schema: { type: 'object' }, numRows: { type: 'string' } } },
    handler: (a, run) => answer(run('tables.get', { projectId: a.projectId, datasetId: a.datasetId, tableId: a.tableId }), (b) => b),
  },
  {
    name: 'execute_sql_readonly', op: 'jobs.query', title: 'Run a read-only query', audience: 'readers', annotations: READ,
    description: 'Run a read-only GoogleSQL query (SELECT only; anything else is refused before it runs) and return the result. Prefer this tool over execute_sql. Masks, row filters and limits of the bqgate policy apply; results are paged (pageToken → get_query_results).',
    inputSchema: SQL_INPUT(),
    outputSchema: QUERY_OUTPUT,
    async handler(a, run, caps) {
      // The statement kind from the caller's own explanation (policy.explain, a request of its own in
      // the audit), before the statement is sent.
      const ex = await run('policy.explain', { projectId: a.projectId }, { body: explainBody(a) });
      if (!ex.ok) return refused(ex.error);
      const kind = ex.body.analysis?.statementKind;
      if (!kind) return refused({ reason: 'accessDenied', message: ex.body.reasons?.[0] ?? 'Access Denied: the statement was not analyzed.' });
      if (kind !== 'SELECT') return refused({ reason: 'accessDenied', message: `execute_sql_readonly runs SELECT statements only; this statement is ${kind ?? 'not a query'}. Use execute_sql for statements that change data (if the policy allows them).` });
      const res = await run('jobs.query', { projectId: a.projectId }, { body: queryBody(a, caps) });
      if (res.ok && a.dryRun) return dryRunAnswer(res.body);
      return queryAnswer(res, 0, run, caps);
    },
  },
  {
    name: 'execute_sql', op: 'jobs.query', title: 'Run a statement', audience: 'writers',
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
    description: 'Run any GoogleSQL statement the bqgate policy allows (SELECT, INSERT, UPDATE, DELETE, MERGE, DDL …) and return the result. Prefer execute_sql_readonly for reads. A statement that needs approval returns status PENDING_APPROVAL with the approval id: nothing runs until an approver decides; resume with get_query_results. dryRun checks and estimates without running.',
    inputSchema: SQL_INPUT({ labels: { type: 'object', additionalProperties: { type: 'string', maxLength: 63 }, description: 'Optional. Job labels.' } }),
    outputSchema: QUERY_OUTPUT,
    async handler(a, run, caps) {
      const res = await run('jobs.query', { projectId: a.projectId }, { body: queryBody(a, caps) });
      if (res.ok && a.dryRun) return dryRunAnswer(res.body);
      return queryAnswer(res, 0, run, caps);
    },
  },
  {
    name: 'get_query_results', op: 'jobs.getQueryResults', title: 'Get query results', audience: 'readers', annotations: READ,
    description: 'Get a page of the results of a query job started with execute_sql or execute_sql_readonly (also one that waited for approval: the result once approved, the denial with the approver\'s comment once denied).',
    inputSchema: object({ projectId: PROJECT, jobId: JOB, location: LOCATION, pageToken: PAGE_TOKEN, maxResults: PAGE_SIZE, timeoutMs: { type: 'integer', minimum: 0, maximum: 60000 } }, ['projectId', 'jobId']),
    outputSchema: QUERY_OUTPUT,
    async handler(a, run, caps) {
      let start: number;
      try { start = fromMcpPageToken(a.pageToken) ?? 0; } catch (e) { return refused({ reason: 'invalid', message: (e as Error).message }); }
      const res = await run('jobs.getQueryResults', { projectId: a.projectId, jobId: a.jobId }, {
        query: { location: a.location, startIndex: String(start), maxResults: String(clampRows(a.maxResults, caps)), timeoutMs: String(typeof a.timeoutMs === 'number' ? a.timeoutMs : 5000) },
      });
      return queryAnswer(res, start, run, caps);
    },
  },
  {
    name: 'get_job', op: 'jobs.get', title: 'Get a job', audience: 'readers', annotations: READ,
    description: 'Get a BigQuery job of this caller (jobs.get): its state (PENDING while it waits for approval, RUNNING, DONE), statistics and error.',
    inputSchema: object({ projectId: PROJECT, jobId: JOB, location: LOCATION }, ['projectId', 'jobId']),
    outputSchema: { type: 'object', properties: { jobReference: { type: 'object' }, status: { type: 'object' }, approval: { type: 'object' } } },
    async handler(a, run) {
      const res = await run('jobs.get', { projectId: a.projectId, jobId: a.jobId }, { query: { location: a.location } });
      if (!res.ok) return refused(res.error);
      const job = res.body;
      const approval = job.status?.state === 'PENDING' ? await pendingApproval(run, a.jobId) : undefined;
      return ok({ ...job, ...(approval ? { approval } : {}) }, `Job ${a.jobId}: ${job.status?.state}${approval ? ` (waits for approval ${approval.id})` : ''}${job.status?.errorResult ? `: ${job.status.errorResult.message}` : ''}.`);
    },
  },
  {
    name: 'cancel_job', op: 'jobs.cancel', title: 'Cancel a job', audience: 'readers',
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    description: 'Cancel a BigQuery job of this caller (jobs.cancel); a job that waits for approval is withdrawn.',
    inputSchema: object({ projectId: PROJECT, jobId: JOB, location: LOCATION }, ['projectId', 'jobId']),
    outputSchema: { type: 'object', properties: { job: { type: 'object' } } },
    handler: (a, run) => answer(run('jobs.cancel', { projectId: a.projectId, jobId: a.jobId }, { query: { location: a.location } }), (b) => ({ job: b.job ?? b }),
      (o: any) => `Job ${a.jobId}: ${o.job?.status?.state ?? 'cancel requested'}.`),
  },
  {
    name: 'explain_access', op: 'policy.explain', title: 'Explain my access', audience: 'everyone', annotations: READ,
    description: 'Explain, for this caller, what bqgate\'s policy does with a statement or a table: allowed or denied (and by which rule), the columns masked and how, the tables whose rows are filtered (by which rule), the limits, and whether approval would be needed. Nothing is run.',
    inputSchema: object({ projectId: PROJECT, query: { type: 'string', minLength: 1, maxLength: 1_048_576, description: 'A GoogleSQL statement to explain.' }, datasetId: str('With tableId instead of query: explain reading the whole table.'), tableId: str('See datasetId.') }, ['projectId']),
    outputSchema: { type: 'object', properties: { effect: { type: 'string', enum: ['allow', 'deny'] }, reasons: { type: 'array' }, matchedRules: { type: 'array' }, masks: { type: 'object' }, rowFilteredTables: { type: 'object' }, approvals: { type: 'array' } } },
    async handler(a, run) {
      if (!a.query && !(a.datasetId && a.tableId)) return refused({ reason: 'invalid', message: 'Give query, or datasetId and tableId.' });
      return answer(run('policy.explain', { projectId: a.projectId }, { body: explainBody(a) }), (b) => b,
        (o: any) => `${o.effect === 'deny' ? 'Denied' : 'Allowed'}${o.reasons?.length ? `: ${o.reasons.join('; ')}` : ''}`);
    },
  },
];
