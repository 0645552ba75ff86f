/**
 * Scripts through the real gateway and its embedded emulator (issue 20): the gateway analyzes the
 * script (src/sql/script.ts) and sends the regenerated text upstream declared as SCRIPT; the
 * emulator runs it statement by statement (src/emulator/script.ts). Real SDK and real `bq` CLI.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiError, type TestGateway } from './helpers/gateway.ts';
import { startDemoAndAdminGateway } from './helpers/admin-policy.ts';

let gw: TestGateway;
let tokens: Record<'admin' | 'analyst' | 'oncall', string>;
// oncall: a gateway administrator (policies/demo.yaml roles.admins) with the test administrator's rules.
beforeAll(async () => { ({ gw, tokens } = await startDemoAndAdminGateway('script', { admin: ['test-admins'], analyst: ['analysts'], oncall: ['test-admins', 'security-oncall'] })); }, 240_000);
afterAll(async () => { await gw?.stop(); });

const SCRIPT = `DECLARE c STRING DEFAULT 'FR';
DECLARE n INT64;
SET n = (SELECT COUNT(*) FROM shop.customers WHERE country = c);
CREATE TEMP TABLE per_status AS SELECT status, COUNT(*) AS orders FROM shop.orders GROUP BY status;
IF n > 0 THEN
  SELECT n AS customers, (SELECT SUM(orders) FROM per_status) AS orders;
ELSE
  SELECT 0 AS customers, 0 AS orders;
END IF;`;

describe('scripts through the gateway', () => {
  it('an administrator runs a script with the SDK: the last SELECT is the result, as the statements run alone through the gateway give it', async () => {
    const admin = gw.sdk(tokens.admin);
    const [rows] = await admin.query({ query: SCRIPT, useLegacySql: false });
    // Alone through the gateway: the same policy (row filters included) applies to each statement.
    const [[c]] = await admin.query({ query: "SELECT COUNT(*) AS n FROM shop.customers WHERE country = 'FR'", useLegacySql: false });
    const [[o]] = await admin.query({ query: 'SELECT COUNT(*) AS n FROM shop.orders', useLegacySql: false });
    console.log(JSON.stringify(rows), c.n, o.n);
    expect(rows).toEqual([c.n > 0 ? { customers: c.n, orders: o.n } : { customers: 0, orders: 0 }]);
    const [jobs] = await gw.emulatorSdk().getJobs({ maxResults: 50 });
    const parent = jobs.find((j) => j.metadata.statistics?.query?.statementType === 'SCRIPT')!;
    const [children] = await gw.emulatorSdk().getJobs({ parentJobId: parent.id } as never);
    console.log(`upstream: ${parent.metadata.statistics.numChildJobs} child jobs; ${children.map((j) => j.metadata.statistics.query.statementType).join(', ')}`);
    expect(children.length).toBe(Number(parent.metadata.statistics.numChildJobs));
    expect(children.length).toBeGreaterThanOrEqual(2);
  });

  it('the same script with bq query prints the last SELECT', async () => {
    const r = await gw.bq(tokens.admin, ['--format=json', 'query', '--nouse_legacy_sql', SCRIPT]);
    console.log(r.code, r.stdout.slice(0, 300), r.stderr.slice(0, 300));
    expect(r.code).toBe(0);
    const printed = JSON.parse(r.stdout.slice(r.stdout.indexOf('[')));
    const [sdkRows] = await gw.sdk(tokens.admin).query({ query: SCRIPT, useLegacySql: false });
    expect(printed.map((x: any) => ({ customers: Number(x.customers), orders: Number(x.orders) }))).toEqual(sdkRows);
  });

  it('a temp function in a script through the gateway runs inline upstream, as the expression written out', async () => {
    const admin = gw.sdk(tokens.admin);
    const [viaFn] = await admin.query({ query: 'CREATE TEMP FUNCTION net(a FLOAT64) AS (ROUND(a * 0.8, 2));\nSELECT order_id, net(amount) AS n FROM shop.orders ORDER BY order_id LIMIT 3', useLegacySql: false });
    const [plain] = await admin.query({ query: 'SELECT order_id, ROUND(CAST(amount AS FLOAT64) * 0.8, 2) AS n FROM shop.orders ORDER BY order_id LIMIT 3', useLegacySql: false });
    console.log(JSON.stringify(viaFn), JSON.stringify(plain));
    expect(viaFn.length).toBe(3);
    expect(viaFn).toEqual(plain);
  });

  it('an analyst\'s script reads the masked column masked, as the single statement does', async () => {
    const script = 'DECLARE e STRING DEFAULT (SELECT email FROM shop.customers WHERE customer_id = 1);\nSELECT e AS email';
    const single = 'SELECT email FROM shop.customers WHERE customer_id = 1';
    const viaScript = await gw.sdk(tokens.analyst).query({ query: script, useLegacySql: false }).then(([r]) => r, (e) => ({ error: e.message }));
    const [alone] = await gw.sdk(tokens.analyst).query({ query: single, useLegacySql: false });
    const [raw] = await gw.emulatorSdk().query({ query: single, useLegacySql: false });
    console.log(JSON.stringify(viaScript), JSON.stringify(alone), JSON.stringify(raw));
    expect(alone[0].email).not.toBe(raw[0].email);
    expect(viaScript).toEqual(alone);
  });
});

describe('EXECUTE IMMEDIATE through the gateway: what runs is what was analyzed', () => {
  const refused = async (token: string, sql: string) => {
    const e = await apiError(gw.sdk(token).query({ query: sql, useLegacySql: false }));
    console.log(`${sql.replace(/\s+/g, ' ').slice(0, 80)} → ${e.errors?.[0]?.reason}: ${e.message.slice(0, 160)}`);
    return e;
  };

  it('a string literal is analyzed as the statement it holds: an analyst reading ssn through it is refused like the plain SELECT', async () => {
    const plain = await refused(tokens.analyst, 'SELECT ssn FROM shop.customers');
    expect(plain.errors?.[0]?.reason).toBe('accessDenied');
    for (const sql of [
      "EXECUTE IMMEDIATE 'SELECT ssn FROM shop.customers'",
      'EXECUTE IMMEDIATE "SELECT customer_id, ssn FROM shop.customers WHERE customer_id = 1"',
      "DECLARE n INT64 DEFAULT 1;\nIF n = 1 THEN\n  EXECUTE IMMEDIATE '''SELECT ssn FROM shop.customers''';\nEND IF;",
      "DECLARE s STRING;\nEXECUTE IMMEDIATE 'SELECT ssn FROM shop.customers LIMIT 1' INTO s;\nSELECT s",
    ]) {
      const e = await refused(tokens.analyst, sql);
      expect(e.errors?.[0]?.reason).toBe('accessDenied');
      expect(e.message).toMatch(/analysts-deny-ssn/); // the gateway's policy saw the inner statement
      expect(e.message).not.toMatch(/\d{3}-\d{2}-\d{4}/);
    }
  });

  it('a string literal reading a masked column returns it masked, as the plain statement does; INTO a variable too', async () => {
    const q = (query: string) => gw.sdk(tokens.analyst).query({ query, useLegacySql: false }).then(([r]) => r);
    const alone = await q('SELECT email FROM shop.customers WHERE customer_id = 1');
    const viaExec = await q("EXECUTE IMMEDIATE 'SELECT email FROM shop.customers WHERE customer_id = 1'");
    const viaInto = await q("DECLARE e STRING;\nEXECUTE IMMEDIATE 'SELECT email FROM shop.customers WHERE customer_id = 1' INTO e;\nSELECT e AS email");
    const [raw] = await gw.emulatorSdk().query({ query: 'SELECT email FROM shop.customers WHERE customer_id = 1', useLegacySql: false });
    console.log(JSON.stringify(alone), JSON.stringify(viaExec), JSON.stringify(viaInto), JSON.stringify(raw));
    expect(alone[0].email).not.toBe(raw[0].email);
    expect(viaExec).toEqual(alone);
    expect(viaInto).toEqual(alone);
    const viaRow = await q("DECLARE e STRING; DECLARE i INT64;\nEXECUTE IMMEDIATE 'SELECT email, customer_id FROM shop.customers WHERE customer_id = 1' INTO e, i;\nSELECT e AS email");
    console.log(JSON.stringify(viaRow));
    expect(viaRow).toEqual(alone);
  });

  it('USING arguments are written into the statement and governed with it: a masked value stays masked, a subquery reading ssn is refused', async () => {
    const q = (query: string) => gw.sdk(tokens.analyst).query({ query, useLegacySql: false }).then(([r]) => r);
    const alone = await q('SELECT email FROM shop.customers WHERE customer_id = 1');
    const viaUsing = await q("EXECUTE IMMEDIATE 'SELECT email FROM shop.customers WHERE customer_id = ?' USING 1");
    const named = await q("DECLARE id INT64 DEFAULT 1;\nEXECUTE IMMEDIATE 'SELECT email FROM shop.customers WHERE customer_id = @id' USING id AS id");
    console.log(JSON.stringify(viaUsing), JSON.stringify(named));
    expect(viaUsing).toEqual(alone);
    expect(named).toEqual(alone);
    const e = await refused(tokens.analyst, "EXECUTE IMMEDIATE 'SELECT ? AS v' USING (SELECT ssn FROM shop.customers LIMIT 1)");
    expect(e.errors?.[0]?.reason).toBe('accessDenied');
    expect(e.message).toMatch(/analysts-deny-ssn/);
  });

  it('SQL computed at run time is refused, naming why: CONCAT building the table name, a variable holding SQL', async () => {
    for (const sql of [
      "EXECUTE IMMEDIATE CONCAT('SELECT ssn FROM shop.', 'customers')",
      "DECLARE q STRING DEFAULT 'SELECT ssn FROM shop.customers';\nEXECUTE IMMEDIATE q",
      "DECLARE t STRING DEFAULT 'customers';\nEXECUTE IMMEDIATE 'SELECT email FROM shop.' || t",
      "DECLARE q STRING DEFAULT 'SELECT 1';\nSET q = (SELECT 'SELECT ssn FROM shop.customers');\nBEGIN EXECUTE IMMEDIATE q; END",
    ]) {
      for (const token of [tokens.analyst, tokens.admin]) {
        const e = await refused(token, sql);
        expect(e.errors?.[0]?.reason).toBe('accessDenied');
        expect(e.message).toMatch(/EXECUTE IMMEDIATE/);
        expect(e.message).toMatch(/string literal/);
      }
    }
  });

  it('a second statement or a trailing comment in the literal does not hide anything from the analysis', async () => {
    const e1 = await refused(tokens.analyst, "EXECUTE IMMEDIATE 'SELECT 1; SELECT ssn FROM shop.customers'");
    expect(['accessDenied', 'invalidQuery']).toContain(e1.errors?.[0]?.reason);
    const e2 = await refused(tokens.analyst, "EXECUTE IMMEDIATE 'SELECT 1 AS a --';\nSELECT ssn FROM shop.customers");
    expect(e2.errors?.[0]?.reason).toBe('accessDenied');
  });

  it('an administrator\'s literal runs upstream as the inner statement, with the plain statement\'s answer', async () => {
    const [r] = await gw.sdk(tokens.admin).query({ query: "DECLARE n INT64;\nEXECUTE IMMEDIATE 'SELECT COUNT(*) FROM shop.orders' INTO n;\nSELECT n", useLegacySql: false });
    const [[o]] = await gw.sdk(tokens.admin).query({ query: 'SELECT COUNT(*) AS n FROM shop.orders', useLegacySql: false });
    console.log(JSON.stringify(r), o.n);
    expect(r).toEqual([{ n: o.n }]);
    const [two] = await gw.sdk(tokens.admin).query({ query: "DECLARE lo, hi INT64;\nEXECUTE IMMEDIATE 'SELECT MIN(order_id), MAX(order_id) FROM shop.orders WHERE order_id <= @top' INTO lo, hi USING 10 AS top;\nSELECT lo, hi", useLegacySql: false });
    console.log(JSON.stringify(two));
    expect(two).toEqual([{ lo: 1, hi: 10 }]);
  });
});

describe('SET @@system_variable through the gateway', () => {
  it('is refused, naming why: a time zone set mid-script would change what a date row filter analyzed before it means', async () => {
    const e = await apiError(gw.sdk(tokens.analyst).query({ query: "SET @@time_zone = 'Pacific/Kiritimati';\nSELECT COUNT(*) AS n FROM shop.customers WHERE DATE(created_at) = CURRENT_DATE()", useLegacySql: false }));
    console.log(e.errors?.[0]?.reason, e.message);
    expect(e.errors?.[0]?.reason).toBe('invalidQuery');
    expect(e.message).toMatch(/SET @@system_variable/);
  });
});

describe('CASE statements through the gateway', () => {
  it('every branch is analyzed: an analyst\'s CASE whose ELSE reads ssn is refused even when it would not run; a CASE search runs', async () => {
    const e = await apiError(gw.sdk(tokens.analyst).query({ query: "DECLARE n INT64 DEFAULT 1;\nCASE n WHEN 1 THEN SELECT 'one' AS v; ELSE SELECT ssn FROM shop.customers; END CASE;", useLegacySql: false }));
    console.log(e.message.slice(0, 160));
    expect(e.errors?.[0]?.reason).toBe('accessDenied');
    const [r] = await gw.sdk(tokens.analyst).query({ query: "DECLARE n INT64 DEFAULT 2;\nCASE WHEN n = 1 THEN SELECT 'one' AS v; WHEN n = 2 THEN SELECT 'two' AS v; ELSE SELECT 'many' AS v; END CASE;", useLegacySql: false });
    expect(r).toEqual([{ v: 'two' }]);
  });
});

describe('INFORMATION_SCHEMA.JOBS through the gateway', () => {
  const VARIANTS = [
    'SELECT job_id, query FROM `region-us`.INFORMATION_SCHEMA.JOBS',
    'SELECT * FROM `demo-project`.`region-us`.information_schema.jobs_by_user',
    'SELECT * FROM `demo-project.region-us.INFORMATION_SCHEMA.JOBS_BY_PROJECT`',
    'SELECT t.table_name, j.query FROM `demo-project.shop.INFORMATION_SCHEMA.TABLES` AS t CROSS JOIN `region-us`.INFORMATION_SCHEMA.Jobs AS j',
    'DECLARE q STRING DEFAULT (SELECT STRING_AGG(query) FROM `region-us`.INFORMATION_SCHEMA.JOBS);\nSELECT q',
  ];
  it('a principal whose rules match every table (test-admins) reads every spelling as its own jobs only, query NULL; in a script too', async () => {
    const [marker] = await gw.sdk(tokens.analyst).createQueryJob({ query: 'SELECT 42 AS secret_marker', useLegacySql: false });
    await marker.getQueryResults();
    await gw.sdk(tokens.admin).query({ query: 'SELECT 1 AS admin_job', useLegacySql: false });
    const text = (v: unknown) => JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? String(x) : x));
    for (const sql of VARIANTS.slice(0, 4)) {
      const [rows] = await gw.sdk(tokens.admin).query({ query: sql, useLegacySql: false });
      console.log(`${sql.slice(0, 70)} → ${rows.length} rows`);
      expect(rows.length).toBeGreaterThan(0);
      expect(text(rows)).not.toContain('secret_marker');
      expect(text(rows)).not.toContain(marker.id!);
      expect(rows.filter((r: any) => r.query !== null && r.query !== undefined)).toEqual([]);
    }
    const [script] = await gw.sdk(tokens.admin).query({ query: VARIANTS[4], useLegacySql: false });
    console.log(`script → ${text(script)}`);
    expect(script).toEqual([{ q: null }]); // its own jobs' query column, NULL as in a single statement
    const [own] = await gw.sdk(tokens.analyst).query({ query: VARIANTS[0], useLegacySql: false });
    expect(own.some((r: any) => r.job_id.endsWith(marker.id!))).toBe(true);
  });

  it('a gateway administrator reads JOBS: the emulator\'s jobs, the analyst\'s among them', async () => {
    const [rows] = await gw.sdk(tokens.oncall).query({ query: "SELECT query, statement_type FROM `region-us`.INFORMATION_SCHEMA.JOBS WHERE query LIKE '%secret_marker%' AND query NOT LIKE '%INFORMATION_SCHEMA%'", useLegacySql: false });
    console.log(JSON.stringify(rows));
    expect(rows.length).toBeGreaterThan(0);
    expect(rows[0].statement_type).toBe('SELECT');
  });
});
