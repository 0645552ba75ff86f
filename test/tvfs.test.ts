/**
 * BigQuery ML models, TVFs and EXTERNAL_QUERY end to end through real parts: the emulator's models
 * REST methods through the real @google-cloud/bigquery SDK, models.get feeding the real ZetaSQL
 * analyzer, the demo policy's masks through a `TABLE t` TVF argument (rewrite + re-analysis), and the
 * `external_connections` policy rule (decide and lint) on what the analyzer reports.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { BigQuery } from '@google-cloud/bigquery';
import { startEmulator, newEmulatorSecret, type RunningEmulator } from '../src/emulator/index.ts';
import { localCredential } from '../src/upstream/credentials.ts';
import { Upstream } from '../src/upstream/index.ts';
import { Catalog } from '../src/catalog/index.ts';
import { Analyzer, ZetaSqlServer } from '../src/sql/index.ts';
import { loadPolicy, decide, decideStatement, allowsExternalConnection, type Policy } from '../src/policy/index.ts';
import { constant, nodesUnder } from '../src/sql/tvfs/calls.ts';
import { lintPolicies } from '../src/policy/lint.ts';
import { rewriteQuery, verifyRewrite } from '../src/rewrite/index.ts';
import type { Principal } from '../src/auth/index.ts';

let emulator: RunningEmulator;
let emulatorSecret: string;
let sdk: BigQuery;
let zeta: ZetaSqlServer;
let analyzer: Analyzer;
let policy: Policy;
const analyst: Principal = { subject: 'a', groups: ['analysts'], issuer: 'i', claims: {} };
const euSupport: Principal = { subject: 'e', groups: ['eu-support'], issuer: 'i', claims: {} };
const analyze = (sql: string) => analyzer.analyze({ sql, projectId: 'demo-project' });

beforeAll(async () => {
  const secret = newEmulatorSecret();
  emulatorSecret = secret;
  emulator = await startEmulator({ port: 0, fixturesDir: resolve('fixtures'), secret });
  sdk = new BigQuery({ projectId: 'demo-project', apiEndpoint: emulator.url, authClient: localCredential(secret) as never, autoRetry: false });
  zeta = new ZetaSqlServer();
  await zeta.start();
  analyzer = new Analyzer(zeta, new Catalog(new Upstream({ baseUrl: emulator.url, authClient: localCredential(secret) }), 0));
  policy = loadPolicy(resolve('policies'));
}, 60_000);
afterAll(async () => { await zeta?.stop(); await emulator?.close(); });

describe('emulator models (models.get / list / patch / delete) through the SDK', () => {
  it('serves the demo model with its feature and label columns', async () => {
    const [meta] = await sdk.dataset('shop').model('churn_model').getMetadata();
    console.log('models.get shop.churn_model:', meta.modelType, meta.featureColumns.map((c: any) => c.name).join(','), '→', meta.labelColumns.map((c: any) => c.name).join(','));
    expect(meta.modelReference).toEqual({ projectId: 'demo-project', datasetId: 'shop', modelId: 'churn_model' });
    expect(meta.modelType).toBe('LOGISTIC_REG');
    expect(meta.featureColumns.map((c: any) => c.name)).toEqual(['customer_id', 'country', 'city', 'birth_date']);
    expect(meta.labelColumns).toEqual([{ name: 'churned', type: { typeKind: 'BOOL' } }]);
  });

  it('lists, patches and deletes models; a missing model is notFound', async () => {
    const [models] = await sdk.dataset('shop').getModels();
    expect(models.map((m) => m.id)).toEqual(['churn_model', 'product_recs']);
    const [patched] = await sdk.dataset('shop').model('churn_model').setMetadata({ description: 'patched' });
    expect(patched.description).toBe('patched');
    expect((await sdk.dataset('shop').model('churn_model').getMetadata())[0].description).toBe('patched');
    await expect(sdk.dataset('shop').model('nope').getMetadata()).rejects.toMatchObject({ code: 404 });
    // a second emulator of its own, so deleting does not disturb the analysis tests
    const secret = newEmulatorSecret();
    const other = await startEmulator({ port: 0, fixturesDir: resolve('fixtures'), secret });
    try {
      const s2 = new BigQuery({ projectId: 'demo-project', apiEndpoint: other.url, authClient: localCredential(secret) as never, autoRetry: false });
      await s2.dataset('shop').model('churn_model').delete();
      expect((await s2.dataset('shop').getModels())[0].map((m) => m.id)).toEqual(['product_recs']);
    } finally { await other.close(); }
  });
});

const withRules = (p: Policy, ...rules: Policy['rules']): Policy => ({ ...p, rules: [...p.rules, ...rules] });

describe('models are decided like tables of their dataset (bigquery.models.getData)', () => {
  const predict = 'SELECT customer_id, predicted_churned FROM ML.PREDICT(MODEL shop.churn_model, (SELECT customer_id, country FROM shop.customers))';
  it('a principal allowed one table may not read a model no allow rule names: accessDenied naming the model and what is allowed', async () => {
    const a = await analyze(predict);
    expect(a.modelsRead).toEqual(['demo-project.shop.churn_model']);
    expect(a.tablesRead).toEqual(['demo-project.shop.customers']);
    const d = decide(policy, euSupport, a);
    console.log('eu-support, ML.PREDICT:', d.reasons[0]);
    expect(d.effect).toBe('deny');
    expect(d.reasons[0]).toContain('model demo-project.shop.churn_model');
    expect(d.reasons[0]).toContain('Allowed: SELECT on demo-project.shop.customers');
    // the analysts' rule for shop.* covers the shop models
    expect(decide(policy, analyst, a)).toMatchObject({ effect: 'allow', matchedRules: expect.arrayContaining(['analysts-read-shop']) });
  });

  it('a deny rule on a model wins over the dataset allow; a model-only read is decided too', async () => {
    const a = await analyze('SELECT * FROM ML.RECOMMEND(MODEL shop.product_recs)');
    expect(a.tablesRead).toEqual([]);
    expect(a.modelsRead).toEqual(['demo-project.shop.product_recs']);
    expect(a.lineage.find((l) => l.name === 'email')).toMatchObject({ direct: true, sources: [{ table: 'demo-project.shop.product_recs', column: 'email' }] });
    const d = decide(policy, analyst, a);
    expect(d.effect).toBe('deny');
    expect(d.matchedRules).toEqual(['analysts-deny-product-recs']);
    expect(d.reasons[0]).toContain('denies SELECT on model demo-project.shop.product_recs');
  });

  it('a mask, column deny or row filter that would apply to a model refuses the statement (a model has no scan to project)', async () => {
    const a = await analyze(predict);
    const mask = withRules(policy, { id: 'mask-any-country', effect: 'mask', principals: { groups: ['analysts'] }, masks: [{ column: 'demo-project.shop.*.country', rule: 'ALWAYS_NULL' }] });
    const denyTag = withRules({ ...policy, classifications: { ...policy.classifications, geo: ['demo-project.shop.churn_model.city'] } }, { id: 'deny-geo', effect: 'deny', principals: { groups: ['analysts'] }, columns: ['tag:geo'] });
    const filter = withRules(policy, { id: 'filter-model', effect: 'filter', principals: { groups: ['support'] }, tables: ['demo-project.shop.churn_model'], filter: 'TRUE' });
    for (const [p, rule, what] of [[mask, 'mask-any-country', 'masks column country'], [denyTag, 'deny-geo', 'denies column city'], [filter, 'filter-model', 'filters the rows']] as const) {
      const d = decide(p, analyst, a);
      expect(d.effect, rule).toBe('deny');
      expect(d.matchedRules, rule).toContain(rule);
      expect(d.reasons[0], rule).toContain(`${what}`);
      expect(d.reasons[0], rule).toContain('model demo-project.shop.churn_model');
    }
  });

  it('a script decides the models of each statement', async () => {
    const a = await analyze(`DECLARE n INT64 DEFAULT 1; ${predict};`);
    expect(a.modelsRead).toEqual(['demo-project.shop.churn_model']);
    expect(decideStatement(policy, euSupport, a).effect).toBe('deny');
    expect(decideStatement(policy, analyst, a).effect).toBe('allow');
  });
});

describe('masking through TVF arguments', () => {
  it('a masked column read by ML.PREDICT through TABLE t is masked at the scan (TABLE t becomes a projection)', async () => {
    const sql = 'SELECT email, card_number, predicted_churned FROM ML.PREDICT(MODEL shop.churn_model, TABLE shop.customers)';
    const a = await analyze(sql);
    // EU support reads customers only; the model needs a rule of its own (models are decided like tables).
    expect(decide(policy, euSupport, a).effect).toBe('deny');
    const d = decide(withRules(policy, { id: 'eu-churn', effect: 'allow', principals: { groups: ['eu-support'] }, verbs: ['SELECT'], tables: ['demo-project.shop.churn_model'] }), euSupport, a);
    expect(d.effect).toBe('allow');
    const r = rewriteQuery(a.effectiveSql, a, d, Buffer.alloc(32, 1));
    console.log('rewritten:', r.sql.slice(0, 160), '…');
    expect(r.sql).not.toMatch(/TABLE\s+shop\.customers/);
    expect(r.sql).toMatch(/ML\.PREDICT\(MODEL shop\.churn_model, \(SELECT /);
    const again = await analyze(r.sql);
    verifyRewrite(again, r, d);
    expect(again.outputColumns).toEqual(a.outputColumns);
    expect(again.lineage.find((l) => l.name === 'email')!.direct).toBe(false); // now a masking expression
    // what is sent upstream: re-emitted from ZetaSQL's parse, resolving to the same statement
    const sent = await analyzer.regenerate({ sql: r.sql, projectId: 'demo-project' }, again);
    console.log('sent upstream:', sent.sql.slice(0, 120), '…');
    expect(sent.sql).toMatch(/ML\.PREDICT\(MODEL shop\.churn_model, \(/);
  });

  it('the analysts policy refuses ML.PREDICT over TABLE customers: the TVF reads ssn', async () => {
    const a = await analyze('SELECT predicted_churned FROM ML.PREDICT(MODEL shop.churn_model, TABLE shop.customers)');
    expect(a.columnsRead.map((c) => c.column)).toContain('ssn');
    const d = decide(policy, analyst, a);
    expect(d.effect).toBe('deny');
    expect(d.reasons[0]).toMatch(/ssn/);
  });

  it('VECTOR_SEARCH over a masked column masks the base table scan', async () => {
    const sql = "SELECT base.email, distance FROM VECTOR_SEARCH((SELECT customer_id, email, tags FROM shop.customers), 'tags', (SELECT tags FROM shop.customers WHERE customer_id = 1), 'tags', top_k => 3)";
    const a = await analyze(sql);
    const d = decide(policy, analyst, a);
    expect(d.effect).toBe('allow');
    const r = rewriteQuery(a.effectiveSql, a, d, Buffer.alloc(32, 1));
    expect(r.projections.length).toBe(2);
    verifyRewrite(await analyze(r.sql), r, d);
  });
});

describe('one TVF over two different inputs (a template resolved per call, sql/tvfs/templated.ts)', () => {
  it('masks a column read through the second APPENDS call at its scan, and the rewrite re-analyzes', async () => {
    const sql = 'SELECT o.order_id, c.email, o._CHANGE_TYPE FROM APPENDS(TABLE shop.orders, NULL, NULL) AS o JOIN APPENDS((SELECT customer_id, email FROM shop.customers), NULL, NULL) AS c ON o.customer_id = c.customer_id';
    const a = await analyze(sql);
    expect(a.lineage.find((l) => l.name === 'email')).toMatchObject({ direct: true, sources: [{ table: 'demo-project.shop.customers', column: 'email' }] });
    const d = decide(policy, analyst, a);
    expect(d.effect, d.reasons.join(' ')).toBe('allow');
    expect(d.masks['demo-project.shop.customers']?.email).toBeDefined();
    const r = rewriteQuery(a.effectiveSql, a, d, Buffer.alloc(32, 1));
    console.log('rewritten:', r.sql.slice(0, 200), '…');
    const again = await analyze(r.sql);
    verifyRewrite(again, r, d);
    expect(again.outputColumns).toEqual(['order_id', 'email', '_CHANGE_TYPE']);
    expect(again.lineage.find((l) => l.name === 'email')!.direct).toBe(false);
    // TABLE customers as the second call's input: the TVF reads every column, ssn included
    const all = await analyze(sql.replace('(SELECT customer_id, email FROM shop.customers)', 'TABLE shop.customers'));
    expect(all.columnsRead).toContainEqual({ table: 'demo-project.shop.customers', column: 'ssn' });
    expect(decide(policy, analyst, all).effect).toBe('deny');
  });

  it('an error inside a relation argument points into the statement', async () => {
    const sql = 'WITH c AS (SELECT nope FROM shop.orders) SELECT * FROM APPENDS(TABLE c, NULL, NULL)';
    const err = await analyze(sql).catch((e) => e);
    console.log('error:', err.message);
    expect(err.message).toMatch(/Unrecognized name: nope \[at 1:19\]/);
  });
});

describe('masking through the ML / AI constructs of issue 17', () => {
  it.each([
    ['EXTERNAL_OBJECT_TRANSFORM over TABLE t', "SELECT email, signed_url FROM EXTERNAL_OBJECT_TRANSFORM(TABLE shop.customers, ['SIGNED_URL'])", 'email'],
    ['AI.GENERATE with output_schema', "SELECT AI.GENERATE(email, output_schema => 'name STRING, age INT64').name AS n FROM shop.customers", 'n'],
    ['an analytic ML preprocessing function', 'SELECT ML.LABEL_ENCODER(email) OVER () AS e FROM shop.customers', 'e'],
    ['ML.DESCRIBE_DATA over a query', 'SELECT name, top_values FROM ML.DESCRIBE_DATA((SELECT email FROM shop.customers), STRUCT(3 AS top_k))', 'top_values'],
  ])('%s: the masked email is masked at the scan, the rewrite re-analyzes to the same outputs', async (_what, sql, col) => {
    const a = await analyze(sql);
    expect(a.lineage.find((l) => l.name === col)!.sources.map((s) => s.column)).toContain('email');
    const d = decide(policy, euSupport, a);
    expect(d.effect).toBe('allow');
    expect(Object.keys(d.masks['demo-project.shop.customers'] ?? {})).toContain('email');
    const r = rewriteQuery(a.effectiveSql, a, d, Buffer.alloc(32, 1));
    console.log('rewritten:', r.sql.slice(0, 200));
    expect(r.projections.length).toBeGreaterThan(0);
    const again = await analyze(r.sql);
    verifyRewrite(again, r, d);
    expect(again.outputColumns).toEqual(a.outputColumns);
  });
});

describe('EXTERNAL_QUERY needs a rule that names its connection', () => {
  const sql = "SELECT id, n FROM EXTERNAL_QUERY('demo-project.us.crm', 'SELECT id, CAST(n AS INT64) AS n FROM accounts')";
  const withRule = (conns: string[]): Policy => ({ ...policy, rules: [...policy.rules, { id: 'crm', effect: 'allow', principals: { groups: ['analysts'] }, verbs: ['SELECT'], external_connections: conns }] });

  it('is refused under the demo policy, which allows no connection', async () => {
    const a = await analyze(sql);
    expect(a.flags.externalConnections).toEqual(['demo-project.us.crm']);
    expect(a.lineage.map((l) => l.sources.map((s) => `${s.table}.${s.column}`))).toEqual([['EXTERNAL_QUERY:demo-project.us.crm.id'], ['EXTERNAL_QUERY:demo-project.us.crm.n']]);
    const d = decide(policy, analyst, a);
    expect(d.effect).toBe('deny');
    expect(d.reasons[0]).toContain('external_connections');
  });

  it('is allowed when an allow rule lists the connection (globs), and only that one', async () => {
    const a = await analyze(sql);
    const ok = decide(withRule(['demo-project.us.*']), analyst, a);
    expect(ok.effect).toBe('allow');
    expect(ok.matchedRules).toContain('crm');
    expect(decide(withRule(['demo-project.eu.*']), analyst, a).effect).toBe('deny');
    expect(decide(withRule(['demo-project.us.*']), euSupport, a).effect).toBe('deny');
  });

  it('SELECT * inside: the columns come from an upstream dry run, sent only for a connection the caller may use', async () => {
    // the real Upstream, its dry runs recorded on the way out
    const up = new Upstream({ baseUrl: emulator.url, authClient: localCredential(emulatorSecret) });
    const sentDryRuns: string[] = [];
    const call = up.call.bind(up);
    up.call = ((method: any, path: string, opts?: any) => { if (opts?.body?.dryRun) sentDryRuns.push(String(opts.body.query)); return call(method, path, opts); }) as typeof up.call;
    const a2 = new Analyzer(zeta, new Catalog(up, 0));
    const inner = "SELECT * FROM accounts WHERE note = 'it''s' OR tag = E'a\\nb'";
    const star = `SELECT * FROM EXTERNAL_QUERY('demo-project.us.crm', """${inner}""", '{"default_type_for_decimal_columns":"numeric"}')`;
    const rules = withRule(['demo-project.us.*']);
    const as = (p: Principal) => (conn: string) => allowsExternalConnection(rules, p, conn);
    await expect(a2.analyze({ sql: star, projectId: 'demo-project' })).rejects.toMatchObject({ reason: 'accessDenied' });
    await expect(a2.analyze({ sql: star, projectId: 'demo-project', externalConnectionAllowed: as(euSupport) })).rejects.toMatchObject({ reason: 'accessDenied' });
    expect(sentDryRuns).toEqual([]);
    // allowed: the dry run goes upstream; the emulator cannot run EXTERNAL_QUERY, so it stays refused
    const err = await a2.analyze({ sql: star, projectId: 'demo-project', externalConnectionAllowed: as(analyst) }).catch((e) => e);
    console.log('allowed connection, emulator upstream:', err.reason, String(err.message).slice(0, 160));
    expect(err.reason).toMatch(/invalidQuery|notFound|backendError/);
    expect(sentDryRuns.length).toBe(1);
    // listed columns: on the allowed connection the dry run gives the exact types too; on another,
    // the select list is read (and decide denies the connection) without asking the upstream
    const listed = "SELECT id FROM EXTERNAL_QUERY('demo-project.us.crm', 'SELECT id FROM accounts')";
    await expect(a2.analyze({ sql: listed, projectId: 'demo-project', externalConnectionAllowed: as(analyst) })).rejects.toMatchObject({ reason: err.reason });
    expect(sentDryRuns.length).toBe(2);
    const read = await a2.analyze({ sql: listed, projectId: 'demo-project', externalConnectionAllowed: as(euSupport) });
    expect(read.outputColumns).toEqual(['id']);
    expect(decide(rules, euSupport, read).effect).toBe('deny');
    expect(sentDryRuns.length).toBe(2);
    // that analysis is not reused for the allowed caller (it would carry select-list types, not the upstream's)
    await expect(a2.analyze({ sql: listed, projectId: 'demo-project', externalConnectionAllowed: as(analyst) })).rejects.toMatchObject({ reason: err.reason });
    expect(sentDryRuns.length).toBe(3);
    // the dry run's literals hold exactly the values the caller's literals hold (both parsed by ZetaSQL;
    // `\n` in the caller's non-raw literal is a newline)
    const lo = await zeta.call('getLanguageOptions', { maximumFeatures: true });
    const values = async (sql: string) => (nodesUnder('astTvfNode', (await zeta.call('parse', { sqlStatement: sql, options: lo })).parsedStatement)[0].argumentEntries ?? []).map((e: any) => constant(e.expr));
    const caller = await values(star);
    expect(caller[1]).toContain('\n');
    expect(caller).toHaveLength(3); // the options (they can change the types) go to the dry run too
    expect(await values(sentDryRuns[0])).toEqual(caller);
  });

  it('lint reads external_connections on allow rules only', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bqgate-eq-'));
    writeFileSync(join(dir, 'a.yaml'), [
      'version: 1', 'rules:',
      '  - { id: a, effect: allow, principals: "*", verbs: [SELECT], external_connections: ["p.us.crm"] }',
      '  - { id: b, effect: deny, principals: "*", verbs: [SELECT], tables: ["*"], external_connections: ["p.us.crm"] }',
    ].join('\n'));
    writeFileSync(join(dir, 'b.yaml'), ['version: 1', 'rules:', '  - { id: c, effect: allow, principals: "*", external_connections: "p.us.crm" }'].join('\n'));
    const problems = lintPolicies(dir).map((p) => `${p.file}:${p.line}: ${p.message}`);
    console.log('lint:', problems);
    expect(problems.some((p) => /external_connections is only read on effect: allow/.test(p))).toBe(true);
    expect(problems.some((p) => /external_connections.*must be array/.test(p))).toBe(true);
    expect(problems.some((p) => p.startsWith('a.yaml:3:'))).toBe(false);
    expect(problems.some((p) => p.startsWith('a.yaml:4:'))).toBe(true);
  });
});

describe('two calls of one TVF with the same output schema but other models (lineage keyed by schema)', () => {
  // Two classifiers with the same label over other features: both ML.PREDICT calls share one output
  // schema, so their lineage hints share a key. The second call's hints replaced the first's: `pa`
  // was reported as derived from churn_b's features (city, email) only.
  const features = (names: string[]) => names.map((name) => ({ name, type: { typeKind: name === 'customer_id' ? 'INT64' : 'STRING' } }));
  it("each call's prediction derives from its own model's features (or more), never only the other's", () => withModels({
    churn_a: { featureColumns: features(['customer_id', 'country']) },
    churn_b: { featureColumns: features(['email', 'city']) },
  }, async (own) => {
    const input = '(SELECT customer_id, country, city, email FROM shop.customers)';
    const a = await own.analyze({ projectId: 'demo-project', sql: `SELECT a.predicted_churned AS pa, b.predicted_churned AS pb FROM ML.PREDICT(MODEL shop.churn_a, ${input}) AS a CROSS JOIN ML.PREDICT(MODEL shop.churn_b, ${input}) AS b` });
    const from = (name: string) => a.lineage.find((l) => l.name === name)!.sources.map((s) => s.column).sort();
    console.log('two models, one schema: pa ←', from('pa').join(','), '; pb ←', from('pb').join(','));
    expect(from('pa')).toEqual(expect.arrayContaining(['country', 'customer_id']));
    expect(from('pb')).toEqual(expect.arrayContaining(['city', 'email']));
    const alone = await own.analyze({ projectId: 'demo-project', sql: `SELECT predicted_churned AS pa FROM ML.PREDICT(MODEL shop.churn_a, ${input})` });
    expect(alone.lineage[0].sources.map((s) => s.column).sort()).toEqual(['country', 'customer_id']);
  }));
});

/** Runs `fn` with an analyzer over an emulator whose shop dataset holds customers and the given models (churn_model's JSON with each override). */
async function withModels(models: Record<string, object>, fn: (a: Analyzer) => Promise<void>) {
  const dir = mkdtempSync(join(tmpdir(), 'bqgate-models-'));
  const shop = join(dir, 'demo-project', 'shop');
  mkdirSync(shop, { recursive: true });
  for (const f of ['customers.schema.json', 'customers.jsonl.gz']) copyFileSync(resolve('fixtures/demo-project/shop', f), join(shop, f));
  const base = JSON.parse(readFileSync(resolve('fixtures/demo-project/shop/churn_model.model.json'), 'utf8'));
  delete base.modelReference;
  for (const [name, over] of Object.entries(models)) writeFileSync(join(shop, `${name}.model.json`), JSON.stringify({ ...base, ...over }));
  const secret = newEmulatorSecret();
  const emu = await startEmulator({ port: 0, fixturesDir: dir, secret });
  try { await fn(new Analyzer(zeta, new Catalog(new Upstream({ baseUrl: emu.url, authClient: localCredential(secret) }), 0))); } finally { await emu.close(); }
}

const fieldsOf = (t: any) => (t.structType.field as any[]).map((f) => `${f.fieldName} ${f.fieldType.typeKind}${f.fieldType.arrayType ? `<${f.fieldType.arrayType.elementType.typeKind}>` : ''}`);

describe('ML.TRIAL_INFO: STRUCT columns shaped by the model (models.get hparamSearchSpaces, hparamTuningObjectives)', () => {
  // https://cloud.google.com/bigquery/docs/reference/standard-sql/bigqueryml-syntax-trial-info#output
  it('hyperparameters holds the tuned ones, typed by search space; the metrics are the tuning objectives; an untuned model is refused', () => withModels({
    untuned: {},
    tuned: {
      modelType: 'DNN_CLASSIFIER',
      hparamSearchSpaces: { learnRate: { range: { min: 0.001, max: 0.1 } }, hiddenUnits: { candidates: [{ elements: ['64', '32'] }] }, optimizer: { candidates: { candidates: ['ADAM', 'SGD'] } }, batchSize: { range: { min: '16', max: '64' } } },
      trainingRuns: [{ trainingOptions: { hparamTuningObjectives: ['ROC_AUC', 'LOG_LOSS'] } }],
    },
  }, async (own) => {
    const a = await own.analyze({ projectId: 'demo-project', sql: 'SELECT * FROM ML.TRIAL_INFO(MODEL shop.tuned)' });
    expect(a.outputColumns).toEqual(['trial_id', 'hyperparameters', 'hparam_tuning_evaluation_metrics', 'training_loss', 'eval_loss', 'status', 'error_message', 'is_optimal']);
    console.log('ML.TRIAL_INFO hyperparameters:', fieldsOf(a.outputTypes[1]).join(', '), '; metrics:', fieldsOf(a.outputTypes[2]).join(', '));
    expect(fieldsOf(a.outputTypes[1])).toEqual(['learn_rate TYPE_DOUBLE', 'hidden_units TYPE_ARRAY<TYPE_INT64>', 'optimizer TYPE_STRING', 'batch_size TYPE_INT64']);
    expect(fieldsOf(a.outputTypes[2])).toEqual(['roc_auc TYPE_DOUBLE', 'log_loss TYPE_DOUBLE']);
    const picked = await own.analyze({ projectId: 'demo-project', sql: 'SELECT trial_id, hyperparameters.learn_rate, hparam_tuning_evaluation_metrics.roc_auc FROM ML.TRIAL_INFO(MODEL shop.tuned) WHERE is_optimal' });
    expect(picked.outputColumns).toEqual(['trial_id', 'learn_rate', 'roc_auc']);
    expect(picked.modelsRead).toEqual(['demo-project.shop.tuned']);
    // a field the model's search spaces do not have is an analysis error, as BigQuery's
    await expect(own.analyze({ projectId: 'demo-project', sql: 'SELECT hyperparameters.l1_reg FROM ML.TRIAL_INFO(MODEL shop.tuned)' })).rejects.toThrow(/l1_reg/);
    await expect(own.analyze({ projectId: 'demo-project', sql: 'SELECT * FROM ML.TRIAL_INFO(MODEL shop.untuned)' })).rejects.toThrow(/hparamSearchSpaces/);
  }));
});

describe('ML.CONFUSION_MATRIX: one column per class label of the model (models.get evaluation metrics)', () => {
  // https://cloud.google.com/bigquery/docs/reference/standard-sql/bigqueryml-syntax-confusion#output
  const multi = (labels: string[]) => ({ trainingRuns: [{ evaluationMetrics: { multiClassClassificationMetrics: { confusionMatrixList: [{ rows: labels.map((actualLabel) => ({ actualLabel, entries: [] })) }] } } }] });
  const int = { labelColumns: [{ name: 'tier', type: { typeKind: 'INT64' } }] };
  it('names the classes in ascending label order, altered as documented (0 → _0); expected_label has the input label column type', () => withModels({
    tiers: { ...int, modelType: 'LOGISTIC_REG', ...multi(['10', '9', '2']) },
    yesno: { modelType: 'BOOSTED_TREE_CLASSIFIER', labelColumns: [{ name: 'answer', type: { typeKind: 'STRING' } }], trainingRuns: [{ evaluationMetrics: { binaryClassificationMetrics: { positiveLabel: 'yes', negativeLabel: 'no' } } }] },
    income: { ...int, ...multi(['<=50K', '>50K']) },
    plain: {},
  }, async (own) => {
    const a = await own.analyze({ projectId: 'demo-project', sql: 'SELECT * FROM ML.CONFUSION_MATRIX(MODEL shop.tiers, (SELECT customer_id AS tier, country, city FROM shop.customers))' });
    console.log('ML.CONFUSION_MATRIX columns:', a.outputColumns.join(', '));
    expect(a.outputColumns).toEqual(['expected_label', '_2', '_9', '_10']);
    expect(a.outputTypes.map((t) => t.typeKind)).toEqual(['TYPE_INT64', 'TYPE_INT64', 'TYPE_INT64', 'TYPE_INT64']);
    // the label's values are in the output: every input column is a source of every column, the label's included
    expect(a.lineage.find((l) => l.name === 'expected_label')!.sources.map((s) => s.column).sort()).toEqual(['city', 'country', 'customer_id']);
    const s = await own.analyze({ projectId: 'demo-project', sql: 'SELECT * FROM ML.CONFUSION_MATRIX(MODEL shop.tiers, (SELECT CAST(customer_id AS STRING) AS tier FROM shop.customers))' });
    expect(s.outputTypes[0].typeKind).toBe('TYPE_STRING');
    const b = await own.analyze({ projectId: 'demo-project', sql: 'SELECT expected_label, `no`, yes FROM ML.CONFUSION_MATRIX(MODEL shop.yesno)' });
    expect(b.outputColumns).toEqual(['expected_label', 'no', 'yes']);
    await expect(own.analyze({ projectId: 'demo-project', sql: 'SELECT * FROM ML.CONFUSION_MATRIX(MODEL shop.income, (SELECT customer_id AS tier FROM shop.customers))' })).rejects.toThrow(/class label "<=50K".*not documented/);
    await expect(own.analyze({ projectId: 'demo-project', sql: 'SELECT * FROM ML.CONFUSION_MATRIX(MODEL shop.plain, TABLE shop.customers)' })).rejects.toThrow(/class labels/);
    await expect(own.analyze({ projectId: 'demo-project', sql: 'SELECT * FROM ML.CONFUSION_MATRIX(MODEL shop.tiers, (SELECT country FROM shop.customers))' })).rejects.toThrow(/no column tier/);
  }));
});
