/**
 * The `bq` commands of issue 18 through a real gateway process: under the demo policy an analyst's
 * reads pass and every write exits non-zero with the rule (or the verb) named; under the test-only
 * admin policy (test/fixtures/policies-admin/admin.yaml) the writes pass where the embedded emulator
 * serves the method — a method it does not serve yet is reported as skipped, not passed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { auditRequests, type TestGateway } from './helpers/gateway.ts';
import { startDemoAndAdminGateway } from './helpers/admin-policy.ts';

let gw: TestGateway;
let analyst: string;
let admin: string;
let work: string;

beforeAll(async () => {
  ({ gw, tokens: { analyst, admin } } = await startDemoAndAdminGateway('bq', { analyst: ['analysts'], admin: ['test-admins'] }));
  work = mkdtempSync(join(tmpdir(), 'bqgate-rest-bq-'));
  writeFileSync(join(work, 'rows.json'), '{"order_id": 999001, "customer_id": 1, "amount": 1.5}\n');
}, 180_000);
afterAll(async () => { await gw?.stop(); });

/** Whether the emulator itself serves `method path` (a 404 naming the path as no method it serves means no). */
async function emulatorServes(method: string, path: string): Promise<boolean> {
  const r = await fetch(`${gw.emulatorUrl}/bigquery/v2${path}`, { method, headers: { authorization: `Bearer ${gw.emulatorSecret()}`, 'content-type': 'application/json' }, body: method === 'GET' || method === 'DELETE' ? undefined : '{}' });
  const text = await r.text();
  return !(r.status === 404 && text.includes('is not a BigQuery v2 method'));
}
/** What bq printed, its line wrapping undone. */
const out = (r: { stdout: string; stderr: string }) => `${r.stdout}\n${r.stderr}`.replace(/-\n\s*/g, "-").replace(/\s+/g, " ");

describe('bq under the demo policy (analyst)', () => {
  it('reads pass: ls, ls -j, show, show --schema (no denied column), head --selected_fields, query --dry_run', async () => {
    const ls = await gw.bq(analyst, ['ls', 'demo-project:shop']);
    expect(ls.code).toBe(0);
    expect(ls.stdout).toContain('orders');
    expect((await gw.bq(analyst, ['ls', '-j'])).code).toBe(0);
    const show = await gw.bq(analyst, ['show', 'demo-project:shop.orders']);
    expect(show.code).toBe(0);
    const schema = await gw.bq(analyst, ['show', '--schema', '--format=json', 'demo-project:shop.customers']);
    expect(schema.code).toBe(0);
    const names = JSON.parse(schema.stdout).map((f: { name: string }) => f.name);
    console.log('bq show --schema customers (analyst):', names.join(','));
    expect(names).toContain('email');
    expect(names).not.toContain('ssn');
    const head = await gw.bq(analyst, ['head', '--selected_fields=order_id', '-n', '2', 'demo-project:shop.orders']);
    console.log("bq head --selected_fields:", head.code, out(head).slice(-1500));
    expect(head.code).toBe(0);
    expect(head.stdout).toContain('order_id');
    const dry = await gw.bq(analyst, ['query', '--nouse_legacy_sql', '--dry_run', 'SELECT order_id FROM shop.orders']);
    console.log('bq query --dry_run:', dry.code, dry.stdout.trim());
    expect(dry.code).toBe(0);
  }, 180_000);

  it('query --parameter ARRAY / STRUCT / TIMESTAMP (where the emulator runs typed parameters)', async (ctx) => {
    const probe = await gw.emulatorSdk().query({ query: 'SELECT ARRAY_LENGTH(@ids) AS n', params: { ids: [1, 2] }, types: { ids: ['INT64'] } }).then(() => true, (e) => { console.log('SKIPPED: the emulator does not run typed ARRAY parameters yet:', e.message); return false; });
    if (!probe) ctx.skip();
    const params = await gw.bq(analyst, ['query', '--nouse_legacy_sql', '--format=json',
      '--parameter=ids:ARRAY<INT64>:[1,2,3]', '--parameter=since:TIMESTAMP:2020-01-01 00:00:00', '--parameter=s:STRUCT<a INT64>:{"a": 1}',
      'SELECT order_id FROM shop.orders WHERE order_id IN UNNEST(@ids) AND @s.a = 1 AND @since < CURRENT_TIMESTAMP() ORDER BY order_id']);
    console.log('bq query --parameter:', params.code, out(params).slice(0, 300));
    expect(params.code).toBe(0);
    expect(JSON.parse(params.stdout).map((r: { order_id: string }) => Number(r.order_id))).toEqual([1, 2, 3]);
  }, 120_000);

  it('--nosync query, then wait and cancel the own job; another principal cannot wait on it', async () => {
    const started = await gw.bq(analyst, ['--nosync', 'query', '--nouse_legacy_sql', 'SELECT COUNT(*) FROM shop.orders']);
    const id = /Successfully started query (\S+)/.exec(out(started))?.[1];
    console.log('bq --nosync query:', started.code, id);
    expect(id).toBeDefined();
    const waited = await gw.bq(analyst, ['wait', id!]);
    expect(waited.code).toBe(0);
    expect(out(waited)).toMatch(/SUCCESS|DONE/);
    const cancelled = await gw.bq(analyst, ['cancel', id!]);
    console.log('bq cancel:', cancelled.code, out(cancelled).slice(0, 200));
    expect(cancelled.code).toBe(0);
    const other = await gw.bq(admin, ['wait', id!]);
    expect(other.code).not.toBe(0); // another principal's job is not found
  }, 180_000);

  const refused: Array<[string, string[], RegExp]> = [
    // bq mk -d first reads the dataset: a dataset no rule covers for the caller is refused there already.
    ['mk -d', ['mk', '-d', 'demo-project:scratch_bq'], /Dataset demo-project:scratch_bq: no bqgate policy rule covers it/],
    ['mk -t with schema', ['mk', '-t', 'demo-project:shop.t_bq', 'a:STRING,b:INTEGER'], /analysts-no-writes denies CREATE_TABLE/],
    ['mk --view', ['mk', '--nouse_legacy_sql', '--view=SELECT order_id FROM shop.orders', 'demo-project:shop.v_bq'], /analysts-no-writes denies CREATE_VIEW/],
    ['update', ['update', '--description=owned', 'demo-project:shop.orders'], /analysts-no-writes denies ALTER_TABLE/],
    ['rm -t', ['rm', '-f', '-t', 'demo-project:shop.orders'], /analysts-no-writes denies DROP/],
    ['rm -r -d', ['rm', '-r', '-f', '-d', 'demo-project:shop'], /analysts-no-writes denies DROP/],
    ['insert', ['insert', 'demo-project:shop.orders', '<rows>'], /analysts-no-writes denies INSERT/],
    ['query --destination_table', ['query', '--nouse_legacy_sql', '--destination_table=demo-project:shop.orders_copy', 'SELECT order_id FROM shop.orders'], /analysts-no-writes denies CREATE_TABLE_AS_SELECT/],
    ['cp', ['cp', '-f', 'demo-project:shop.orders', 'demo-project:shop.orders_cp'], /COPY/],
    ['extract', ['extract', 'demo-project:shop.orders', 'gs://elsewhere/orders.csv'], /EXTRACT|extract/],
  ];
  for (const [name, args, rule] of refused) {
    it(`bq ${name} exits non-zero naming the rule`, async () => {
      const r = await gw.bq(analyst, args.map((a) => (a === '<rows>' ? join(work, 'rows.json') : a)));
      console.log(`bq ${name} (analyst): exit ${r.code}:`, out(r).trim().split('\n').filter(Boolean).slice(-1)[0]);
      expect(r.code).not.toBe(0);
      expect(out(r)).toMatch(rule);
    }, 60_000);
  }

  it('every refusal left request, decision and response events', async () => {
    const recs = (await auditRequests(gw.dataDir)).filter((r) => r.principal === 'bq-analyst' && r.decision?.effect === 'deny');
    const ops = [...new Set(recs.map((r) => r.operation))].sort();
    console.log('denied operations audited:', ops.join(', '));
    expect(ops).toEqual(expect.arrayContaining(['datasets.delete', 'datasets.get', 'jobs.insert', 'tabledata.insertAll', 'tables.delete', 'tables.insert', 'tables.patch']));
    for (const r of recs) expect(r.response?.status).toBe(403);
  });
});

describe('bq under the admin test policy', () => {
  it('mk -d, mk -t, mk --view, update, rm -t, rm -r -d pass where the emulator serves datasets and tables', async (ctx) => {
    if (!(await emulatorServes('POST', '/projects/demo-project/datasets'))) {
      console.log('SKIPPED: the emulator does not serve datasets.insert yet (emu work of issue 18)');
      ctx.skip();
    }
    const steps: Array<[string[], RegExp]> = [
      [['mk', '-d', 'demo-project:scratch_admin'], /created/i],
      [['mk', '-t', 'demo-project:scratch_admin.t1', 'a:STRING,b:INTEGER'], /created/i],
      [['mk', '--nouse_legacy_sql', '--view=SELECT order_id FROM `demo-project.shop.orders`', 'demo-project:scratch_admin.v1'], /created/i],
      [['update', '--description=by admin', 'demo-project:scratch_admin.t1'], /updated/i],
      [['rm', '-f', '-t', 'demo-project:scratch_admin.t1'], /^/],
      [['rm', '-r', '-f', '-d', 'demo-project:scratch_admin'], /^/],
    ];
    for (const [args, ok] of steps) {
      const r = await gw.bq(admin, args);
      console.log(`bq ${args.slice(0, 2).join(' ')} (admin): exit ${r.code}`, out(r).trim().split('\n').slice(-1)[0]);
      expect(r.code).toBe(0);
      expect(out(r)).toMatch(ok);
    }
    const kinds = (await auditRequests(gw.dataDir)).filter((r: any) => r.principal === 'bq-admin' && r.decision?.effect === 'allow').map((r: any) => r.decision.statementKind);
    expect(kinds).toEqual(expect.arrayContaining(['CREATE_SCHEMA', 'CREATE_TABLE', 'CREATE_VIEW', 'ALTER_TABLE', 'DROP']));
  }, 240_000);
});
