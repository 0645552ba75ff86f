/**
 * INFORMATION_SCHEMA.JOBS / JOBS_BY_USER in the emulator (information-schema.ts; issue 20): the jobs
 * the emulator ran, with BigQuery's column names and types
 * (https://cloud.google.com/bigquery/docs/information-schema-jobs), through the real SDK.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolve } from 'node:path';
import { BigQuery } from '@google-cloud/bigquery';
import { startEmulator, newEmulatorSecret, type RunningEmulator } from '../src/emulator/index.ts';
import { localCredential } from '../src/upstream/credentials.ts';
import { apiError } from './helpers/gateway.ts';

let emu: RunningEmulator;
let sdk: BigQuery;
const secret = newEmulatorSecret();

beforeAll(async () => {
  emu = await startEmulator({ fixturesDir: resolve('fixtures'), port: 0, secret });
  sdk = new BigQuery({ projectId: 'demo-project', apiEndpoint: emu.url, authClient: localCredential(secret) as never, autoRetry: false });
}, 60_000);
afterAll(async () => { await emu?.close(); });

const query = (q: string, labels?: Record<string, string>) => sdk.query({ query: q, useLegacySql: false, ...(labels ? { labels } : {}) }).then(([r]) => r);

describe('INFORMATION_SCHEMA.JOBS in the emulator', () => {
  it('lists the jobs run (a failed one with its error_result, a script and its child), typed as BigQuery types them', async () => {
    const [ok] = await sdk.createQueryJob({ query: 'SELECT 1 AS a', useLegacySql: false });
    await ok.getQueryResults();
    await apiError(query('SELECT * FROM shop.no_such_table'));
    const [script] = await sdk.createQueryJob({ query: 'DECLARE x INT64 DEFAULT 2;\nSELECT x', useLegacySql: false });
    await script.getQueryResults();
    const [res, , meta] = await sdk.query({ query: 'SELECT job_id, job_type, statement_type, state, parent_job_id, error_result, cache_hit, labels, query, creation_time, end_time FROM `region-us`.INFORMATION_SCHEMA.JOBS ORDER BY creation_time', useLegacySql: false }, {}) as any;
    console.log(JSON.stringify(res.map((r: any) => [r.job_id, r.statement_type, r.state, r.parent_job_id, r.error_result?.reason])));
    const byId = new Map(res.map((r: any) => [r.job_id, r]));
    expect(byId.get(ok.id)).toMatchObject({ job_type: 'QUERY', statement_type: 'SELECT', state: 'DONE', parent_job_id: null, error_result: null, cache_hit: false, query: 'SELECT 1 AS a' });
    const failed = res.find((r: any) => r.query === 'SELECT * FROM shop.no_such_table');
    expect(failed.error_result.reason).toBe('notFound');
    expect(byId.get(script.id)).toMatchObject({ statement_type: 'SCRIPT' });
    const children = res.filter((r: any) => r.parent_job_id === script.id);
    expect(children.map((c: any) => c.query)).toEqual(['SELECT x']);
    expect(res.at(-1).state).toBe('RUNNING'); // the JOBS query itself
    const fields = Object.fromEntries((meta?.schema?.fields ?? []).map((f: any) => [f.name, f.type]));
    console.log(JSON.stringify(fields));
    expect(fields).toMatchObject({ job_id: 'STRING', creation_time: 'TIMESTAMP', cache_hit: 'BOOLEAN', error_result: 'RECORD', labels: 'RECORD' });
  });

  it('JOBS_BY_USER keeps the jobs of the running job\'s user (its bqgate_principal label); JOBS takes only a region qualifier', async () => {
    await query('SELECT 2 AS b', { bqgate_principal: 'alice' });
    await query('SELECT 3 AS c', { bqgate_principal: 'bob' });
    const alice = await query('SELECT user_email, query FROM `region-us`.INFORMATION_SCHEMA.JOBS_BY_USER ORDER BY creation_time', { bqgate_principal: 'alice' });
    console.log(JSON.stringify(alice));
    expect(new Set(alice.map((r: any) => r.user_email))).toEqual(new Set(['alice']));
    expect(alice.map((r: any) => r.query)).toContain('SELECT 2 AS b');
    expect(alice.map((r: any) => r.query)).not.toContain('SELECT 3 AS c');
    const all = await query('SELECT DISTINCT user_email FROM `demo-project`.`region-us`.INFORMATION_SCHEMA.JOBS ORDER BY user_email');
    expect(all.map((r: any) => r.user_email)).toEqual(['alice', 'bob', 'emulator@localhost']);
    const e = await apiError(query('SELECT * FROM shop.INFORMATION_SCHEMA.JOBS'));
    expect(e.message).toMatch(/region qualifier/);
  });
});
