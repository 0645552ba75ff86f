/**
 * The table, view, row and destination-table samples of googleapis/nodejs-bigquery (`samples/`):
 * create (plain, clustered, partitioned, range-partitioned, nested, column ACL, every data type),
 * get / exists / labels / description / expiration / schema changes / delete / undelete, copy,
 * streaming inserts, browsing rows, views (SDK and DDL), and queries that write a destination table.
 */
import { expect } from 'vitest';
import { PEOPLE_SCHEMA, peopleRows, q, type Scope, type Workflow } from './scope.ts';

const ORDERS = q('shop', 'orders');
const table = (s: Scope, id: string) => s.bq.dataset(s.ds).table(id);
const names = (fields: Array<{ name: string }>) => fields.map((f) => f.name);
/** A policy tag of the demo project's taxonomy (the samples' column ACL). */
const POLICY_TAG = 'projects/demo-project/locations/us/taxonomies/samples/policyTags/restricted';

export const TABLE_WORKFLOWS: Workflow[] = [
  {
    sample: 'createTable.js', demo: 'deny',
    async run(s) {
      const [t] = await s.bq.dataset(s.ds).createTable(s.fresh('my_new_table'), { schema: PEOPLE_SCHEMA, location: 'US' });
      expect(names(t.metadata.schema.fields)).toEqual(['Name', 'Age', 'Weight', 'IsMagic']);
    },
  },
  {
    sample: 'createTableClustered.js', demo: 'deny',
    async run(s) {
      const [t] = await s.bq.dataset(s.ds).createTable(s.fresh('clustered'), { schema: 'name:string, city:string, zipcode:integer', clustering: { fields: ['city', 'zipcode'] } });
      expect(t.metadata.clustering).toEqual({ fields: ['city', 'zipcode'] });
    },
  },
  {
    sample: 'removeTableClustering.js', demo: 'deny',
    async run(s) {
      const [t] = await s.bq.dataset(s.ds).createTable(s.fresh('clustered'), { schema: 'name:string, city:string, zipcode:integer', clustering: { fields: ['city', 'zipcode'] } });
      const metadata = t.metadata;
      metadata.clustering = null;
      const [after] = await t.setMetadata(metadata);
      expect(after.clustering).toBeUndefined();
    },
  },
  {
    sample: 'createTablePartitioned.js', demo: 'deny',
    async run(s) {
      const [t] = await s.bq.dataset(s.ds).createTable(s.fresh('partitioned'), { schema: 'Name:string, Post_Abbr:string, Date:date', location: 'US', timePartitioning: { type: 'DAY', expirationMs: '7776000000', field: 'date' } });
      expect(t.metadata.timePartitioning).toMatchObject({ type: 'DAY', field: 'date' });
    },
  },
  {
    sample: 'createTableRangePartitioned.js', demo: 'deny',
    async run(s) {
      const [t] = await s.bq.dataset(s.ds).createTable(s.fresh('range'), {
        schema: [{ name: 'fullName', type: 'STRING' }, { name: 'city', type: 'STRING' }, { name: 'zipcode', type: 'INTEGER' }],
        rangePartitioning: { field: 'zipcode', range: { start: '0', end: '100000', interval: '10' } },
      });
      expect(t.metadata.rangePartitioning).toMatchObject({ field: 'zipcode' });
    },
  },
  {
    sample: 'nestedRepeatedSchema.js', demo: 'deny',
    async run(s) {
      const [t] = await s.bq.dataset(s.ds).createTable(s.fresh('nested'), {
        location: 'US',
        schema: [{ name: 'Name', type: 'STRING', mode: 'REQUIRED' }, { name: 'Addresses', type: 'RECORD', mode: 'REPEATED', fields: ['Address', 'City', 'State', 'Zip'].map((name) => ({ name, type: 'STRING' })) }],
      });
      const addresses = t.metadata.schema.fields[1];
      expect(addresses).toMatchObject({ name: 'Addresses', type: 'RECORD', mode: 'REPEATED' });
      expect(names(addresses.fields)).toEqual(['Address', 'City', 'State', 'Zip']);
    },
  },
  {
    sample: 'createTableColumnACL.js', demo: 'deny',
    async run(s) {
      const [t] = await s.bq.dataset(s.ds).createTable(s.fresh('acl'), {
        location: 'US',
        schema: [{ name: 'Name', type: 'STRING', mode: 'REQUIRED', policyTags: { names: [POLICY_TAG] } }, { name: 'Age', type: 'INTEGER' }, { name: 'Weight', type: 'FLOAT' }],
      });
      expect(t.metadata.schema.fields[0].policyTags).toEqual({ names: [POLICY_TAG] });
    },
  },
  {
    sample: 'updateTableColumnACL.js', demo: 'deny', seed: ['people'],
    async run(s) {
      const [t] = await table(s, s.people).get();
      const [metadata] = await t.getMetadata();
      const fields = metadata.schema.fields.map((f: any) => ({ ...f }));
      fields[1].policyTags = { names: [POLICY_TAG] };
      metadata.schema.fields = fields;
      const [after] = await t.setMetadata(metadata);
      expect(after.schema.fields[1].policyTags).toEqual({ names: [POLICY_TAG] });
    },
  },
  {
    sample: 'insertingDataTypes.js', demo: 'deny',
    async run(s) {
      const id = s.fresh('types');
      await s.bq.dataset(s.ds).createTable(id, {
        schema: [
          { name: 'name', type: 'STRING' }, { name: 'age', type: 'INTEGER' }, { name: 'school', type: 'BYTES' }, { name: 'metadata', type: 'JSON' },
          { name: 'location', type: 'GEOGRAPHY' }, { name: 'measurements', mode: 'REPEATED', type: 'FLOAT' },
          { name: 'datesTimes', type: 'RECORD', fields: [{ name: 'day', type: 'DATE' }, { name: 'firstTime', type: 'DATETIME' }, { name: 'secondTime', type: 'TIME' }, { name: 'thirdTime', type: 'TIMESTAMP' }] },
        ],
      });
      await table(s, id).insert([
        {
          name: 'Tom', age: '30', location: s.bq.geography('POINT(1 2)'), school: Buffer.from('Test University'),
          metadata: JSON.stringify({ owner: 'John Doe', contact: 'johndoe@example.com' }), measurements: [50.05, 100.5],
          datesTimes: { day: s.bq.date('2019-1-12'), firstTime: s.bq.datetime('2019-02-17 11:24:00.000'), secondTime: s.bq.time('14:00:00'), thirdTime: s.bq.timestamp('2020-04-27T18:07:25.356Z') },
        },
        { name: 'Ada', age: '35', measurements: [30.08, 121.7] },
      ]);
      const [rows] = await s.bq.query(`SELECT name, age, school, ARRAY_LENGTH(measurements) AS m, datesTimes.day AS day, datesTimes.thirdTime AS ts FROM ${q(s.ds, id)} ORDER BY name`);
      expect(rows.map((r) => [r.name, r.age, r.school?.toString('utf8') ?? null, r.m])).toEqual([['Ada', 35, null, 2], ['Tom', 30, 'Test University', 2]]);
      expect(rows[1].day.value).toBe('2019-01-12');
      expect(new Date(rows[1].ts.value).toISOString()).toBe('2020-04-27T18:07:25.356Z');
    },
  },
  {
    sample: 'getTable.js', demo: 'pass', seed: ['table'],
    async run(s) {
      const [t] = await table(s, s.table).get();
      expect(t.metadata.tableReference).toMatchObject({ datasetId: s.ds, tableId: s.table });
      expect(names(t.metadata.schema.fields)).toContain('order_id');
    },
  },
  {
    sample: 'listTables.js', demo: 'pass', seed: ['table'],
    async run(s) {
      const [tables] = await s.bq.dataset(s.ds).getTables();
      expect(tables.map((t) => t.id)).toContain(s.table);
    },
  },
  {
    sample: 'tableExists.js', demo: 'pass', seed: ['table'],
    async run(s) {
      await table(s, s.table).get();
      const missing = await table(s, s.fresh('no_such_table')).get().then(() => undefined, (e) => e);
      expect(missing?.code).toBe(404);
    },
  },
  {
    sample: 'getTableLabels.js', demo: 'pass', seed: ['table'],
    async run(s) {
      const [metadata] = await table(s, s.table).getMetadata();
      expect(Object.entries(metadata.labels ?? {})).toBeInstanceOf(Array);
      expect(metadata.tableReference.tableId).toBe(s.table);
    },
  },
  {
    sample: 'labelTable.js', demo: 'deny', seed: ['table'],
    async run(s) {
      const [t] = await table(s, s.table).get();
      const [metadata] = await t.getMetadata();
      metadata.labels = { color: 'green' };
      const [after] = await t.setMetadata(metadata);
      expect(after.labels).toEqual({ color: 'green' });
      const [read] = await table(s, s.table).getMetadata();
      expect(read.labels).toEqual({ color: 'green' });
    },
  },
  {
    sample: 'deleteLabelTable.js', demo: 'deny', seed: ['table'],
    async run(s) {
      if (s.who === 'admin') await s.admin.dataset(s.ds).table(s.table).setMetadata({ labels: { color: 'green', size: 'xl' } });
      const [t] = await table(s, s.table).get();
      const [metadata] = await t.getMetadata();
      metadata.labels = { color: null };
      const [after] = await t.setMetadata(metadata);
      expect(after.labels).toEqual({ size: 'xl' });
    },
  },
  {
    sample: 'updateTableDescription.js', demo: 'deny', seed: ['table'],
    async run(s) {
      const t = table(s, s.table);
      const [metadata] = await t.getMetadata();
      metadata.description = 'New table description.';
      const [after] = await t.setMetadata(metadata);
      expect(after.description).toBe('New table description.');
    },
  },
  {
    sample: 'updateTableExpiration.js', demo: 'deny', seed: ['table'],
    async run(s) {
      const t = table(s, s.table);
      const expirationTime = String(Date.now() + 1000 * 60 * 60 * 24 * 5);
      const [metadata] = await t.getMetadata();
      metadata.expirationTime = expirationTime;
      const [after] = await t.setMetadata(metadata);
      expect(after.expirationTime).toBe(expirationTime);
    },
  },
  {
    sample: 'addEmptyColumn.js', demo: 'deny', seed: ['people'],
    async run(s) {
      const t = table(s, s.people);
      const [metadata] = await t.getMetadata();
      metadata.schema.fields.push({ name: 'size', type: 'STRING' });
      const [after] = await t.setMetadata(metadata);
      expect(names(after.schema.fields).at(-1)).toBe('size');
    },
  },
  {
    sample: 'relaxColumn.js', demo: 'deny', seed: ['people'],
    async run(s) {
      const t = table(s, s.people);
      const [metadata] = await t.getMetadata();
      metadata.schema = [{ name: 'Name', type: 'STRING', mode: 'NULLABLE' }, { name: 'Age', type: 'INTEGER' }, { name: 'Weight', type: 'FLOAT' }, { name: 'IsMagic', type: 'BOOLEAN' }];
      const [after] = await t.setMetadata(metadata);
      expect(after.schema.fields[0].mode).toBe('NULLABLE');
    },
  },
  {
    sample: 'deleteTable.js', demo: 'deny', seed: ['table'],
    async run(s) {
      await table(s, s.table).delete();
      const [exists] = await s.admin.dataset(s.ds).table(s.table).exists();
      expect(exists).toBe(false);
    },
  },
  {
    sample: 'undeleteTable.js', demo: 'deny', seed: ['table'],
    async run(s) {
      const snapshotEpoch = Date.now();
      const recovered = s.fresh('recovered');
      await table(s, s.table).delete();
      await table(s, `${s.table}@${snapshotEpoch}`).copy(table(s, recovered));
      const [rows] = await s.bq.query(`SELECT COUNT(*) AS n FROM ${q(s.ds, recovered)}`);
      expect(Number(rows[0].n)).toBeGreaterThan(0);
    },
  },
  {
    sample: 'copyTable.js', demo: 'deny', seed: ['table'],
    async run(s) {
      const dest = s.fresh('copy');
      const [job] = await table(s, s.table).copy(table(s, dest));
      expect(job.status?.errors ?? []).toEqual([]);
      const [[a], [b]] = await Promise.all([s.bq.query(`SELECT COUNT(*) AS n FROM ${q(s.ds, s.table)}`), s.bq.query(`SELECT COUNT(*) AS n FROM ${q(s.ds, dest)}`)]);
      expect(b[0].n).toBe(a[0].n);
    },
  },
  {
    sample: 'copyTableMultipleSource.js', demo: 'deny', seed: ['table'],
    async run(s) {
      const dest = s.fresh('testing');
      // The sample's destination already exists (CREATE_NEVER): the administrator makes it empty first.
      if (s.who === 'admin') await s.admin.query(`CREATE TABLE ${q(s.ds, dest)} AS SELECT * FROM ${q(s.ds, s.table)} WHERE FALSE`);
      const [job] = await table(s, s.table).copy(table(s, dest), { createDisposition: 'CREATE_NEVER', writeDisposition: 'WRITE_TRUNCATE' });
      expect(job.status?.errors ?? []).toEqual([]);
      const [rows] = await s.bq.query(`SELECT COUNT(*) AS n FROM ${q(s.ds, dest)}`);
      expect(Number(rows[0].n)).toBeGreaterThan(0);
    },
  },
  {
    sample: 'insertRowsAsStream.js', demo: 'deny', seed: ['people'],
    async run(s) {
      const rows = peopleRows(s);
      await table(s, s.people).insert(rows);
      const [n] = await s.bq.query(`SELECT COUNT(*) AS n FROM ${q(s.ds, s.people)} WHERE Name IN ('Tom', 'Jane')`);
      expect(Number(n[0].n)).toBe(rows.length);
    },
  },
  {
    sample: 'browseTable.js', demo: 'deny',
    async run(s) {
      const dest = table(s, s.fresh('browse'));
      const [job] = await s.bq.createQueryJob({ query: `SELECT customer_id, SUM(amount) AS total FROM ${ORDERS} GROUP BY customer_id ORDER BY total DESC LIMIT 100`, destination: dest });
      await job.getQueryResults({ maxResults: 0 });
      // Manual pagination, 20 rows a page, as the sample's callback does.
      const seen: unknown[] = [];
      let next: any = { autoPaginate: false, maxResults: 20 };
      while (next) {
        const [rows, nextQuery] = await dest.getRows(next) as unknown as [unknown[], unknown];
        seen.push(...rows);
        next = nextQuery;
      }
      expect(seen).toHaveLength(100);
    },
  },
  {
    sample: 'queryDestinationTable.js', demo: 'deny',
    async run(s) {
      const dest = table(s, s.fresh('dest'));
      const [job] = await s.bq.createQueryJob({ query: `SELECT order_id FROM ${ORDERS} WHERE currency = 'EUR' LIMIT 100`, location: 'US', destination: dest });
      await job.getQueryResults();
      const [rows] = await dest.getRows();
      expect(rows.length).toBeGreaterThan(0);
      expect(rows.length).toBeLessThanOrEqual(100);
    },
  },
  {
    sample: 'queryClusteredTable.js', demo: 'deny',
    async run(s) {
      const dest = table(s, s.fresh('clustered_dest'));
      const [job] = await s.bq.createQueryJob({ query: `SELECT * FROM ${ORDERS} WHERE order_id <= 1000`, location: 'US', destination: dest, clusterFields: ['currency'] } as never);
      await job.getQueryResults({ maxResults: 0 });
      // The SDK (9.x) sends no clustering for the sample's clusterFields option: the table is written, unclustered.
      const [meta] = await dest.getMetadata();
      console.log(`queryClusteredTable.js (${s.who}): destination clustering ${JSON.stringify(meta.clustering)}, ${meta.numRows} rows`);
      expect(Number(meta.numRows)).toBe(1000);
    },
  },
  {
    sample: 'addColumnQueryAppend.js', demo: 'deny', seed: ['people'],
    async run(s) {
      const [t] = await table(s, s.people).get();
      const [job] = await s.bq.createQueryJob({
        query: `SELECT CAST(customer_id AS STRING) AS Name, status AS Status FROM ${ORDERS} WHERE currency = 'EUR' LIMIT 10`,
        schemaUpdateOptions: ['ALLOW_FIELD_ADDITION'], writeDisposition: 'WRITE_APPEND', destinationTable: t.metadata.tableReference, location: 'US',
      } as never);
      await job.getQueryResults();
      const [meta] = await t.getMetadata();
      expect(names(meta.schema.fields)).toContain('Status');
    },
  },
  {
    sample: 'relaxColumnQueryAppend.js', demo: 'deny', seed: ['people'],
    async run(s) {
      const t = table(s, s.people);
      const [before] = await t.getMetadata();
      const required = before.schema.fields.filter((f: any) => f.mode === 'REQUIRED').length;
      const [job] = await s.bq.createJob({ configuration: { query: {
        query: `SELECT ${s.who === 'admin' ? 'Age' : 'amount'} FROM ${q(s.ds, s.people)}`, destinationTable: { projectId: 'demo-project', datasetId: s.ds, tableId: s.people },
        schemaUpdateOptions: ['ALLOW_FIELD_RELAXATION'], writeDisposition: 'WRITE_APPEND', useLegacySql: false,
      } } });
      await job.getQueryResults();
      const [after] = await t.getMetadata();
      expect(required).toBe(1);
      expect(after.schema.fields.filter((f: any) => f.mode === 'REQUIRED').length).toBe(0);
    },
  },
  {
    sample: 'createView.js', demo: 'deny',
    async run(s) {
      const [view] = await s.bq.dataset(s.ds).createTable(s.fresh('my_shared_view'), { view: `SELECT customer_id FROM ${ORDERS} LIMIT 10` });
      expect(view.metadata.view.useLegacySql).toBe(false);
      const [rows] = await s.bq.query(`SELECT COUNT(*) AS n FROM ${q(s.ds, view.id!)}`);
      expect(rows[0].n).toBe(10);
    },
  },
  {
    sample: 'ddlCreateView.js', demo: 'deny',
    async run(s) {
      const id = s.fresh('my_new_view');
      const [job] = await s.bq.createQueryJob({ query: `
        CREATE VIEW ${q(s.ds, id)}
        OPTIONS(expiration_timestamp=TIMESTAMP_ADD(CURRENT_TIMESTAMP(), INTERVAL 48 HOUR), friendly_name="new_view", description="a view that expires in 2 days", labels=[("org_unit", "development")])
        AS SELECT order_id, status, currency, amount FROM ${ORDERS} WHERE currency LIKE 'E%'` });
      await job.getQueryResults();
      const [meta] = await job.getMetadata();
      expect(meta.statistics.query.statementType).toBe('CREATE_VIEW');
      const [view] = await table(s, id).getMetadata();
      expect(view).toMatchObject({ type: 'VIEW', friendlyName: 'new_view', description: 'a view that expires in 2 days', labels: { org_unit: 'development' } });
    },
  },
  {
    sample: 'getView.js', demo: 'pass', seed: ['view'],
    async run(s) {
      const [view] = await table(s, s.view).get();
      expect(view.metadata.id).toBe(`demo-project:${s.ds}.${s.view}`);
      expect(view.metadata.view.query).toMatch(/SELECT/i);
    },
  },
  {
    sample: 'updateViewQuery.js', demo: 'deny', seed: ['view'],
    async run(s) {
      const [view] = await table(s, s.view).get();
      const [metadata] = await view.getMetadata();
      metadata.view = `SELECT order_id, status FROM ${ORDERS} LIMIT 10`;
      await view.setMetadata(metadata);
      const [after] = await table(s, s.view).getMetadata();
      expect(after.view.query).toContain('status');
      expect(names(after.schema.fields)).toEqual(['order_id', 'status']);
    },
  },
  {
    sample: 'authViewTutorial.js', demo: 'deny',
    async run(s) {
      const [source] = await s.bq.createDataset(s.fresh('shared_src'));
      await s.bq.query({ query: `SELECT order_id, customer_id, status, currency FROM ${ORDERS} LIMIT 1000`, destination: source.table('my_source_table') });
      const [shared] = await s.bq.createDataset(s.fresh('shared_views'));
      const [view] = await shared.createTable('orders_analyst_view', { view: { query: `SELECT order_id, status AS state FROM ${q(source.id!, 'my_source_table')}`, useLegacySql: false } });
      expect(view.metadata.id).toBe(`demo-project:${shared.id}.orders_analyst_view`);
      const [sharedMeta] = await shared.getMetadata();
      sharedMeta.access = [...(sharedMeta.access ?? []), { role: 'READER', groupByEmail: 'example-analyst-group@example.com' }];
      const [updatedShared] = await shared.setMetadata(sharedMeta);
      expect(updatedShared.access).toContainEqual(expect.objectContaining({ groupByEmail: 'example-analyst-group@example.com' }));
      const [sourceMeta] = await source.getMetadata();
      sourceMeta.access = [...(sourceMeta.access ?? []), { view: { projectId: 'demo-project', datasetId: shared.id, tableId: 'orders_analyst_view' } }];
      const [updatedSource] = await source.setMetadata(sourceMeta);
      expect(updatedSource.access).toContainEqual(expect.objectContaining({ view: expect.objectContaining({ tableId: 'orders_analyst_view' }) }));
    },
  },
];
