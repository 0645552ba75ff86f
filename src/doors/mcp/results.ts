/**
 * What a tool call answers: the pipeline's BigQuery-shaped body turned into an MCP `CallToolResult`
 * (structuredContent matching the tool's outputSchema, and the same JSON as a text block for
 * clients that read only `content`), a refusal as `isError: true` with the REST denial's text, and
 * result pages capped in rows and bytes with an opaque `pageToken` (a row offset) for the next one.
 * Spec: https://modelcontextprotocol.io/specification/2025-06-18/server/tools#structured-content
 */
import { SERVER_INFO_META_KEY, type CallToolResult } from '@modelcontextprotocol/server';
import type { BigQueryError } from '../../bigquery/index.js';
import type { PipelineResult, Render } from '../../pipeline/index.js';

/** The caps of one result page: rows (`maxResults` is clamped to it) and serialized bytes of the rows. */
export interface PageCaps { defaultRows: number; maxRows: number; maxBytes: number }
export const DEFAULT_CAPS: PageCaps = { defaultRows: 100, maxRows: 1000, maxBytes: 512 * 1024 };

/** A tool result carrying `data` as structuredContent and as a JSON text block. */
export const ok = (data: Record<string, unknown>, summary?: string): CallToolResult => ({
  content: [{ type: 'text', text: (summary ? `${summary}\n` : '') + JSON.stringify(data) }],
  structuredContent: data,
});

/** Builds a tool result from a pipeline answer body (PipelineCall.render turns it into the bytes sent). */
export type ToResult = (body: any) => CallToolResult;

/**
 * The door's render step (PipelineCall.render) for a caller of `era`: the tool result `toResult`
 * builds, as the bytes the door writes — `payload` is its JSON, which the SDK embeds unchanged as the
 * JSON-RPC `result` — and its structuredContent as the page delivered (schema, f/v rows, pageToken)
 * for the audit's delivery event. On 2026-07-28 the result carries what the SDK adds on that era
 * after the audit: `resultType: "complete"` (kept as the handler set it) and, last, the `_meta`
 * serverInfo stamp — which the SDK writes itself (it drops one a handler returns), so `sent` hands
 * the SDK the result without it and the SDK appends exactly those bytes.
 * https://modelcontextprotocol.io/specification/2026-07-28/basic (resultType, serverInfo _meta)
 */
export const renderFor = (era: 'legacy' | 'modern', serverInfo: { name: string; version: string }) => (toResult: ToResult): Render => (body) => {
  const base = toResult(body);
  const result = era === 'modern' ? { ...base, resultType: 'complete', _meta: { [SERVER_INFO_META_KEY]: serverInfo } } : base;
  return { payload: JSON.stringify(result), delivered: result.structuredContent ?? {} };
};

/** The tool result a pipeline answer carries (the rendered payload, exactly what was audited, less the SDK's own serverInfo stamp), or the refusal. */
export function sent(r: PipelineResult): CallToolResult {
  if (!r.ok) return refused(r.error);
  const result = JSON.parse(r.payload.toString()) as CallToolResult;
  if (result._meta?.[SERVER_INFO_META_KEY] !== undefined) delete result._meta;
  return result;
}

/**
 * A refusal or failure as a tool result (`isError: true`): the reason and the message the REST
 * door would have answered (the rule, the table or column, what would be allowed).
 */
export const refused = (e: Pick<BigQueryError, 'reason' | 'message'>): CallToolResult => ({
  isError: true,
  content: [{ type: 'text', text: `${e.reason}: ${e.message}` }],
});

/** The MCP page token of the page starting at row `start` (opaque to the agent). */
export const mcpPageToken = (start: number) => Buffer.from(`mcp-row:${start}`).toString('base64url');

/** The row offset an MCP page token names; throws (an `invalid` message) when it is not one of ours. */
export function fromMcpPageToken(t: string | undefined): number | undefined {
  if (t === undefined || t === '') return undefined;
  const m = Buffer.from(t, 'base64url').toString().match(/^mcp-row:(\d{1,15})$/);
  if (!m) throw new Error('pageToken was not handed out by this server; call get_query_results without it to read from the first row.');
  return Number(m[1]);
}

export const clampRows = (asked: unknown, caps: PageCaps) => {
  const n = typeof asked === 'number' && Number.isInteger(asked) && asked > 0 ? asked : caps.defaultRows;
  return Math.min(n, caps.maxRows);
};

type Field = { name: string; type: string; mode?: string; fields?: Field[] };

/** One BigQuery REST cell (`{v}`; RECORD → `{f:[…]}`, REPEATED → `[{v}]`) as a plain JSON value. */
function cell(v: unknown, f: Field): unknown {
  if (f.mode === 'REPEATED') return Array.isArray(v) ? v.map((x) => cell((x as { v?: unknown })?.v, { ...f, mode: 'NULLABLE' })) : [];
  if (v === null || v === undefined) return null;
  if ((f.type === 'RECORD' || f.type === 'STRUCT') && f.fields) return rowObject(v as { f?: Array<{ v?: unknown }> }, f.fields);
  return v;
}

/** A REST row (`{f:[{v}]}`) as an object keyed by column name; values stay BigQuery's strings. */
export function rowObject(row: { f?: Array<{ v?: unknown }> }, fields: Field[]): Record<string, unknown> {
  return Object.fromEntries(fields.map((f, i) => [f.name, cell(row?.f?.[i]?.v, f)]));
}

/**
 * A complete query page (jobs.query / getQueryResults body, rows from row `start`) as the tools
 * answer it: schema and rows in the BigQuery shape, `rowObjects` keyed by column, `totalRows`, and
 * `pageToken` when rows remain — also when the byte cap cut the page short.
 */
export function queryPage(body: any, start: number, caps: PageCaps): Record<string, unknown> {
  const fields: Field[] = body.schema?.fields ?? [];
  let rows: any[] = Array.isArray(body.rows) ? body.rows : [];
  let bytes = 0;
  let kept = 0;
  for (const r of rows) {
    bytes += 2 * Buffer.byteLength(JSON.stringify(r)); // the row travels twice: REST shape and object
    if (bytes > caps.maxBytes && kept > 0) break;
    kept++;
  }
  const cut = kept < rows.length;
  rows = rows.slice(0, kept);
  const total = body.totalRows !== undefined ? Number(body.totalRows) : undefined;
  const more = cut || (total !== undefined ? start + rows.length < total : body.pageToken !== undefined);
  return {
    jobComplete: true,
    ...(body.jobReference ? { jobReference: body.jobReference } : {}),
    schema: { fields },
    rows,
    rowObjects: rows.map((r) => rowObject(r, fields)),
    ...(total !== undefined ? { totalRows: total } : {}),
    startIndex: start,
    ...(more ? { pageToken: mcpPageToken(start + rows.length) } : {}),
    ...(cut ? { truncatedBy: `the ${caps.maxBytes}-byte page cap` } : {}),
    ...pickDefined(body, ['totalBytesProcessed', 'numDmlAffectedRows', 'dmlStats', 'cacheHit']),
  };
}

export const pickDefined = (o: any, keys: string[]) => Object.fromEntries(keys.filter((k) => o?.[k] !== undefined).map((k) => [k, o[k]]));

/** The JSON Schema (outputSchema) of a query page, a running job or a job that waits for approval. */
export const QUERY_OUTPUT = {
  type: 'object',
  properties: {
    jobComplete: { type: 'boolean', description: 'false while the job runs or waits for approval: call get_query_results with jobReference.jobId.' },
    jobReference: { type: 'object', properties: { projectId: { type: 'string' }, jobId: { type: 'string' }, location: { type: 'string' } } },
    schema: { type: 'object', description: 'The result schema (BigQuery TableSchema).' },
    rows: { type: 'array', description: 'Rows in the BigQuery REST shape ({f:[{v}]}).' },
    rowObjects: { type: 'array', items: { type: 'object' }, description: 'The same rows keyed by column name.' },
    totalRows: { type: 'number' },
    startIndex: { type: 'number' },
    pageToken: { type: 'string', description: 'Pass to get_query_results for the next page.' },
    status: { type: 'string', enum: ['DONE', 'RUNNING', 'PENDING_APPROVAL', 'DRY_RUN'] },
    approval: { type: 'object', description: 'When status is PENDING_APPROVAL: the approval id, approver groups, expiry.' },
    totalBytesProcessed: { type: 'string' },
  },
} as const;
