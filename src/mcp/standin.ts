/**
 * STAND-IN (deleted when `main`'s src/pipeline/index.ts lands):
 * the pipeline contract's types, a `Pipeline` that runs a call through the REST routes in-process
 * (fastify `inject`, so every stage a REST request passes is passed; the token must then also be
 * valid for REST: BQGATE_MCP_AUDIENCES=bqgate).
 */
import type { FastifyInstance } from 'fastify';
import type { Principal } from '../auth/index.js';
import { ROUTES, BigQueryError, asBigQueryError, type Operation } from '../bigquery/index.js';

export type Door = 'rest' | 'mcp';
export interface PipelineCall {
  door: Door;
  op: Operation;
  identity: { principal: Principal; callerToken?: string } | { error: unknown };
  requestId: string;
  params: Record<string, string | undefined>;
  query?: Record<string, string | undefined>;
  body?: any;
  client?: string;
  sessionKey?: string;
  requestAudit?: Record<string, unknown>;
  traceHeaders?: Record<string, string | string[] | undefined>;
  method?: string;
  url?: string;
}
export type PipelineResult =
  | { ok: true; status: number; body: any; payload: string; headers?: Record<string, string>; timings: Record<string, number> }
  | { ok: false; error: BigQueryError; timings: Record<string, number> };
export interface Pipeline { run(call: PipelineCall): Promise<PipelineResult> }

const PATHS: Partial<Record<Operation, { method: 'GET' | 'POST'; path: string }>> = {
  'policy.explain': { method: 'POST', path: '/bqgate/v1/policy/explain' },
  'approvals.list': { method: 'GET', path: '/bqgate/v1/approvals' },
};

export function standinPipeline(app: FastifyInstance): Pipeline {
  return {
    async run(call) {
      if ('error' in call.identity) return { ok: false, error: asBigQueryError(call.identity.error), timings: {} };
      const r = ROUTES.find((x) => x.op === call.op) ?? PATHS[call.op];
      if (!r) return { ok: false, error: new BigQueryError('internalError', `no route for ${call.op}`), timings: {} };
      const url = r.path.replace(/:(\w+)/g, (_m, k) => encodeURIComponent(call.params[k] ?? ''));
      const query = Object.fromEntries(Object.entries(call.query ?? {}).filter(([, v]) => v !== undefined)) as Record<string, string>;
      const res = await app.inject({
        method: r.method, url: `/bigquery/v2${url}`.replace('/bigquery/v2/bqgate', '/bqgate'), query,
        headers: { authorization: `Bearer ${call.identity.callerToken}`, 'user-agent': call.client ?? 'mcp', ...(call.sessionKey ? { 'x-bqgate-session': call.sessionKey } : {}), ...(call.body !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(call.body !== undefined && r.method !== 'GET' ? { payload: JSON.stringify(call.body) } : {}),
      });
      const body = res.body ? JSON.parse(res.body) : {};
      if (res.statusCode >= 300) {
        const e = body.error ?? {};
        const reason = e.errors?.[0]?.reason ?? 'backendError';
        return { ok: false, error: new BigQueryError(reason, e.message ?? res.body), timings: {} };
      }
      return { ok: true, status: res.statusCode, body, payload: res.body, timings: {} };
    },
  };
}
