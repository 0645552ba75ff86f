/**
 * The emulator's copy, extract and load jobs (https://cloud.google.com/bigquery/docs/reference/rest/v2/Job#JobConfiguration):
 *
 * - `runCopy(engine, project, copy)`: `sourceTable` (or one of `sourceTables`) → `destinationTable`,
 *   with `createDisposition` (CREATE_IF_NEEDED | CREATE_NEVER) and `writeDisposition` (WRITE_EMPTY
 *   by default | WRITE_TRUNCATE | WRITE_APPEND); views cannot be copied. → `{copy: {copiedRows}}`.
 * - `runExtract(engine, root, project, extract)`: a table to one `gs://bucket/object` (a `*` in the
 *   name becomes `000000000000`), written under the bucket root (guard.ts `bucketFile`), as CSV
 *   (header unless `printHeader: false`, `fieldDelimiter`) or NEWLINE_DELIMITED_JSON, optionally
 *   GZIP. CSV cannot hold nested or repeated fields. → `{extract: {destinationUriFileCounts}}`.
 * - `runLoad(engine, root, project, load, data?)`: rows from an uploaded file (`data`) or from
 *   `sourceUris` under the bucket root, CSV (`skipLeadingRows`, `fieldDelimiter`, `allowQuotedNewlines`
 *   always on) or NEWLINE_DELIMITED_JSON (`ignoreUnknownValues`), into `destinationTable` with
 *   its `schema` (or the table's; `autodetect` infers one), the dispositions above (WRITE_APPEND by
 *   default) and `maxBadRecords`. → `{load: {inputFiles, inputFileBytes, outputRows, badRecords}}`.
 *
 * - `materialize(engine, project, query, result)`: a query job's `destinationTable` (WRITE_EMPTY by
 *   default), result columns matched by name.
 *
 * `schemaUpdateOptions: ['ALLOW_FIELD_ADDITION']` lets a load or query append add new NULLABLE
 * columns, `ALLOW_FIELD_RELAXATION` turns the REQUIRED columns the job leaves out (or gives as
 * NULLABLE) NULLABLE; other schema changes are refused. A table the job creates takes its
 * `timePartitioning`, `rangePartitioning` and `clustering`.
 *
 * Every failure is a BigQueryError (invalid, notFound, duplicate, accessDenied); other formats
 * (AVRO, PARQUET, ORC, …) are refused as notImplemented.
 */
import { existsSync, lstatSync, mkdirSync, readFileSync, realpathSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { BigQueryError } from '../bigquery/errors.js';
import { encodeCell, type BqField } from './encode.js';
import type { Engine } from './engine.js';
import { LAYOUT_FIELDS, type TableMeta } from './catalog.js';
import { bucketFile, checkInsideRoot, checkDeclaredTables, type Declared } from './guard.js';
import { rowValues, fieldType, type TypedRow } from './insert.js';
import { duckTypeOf } from './params.js';
import type { RunResult } from './engine.js';
import { snapshotDecorator } from './time-travel.js';

interface TableRef { projectId?: string; datasetId?: string; tableId?: string }

const keyOf = (r: TableRef, project: string) => {
  if (!r?.datasetId || !r?.tableId) throw new BigQueryError('invalid', 'A table reference needs datasetId and tableId.');
  return { p: r.projectId ?? project, d: r.datasetId, t: r.tableId };
};
const name = (k: { p: string; d: string; t: string }) => `${k.p}:${k.d}.${k.t}`;

async function mustTable(engine: Engine, k: { p: string; d: string; t: string }): Promise<TableMeta> {
  engine.catalog.dataset(k.p, k.d);
  const m = await engine.catalog.findTable(k.p, k.d, k.t);
  if (!m) throw new BigQueryError('notFound', `Not found: Table ${name(k)}`);
  return m;
}

/**
 * A copy's source: the table, or with a snapshot decorator (`t@<ms>` since the epoch, `t@-<ms>`
 * before now) its state at that instant, a dropped table's included (undelete). Range decorators
 * and partition decorators are refused as notImplemented.
 */
async function copySource(engine: Engine, k: { p: string; d: string; t: string }): Promise<TableMeta> {
  const at = snapshotDecorator(k.t);
  if (!at) {
    if (/[@$]/.test(k.t)) throw new BigQueryError('notImplemented', `The emulator copies from a snapshot decorator (table@<ms>) only; ${name(k)} has another decorator.`);
    return mustTable(engine, k);
  }
  engine.catalog.dataset(k.p, k.d);
  return engine.snapshotAt(k.p, k.d, at.table, at.atMs);
}

/** Where the destination of a copy or load stands: the table (after truncation if asked), or created with `schema`. */
async function destination(engine: Engine, k: { p: string; d: string; t: string }, cfg: any, schema: BqField[] | undefined, defaultWrite: string): Promise<TableMeta> {
  engine.catalog.dataset(k.p, k.d);
  const write = String(cfg.writeDisposition ?? defaultWrite);
  const create = String(cfg.createDisposition ?? 'CREATE_IF_NEEDED');
  if (!['WRITE_EMPTY', 'WRITE_TRUNCATE', 'WRITE_APPEND'].includes(write)) throw new BigQueryError('invalid', `Invalid writeDisposition ${write}.`);
  const existing = await engine.catalog.findTable(k.p, k.d, k.t);
  if (existing) {
    if (existing.viewQuery !== undefined) throw new BigQueryError('invalid', `Cannot write to the view ${name(k)}.`);
    if (write === 'WRITE_EMPTY' && existing.numRows > 0) throw new BigQueryError('duplicate', `Already Exists: Table ${name(k)} (writeDisposition WRITE_EMPTY and it has rows)`);
    const options: string[] = cfg.schemaUpdateOptions ?? [];
    const given = (f: BqField) => (schema ?? []).find((x) => x.name.toLowerCase() === f.name.toLowerCase());
    const added = (schema ?? []).filter((f) => !existing.schema.some((e) => e.name.toLowerCase() === f.name.toLowerCase()));
    // ALLOW_FIELD_RELAXATION: a REQUIRED column the job leaves out or gives as NULLABLE becomes NULLABLE.
    const relaxed = options.includes('ALLOW_FIELD_RELAXATION') ? existing.schema.filter((f) => f.mode === 'REQUIRED' && (given(f)?.mode ?? 'NULLABLE') !== 'REQUIRED') : [];
    if ((added.length && options.includes('ALLOW_FIELD_ADDITION')) || relaxed.length) {
      // schemaUpdateOptions ALLOW_FIELD_ADDITION: the job's new columns are added (NULLABLE) before it writes.
      const adds = options.includes('ALLOW_FIELD_ADDITION') ? added.map((f) => ({ ...f, mode: f.mode === 'REPEATED' ? 'REPEATED' as const : 'NULLABLE' as const })) : [];
      const kept = existing.schema.map((f) => (relaxed.includes(f) ? { ...f, mode: 'NULLABLE' as const } : f));
      await engine.catalog.patchTable(k.p, k.d, k.t, { schema: { fields: [...kept, ...adds] } }, false);
    }
    if (write === 'WRITE_TRUNCATE') {
      await engine.beforeWrite(`${k.p}.${k.d}.${k.t}`);
      await engine.catalog.exec(`DELETE FROM ${engine.catalog.sqlName(existing)}`);
      await engine.catalog.recount(`${k.p}.${k.d}.${k.t}`);
    }
    return existing;
  }
  if (create === 'CREATE_NEVER') throw new BigQueryError('notFound', `Not found: Table ${name(k)} (createDisposition CREATE_NEVER)`);
  if (!schema?.length) throw new BigQueryError('invalid', `Table ${name(k)} does not exist and the job gives no schema; set configuration.load.schema or autodetect.`);
  // A new table takes the job's partitioning and clustering (load and query jobs: timePartitioning, rangePartitioning, clustering).
  const layout = Object.fromEntries(LAYOUT_FIELDS.filter((f) => cfg[f] !== undefined && cfg[f] !== null).map((f) => [f, cfg[f]]));
  return engine.catalog.createTable(k.p, k.d, k.t, schema, layout);
}

const sameSchema = (a: BqField[], b: BqField[]) => a.length === b.length && a.every((f, i) => f.name === b[i].name && f.type === b[i].type && (f.mode ?? 'NULLABLE') === (b[i].mode ?? 'NULLABLE'));

/** A copy job: one or more source tables of the same schema into the destination. */
export async function runCopy(engine: Engine, project: string, copy: any, declared?: Declared): Promise<Record<string, unknown>> {
  const sources: TableRef[] = copy.sourceTables ?? (copy.sourceTable ? [copy.sourceTable] : []);
  if (!sources.length) throw new BigQueryError('invalid', 'A copy job needs sourceTable or sourceTables.');
  const sks = sources.map((r) => keyOf(r, project));
  const dk = keyOf(copy.destinationTable, project);
  const dkey = `${dk.p}.${dk.d}.${dk.t}`;
  if (declared) checkDeclaredTables(declared, sks.map((k) => `${k.p}.${k.d}.${k.t}`), [dkey]);
  const srcs = [];
  for (const sk of sks) {
    const src = await copySource(engine, sk);
    if (src.viewQuery !== undefined) throw new BigQueryError('invalid', `${name(sk)} is a view; views cannot be copied.`);
    if (`${sk.p}.${sk.d}.${sk.t}` === dkey) throw new BigQueryError('invalid', 'The source and destination of a copy are the same table.');
    if (srcs.length && !sameSchema(srcs[0].schema, src.schema)) throw new BigQueryError('invalid', `The source tables of a copy must have the same schema; ${name(sk)} differs.`);
    srcs.push(src);
  }
  const dest = await destination(engine, dk, copy, srcs[0].schema, 'WRITE_EMPTY');
  if (!sameSchema(dest.schema, srcs[0].schema)) throw new BigQueryError('invalid', `Provided Schema does not match Table ${name(dk)}: a copy appends only to a table with the same schema.`);
  await engine.beforeWrite(dkey);
  for (const src of srcs) await engine.catalog.exec(`INSERT INTO ${engine.catalog.sqlName(dest)} SELECT * FROM ${engine.catalog.sqlName(src)}`);
  await engine.catalog.recount(dkey);
  const copied = srcs.reduce((n, t) => n + t.numRows, 0);
  return { copy: { copiedRows: String(copied), copiedLogicalBytes: String(copied * 64) } };
}

/**
 * A query job's `destinationTable`: its result rows written there with the job's create/write
 * dispositions (WRITE_EMPTY by default, as BigQuery does for query jobs). Appending needs the same
 * column names and types.
 */
export async function materialize(engine: Engine, project: string, q: any, result: RunResult, declared?: Declared): Promise<void> {
  const dk = keyOf(q.destinationTable, project);
  if (declared) checkDeclaredTables(declared, [], [`${dk.p}.${dk.d}.${dk.t}`]);
  const dest = await destination(engine, dk, q, result.schema, 'WRITE_EMPTY');
  // Result columns by name into the table's columns: each must exist with its type; the table's others stay NULL.
  const at = dest.schema.map((f) => result.schema.findIndex((r) => r.name.toLowerCase() === f.name.toLowerCase()));
  const mismatch = result.schema.find((r) => { const f = dest.schema.find((x) => x.name.toLowerCase() === r.name.toLowerCase()); return !f || f.type !== r.type || (f.mode === 'REPEATED') !== (r.mode === 'REPEATED'); })
    ?? dest.schema.find((f, i) => at[i] < 0 && f.mode === 'REQUIRED');
  if (mismatch) throw new BigQueryError('invalid', `Provided Schema does not match Table ${name(dk)}: field ${mismatch.name} (the query's columns: ${result.schema.map((f) => `${f.name} ${f.type}`).join(', ')}); set schemaUpdateOptions ALLOW_FIELD_ADDITION to add columns.`);
  const types = dest.schema.map((f) => duckTypeOf(fieldType(f), f.name));
  await engine.insertTyped(dest, result.rows.map((r) => dest.schema.map((_f, i) => ({ value: at[i] < 0 ? null : r[at[i]], type: types[i] }))));
}

/** µs since the epoch as BigQuery exports a TIMESTAMP: `YYYY-MM-DD hh:mm:ss[.ffffff] UTC`. */
function exportTimestamp(micros: string): string {
  const us = BigInt(micros);
  const frac = ((us % 1_000_000n) + 1_000_000n) % 1_000_000n;
  const iso = new Date(Number((us - frac) / 1000n)).toISOString().slice(0, 19).replace('T', ' ');
  return `${iso}${frac ? `.${frac.toString().padStart(6, '0').replace(/0+$/, '')}` : ''} UTC`;
}

/** An f/v cell as a plain value for export (JSON: INT64 and NUMERIC as strings, FLOAT and BOOL as JSON). */
function plain(cell: unknown, f: BqField): unknown {
  if (f.mode === 'REPEATED') return (cell as Array<{ v: unknown }>).map((x) => plain(x.v, { ...f, mode: 'NULLABLE' }));
  if (cell === null || cell === undefined) return null;
  if (f.type === 'RECORD' || f.type === 'STRUCT') return Object.fromEntries((f.fields ?? []).map((c, i) => [c.name, plain((cell as { f: Array<{ v: unknown }> }).f[i].v, c)]));
  if (f.type === 'TIMESTAMP') return exportTimestamp(String(cell));
  if (f.type === 'FLOAT' || f.type === 'FLOAT64') { const n = Number(cell); return Number.isFinite(n) ? n : String(cell); }
  if (f.type === 'BOOLEAN' || f.type === 'BOOL') return cell === 'true';
  if (f.type === 'JSON') { try { return JSON.parse(String(cell)); } catch { return String(cell); } }
  return String(cell);
}

const csvCell = (v: unknown, delim: string) => {
  if (v === null || v === undefined) return '';
  const s = String(v);
  return s.includes(delim) || /["\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};

/** Writes `data` to the file standing for `uri` under `root`, refusing paths and links that leave it. */
function writeObject(root: string, uri: string, data: Buffer): string {
  const file = bucketFile(root, uri);
  mkdirSync(root, { recursive: true });
  mkdirSync(dirname(file), { recursive: true });
  checkInsideRoot(realpathSync(root), realpathSync(dirname(file)), uri);
  if (existsSync(file) && lstatSync(file).isSymbolicLink()) checkInsideRoot(realpathSync(root), realpathSync(file), uri);
  writeFileSync(file, data);
  return file;
}

/** Reads the file standing for `uri` under `root` (at most `maxBytes`). */
function readObject(root: string, uri: string, maxBytes: number): Buffer {
  const file = bucketFile(root, uri);
  if (!existsSync(file)) throw new BigQueryError('notFound', `Not found: URI ${uri}`);
  checkInsideRoot(realpathSync(root), realpathSync(file), uri);
  if (statSync(file).size > maxBytes) throw new BigQueryError('invalid', `${uri} is larger than the emulator's ${maxBytes}-byte load limit.`);
  return readFileSync(file);
}

/** An extract job. */
export async function runExtract(engine: Engine, root: string, project: string, extract: any, declared?: Declared): Promise<Record<string, unknown>> {
  const sk = keyOf(extract.sourceTable, project);
  if (declared) checkDeclaredTables(declared, [`${sk.p}.${sk.d}.${sk.t}`], []);
  const t = await mustTable(engine, sk);
  if (t.viewQuery !== undefined) throw new BigQueryError('invalid', `${name(sk)} is a view; extract a table (materialize the view with CREATE TABLE … AS SELECT).`);
  const uris: string[] = extract.destinationUris ?? (extract.destinationUri ? [extract.destinationUri] : []);
  if (uris.length !== 1) throw new BigQueryError('invalid', `The emulator extracts to one destination URI per job (got ${uris.length}).`);
  const target = uris[0].replace('*', '000000000000');
  bucketFile(root, target); // the URI is checked before any row is read
  const format = String(extract.destinationFormat ?? 'CSV').toUpperCase();
  if (format !== 'CSV' && format !== 'NEWLINE_DELIMITED_JSON') throw new BigQueryError('notImplemented', `The emulator extracts CSV and NEWLINE_DELIMITED_JSON, not ${format}.`);
  const compression = String(extract.compression ?? 'NONE').toUpperCase();
  if (compression !== 'NONE' && compression !== 'GZIP') throw new BigQueryError('notImplemented', `The emulator compresses extracts with GZIP or not at all, not ${compression}.`);
  if (format === 'CSV' && t.schema.some((f) => f.mode === 'REPEATED' || f.type === 'RECORD' || f.type === 'STRUCT')) {
    throw new BigQueryError('invalid', `Operation cannot be performed on a nested schema. Field: ${t.schema.find((f) => f.mode === 'REPEATED' || f.type === 'RECORD' || f.type === 'STRUCT')!.name}`);
  }
  const { schema, rows } = await engine.readTable(t, 0, t.numRows);
  const records = rows.map((r) => schema.map((f, i) => plain(encodeCell(r[i], f, true), f)));
  let text: string;
  if (format === 'CSV') {
    const delim = String(extract.fieldDelimiter ?? ',');
    const lines = records.map((r) => r.map((v) => csvCell(v, delim)).join(delim));
    if (extract.printHeader !== false) lines.unshift(schema.map((f) => csvCell(f.name, delim)).join(delim));
    text = lines.map((l) => `${l}\n`).join('');
  } else {
    text = records.map((r) => `${JSON.stringify(Object.fromEntries(schema.map((f, i) => [f.name, r[i]])))}\n`).join('');
  }
  const body = compression === 'GZIP' ? gzipSync(text) : Buffer.from(text);
  writeObject(root, target, body);
  return { extract: { destinationUriFileCounts: ['1'], inputBytes: String(text.length) } };
}

/** RFC 4180 records of `text` (quoted fields may hold delimiters, quotes doubled, newlines). */
export function parseCsv(text: string, delim: string): string[][] {
  const out: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  let i = 0;
  const end = () => { row.push(cell); cell = ''; };
  while (i < text.length) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { cell += '"'; i += 2; continue; }
      if (c === '"') { quoted = false; i++; continue; }
      cell += c; i++; continue;
    }
    if (c === '"' && cell === '') { quoted = true; i++; continue; }
    if (text.startsWith(delim, i)) { end(); i += delim.length; continue; }
    if (c === '\n' || c === '\r') { end(); out.push(row); row = []; i += c === '\r' && text[i + 1] === '\n' ? 2 : 1; continue; }
    cell += c; i++;
  }
  if (quoted) throw new BigQueryError('invalid', 'Error while reading data, error message: Missing close double quote (") character.');
  if (cell !== '' || row.length) { end(); out.push(row); }
  return out;
}

/** A schema inferred from rows (autodetect): INTEGER, FLOAT, BOOLEAN, else STRING; nested JSON as RECORD / REPEATED. */
function inferSchema(objs: Array<Record<string, unknown>>): BqField[] {
  const names = [...new Set(objs.flatMap((o) => Object.keys(o)))];
  const typeOf = (vs: unknown[]): Omit<BqField, 'name'> => {
    const present = vs.filter((v) => v !== null && v !== undefined && v !== '');
    if (present.length && present.every(Array.isArray)) { const inner = typeOf(present.flat()); return { ...inner, mode: 'REPEATED' }; }
    if (present.length && present.every((v) => typeof v === 'object')) return { type: 'RECORD', mode: 'NULLABLE', fields: inferSchema(present as Array<Record<string, unknown>>) };
    const s = present.map(String);
    if (s.length && s.every((v) => /^[+-]?\d+$/.test(v))) return { type: 'INTEGER', mode: 'NULLABLE' };
    if (s.length && s.every((v) => v.trim() !== '' && Number.isFinite(Number(v)))) return { type: 'FLOAT', mode: 'NULLABLE' };
    if (s.length && s.every((v) => /^(true|false)$/i.test(v))) return { type: 'BOOLEAN', mode: 'NULLABLE' };
    return { type: 'STRING', mode: 'NULLABLE' };
  };
  return names.map((n) => ({ name: n, ...typeOf(objs.map((o) => o[n])) }));
}

/** A load job from `data` (an upload) or the job's `sourceUris` under `root`. */
export async function runLoad(engine: Engine, root: string, project: string, load: any, data: Buffer | undefined, maxBytes: number, declared?: Declared): Promise<Record<string, unknown>> {
  const dk = keyOf(load.destinationTable, project);
  if (declared) checkDeclaredTables(declared, [], [`${dk.p}.${dk.d}.${dk.t}`]);
  const format = String(load.sourceFormat ?? 'CSV').toUpperCase();
  if (format !== 'CSV' && format !== 'NEWLINE_DELIMITED_JSON') throw new BigQueryError('notImplemented', `The emulator loads CSV and NEWLINE_DELIMITED_JSON, not ${format}.`);
  const files: Buffer[] = data !== undefined ? [data] : (load.sourceUris ?? []).map((u: string) => readObject(root, u, maxBytes));
  if (!files.length) throw new BigQueryError('invalid', 'A load job needs an uploaded file or configuration.load.sourceUris.');
  const text = files.map((b) => (b[0] === 0x1f && b[1] === 0x8b ? gunzipSync(b, { maxOutputLength: maxBytes }) : b).toString('utf8')).join('\n');
  // Rows as JSON objects: CSV cells by schema position (empty = NULL), JSON lines as written.
  const existing = await engine.catalog.findTable(dk.p, dk.d, dk.t);
  let schema: BqField[] | undefined = load.schema?.fields ?? existing?.schema;
  let objs: Array<Record<string, unknown> | Error>;
  if (format === 'CSV') {
    const records = parseCsv(text, String(load.fieldDelimiter ?? ',')).filter((r) => !(r.length === 1 && r[0] === ''));
    const skip = Number(load.skipLeadingRows ?? 0);
    const header = skip > 0 ? records[0] : undefined;
    const body = records.slice(skip);
    if (!schema && load.autodetect) {
      const names = header ?? (body[0] ?? []).map((_c, i) => `string_field_${i}`);
      schema = inferSchema(body.map((r) => Object.fromEntries(names.map((n, i) => [n, r[i]]))));
    }
    if (!schema) throw new BigQueryError('invalid', `Table ${name(dk)} does not exist and the job gives no schema; set configuration.load.schema or autodetect.`);
    if (schema.some((f) => f.mode === 'REPEATED' || f.type === 'RECORD' || f.type === 'STRUCT')) throw new BigQueryError('invalid', 'CSV cannot load nested or repeated fields; use NEWLINE_DELIMITED_JSON.');
    const fields = schema;
    objs = body.map((r, i) => (r.length > fields.length && !load.ignoreUnknownValues
      ? new Error(`Error while reading data, error message: Too many values in row starting at position ${i + skip}.`)
      : Object.fromEntries(fields.map((f, j) => [f.name, r[j] === undefined || r[j] === '' ? null : r[j]]))));
  } else {
    objs = text.split('\n').filter((l) => l.trim()).map((l, i) => { try { return JSON.parse(l); } catch { return new Error(`Error while reading data, error message: JSON parsing error in row starting at position ${i}.`); } });
    if (!schema && load.autodetect) schema = inferSchema(objs.filter((o): o is Record<string, unknown> => !(o instanceof Error)));
  }
  const dest = await destination(engine, dk, load, schema, 'WRITE_APPEND');
  const maxBad = Number(load.maxBadRecords ?? 0);
  const good: TypedRow[] = [];
  const bad: string[] = [];
  for (const o of objs) {
    if (o instanceof Error) { bad.push(o.message); continue; }
    const r = rowValues(dest.schema, o, load.ignoreUnknownValues === true || format === 'CSV');
    if ('errors' in r) bad.push(`Error while reading data, error message: ${r.errors[0].message}`); else good.push(r.values);
  }
  if (bad.length > maxBad) throw new BigQueryError('invalid', `Error while reading data: ${bad.length} bad record(s), more than maxBadRecords ${maxBad}. First: ${bad[0]}`);
  await engine.insertTyped(dest, good);
  return { load: { inputFiles: String(files.length), inputFileBytes: String(files.reduce((n, b) => n + b.length, 0)), outputRows: String(good.length), outputBytes: String(good.length * 64), badRecords: String(bad.length) } };
}
