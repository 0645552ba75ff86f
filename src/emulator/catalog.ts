/**
 * The emulator's datasets and tables as BigQuery resources: what exists, its schema, row count,
 * description, labels, friendly name and expiration, kept beside the DuckDB catalog (one attached
 * catalog per project, one schema per dataset). The engine calls it after DDL; the REST methods
 * (resources.ts) call it for datasets.insert/patch/update/delete and tables.insert/patch/update/
 * delete, following https://cloud.google.com/bigquery/docs/reference/rest/v2/datasets and
 * https://cloud.google.com/bigquery/docs/reference/rest/v2/tables.
 *
 * Errors are BigQueryError: notFound (project, dataset, table), duplicate (409 Already Exists),
 * invalid for a dataset with tables deleted without deleteContents (BigQuery's reason there is resourceInUse, which errors.ts does not have yet), invalid (a schema change
 * BigQuery does not allow: only new NULLABLE/REPEATED columns may be added, none removed or retyped).
 * A table past its `expirationTime` is gone, as in BigQuery (dropped the next time it is looked up).
 */
import type { DuckDBInstance, DuckDBConnection } from '@duckdb/node-api';
import { BigQueryError } from '../bigquery/errors.js';
import { bqToDuck, duckToField, type BqField } from './encode.js';
import { HISTORY_DATASET } from './time-travel.js';

export interface TableMeta {
  projectId: string;
  datasetId: string;
  tableId: string;
  schema: BqField[];
  numRows: number;
  creationTime: number;
  lastModifiedTime?: number;
  /** For a view: its GoogleSQL definition (tables.get `view.query`). */
  viewQuery?: string;
  description?: string;
  friendlyName?: string;
  labels?: Record<string, string>;
  /** ms since the epoch; the table is dropped once past it. */
  expirationTime?: number;
  /** Kept and echoed, not acted on: timePartitioning, rangePartitioning, clustering, requirePartitionFilter. */
  layout?: Record<string, unknown>;
}

/** Table fields the emulator keeps as given (it does not partition or cluster). */
export const LAYOUT_FIELDS = ['timePartitioning', 'rangePartitioning', 'clustering', 'requirePartitionFilter'] as const;

export interface DatasetMeta {
  projectId: string;
  datasetId: string;
  creationTime: number;
  lastModifiedTime: number;
  description?: string;
  friendlyName?: string;
  labels?: Record<string, string>;
  defaultTableExpirationMs?: number;
  /** Kept and echoed (datasets.patch `access`); the emulator does not enforce it, the gateway decides. */
  access?: unknown[];
}

/** Fields of a table resource tables.patch / tables.update may change (besides schema). */
export interface TablePatch { [layout: string]: unknown; description?: string | null; friendlyName?: string | null; labels?: Record<string, string> | null; expirationTime?: string | number | null; schema?: { fields?: BqField[] } }

const quote = (s: string) => `"${s.replace(/"/g, '""')}"`;
const ID = /^[A-Za-z0-9_]{1,1024}$/;

/** Checks a dataset or table id as BigQuery does (letters, digits, underscores); throws invalid. */
export function checkId(kind: 'Dataset' | 'Table', id: string): void {
  if (!ID.test(id) || id === HISTORY_DATASET) throw new BigQueryError('invalid', `Invalid ${kind.toLowerCase()} ID "${id}". ${kind} IDs must be alphanumeric (plus underscores) and must be at most 1024 characters long.`);
}

export class Catalog {
  readonly datasets = new Map<string, DatasetMeta>();

  constructor(private readonly db: DuckDBInstance, readonly tables: Map<string, TableMeta>, private readonly projects: Set<string>) {}

  private async with<T>(f: (con: DuckDBConnection) => Promise<T>): Promise<T> {
    const con = await this.db.connect();
    try { return await f(con); } finally { con.closeSync(); }
  }

  hasProject(p: string): boolean { return this.projects.has(p); }

  /** The DuckDB name of a table, every part quoted. */
  sqlName(t: TableMeta): string { return `${quote(t.projectId)}.${quote(t.datasetId)}.${quote(t.tableId)}`; }

  /** Runs a statement the emulator built itself from quoted names (`sqlName`), never client text. */
  async exec(sql: string): Promise<void> { await this.with((con) => con.run(sql)); }

  /** The dataset `p:d`; throws notFound. */
  dataset(p: string, d: string): DatasetMeta {
    const m = this.datasets.get(`${p}.${d}`);
    if (!m) throw new BigQueryError('notFound', `Not found: Dataset ${p}:${d}`);
    return m;
  }

  listDatasets(p: string): DatasetMeta[] {
    return [...this.datasets.values()].filter((d) => d.projectId === p).sort((a, b) => a.datasetId.localeCompare(b.datasetId));
  }

  /** The table `p.d.t` if it exists (an expired one is dropped first). */
  async findTable(p: string, d: string, t: string): Promise<TableMeta | undefined> {
    const m = this.tables.get(`${p}.${d}.${t}`);
    if (m?.expirationTime !== undefined && m.expirationTime <= Date.now()) { await this.dropTable(p, d, t); return undefined; }
    return m;
  }

  /** Records a dataset that exists in DuckDB already (fixtures). */
  register(meta: DatasetMeta): void { this.datasets.set(`${meta.projectId}.${meta.datasetId}`, meta); }

  /** datasets.insert / CREATE SCHEMA: a new empty dataset; `ifNotExists` makes an existing one a no-op (returns false). */
  async createDataset(p: string, d: string, fields: Partial<DatasetMeta> = {}, ifNotExists = false): Promise<boolean> {
    checkId('Dataset', d);
    if (!this.projects.has(p)) throw new BigQueryError('notFound', `Not found: Project ${p}`);
    if (this.datasets.has(`${p}.${d}`)) {
      if (ifNotExists) return false;
      throw new BigQueryError('duplicate', `Already Exists: Dataset ${p}:${d}`);
    }
    await this.with((con) => con.run(`CREATE SCHEMA ${quote(p)}.${quote(d)}`));
    const now = Date.now();
    // BigQuery gives a new dataset without `access` the project roles' entries (https://cloud.google.com/bigquery/docs/reference/rest/v2/datasets#Dataset.FIELDS.access).
    this.register({ access: DEFAULT_ACCESS.map((a) => ({ ...a })), ...pick(fields), projectId: p, datasetId: d, creationTime: now, lastModifiedTime: now });
    return true;
  }

  /** datasets.patch (`replace` false: only the fields given) / datasets.update (`replace` true). */
  patchDataset(p: string, d: string, body: Partial<DatasetMeta>, replace: boolean): DatasetMeta {
    const m = this.dataset(p, d);
    const given = pick(body);
    // patch merges labels (a null value removes that label: SDK deleteLabelDataset); update replaces them.
    if (!replace && given.labels) given.labels = { ...(m.labels ?? {}), ...given.labels };
    const next = replace ? { projectId: p, datasetId: d, creationTime: m.creationTime, ...given } : { ...m, ...given };
    if (next.labels) { for (const [k, v] of Object.entries(next.labels)) if (v === null) delete next.labels[k]; if (!Object.keys(next.labels).length) delete next.labels; }
    const out = { ...next, lastModifiedTime: Date.now() } as DatasetMeta;
    for (const k of Object.keys(out) as Array<keyof DatasetMeta>) if (out[k] === null) delete out[k];
    this.register(out);
    return out;
  }

  /** datasets.delete / DROP SCHEMA: refuses (resourceInUse) a dataset with tables unless `deleteContents`. */
  async deleteDataset(p: string, d: string, deleteContents: boolean): Promise<void> {
    this.dataset(p, d);
    const inside = [...this.tables.values()].filter((t) => t.projectId === p && t.datasetId === d);
    if (inside.length && !deleteContents) throw new BigQueryError('invalid', `Dataset ${p}:${d} is still in use: it has ${inside.length} table(s); delete them first or set deleteContents (bq rm -r).`);
    await this.with((con) => con.run(`DROP SCHEMA ${quote(p)}.${quote(d)} CASCADE`));
    for (const t of inside) this.tables.delete(`${p}.${d}.${t.tableId}`);
    this.datasets.delete(`${p}.${d}`);
  }

  /** tables.insert of a table with a schema (views go through the engine, which checks their query). */
  async createTable(p: string, d: string, t: string, schema: BqField[], extra: TablePatch = {}): Promise<TableMeta> {
    checkId('Table', t);
    this.dataset(p, d);
    if (await this.findTable(p, d, t)) throw new BigQueryError('duplicate', `Already Exists: Table ${p}:${d}.${t}`);
    if (!schema.length) throw new BigQueryError('invalid', `Table ${p}:${d}.${t} needs a schema with at least one field.`);
    let cols: string;
    try { cols = schema.map((f) => `${quote(f.name)} ${bqToDuck(f)}`).join(', '); } catch (err) { throw new BigQueryError('invalid', `Invalid schema for ${p}:${d}.${t}: ${(err as Error).message}.`); }
    await this.with((con) => con.run(`CREATE TABLE ${quote(p)}.${quote(d)}.${quote(t)} (${cols})`));
    const now = Date.now();
    const meta: TableMeta = { projectId: p, datasetId: d, tableId: t, schema: schema.map(normalField), numRows: 0, creationTime: now, lastModifiedTime: now };
    applyPatch(meta, extra);
    this.tables.set(`${p}.${d}.${t}`, meta);
    return meta;
  }

  /** tables.patch / tables.update: metadata, and a schema that only adds columns (ALTER TABLE ADD COLUMN). */
  async patchTable(p: string, d: string, t: string, body: TablePatch, replace: boolean): Promise<TableMeta> {
    const m = await this.findTable(p, d, t);
    if (!m) throw new BigQueryError('notFound', `Not found: Table ${p}:${d}.${t}`);
    const fields = body.schema?.fields;
    if (fields && !m.viewQuery) {
      const added = checkSchemaChange(m.schema, fields, `${p}:${d}.${t}`);
      await this.with(async (con) => { for (const f of added) await con.run(`ALTER TABLE ${quote(p)}.${quote(d)}.${quote(t)} ADD COLUMN ${quote(f.name)} ${bqToDuck(f)}`); });
      m.schema = fields.map(normalField);
    }
    if (replace) { delete m.description; delete m.friendlyName; delete m.labels; delete m.expirationTime; delete m.layout; }
    applyPatch(m, body);
    m.lastModifiedTime = Date.now();
    return m;
  }

  /** tables.delete / DROP TABLE: the table and its metadata. */
  async dropTable(p: string, d: string, t: string): Promise<void> {
    const m = this.tables.get(`${p}.${d}.${t}`);
    if (!m) throw new BigQueryError('notFound', `Not found: Table ${p}:${d}.${t}`);
    await this.with((con) => con.run(`DROP ${m.viewQuery !== undefined ? 'VIEW' : 'TABLE'} IF EXISTS ${quote(p)}.${quote(d)}.${quote(t)}`));
    this.tables.delete(`${p}.${d}.${t}`);
  }

  /**
   * Reads back a table or view DuckDB now holds (after CREATE, CTAS, a load or a copy): schema from
   * its columns (REQUIRED where NOT NULL), row count; `viewQuery` for a view. Keeps `schema` when given.
   */
  async sync(p: string, d: string, t: string, opts: { viewQuery?: string; schema?: BqField[]; created?: boolean } = {}): Promise<TableMeta> {
    const target = `${quote(p)}.${quote(d)}.${quote(t)}`;
    const { schema, numRows } = await this.with(async (con) => {
      const r = await con.runAndReadAll(`SELECT * FROM ${target} LIMIT 0`);
      const notNull = new Set((await con.runAndReadAll(`SELECT column_name FROM (DESCRIBE ${target}) WHERE "null" = 'NO'`)).getRows().map((x) => String(x[0])));
      const fields = opts.schema ?? r.columnNames().map((n, i) => { const f = duckToField(n, r.columnTypes()[i]); return notNull.has(n) && f.mode === 'NULLABLE' ? { ...f, mode: 'REQUIRED' as const } : f; });
      const n = opts.viewQuery !== undefined ? 0 : Number((await con.runAndReadAll(`SELECT count(*) FROM ${target}`)).getRows()[0][0]);
      return { schema: fields, numRows: n };
    });
    const key = `${p}.${d}.${t}`;
    const old = this.tables.get(key);
    const now = Date.now();
    const meta: TableMeta = opts.created || !old
      ? { projectId: p, datasetId: d, tableId: t, schema, numRows, creationTime: now, lastModifiedTime: now, ...(opts.viewQuery !== undefined ? { viewQuery: opts.viewQuery } : {}) }
      : { ...old, schema, numRows, lastModifiedTime: now };
    this.tables.set(key, meta);
    return meta;
  }

  /** Recounts a table's rows after DML, a streaming insert or a load. */
  async recount(key: string): Promise<void> {
    const m = this.tables.get(key);
    if (!m || m.viewQuery !== undefined) return;
    const r = await this.with((con) => con.runAndReadAll(`SELECT count(*) FROM ${quote(m.projectId)}.${quote(m.datasetId)}.${quote(m.tableId)}`));
    m.numRows = Number(r.getRows()[0][0]);
    m.lastModifiedTime = Date.now();
  }
}

/** The access list of a dataset created without one: the project's owners, writers and readers. */
const DEFAULT_ACCESS = [{ role: 'WRITER', specialGroup: 'projectWriters' }, { role: 'OWNER', specialGroup: 'projectOwners' }, { role: 'READER', specialGroup: 'projectReaders' }];

/** The writable dataset fields of a body. */
function pick(b: Partial<DatasetMeta>): Partial<DatasetMeta> {
  const out: Partial<DatasetMeta> = {};
  for (const k of ['description', 'friendlyName', 'labels', 'defaultTableExpirationMs', 'access'] as const) if (b && k in b) (out as any)[k] = b[k];
  return out;
}

function applyPatch(m: TableMeta, b: TablePatch): void {
  if (b.description !== undefined) { if (b.description === null) delete m.description; else m.description = String(b.description); }
  if (b.friendlyName !== undefined) { if (b.friendlyName === null) delete m.friendlyName; else m.friendlyName = String(b.friendlyName); }
  if (b.labels !== undefined) {
    if (b.labels === null) delete m.labels;
    else { const l = { ...(m.labels ?? {}), ...b.labels }; for (const [k, v] of Object.entries(l)) if (v === null) delete l[k]; m.labels = l; }
  }
  for (const k of LAYOUT_FIELDS) {
    if (b[k] === undefined) continue;
    const layout = { ...(m.layout ?? {}) };
    if (b[k] === null) delete layout[k]; else layout[k] = b[k];
    m.layout = layout;
  }
  if (b.expirationTime !== undefined) {
    if (b.expirationTime === null) delete m.expirationTime;
    else {
      const ms = Number(b.expirationTime);
      if (!Number.isFinite(ms)) throw new BigQueryError('invalid', `Invalid expirationTime ${b.expirationTime}: expected milliseconds since the epoch.`);
      m.expirationTime = ms;
    }
  }
}

const normalField = (f: BqField): BqField => ({ ...f, type: f.type.toUpperCase(), mode: f.mode ?? 'NULLABLE', ...(f.fields ? { fields: f.fields.map(normalField) } : {}) });

const sameType = (a: string, b: string) => {
  const canon = (t: string) => ({ INT64: 'INTEGER', FLOAT64: 'FLOAT', BOOL: 'BOOLEAN', STRUCT: 'RECORD' } as Record<string, string>)[t.toUpperCase()] ?? t.toUpperCase();
  return canon(a) === canon(b);
};

/** The fields `next` adds to `old`; throws invalid for a removed, retyped or REQUIRED new column (BigQuery's schema-change rules). */
function checkSchemaChange(old: BqField[], next: BqField[], name: string): BqField[] {
  for (const f of old) {
    const n = next.find((x) => x.name.toLowerCase() === f.name.toLowerCase());
    if (!n) throw new BigQueryError('invalid', `Provided Schema does not match Table ${name}. Cannot remove field ${f.name}: a schema update may only add columns.`);
    if (!sameType(n.type, f.type)) throw new BigQueryError('invalid', `Provided Schema does not match Table ${name}. Field ${f.name} has changed type from ${f.type} to ${n.type}.`);
    if ((n.mode ?? 'NULLABLE') === 'REPEATED' !== ((f.mode ?? 'NULLABLE') === 'REPEATED')) throw new BigQueryError('invalid', `Provided Schema does not match Table ${name}. Field ${f.name} has changed mode from ${f.mode ?? 'NULLABLE'} to ${n.mode ?? 'NULLABLE'}.`);
  }
  const added = next.filter((n) => !old.some((f) => f.name.toLowerCase() === n.name.toLowerCase()));
  const req = added.find((f) => f.mode === 'REQUIRED');
  if (req) throw new BigQueryError('invalid', `Provided Schema does not match Table ${name}. Cannot add required field ${req.name}: new fields must be NULLABLE or REPEATED.`);
  return added;
}

