/**
 * The emulator's dataset, table and table-data REST methods over its catalog (catalog.ts):
 *
 * - projects.list; datasets.list/get/insert/patch (PATCH)/update (PUT)/delete (`deleteContents`)
 *   (https://cloud.google.com/bigquery/docs/reference/rest/v2/datasets);
 * - tables.list/get/insert (a schema, or a `view.query` run as CREATE VIEW through the engine's
 *   checks)/patch/update/delete (https://cloud.google.com/bigquery/docs/reference/rest/v2/tables);
 * - tabledata.list and tabledata.insertAll (insert.ts).
 *
 * tables.get and tabledata.list also read a query job's anonymous result table (`anon`, storage/anon.ts).
 *
 * Bodies and answers are the REST resources; errors BigQuery envelopes (notFound, duplicate 409,
 * invalid).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { BigQueryError } from '../bigquery/errors.js';
import { pageToken, fromPageToken } from '../bigquery/http.js';
import { encodeRow } from './encode.js';
import type { Engine } from './engine.js';
import type { DatasetMeta, TableMeta } from './catalog.js';
import { insertAll } from './insert.js';
import { snapshotDecorator } from './time-travel.js';
import type { AnonTables } from './storage/index.js';

export const LOCATION = 'US';

type Q = Record<string, string | undefined>;
type Req = FastifyRequest<{ Params: Record<string, string>; Querystring: Q; Body: any }>;

const num = (s: unknown) => (s === undefined || s === null || s === '' ? undefined : Number(s));

/** A tables.get resource. */
export function tableResource(t: TableMeta) {
  return {
    kind: 'bigquery#table', id: `${t.projectId}:${t.datasetId}.${t.tableId}`, etag: `"${t.lastModifiedTime ?? t.creationTime}.${t.numRows}"`,
    tableReference: { projectId: t.projectId, datasetId: t.datasetId, tableId: t.tableId },
    schema: { fields: t.schema }, type: t.viewQuery !== undefined ? 'VIEW' : 'TABLE', numRows: String(t.numRows), numBytes: String(t.numRows * 64),
    creationTime: String(t.creationTime), lastModifiedTime: String(t.lastModifiedTime ?? t.creationTime), location: LOCATION,
    ...(t.viewQuery !== undefined ? { view: { query: t.viewQuery, useLegacySql: false } } : {}),
    ...(t.description !== undefined ? { description: t.description } : {}), ...(t.friendlyName !== undefined ? { friendlyName: t.friendlyName } : {}),
    ...(t.labels ? { labels: t.labels } : {}), ...(t.expirationTime !== undefined ? { expirationTime: String(t.expirationTime) } : {}),
    ...(t.layout ?? {}),
  };
}

/** A datasets.get resource. */
export function datasetResource(d: DatasetMeta) {
  return {
    kind: 'bigquery#dataset', id: `${d.projectId}:${d.datasetId}`, etag: `"${d.lastModifiedTime}"`, datasetReference: { projectId: d.projectId, datasetId: d.datasetId },
    location: LOCATION, creationTime: String(d.creationTime), lastModifiedTime: String(d.lastModifiedTime), type: 'DEFAULT',
    ...(d.description !== undefined ? { description: d.description } : {}), ...(d.friendlyName !== undefined ? { friendlyName: d.friendlyName } : {}),
    ...(d.labels ? { labels: d.labels } : {}), ...(d.access ? { access: d.access } : {}), ...(d.defaultTableExpirationMs !== undefined ? { defaultTableExpirationMs: String(d.defaultTableExpirationMs) } : {}),
  };
}

/** Registers the methods above under `prefix` (`/bigquery/v2` or ''). */
export function resourceRoutes(app: FastifyInstance, prefix: string, engine: Engine, anon?: AnonTables): void {
  const cat = engine.catalog;
  const mustTable = async (p: string, d: string, t: string): Promise<TableMeta> => {
    cat.dataset(p, d);
    const m = await cat.findTable(p, d, t);
    if (!m) throw new BigQueryError('notFound', `Not found: Table ${p}:${d}.${t} was not found in location ${LOCATION}`);
    return m;
  };
  /**
   * datasets.list `filter`: `labels.<name>[:<value>]` terms, AND-ed by spaces
   * (https://cloud.google.com/bigquery/docs/reference/rest/v2/datasets/list); invalid otherwise.
   */
  const labelFilter = (filter: string | undefined) => {
    const terms = (filter ?? '').trim().split(/\s+/).filter(Boolean).map((t) => {
      const m = /^labels\.([^:\s]+)(?::(.*))?$/.exec(t);
      if (!m) throw new BigQueryError('invalid', `Invalid filter ${JSON.stringify(filter)}: each term must be labels.<name>[:<value>].`);
      return { key: m[1], value: m[2] };
    });
    return (d: { labels?: Record<string, string> }) => terms.every((t) => d.labels?.[t.key] !== undefined && (t.value === undefined || d.labels[t.key] === t.value));
  };
  const sameRef = (ref: any, want: Record<string, string>, what: string) => {
    for (const [k, v] of Object.entries(want)) if (ref?.[k] !== undefined && ref[k] !== v) throw new BigQueryError('invalid', `Invalid ${what}: ${what}Reference.${k} ${ref[k]} does not match the request path (${v}).`);
  };

  app.get(`${prefix}/projects`, async () => {
    const ps = [...new Set([...cat.datasets.values()].map((d) => d.projectId))].sort();
    return { kind: 'bigquery#projectList', totalItems: ps.length, projects: ps.map((p) => ({ kind: 'bigquery#project', id: p, numericId: '1', projectReference: { projectId: p }, friendlyName: p })) };
  });

  const ds = `${prefix}/projects/:p/datasets`;
  app.get(ds, async (req: Req) => ({ kind: 'bigquery#datasetList', datasets: cat.listDatasets(req.params.p).filter(labelFilter(req.query.filter)).map(datasetResource) }));
  app.get(`${ds}/:d`, async (req: Req) => datasetResource(cat.dataset(req.params.p, req.params.d)));
  app.post(ds, async (req: Req) => {
    const b: any = req.body ?? {};
    const d = String(b.datasetReference?.datasetId ?? '');
    sameRef(b.datasetReference, { projectId: req.params.p }, 'dataset');
    if (b.location && String(b.location).toUpperCase() !== LOCATION) throw new BigQueryError('invalid', `The emulator keeps every dataset in location ${LOCATION}, not ${b.location}.`);
    await cat.createDataset(req.params.p, d, b);
    return datasetResource(cat.dataset(req.params.p, d));
  });
  app.patch(`${ds}/:d`, async (req: Req) => datasetResource(cat.patchDataset(req.params.p, req.params.d, req.body ?? {}, false)));
  app.put(`${ds}/:d`, async (req: Req) => datasetResource(cat.patchDataset(req.params.p, req.params.d, req.body ?? {}, true)));
  app.delete(`${ds}/:d`, async (req: Req, reply: FastifyReply) => {
    await cat.deleteDataset(req.params.p, req.params.d, req.query.deleteContents === 'true');
    return reply.code(204).send();
  });

  const ts = `${ds}/:d/tables`;
  app.get(ts, async (req: Req) => {
    const { p, d } = req.params;
    cat.dataset(p, d);
    const now = Date.now();
    const all = engine.listTables().filter((t) => t.projectId === p && t.datasetId === d && !(t.expirationTime !== undefined && t.expirationTime <= now));
    const start = num(req.query.pageToken) ?? 0;
    const max = Math.max(1, Math.min(num(req.query.maxResults) ?? 1000, 1000));
    const page = all.slice(start, start + max).map((t) => { const { schema: _s, ...rest } = tableResource(t); return rest; });
    return { kind: 'bigquery#tableList', totalItems: all.length, tables: page, ...(start + max < all.length ? { nextPageToken: String(start + max) } : {}) };
  });
  // tables.get `selectedFields`: the schema of those fields only (bq head --selected_fields reads it).
  app.get(`${ts}/:t`, async (req: Req) => {
    const { p, d, t } = req.params;
    const kept = anon?.meta({ projectId: p, datasetId: d, tableId: t });
    if (kept) return tableResource(kept);
    // A snapshot decorator (t@<ms>, t@-<ms>): the table's metadata as it was then, a dropped table's too (transfer.ts copies from it).
    const at = snapshotDecorator(t);
    const meta = at ? (cat.dataset(p, d), { ...engine.snapshotAt(p, d, at.table, at.atMs), datasetId: d, tableId: t }) : await mustTable(p, d, t);
    const r = tableResource(meta);
    const selected = req.query.selectedFields?.split(',').map((x) => x.trim()).filter(Boolean);
    return selected?.length ? { ...r, schema: { fields: r.schema.fields.filter((f) => selected.includes(f.name)) } } : r;
  });
  app.post(ts, async (req: Req) => {
    const { p, d } = req.params;
    const b: any = req.body ?? {};
    sameRef(b.tableReference, { projectId: p, datasetId: d }, 'table');
    const t = String(b.tableReference?.tableId ?? '');
    cat.dataset(p, d);
    if (b.view) {
      if (b.view.useLegacySql === true) throw new BigQueryError('invalid', 'Legacy SQL views are not supported by the emulator; set view.useLegacySql=false (bq mk --nouse_legacy_sql --view).');
      if (typeof b.view.query !== 'string' || !b.view.query.trim()) throw new BigQueryError('invalid', `Table ${p}:${d}.${t}: view.query is required.`);
      if (await cat.findTable(p, d, t)) throw new BigQueryError('duplicate', `Already Exists: Table ${p}:${d}.${t}`);
      await engine.run(`CREATE VIEW \`${p}.${d}.${t}\` AS ${b.view.query}`, { projectId: p, defaultDataset: { projectId: p, datasetId: d } });
      const { schema: _s, ...meta } = b;
      return tableResource(await cat.patchTable(p, d, t, meta, false));
    }
    return tableResource(await cat.createTable(p, d, t, b.schema?.fields ?? [], b));
  });
  /** tables.patch / tables.update; a new `view.query` replaces the view (CREATE OR REPLACE VIEW, checked like any). */
  const update = async (req: Req, replace: boolean) => {
    const { p, d, t } = req.params;
    const b: any = req.body ?? {};
    const m = await mustTable(p, d, t);
    if (b.view?.query !== undefined && b.view.query !== m.viewQuery) {
      if (m.viewQuery === undefined) throw new BigQueryError('invalid', `${p}:${d}.${t} is a table; only a view has view.query.`);
      if (b.view.useLegacySql === true) throw new BigQueryError('invalid', 'Legacy SQL views are not supported by the emulator; set view.useLegacySql=false.');
      const keep = { description: m.description, friendlyName: m.friendlyName, labels: m.labels, expirationTime: m.expirationTime, layout: m.layout, creationTime: m.creationTime };
      await engine.run(`CREATE OR REPLACE VIEW \`${p}.${d}.${t}\` AS ${b.view.query}`, { projectId: p, defaultDataset: { projectId: p, datasetId: d } });
      Object.assign((await cat.findTable(p, d, t))!, Object.fromEntries(Object.entries(keep).filter(([, v]) => v !== undefined)));
    }
    const { schema: _schema, ...rest } = b;
    return tableResource(await cat.patchTable(p, d, t, m.viewQuery !== undefined ? rest : b, replace));
  };
  app.patch(`${ts}/:t`, async (req: Req) => update(req, false));
  app.put(`${ts}/:t`, async (req: Req) => update(req, true));
  app.delete(`${ts}/:t`, async (req: Req, reply: FastifyReply) => {
    await mustTable(req.params.p, req.params.d, req.params.t);
    await engine.dropTable(req.params.p, req.params.d, req.params.t);
    return reply.code(204).send();
  });

  app.get(`${ts}/:t/data`, async (req: Req) => {
    const ref = { projectId: req.params.p, datasetId: req.params.d, tableId: req.params.t };
    const kept = anon?.get(ref);
    const t = kept ? anon!.meta(ref)! : await mustTable(req.params.p, req.params.d, req.params.t);
    const start = fromPageToken(req.query.pageToken) ?? num(req.query.startIndex) ?? 0;
    const max = num(req.query.maxResults) ?? 100_000;
    const selected = req.query.selectedFields?.split(',').map((s) => s.trim()).filter(Boolean);
    const fields = selected?.length ? t.schema.filter((f) => selected.includes(f.name)) : t.schema;
    const { schema, rows } = kept
      ? { schema: fields, rows: kept.rows.slice(start, start + max).map((r) => fields.map((f) => r[t.schema.indexOf(f)])) }
      : await engine.readTable(t, start, max, selected);
    const int64 = req.query['formatOptions.useInt64Timestamp'] === 'true';
    const out: Record<string, unknown> = { kind: 'bigquery#tableDataList', totalRows: String(t.numRows), rows: rows.map((r) => encodeRow(r, schema, int64)) };
    if (start + rows.length < t.numRows) out.pageToken = pageToken(start + rows.length);
    return out;
  });
  app.post(`${ts}/:t/insertAll`, async (req: Req) => insertAll(engine, await mustTable(req.params.p, req.params.d, req.params.t), req.body ?? {}));
}
