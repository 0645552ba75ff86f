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
import type { PipelineCall, PipelineResult } from '../../pipeline/index.js';
import { ok, refused, sent, queryPage, clampRows, fromMcpPageToken, pickDefined, QUERY_OUTPUT, type PageCaps, type ToResult } from './results.js';

/**
 * One pipeline call of a tool: the REST operation, its path params, URL query and body; `render`
 * `result` builds the tool result from the answer, rendered inside the call (what the audit hashes
 * is what is sent; `sent` reads it back).
 */
export type RunOp = (op: Operation, params: Record<string, string | undefined>, opts?: { query?: Record<string, string | undefined>; body?: unknown; result?: ToResult; statementKinds?: PipelineCall['statementKinds'] }) => Promise<PipelineResult>;

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

/** The tool result `shape` builds from the answer body (with an optional summary line). */
const shaped = (shape: (body: any) => Record<string, unknown>, summary?: (out: Record<string, unknown>) => string): ToResult =>
  (body) => { const out = shape(body); return ok(out, summary?.(out)); };

/** A pipeline call's answer as the tool result (as rendered inside the call), the refusal as isError. */
const answer = async (r: Promise<PipelineResult>): Promise<CallToolResult> => sent(await r);

const running = (ref: any) => ok({ status: 'RUNNING', jobComplete: false, jobReference: ref }, `The job is still running; call get_query_results with jobId ${ref.jobId}.`);

/** The tool result of a query answer (jobs.query or getQueryResults, rows from `start`): the dry run, the page, or the job still running. */
const queryResult = (start: number, caps: PageCaps, dryRun = false): ToResult => (b) => {
  if (dryRun) return dryRunAnswer(b);
  if (!b.jobComplete) return running(b.jobReference ?? {});
  const page = queryPage(b, start, caps);
  return ok({ status: 'DONE', ...page }, `${(page.rows as unknown[]).length} row(s)${page.pageToken ? '; more with get_query_results and this pageToken' : ''}.`);
};

/**
 * A query answer: as rendered in its call, unless the job has not completed and waits for
 * approval — then the caller's own approvals list (a second call, which renders the answer: its
 * approval id, approver groups and expiry), to be resumed with get_query_results / get_job.
 */
async function queryAnswer(res: PipelineResult, run: RunOp, dryRun = false): Promise<CallToolResult> {
  const ref = res.ok && !dryRun && !res.body.jobComplete ? res.body.jobReference ?? {} : undefined;
  if (!ref?.jobId) return sent(res);
  const r = await run('approvals.list', {}, { query: { status: 'pending' }, result: (b) => {
    const approval = approvalOf(b, ref.jobId);
    return approval ? ok({ status: 'PENDING_APPROVAL', jobComplete: false, jobReference: ref, approval },
      `The statement waits for approval ${approval.id} by ${approval.approverGroups.join(', ')} (expires ${approval.expiresAt}). Nothing has run. Call get_query_results with jobId ${ref.jobId} later: it returns the result once approved, or the denial.`) : running(ref);
  } });
  return sent(r.ok ? r : res);
}

/** The caller's pending approval of its job `jobId` in an approvals.list body (a requester sees its own). */
function approvalOf(body: any, jobId: string) {
  const a = (body.items ?? body.approvals ?? []).find((x: any) => x.jobId === jobId);
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

/** execute_sql_readonly's statements: queries only (PipelineCall.statementKinds). */
const READ_ONLY = { kinds: ['SELECT'], why: 'execute_sql_readonly runs SELECT statements only. Use execute_sql for statements that change data (if the policy allows them).' };

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
    handler: (a, run) => answer(run('datasets.list', { projectId: a.projectId }, { query: { maxResults: a.pageSize?.toString(), pageToken: a.pageToken },
      result: shaped((b) => ({ datasets: (b.datasets ?? []).map((d: any) => ({ id: d.datasetReference?.datasetId, ...pickDefined(d, ['friendlyName', 'location']) })), ...pickDefined(b, ['nextPageToken']) })) })),
  },
  {
    name: 'get_dataset_info', op: 'datasets.get', title: 'Get dataset info', audience: 'readers', annotations: READ,
    description: 'Get metadata information about a BigQuery dataset (datasets.get, as the bqgate policy lets this caller see it).',
    inputSchema: object({ projectId: PROJECT, datasetId: DATASET }, ['projectId', 'datasetId']),
    outputSchema: { type: 'object', properties: { datasetReference: { type: 'object' }, location: { type: 'string' } } },
    handler: (a, run) => answer(run('datasets.get', { projectId: a.projectId, datasetId: a.datasetId }, { result: shaped((b) => b) })),
  },
  {
    name: 'list_table_ids', op: 'tables.list', title: 'List tables', audience: 'readers', annotations: READ,
    description: 'List table IDs in a BigQuery dataset (only the tables the bqgate policy lets this caller see). Supports pagination with pageSize and pageToken.',
    inputSchema: object({ projectId: PROJECT, datasetId: DATASET, pageSize: PAGE_SIZE, pageToken: PAGE_TOKEN }, ['projectId', 'datasetId']),
    outputSchema: { type: 'object', properties: { tables: { type: 'array', items: { type: 'object' } }, nextPageToken: { type: 'string' } } },
    handler: (a, run) => answer(run('tables.list', { projectId: a.projectId, datasetId: a.datasetId }, { query: { maxResults: a.pageSize?.toString(), pageToken: a.pageToken },
      result: shaped((b) => ({ tables: (b.tables ?? []).map((t: any) => ({ id: t.tableReference?.tableId, ...pickDefined(t, ['type']) })), ...pickDefined(b, ['nextPageToken']) })) })),
  },
  {
    name: 'get_table_info', op: 'tables.get', title: 'Get table info', audience: 'readers', annotations: READ,
    description: 'Get metadata information about a BigQuery table: its schema shows only the columns this caller may read (tables.get through the bqgate policy).',
    inputSchema: object({ projectId: PROJECT, datasetId: DATASET, tableId: TABLE }, ['projectId', 'datasetId', 'tableId']),
    outputSchema: { type: 'object', properties: { tableReference: { type: 'object' }, schema: { type: 'object' }, numRows: { type: 'string' } } },
    handler: (a, run) => answer(run('tables.get', { projectId: a.projectId, datasetId: a.datasetId, tableId: a.tableId }, { result: shaped((b) => b) })),
  },
  {
    name: 'execute_sql_readonly', op: 'jobs.query', title: 'Run a read-only query', audience: 'readers', annotations: READ,
    description: 'Run a read-only GoogleSQL query (SELECT only; anything else is refused before it runs) and return the result. Prefer this tool over execute_sql. Masks, row filters and limits of the bqgate policy apply; results are paged (pageToken → get_query_results).',
    inputSchema: SQL_INPUT(),
    outputSchema: QUERY_OUTPUT,
    async handler(a, run, caps) {
      // One request: the pipeline refuses any other statement kind once analyzed, before the policy decides.
      const res = await run('jobs.query', { projectId: a.projectId }, { body: queryBody(a, caps), result: queryResult(0, caps, a.dryRun === true), statementKinds: READ_ONLY });
      return queryAnswer(res, run, a.dryRun === true);
    },
  },
  {
    name: 'execute_sql', op: 'jobs.query', title: 'Run a statement', audience: 'writers',
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
    description: 'Run any GoogleSQL statement the bqgate policy allows (SELECT, INSERT, UPDATE, DELETE, MERGE, DDL …) and return the result. Prefer execute_sql_readonly for reads. A statement that needs approval returns status PENDING_APPROVAL with the approval id: nothing runs until an approver decides; resume with get_query_results. dryRun checks and estimates without running.',
    inputSchema: SQL_INPUT({ labels: { type: 'object', additionalProperties: { type: 'string', maxLength: 63 }, description: 'Optional. Job labels.' } }),
    outputSchema: QUERY_OUTPUT,
    async handler(a, run, caps) {
      const res = await run('jobs.query', { projectId: a.projectId }, { body: queryBody(a, caps), result: queryResult(0, caps, a.dryRun === true) });
      return queryAnswer(res, run, a.dryRun === true);
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
        result: queryResult(start, caps),
      });
      return queryAnswer(res, run);
    },
  },
  {
    name: 'get_job', op: 'jobs.get', title: 'Get a job', audience: 'readers', annotations: READ,
    description: 'Get a BigQuery job of this caller (jobs.get): its state (PENDING while it waits for approval, RUNNING, DONE), statistics and error.',
    inputSchema: object({ projectId: PROJECT, jobId: JOB, location: LOCATION }, ['projectId', 'jobId']),
    outputSchema: { type: 'object', properties: { jobReference: { type: 'object' }, status: { type: 'object' }, approval: { type: 'object' } } },
    async handler(a, run) {
      const result = (job: any, approval?: ReturnType<typeof approvalOf>) => ok({ ...job, ...(approval ? { approval } : {}) },
        `Job ${a.jobId}: ${job.status?.state}${approval ? ` (waits for approval ${approval.id})` : ''}${job.status?.errorResult ? `: ${job.status.errorResult.message}` : ''}.`);
      const res = await run('jobs.get', { projectId: a.projectId, jobId: a.jobId }, { query: { location: a.location }, result: (job) => result(job) });
      if (!res.ok || res.body.status?.state !== 'PENDING') return sent(res);
      // Waiting for approval: the caller's own approvals list names it (and renders the answer).
      const r = await run('approvals.list', {}, { query: { status: 'pending' }, result: (b) => result(res.body, approvalOf(b, a.jobId)) });
      return sent(r.ok ? r : res);
    },
  },
  {
    name: 'cancel_job', op: 'jobs.cancel', title: 'Cancel a job', audience: 'readers',
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    description: 'Cancel a BigQuery job of this caller (jobs.cancel); a job that waits for approval is withdrawn.',
    inputSchema: object({ projectId: PROJECT, jobId: JOB, location: LOCATION }, ['projectId', 'jobId']),
    outputSchema: { type: 'object', properties: { job: { type: 'object' } } },
    handler: (a, run) => answer(run('jobs.cancel', { projectId: a.projectId, jobId: a.jobId }, { query: { location: a.location },
      result: shaped((b) => ({ job: b.job ?? b }), (o: any) => `Job ${a.jobId}: ${o.job?.status?.state ?? 'cancel requested'}.`) })),
  },
  {
    name: 'explain_access', op: 'policy.explain', title: 'Explain my access', audience: 'everyone', annotations: READ,
    description: 'Explain, for this caller, what bqgate\'s policy does with a statement or a table: allowed or denied (and by which rule), the columns masked and how, the tables whose rows are filtered (by which rule), the limits, and whether approval would be needed. Nothing is run.',
    inputSchema: object({ projectId: PROJECT, query: { type: 'string', minLength: 1, maxLength: 1_048_576, description: 'A GoogleSQL statement to explain.' }, datasetId: str('With tableId instead of query: explain reading the whole table.'), tableId: str('See datasetId.') }, ['projectId']),
    outputSchema: { type: 'object', properties: { effect: { type: 'string', enum: ['allow', 'deny'] }, reasons: { type: 'array' }, matchedRules: { type: 'array' }, masks: { type: 'object' }, rowFilteredTables: { type: 'object' }, approvals: { type: 'array' } } },
    async handler(a, run) {
      if (!a.query && !(a.datasetId && a.tableId)) return refused({ reason: 'invalid', message: 'Give query, or datasetId and tableId.' });
      return answer(run('policy.explain', { projectId: a.projectId }, { body: explainBody(a),
        result: shaped((b) => b, (o: any) => `${o.effect === 'deny' ? 'Denied' : 'Allowed'}${o.reasons?.length ? `: ${o.reasons.join('; ')}` : ''}`) }));
    },
  },
];
