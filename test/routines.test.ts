/**
 * Persistent routines end to end: the emulator's routines REST methods through the real SDK, and
 * queries calling routines through the real gateway with the real SDK and `bq` — the analysis reads
 * routines.get, policy sees the body's tables, and a body reading a masked table is refused naming
 * the routine (the emulator does not execute routine calls: issue 20; the gateway's decisions and
 * what it sent upstream are read from its audit log).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { apiError, auditRequests, startGateway, type TestGateway } from './helpers/gateway.ts';
import { openAnalysis, type AnalysisStack } from '../src/cli/analysis.ts';
import { decideStatement, loadPolicy, type Policy } from '../src/policy/index.ts';
import { upstreamStatement } from '../src/pipeline/statement.ts';

let gw: TestGateway;
let analyst: string;

beforeAll(async () => {
  gw = await startGateway();
  analyst = await gw.token({ sub: 'routine-analyst', groups: ['analysts'] });
}, 180_000);
afterAll(async () => { await gw?.stop(); });

describe('emulator routines REST (real SDK against the emulator)', () => {
  it('lists the fixture routines and gets one with its arguments, return type and body', async () => {
    const ds = gw.emulatorSdk().dataset('shop');
    const [routines] = await ds.getRoutines();
    const ids = routines.map((r) => r.id).sort();
    console.log('fixture routines:', ids.join(', '));
    expect(ids).toEqual(expect.arrayContaining(['archive_orders', 'customer_directory', 'customer_email', 'js_score', 'net_amount', 'orders_of']));
    const [meta] = await ds.routine('customer_email').getMetadata();
    expect(meta.routineType).toBe('SCALAR_FUNCTION');
    expect(meta.arguments).toEqual([{ name: 'id', dataType: { typeKind: 'INT64' } }]);
    expect(meta.returnType).toEqual({ typeKind: 'STRING' });
    expect(meta.definitionBody).toContain('shop.customers');
  });

  it('inserts, updates and deletes a routine; a missing one is 404 and a duplicate 409', async () => {
    const ds: any = gw.emulatorSdk().dataset('shop'); // (the SDK's IRoutine types typeKind as a literal union)
    const body = { routineType: 'SCALAR_FUNCTION', language: 'SQL', arguments: [{ name: 'x', dataType: { typeKind: 'INT64' } }], definitionBody: 'x + 1' };
    const [r] = await ds.createRoutine('plus_one_rest', body);
    expect((await r.getMetadata())[0].definitionBody).toBe('x + 1');
    expect((await apiError(ds.createRoutine('plus_one_rest', body))).code).toBe(409);
    await r.setMetadata({ ...body, definitionBody: 'x + 2' });
    expect((await r.getMetadata())[0].definitionBody).toBe('x + 2');
    await r.delete();
    expect((await apiError(r.getMetadata())).code).toBe(404);
    expect((await apiError(ds.createRoutine('bad_routine', { routineType: 'NOPE', definitionBody: '1' }))).code).toBe(400);
  });
});

describe('queries calling routines through the gateway', () => {
  it('refuses a UDF whose body reads a masked column, naming the routine and the table (SDK)', async () => {
    const e = await apiError(gw.sdk(analyst).query({ query: 'SELECT order_id, shop.customer_email(customer_id) AS e FROM shop.orders LIMIT 5', useLegacySql: false }));
    console.log('UDF body refusal:', e.message);
    expect(e.errors?.[0]?.reason).toBe('accessDenied');
    expect(e.message).toContain('demo-project.shop.customer_email');
    expect(e.message).toContain('demo-project.shop.customers');
  });

  it('refuses a TVF whose body reads a masked column (bq)', async () => {
    const r = await gw.bq(analyst, ['--format=json', 'query', '--nouse_legacy_sql', 'SELECT country FROM shop.customer_directory(1) LIMIT 5']);
    const text = r.stdout + r.stderr;
    console.log('bq TVF refusal:', text.trim().split('\n').slice(-2).join(' '));
    expect(r.code).not.toBe(0);
    expect(text.replace(/\s+/g, ''), text).toContain('Denied:theroutinedemo-project.shop.customer_directoryreadsdemo-project.shop.customers'); // bq wraps its lines
  });

  it('lets a UDF over arguments only through, analyzed: the audit shows the allow and the call sent upstream', async () => {
    const sql = 'SELECT order_id, shop.net_amount(amount, 0.1) AS n FROM shop.orders LIMIT 5';
    const out = await gw.sdk(analyst).query({ query: sql, useLegacySql: false }).then(() => 'rows', (e) => `error: ${e.message}`);
    console.log('net_amount through the emulator:', out);
    const rec = (await auditRequests(gw.dataDir)).filter((x) => x.sql === sql).at(-1);
    expect(rec?.decision?.effect).toBe('allow');
    expect(rec?.decision?.tables).toEqual(['demo-project.shop.orders']);
    expect(rec?.upstream?.sql).toMatch(/net_amount/);
  });

  it('the audit decision lists the models a statement read beside its tables, allowed or denied', async () => {
    // analysts read shop.churn_model (analysts-read-shop); shop.product_recs is denied to them (analysts-deny-product-recs).
    const allowed = 'SELECT customer_id, predicted_churned FROM ML.PREDICT(MODEL shop.churn_model, (SELECT customer_id, country, city, birth_date FROM shop.customers))';
    const denied = 'SELECT * FROM ML.RECOMMEND(MODEL shop.product_recs)';
    for (const sql of [allowed, denied]) await gw.sdk(analyst).query({ query: sql, useLegacySql: false }).catch(() => undefined); // the emulator cannot run ML
    const recs = await auditRequests(gw.dataDir);
    const a = recs.filter((x) => x.sql === allowed).at(-1)?.decision;
    expect(a?.effect).toBe('allow');
    expect(a?.tables).toEqual(['demo-project.shop.customers']);
    expect(a?.models).toEqual(['demo-project.shop.churn_model']);
    const d = recs.filter((x) => x.sql === denied).at(-1)?.decision;
    expect(d?.effect).toBe('deny');
    expect(d?.models).toEqual(['demo-project.shop.product_recs']);
    // a statement without a model records none
    expect(recs.filter((x) => x.sql?.includes('shop.net_amount(amount, 0.1)')).at(-1)?.decision).not.toHaveProperty('models');
  });

  it('denies a routine created upstream after start whose body reads ssn (routines.get at query time)', async () => {
    await (gw.emulatorSdk().dataset('shop') as any).createRoutine('ssn_of', {
      routineType: 'SCALAR_FUNCTION', language: 'SQL', arguments: [{ name: 'i', dataType: { typeKind: 'INT64' } }],
      definitionBody: '(SELECT ssn FROM shop.customers WHERE customer_id = i)',
    });
    const e = await apiError(gw.sdk(analyst).query({ query: 'SELECT shop.ssn_of(1) AS s', useLegacySql: false }));
    console.log('ssn through a new UDF:', e.message);
    expect(e.errors?.[0]?.reason).toBe('accessDenied');
    expect(e.message).toMatch(/ssn/);
  });

  it('refuses CALL for analysts (the demo policy denies the CALL verb); the body is what CALL reads', async () => {
    const e = await apiError(gw.sdk(analyst).query({ query: 'CALL shop.archive_orders(CURRENT_TIMESTAMP())', useLegacySql: false }));
    expect(e.errors?.[0]?.reason).toBe('accessDenied');
    const rec = (await auditRequests(gw.dataDir)).filter((x) => x.sql?.startsWith('CALL shop.archive_orders')).at(-1);
    console.log('CALL decision:', JSON.stringify(rec?.decision));
    expect(rec?.decision?.effect).toBe('deny');
  });

  it('refuses a table named with a leading $, and a dataset named like a function namespace, before analysis; the analyzer keeps serving', async () => {
    const e = await apiError(gw.sdk(analyst).query({ query: 'SELECT 1 FROM shop.`$orders`', useLegacySql: false }));
    expect(e.errors?.[0]?.reason).toBe('invalidQuery');
    expect(e.message).toContain('$');
    const ns = await apiError(gw.sdk(analyst).query({ query: 'SELECT 1 AS one FROM aead.CustomerKeysets', useLegacySql: false }));
    console.log('namespace dataset:', ns.message);
    expect(ns.errors?.[0]?.reason).toBe('invalidQuery');
    expect(ns.message).toContain('function namespace');
    const [rows] = await gw.sdk(analyst).query({ query: 'SELECT COUNT(*) AS n FROM shop.orders', useLegacySql: false });
    expect(Number(rows[0].n)).toBeGreaterThan(0);
  });
});

/**
 * Temp functions under a policy that allows creating them (the demo policy does not): the real
 * analyzer, policy engine and rewrite. The body of a CREATE TEMP FUNCTION is in the script text, so
 * its scan of a masked table is masked there; a templated (ANY TYPE) body is not resolved where it is
 * declared, so a masked table read in it is refused, naming the function.
 */
describe('temp functions and routine definitions under the real analyzer, policy and rewrite', () => {
  let stack: AnalysisStack;
  let policy: Policy;
  const principal = { subject: 'temp-fn', groups: ['fn-writers'], issuer: 'test', claims: {} };
  beforeAll(async () => {
    stack = await openAnalysis({ upstream: 'emulator', fixturesDir: resolve('fixtures') }, 0); // catalog TTL 0: every analysis re-reads routines.get
    const dir = mkdtempSync(join(tmpdir(), 'bqgate-routines-policy-'));
    writeFileSync(join(dir, 'p.yaml'), [
      'version: 1', 'rules:',
      '  - { id: read, effect: allow, principals: { groups: [fn-writers] }, verbs: [SELECT, CREATE_FUNCTION, SCRIPT], tables: ["*"] }',
      '  - { id: mask, effect: mask, principals: { groups: [fn-writers] }, masks: [{ column: demo-project.shop.customers.email, rule: SHA256 }] }',
    ].join('\n'));
    policy = loadPolicy(dir);
  }, 120_000);
  afterAll(async () => { await stack?.close(); });

  const send = async (sql: string) => {
    const input = { sql, projectId: 'demo-project' };
    const a = await stack.analyzer.analyze(input);
    const d = decideStatement(policy, principal, a);
    expect(d.effect, d.reasons.join('; ')).toBe('allow');
    return upstreamStatement(stack.analyzer, input, a, d, Buffer.alloc(32, 1));
  };

  it('masks the customers scan inside a temp function body; the call reads the body columns', async () => {
    const sql = 'CREATE TEMP FUNCTION m(i INT64) AS ((SELECT MAX(email) FROM shop.customers WHERE customer_id = i)); SELECT order_id, m(customer_id) AS e FROM shop.orders';
    const out = await send(sql);
    console.log('sent upstream:', out.sql);
    expect(out.rewrite.governedTables).toEqual(['demo-project.shop.customers']);
    expect(out.sql).toMatch(/CREATE TEMP FUNCTION m[\s\S]*SHA256[\s\S]*SELECT order_id/);
    expect(out.analysis.columnsRead).toEqual(expect.arrayContaining([{ table: 'demo-project.shop.customers', column: 'email' }]));
  });

  it('masks a masked column passed to a temp function as an argument', async () => {
    const out = await send('CREATE TEMP FUNCTION g(x STRING) AS (UPPER(x)); SELECT g(email) AS e FROM shop.customers');
    expect(out.rewrite.governedTables).toEqual(['demo-project.shop.customers']);
    expect(out.sql).toMatch(/SELECT g\(email\) AS e FROM \(SELECT[^)]*SHA256/);
  });

  it('refuses a templated temp function whose body reads a masked table, naming it', async () => {
    const e = await send('CREATE TEMP FUNCTION h(i ANY TYPE) AS ((SELECT MAX(email) FROM shop.customers WHERE customer_id = i)); SELECT h(1) AS e').then(() => undefined, (err) => err);
    console.log('templated refusal:', e?.message);
    expect(e?.reason).toBe('accessDenied');
    expect(e?.message).toMatch(/routine h reads demo-project\.shop\.customers/);
  });

  it('refuses a persistent UDF whose body reads the masked table, and lets one over arguments through unchanged', async () => {
    const e = await send('SELECT shop.customer_email(1) AS e').then(() => undefined, (err) => err);
    expect(e?.reason).toBe('accessDenied');
    expect(e?.message).toContain('routine demo-project.shop.customer_email reads demo-project.shop.customers');
    const ok = await send('SELECT shop.net_amount(amount, 0.1) AS n FROM shop.orders');
    expect(ok.rewrite.governedTables).toEqual([]);
    expect(ok.sql).toContain('shop.net_amount(amount, 0.1)');
  });

  it('masks the relation argument of a table function with a table parameter; its output derives from the argument', async () => {
    // shop.contact_of(people TABLE<customer_id INT64, email STRING>) passes people.email through as contact.
    for (const sql of ['SELECT contact FROM shop.contact_of(TABLE shop.customers)', 'SELECT contact FROM shop.contact_of((SELECT customer_id, email FROM shop.customers))']) {
      const out = await send(sql);
      console.log('table-parameter TVF sent upstream:', out.sql.slice(0, 160));
      expect(out.rewrite.governedTables).toEqual(['demo-project.shop.customers']);
      expect(out.sql).toMatch(/shop\.contact_of\(\(SELECT[\s\S]*SHA256/);
      expect(out.analysis.lineage.find((l) => l.name === 'contact')!.sources).toEqual([{ table: 'demo-project.shop.customers', column: 'email' }]);
      // the parameter is no table: nothing named _SESSION.people is read or decided
      expect(out.analysis.tablesRead).toEqual(['demo-project.shop.customers']);
      expect(Object.keys(out.analysis.tables)).not.toContain('_SESSION.people');
    }
  });
});

describe('routine definitions change and nest', () => {
  let stack: AnalysisStack;
  beforeAll(async () => { stack = await openAnalysis({ upstream: 'emulator', fixturesDir: resolve('fixtures') }, 0); }, 120_000);
  afterAll(async () => { await stack?.close(); });
  const put = async (id: string, definitionBody: string, method: 'POST' | 'PUT' = 'POST') => expect((await stack.upstream.call(method as "POST", // Upstream.call types GET/POST; PUT (routines.update) passes through
 `/projects/demo-project/datasets/shop/routines${method === 'PUT' ? `/${id}` : ''}`, {
    body: { routineReference: { projectId: 'demo-project', datasetId: 'shop', routineId: id }, routineType: 'SCALAR_FUNCTION', language: 'SQL', arguments: [{ name: 'x', dataType: { typeKind: 'INT64' } }], definitionBody },
  })).status).toBe(200);

  it('a cached analysis is not reused once the routine it called changed upstream', async () => {
    await put('cache_probe', 'x + 1');
    const sql = 'SELECT shop.cache_probe(1) AS v';
    expect((await stack.analyzer.analyze({ sql, projectId: 'demo-project' })).tablesRead).toEqual([]);
    await put('cache_probe', '(SELECT COUNT(*) FROM shop.orders) + x', 'PUT');
    const again = await stack.analyzer.analyze({ sql, projectId: 'demo-project' });
    console.log('after the update:', again.tablesRead, again.lineage);
    expect(again.tablesRead).toEqual(['demo-project.shop.orders']);
  });

  it('a routine calling another is analyzed through both bodies; a cycle is refused', async () => {
    await put('inner_fn', '(SELECT MAX(customer_id) FROM shop.orders WHERE order_id = x)');
    await put('outer_fn', 'shop.inner_fn(x) + 1');
    const a = await stack.analyzer.analyze({ sql: 'SELECT shop.outer_fn(order_id) AS v FROM shop.orders', projectId: 'demo-project' });
    expect(a.lineage[0].sources.map((c) => c.column).sort()).toEqual(['customer_id', 'order_id']);
    await put('loop_a', 'shop.loop_b(x)');
    await put('loop_b', 'shop.loop_a(x)');
    const e = await stack.analyzer.analyze({ sql: 'SELECT shop.loop_a(1)', projectId: 'demo-project' }).then(() => undefined, (err) => err);
    console.log('cycle:', e?.message?.slice(0, 200));
    expect(e?.reason).toBe('invalidQuery');
    expect(e?.message).toMatch(/nested more than 8 deep/);
  });
});
