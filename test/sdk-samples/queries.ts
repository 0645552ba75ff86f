/**
 * The query samples of googleapis/nodejs-bigquery (`samples/query*.js`, createJob.js, the client
 * construction samples): the same SDK calls, over demo-project.shop.orders instead of
 * bigquery-public-data (usa_names → orders by currency and status).
 */
import { expect } from 'vitest';
import { q, type Workflow } from './scope.ts';

const ORDERS = q('shop', 'orders');

export const QUERY_WORKFLOWS: Workflow[] = [
  {
    sample: 'query.js', demo: 'pass',
    async run(s) {
      const [job] = await s.bq.createQueryJob({ query: `SELECT order_id FROM ${ORDERS} WHERE currency = 'EUR' LIMIT 100`, location: 'US' });
      const [rows] = await job.getQueryResults();
      expect(rows.length).toBeGreaterThan(0);
      expect(rows.length).toBeLessThanOrEqual(100);
      expect(Object.keys(rows[0])).toEqual(['order_id']);
    },
  },
  {
    sample: 'queryPagination.js', demo: 'pass',
    async run(s) {
      const [job] = await s.bq.createQueryJob(`SELECT status, SUM(amount) AS total FROM ${ORDERS} GROUP BY status ORDER BY total DESC LIMIT 100`);
      const [rows] = await job.getQueryResults();
      expect(rows.length).toBeGreaterThan(1);
      // The pages are read in order: the totals descend.
      expect(rows.map((r) => Number(r.total))).toEqual([...rows.map((r) => Number(r.total))].sort((a, b) => b - a));
    },
  },
  {
    sample: 'queryStackOverflow.js', demo: 'pass',
    async run(s) {
      const [rows] = await s.bq.query({ query: `SELECT CONCAT('https://shop.example/orders/', CAST(order_id AS STRING)) AS url, amount FROM ${ORDERS} WHERE status LIKE '%paid%' ORDER BY amount DESC LIMIT 10`, location: 'US' });
      expect(rows).toHaveLength(10);
      expect(rows[0].url).toMatch(/^https:\/\/shop\.example\/orders\/\d+$/);
    },
  },
  {
    sample: 'queryDisableCache.js', demo: 'pass',
    async run(s) {
      const [job] = await s.bq.createQueryJob({ query: `SELECT currency FROM ${ORDERS} GROUP BY currency`, location: 'US', useQueryCache: false });
      const [rows] = await job.getQueryResults();
      expect(rows.length).toBeGreaterThan(0);
    },
  },
  {
    sample: 'queryDryRun.js', demo: 'pass',
    async run(s) {
      const [job] = await s.bq.createQueryJob({ query: `SELECT order_id FROM ${ORDERS} WHERE currency = 'EUR' LIMIT 100`, location: 'US', dryRun: true });
      expect(job.metadata.status.state).toBe('DONE');
      expect(Number(job.metadata.statistics.totalBytesProcessed)).toBeGreaterThanOrEqual(0);
    },
  },
  {
    sample: 'queryBatch.js', demo: 'pass',
    async run(s) {
      const [job] = await s.bq.createJob({ configuration: { query: { query: `SELECT status FROM ${ORDERS} LIMIT 10`, useLegacySql: false, priority: 'BATCH' } } });
      expect(job.metadata.status.state).toMatch(/^(PENDING|RUNNING|DONE)$/);
      const [rows] = await job.getQueryResults();
      expect(rows).toHaveLength(10);
    },
  },
  {
    sample: 'createJob.js', demo: 'pass',
    async run(s) {
      const [job] = await s.bq.createJob({ configuration: { query: { query: `SELECT currency FROM ${ORDERS} LIMIT 10`, useLegacySql: false }, labels: { 'example-label': 'example-value' } } });
      const [rows] = await job.getQueryResults();
      expect(rows).toHaveLength(10);
      const [meta] = await job.getMetadata();
      expect(meta.configuration.labels).toMatchObject({ 'example-label': 'example-value' });
    },
  },
  {
    sample: 'queryJobOptional.js', demo: 'pass',
    async run(s) {
      const bq = s.client({ defaultJobCreationMode: 'JOB_CREATION_REQUIRED' } as never);
      // Unquoted dashed project id, as the sample writes it.
      const [rows] = await bq.query({ query: 'SELECT status, currency, COUNT(*) AS total FROM demo-project.shop.orders GROUP BY status, currency ORDER BY total DESC LIMIT 10', jobCreationMode: 'JOB_CREATION_OPTIONAL' } as never);
      expect(rows).toHaveLength(10);
    },
  },
  {
    sample: 'queryLegacy.js', demo: 'deny', refused: /useLegacySql|legacy SQL/i,
    async run(s) {
      const [job] = await s.bq.createQueryJob({ query: 'SELECT order_id FROM [demo-project:shop.orders] LIMIT 10;', location: 'US', useLegacySql: true });
      await job.getQueryResults();
    },
  },
  {
    sample: 'queryLegacyLargeResults.js', demo: 'deny', refused: /useLegacySql|legacy SQL/i,
    async run(s) {
      const [job] = await s.bq.createQueryJob({ query: 'SELECT order_id FROM [demo-project:shop.orders] LIMIT 10;', useLegacySql: true, allowLargeResults: true, destinationTable: { projectId: 'demo-project', datasetId: s.ds, tableId: s.fresh('legacy') } } as never);
      await job.getQueryResults();
    },
  },
  {
    sample: 'queryParamsNamed.js', demo: 'pass',
    async run(s) {
      const [rows] = await s.bq.query({ query: `SELECT order_id, amount FROM ${ORDERS} WHERE currency = @currency AND amount >= @min_amount ORDER BY amount DESC`, location: 'US', params: { currency: 'EUR', min_amount: 1900 } });
      expect(rows.length).toBeGreaterThan(0);
      for (const r of rows) expect(Number(r.amount)).toBeGreaterThanOrEqual(1900);
    },
  },
  {
    sample: 'queryParamsNamedTypes.js', demo: 'pass',
    async run(s) {
      const [rows] = await s.bq.query({
        query: `SELECT order_id, status, currency FROM ${ORDERS} WHERE status IN UNNEST(@statusList) AND currency = @currency AND order_id >= @minId ORDER BY order_id`,
        params: { statusList: ['paid', 'refunded'], currency: 'EUR', minId: 100 },
        types: { statusList: ['STRING'], currency: 'STRING', minId: 'INT64' },
      });
      expect(rows.length).toBeGreaterThan(0);
      for (const r of rows) { expect(['paid', 'refunded']).toContain(r.status); expect(r.currency).toBe('EUR'); expect(Number(r.order_id)).toBeGreaterThanOrEqual(100); }
    },
  },
  {
    sample: 'queryParamsPositional.js', demo: 'pass',
    async run(s) {
      const [rows] = await s.bq.query({ query: `SELECT order_id, amount FROM ${ORDERS} WHERE currency = ? AND amount >= ? ORDER BY amount DESC`, location: 'US', params: ['EUR', 1900] });
      expect(rows.length).toBeGreaterThan(0);
      for (const r of rows) expect(Number(r.amount)).toBeGreaterThanOrEqual(1900);
    },
  },
  {
    sample: 'queryParamsPositionalTypes.js', demo: 'pass',
    async run(s) {
      const [rows] = await s.bq.query({
        query: `SELECT order_id, status FROM ${ORDERS} WHERE status IN UNNEST(?) AND currency = ? AND order_id >= ? ORDER BY order_id`,
        params: [['paid', 'refunded'], 'EUR', 100],
        types: [['STRING'], 'STRING', 'INT64'],
      } as never);
      expect(rows.length).toBeGreaterThan(0);
      for (const r of rows) expect(['paid', 'refunded']).toContain(r.status);
    },
  },
  {
    sample: 'queryParamsArrays.js', demo: 'pass',
    async run(s) {
      const [rows] = await s.bq.query({ query: `SELECT currency, COUNT(*) AS count FROM ${ORDERS} WHERE status = @status AND currency IN UNNEST(@currencies) GROUP BY currency ORDER BY count DESC LIMIT 10;`, location: 'US', params: { status: 'paid', currencies: ['EUR', 'USD', 'JPY'] } });
      expect(rows.length).toBeGreaterThan(0);
      for (const r of rows) expect(['EUR', 'USD', 'JPY']).toContain(r.currency);
    },
  },
  {
    sample: 'queryParamsStructs.js', demo: 'pass',
    async run(s) {
      const [rows] = await s.bq.query({ query: 'SELECT @struct_value AS struct_obj;', location: 'US', params: { struct_value: { x: 1, y: 'foo' } } });
      expect(rows).toEqual([{ struct_obj: { x: 1, y: 'foo' } }]);
    },
  },
  {
    sample: 'queryParamsTimestamps.js', demo: 'pass',
    async run(s) {
      const now = new Date(Math.floor(Date.now() / 1000) * 1000);
      const [rows] = await s.bq.query({ query: 'SELECT TIMESTAMP_ADD(@ts_value, INTERVAL 1 HOUR) AS t;', location: 'US', params: { ts_value: now } });
      expect(rows).toHaveLength(1);
      expect(new Date(rows[0].t.value).getTime() - now.getTime()).toBe(3_600_000);
    },
  },
  {
    sample: 'clientJSONCredentials.js', demo: 'pass',
    // The sample's key file would be exchanged for a token at Google; the same query calls run with the caller's token.
    async run(s) {
      const [job] = await s.bq.createQueryJob({ query: `SELECT order_id FROM ${ORDERS} WHERE currency = 'USD' LIMIT 100`, location: 'US' });
      const [rows] = await job.getQueryResults();
      expect(rows.length).toBeGreaterThan(0);
    },
  },
  {
    sample: 'setClientEndpoint.js', demo: 'pass',
    async run(s) {
      const bq = s.client({ apiEndpoint: s.url });
      const [rows] = await bq.query('SELECT 1 AS one');
      expect(rows).toEqual([{ one: 1 }]);
    },
  },
  {
    sample: 'setUserAgent.js', demo: 'pass',
    async run(s) {
      const bq = s.client({ userAgent: 'my-user-agent' });
      const [rows] = await bq.query(`SELECT COUNT(*) AS n FROM ${ORDERS}`);
      expect(Number(rows[0].n)).toBeGreaterThan(0);
    },
  },
  {
    sample: 'queryExternalGCSTemp.js', demo: 'deny', refused: /tableDefinitions|external/i,
    async run(s) {
      const [job] = await s.bq.createQueryJob({
        query: "SELECT post_abbr FROM `us_states` WHERE name LIKE 'W%'",
        tableDefinitions: { us_states: { sourceFormat: 'CSV', sourceUris: ['gs://cloud-samples-data/bigquery/us-states/us-states.csv'], csvOptions: { skipLeadingRows: 1 }, schema: { fields: [{ name: 'name', type: 'STRING' }, { name: 'post_abbr', type: 'STRING' }] } } },
      } as never);
      await job.getQueryResults();
    },
  },
];
