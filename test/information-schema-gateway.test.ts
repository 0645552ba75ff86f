/**
 * INFORMATION_SCHEMA through the real gateway and its embedded emulator (issue 20), with the real
 * SDK. The gateway governs the views per principal: the demo policy's analysts see the rows of the
 * datasets, tables and columns they may read (infoschema-filter.ts), with view and routine bodies NULL,
 * and only their own jobs in JOBS (jobs-views.ts); the test administrator (test/fixtures/policies-admin)
 * reads everything, and gets what the emulator serves directly. A dataset no analyst rule names
 * (`hr_private`) is made in the emulator for the region-level views.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiError, type TestGateway } from './helpers/gateway.ts';
import { INFOSCHEMA_GROUPS, startInformationSchemaGateway } from './helpers/admin-policy.ts';

let gw: TestGateway;
/** root: a gateway administrator (policy roles.admins: security-oncall) with an allow rule; admin: allowed everything, not an administrator. */
let tokens: Record<keyof typeof INFOSCHEMA_GROUPS, string>;
beforeAll(async () => { ({ gw, tokens } = await startInformationSchemaGateway('infoschema')); }, 240_000);
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
      const [viaGateway] = await gw.sdk(tokens.root).query({ query: sql, useLegacySql: false });
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

  const rows = async (token: string, query: string) => (await gw.sdk(token).query({ query, useLegacySql: false }))[0] as any[];

  it('region-level SCHEMATA, TABLES and COLUMNS: an analyst sees the shop dataset only, an administrator hr_private too', async () => {
    const schemata = 'SELECT schema_name FROM `demo-project`.`region-us`.INFORMATION_SCHEMA.SCHEMATA ORDER BY schema_name';
    const tables = 'SELECT table_schema, table_name FROM `region-us`.INFORMATION_SCHEMA.TABLES ORDER BY 1, 2';
    const columns = 'SELECT table_schema, table_name, column_name FROM `demo-project.region-us.INFORMATION_SCHEMA.COLUMNS`';
    expect((await rows(tokens.root, schemata)).map((r) => r.schema_name)).toEqual(expect.arrayContaining(['hr_private', 'shop']));
    expect((await rows(tokens.analyst, schemata)).map((r) => r.schema_name)).toEqual(['shop']);
    const adminTables = await rows(tokens.root, tables);
    const analystTables = await rows(tokens.analyst, tables);
    console.log(`region TABLES: analyst ${analystTables.length} of ${adminTables.length}`);
    expect(adminTables.map((r) => r.table_name)).toContain('salaries');
    expect(analystTables.length).toBeGreaterThan(0);
    expect(analystTables.every((r) => r.table_schema === 'shop')).toBe(true);
    const cols = await rows(tokens.analyst, columns);
    expect(cols.length).toBeGreaterThan(0);
    expect(cols.filter((r) => r.table_schema !== 'shop' || r.column_name === 'ssn')).toEqual([]);
    const eu = await rows(tokens.eu, tables);
    expect(eu).toEqual([{ table_schema: 'shop', table_name: 'customers' }]);
  });

  it('VIEWS: an analyst sees its readable views with view_definition NULL; EU support none; only an administrator the SQL', async () => {
    const sql = 'SELECT table_name, view_definition FROM `demo-project.shop.INFORMATION_SCHEMA.VIEWS` ORDER BY table_name';
    const admin = await rows(tokens.root, sql);
    expect((await rows(tokens.admin, sql)).map((r) => r.view_definition)).toEqual([null]); // allowed every table, still not an administrator
    const analyst = await rows(tokens.analyst, sql);
    console.log(`VIEWS: admin ${JSON.stringify(admin).slice(0, 200)}; analyst ${JSON.stringify(analyst)}`);
    expect(admin.find((r) => r.table_name === 'customer_contacts')?.view_definition).toContain('ssn');
    expect(analyst.map((r) => r.table_name)).toContain('customer_contacts');
    expect(analyst.filter((r) => r.view_definition !== null)).toEqual([]);
    expect(await rows(tokens.eu, sql)).toEqual([]);
  });

  it('ROUTINES and PARAMETERS: an analyst sees shop routines without bodies; region-level too; an administrator the bodies', async () => {
    for (const scope of ['`demo-project.shop.INFORMATION_SCHEMA.ROUTINES`', '`region-us`.INFORMATION_SCHEMA.ROUTINES']) {
      const sql = `SELECT routine_schema, routine_name, routine_definition, ddl FROM ${scope} ORDER BY routine_name`;
      const admin = await rows(tokens.root, sql);
      const analyst = await rows(tokens.analyst, sql);
      expect(admin.find((r) => r.routine_name === 'customer_email')?.routine_definition).toContain('shop.customers');
      expect(analyst.map((r) => r.routine_name)).toEqual(admin.map((r) => r.routine_name));
      expect(analyst.filter((r) => r.routine_definition !== null || r.ddl !== null)).toEqual([]);
    }
    const params = await rows(tokens.analyst, "SELECT specific_name, parameter_name FROM `region-us`.INFORMATION_SCHEMA.PARAMETERS WHERE specific_name = 'customer_email'");
    expect(params.map((r) => r.parameter_name)).toContain('id');
  });

  // The SDK names its jobs (a UUID); the gateway runs them upstream as bqgate_<owner tag>_<id> (doors/bigquery/job-ids.ts), as JOBS shows them.
  const known = (ids: string[], id: string) => ids.some((x) => x === id || x.endsWith(`_${id}`));
  it('JOBS, JOBS_BY_USER, JOBS_BY_PROJECT: each principal sees its own jobs, query NULL; an administrator every job with its text', async () => {
    const run = async (token: string, marker: string) => {
      const [job] = await gw.sdk(token).createQueryJob({ query: `SELECT '${marker}' AS m`, useLegacySql: false });
      await job.getQueryResults();
      return job.id!;
    };
    const mine = await run(tokens.analyst, 'analyst-job-marker');
    const theirs = await run(tokens.eu, 'eu-job-marker');
    for (const view of ['JOBS', 'JOBS_BY_USER', 'JOBS_BY_PROJECT']) {
      const sql = `SELECT job_id, query, error_result FROM \`demo-project\`.\`region-us\`.INFORMATION_SCHEMA.${view}`;
      const analyst = await rows(tokens.analyst, sql);
      const ids = analyst.map((r) => r.job_id);
      console.log(`analyst ${view}: ${ids.length} jobs`);
      expect(known(ids, mine)).toBe(true);
      expect(known(ids, theirs)).toBe(false);
      expect(analyst.filter((r) => r.query !== null || r.error_result !== null)).toEqual([]);
      expect(known((await rows(tokens.eu, sql)).map((r) => r.job_id), theirs)).toBe(true);
    }
    // Only the two marker jobs: an administrator's JOBS.query is the SQL sent upstream, row filters and mask pads included (see docs/data-teams.md).
    const admin = await rows(tokens.root, "SELECT job_id, query FROM `region-us`.INFORMATION_SCHEMA.JOBS WHERE query LIKE '%-job-marker%'");
    expect(known(admin.map((r) => r.job_id), mine) && known(admin.map((r) => r.job_id), theirs)).toBe(true);
    expect(admin.find((r) => r.job_id.endsWith(theirs))?.query).toContain('eu-job-marker');
  });

  it("an administrator's JOBS.query never carries the HMAC_SHA256 pads or RANDOM_HASH salt of a masked job (the key follows from the pads)", async () => {
    // An analyst's masked read: upstream it ran with phone as HMAC_SHA256 over FROM_HEX('<opad>') / FROM_HEX('<ipad>').
    const [job] = await gw.sdk(tokens.analyst).createQueryJob({ query: "SELECT phone, 'hmac-pad-marker' AS m FROM `demo-project.shop.customers` LIMIT 1", useLegacySql: false });
    await job.getQueryResults();
    const [direct] = await gw.emulatorSdk().query({ query: "SELECT query FROM `demo-project`.`region-us`.INFORMATION_SCHEMA.JOBS WHERE query LIKE '%hmac-pad-marker%' AND query LIKE '%FROM_HEX%'", useLegacySql: false });
    expect(direct.some((r: any) => /FROM_HEX\('[0-9a-f]{32,}'\)/.test(r.query))).toBe(true); // the pads are in the upstream's text
    for (const view of ['JOBS', 'JOBS_BY_PROJECT', 'JOBS_BY_ORGANIZATION']) {
      for (const sql of [
        `SELECT job_id, query FROM \`region-us\`.INFORMATION_SCHEMA.${view} WHERE query LIKE '%hmac-pad-marker%'`,
        `SELECT j.query AS q FROM \`region-us\`.INFORMATION_SCHEMA.${view} AS j WHERE j.query LIKE '%hmac-pad-marker%'`,
        `SELECT TO_JSON_STRING(j) AS q FROM \`region-us\`.INFORMATION_SCHEMA.${view} AS j WHERE CONTAINS_SUBSTR(j.query, 'hmac-pad-marker')`,
        `SELECT SUBSTR(query, STRPOS(query, 'FROM_HEX')) AS q FROM \`region-us\`.INFORMATION_SCHEMA.${view} WHERE query LIKE '%hmac-pad-marker%FROM_HEX%'`,
      ]) {
        const out = await gw.sdk(tokens.root).query({ query: sql, useLegacySql: false }).then(([r]) => r, (e) => e);
        if (out instanceof Error) { expect(view).toBe('JOBS_BY_ORGANIZATION'); continue; } // the emulator has no organization view
        const text = JSON.stringify(out);
        console.log(`admin ${view}: ${out.length} rows; ${text.slice(0, 160)}`);
        expect(text).toContain('hmac-pad-marker');
        expect(text).not.toMatch(/FROM_HEX\('[0-9a-f]{32,}'\)/);
        expect(text).not.toMatch(/[0-9a-f]{64}/);
      }
    }
    // In a script (each statement a child job), and through EXECUTE IMMEDIATE: redacted too, or refused.
    for (const sql of [
      "DECLARE n INT64 DEFAULT 1; SELECT query FROM `region-us`.INFORMATION_SCHEMA.JOBS WHERE query LIKE '%hmac-pad-marker%';",
      "EXECUTE IMMEDIATE \"SELECT query FROM `region-us`.INFORMATION_SCHEMA.JOBS WHERE query LIKE '%hmac-pad-marker%'\"",
    ]) {
      const out = await gw.sdk(tokens.root).query({ query: sql, useLegacySql: false }).then(([r]) => r, (e) => e);
      const text = out instanceof Error ? out.message : JSON.stringify(out);
      console.log(`admin script: ${text.slice(0, 200)}`);
      expect(text).not.toMatch(/FROM_HEX\('[0-9a-f]{32,}'\)/);
      expect(text).not.toMatch(/[0-9a-f]{64}/);
    }
  });

  it('a view over JOBS shows an analyst its own jobs only, query NULL (the view is read through to its JOBS scan)', async () => {
    await gw.emulatorSdk().query({ query: 'CREATE OR REPLACE VIEW `demo-project.shop.v_all_jobs` AS SELECT job_id, query FROM `demo-project`.`region-us`.INFORMATION_SCHEMA.JOBS', useLegacySql: false });
    const [job] = await gw.sdk(tokens.eu).createQueryJob({ query: "SELECT 'eu-view-marker' AS m", useLegacySql: false });
    await job.getQueryResults();
    const out = await rows(tokens.analyst, 'SELECT job_id, query FROM `demo-project.shop.v_all_jobs`');
    console.log(`view over JOBS: ${out.length} rows`);
    expect(out.length).toBeGreaterThan(0);
    expect(known(out.map((r) => r.job_id), job.id!)).toBe(false);
    expect(out.filter((r) => r.query !== null)).toEqual([]);
    await gw.emulatorSdk().query({ query: 'DROP VIEW `demo-project.shop.v_all_jobs`', useLegacySql: false });
  });

  it('an analyst is still refused JOBS_BY_ORGANIZATION, JOBS_TIMELINE and views no rule governs', async () => {
    for (const sql of ['SELECT job_id FROM `region-us`.INFORMATION_SCHEMA.JOBS_BY_ORGANIZATION', 'SELECT job_id FROM `region-us`.INFORMATION_SCHEMA.JOBS_TIMELINE', 'SELECT * FROM `demo-project.shop.INFORMATION_SCHEMA.TABLE_STORAGE`']) {
      const e = await apiError(gw.sdk(tokens.analyst).query({ query: sql, useLegacySql: false }));
      console.log(`analyst: ${e.message}`);
      expect(['accessDenied', 'notFound']).toContain(e.errors?.[0]?.reason);
    }
  });
});
