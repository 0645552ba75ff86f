/**
 * The dataset, routine, model and job samples of googleapis/nodejs-bigquery (`samples/`): the same
 * SDK calls. Models are the demo project's fixture model (shop.churn_model, metadata only): the
 * embedded emulator cannot train one, so createModel.js needs real ML.
 */
import { expect } from 'vitest';
import { once } from 'node:events';
import { q, type Workflow } from './scope.ts';

const ORDERS = q('shop', 'orders');
const ids = (xs: Array<{ id?: string }>) => xs.map((x) => x.id);

export const DATASET_WORKFLOWS: Workflow[] = [
  {
    sample: 'createDataset.js', demo: 'deny',
    async run(s) {
      const id = s.fresh('my_new_dataset');
      const [dataset] = await s.bq.createDataset(id, { location: 'US' });
      expect(dataset.id).toBe(id);
      expect(dataset.metadata.location).toBe('US');
    },
  },
  {
    sample: 'quickstart.js', demo: 'deny',
    async run(s) {
      const [dataset] = await s.bq.createDataset(s.fresh('my_new_dataset'));
      const [exists] = await s.admin.dataset(dataset.id!).exists();
      expect(exists).toBe(true);
    },
  },
  {
    sample: 'getDataset.js', demo: 'pass',
    async run(s) {
      const [dataset] = await s.bq.dataset(s.ds).get();
      expect(dataset.metadata.datasetReference).toEqual({ projectId: 'demo-project', datasetId: s.ds });
    },
  },
  {
    sample: 'getDatasetLabels.js', demo: 'pass',
    async run(s) {
      if (s.who === 'admin') await s.admin.dataset(s.ds).setMetadata({ labels: { color: 'green' } });
      const [metadata] = await s.bq.dataset(s.ds).getMetadata();
      const labels = Object.entries(metadata.labels ?? {});
      if (s.who === 'admin') expect(labels).toEqual([['color', 'green']]);
      else expect(labels).toBeInstanceOf(Array);
    },
  },
  {
    sample: 'labelDataset.js', demo: 'deny',
    async run(s) {
      const dataset = s.bq.dataset(s.ds);
      const [metadata] = await dataset.getMetadata();
      metadata.labels = { color: 'green' };
      const [after] = await dataset.setMetadata(metadata);
      expect(after.labels).toEqual({ color: 'green' });
    },
  },
  {
    sample: 'deleteLabelDataset.js', demo: 'deny',
    async run(s) {
      if (s.who === 'admin') await s.admin.dataset(s.ds).setMetadata({ labels: { color: 'green', team: 'data' } });
      const dataset = s.bq.dataset(s.ds);
      const [metadata] = await dataset.getMetadata();
      metadata.labels = { color: null };
      const [after] = await dataset.setMetadata(metadata);
      expect(after.labels).toEqual({ team: 'data' });
    },
  },
  {
    sample: 'listDatasets.js', demo: 'pass',
    async run(s) {
      const [datasets] = await s.bq.getDatasets({ projectId: 'demo-project' });
      expect(ids(datasets)).toContain(s.ds);
    },
  },
  {
    sample: 'listDatasetsByLabel.js', demo: 'pass',
    async run(s) {
      if (s.who === 'admin') await s.admin.dataset(s.ds).setMetadata({ labels: { color: 'green' } });
      const [datasets] = await s.bq.getDatasets({ filter: 'labels.color:green' });
      for (const d of datasets) expect(d.metadata.labels).toMatchObject({ color: 'green' });
      if (s.who === 'admin') expect(ids(datasets)).toContain(s.ds);
    },
  },
  {
    sample: 'updateDatasetDescription.js', demo: 'deny',
    async run(s) {
      const dataset = s.bq.dataset(s.ds);
      const [metadata] = await dataset.getMetadata();
      metadata.description = 'New dataset description.';
      const [after] = await dataset.setMetadata(metadata);
      expect(after.description).toBe('New dataset description.');
    },
  },
  {
    sample: 'updateDatasetExpiration.js', demo: 'deny',
    async run(s) {
      const dataset = s.bq.dataset(s.ds);
      const [metadata] = await dataset.getMetadata();
      metadata.defaultTableExpirationMs = String(24 * 60 * 60 * 1000);
      const [after] = await dataset.setMetadata(metadata);
      expect(after.defaultTableExpirationMs).toBe(String(24 * 60 * 60 * 1000));
    },
  },
  {
    sample: 'updateDatasetAccess.js', demo: 'deny',
    async run(s) {
      const dataset = s.bq.dataset(s.ds);
      const [metadata] = await dataset.getMetadata();
      metadata.access = [...(metadata.access ?? []), { role: 'READER', userByEmail: 'sample.bigquery.dev@example.com' }];
      const [after] = await dataset.setMetadata(metadata);
      expect(after.access).toContainEqual(expect.objectContaining({ role: 'READER', userByEmail: 'sample.bigquery.dev@example.com' }));
    },
  },
  {
    sample: 'deleteDataset.js', demo: 'deny',
    async run(s) {
      await s.bq.dataset(s.ds).delete({ force: true });
      const [exists] = await s.admin.dataset(s.ds).exists();
      expect(exists).toBe(false);
    },
  },
];

export const ROUTINE_WORKFLOWS: Workflow[] = [
  {
    sample: 'createRoutine.js', demo: 'deny',
    async run(s) {
      const id = s.fresh('my_routine');
      const [routine] = await s.bq.dataset(s.ds).routine(id).create({
        arguments: [{ name: 'x', dataType: { typeKind: 'INT64' } }], definitionBody: 'x * 3', routineType: 'SCALAR_FUNCTION', returnType: { typeKind: 'INT64' },
      } as never);
      expect(routine.metadata.routineReference.routineId).toBe(id);
      // The emulator does not execute routines (emulator/routines.ts), so the body is checked as stored.
      const [meta] = await s.bq.dataset(s.ds).routine(id).getMetadata();
      expect(meta).toMatchObject({ routineType: 'SCALAR_FUNCTION', definitionBody: 'x * 3', returnType: { typeKind: 'INT64' } });
    },
  },
  {
    sample: 'createRoutineDDL.js', demo: 'deny',
    async run(s) {
      const id = s.fresh('my_routine');
      const [job] = await s.bq.createQueryJob({ query: `CREATE FUNCTION ${q(s.ds, id)}(
        arr ARRAY<STRUCT<name STRING, val INT64>>
      ) AS (
        (SELECT SUM(IF(elem.name = "foo",elem.val,null)) FROM UNNEST(arr) AS elem)
      )` });
      await job.getQueryResults();
      const [meta] = await s.bq.dataset(s.ds).routine(id).getMetadata();
      expect(meta.arguments[0]).toMatchObject({ name: 'arr', dataType: { typeKind: 'ARRAY' } });
    },
  },
  {
    sample: 'getRoutine.js', demo: 'pass', seed: ['routine'],
    async run(s) {
      const [routine] = await s.bq.dataset(s.ds).routine(s.routine).get();
      expect(routine.metadata.routineReference.routineId).toBe(s.routine);
    },
  },
  {
    sample: 'listRoutines.js', demo: 'pass', seed: ['routine'],
    async run(s) {
      const [routines] = await s.bq.dataset(s.ds).getRoutines();
      expect(ids(routines)).toContain(s.routine);
    },
  },
  {
    sample: 'updateRoutine.js', demo: 'deny', seed: ['routine'],
    async run(s) {
      const [routine] = await s.bq.dataset(s.ds).routine(s.routine).setMetadata({ description: 'New description' });
      expect(routine.description).toBe('New description');
    },
  },
  {
    sample: 'deleteRoutine.js', demo: 'deny', seed: ['routine'],
    async run(s) {
      await s.bq.dataset(s.ds).routine(s.routine).delete();
      const [exists] = await s.admin.dataset(s.ds).routine(s.routine).exists();
      expect(exists).toBe(false);
    },
  },
];

/** Models: shop.churn_model for both principals; deleteModel.js comes last (the administrator's run deletes it). */
export const MODEL_WORKFLOWS: Workflow[] = [
  {
    sample: 'createModel.js', demo: 'deny', needs: { what: 'ml', why: 'CREATE MODEL trains a logistic regression (the emulator keeps model metadata only)' },
    async run(s) {
      const [job] = await s.bq.createQueryJob({ query: `CREATE OR REPLACE MODEL ${q(s.ds, s.fresh('my_model'))}
        OPTIONS(model_type='logistic_reg') AS
        SELECT IF(status = 'refunded', 1, 0) AS label, currency, amount FROM ${ORDERS} LIMIT 100000;` });
      await job.getQueryResults();
    },
  },
  {
    sample: 'listModels.js', demo: 'pass',
    async run(s) {
      const [models] = await s.bq.dataset('shop').getModels();
      expect(ids(models)).toContain('churn_model');
    },
  },
  {
    sample: 'listModelsStreaming.js', demo: 'pass',
    async run(s) {
      const seen: string[] = [];
      const stream = s.bq.dataset('shop').getModelsStream().on('data', (m: { id: string }) => seen.push(m.id));
      await once(stream, 'end');
      expect(seen).toContain('churn_model');
    },
  },
  {
    sample: 'getModel.js', demo: 'pass',
    async run(s) {
      const [model] = await s.bq.dataset('shop').model('churn_model').get();
      expect(model.metadata.modelReference.modelId).toBe('churn_model');
    },
  },
  {
    sample: 'updateModel.js', demo: 'deny',
    async run(s) {
      const [after] = await s.bq.dataset('shop').model('churn_model').setMetadata({ description: 'A really great model.' });
      expect(after.description).toBe('A really great model.');
    },
  },
  {
    sample: 'deleteModel.js', demo: 'deny',
    async run(s) {
      await s.bq.dataset('shop').model('churn_model').delete();
      const [exists] = await s.admin.dataset('shop').model('churn_model').exists();
      expect(exists).toBe(false);
    },
  },
];

export const JOB_WORKFLOWS: Workflow[] = [
  {
    sample: 'getJob.js', demo: 'pass',
    async run(s) {
      const [started] = await s.bq.createQueryJob({ query: `SELECT COUNT(*) AS n FROM ${ORDERS}` });
      const [job] = await s.bq.job(started.id!).get();
      expect(job.metadata.jobReference.jobId).toBe(started.id);
      expect(job.metadata.configuration.jobType).toBe('QUERY');
    },
  },
  {
    sample: 'cancelJob.js', demo: 'pass',
    async run(s) {
      const [started] = await s.bq.createQueryJob({ query: `SELECT COUNT(DISTINCT MOD(x * 7919, 1000003)) AS n FROM UNNEST(GENERATE_ARRAY(1, 3000000)) AS x` });
      const [result] = await s.bq.job(started.id!).cancel();
      expect(result.job?.jobReference?.jobId).toBe(started.id);
    },
  },
  {
    sample: 'listJobs.js', demo: 'pass',
    async run(s) {
      const [mine] = await s.bq.createQueryJob({ query: 'SELECT 1 AS x' });
      await mine.getQueryResults();
      const [jobs] = await s.bq.getJobs({ maxResults: 10 });
      expect(jobs.length).toBeGreaterThan(0);
      expect(jobs.length).toBeLessThanOrEqual(10);
      expect(ids(jobs)).toContain(mine.id);
    },
  },
];
