/**
 * One caller's MCP server instance (the official SDK v2's `McpServer`): the tools this principal
 * may see (tools.ts; `tools/list` depends on the caller), each registered with its JSON Schemas and
 * annotations, its handler turning the call into pipeline calls under the caller's identity.
 * Spec: https://modelcontextprotocol.io/specification/2025-06-18/server/tools
 */
import { McpServer, fromJsonSchema, type CallToolResult } from '@modelcontextprotocol/server';
import type { Principal } from '../auth/index.js';
import { hasAnyAllow, rulesFor, type Policy } from '../policy/index.js';
import type { Pipeline } from '../pipeline/index.js';
import { TOOLS, type RunOp, type Tool } from './tools.js';
import { refused, type PageCaps } from './results.js';

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

/** The caller of a tool call: from the `authInfo` the door passed with this HTTP request. */
const callerOf = (ctx: { http?: { authInfo?: { extra?: Record<string, unknown> } } }) => ctx.http?.authInfo?.extra?.caller as Caller | undefined;

/**
 * A server instance for `principal`, serving either era: every tool registered, those the caller
 * may not see disabled (absent from tools/list, and a call answers "tool disabled"). `sync` re-applies
 * the visibility under the current policy (a legacy session outlives a policy reload).
 */
export function buildServer(d: ServerDeps, principal: Principal): { server: McpServer; sync(): void } {
  const server = new McpServer(
    { name: 'bqgate', version: d.version },
    {
      capabilities: { tools: { listChanged: false } },
      instructions: 'BigQuery through bqgate: every call is decided by the data team\'s policy (masks, row filters, denials, approvals) and recorded. Use explain_access to see what you may read.',
      // tools/list depends on the caller: never cached beyond it (2026-07-28 cacheScope).
      cacheHints: { 'tools/list': { ttlMs: 0, cacheScope: 'private' }, 'server/discover': { ttlMs: 0, cacheScope: 'private' } },
    },
  );
  const registered = TOOLS.map((tool) => ({ tool, reg: server.registerTool(tool.name, {
    title: tool.title, description: tool.description, annotations: tool.annotations,
    inputSchema: fromJsonSchema(tool.inputSchema as never), outputSchema: fromJsonSchema(tool.outputSchema as never),
  }, (async (args: unknown, ctx: any): Promise<CallToolResult> => {
    const caller = callerOf(ctx);
    if (!caller || caller.principal.subject !== principal.subject || caller.principal.issuer !== principal.issuer) {
      return refused({ reason: 'accessDenied', message: 'This MCP session belongs to another principal.' });
    }
    const run: RunOp = (op, params, opts = {}) => d.pipeline.run({
      door: 'mcp', op, identity: { principal: caller.principal, callerToken: caller.token },
      requestId: caller.calls.n++ === 0 ? caller.requestId : `${caller.requestId}.${caller.calls.n}`,
      params, query: opts.query, body: opts.body, client: caller.client, sessionKey: caller.sessionKey, traceHeaders: caller.traceHeaders,
      requestAudit: { door: 'mcp', tool: tool.name, arguments: args, protocolVersion: caller.protocolVersion, era: caller.era, client: caller.client },
    });
    try {
      return await tool.handler(args ?? {}, run, d.caps);
    } catch (err) {
      return refused({ reason: 'backendError', message: `The tool failed inside bqgate: ${(err as Error).message}` });
    }
  }) as never) }));
  const sync = () => {
    const visible = new Set(visibleTools(d.policy(), principal).map((t) => t.name));
    for (const { tool, reg } of registered) if (reg.enabled !== visible.has(tool.name)) (visible.has(tool.name) ? reg.enable() : reg.disable());
  };
  sync();
  return { server, sync };
}
