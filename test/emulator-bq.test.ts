/**
 * The rest of issue 18's `bq` list against the emulator directly (the gateway's own suite runs the
 * same through a gateway): ls, ls -j (with copy, extract and load jobs in it), ls -m, ls --routines,
 * show, head --selected_fields, query --dry_run, cancel. Each command must exit 0 and print what
 * the emulator holds.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolve, join } from 'node:path';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { startEmulator, newEmulatorSecret, type RunningEmulator } from '../src/emulator/index.ts';
import { runBq } from './helpers/bq.ts';

let emu: RunningEmulator;
const secret = newEmulatorSecret();
const headers = { authorization: `Bearer ${secret}` };
const SLOW_SQL = 'SELECT COUNT(DISTINCT MOD(x * 7919, 1000003)) AS n FROM UNNEST(GENERATE_ARRAY(1, 3000000)) AS x';

beforeAll(async () => {
  emu = await startEmulator({ fixturesDir: resolve('fixtures'), port: 0, secret, bucketRoot: mkdtempSync(join(tmpdir(), 'emu-bq-gcs-')) });
});
afterAll(async () => { await emu?.close(); });

describe('bq against the emulator', () => {
  it('ls, ls -j, ls -m, ls --routines, show, head --selected_fields, query --dry_run, cancel', async () => {
    const ok = async (...args: string[]) => {
      const r = await runBq(emu.url, secret, args);
      console.log(`$ bq ${args.join(' ')} → ${r.code}\n${(r.stdout + r.stderr).slice(0, 400)}`);
      expect(r.code, r.stdout + r.stderr).toBe(0);
      return r.stdout;
    };
    const post = (path: string, body: unknown) => fetch(`${emu.url}/bigquery/v2/projects/demo-project${path}`, { method: 'POST', headers, body: JSON.stringify(body) }).then((r) => r.json() as any);
    await post('/jobs', { configuration: { copy: { sourceTable: { datasetId: 'shop', tableId: 'customers' }, destinationTable: { datasetId: 'shop', tableId: 'customers_bq' } } } });
    await post('/jobs', { configuration: { extract: { sourceTable: { datasetId: 'shop', tableId: 'orders' }, destinationUris: ['gs://demo-exports/o.csv'] } } });
    expect(JSON.parse(await ok('ls', '--format=json', 'shop')).map((t: any) => t.tableReference.tableId)).toContain('customers_bq');
    const jobs = JSON.parse(await ok('ls', '-j', '--format=json'));
    expect(new Set(jobs.map((j: any) => j.configuration.jobType))).toEqual(new Set(['COPY', 'EXTRACT']));
    expect(JSON.parse(await ok('ls', '-m', '--format=json', 'shop')).map((m: any) => m.modelReference.modelId)).toContain('churn_model');
    expect(JSON.parse(await ok('ls', '--routines', '--format=json', 'shop')).map((r: any) => r.routineReference.routineId)).toContain('total_spent');
    expect(JSON.parse(await ok('show', '--format=json', 'shop.customers_bq')).type).toBe('TABLE');
    const head = JSON.parse(await ok('head', '--format=json', '--selected_fields=customer_id,city', '-n', '3', 'shop.customers'));
    expect(head).toHaveLength(3);
    expect(Object.keys(head[0]).sort()).toEqual(['city', 'customer_id']);
    const dry = await ok('query', '--nouse_legacy_sql', '--dry_run', 'SELECT city FROM shop.customers');
    expect(dry).toMatch(/will process \d+ bytes/);
    // Five slow jobs of one principal run one at a time (scheduler.ts): the last waits long enough for bq to cancel it.
    for (let i = 0; i < 5; i++) await post('/jobs', { jobReference: { jobId: `bq-slow-${i}` }, configuration: { labels: { bqgate_principal: 'p1' }, query: { query: SLOW_SQL, useLegacySql: false } } });
    const started = await post('/jobs', { jobReference: { jobId: 'bq-cancel-1' }, configuration: { labels: { bqgate_principal: 'p1' }, query: { query: SLOW_SQL, useLegacySql: false } } });
    expect(started.status.state).toBe('PENDING');
    await ok('cancel', '--nosync', 'bq-cancel-1');
    const after = await fetch(`${emu.url}/bigquery/v2/projects/demo-project/jobs/bq-cancel-1`, { headers }).then((r) => r.json() as any);
    expect(after.status.errorResult.reason).toBe('stopped');
    for (let i = 0; i < 5; i++) await post(`/jobs/bq-slow-${i}/cancel`, {});
  }, 300_000);
});
