/**
 * sql/ + policy/ + rewrite/ against the real ZetaSQL server and a catalog read from the real
 * emulator over HTTP.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolve } from 'node:path';
import { Analyzer, ZetaSqlServer, qualify } from '../src/sql/index.ts';
import { Catalog } from '../src/catalog/index.ts';
import { openAnalysis, type AnalysisStack } from '../src/cli/analysis.ts';
import { loadPolicy, decide, explain, MASK_PRIORITY, type Policy } from '../src/policy/index.ts';
import { rewriteQuery, verifyRewrite } from '../src/rewrite/index.ts';
import type { Principal } from '../src/auth/index.ts';

let stack: AnalysisStack;
let zeta: ZetaSqlServer;
let analyzer: Analyzer;
let policy: Policy;
const ctx = { projectId: 'demo-project' };
const analyst: Principal = { subject: 'a', groups: ['analysts'], issuer: 'i', claims: {} };

beforeAll(async () => {
  stack = await openAnalysis({ upstream: 'emulator', fixturesDir: resolve('fixtures') });
  ({ analyzer, zetasql: zeta } = stack);
  policy = loadPolicy(resolve('policies'));
});
afterAll(async () => { await stack?.close(); });

describe('analysis', () => {
  it('resolves every spelling of a table to project.dataset.table', async () => {
    for (const sql of [
      'SELECT email FROM shop.customers',
      'SELECT email FROM `demo-project.shop.customers`',
      'SELECT email FROM `demo-project`.shop.customers',
      'SELECT email FROM `shop.customers`',
    ]) {
      const a = await analyzer.analyze({ sql, ...ctx });
      expect(a.tablesRead, sql).toEqual(['demo-project.shop.customers']);
      expect(a.columnsRead, sql).toEqual([{ table: 'demo-project.shop.customers', column: 'email' }]);
    }
    const a = await analyzer.analyze({ sql: 'SELECT email FROM customers', ...ctx, defaultDataset: { datasetId: 'shop' } });
    expect(a.tablesRead).toEqual(['demo-project.shop.customers']);
  });

  it('finds columns used only in predicates, joins, grouping and ordering; CTE names are not tables', async () => {
    const a = await analyzer.analyze({
      sql: `WITH big AS (SELECT customer_id, amount FROM shop.orders WHERE status = 'paid')
            SELECT c.country, SUM(b.amount) FROM big b JOIN shop.customers c ON c.customer_id = b.customer_id
            WHERE c.ssn IS NOT NULL GROUP BY c.country ORDER BY MAX(c.city)`, ...ctx,
    });
    expect(a.statementKind).toBe('SELECT');
    expect(a.tablesRead).toEqual(['demo-project.shop.customers', 'demo-project.shop.orders']);
    const cols = a.columnsRead.map((c) => `${c.table.split('.').pop()}.${c.column}`);
    expect(cols).toEqual(expect.arrayContaining(['customers.ssn', 'customers.city', 'customers.country', 'customers.customer_id', 'orders.status', 'orders.amount']));
    expect(cols).not.toContain('customers.email');
  });

  it('counts a whole-row reference as every column', async () => {
    const a = await analyzer.analyze({ sql: 'SELECT TO_JSON_STRING(c) FROM shop.customers c', ...ctx });
    expect(a.columnsRead.map((c) => c.column)).toContain('ssn');
    expect(a.columnsRead).toHaveLength(12);
  });

  it('reports DML verbs and the table written', async () => {
    const del = await analyzer.analyze({ sql: 'DELETE FROM `demo-project.shop.orders` WHERE order_id = 1', ...ctx });
    expect(del.statementKind).toBe('DELETE');
    expect(del.tablesWritten).toEqual(['demo-project.shop.orders']);
    const upd = await analyzer.analyze({ sql: "UPDATE shop.orders SET status = 'x' WHERE order_id = 1", ...ctx });
    expect(upd.statementKind).toBe('UPDATE');
    const ins = await analyzer.analyze({ sql: 'INSERT INTO shop.orders (order_id) SELECT customer_id FROM shop.customers', ...ctx });
    expect(ins.statementKind).toBe('INSERT');
    expect(ins.tablesWritten).toEqual(['demo-project.shop.orders']);
    expect(ins.tablesRead).toEqual(['demo-project.shop.customers']);
  });

  it('types named and positional parameters', async () => {
    const n = await analyzer.analyze({ sql: 'SELECT order_id FROM shop.orders WHERE customer_id = @cid', ...ctx, queryParameters: [{ name: 'cid', parameterType: { type: 'INT64' } }] });
    expect(n.columnsRead.map((c) => c.column)).toEqual(['customer_id', 'order_id']);
    await expect(analyzer.analyze({ sql: 'SELECT order_id FROM shop.orders WHERE customer_id = ?', ...ctx, queryParameters: [{ parameterType: { type: 'INT64' } }] })).resolves.toBeTruthy();
  });

  it('expands wildcard tables and narrows them by _TABLE_SUFFIX', async () => {
    const all = await analyzer.analyze({ sql: 'SELECT event_type FROM `demo-project.shop.events_*`', ...ctx });
    expect(all.tablesRead).toEqual(Array.from({ length: 7 }, (_, i) => `demo-project.shop.events_2026110${i + 1}`));
    expect(all.columnsRead.every((c) => c.column === 'event_type')).toBe(true);
    const some = await analyzer.analyze({ sql: "SELECT COUNT(*) FROM `shop.events_2026*` WHERE _TABLE_SUFFIX BETWEEN '1102' AND '1103' AND event_type = 'login'", ...ctx });
    expect(some.tablesRead).toEqual(['demo-project.shop.events_20261102', 'demo-project.shop.events_20261103']);
    expect(some.wildcards).toEqual({ 'demo-project.shop.events_2026*': ['demo-project.shop.events_20261102', 'demo-project.shop.events_20261103'] });
    const flipped = await analyzer.analyze({ sql: "SELECT 1 FROM `shop.events_*` WHERE '20261106' <= _TABLE_SUFFIX", ...ctx });
    expect(flipped.tablesRead).toEqual(['demo-project.shop.events_20261106', 'demo-project.shop.events_20261107']);
    const orNotNarrowed = await analyzer.analyze({ sql: "SELECT 1 FROM `shop.events_*` WHERE _TABLE_SUFFIX = '20261101' OR customer_id = 3", ...ctx });
    expect(orNotNarrowed.tablesRead).toHaveLength(7);
    const cust = await analyzer.analyze({ sql: 'SELECT * FROM `demo-project.shop.customers*`', ...ctx });
    expect(cust.tablesRead).toEqual(['demo-project.shop.customers']);
    expect(cust.columnsRead.map((c) => c.column)).toContain('ssn');
    await expect(analyzer.analyze({ sql: 'SELECT 1 FROM `shop.nothing_*`', ...ctx })).rejects.toMatchObject({ reason: 'notFound' });
  });

  it('caches analyses per (SQL, parameters, default dataset) while the schemas are current', async () => {
    const sql = 'SELECT order_id FROM shop.orders WHERE amount > 10';
    const a1 = await analyzer.analyze({ sql, ...ctx });
    const a2 = await analyzer.analyze({ sql, ...ctx });
    expect(a2).toBe(a1);
    const other = await analyzer.analyze({ sql, ...ctx, defaultDataset: { datasetId: 'shop' } });
    expect(other).not.toBe(a1);
    const shortLived = new Analyzer(zeta, new Catalog(stack.upstream, 0));
    const b1 = await shortLived.analyze({ sql, ...ctx });
    const b2 = await shortLived.analyze({ sql, ...ctx });
    expect(b2).not.toBe(b1); // the catalog refetched the schema: the cached analysis is not trusted
    expect(b2).toEqual(b1);
  });

  it('refuses what it cannot analyze with invalidQuery, and missing tables with notFound', async () => {
    await expect(analyzer.analyze({ sql: 'SELEC 1', ...ctx })).rejects.toMatchObject({ reason: 'invalidQuery' });
    await expect(analyzer.analyze({ sql: 'SELECT nope FROM shop.orders', ...ctx })).rejects.toMatchObject({ reason: 'invalidQuery' });
    await expect(analyzer.analyze({ sql: 'SELECT * FROM shop.nope', ...ctx })).rejects.toMatchObject({ reason: 'notFound' });
    // A construct the analyzer does not implement is named as such, not as an unsupported statement kind.
    await expect(analyzer.analyze({ sql: 'SELECT ARRAY_AGG(city ORDER BY city) OVER () AS a FROM shop.customers', ...ctx }))
      .rejects.toMatchObject({ reason: 'invalidQuery', message: expect.stringMatching(/^bqgate's SQL analyzer does not support a construct in this statement yet, so it was not run: .*not (implemented|supported)/) });
    const script = await analyzer.analyze({ sql: 'DECLARE x STRING; SET x = (SELECT ssn FROM shop.customers LIMIT 1); SELECT x;', ...ctx });
    expect(script.statementKind).toBe('SCRIPT');
    expect(script.columnsRead).toEqual([{ table: 'demo-project.shop.customers', column: 'ssn' }]);
    const sql = 'DECLARE x STRING; SET x = (SELECT ssn FROM shop.customers LIMIT 1); SELECT x;';
    const scan = script.scans[0];
    expect(Buffer.from(sql).subarray(scan.start!, scan.end!).toString()).toBe('shop.customers'); // positions in the whole script
    expect(() => qualify(['customers'], ctx)).toThrow(/missing dataset/);
  });
});

describe('ZetaSQL supervision', () => {
  it('refuses while the server is down and recovers after a restart', async () => {
    const before = zeta.status();
    process.kill(zeta.pid!, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 20));
    const during = await analyzer.analyze({ sql: 'SELECT order_id FROM shop.orders', ...ctx }).then(() => 'ok', (e) => e.reason);
    expect(['backendError', 'ok']).toContain(during);
    await zeta.whenReady();
    expect(zeta.status().generation).toBeGreaterThan(before.generation);
    expect(zeta.status().restarts).toBe(before.restarts + 1);
    const a = await analyzer.analyze({ sql: 'SELECT order_id FROM shop.orders', ...ctx });
    expect(a.tablesRead).toEqual(['demo-project.shop.orders']);
  });
});

describe('policy', () => {
  const a = (over: Record<string, unknown>) => ({
    statementKind: 'SELECT', tablesRead: ['demo-project.shop.customers'], tablesWritten: [] as string[],
    columnsRead: [{ table: 'demo-project.shop.customers', column: 'email' }],
    tables: { 'demo-project.shop.customers': [{ name: 'email', type: 'STRING' }, { name: 'ssn', type: 'STRING', policyTags: { names: ['projects/demo-project/locations/us/taxonomies/1001/policyTags/ssn'] } }, { name: 'city', type: 'STRING' }] },
    ...over,
  });

  it('default deny, deny wins, masks for what is read', () => {
    expect(decide(policy, { ...analyst, groups: [] }, a({})).effect).toBe('deny');
    const d = decide(policy, analyst, a({}));
    expect(d.effect).toBe('allow');
    expect(d.masks['demo-project.shop.customers'].email.rule).toBe('EMAIL_MASK');
    expect(d.deniedColumns['demo-project.shop.customers']).toEqual(['ssn']);
    expect(d.masks['demo-project.shop.customers'].city).toBeUndefined();
    const both = decide(policy, { ...analyst, groups: ['analysts', 'support'] }, a({ columnsRead: [{ table: 'demo-project.shop.customers', column: 'ssn' }] }));
    expect(both.effect).toBe('deny');
    expect(both.matchedRules).toContain('analysts-deny-ssn');
  });

  it('matches columns by BigQuery policy tag and by declared classification', () => {
    const p: Policy = { version: 't', classifications: { 'pii.contact': ['*.*.customers.email'] }, rules: [
      { id: 'r', effect: 'allow', principals: '*', verbs: ['SELECT'], tables: ['*'] },
      { id: 'd', effect: 'deny', principals: '*', columns: ['tag:**/policyTags/ssn'] },
      { id: 'm', effect: 'mask', principals: '*', masks: [{ column: 'tag:pii.*', rule: 'SHA256' }] },
    ] };
    const d = decide(p, analyst, a({}));
    expect(d.deniedColumns['demo-project.shop.customers']).toEqual(['ssn']);
    expect(d.masks['demo-project.shop.customers']).toEqual({ email: { rule: 'SHA256', ruleId: 'm' } });
    expect(decide(p, analyst, a({ columnsRead: [{ table: 'demo-project.shop.customers', column: 'ssn' }] })).reasons[0]).toContain('rule d denies column demo-project.shop.customers.ssn');
  });

  it('picks the mask by BigQuery hierarchy and honours expiry', () => {
    const p: Policy = {
      version: 't', rules: [
        { id: 'allow', effect: 'allow', principals: '*', verbs: ['SELECT'], tables: ['*'] },
        { id: 'm1', effect: 'mask', principals: '*', masks: [{ column: '*.*.*.email', rule: 'ALWAYS_NULL' }] },
        { id: 'm2', effect: 'mask', principals: '*', masks: [{ column: 'demo-project.shop.customers.email', rule: 'SHA256' }], expires: '2000-01-01T00:00:00Z' },
        { id: 'm3', effect: 'mask', principals: '*', masks: [{ column: 'demo-project.shop.customers.email', rule: 'LAST_FOUR_CHARACTERS' }] },
      ],
    };
    const d = decide(p, analyst, a({}));
    expect(d.masks['demo-project.shop.customers'].email).toEqual({ rule: 'LAST_FOUR_CHARACTERS', ruleId: 'm3' });
    expect(MASK_PRIORITY.indexOf('LAST_FOUR_CHARACTERS')).toBeLessThan(MASK_PRIORITY.indexOf('ALWAYS_NULL'));
  });

  it('allows EXPORT DATA only to destinations an allow rule lists', () => {
    const p: Policy = { version: 't', rules: [
      { id: 'read', effect: 'allow', principals: '*', verbs: ['SELECT'], tables: ['*'] },
      { id: 'export', effect: 'allow', principals: '*', verbs: ['EXPORT_DATA'], export_destinations: ['gs://exports/**'] },
    ] };
    const ex = (uri: string) => decide(p, analyst, a({ statementKind: 'EXPORT_DATA', flags: { exportUri: uri } }));
    expect(ex('gs://exports/team/x-*.csv').effect).toBe('allow');
    expect(ex('gs://exports/team/x-*.csv').matchedRules).toContain('export');
    expect(ex('gs://elsewhere/x-*.csv').effect).toBe('deny');
    expect(ex('gs://elsewhere/x-*.csv').reasons[0]).toContain('export_destinations');
  });

  it('LOAD DATA reads only the source URIs an allow rule lists in load_sources (literal URIs, wildcards under **, LOAD an alias of LOAD_DATA)', async () => {
    const p: Policy = { version: 't', rules: [
      { id: 'load', effect: 'allow', principals: '*', verbs: ['LOAD'], tables: ['demo-project.shop.orders'], load_sources: ['gs://landing/orders/**', 'gs://landing/one/x.csv'] },
    ] };
    const load = async (uris: string) => {
      const an = await analyzer.analyze({ sql: `LOAD DATA INTO shop.orders FROM FILES (format = 'CSV', uris = ${uris})`, ...ctx,
        queryParameters: [{ name: 'u', parameterType: { type: 'ARRAY', arrayType: { type: 'STRING' } }, parameterValue: { arrayValues: [{ value: 'gs://landing/orders/a.csv' }] } }] } as never);
      const d = decide(p, analyst, an);
      console.log(`LOAD DATA uris = ${uris}:`, JSON.stringify(an.flags.loadUris), d.effect, d.effect === 'deny' ? d.reasons[0] : d.matchedRules.join(','));
      return d;
    };
    for (const ok of ["['gs://landing/orders/2026/a.csv', 'gs://landing/one/x.csv']", "['gs://landing/orders/*']", "'gs://landing/orders/a.csv'"]) expect((await load(ok)).effect, ok).toBe('allow');
    const refused: Array<[string, RegExp]> = [
      ["['gs://landing/orders/a.csv', 'gs://secrets/keys.csv']", /load_sources/],
      ["['gs://landing/one/*']", /wildcard URI needs a pattern ending in \*\*/], // one/* also reaches one/deeper/…, which the rule does not list
      ["['gs://landing/orders']", /load_sources/],
      ['@u', /not a string literal/],
      ["['gs://landing/orders/' || 'a.csv']", /not a string literal/],
    ];
    for (const [uris, why] of refused) {
      const d = await load(uris);
      expect(d.effect, uris).toBe('deny');
      expect(d.reasons[0], uris).toMatch(why);
    }
    // policy explain names the source a rule covers.
    const an = await analyzer.analyze({ sql: "LOAD DATA INTO shop.orders FROM FILES (format = 'CSV', uris = ['gs://landing/orders/a.csv'])", ...ctx });
    const { trace } = explain(p, analyst, an);
    console.log('explain trace of LOAD DATA:', JSON.stringify(trace));
    expect(trace.find((t) => t.id === 'load')!.covers).toContain('load from gs://landing/orders/a.csv (load_sources)');
    // A load job's sourceUris are decided the same way (jobs.ts passes them as loadUris).
    const job = (uris: string[]) => decide(p, analyst, a({ statementKind: 'LOAD_DATA', tablesRead: [], tablesWritten: ['demo-project.shop.orders'], columnsRead: [], flags: { loadUris: uris } }));
    expect(job(['gs://landing/orders/x.json']).effect).toBe('allow');
    expect(job(['gs://elsewhere/x.json']).reasons[0]).toMatch(/load_sources/);
    expect(job([]).effect).toBe('allow'); // an uploaded file: no URI to read
  });

  it('checks every export destination of a procedure a CALL runs, not only the first (export_destinations)', async () => {
    const body = "BEGIN\n  EXPORT DATA OPTIONS (uri = 'gs://ok/a-*.csv', format = 'CSV') AS SELECT order_id FROM shop.orders;\n  EXPORT DATA OPTIONS (uri = 'gs://elsewhere/b-*.csv', format = 'CSV') AS SELECT order_id FROM shop.orders;\nEND";
    await stack.upstream.ok('POST', '/projects/demo-project/datasets/shop/routines', { body: { routineReference: { projectId: 'demo-project', datasetId: 'shop', routineId: 'export_twice' }, routineType: 'PROCEDURE', language: 'SQL', arguments: [], definitionBody: body } });
    const p: Policy = { version: 't', rules: [
      { id: 'all', effect: 'allow', principals: '*', verbs: ['SELECT', 'CALL', 'EXPORT_DATA'], export_destinations: ['gs://ok/**'] },
    ] };
    const an = await analyzer.analyze({ sql: 'CALL shop.export_twice()', ...ctx });
    const d = decide(p, analyst, an);
    console.log('CALL of a procedure exporting to gs://ok and gs://elsewhere:', JSON.stringify(an.flags.exportUris), d.effect, d.reasons[0]);
    expect(an.flags.exportUris).toEqual(['gs://ok/a-*.csv', 'gs://elsewhere/b-*.csv']);
    expect(d.effect).toBe('deny');
    expect(d.reasons[0]).toMatch(/gs:\/\/elsewhere\/b-\*\.csv; allow rules must list it in export_destinations/);
  });

  it('row filters: union of the caller\'s filters, no rows when none applies, principal values as escaped literals', async () => {
    const { substitutePrincipal } = await import('../src/policy/index.ts');
    const p: Policy = { version: 't', rules: [
      { id: 'r', effect: 'allow', principals: '*', verbs: ['SELECT'], tables: ['*'] },
      { id: 'f1', effect: 'filter', principals: { groups: ['a'] }, tables: ['demo-project.shop.customers'], filter: "country = 'DE'" },
      { id: 'f2', effect: 'filter', principals: { groups: ['b'] }, tables: ['demo-project.shop.customers'], filter: 'city = {{principal.claims.city}}' },
      { id: 'f3', effect: 'filter', principals: { groups: ['all'] }, tables: ['demo-project.shop.customers'], filter: 'TRUE' },
    ] };
    const who = (groups: string[], claims = {}) => ({ subject: 's', groups, issuer: 'i', claims });
    expect(decide(p, who(['a', 'b'], { city: 'Berlin' }), a({})).rowFilters['demo-project.shop.customers']).toEqual(["country = 'DE'", "city = 'Berlin'"]);
    expect(decide(p, who(['c']), a({})).rowFilters['demo-project.shop.customers']).toEqual([]);
    // TRUE in the union: every row, so nothing to filter (no projection for the filter alone).
    const all = decide(p, who(['a', 'all']), a({}));
    expect(all.rowFilters).toEqual({});
    expect(all.matchedRules).toEqual(expect.arrayContaining(['f1', 'f3']));
    expect(decide(p, who(['c']), a({ tablesRead: ['demo-project.shop.orders'], columnsRead: [] })).rowFilters).toEqual({});
    expect(substitutePrincipal("x = SESSION_USER() AND g IN UNNEST({{principal.groups}}) AND c = {{principal.claims.k}}",
      { subject: 's', email: "o'brien@x.com", groups: ['g1', "g'2"], issuer: 'i', claims: { k: 'a\\b' } }))
      .toBe("x = 'o\\'brien@x.com' AND g IN UNNEST(['g1', 'g\\'2']) AND c = 'a\\\\b'");
  });

  it('denies writes by verb', () => {
    const d = decide(policy, analyst, a({ statementKind: 'DELETE', tablesRead: [], tablesWritten: ['demo-project.shop.orders'], columnsRead: [] }));
    expect(d.effect).toBe('deny');
    expect(d.reasons[0]).toContain('analysts-no-writes');
  });
});

describe('rewrite', () => {
  const run = async (sql: string) => {
    const an = await analyzer.analyze({ sql, ...ctx });
    const d = decide(policy, analyst, an);
    return rewriteQuery(sql, an, d, Buffer.from('test-key'));
  };

  it('keeps explicit aliases and adds the implicit one', async () => {
    const r1 = await run('SELECT c.email FROM shop.customers AS c');
    expect(r1.sql).toMatch(/^SELECT c\.email FROM \(SELECT .* FROM `demo-project\.shop\.customers`\) AS c$/); // customers-all-rows is TRUE: no WHERE
    const r2 = await run('SELECT customers.email FROM shop.customers /* note */ WHERE customers.city = "x"');
    expect(r2.sql).toContain(') AS `customers` /* note */ WHERE');
    const r3 = await run('SELECT x.email FROM `demo-project.shop.customers` x JOIN shop.orders o ON o.customer_id = x.customer_id');
    expect(r3.sql).toContain(') x JOIN shop.orders o');
    expect(r3.governedTables).toEqual(['demo-project.shop.customers']);
  });

  it('leaves ungoverned tables alone and hides denied columns as NULL', async () => {
    expect((await run('SELECT order_id FROM shop.orders')).sql).toBe('SELECT order_id FROM shop.orders');
    const r = await run('SELECT city FROM shop.customers');
    expect(r.sql).toContain('CAST(NULL AS STRING) AS `ssn`');
    expect(r.sql).not.toMatch(/(SELECT|,) `ssn`(,| FROM)/);
  });

  it('masks what writes copy, refuses governed write targets, and verifies the result', async () => {
    const p: Policy = { version: 't', rules: [
      { id: 'rw', effect: 'allow', principals: '*', verbs: ['SELECT', 'CREATE_TABLE_AS_SELECT', 'INSERT', 'UPDATE'], tables: ['*'] },
      { id: 'm', effect: 'mask', principals: '*', masks: [{ column: 'demo-project.shop.customers.email', rule: 'EMAIL_MASK' }] },
    ] };
    const ctas = 'CREATE TABLE shop.copy AS SELECT email FROM shop.customers';
    const an = await analyzer.analyze({ sql: ctas, ...ctx });
    const d = decide(p, analyst, an);
    const r = rewriteQuery(ctas, an, d, Buffer.from('test-key'));
    expect(r.sql).toMatch(/^CREATE TABLE shop\.copy AS SELECT email FROM \(SELECT .*EMAIL|REGEXP_CONTAINS/);
    verifyRewrite(await analyzer.analyze({ sql: r.sql, ...ctx }), r, d);
    expect(() => verifyRewrite(an, { ...r, projections: [] }, d)).toThrow(/outside its masking projection/);
    const upd = "UPDATE shop.customers SET city = 'x' WHERE email = 'a@b.c'";
    const ua = await analyzer.analyze({ sql: upd, ...ctx });
    expect(() => rewriteQuery(upd, ua, decide(p, analyst, ua), Buffer.from('test-key'))).toThrow(/conditions would read raw values/);
  });

  it('computes HMAC_SHA256 with the gateway key and RANDOM_HASH with a per-query salt', async () => {
    const { createHmac } = await import('node:crypto');
    const p: Policy = { version: 't', rules: [
      { id: 'r', effect: 'allow', principals: '*', verbs: ['SELECT'], tables: ['*'] },
      { id: 'm', effect: 'mask', principals: '*', masks: [
        { column: 'demo-project.shop.customers.email', rule: 'HMAC_SHA256' }, { column: 'demo-project.shop.customers.full_name', rule: 'RANDOM_HASH' }] },
    ] };
    const sql = 'SELECT a.email, a.full_name, b.full_name AS again FROM shop.customers a JOIN shop.customers b USING (customer_id) WHERE customer_id = 1';
    const an = await analyzer.analyze({ sql, ...ctx });
    const d = decide(p, analyst, an);
    const key = Buffer.from('0123456789abcdef0123456789abcdef', 'hex');
    const run = async () => {
      const r = await stack.upstream.ok('POST', '/projects/demo-project/queries', { body: { query: rewriteQuery(sql, an, d, key).sql, useLegacySql: false } });
      return r.rows[0].f.map((c: any) => c.v) as string[];
    };
    const [raw] = (await stack.upstream.ok('POST', '/projects/demo-project/queries', { body: { query: 'SELECT email FROM shop.customers WHERE customer_id = 1', useLegacySql: false } })).rows[0].f.map((c: any) => c.v);
    const [h1, r1, r1b] = await run();
    const [h2, r2] = await run();
    expect(h1).toBe(createHmac('sha256', key).update(raw).digest('hex'));
    expect(h2).toBe(h1);
    expect(r1).toBe(r1b); // one salt per query: joins still match
    expect(r2).not.toBe(r1); // a new salt next query: no linkage across queries
  });

  it('rewrites every reference, including in subqueries, and the result re-analyzes', async () => {
    const sql = 'SELECT email FROM shop.customers WHERE customer_id IN (SELECT customer_id FROM shop.customers WHERE email LIKE "%@gmail.com")';
    const r = await run(sql);
    expect(r.sql.match(/FROM `demo-project\.shop\.customers`/g)).toHaveLength(2);
    await expect(analyzer.analyze({ sql: r.sql, ...ctx })).resolves.toBeTruthy();
  });
});

describe('lineage', () => {
  const short = (r: { table: string; column: string }) => `${r.table.split('.').pop()}.${r.column}`;
  const lin = async (sql: string) => {
    const a = await analyzer.analyze({ sql, ...ctx });
    return {
      out: Object.fromEntries(a.lineage.map((l) => [l.name, `${l.direct ? 'copy' : 'expr'}:${l.sources.map(short).join(',')}`])),
      clauses: Object.fromEntries(Object.entries(a.columnsByClause).map(([k, v]) => [k, v!.map(short).join(',')])),
    };
  };

  it('follows CTEs, renames, expressions, scalar subqueries and windows; splits columns by clause', async () => {
    const r = await lin(`WITH w AS (SELECT customer_id AS cid, email FROM shop.customers)
      SELECT UPPER(w.email) AS e, w.email AS raw_e, o.amount,
             (SELECT MAX(city) FROM shop.customers c2 WHERE c2.customer_id = w.cid) AS mc,
             SUM(o.amount) OVER (PARTITION BY w.email ORDER BY o.created_at) AS s
      FROM w JOIN shop.orders o ON o.customer_id = w.cid WHERE o.status = 'paid' ORDER BY o.order_id`);
    expect(r.out).toEqual({
      e: 'expr:customers.email', raw_e: 'copy:customers.email', amount: 'copy:orders.amount',
      mc: 'expr:customers.city,customers.customer_id', s: 'expr:orders.amount',
    });
    expect(r.clauses.where).toBe('customers.customer_id,orders.status');
    expect(r.clauses.join).toBe('customers.customer_id,orders.customer_id');
    expect(r.clauses.order_by).toBe('orders.order_id');
    expect(r.clauses.window).toBe('customers.email,orders.created_at');
  });

  it('maps set operations, GROUP BY/HAVING, UNNEST WITH OFFSET, PIVOT, UNPIVOT, JOIN USING and whole rows', async () => {
    const u = await lin("SELECT email, COUNT(*) n FROM shop.customers GROUP BY email HAVING MAX(city) > 'a' UNION ALL SELECT currency, 1 FROM shop.orders");
    expect(u.out).toEqual({ email: 'copy:customers.email,orders.currency', n: 'expr:' });
    expect(u.clauses).toMatchObject({ group_by: 'customers.email', having: 'customers.city' });
    expect((await lin('SELECT t, off FROM shop.customers, UNNEST(tags) t WITH OFFSET off')).out).toEqual({ t: 'expr:customers.tags', off: 'expr:' });
    expect((await lin("SELECT * FROM (SELECT country, email FROM shop.customers) PIVOT (ANY_VALUE(email) AS e FOR country IN ('US', 'DE'))")).out)
      .toEqual({ e_US: 'expr:customers.country,customers.email', e_DE: 'expr:customers.country,customers.email' });
    expect((await lin('SELECT * FROM (SELECT customer_id, email, city FROM shop.customers) UNPIVOT (v FOR k IN (email, city))')).out)
      .toEqual({ customer_id: 'copy:customers.customer_id', v: 'copy:customers.city,customers.email', k: 'expr:' });
    expect((await lin('SELECT * FROM shop.orders JOIN (SELECT customer_id, email FROM shop.customers) USING (customer_id)')).out)
      .toMatchObject({ customer_id: 'copy:orders.customer_id', email: 'copy:customers.email' });
    const whole = await lin('SELECT c FROM shop.customers c');
    expect(whole.out.c.split(',')).toHaveLength(12);
    expect(whole.out.c).toContain('customers.ssn');
  });
});

describe('RANGE columns', () => {
  // The emulator cannot store a RANGE column (DuckDB has none), so the schema is handed to the
  // analyzer as a catalog answer would carry it: type RANGE with rangeElementType
  // (https://cloud.google.com/bigquery/docs/reference/rest/v2/tables#TableFieldSchema).
  const rangeSource = (elementType?: string) => ({
    getTable: async (fullName: string) => ({ fullName, schema: [
      { name: 'emp_id', type: 'INTEGER', mode: 'NULLABLE' as const },
      { name: 'duration', type: 'RANGE', mode: 'NULLABLE' as const, ...(elementType ? { rangeElementType: { type: elementType } } : {}) },
    ] }),
    listTables: async () => [],
  });

  it('types a RANGE column RANGE<T>: RANGE functions take it, a STRING does not, and lineage reaches it', async () => {
    const a = new Analyzer(zeta, rangeSource('DATE'));
    const r = await a.analyze({ sql: "SELECT emp_id, RANGE_START(duration) AS s FROM hr.periods WHERE RANGE_CONTAINS(duration, DATE '2024-01-01')", ...ctx });
    console.log('RANGE output types:', JSON.stringify(r.outputTypes));
    expect(r.outputTypes[1]).toEqual({ typeKind: 'TYPE_DATE' });
    expect(r.lineage.find((l) => l.name === 's')?.sources).toEqual([{ table: 'demo-project.hr.periods', column: 'duration' }]);
    expect(r.columnsByClause.where).toEqual([{ table: 'demo-project.hr.periods', column: 'duration' }]);
    await expect(a.analyze({ sql: "INSERT hr.periods (emp_id, duration) VALUES (1, RANGE<DATE> '[2024-01-01, 2024-02-01)')", ...ctx })).resolves.toMatchObject({ statementKind: 'INSERT' });
    await expect(a.analyze({ sql: "SELECT CONCAT(duration, 'x') FROM hr.periods", ...ctx })).rejects.toMatchObject({ reason: 'invalidQuery' });
    await expect(a.analyze({ sql: "INSERT hr.periods (emp_id, duration) VALUES (1, RANGE<TIMESTAMP> '[2024-01-01, 2024-02-01)')", ...ctx })).rejects.toMatchObject({ reason: 'invalidQuery' });
  });

  it('refuses a RANGE column without a DATE, DATETIME or TIMESTAMP element type instead of guessing one', async () => {
    for (const t of [undefined, 'INT64']) {
      await expect(new Analyzer(zeta, rangeSource(t)).analyze({ sql: 'SELECT emp_id FROM hr.periods', ...ctx })).rejects.toMatchObject({ reason: 'invalid' });
    }
  });
});
