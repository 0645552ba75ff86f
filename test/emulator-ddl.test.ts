/**
 * The emulator's DDL and resource CRUD, through the real SDK and the real `bq` CLI: CREATE/DROP
 * TABLE/VIEW/SCHEMA by query make tables and datasets that tables.get/list and later queries see,
 * jobs report statementType / ddlOperationPerformed / ddlTargetTable; datasets.insert/patch/update/
 * delete(deleteContents), tables.insert (schema, view)/patch/update/delete, routines and models.
 * Also: an unquoted dashed project id in FROM reads the project's table.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolve } from 'node:path';
import { BigQuery } from '@google-cloud/bigquery';
import { startEmulator, newEmulatorSecret, type RunningEmulator } from '../src/emulator/index.ts';
import { localCredential } from '../src/upstream/credentials.ts';
import { runBq } from './helpers/bq.ts';

let emu: RunningEmulator;
let sdk: BigQuery;
const secret = newEmulatorSecret();
const headers = { authorization: `Bearer ${secret}` };
const api = async (method: string, path: string, body?: unknown) => {
  const r = await fetch(`${emu.url}/bigquery/v2/projects/demo-project${path}`, { method, headers, ...(body ? { body: JSON.stringify(body) } : {}) });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : undefined } as { status: number; body: any };
};
/** Runs `sql` as a query job to completion and returns the job resource. */
const job = async (sql: string) => {
  const [j] = await sdk.createQueryJob({ query: sql });
  await j.getQueryResults();
  const [meta] = await j.getMetadata();
  return meta;
};

beforeAll(async () => {
  emu = await startEmulator({ fixturesDir: resolve('fixtures'), port: 0, secret });
  sdk = new BigQuery({ projectId: 'demo-project', apiEndpoint: emu.url, authClient: localCredential(secret) as never, autoRetry: false });
});
afterAll(async () => { await emu?.close(); });

describe('emulator DDL and resources', () => {
  it('CREATE VIEW / TABLE … OPTIONS(…) sets friendly_name, description, labels and expiration_timestamp; other options are refused', async () => {
    const before = Date.now();
    const meta = await job(`CREATE VIEW \`demo-project.shop.v_opts\` OPTIONS(expiration_timestamp=TIMESTAMP_ADD(CURRENT_TIMESTAMP(), INTERVAL 48 HOUR), friendly_name="new_view", description="a view, (with) parens", labels=[("org_unit", "development")]) AS SELECT order_id FROM shop.orders WHERE currency LIKE 'E%'`);
    expect(meta.statistics.query.statementType).toBe('CREATE_VIEW');
    const v = (await api('GET', '/datasets/shop/tables/v_opts')).body;
    console.log('view with OPTIONS:', JSON.stringify({ friendlyName: v.friendlyName, description: v.description, labels: v.labels, expirationTime: v.expirationTime }));
    expect(v).toMatchObject({ type: 'VIEW', friendlyName: 'new_view', description: 'a view, (with) parens', labels: { org_unit: 'development' } });
    expect(Number(v.expirationTime) - before).toBeGreaterThanOrEqual(48 * 3600_000 - 60_000);
    expect(v.view.query).toBe("SELECT order_id FROM shop.orders WHERE currency LIKE 'E%'");
    await job("CREATE TABLE shop.t_opts (a INT64) OPTIONS(description='plain')");
    expect((await api('GET', '/datasets/shop/tables/t_opts')).body.description).toBe('plain');
    const refused = await sdk.query("CREATE TABLE shop.t_kms (a INT64) OPTIONS(kms_key_name='k')").then(() => undefined, (e) => e);
    expect(refused?.message).toContain('kms_key_name');
    expect((await api('GET', '/datasets/shop/tables/t_kms')).status).toBe(404);
    // An option is a constant expression: one that reads a table is refused, and nothing is created.
    const leak = await sdk.query("CREATE VIEW shop.v_leak OPTIONS(description=(SELECT MAX(ssn) FROM shop.customers)) AS SELECT 1 AS x").then(() => undefined, (e) => e);
    console.log('OPTIONS reading a table:', leak?.message);
    expect(leak?.message).toMatch(/reads demo-project\.shop\.customers/);
    expect((await api('GET', '/datasets/shop/tables/v_leak')).status).toBe(404);
  });

  it('CREATE [OR REPLACE] FUNCTION [IF NOT EXISTS] makes a SQL routine that routines.get shows with typed arguments; ddlTargetRoutine reported', async () => {
    const meta = await job('CREATE FUNCTION `demo-project.shop.fn_sum_foo`(arr ARRAY<STRUCT<name STRING, val INT64>>) AS ((SELECT SUM(IF(e.name = "foo", e.val, NULL)) FROM UNNEST(arr) AS e WHERE 1 < 2))');
    expect(meta.statistics.query).toMatchObject({ statementType: 'CREATE_FUNCTION', ddlOperationPerformed: 'CREATE', ddlTargetRoutine: { projectId: 'demo-project', datasetId: 'shop', routineId: 'fn_sum_foo' } });
    const r = (await api('GET', '/datasets/shop/routines/fn_sum_foo')).body;
    expect(r).toMatchObject({ routineType: 'SCALAR_FUNCTION', language: 'SQL', definitionBody: '(SELECT SUM(IF(e.name = "foo", e.val, NULL)) FROM UNNEST(arr) AS e WHERE 1 < 2)' });
    expect(r.arguments).toEqual([{ name: 'arr', dataType: { typeKind: 'ARRAY', arrayElementType: { typeKind: 'STRUCT', structType: { fields: [{ name: 'name', type: { typeKind: 'STRING' } }, { name: 'val', type: { typeKind: 'INT64' } }] } } } }]);
    const dup = await sdk.query('CREATE FUNCTION shop.fn_sum_foo(x INT64) AS (x)').then(() => undefined, (e) => e);
    expect(dup?.message).toMatch(/Already Exists: Routine demo-project:shop\.fn_sum_foo/);
    expect((await job('CREATE FUNCTION IF NOT EXISTS shop.fn_sum_foo(x INT64) AS (x)')).statistics.query.ddlOperationPerformed).toBe('SKIP');
    expect((await job('CREATE OR REPLACE FUNCTION shop.fn_sum_foo(x INT64, y FLOAT64) RETURNS FLOAT64 AS (x * y)')).statistics.query.ddlOperationPerformed).toBe('REPLACE');
    const replaced = (await api('GET', '/datasets/shop/routines/fn_sum_foo')).body;
    expect(replaced).toMatchObject({ definitionBody: 'x * y', returnType: { typeKind: 'FLOAT64' }, arguments: [{ name: 'x', dataType: { typeKind: 'INT64' } }, { name: 'y', dataType: { typeKind: 'FLOAT64' } }] });
    const missing = await sdk.query('CREATE FUNCTION no_such_ds.f(x INT64) AS (x)').then(() => undefined, (e) => e);
    expect(missing?.message).toMatch(/Not found: Dataset/);
  });

  it('reads an unquoted dashed project id in FROM and JOIN', async () => {
    const [rows] = await sdk.query('SELECT COUNT(*) AS n FROM demo-project.shop.orders o JOIN demo-project.shop.customers c ON o.customer_id = c.customer_id WHERE o.order_id <= 10');
    expect(rows[0].n).toBeGreaterThan(0);
    const [sub] = await sdk.query('SELECT 5-3 AS d');
    expect(sub[0].d).toBe(2);
  });

  it('CREATE SCHEMA / TABLE / VIEW and DROP by query make what tables.get, tables.list and later queries see', async () => {
    const schema = await job('CREATE SCHEMA scratch');
    expect(schema.statistics.query).toMatchObject({ statementType: 'CREATE_SCHEMA', ddlOperationPerformed: 'CREATE' });
    const t = await job('CREATE TABLE demo-project.scratch.items (id INT64 NOT NULL, name STRING, price NUMERIC, tags ARRAY<STRING>)');
    expect(t.statistics.query).toMatchObject({ statementType: 'CREATE_TABLE', ddlOperationPerformed: 'CREATE', ddlTargetTable: { projectId: 'demo-project', datasetId: 'scratch', tableId: 'items' } });
    expect(t.statistics.query.numDmlAffectedRows).toBeUndefined();
    const [meta] = await sdk.dataset('scratch').table('items').getMetadata();
    expect(meta.schema.fields.map((f: any) => `${f.name}:${f.type}:${f.mode}`)).toEqual(['id:INTEGER:REQUIRED', 'name:STRING:NULLABLE', 'price:NUMERIC:NULLABLE', 'tags:STRING:REPEATED']);
    const ins = await job("INSERT INTO scratch.items (id, name, price, tags) VALUES (1, 'a', 1.25, ['x']), (2, 'b', 2.5, [])");
    expect(ins.statistics.query).toMatchObject({ statementType: 'INSERT', numDmlAffectedRows: '2' });
    const [after] = await sdk.dataset('scratch').table('items').getMetadata();
    expect(after.numRows).toBe('2');
    const skip = await job('CREATE TABLE IF NOT EXISTS scratch.items (id INT64)');
    expect(skip.statistics.query.ddlOperationPerformed).toBe('SKIP');
    const ctas = await job('CREATE OR REPLACE TABLE scratch.totals AS SELECT customer_id, SUM(amount) AS total FROM shop.orders GROUP BY customer_id');
    expect(ctas.statistics.query).toMatchObject({ statementType: 'CREATE_TABLE_AS_SELECT', ddlOperationPerformed: 'CREATE' });
    const again = await job('CREATE OR REPLACE TABLE scratch.totals AS SELECT 1 AS customer_id, 2.0 AS total');
    expect(again.statistics.query.ddlOperationPerformed).toBe('REPLACE');
    const view = await job('CREATE VIEW scratch.cheap AS SELECT id, name FROM scratch.items WHERE price < 2');
    expect(view.statistics.query).toMatchObject({ statementType: 'CREATE_VIEW', ddlOperationPerformed: 'CREATE' });
    const [vmeta] = await sdk.dataset('scratch').table('cheap').getMetadata();
    expect(vmeta.type).toBe('VIEW');
    expect(vmeta.view.query).toBe('SELECT id, name FROM scratch.items WHERE price < 2');
    const [vrows] = await sdk.query('SELECT name FROM scratch.cheap');
    expect(vrows).toEqual([{ name: 'a' }]);
    const [tables] = await sdk.dataset('scratch').getTables();
    expect(tables.map((x) => x.id).sort()).toEqual(['cheap', 'items', 'totals']);
    const drop = await job('DROP TABLE scratch.totals');
    expect(drop.statistics.query).toMatchObject({ statementType: 'DROP_TABLE', ddlOperationPerformed: 'DROP' });
    expect((await api('GET', '/datasets/scratch/tables/totals')).status).toBe(404);
    const gone = await job('DROP TABLE IF EXISTS scratch.totals');
    expect(gone.statistics.query.ddlOperationPerformed).toBe('SKIP');
    await expect(sdk.query('DROP SCHEMA scratch')).rejects.toThrow(/still in use/);
    const dropped = await job('DROP SCHEMA scratch CASCADE');
    expect(dropped.statistics.query).toMatchObject({ statementType: 'DROP_SCHEMA', ddlOperationPerformed: 'DROP' });
    expect((await api('GET', '/datasets/scratch')).status).toBe(404);
  });

  it('writes only datasets the catalog holds: not the time-travel history schema', async () => {
    await sdk.query('CREATE SCHEMA IF NOT EXISTS hist');
    await sdk.query('CREATE TABLE hist.t (a INT64)');
    await sdk.query('INSERT INTO hist.t (a) VALUES (1)'); // keeps a history copy in __bqgate_history
    await expect(sdk.query('CREATE TABLE __bqgate_history.planted (a INT64)')).rejects.toThrow(/Not found: Dataset/);
    await expect(sdk.query('DROP TABLE __bqgate_history.hist__t__0')).rejects.toThrow(/Not found: Dataset/);
    await expect(sdk.query('CREATE SCHEMA __bqgate_history')).rejects.toThrow(/Invalid dataset ID/);
  });

  it('refuses a view whose query reads a file (the view body is checked as a SELECT)', async () => {
    await sdk.query('CREATE SCHEMA IF NOT EXISTS vcheck');
    await expect(sdk.query("CREATE VIEW vcheck.v AS SELECT * FROM read_text('/etc/passwd')")).rejects.toThrow(/Access Denied/);
    const r = await api('POST', '/datasets/vcheck/tables', { tableReference: { tableId: 'v2' }, view: { query: "SELECT * FROM read_csv('/etc/hosts')", useLegacySql: false } });
    expect(r.body.error.errors[0].reason).toBe('accessDenied');
    expect((await api('GET', '/datasets/vcheck/tables/v2')).status).toBe(404);
  });

  it('datasets and tables CRUD through the SDK: insert, patch, update, delete', async () => {
    const [ds] = await sdk.createDataset('crud', { description: 'first', labels: { team: 'a' } });
    const [dmeta] = await ds.getMetadata();
    expect(dmeta).toMatchObject({ description: 'first', labels: { team: 'a' }, location: 'US' });
    await ds.setMetadata({ description: 'second' });
    expect((await ds.getMetadata())[0]).toMatchObject({ description: 'second', labels: { team: 'a' } });
    await ds.setMetadata({ labels: { env: 'dev' } });
    expect((await ds.getMetadata())[0].labels).toEqual({ team: 'a', env: 'dev' });
    await ds.setMetadata({ labels: { team: null } });
    expect((await ds.getMetadata())[0].labels).toEqual({ env: 'dev' });
    expect((await sdk.createDataset('crud').catch((e) => e)).code).toBe(409);
    const [table] = await ds.createTable('people', { schema: 'name:STRING, age:INTEGER', description: 'people', labels: { pii: 'yes' } });
    const [tmeta] = await table.getMetadata();
    expect(tmeta).toMatchObject({ type: 'TABLE', description: 'people', labels: { pii: 'yes' }, numRows: '0' });
    const exp = Date.now() + 3_600_000;
    await table.setMetadata({ description: 'changed', expirationTime: String(exp), schema: { fields: [...tmeta.schema.fields, { name: 'email', type: 'STRING', mode: 'NULLABLE' }] } });
    const [patched] = await table.getMetadata();
    expect(patched).toMatchObject({ description: 'changed', labels: { pii: 'yes' }, expirationTime: String(exp) });
    expect(patched.schema.fields.map((f: any) => f.name)).toEqual(['name', 'age', 'email']);
    const [rows] = await sdk.query('SELECT email FROM crud.people');
    expect(rows).toEqual([]);
    const retype = await api('PATCH', '/datasets/crud/tables/people', { schema: { fields: [{ name: 'name', type: 'INTEGER' }, { name: 'age', type: 'INTEGER' }, { name: 'email', type: 'STRING' }] } });
    expect(retype.status).toBe(400);
    expect(retype.body.error.message).toMatch(/changed type/);
    const put = await api('PUT', '/datasets/crud/tables/people', { schema: patched.schema, description: 'replaced' });
    expect(put.body.description).toBe('replaced');
    expect(put.body.labels).toBeUndefined();
    const [view] = await ds.createTable('adults', { view: { query: 'SELECT name FROM crud.people WHERE age >= 18', useLegacySql: false }, description: 'adults only' });
    expect((await view.getMetadata())[0]).toMatchObject({ type: 'VIEW', description: 'adults only', view: { query: 'SELECT name FROM crud.people WHERE age >= 18' } });
    await view.setMetadata({ view: { query: 'SELECT name, age FROM crud.people WHERE age >= 21', useLegacySql: false } });
    const [vmeta] = await view.getMetadata();
    expect(vmeta).toMatchObject({ description: 'adults only', view: { query: 'SELECT name, age FROM crud.people WHERE age >= 21' } });
    expect(vmeta.schema.fields.map((f: any) => f.name)).toEqual(['name', 'age']);
    const [part] = await ds.createTable('parted', { schema: 'd:DATE, v:INTEGER', timePartitioning: { type: 'DAY', field: 'd' }, clustering: { fields: ['v'] } });
    expect((await part.getMetadata())[0]).toMatchObject({ timePartitioning: { type: 'DAY', field: 'd' }, clustering: { fields: ['v'] } });
    await ds.setMetadata({ access: [{ role: 'READER', userByEmail: 'a@example.com' }] });
    expect((await ds.getMetadata())[0].access).toEqual([{ role: 'READER', userByEmail: 'a@example.com' }]);
    const expired = await api('PATCH', '/datasets/crud/tables/people', { expirationTime: String(Date.now() - 1) });
    expect(expired.status).toBe(200);
    expect((await api('GET', '/datasets/crud/tables/people')).status).toBe(404);
    await view.delete();
    expect((await view.exists())[0]).toBe(false);
    const inUse = await ds.createTable('keep', { schema: 'x:STRING' }).then(() => api('DELETE', '/datasets/crud'));
    expect(inUse.status).toBe(400);
    expect(inUse.body.error.message).toMatch(/still in use/);
    await ds.delete({ force: true });
    expect((await ds.exists())[0]).toBe(false);
  });

  it('routines insert/list/delete and models list/delete through the SDK', async () => {
    const shop = sdk.dataset('shop');
    const [r] = await shop.createRoutine('emu_add_one', { routineType: 'SCALAR_FUNCTION', language: 'SQL', definitionBody: 'x + 1', arguments: [{ name: 'x', dataType: { typeKind: 'INT64' } }] });
    const [list] = await shop.getRoutines();
    expect(list.map((x) => x.id)).toContain('emu_add_one');
    await r.delete();
    expect((await shop.getRoutines())[0].map((x) => x.id)).not.toContain('emu_add_one');
    const [models] = await shop.getModels();
    expect(models.map((m) => m.id)).toContain('churn_model');
    await models.find((m) => m.id === 'churn_model')!.delete();
    expect((await shop.getModels())[0].map((m) => m.id)).not.toContain('churn_model');
  });

  it('bq mk -d, mk -t with a schema, mk --view, update, show --schema, query DDL, rm -t, rm -r -d', async () => {
    const bq = (...args: string[]) => runBq(emu.url, secret, args);
    const out: string[] = [];
    const ok = async (...args: string[]) => { const t0 = Date.now(); const r = await bq(...args); console.log('bq', args[0], Date.now() - t0, 'ms'); out.push(`$ bq ${args.join(' ')}\n${r.stdout}${r.stderr}`); expect(r.code, r.stderr + r.stdout).toBe(0); return r.stdout; };
    await ok('mk', '-d', '--description=made by bq', 'bqds');
    await ok('mk', '-t', '--description=t1', 'bqds.t1', 'id:INTEGER,name:STRING');
    await ok('mk', '--nouse_legacy_sql', '--view=SELECT id FROM bqds.t1', 'bqds.v1');
    await ok('update', '--description=now described', '--set_label=env:test', 'bqds.t1');
    const shown = JSON.parse(await ok('show', '--format=json', 'bqds.t1'));
    expect(shown).toMatchObject({ description: 'now described', labels: { env: 'test' } });
    const schema = JSON.parse(await ok('show', '--schema', '--format=json', 'bqds.t1'));
    expect(schema.map((f: any) => f.name)).toEqual(['id', 'name']);
    const created = await ok('query', '--nouse_legacy_sql', 'CREATE TABLE bqds.t2 (a INT64)');
    expect(created).toMatch(/Created demo-project\.bqds\.t2/);
    const listed = await ok('ls', '--format=json', 'bqds');
    expect(JSON.parse(listed).map((t: any) => t.tableReference.tableId).sort()).toEqual(['t1', 't2', 'v1']);
    await ok('rm', '-f', '-t', 'bqds.t2');
    expect((await api('GET', '/datasets/bqds/tables/t2')).status).toBe(404);
    await ok('rm', '-r', '-f', '-d', 'bqds');
    expect((await api('GET', '/datasets/bqds')).status).toBe(404);
    console.log(out.join('\n'));
  }, 240_000);
});
