/**
 * One caller's MCP server instance (the official SDK v2's `McpServer`): the tools this principal
 * may see (tools.ts; `tools/list` depends on the caller), each registered with its JSON Schemas and
 * annotations, its handler checking the arguments and turning the call into pipeline calls under
 * the caller's identity (a refusal is a tool result with isError, recorded like any refusal).
 * Spec: https://modelcontextprotocol.io/specification/2025-06-18/server/tools
 */
import { McpServer, fromJsonSchema, type CallToolResult, type jsonSchemaValidator } from '@modelcontextprotocol/server';
import AjvModule from 'ajv';
import { BigQueryError, type Operation } from '../../bigquery/index.js';
import type { Principal } from '../../auth/index.js';
import { hasAnyAllow, rulesFor, type Policy } from '../../policy/index.js';
import type { Pipeline } from '../../pipeline/index.js';
import { TOOLS, type RunOp, type Tool } from './tools.js';
import { refused, renderFor, type PageCaps } from './results.js';

/** Who calls, as the door verified it for this HTTP request (passed to the SDK as `authInfo.extra`). */
export interface Caller {
  principal: Principal;
  /** The verified bearer token (for federated upstream credentials only; never forwarded). */
  token: string;
  /** The gateway request id of this HTTP request (the audit record of the tool call). */
  requestId: string;
  era: 'legacy' | 'modern';
  protocolVersion?: string;
  /** MCP clientInfo as "name/version". */
  client?: string;
  sessionKey?: string;
  traceHeaders?: Record<string, string | string[] | undefined>;
  /** Pipeline calls made for this HTTP request so far (the first is `requestId`, later ones `requestId.n`). */
  calls: { n: number };
}

/** SQL verbs that only read (an allow rule with other verbs, or none listed, allows writes). */
const READ_VERBS = new Set(['SELECT', 'EXTRACT']);

/**
 * The tools `principal` sees: none but explain_access without an allow rule; execute_sql only with
 * an allow rule for a verb that writes. Visibility only — every call is decided by the pipeline.
 */
export function visibleTools(policy: Policy, principal: Principal): Tool[] {
  if (!hasAnyAllow(policy, principal)) return TOOLS.filter((t) => t.audience === 'everyone');
  const writes = rulesFor(policy, principal).some((r) => r.effect === 'allow' && (!r.verbs?.length || r.verbs.some((v) => !READ_VERBS.has(v.toUpperCase()))));
  return TOOLS.filter((t) => t.audience !== 'writers' || writes);
}

export interface ServerDeps {
  pipeline: Pipeline;
  policy: () => Policy;
  caps: PageCaps;
  version: string;
}

const Ajv = AjvModule.default ?? AjvModule;
const ajv = new Ajv({ strict: false });
/** Each tool's argument validator (its inputSchema, compiled once). */
const validators = new Map(TOOLS.map((t) => [t.name, ajv.compile(t.inputSchema)]));
/**
 * Arguments pass the SDK unchecked and are validated in the handler instead (against the same
 * advertised inputSchema), so that a refused call is recorded in the caller's audit session.
 */
const CHECKED_IN_HANDLER: jsonSchemaValidator = { getValidator: () => ((input: unknown) => ({ valid: true, data: input, errorMessage: undefined })) as never };

/** The caller of a tool call: from the `authInfo` the door passed with this HTTP request. */
const callerOf = (ctx: { http?: { authInfo?: { extra?: Record<string, unknown> } } }) => ctx.http?.authInfo?.extra?.caller as Caller | undefined;

/**
 * A server instance for `principal`, serving either era: every tool registered, those the caller
 * may not see disabled (absent from tools/list, and a call answers "tool disabled"). `sync` re-applies
 * the visibility under the current policy for the principal as this request's token presents it (a
 * legacy session outlives a policy reload, and a refreshed token may carry other groups).
 */
export function buildServer(d: ServerDeps, principal: Principal): { server: McpServer; sync(current: Principal): void } {
  const serverInfo = { name: 'bqgate', version: d.version };
  const server = new McpServer(
    serverInfo,
    {
      capabilities: { tools: { listChanged: false } },
      instructions: 'BigQuery through bqgate: every call is decided by the data team\'s policy (masks, row filters, denials, approvals) and recorded. Use explain_access to see what you may read.',
      // tools/list depends on the caller: never cached beyond it (2026-07-28 cacheScope).
      cacheHints: { 'tools/list': { ttlMs: 0, cacheScope: 'private' }, 'server/discover': { ttlMs: 0, cacheScope: 'private' } },
    },
  );
  const registered = TOOLS.map((tool) => ({ tool, reg: server.registerTool(tool.name, {
    title: tool.title, description: tool.description, annotations: tool.annotations,
    inputSchema: fromJsonSchema(tool.inputSchema as never, CHECKED_IN_HANDLER), outputSchema: fromJsonSchema(tool.outputSchema as never),
  }, (async (args: unknown, ctx: any): Promise<CallToolResult> => {
    const caller = callerOf(ctx);
    if (!caller || caller.principal.subject !== principal.subject || caller.principal.issuer !== principal.issuer) {
      return refused({ reason: 'accessDenied', message: 'This MCP session belongs to another principal.' });
    }
    const exec = (op: Operation, params: Record<string, string | undefined>, opts: Parameters<RunOp>[2] = {}, unreadable?: BigQueryError) => d.pipeline.run({ unreadable,
      render: opts.result && renderFor(caller.era, serverInfo)(opts.result), statementKinds: opts.statementKinds,
      door: 'mcp', op, identity: { principal: caller.principal, callerToken: caller.token },
      requestId: caller.calls.n++ === 0 ? caller.requestId : `${caller.requestId}.${caller.calls.n}`,
      params, query: opts.query, body: opts.body, client: caller.client, sessionKey: caller.sessionKey, traceHeaders: caller.traceHeaders,
      requestAudit: { door: 'mcp', tool: tool.name, arguments: args, protocolVersion: caller.protocolVersion, era: caller.era, client: caller.client },
    });
    const run: RunOp = (op, params, opts) => exec(op, params, opts);
    const valid = validators.get(tool.name)!;
    if (!valid(args ?? {})) {
      // Refused before anything runs, and recorded as the tool's operation in the caller's session.
      const e = new BigQueryError('invalid', `Invalid arguments for tool ${tool.name}: ${ajv.errorsText(valid.errors, { dataVar: 'arguments' })}. The tool's inputSchema lists what it takes.`);
      const r = await exec(tool.op, {}, {}, e);
      return refused(r.ok ? e : r.error);
    }
    try {
      return await tool.handler(args ?? {}, run, d.caps);
    } catch (err) {
      return refused({ reason: 'backendError', message: `The tool failed inside bqgate: ${(err as Error).message}` });
    }
  }) as never) }));
  const sync = (current: Principal) => {
    const visible = new Set(visibleTools(d.policy(), current).map((t) => t.name));
    for (const { tool, reg } of registered) if (reg.enabled !== visible.has(tool.name)) (visible.has(tool.name) ? reg.enable() : reg.disable());
  };
  sync(principal);
  return { server, sync };
}
