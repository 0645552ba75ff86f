/**
 * The emulator's routines: persistent UDFs, table functions and procedures, kept in memory like its
 * tables and loaded at start from `fixtures/<project>/<dataset>/<routine>.routine.json` (a BigQuery
 * Routine resource without `routineReference`, which the file's place gives).
 *
 * REST methods (BigQuery REST reference, Routines,
 * https://cloud.google.com/bigquery/docs/reference/rest/v2/routines): `routines.insert`
 * (POST …/datasets/{d}/routines; 409 duplicate when it exists), `routines.get`, `routines.list`
 * (routineReference, routineType, language, times; `pageToken` / `maxResults`), `routines.update`
 * (PUT, replaces the resource; 404 when missing) and `routines.delete` (204). Errors are BigQuery
 * envelopes: notFound for a missing dataset or routine, invalid for a malformed resource.
 *
 * The emulator does not execute a routine: calling one from a query is GoogleSQL the DuckDB
 * translation does not cover (issue 20); the gateway analyzes calls from these definitions.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { BigQueryError } from '../bigquery/errors.js';
import { pageToken, fromPageToken } from '../bigquery/http.js';
import type { Engine } from './engine.js';

const TYPES = new Set(['SCALAR_FUNCTION', 'AGGREGATE_FUNCTION', 'TABLE_VALUED_FUNCTION', 'PROCEDURE']);
const LANGUAGES = new Set(['SQL', 'JAVASCRIPT', 'PYTHON', 'JAVA', 'SCALA']);
const ID = /^[A-Za-z0-9_]{1,256}$/;

type Routine = Record<string, any> & { routineReference: { projectId: string; datasetId: string; routineId: string } };
type Req = FastifyRequest<{ Params: Record<string, string>; Querystring: Record<string, string | undefined>; Body: any }>;

/** A checked Routine resource for `p.d.r` from a client body (BigQuery's required fields). Throws BigQueryError('invalid'). */
function checked(p: string, d: string, r: string, body: any, now: number, created = now): Routine {
  if (!body || typeof body !== 'object') throw new BigQueryError('invalid', 'Invalid routine: the request body must be a Routine resource.');
  if (!ID.test(r)) throw new BigQueryError('invalid', `Invalid routine ID "${r}": use letters, digits and underscores (at most 256).`);
  if (!TYPES.has(body.routineType)) throw new BigQueryError('invalid', `Invalid routine ${p}:${d}.${r}: routineType must be one of ${[...TYPES].join(', ')}.`);
  if (body.language !== undefined && !LANGUAGES.has(body.language)) throw new BigQueryError('invalid', `Invalid routine ${p}:${d}.${r}: unknown language ${body.language}.`);
  if (!body.remoteFunctionOptions && (typeof body.definitionBody !== 'string' || !body.definitionBody.trim())) throw new BigQueryError('invalid', `Invalid routine ${p}:${d}.${r}: definitionBody is required (except for a remote function).`);
  if (body.arguments !== undefined && !Array.isArray(body.arguments)) throw new BigQueryError('invalid', `Invalid routine ${p}:${d}.${r}: arguments must be a list.`);
  const { routineReference: _ref, etag: _e, creationTime: _c, lastModifiedTime: _m, ...rest } = body;
  return {
    ...rest, ...(body.remoteFunctionOptions ? {} : { language: body.language ?? 'SQL' }), arguments: body.arguments ?? [],
    routineReference: { projectId: p, datasetId: d, routineId: r },
    etag: `"${now.toString(36)}"`, creationTime: String(created), lastModifiedTime: String(now),
  };
}

/** Registers the routines REST methods (under `prefix`) on `app` over `engine`'s datasets; loads the fixture routines once. */
export function installRoutines(app: FastifyInstance, engine: Engine, prefix: string, store = routineStore(engine)): void {
  const key = (p: string, d: string, r: string) => `${p}.${d}.${r}`;
  const mustDataset = (p: string, d: string) => {
    engine.catalog.dataset(p, d);
  };
  const must = (p: string, d: string, r: string) => {
    mustDataset(p, d);
    const hit = store.get(key(p, d, r));
    if (!hit) throw new BigQueryError('notFound', `Not found: Routine ${p}:${d}.${r}`);
    return hit;
  };
  const base = `${prefix}/projects/:p/datasets/:d/routines`;
  app.get(base, async (req: Req) => {
    const { p, d } = req.params;
    mustDataset(p, d);
    const all = [...store.values()].filter((x) => x.routineReference.projectId === p && x.routineReference.datasetId === d)
      .sort((a, b) => a.routineReference.routineId.localeCompare(b.routineReference.routineId));
    const start = fromPageToken(req.query.pageToken) ?? 0;
    const max = Math.max(1, Math.min(Number(req.query.maxResults ?? 1000) || 1000, 1000));
    const page = all.slice(start, start + max).map((x) => ({
      etag: x.etag, routineReference: x.routineReference, routineType: x.routineType, language: x.language,
      creationTime: x.creationTime, lastModifiedTime: x.lastModifiedTime,
    }));
    return { routines: page, ...(start + max < all.length ? { nextPageToken: pageToken(start + max) } : {}) };
  });
  app.get(`${base}/:r`, async (req: Req) => must(req.params.p, req.params.d, req.params.r));
  app.post(base, async (req: Req) => {
    const { p, d } = req.params;
    mustDataset(p, d);
    const ref: any = (req.body as any)?.routineReference ?? {};
    if ((ref.projectId && ref.projectId !== p) || (ref.datasetId && ref.datasetId !== d)) throw new BigQueryError('invalid', 'Invalid routine: routineReference names another dataset than the request path.');
    const r = String(ref.routineId ?? '');
    if (store.has(key(p, d, r))) throw new BigQueryError('duplicate', `Already Exists: Routine ${p}:${d}.${r}`);
    const routine = checked(p, d, r, req.body as any, Date.now());
    store.set(key(p, d, r), routine);
    return routine;
  });
  app.put(`${base}/:r`, async (req: Req) => {
    const { p, d, r } = req.params;
    const old = must(p, d, r);
    const ref: any = (req.body as any)?.routineReference;
    if (ref && (ref.projectId !== p || ref.datasetId !== d || ref.routineId !== r)) throw new BigQueryError('invalid', 'Invalid routine: routineReference does not match the request path.');
    const routine = checked(p, d, r, req.body as any, Date.now(), Number(old.creationTime));
    store.set(key(p, d, r), routine);
    return routine;
  });
  app.delete(`${base}/:r`, async (req: Req, reply: FastifyReply) => {
    const { p, d, r } = req.params;
    must(p, d, r);
    store.delete(key(p, d, r));
    reply.code(204);
    return '';
  });
}

const stores = new WeakMap<Engine, Map<string, Routine>>();

/** The routines of `engine` (one store per engine, shared by both URL prefixes), fixtures loaded on first use. */
export function routineStore(engine: Engine): Map<string, Routine> {
  let s = stores.get(engine);
  if (s) return s;
  s = new Map();
  stores.set(engine, s);
  const root = engine.fixturesDir;
  const dirs = (d: string) => (existsSync(d) ? readdirSync(d).filter((n) => statSync(join(d, n)).isDirectory()) : []);
  const created = Date.UTC(2026, 10, 1);
  for (const p of root ? dirs(root) : []) {
    for (const d of dirs(join(root!, p))) {
      for (const f of readdirSync(join(root!, p, d)).filter((n) => n.endsWith('.routine.json')).sort()) {
        const r = f.replace(/\.routine\.json$/, '');
        s.set(`${p}.${d}.${r}`, checked(p, d, r, JSON.parse(readFileSync(join(root!, p, d, f), 'utf8')), created));
      }
    }
  }
  return s;
}
