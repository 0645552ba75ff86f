/**
 * The whole BigQuery v2 REST surface through a real gateway process (issue 18): every method of the
 * discovery document is routed; a method bqgate does not govern (and any other path under
 * /bigquery/v2) is refused with 403 accessDenied naming it, after authentication, audited — never a
 * 404; governed methods are decided as the statement each equals, with the same rules and audit
 * events as SQL. Clients: the real `@google-cloud/bigquery` SDK (explicit authClient), the real `bq`
 * CLI, and plain HTTP for methods neither client exposes. Policies: policies/demo.yaml plus the
 * test-only test/fixtures/policies-admin/admin.yaml (an administrator and narrow attack principals).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiError, auditRequests, type TestGateway } from './helpers/gateway.ts';
import { startDemoAndAdminGateway } from './helpers/admin-policy.ts';
import { METHODS, GOVERNED } from '../src/doors/bigquery/methods/index.ts';
import { discoveryDocument } from '../src/bigquery/discovery.ts';

let gw: TestGateway;
let tokens: Record<string, string> = {};

beforeAll(async () => {
  ({ gw, tokens } = await startDemoAndAdminGateway('rest', { admin: ['test-admins'], analyst: ['analysts'], viewer: ['test-view-makers'], copier: ['test-copiers'], editor: ['test-schema-editors'], tableCopier: ['test-table-copiers'] }));
}, 180_000);
afterAll(async () => { await gw?.stop(); });

/** One HTTP call to the gateway with `token` (and an audit session key); the status and the parsed body. */
async function call(method: string, path: string, token: string | undefined, body?: unknown, session?: string) {
  const res = await fetch(`${gw.url}${path}`, {
    method, headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...(session ? { 'x-bqgate-session': session } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}
/** The audit record of the last request of `principal` whose operation is `op`. */
const lastAudit = async (principal: string, op: string): Promise<any> => (await auditRequests(gw.dataDir)).filter((r) => r.principal === principal && r.operation === op).at(-1);

describe('the method catalogue', () => {
  it('knows every method of the discovery document the gateway serves', () => {
    const doc = JSON.parse(discoveryDocument()!);
    const ids: string[] = [];
    const walk = (r: any) => { for (const v of Object.values<any>(r.resources ?? {})) { for (const m of Object.values<any>(v.methods ?? {})) ids.push(`${m.id.replace(/^bigquery\./, '')} ${m.httpMethod}`); walk(v); } };
    walk(doc);
    console.log(`discovery methods: ${ids.length}; catalogue: ${METHODS.length}; governed: ${GOVERNED.length}`);
    expect(METHODS.map((m) => `${m.id} ${m.http}`).sort()).toEqual(ids.sort());
  });
});

describe('methods bqgate does not govern: 403 accessDenied naming the method, audited', () => {
  const refused: Array<[string, string, string]> = [
    ['POST', '/bigquery/v2/projects/demo-project/datasets/shop/tables/orders:testIamPermissions', 'tables.testIamPermissions'],
    ['POST', '/bigquery/v2/projects/demo-project/datasets/shop/tables/orders/rowAccessPolicies/p1:testIamPermissions', 'rowAccessPolicies.testIamPermissions'],
    ['POST', '/projects/demo-project/datasets/shop/tables/orders/rowAccessPolicies/p1:getIamPolicy', 'rowAccessPolicies.getIamPolicy'],
  ];
  for (const [method, path, id] of refused) {
    it(`${id} (admin too)`, async () => {
      const r = await call(method, path, tokens.admin, method === 'POST' ? {} : undefined);
      console.log(`${method} ${path} → ${r.status} ${r.body?.error?.message}`);
      expect(r.status).toBe(403);
      expect(r.body.error.errors[0].reason).toBe('accessDenied');
      expect(r.body.error.message).toContain(`bigquery.${id}`);
      const a = await lastAudit('rest-admin', 'method.refused');
      expect(a?.decision?.effect).toBe('deny');
      expect(a?.decision?.reasons?.[0]).toContain(`bigquery.${id}`);
      expect(a?.response?.status).toBe(403);
    });
  }

  it('an unknown path under /bigquery/v2 is refused, not 404; without a token it is 401 first', async () => {
    const r = await call('GET', '/bigquery/v2/projects/demo-project/nothing/here', tokens.analyst);
    expect(r.status).toBe(403);
    expect(r.body.error.message).toContain('no BigQuery v2 method');
    const anon = await call('GET', '/bigquery/v2/projects/demo-project/nothing/here', undefined);
    expect(anon.status).toBe(401);
  });
});

describe('IAM and row access policy methods: decided as GRANT / CREATE_ROW_ACCESS_POLICY / DROP_ROW_ACCESS_POLICY', () => {
  it('an analyst may not read or set a table IAM policy (GRANT); the admin passes the decision', async () => {
    const set = await call('POST', '/bigquery/v2/projects/demo-project/datasets/shop/tables/customers:setIamPolicy', tokens.analyst, { policy: { bindings: [{ role: 'roles/bigquery.dataViewer', members: ['user:attacker@example.com'] }] } });
    console.log('tables.setIamPolicy (analyst):', set.status, set.body?.error?.message);
    expect(set.status).toBe(403);
    expect(set.body.error.message).toMatch(/to GRANT demo-project\.shop\.customers/);
    const get = await call('POST', '/bigquery/v2/projects/demo-project/datasets/shop/tables/customers:getIamPolicy', tokens.admin, {});
    console.log('tables.getIamPolicy (admin): upstream answered', get.status);
    const a = await lastAudit('rest-admin', 'tables.getIamPolicy');
    expect(a?.decision).toMatchObject({ effect: 'allow', statementKind: 'GRANT', matchedRules: ['test-admins-everything'] });
    expect(a?.upstream).toMatchObject({ method: 'tables.getIamPolicy' });
  });

  it('row access policies: create and drop are refused to an analyst naming the verb; datasets.undelete is UNDROP', async () => {
    const ins = await call('POST', '/bigquery/v2/projects/demo-project/datasets/shop/tables/customers/rowAccessPolicies', tokens.analyst, { rowAccessPolicyReference: { policyId: 'all' }, filterPredicate: 'TRUE', grantees: ['user:attacker@example.com'] });
    expect(ins.status).toBe(403);
    expect(ins.body.error.message).toMatch(/CREATE_ROW_ACCESS_POLICY/);
    const del = await call('DELETE', '/bigquery/v2/projects/demo-project/datasets/shop/tables/customers/rowAccessPolicies/eu', tokens.analyst);
    expect(del.body.error.message).toMatch(/DROP_ROW_ACCESS_POLICY/);
    const un = await call('POST', '/bigquery/v2/projects/demo-project/datasets/gone:undelete', tokens.analyst, {});
    expect(un.body.error.message).toMatch(/UNDROP/);
    expect((await lastAudit('rest-analyst', 'rowAccessPolicies.insert'))?.decision?.statementKind).toBe('CREATE_ROW_ACCESS_POLICY');
  });
});

describe('governed writes under the demo policy: refused naming the rule', () => {
  it('bq rm -f -t of a table exits non-zero with the rule; the table is still there', async () => {
    const r = await gw.bq(tokens.analyst, ['rm', '-f', '-t', 'demo-project:shop.orders']);
    console.log('bq rm -f -t (analyst):', r.code, (r.stderr + r.stdout).trim().split('\n').slice(-2).join(' | '));
    expect(r.code).not.toBe(0);
    expect(r.stderr + r.stdout).toContain('analysts-no-writes');
    const [exists] = await gw.emulatorSdk().dataset('shop').table('orders').exists();
    expect(exists).toBe(true);
    const a = await lastAudit('rest-analyst', 'tables.delete');
    expect(a?.decision).toMatchObject({ effect: 'deny', matchedRules: ['analysts-no-writes'], statementKind: 'DROP', tables: ['demo-project.shop.orders'] });
  });

  it('SDK table.delete / setMetadata and dataset ACL change are refused as DROP / ALTER_TABLE / GRANT', async () => {
    const ds = gw.sdk(tokens.analyst).dataset('shop');
    const del = await apiError(ds.table('orders').delete());
    expect(del.errors?.[0]?.reason).toBe('accessDenied');
    expect(del.message).toMatch(/analysts-no-writes denies DROP/);
    const patch = await apiError(ds.table('orders').setMetadata({ description: 'owned' }));
    expect(patch.message).toMatch(/analysts-no-writes denies ALTER_TABLE/);
    const acl = await apiError(ds.setMetadata({ access: [{ role: 'OWNER', userByEmail: 'attacker@example.com' }] }));
    console.log('dataset ACL change (analyst):', acl.message);
    expect(acl.errors?.[0]?.reason).toBe('accessDenied');
    expect((await lastAudit('rest-analyst', 'datasets.patch'))?.decision?.effect).toBe('deny');
  });

  it('insertAll by the ETL agents needs an approval under the demo policy, so it is refused (only query jobs can wait)', async () => {
    const etl = await gw.token({ sub: 'rest-etl', groups: ['etl-agents'] });
    const e = await apiError(gw.sdk(etl).dataset('shop').table('orders').insert([{ order_id: 990001, customer_id: 1, amount: 2 }]));
    console.log('insertAll (etl-agents):', e.message);
    expect(e.errors?.[0]?.reason).toBe('accessDenied');
    expect(e.message).toContain('etl-writes-need-owner');
    expect((await lastAudit('rest-etl', 'tabledata.insertAll'))?.decision).toMatchObject({ effect: 'deny', statementKind: 'INSERT' });
  });

  it('a caller with no right to alter learns nothing of existence: a missing and an existing table answer alike', async () => {
    const missing = await call('PATCH', '/bigquery/v2/projects/demo-project/datasets/shop/tables/no_such_table', tokens.analyst, { description: 'x' });
    const existing = await call('PATCH', '/bigquery/v2/projects/demo-project/datasets/shop/tables/orders', tokens.analyst, { description: 'x' });
    console.log('tables.patch missing / existing (analyst):', missing.status, existing.status);
    expect([missing.status, existing.status]).toEqual([403, 403]);
    expect(missing.body.error.message.replace('no_such_table', 'orders')).toBe(existing.body.error.message);
  });

  it('a principal allowed ALTER_SCHEMA may not change the dataset ACL: that is a GRANT', async () => {
    const e = await apiError(gw.sdk(tokens.editor).dataset('shop').setMetadata({ access: [{ role: 'READER', userByEmail: 'attacker@example.com' }] }));
    console.log('dataset ACL change (ALTER_SCHEMA-only):', e.message);
    expect(e.message).toMatch(/to GRANT demo-project\.shop /);
    expect((await lastAudit('rest-editor', 'datasets.patch'))?.decision).toMatchObject({ effect: 'deny', statementKind: 'ALTER_SCHEMA+GRANT' });
  });

  it('datasets.get datasetView=ACL is refused to a caller no rule lets GRANT; the default view leaves access out', async () => {
    const acl = await call('GET', '/bigquery/v2/projects/demo-project/datasets/shop?datasetView=ACL', tokens.analyst);
    expect(acl.status).toBe(403);
    expect(acl.body.error.message).toContain('access list');
    const plain = await call('GET', '/bigquery/v2/projects/demo-project/datasets/shop', tokens.analyst);
    expect(plain.status).toBe(200);
    expect(plain.body.access).toBeUndefined();
  });
});

describe('attacks by narrow principals', () => {
  it('a view over a table the creator may not read is refused (CREATE_VIEW reads its sources)', async () => {
    const ds = gw.sdk(tokens.viewer).dataset('shop');
    const e = await apiError(ds.createTable('v_leak', { view: { query: 'SELECT customer_id, ssn FROM shop.customers', useLegacySql: false } }));
    console.log('view over customers (view-maker):', e.message);
    expect(e.errors?.[0]?.reason).toBe('accessDenied');
    expect(e.message).toContain('demo-project.shop.customers');
    const legacy = await apiError(ds.createTable('v_legacy', { view: { query: 'SELECT 1' } }));
    expect(legacy.message).toContain('useLegacySql=false');
    const dml = await apiError(gw.sdk(tokens.admin).dataset('shop').createTable('v_dml', { view: { query: 'DELETE FROM shop.orders WHERE TRUE', useLegacySql: false } }));
    console.log('view whose query is DML (admin):', dml.message);
    expect(dml.message).toMatch(/must be a query \(SELECT\); it is DELETE/);
  });

  it('a view outside the datasets the rule names is refused as CREATE_VIEW', async () => {
    const e = await apiError(gw.sdk(tokens.viewer).dataset('shop').createTable('orders_view', { view: { query: 'SELECT order_id FROM shop.orders', useLegacySql: false } }));
    expect(e.message).toMatch(/CREATE_VIEW demo-project\.shop\.orders_view/);
    const a = await lastAudit('rest-viewer', 'tables.insert');
    expect(a?.decision).toMatchObject({ effect: 'deny', statementKind: 'CREATE_VIEW' });
  });

  it('removing a policy tag through a schema patch is a GRANT, refused to an ALTER_TABLE-only principal', async () => {
    const [meta] = await gw.emulatorSdk().dataset('shop').table('customers').getMetadata();
    const untagged = meta.schema.fields.map((f: any) => { const { policyTags, ...rest } = f; return rest; });
    const e = await apiError(gw.sdk(tokens.editor).dataset('shop').table('customers').setMetadata({ schema: { fields: untagged } }));
    console.log('policy tag removal (schema editor):', e.message);
    expect(e.errors?.[0]?.reason).toBe('accessDenied');
    expect(e.message).toContain('GRANT');
    const a = await lastAudit('rest-editor', 'tables.patch');
    expect(a?.decision?.statementKind).toBe('ALTER_TABLE+GRANT');
    const [after] = await gw.emulatorSdk().dataset('shop').table('customers').getMetadata();
    expect(after.schema.fields.find((f: any) => f.name === 'ssn').policyTags).toBeDefined();
  });

  it('fields bqgate cannot see the effect of are refused, named', async () => {
    const e = await apiError(gw.sdk(tokens.admin).dataset('shop').createTable('ext', { externalDataConfiguration: { sourceUris: ['gs://x/y.csv'], sourceFormat: 'CSV' } } as never));
    expect(e.errors?.[0]?.reason).toBe('accessDenied');
    expect(e.message).toContain('externalDataConfiguration');
  });

  it('destinationTable with schemaUpdateOptions is also an ALTER_TABLE: an INSERT-only principal may not add columns by appending', async () => {
    if (!(await gw.sdk(tokens.admin).dataset('open').exists())[0]) await gw.sdk(tokens.admin).createDataset('open');
    await gw.sdk(tokens.admin).query('CREATE OR REPLACE TABLE `demo-project.open.append1` (customer_id INT64)');
    const bq = gw.sdk(tokens.copier);
    const dest = { projectId: 'demo-project', datasetId: 'open', tableId: 'append1' };
    const e = await apiError(bq.createQueryJob({ query: 'SELECT customer_id, email FROM shop.customers', destinationTable: dest, writeDisposition: 'WRITE_APPEND', schemaUpdateOptions: ['ALLOW_FIELD_ADDITION'] } as never));
    console.log('append with ALLOW_FIELD_ADDITION (copier):', e.message);
    expect(e.errors?.[0]?.reason).toBe('accessDenied');
    expect(e.message).toMatch(/ALTER_TABLE demo-project\.open\.append1/);
    expect((await lastAudit('rest-copier', 'jobs.insert'))?.decision?.statementKind).toBe('SELECT+INSERT+ALTER_TABLE');
    const bad = await apiError(bq.createQueryJob({ query: 'SELECT customer_id FROM shop.customers', destinationTable: dest, writeDisposition: 'WRITE_APPEND', schemaUpdateOptions: ['ALLOW_ANYTHING'] } as never));
    expect(bad.message).toContain('schemaUpdateOptions');
    // The administrator's append adds the column (the option reaches the upstream).
    const [job] = await gw.sdk(tokens.admin).createQueryJob({ query: 'SELECT 1 AS customer_id, "x" AS note', destinationTable: dest, writeDisposition: 'WRITE_APPEND', schemaUpdateOptions: ['ALLOW_FIELD_ADDITION'] } as never);
    await job.getQueryResults();
    const [meta] = await gw.emulatorSdk().dataset('open').table('append1').getMetadata();
    expect(meta.schema.fields.map((f: any) => f.name)).toEqual(['customer_id', 'note']);
  });

  it('datasets: a PATCH label set to null removes it; datasets.list filter selects by label; the admin sees the access list of what it writes', async () => {
    const bq = gw.sdk(tokens.admin);
    const [ds] = await bq.createDataset('rest_labels', { labels: { color: 'green', team: 'data' } } as never);
    const [patched] = await ds.setMetadata({ labels: { color: null } });
    expect(patched.labels).toEqual({ team: 'data' });
    const [byLabel] = await bq.getDatasets({ filter: 'labels.team:data' });
    console.log('datasets.list filter labels.team:data →', byLabel.map((d) => d.id).join(', '));
    expect(byLabel.map((d) => d.id)).toEqual(['rest_labels']);
    expect(patched.access?.length).toBeGreaterThan(0);
    const analystView = await call('PATCH', '/bigquery/v2/projects/demo-project/datasets/shop', tokens.analyst, { labels: { color: null } });
    expect(analystView.status).toBe(403);
    const malformed = await call('PATCH', '/bigquery/v2/projects/demo-project/datasets/rest_labels', tokens.admin, { labels: { color: 7 } });
    expect(malformed.status).toBe(400);
    expect(malformed.body.error.message).toContain('or null, which removes it');
  });

  it('destinationTable: a masked column goes into the open dataset masked, never raw', async () => {
    // The open dataset the copier may write into (the fixtures have none).
    if (!(await gw.sdk(tokens.admin).dataset('open').exists())[0]) await gw.sdk(tokens.admin).createDataset('open');
    const bq = gw.sdk(tokens.copier);
    const [job] = await bq.createQueryJob({ query: 'SELECT customer_id, email FROM shop.customers', useLegacySql: false, destination: bq.dataset('open').table('copy1') });
    await job.getQueryResults();
    const a: any = await lastAudit('rest-copier', 'jobs.insert');
    console.log('destinationTable decision:', a.decision?.statementKind, a.decision?.matchedRules, '| sent:', a.upstream?.sql);
    expect(a.decision).toMatchObject({ effect: 'allow', statementKind: 'SELECT+CREATE_TABLE_AS_SELECT' });
    expect(a.decision?.matchedRules).toEqual(expect.arrayContaining(['test-copiers-read', 'test-copiers-write-open', 'test-copiers-mask-email']));
    // The rows written are the masking projection's: email through EMAIL_MASK at the scan, the other PII NULL.
    expect(a.upstream?.sql).toMatch(/FROM \(SELECT .*REGEXP_EXTRACT\(`email`.* AS `email`.*FROM `demo-project\.shop\.customers`/);
    expect(a.upstream?.sql).toContain('CAST(NULL AS STRING) AS `ssn`');
    // Ground truth in the emulator: the table written holds no raw email.
    const [raw] = await gw.emulatorSdk().query({ query: 'SELECT email FROM `demo-project.shop.customers` WHERE email IS NOT NULL' });
    const [written] = await gw.emulatorSdk().query({ query: 'SELECT email FROM `demo-project.open.copy1`' });
    console.log('open.copy1 rows:', written.length, 'e.g.', written[0]?.email);
    // As many rows as the copier may read (its row filters apply to what is written too).
    const [seen] = await bq.query({ query: 'SELECT COUNT(*) AS n FROM shop.customers', useLegacySql: false });
    expect(written.length).toBe(Number(seen[0].n));
    const rawSet = new Set(raw.map((r: any) => r.email));
    expect(written.filter((r: any) => rawSet.has(r.email))).toEqual([]);
  });

  it('destinationTable appending to a table whose INSERT needs an approval parks the job PENDING', async () => {
    const etl = await gw.token({ sub: 'rest-etl-dest', groups: ['etl-agents'] });
    const bq = gw.sdk(etl);
    const [job] = await bq.createQueryJob({ query: 'SELECT order_id, customer_id, amount FROM shop.orders WHERE order_id < 0', useLegacySql: false, destination: bq.dataset('shop').table('orders'), writeDisposition: 'WRITE_APPEND' });
    const [meta] = await job.getMetadata();
    console.log('destinationTable append (etl-agents): state', meta.status?.state);
    expect(meta.status?.state).toBe('PENDING');
    const a = await lastAudit('rest-etl-dest', 'jobs.insert');
    expect(a?.decision).toMatchObject({ effect: 'allow', statementKind: 'SELECT+INSERT' });
    expect(a?.approvals?.[0]).toMatchObject({ step: 'requested', requirements: ['etl-writes-need-owner'] });
  });

  it('destinationTable outside the datasets a rule lets the caller write, or under a row cap, is refused', async () => {
    const bq = gw.sdk(tokens.copier);
    const e = await apiError(bq.createQueryJob({ query: 'SELECT customer_id FROM shop.customers', useLegacySql: false, destination: bq.dataset('shop').table('stolen') }));
    expect(e.message).toMatch(/CREATE_TABLE_AS_SELECT demo-project\.shop\.stolen/);
    const a = gw.sdk(tokens.analyst);
    const capped = await apiError(a.createQueryJob({ query: 'SELECT order_id FROM shop.orders', useLegacySql: false, destination: a.dataset('shop').table('orders_copy') }));
    console.log('destinationTable (analyst):', capped.message);
    expect(capped.errors?.[0]?.reason).toBe('accessDenied');
  });
});

describe('governed methods allowed under the admin policy', () => {
  it('routines: insert, get, update, list, delete through the gateway (SDK), decided as CREATE_FUNCTION (insert and CREATE OR REPLACE update) / DROP_FUNCTION', async () => {
    const ds: any = gw.sdk(tokens.admin).dataset('shop');
    const body = { routineType: 'SCALAR_FUNCTION', language: 'SQL', arguments: [{ name: 'x', dataType: { typeKind: 'INT64' } }], definitionBody: 'x * 3' };
    const [r] = await ds.createRoutine('times_three_rest', body);
    expect((await r.getMetadata())[0].definitionBody).toBe('x * 3');
    await r.setMetadata({ ...body, definitionBody: 'x * 4' });
    const [list] = await ds.getRoutines();
    expect(list.map((x: any) => x.id)).toContain('times_three_rest');
    await r.delete();
    const kinds = (await auditRequests(gw.dataDir)).filter((x) => x.principal === 'rest-admin' && x.operation.startsWith('routines.')).map((x: any) => `${x.operation}:${x.decision?.statementKind ?? ''}:${x.response?.status}`);
    console.log('routine audit:', kinds.join(', '));
    expect(kinds).toEqual(expect.arrayContaining(['routines.insert:CREATE_FUNCTION:200', 'routines.update:CREATE_FUNCTION:200', 'routines.delete:DROP_FUNCTION:204']));
    const ins = await lastAudit('rest-admin', 'routines.insert');
    expect(ins?.upstream).toMatchObject({ method: 'routines.insert' });
    expect(ins?.decision?.matchedRules).toEqual(['test-admins-everything']);
  });

  it('an analyst may not create a routine (analysts-no-writes denies CREATE_*)', async () => {
    const e = await apiError((gw.sdk(tokens.analyst).dataset('shop') as any).createRoutine('nope', { routineType: 'SCALAR_FUNCTION', language: 'SQL', definitionBody: '1' }));
    expect(e.message).toMatch(/analysts-no-writes denies CREATE_FUNCTION/);
  });

  it('models: list and get as reads, patch as ALTER_MODEL (admin) and refused to an analyst', async () => {
    const ds = gw.sdk(tokens.admin).dataset('shop');
    const [models] = await ds.getModels();
    expect(models.map((m) => m.id)).toContain('churn_model');
    await ds.model('churn_model').setMetadata({ description: 'patched through bqgate' });
    expect((await ds.model('churn_model').getMetadata())[0].description).toBe('patched through bqgate');
    const e = await apiError(gw.sdk(tokens.analyst).dataset('shop').model('churn_model').setMetadata({ description: 'x' }));
    expect(e.message).toMatch(/denies ALTER_MODEL/);
  });

  it('bq ls --routines and ls -m list through the gateway', async () => {
    const r = await gw.bq(tokens.admin, ['ls', '--routines', 'demo-project:shop']);
    const m = await gw.bq(tokens.admin, ['ls', '-m', 'demo-project:shop']);
    console.log('bq ls --routines:', r.code, r.stdout.split('\n').length, 'lines; ls -m:', m.code);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('customer_email');
    expect(m.code).toBe(0);
    expect(m.stdout).toContain('churn_model');
  });
});

describe('method decisions in sessions, and read parameters', () => {
  it('refused and decided methods appear in `bqgate sessions show` / replay with their decisions', async () => {
    await call('DELETE', '/bigquery/v2/projects/demo-project/datasets/shop/tables/orders', tokens.analyst, undefined, 'rest-methods-session');
    await call('POST', '/bigquery/v2/projects/demo-project/datasets/shop/tables/orders:testIamPermissions', tokens.analyst, {}, 'rest-methods-session');
    await call('GET', '/bigquery/v2/projects/demo-project/datasets/shop/routines', tokens.analyst, undefined, 'rest-methods-session');
    const id = 'key:rest-analyst:rest-methods-session';
    const show = await gw.cli(['sessions', 'show', id]);
    console.log('sessions show:', show.stdout.trim().split('\n').slice(0, 6).join(' | '));
    expect(show.code).toBe(0);
    const replay = JSON.parse((await gw.cli(['sessions', 'replay', id, '--json'])).stdout);
    const ops = replay.requests.map((r: any) => `${r.operation}:${r.decision?.effect ?? '-'}:${r.response?.status}`);
    console.log('session requests:', ops.join(', '));
    expect(ops).toEqual(['tables.delete:deny:403', 'method.refused:deny:403', 'routines.list:-:200']);
    expect(replay.requests[0].decision.matchedRules).toEqual(['analysts-no-writes']);
  });

  it('jobs.list forwards stateFilter and minCreationTime / maxCreationTime (SDK getJobs)', async () => {
    const bq = gw.sdk(tokens.admin);
    const [job] = await bq.createQueryJob({ query: 'SELECT 1 AS x', useLegacySql: false });
    await job.getQueryResults();
    const [done] = await bq.getJobs({ stateFilter: 'done' } as never);
    const [running] = await bq.getJobs({ stateFilter: 'running' } as never);
    const [future] = await bq.getJobs({ minCreationTime: String(Date.now() + 3_600_000) } as never);
    const [past] = await bq.getJobs({ maxCreationTime: '1' } as never);
    console.log(`jobs.list: done ${done.length}, running ${running.length}, created in an hour ${future.length}, before 1970 ${past.length}`);
    expect(done.map((j) => j.id)).toContain(job.id);
    expect(running.map((j) => j.id)).not.toContain(job.id);
    expect(future).toEqual([]);
    expect(past).toEqual([]);
    const bad = await call('GET', '/bigquery/v2/projects/demo-project/jobs?stateFilter=exploded', tokens.admin);
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toContain('stateFilter');
  });

  it('datasets.list forwards filter; tables.get selectedFields narrows the schema', async () => {
    const list = await call('GET', '/bigquery/v2/projects/demo-project/datasets?filter=labels.none:here', tokens.admin);
    console.log('datasets.list filter →', list.status, JSON.stringify(list.body).slice(0, 200));
    expect(list.status).toBe(200);
    const t = await call('GET', '/bigquery/v2/projects/demo-project/datasets/shop/tables/orders?selectedFields=order_id,amount', tokens.analyst);
    expect(t.body.schema.fields.map((f: any) => f.name)).toEqual(['order_id', 'amount']);
  });
});

describe('tables and datasets CRUD under the admin policy (where the emulator serves them)', () => {
  /** Whether the emulator itself serves `method path` (its 404 for no such method means no). */
  const emulatorServes = async (method: string, path: string) => {
    const r = await fetch(`${gw.emulatorUrl}/bigquery/v2${path}`, { method, headers: { authorization: `Bearer ${gw.emulatorSecret()}`, 'content-type': 'application/json' }, body: method === 'GET' || method === 'DELETE' ? undefined : '{}' });
    return !(r.status === 404 && (await r.text()).includes('is not a BigQuery v2 method'));
  };

  it('SDK createDataset, createTable, view, setMetadata, insert, delete (decided CREATE_SCHEMA, CREATE_TABLE, CREATE_VIEW, ALTER_TABLE, INSERT, DROP)', async (ctx) => {
    if (!(await emulatorServes('POST', '/projects/demo-project/datasets'))) { console.log('SKIPPED: the emulator does not serve datasets.insert yet'); ctx.skip(); }
    const bq = gw.sdk(tokens.admin);
    const [ds] = await bq.createDataset('rest_admin_ds');
    const [t] = await ds.createTable('t1', { schema: { fields: [{ name: 'a', type: 'STRING' }, { name: 'n', type: 'INTEGER' }] } });
    await t.setMetadata({ description: 'by the admin' });
    await t.insert([{ a: 'x', n: 1 }]);
    await ds.createTable('v1', { view: { query: 'SELECT order_id FROM `demo-project.shop.orders`', useLegacySql: false } });
    await ds.delete({ force: true });
    const kinds = (await auditRequests(gw.dataDir)).filter((r: any) => r.principal === 'rest-admin' && r.decision?.effect === 'allow').map((r: any) => r.decision.statementKind);
    console.log('admin CRUD decisions:', kinds.join(', '));
    expect(kinds).toEqual(expect.arrayContaining(['CREATE_SCHEMA', 'CREATE_TABLE', 'ALTER_TABLE', 'INSERT', 'CREATE_VIEW']));
  });
});

describe('copy jobs decide on the whole table, whatever decorator the reference carries', () => {
  it('a snapshot (@ms) or partition ($…) decorator on a masked source does not escape the mask: refused like the bare table; malformed ids refused', async () => {
    const bq = gw.sdk(tokens.tableCopier);
    const copy = (tableId: string) => bq.createJob({ configuration: { copy: { sourceTable: { projectId: 'demo-project', datasetId: 'shop', tableId }, destinationTable: { projectId: 'demo-project', datasetId: 'open', tableId: `c_${Math.random().toString(36).slice(2, 8)}` } } } });
    for (const tableId of ['customers', 'customers@-3600000', `customers@${Date.now() - 60_000}`, 'customers$20240101', 'customers@0-']) {
      const e = await apiError(copy(tableId));
      console.log(`copy of shop.${tableId}:`, e.code, e.message);
      expect(e.code, tableId).toBe(403);
      expect(e.message).toMatch(/copy of demo-project\.shop\.customers is refused: it has masked, denied or filtered/);
    }
    for (const tableId of ['customers@x', 'customers@1@2', 'cust.omers']) {
      const e = await apiError(copy(tableId));
      expect(e.code, tableId).toBe(400);
      expect(e.message).toMatch(/Invalid table reference/);
    }
  });
});
