/**
 * INFORMATION_SCHEMA through the real gateway and its embedded emulator (issue 20), with the real
 * SDK. The gateway governs the views per principal: the demo policy's analysts see the rows of the
 * tables and columns they may read (infoschema-filter.ts) and are refused region-level views and JOBS; the test administrator (test/fixtures/policies-admin)
 * reads them, and gets what the emulator serves directly.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiError, type TestGateway } from './helpers/gateway.ts';
import { startDemoAndAdminGateway } from './helpers/admin-policy.ts';

let gw: TestGateway;
let tokens: Record<'admin' | 'analyst' | 'eu', string>;
beforeAll(async () => { ({ gw, tokens } = await startDemoAndAdminGateway('infoschema', { admin: ['test-admins'], analyst: ['analysts'], eu: ['eu-support'] })); }, 240_000);
afterAll(async () => { await gw?.stop(); });

const QUERIES = [
  'SELECT table_name, table_type FROM `demo-project.shop.INFORMATION_SCHEMA.TABLES` ORDER BY table_name',
  "SELECT column_name, ordinal_position, data_type, is_nullable FROM `demo-project`.shop.INFORMATION_SCHEMA.COLUMNS WHERE table_name = 'customers' ORDER BY ordinal_position",
  'SELECT schema_name, location FROM `demo-project`.`region-us`.INFORMATION_SCHEMA.SCHEMATA ORDER BY schema_name',
  'SELECT routine_name, routine_type FROM `demo-project.shop.INFORMATION_SCHEMA.ROUTINES` ORDER BY routine_name',
];

describe('INFORMATION_SCHEMA through the gateway', () => {
  for (const sql of QUERIES) {
    it(`an administrator reads what the emulator serves: ${sql.slice(0, 80)}`, async () => {
      const [viaGateway] = await gw.sdk(tokens.admin).query({ query: sql, useLegacySql: false });
      const [direct] = await gw.emulatorSdk().query({ query: sql, useLegacySql: false });
      console.log(`${viaGateway.length} rows; first ${JSON.stringify(viaGateway[0])}`);
      expect(viaGateway.length).toBeGreaterThan(0);
      expect(viaGateway).toEqual(direct);
    });
  }

  it('an analyst reads COLUMNS of its tables: the denied ssn column is absent by name, masked email present', async () => {
    for (const sql of [QUERIES[1], QUERIES[1].replace('INFORMATION_SCHEMA.COLUMNS', 'information_schema.columns')]) {
      const [rows] = await gw.sdk(tokens.analyst).query({ query: sql, useLegacySql: false });
      const [all] = await gw.emulatorSdk().query({ query: sql, useLegacySql: false });
      const names = rows.map((r: any) => r.column_name);
      console.log(`analyst sees ${names.length} of ${all.length} columns: ${names.join(', ')}`);
      expect(all.map((r: any) => r.column_name)).toContain('ssn');
      expect(names).not.toContain('ssn');
      expect(names).toContain('email');
    }
  });

  it('an analyst reads TABLES of its dataset; a join with a table and a spelling with ssn in the predicate cannot reveal it', async () => {
    const [tables] = await gw.sdk(tokens.analyst).query({ query: QUERIES[0], useLegacySql: false });
    console.log(`analyst tables: ${tables.map((r: any) => r.table_name).join(', ')}`);
    expect(tables.length).toBeGreaterThan(0);
    const [probe] = await gw.sdk(tokens.analyst).query({ query: "SELECT COUNT(*) AS n FROM `demo-project.shop.INFORMATION_SCHEMA.COLUMN_FIELD_PATHS` WHERE column_name = 'ssn'", useLegacySql: false });
    console.log(`ssn probe: ${JSON.stringify(probe)}`);
    expect(probe[0].n).toBe(0);
  });

  it('EU support (a rule on customers only) sees only customers in TABLES, also joined with a table and in lower case', async () => {
    const sqls = [
      'SELECT table_name FROM `demo-project`.shop.information_schema.tables ORDER BY table_name',
      'SELECT t.table_name, COUNT(*) AS n FROM `demo-project.shop.INFORMATION_SCHEMA.TABLES` t JOIN `demo-project.shop.customers` c ON TRUE GROUP BY 1',
    ];
    for (const sql of sqls) {
      const [rows] = await gw.sdk(tokens.eu).query({ query: sql, useLegacySql: false });
      console.log(`eu-support: ${JSON.stringify(rows)}`);
      expect(rows.map((r: any) => r.table_name)).toEqual(['customers']);
    }
  });

  it('a view over INFORMATION_SCHEMA.COLUMNS does not reveal the denied column to an analyst', async () => {
    await gw.emulatorSdk().query({ query: 'CREATE OR REPLACE VIEW `demo-project.shop.is_columns` AS SELECT table_name, column_name FROM `demo-project.shop.INFORMATION_SCHEMA.COLUMNS`', useLegacySql: false });
    const out = await gw.sdk(tokens.analyst).query({ query: 'SELECT column_name FROM `demo-project.shop.is_columns`', useLegacySql: false }).then(([rows]) => rows.map((r: any) => r.column_name), (e) => `refused: ${e.message}`);
    console.log(`view over COLUMNS: ${JSON.stringify(out).slice(0, 300)}`);
    expect(out).not.toContain('ssn');
    const [direct] = await gw.emulatorSdk().query({ query: 'SELECT column_name FROM `demo-project.shop.is_columns`', useLegacySql: false });
    expect(direct.map((r: any) => r.column_name)).toContain('ssn'); // the view itself lists it
    await gw.emulatorSdk().query({ query: 'DROP VIEW `demo-project.shop.is_columns`', useLegacySql: false });
  });

  it('an analyst is still refused region-level views, VIEWS (definitions name base tables) and JOBS', async () => {
    for (const sql of [QUERIES[2], 'SELECT view_definition FROM `demo-project.shop.INFORMATION_SCHEMA.VIEWS`', 'SELECT job_id, query FROM `demo-project`.`region-us`.INFORMATION_SCHEMA.JOBS']) {
      const e = await apiError(gw.sdk(tokens.analyst).query({ query: sql, useLegacySql: false }));
      console.log(`analyst: ${e.message}`);
      expect(e.errors?.[0]?.reason).toBe('accessDenied');
    }
  });
});
