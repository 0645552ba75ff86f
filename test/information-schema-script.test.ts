/**
 * INFORMATION_SCHEMA inside scripts through the real gateway and its embedded emulator (issue 20):
 * an analyst's script reads the governed metadata views as a single statement does — the same row
 * filter at each scan, view and routine bodies NULL, JOBS its own jobs only (infoschema-filter.ts,
 * jobs-views.ts) — whether the view is read by a plain SELECT, inside BEGIN … END, into a temp
 * table, by EXECUTE IMMEDIATE of a literal, or in a FOR loop. The demo policy denies analysts
 * `customers.ssn`; `hr_private.salaries` is a dataset no analyst rule names.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiError, type TestGateway } from './helpers/gateway.ts';
import { INFOSCHEMA_GROUPS, startInformationSchemaGateway } from './helpers/admin-policy.ts';

let gw: TestGateway;
/** root: a gateway administrator; admin: allowed every table by a rule, not an administrator. */
let tokens: Record<keyof typeof INFOSCHEMA_GROUPS, string>;
beforeAll(async () => { ({ gw, tokens } = await startInformationSchemaGateway('infoscript')); }, 240_000);
afterAll(async () => { await gw?.stop(); });

/** The rows, or the refusal's reason and message: a script either runs governed or is refused, never leaks. */
const run = (token: string, query: string): Promise<{ rows?: any[]; refused?: string }> => gw.sdk(token).query({ query, useLegacySql: false })
  .then(([rows]) => ({ rows: rows as any[] }), async (e) => ({ refused: `${e.errors?.[0]?.reason ?? e.code}: ${e.message}` }));

const COLUMNS = '`demo-project.shop.INFORMATION_SCHEMA.COLUMNS`';
const REGION_TABLES = '`region-us`.INFORMATION_SCHEMA.TABLES';

/** Scripts that each end in a SELECT of metadata an analyst may only partly see. */
const SCRIPTS: Record<string, string> = {
  'DECLARE then COLUMNS': `DECLARE x INT64 DEFAULT 1; SELECT table_schema, table_name, column_name FROM ${COLUMNS} WHERE x = 1;`,
  'BEGIN … END over region TABLES': `BEGIN SELECT table_schema, table_name, CAST(NULL AS STRING) AS column_name FROM ${REGION_TABLES}; END`,
  'region COLUMNS in BEGIN … EXCEPTION': 'BEGIN SELECT table_schema, table_name, column_name FROM `demo-project.region-us.INFORMATION_SCHEMA.COLUMNS`; '
    + 'EXCEPTION WHEN ERROR THEN SELECT CAST(NULL AS STRING) AS table_schema, CAST(NULL AS STRING) AS table_name, @@error.message AS column_name; END',
  'a temp table filled from COLUMNS': `CREATE TEMP TABLE cols AS SELECT table_schema, table_name, column_name FROM ${COLUMNS}; SELECT * FROM cols;`,
  'EXECUTE IMMEDIATE of a SELECT of COLUMNS': `DECLARE n INT64 DEFAULT 0; EXECUTE IMMEDIATE "SELECT table_schema, table_name, column_name FROM ${COLUMNS}";`,
  'a FOR loop over COLUMNS rows': `DECLARE names STRING DEFAULT '';
FOR r IN (SELECT column_name FROM ${COLUMNS}) DO SET names = CONCAT(names, r.column_name, ','); END FOR;
SELECT 'shop' AS table_schema, 'customers' AS table_name, names AS column_name;`,
  'a scalar subquery in SET': `DECLARE names STRING; SET names = (SELECT STRING_AGG(column_name) FROM ${COLUMNS});
SELECT 'shop' AS table_schema, 'customers' AS table_name, names AS column_name;`,
  'an IF over EXISTS (an oracle)': `IF EXISTS (SELECT 1 FROM ${COLUMNS} WHERE column_name = 'ssn') OR EXISTS (SELECT 1 FROM ${REGION_TABLES} WHERE table_schema = 'hr_private')
THEN SELECT 'shop' AS table_schema, 'x' AS table_name, 'ssn' AS column_name; ELSE SELECT 'shop' AS table_schema, 'x' AS table_name, 'none' AS column_name; END IF;`,
  'a WHILE loop and a transaction': `DECLARE i INT64 DEFAULT 0; DECLARE names STRING DEFAULT '';
BEGIN TRANSACTION;
WHILE i < 1 DO SET names = (SELECT STRING_AGG(CONCAT(table_schema, '.', table_name, '.', column_name)) FROM \`demo-project.region-us.INFORMATION_SCHEMA.COLUMN_FIELD_PATHS\`); SET i = i + 1; END WHILE;
COMMIT TRANSACTION;
SELECT 'shop' AS table_schema, 'customers' AS table_name, names AS column_name;`,
};

describe('INFORMATION_SCHEMA inside scripts', () => {
  for (const [name, sql] of Object.entries(SCRIPTS)) {
    it(`an analyst's script (${name}) reveals neither the denied ssn column nor hr_private`, async () => {
      const admin = await run(tokens.root, sql);
      const out = await run(tokens.analyst, sql);
      console.log(`${name}: admin ${JSON.stringify(admin).slice(0, 160)}\n  analyst ${JSON.stringify(out).slice(0, 300)}`);
      const text = JSON.stringify(out);
      expect(text).not.toMatch(/ssn/);
      expect(text).not.toMatch(/hr_private|salaries/);
      expect(JSON.stringify(admin)).toMatch(/ssn|salaries/); // the administrator reads the views unfiltered: the script can reveal them
      // Like a single statement: the analyst's rows are what it may see (shop only, email listed by name).
      expect(out.rows, JSON.stringify(out)).toBeDefined();
      expect(out.rows!.length).toBeGreaterThan(0);
      expect(out.rows!.every((r) => r.table_schema === 'shop')).toBe(true);
    });
  }

  it("an analyst's script sees VIEWS and ROUTINES without bodies, and EU support only customers", async () => {
    const views = await run(tokens.analyst, 'DECLARE k INT64 DEFAULT 0; SELECT table_name, view_definition FROM `demo-project.shop.INFORMATION_SCHEMA.VIEWS`;');
    expect(views.rows?.map((r) => r.table_name)).toContain('customer_contacts');
    expect(views.rows!.filter((r) => r.view_definition !== null)).toEqual([]);
    const routines = await run(tokens.analyst, 'BEGIN SELECT routine_name, routine_definition, ddl FROM `region-us`.INFORMATION_SCHEMA.ROUTINES; END');
    expect(routines.rows?.map((r) => r.routine_name)).toContain('customer_email');
    expect(routines.rows!.filter((r) => r.routine_definition !== null || r.ddl !== null)).toEqual([]);
    const eu = await run(tokens.eu, `DECLARE k INT64 DEFAULT 0; SELECT table_schema, table_name FROM ${REGION_TABLES};`);
    expect(eu.rows).toEqual([{ table_schema: 'shop', table_name: 'customers' }]);
  });

  it('a non-administrator whose rules allow every table still gets view, routine and table bodies NULL in a script', async () => {
    // Its allow rule matches the metadata views by name; in a single statement the gateway's scope wins, so it must in a script.
    const sqls = [
      'DECLARE k INT64 DEFAULT 0; SELECT table_name, view_definition AS body FROM `demo-project.shop.INFORMATION_SCHEMA.VIEWS`;',
      'BEGIN SELECT routine_name AS table_name, routine_definition AS body FROM `region-us`.INFORMATION_SCHEMA.ROUTINES; END',
      "CREATE TEMP TABLE t AS SELECT table_name, ddl AS body FROM `demo-project.shop.INFORMATION_SCHEMA.TABLES`; SELECT * FROM t;",
      // A temp function's body is read where it is called (sql/routines.ts): its scan of VIEWS gets the filter there.
      "CREATE TEMP FUNCTION defs() AS ((SELECT STRING_AGG(view_definition) FROM `demo-project.shop.INFORMATION_SCHEMA.VIEWS`)); SELECT 'all' AS table_name, defs() AS body;",
    ];
    for (const sql of sqls) {
      const root = await run(tokens.root, sql);
      const out = await run(tokens.admin, sql);
      console.log(`allowed-everything: ${JSON.stringify(out).slice(0, 200)}`);
      expect(root.rows?.some((r) => r.body !== null)).toBe(true);
      expect(out.rows?.length).toBe(root.rows!.length);
      expect(out.rows!.filter((r) => r.body !== null)).toEqual([]);
    }
  });

  it("JOBS inside an analyst's script: its own jobs only, query NULL", async () => {
    const [job] = await gw.sdk(tokens.eu).createQueryJob({ query: "SELECT 'eu-script-marker' AS m", useLegacySql: false });
    await job.getQueryResults();
    const [mine] = await gw.sdk(tokens.analyst).createQueryJob({ query: "SELECT 'analyst-script-marker' AS m", useLegacySql: false });
    await mine.getQueryResults();
    const out = await run(tokens.analyst, 'DECLARE k INT64 DEFAULT 0; SELECT job_id, query FROM `region-us`.INFORMATION_SCHEMA.JOBS;');
    console.log(`JOBS in a script: ${JSON.stringify(out).slice(0, 200)}`);
    const ids = out.rows!.map((r) => r.job_id as string);
    expect(ids.some((x) => x.endsWith(mine.id!))).toBe(true);
    expect(ids.some((x) => x.endsWith(job.id!))).toBe(false);
    expect(out.rows!.filter((r) => r.query !== null)).toEqual([]);
  });

  it('a persistent routine whose body reads COLUMNS is refused in a script as in a single statement (the filter cannot be placed in its body)', async () => {
    await gw.emulatorSdk().query({ query: 'CREATE OR REPLACE FUNCTION `demo-project.shop.cols`() AS ((SELECT STRING_AGG(column_name) FROM `demo-project.shop.INFORMATION_SCHEMA.COLUMNS`))', useLegacySql: false });
    for (const sql of ['SELECT shop.cols() AS c', 'DECLARE k INT64 DEFAULT 0; SELECT shop.cols() AS c;']) {
      for (const token of [tokens.analyst, tokens.admin]) {
        const e = await apiError(gw.sdk(token).query({ query: sql, useLegacySql: false }));
        expect(e.errors?.[0]?.reason).toBe('accessDenied');
        expect(e.message).toMatch(/cannot place the masking projection/);
        expect(e.message).not.toMatch(/ssn/);
      }
    }
  });

  it('JOBS_BY_ORGANIZATION and TABLE_STORAGE stay refused inside a script', async () => {
    for (const sql of ['DECLARE k INT64 DEFAULT 0; SELECT job_id FROM `region-us`.INFORMATION_SCHEMA.JOBS_BY_ORGANIZATION;',
      'BEGIN SELECT * FROM `demo-project.shop.INFORMATION_SCHEMA.TABLE_STORAGE`; END']) {
      const e = await apiError(gw.sdk(tokens.analyst).query({ query: sql, useLegacySql: false }));
      console.log(`analyst: ${e.message}`);
      expect(['accessDenied', 'notFound']).toContain(e.errors?.[0]?.reason);
    }
  });
});
