/**
 * The load and extract samples of googleapis/nodejs-bigquery (`samples/load*.js`, `extract*.js`,
 * the column-changing loads): local files through the upload endpoint; gs:// sources and
 * destinations on the embedded emulator's bucket root, where the test first writes the CSV / JSON
 * file the sample reads from Google's public `cloud-samples-data` bucket (the states of a small
 * list made here). Avro, Parquet, ORC and Firestore exports need the real bucket's files.
 */
import { expect } from 'vitest';
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { q, type Scope, type Workflow } from './scope.ts';

const STATES: Array<[string, string]> = [['Washington', 'WA'], ['Wisconsin', 'WI'], ['West Virginia', 'WV'], ['Wyoming', 'WY'], ['Texas', 'TX'], ['Oregon', 'OR']];
const SAMPLES_BUCKET = 'cloud-samples-data';
const STATE_FIELDS = [{ name: 'name', type: 'STRING' }, { name: 'post_abbr', type: 'STRING' }];

/** Writes `text` at gs://cloud-samples-data/`name` of the emulator and returns its storage File. */
function stage(s: Scope, name: string, text: string): unknown {
  const path = s.gcs!.path(SAMPLES_BUCKET, name);
  mkdirSync(dirname(path), { recursive: true });
  if (!existsSync(path)) writeFileSync(path, text);
  return s.gcs!.file(SAMPLES_BUCKET, name);
}
const statesCsv = () => `name,post_abbr\n${STATES.map(([n, a]) => `${n},${a}`).join('\n')}\n`;
const statesJson = () => STATES.map(([name, post_abbr]) => JSON.stringify({ name, post_abbr })).join('\n') + '\n';
const statesByDateCsv = () => `name,post_abbr,date\n${STATES.map(([n, a], i) => `${n},${a},2026-11-0${i + 1}`).join('\n')}\n`;
const transactionsCsv = () => `timestamp,origin,destination,amount\n${STATES.map(([, a], i) => `2026-11-0${i + 1} 10:00:00 UTC,${a},${STATES[(i + 1) % STATES.length][1]},${i + 1}.25`).join('\n')}\n`;

const count = async (s: Scope, ds: string, t: string) => Number((await s.bq.query(`SELECT COUNT(*) AS n FROM ${q(ds, t)}`))[0][0].n);
/** The load target: a fresh table in the administrator's dataset, shop.orders for the analyst (refused). */
const target = (s: Scope) => (s.who === 'admin' ? s.fresh('us_states') : 'orders');

/** A GCS load sample over the emulator's gs:// (`file`: the object name and its text). */
function gcsLoad(sample: string, file: [string, () => string], metadata: Record<string, unknown>, check?: (s: Scope, table: string) => Promise<void>): Workflow {
  return {
    sample, demo: 'deny',
    async run(s) {
      const src = stage(s, file[0], file[1]());
      const t = target(s);
      const [job] = await s.bq.dataset(s.ds).table(t).load(src as never, metadata as never);
      expect(job.status?.errors ?? []).toEqual([]);
      expect(await count(s, s.ds, t)).toBe(STATES.length);
      await check?.(s, t);
    },
  };
}
/** A load sample whose source format the emulator cannot read: skipped for the administrator; the analyst's load is still decided. */
function realGcsLoad(sample: string, object: string, metadata: Record<string, unknown>): Workflow {
  return {
    sample, demo: 'deny', needs: { what: 'cloud-storage', why: `the ${object.split('.').at(-1)!.toUpperCase()} file in gs://${SAMPLES_BUCKET} (the emulator loads CSV and JSON only)` },
    async run(s) {
      const [job] = await s.bq.dataset(s.ds).table(target(s)).load(s.gcs!.file(SAMPLES_BUCKET, object) as never, metadata as never);
      expect(job.status?.errors ?? []).toEqual([]);
    },
  };
}

export const TRANSFER_WORKFLOWS: Workflow[] = [
  {
    sample: 'loadLocalFile.js', demo: 'deny', seed: ['people'],
    async run(s) {
      const file = join(s.work, `people-${s.who}.csv`);
      writeFileSync(file, 'Tom,30,70.5,false\nJane,32,60.25,true\n');
      const [job] = await s.bq.dataset(s.ds).table(s.people).load(file);
      expect(job.status?.errors ?? []).toEqual([]);
      expect(await count(s, s.ds, s.people)).toBe(2);
    },
  },
  {
    sample: 'addColumnLoadAppend.js', demo: 'deny', seed: ['people'],
    async run(s) {
      const file = join(s.work, `people-color-${s.who}.csv`);
      writeFileSync(file, 'Tom,30,70.5,false,green\n');
      const [t] = await s.bq.dataset(s.ds).table(s.people).get();
      const [job] = await t.load(file, { schema: 'Name:STRING, Age:INTEGER, Weight:FLOAT, IsMagic:BOOLEAN, Color:STRING', schemaUpdateOptions: ['ALLOW_FIELD_ADDITION'], writeDisposition: 'WRITE_APPEND', destinationTable: t.metadata.tableReference } as never);
      expect(job.status?.errors ?? []).toEqual([]);
      const [meta] = await t.getMetadata();
      expect(meta.schema.fields.map((f: any) => f.name)).toContain('Color');
    },
  },
  {
    sample: 'relaxColumnLoadAppend.js', demo: 'deny', seed: ['people'],
    async run(s) {
      const file = join(s.work, `people-noname-${s.who}.csv`);
      writeFileSync(file, '30,70.5,false\n');
      const [t] = await s.bq.dataset(s.ds).table(s.people).get();
      const [job] = await t.load(file, { schema: 'Age:INTEGER, Weight:FLOAT, IsMagic:BOOLEAN', schemaUpdateOptions: ['ALLOW_FIELD_RELAXATION'], writeDisposition: 'WRITE_APPEND', destinationTable: t.metadata.tableReference } as never);
      expect(job.status?.errors ?? []).toEqual([]);
      const [meta] = await t.getMetadata();
      expect(meta.schema.fields.find((f: any) => f.name === 'Name').mode).toBe('NULLABLE');
    },
  },
  gcsLoad('loadCSVFromGCS.js', ['bigquery/us-states/us-states.csv', statesCsv], { sourceFormat: 'CSV', skipLeadingRows: 1, schema: { fields: STATE_FIELDS }, location: 'US' }),
  gcsLoad('loadCSVFromGCSAutodetect.js', ['bigquery/us-states/us-states.csv', statesCsv], { sourceFormat: 'CSV', skipLeadingRows: 1, autodetect: true, location: 'US' }),
  gcsLoad('loadCSVFromGCSTruncate.js', ['bigquery/us-states/us-states.csv', statesCsv], { sourceFormat: 'CSV', skipLeadingRows: 1, schema: { fields: STATE_FIELDS }, writeDisposition: 'WRITE_TRUNCATE' }),
  gcsLoad('loadJSONFromGCS.js', ['bigquery/us-states/us-states.json', statesJson], { sourceFormat: 'NEWLINE_DELIMITED_JSON', schema: { fields: STATE_FIELDS }, location: 'US' }),
  gcsLoad('loadJSONFromGCSAutodetect.js', ['bigquery/us-states/us-states.json', statesJson], { sourceFormat: 'NEWLINE_DELIMITED_JSON', autodetect: true, location: 'US' }),
  gcsLoad('loadJSONFromGCSTruncate.js', ['bigquery/us-states/us-states.json', statesJson], { sourceFormat: 'NEWLINE_DELIMITED_JSON', schema: { fields: STATE_FIELDS }, writeDisposition: 'WRITE_TRUNCATE' }),
  gcsLoad('loadTablePartitioned.js', ['bigquery/us-states/us-states-by-date.csv', statesByDateCsv], {
    sourceFormat: 'CSV', skipLeadingRows: 1, location: 'US', schema: { fields: [...STATE_FIELDS, { name: 'date', type: 'DATE' }] }, timePartitioning: { type: 'DAY', expirationMs: '7776000000', field: 'date' },
  }, async (s, t) => { expect((await s.bq.dataset(s.ds).table(t).getMetadata())[0].timePartitioning).toMatchObject({ type: 'DAY', field: 'date' }); }),
  gcsLoad('loadTableClustered.js', ['bigquery/sample-transactions/transactions.csv', transactionsCsv], {
    sourceFormat: 'CSV', skipLeadingRows: 1, schema: { fields: [{ name: 'timestamp', type: 'TIMESTAMP' }, { name: 'origin', type: 'STRING' }, { name: 'destination', type: 'STRING' }, { name: 'amount', type: 'NUMERIC' }] }, clustering: { fields: ['origin', 'destination'] },
  }, async (s, t) => { expect((await s.bq.dataset(s.ds).table(t).getMetadata())[0].clustering).toEqual({ fields: ['origin', 'destination'] }); }),
  realGcsLoad('loadTableGCSAvro.js', 'bigquery/us-states/us-states.avro', { sourceFormat: 'AVRO' }),
  realGcsLoad('loadTableGCSAvroTruncate.js', 'bigquery/us-states/us-states.avro', { sourceFormat: 'AVRO', writeDisposition: 'WRITE_TRUNCATE' }),
  realGcsLoad('loadTableGCSORC.js', 'bigquery/us-states/us-states.orc', { sourceFormat: 'ORC', location: 'US' }),
  realGcsLoad('loadOrcFromGCSTruncate.js', 'bigquery/us-states/us-states.orc', { sourceFormat: 'ORC', writeDisposition: 'WRITE_TRUNCATE' }),
  realGcsLoad('loadTableGCSParquet.js', 'bigquery/us-states/us-states.parquet', { sourceFormat: 'PARQUET', location: 'US' }),
  realGcsLoad('loadParquetFromGCSTruncate.js', 'bigquery/us-states/us-states.parquet', { sourceFormat: 'PARQUET', writeDisposition: 'WRITE_TRUNCATE' }),
  realGcsLoad('loadTableURIFirestore.js', 'bigquery/us-states/2021-07-02T16:04:48_70344/all_namespaces/kind_us-states/all_namespaces_kind_us-states.export_metadata', {}),
  {
    sample: 'queryExternalGCSPerm.js', demo: 'deny', refused: /externalDataConfiguration/,
    async run(s) {
      const id = s.fresh('external');
      await s.bq.dataset(s.ds).createTable(id, { schema: STATE_FIELDS, externalDataConfiguration: { sourceFormat: 'CSV', sourceUris: [`gs://${SAMPLES_BUCKET}/bigquery/us-states/us-states.csv`], csvOptions: { skipLeadingRows: 1 } } } as never);
      const [job] = await s.bq.createQueryJob(`SELECT post_abbr FROM ${q(s.ds, id)} WHERE name LIKE 'W%'`);
      await job.getQueryResults();
    },
  },
  {
    sample: 'extractTableToGCS.js', demo: 'deny', seed: ['table'],
    async run(s) {
      const name = `${s.fresh('orders')}.csv`;
      const [job] = await s.bq.dataset(s.ds).table(s.table).extract(s.gcs!.file(s.exportBucket, name) as never, { location: 'US' });
      expect(job.status?.errors ?? []).toEqual([]);
      const lines = readFileSync(s.gcs!.path(s.exportBucket, name), 'utf8').trim().split('\n');
      expect(lines[0]).toBe('order_id,customer_id,amount,status');
      expect(lines.length - 1).toBe(await count(s, s.ds, s.table));
    },
  },
  {
    sample: 'extractTableJSON.js', demo: 'deny', seed: ['table'],
    async run(s) {
      const name = `${s.fresh('orders')}.json`;
      const [job] = await s.bq.dataset(s.ds).table(s.table).extract(s.gcs!.file(s.exportBucket, name) as never, { format: 'json', location: 'US' } as never);
      expect(job.status?.errors ?? []).toEqual([]);
      const rows = readFileSync(s.gcs!.path(s.exportBucket, name), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      expect(rows).toHaveLength(await count(s, s.ds, s.table));
      expect(Object.keys(rows[0]).sort()).toEqual(['amount', 'customer_id', 'order_id', 'status']);
    },
  },
  {
    sample: 'extractTableCompressed.js', demo: 'deny', seed: ['table'],
    async run(s) {
      const name = `${s.fresh('orders')}.csv`;
      const [job] = await s.bq.dataset(s.ds).table(s.table).extract(s.gcs!.file(s.exportBucket, name) as never, { location: 'US', gzip: true });
      expect(job.status?.errors ?? []).toEqual([]);
      const text = gunzipSync(readFileSync(s.gcs!.path(s.exportBucket, name))).toString('utf8');
      expect(text.trim().split('\n').length - 1).toBe(await count(s, s.ds, s.table));
    },
  },
];

/** Whether a workflow needs the storage client (a gs:// File): every gs:// load and extract. */
export const usesGcs = (w: Workflow) => TRANSFER_WORKFLOWS.includes(w) && !['loadLocalFile.js', 'addColumnLoadAppend.js', 'relaxColumnLoadAppend.js', 'queryExternalGCSPerm.js'].includes(w.sample);
