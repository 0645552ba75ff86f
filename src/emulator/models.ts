/**
 * The emulator's BigQuery ML models: `fixtures/<project>/<dataset>/<model>.model.json` (each a REST
 * `Model` resource: modelReference, modelType, featureColumns, labelColumns) served by
 * models.get / models.list / models.patch / models.delete
 * (https://cloud.google.com/bigquery/docs/reference/rest/v2/models). Metadata only: the emulator
 * cannot train or run a model, so ML.PREDICT and the other ML./AI. functions fail in its DuckDB
 * engine even when the gateway analyzed them.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { BigQueryError } from '../bigquery/errors.js';

type Req = FastifyRequest<{ Params: Record<string, string>; Querystring: Record<string, string | undefined>; Body: any }>;

/** Fields models.patch may change (the REST reference's writable fields). */
const PATCHABLE = ['description', 'friendlyName', 'labels', 'expirationTime'];

export class ModelStore {
  private models = new Map<string, any>();

  /** Reads every `*.model.json` under `fixturesDir` (none when undefined); throws on an unreadable file. */
  constructor(fixturesDir?: string) {
    if (!fixturesDir || !existsSync(fixturesDir)) return;
    const dirs = (d: string) => readdirSync(d).filter((x) => statSync(join(d, x)).isDirectory());
    for (const p of dirs(fixturesDir)) for (const d of dirs(join(fixturesDir, p))) {
      for (const f of readdirSync(join(fixturesDir, p, d)).filter((x) => x.endsWith('.model.json'))) {
        const m = JSON.parse(readFileSync(join(fixturesDir, p, d, f), 'utf8'));
        const ref = { projectId: p, datasetId: d, modelId: f.slice(0, -'.model.json'.length) };
        this.models.set(`${p}.${d}.${ref.modelId}`, { kind: 'bigquery#model', etag: '"1"', creationTime: '0', lastModifiedTime: '0', location: 'US', ...m, modelReference: ref });
      }
    }
  }

  get(p: string, d: string, m: string): any {
    const model = this.models.get(`${p}.${d}.${m}`);
    if (!model) throw new BigQueryError('notFound', `Not found: Model ${p}:${d}.${m}`);
    return model;
  }

  list(p: string, d: string): any[] { return [...this.models.values()].filter((m) => m.modelReference.projectId === p && m.modelReference.datasetId === d); }

  patch(p: string, d: string, m: string, body: any): any {
    const model = this.get(p, d, m);
    for (const k of PATCHABLE) if (body && k in body) model[k] = body[k];
    model.etag = `"${Number(String(model.etag).replace(/"/g, '')) + 1}"`;
    model.lastModifiedTime = String(Date.now());
    return model;
  }

  delete(p: string, d: string, m: string): void {
    this.get(p, d, m);
    this.models.delete(`${p}.${d}.${m}`);
  }
}

/** Registers the models methods under `prefix` (`/bigquery/v2` or ''). */
export function modelRoutes(app: FastifyInstance, prefix: string, store: ModelStore): void {
  const base = `${prefix}/projects/:p/datasets/:d/models`;
  app.get(base, async (req: Req) => {
    const all = store.list(req.params.p, req.params.d);
    const max = Math.max(1, Math.min(Number(req.query.maxResults ?? 1000) || 1000, 1000));
    const start = Math.max(0, Number(req.query.pageToken ?? 0) || 0);
    // models.list returns each model without its columns (the REST reference: "limited set of fields").
    const page = all.slice(start, start + max).map(({ featureColumns: _f, labelColumns: _l, ...rest }) => rest);
    return { models: page, ...(start + max < all.length ? { nextPageToken: String(start + max) } : {}) };
  });
  app.get(`${base}/:m`, async (req: Req) => store.get(req.params.p, req.params.d, req.params.m));
  app.patch(`${base}/:m`, async (req: Req) => store.patch(req.params.p, req.params.d, req.params.m, req.body));
  app.delete(`${base}/:m`, async (req: Req, reply: FastifyReply) => { store.delete(req.params.p, req.params.d, req.params.m); return reply.code(204).send(); });
}
