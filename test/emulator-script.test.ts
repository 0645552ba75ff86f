/**
 * Scripts in the emulator (script.ts, script-job.ts; issue 20), run through the real SDK and the
 * emulator's REST surface: procedural statements, temp tables, CALL, exception handlers, and the
 * parent / child jobs as BigQuery reports them (https://cloud.google.com/bigquery/docs/multi-statement-queries).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolve } from 'node:path';
import { BigQuery } from '@google-cloud/bigquery';
import { startEmulator, newEmulatorSecret, type RunningEmulator } from '../src/emulator/index.ts';
import { localCredential } from '../src/upstream/credentials.ts';
import { apiError } from './helpers/gateway.ts';

let emu: RunningEmulator;
let sdk: BigQuery;
const secret = newEmulatorSecret();
const api = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
  const r = await fetch(`${emu.url}/bigquery/v2/projects/demo-project${path}`, { method, headers: { authorization: `Bearer ${secret}`, ...headers }, ...(body ? { body: JSON.stringify(body) } : {}) });
  return { status: r.status, body: await r.json() as any };
};
const rows = async (query: string, params?: Record<string, unknown>) => (await sdk.query({ query, useLegacySql: false, ...(params ? { params } : {}) }))[0];

beforeAll(async () => {
  emu = await startEmulator({ fixturesDir: resolve('fixtures'), port: 0, secret });
  sdk = new BigQuery({ projectId: 'demo-project', apiEndpoint: emu.url, authClient: localCredential(secret) as never, autoRetry: false });
}, 60_000);
afterAll(async () => { await emu?.close(); });

describe('emulator scripts', () => {
  it('DECLARE / SET with variables in later statements; the result is the last SELECT, columns named after bare variables', async () => {
    const r = await rows('DECLARE x INT64 DEFAULT 1;\nSET x = x + 41;\nSELECT x, x * 2 AS doubled');
    console.log(JSON.stringify(r));
    expect(r).toEqual([{ x: 42, doubled: 84 }]);
  });

  it('IF / ELSEIF / ELSE, WHILE with CONTINUE, labelled LOOP with LEAVE, REPEAT … UNTIL, SET (a, b) = (…)', async () => {
    const r = await rows(`
      DECLARE a, b INT64; DECLARE n, odd INT64 DEFAULT 0; DECLARE kind STRING;
      SET (a, b) = (1, 2);
      WHILE n < 6 DO SET n = n + 1; IF MOD(n, 2) = 0 THEN CONTINUE; END IF; SET odd = odd + 1; END WHILE;
      outer_loop: LOOP SET a = a + 1; IF a > 4 THEN LEAVE outer_loop; END IF; END LOOP outer_loop;
      REPEAT SET b = b * 2; UNTIL b > 10 END REPEAT;
      IF a > 10 THEN SET kind = 'big'; ELSEIF a = 5 THEN SET kind = 'five'; ELSE SET kind = 'other'; END IF;
      SELECT a, b, n, odd, kind`);
    console.log(JSON.stringify(r));
    expect(r).toEqual([{ a: 5, b: 16, n: 6, odd: 3, kind: 'five' }]);
  });

  it('typed variables keep their types (TIMESTAMP, ARRAY, STRUCT) and bind as values, never as SQL text', async () => {
    const r = await rows(`
      DECLARE t TIMESTAMP DEFAULT TIMESTAMP '2026-11-01 10:00:00.123456+00';
      DECLARE tags ARRAY<STRING> DEFAULT ['a', 'b', "c'); DROP TABLE shop.customers; --"];
      DECLARE s STRUCT<x INT64, y STRING> DEFAULT STRUCT(7 AS x, 'q' AS y);
      SELECT DATE(t) AS d, ARRAY_LENGTH(tags) AS n, tags[OFFSET(2)] AS third, s.y AS y, s.x + 1 AS x1`);
    console.log(JSON.stringify(r));
    expect(r[0].d.value).toBe('2026-11-01');
    expect(r[0]).toMatchObject({ n: 3, third: "c'); DROP TABLE shop.customers; --", y: 'q', x1: 8 });
    expect((await rows('SELECT COUNT(*) AS n FROM shop.customers'))[0].n).toBeGreaterThan(0);
  });

  it('temp tables (read as t and as _SESSION.t) and FOR … IN over a query; the hidden dataset is gone after', async () => {
    const r = await rows(`
      CREATE TEMP TABLE top AS SELECT country, COUNT(*) AS n FROM shop.customers GROUP BY country;
      INSERT INTO top (country, n) VALUES ('ZZ', 1000000);
      DECLARE total, seen INT64 DEFAULT 0;
      FOR row IN (SELECT country, n FROM _SESSION.top ORDER BY n DESC LIMIT 3) DO
        SET total = total + row.n; SET seen = seen + 1;
      END FOR;
      SELECT total, seen, (SELECT MAX(n) FROM top) AS biggest`);
    const [direct] = await sdk.query({ query: 'SELECT country, COUNT(*) AS n FROM shop.customers GROUP BY country ORDER BY n DESC LIMIT 2', useLegacySql: false });
    console.log(JSON.stringify(r), JSON.stringify(direct));
    expect(r).toEqual([{ total: 1000000 + direct[0].n + direct[1].n, seen: 3, biggest: 1000000 }]);
    const [datasets] = await sdk.getDatasets();
    expect(datasets.map((d) => d.id).filter((id) => id!.startsWith('_script_'))).toEqual([]);
  });

  it('BEGIN … EXCEPTION WHEN ERROR THEN sees @@error.message and @@error.statement_text; RAISE fails the job with its message', async () => {
    const r = await rows(`BEGIN\n  SELECT 1 AS one;\n  SELECT * FROM shop.no_such_table;\nEXCEPTION WHEN ERROR THEN\n  SELECT @@error.message AS message, @@error.statement_text AS statement;\nEND`);
    console.log(JSON.stringify(r));
    expect(r[0].message).toMatch(/not found/i);
    expect(r[0].statement).toBe('SELECT * FROM shop.no_such_table');
    const e = await apiError(rows("DECLARE who STRING DEFAULT 'agent';\nRAISE USING MESSAGE = CONCAT('stopped by ', who);"));
    console.log(e.message);
    expect(e.message).toContain('stopped by agent');
    const again = await rows("BEGIN BEGIN RAISE USING MESSAGE = 'inner'; EXCEPTION WHEN ERROR THEN RAISE; END; EXCEPTION WHEN ERROR THEN SELECT @@error.message AS m; END");
    expect(again).toEqual([{ m: 'inner' }]);
  });

  it('RETURN ends the script; BEGIN TRANSACTION / COMMIT run and a transaction does not nest', async () => {
    expect(await rows('SELECT 1 AS a; IF TRUE THEN RETURN; END IF; SELECT 2 AS a')).toEqual([{ a: 1 }]);
    expect(await rows('BEGIN TRANSACTION; SELECT 3 AS a; COMMIT TRANSACTION;')).toEqual([{ a: 3 }]);
    const nested = await apiError(rows('BEGIN TRANSACTION; BEGIN TRANSACTION; COMMIT TRANSACTION;'));
    console.log(nested.message);
    expect(nested.message).toMatch(/nested/);
    expect((await apiError(rows('SELECT 1; COMMIT TRANSACTION;'))).message).toMatch(/without an active transaction/);
  });

  it('ROLLBACK TRANSACTION undoes the transaction\'s DML; COMMIT keeps it; the script ending inside a transaction rolls it back; a failing statement rolls it back', async () => {
    await rows('CREATE OR REPLACE TABLE shop.txn_probe (id INT64, note STRING)');
    const count = async () => Number((await rows('SELECT COUNT(*) AS n FROM shop.txn_probe'))[0].n);
    const seen = await rows(`BEGIN TRANSACTION;
      INSERT INTO shop.txn_probe VALUES (1, 'rolled back'), (2, 'rolled back');
      DECLARE inside INT64 DEFAULT (SELECT COUNT(*) FROM shop.txn_probe);
      ROLLBACK TRANSACTION;
      SELECT inside, (SELECT COUNT(*) FROM shop.txn_probe) AS after_rollback`);
    console.log('rollback', JSON.stringify(seen));
    expect(seen).toEqual([{ inside: 2, after_rollback: 0 }]);
    expect(await count()).toBe(0);
    await rows("BEGIN TRANSACTION; INSERT INTO shop.txn_probe VALUES (3, 'kept'); UPDATE shop.txn_probe SET note = 'kept!' WHERE id = 3; COMMIT TRANSACTION;");
    expect(await rows('SELECT id, note FROM shop.txn_probe')).toEqual([{ id: 3, note: 'kept!' }]);
    const [table] = await sdk.dataset('shop').table('txn_probe').getMetadata();
    console.log('numRows after commit', table.numRows);
    expect(table.numRows).toBe('1');
    await rows("BEGIN TRANSACTION; INSERT INTO shop.txn_probe VALUES (4, 'never committed'); SELECT 1 AS a");
    expect(await count()).toBe(1);
    const failed = await apiError(rows("BEGIN TRANSACTION; DELETE FROM shop.txn_probe WHERE TRUE; SELECT * FROM shop.no_such_table; COMMIT TRANSACTION;"));
    console.log('failed', failed.message);
    expect(await count()).toBe(1);
    const handled = await rows(`BEGIN
        BEGIN TRANSACTION;
        INSERT INTO shop.txn_probe VALUES (5, 'handled');
        SELECT * FROM shop.no_such_table;
        COMMIT TRANSACTION;
      EXCEPTION WHEN ERROR THEN
        ROLLBACK TRANSACTION;
        SELECT @@error.message AS message, (SELECT COUNT(*) FROM shop.txn_probe) AS n;
      END`);
    console.log('handled', JSON.stringify(handled));
    expect(handled[0].message).toMatch(/not found/i);
    expect(handled[0].n).toBe(1);
    await rows('DROP TABLE shop.txn_probe');
  });

  it('CASE and CASE search statements run the first matching branch, else ELSE, else nothing', async () => {
    const r = await rows(`DECLARE n INT64 DEFAULT 2; DECLARE out ARRAY<STRING> DEFAULT [];
      CASE n WHEN 1 THEN SET out = ARRAY_CONCAT(out, ['one']); WHEN 1 + 1 THEN SET out = ARRAY_CONCAT(out, ['two']); ELSE SET out = ARRAY_CONCAT(out, ['else']); END CASE;
      CASE WHEN n > 5 THEN SET out = ARRAY_CONCAT(out, ['big']); WHEN n > 1 THEN SET out = ARRAY_CONCAT(out, ['>1']); WHEN n > 0 THEN SET out = ARRAY_CONCAT(out, ['>0']); END CASE;
      CASE n WHEN 7 THEN SET out = ARRAY_CONCAT(out, ['seven']); END CASE;
      CASE NULL WHEN NULL THEN SET out = ARRAY_CONCAT(out, ['null=null']); ELSE SET out = ARRAY_CONCAT(out, ['null<>null']); END CASE;
      SELECT out`);
    console.log(JSON.stringify(r));
    expect(r).toEqual([{ out: ['two', '>1', 'null<>null'] }]);
  });

  it('EXECUTE IMMEDIATE: a computed statement with USING (positional, named) and INTO; the inner statement does not see script variables; one statement only', async () => {
    const r = await rows(`DECLARE t STRING DEFAULT 'customers'; DECLARE n, m INT64; DECLARE c STRING DEFAULT 'FR';
      EXECUTE IMMEDIATE CONCAT('SELECT COUNT(*) FROM shop.', t, ' WHERE country = ?') INTO n USING c;
      EXECUTE IMMEDIATE 'SELECT @a + @b, @a * @b' INTO n, m USING 6 AS a, 7 AS b;
      SELECT n, m, (SELECT COUNT(*) FROM shop.customers WHERE country = 'FR') AS fr`);
    console.log(JSON.stringify(r));
    expect(r[0].n).toBe(13);
    expect(r[0].m).toBe(42);
    const one = await rows("DECLARE n INT64; EXECUTE IMMEDIATE 'SELECT COUNT(*) FROM shop.customers WHERE country = ?' INTO n USING 'FR'; SELECT n");
    expect(one).toEqual([{ n: r[0].fr }]);
    expect(await rows("EXECUTE IMMEDIATE 'SELECT 1 AS a UNION ALL SELECT 2 ORDER BY a'")).toEqual([{ a: 1 }, { a: 2 }]);
    const scoped = await apiError(rows("DECLARE secret STRING DEFAULT 'x'; EXECUTE IMMEDIATE 'SELECT secret'"));
    console.log(scoped.message);
    expect(scoped.message).toMatch(/secret/i);
    const two = await apiError(rows("EXECUTE IMMEDIATE 'SELECT 1; SELECT 2'"));
    expect(two.message).toMatch(/exactly one SQL statement/);
  });

  it('@@time_zone is UTC and SET @@time_zone accepts UTC; another zone is refused, naming it', async () => {
    expect(await rows("SET @@time_zone = 'UTC'; SELECT @@time_zone AS tz")).toEqual([{ tz: 'UTC' }]);
    const e = await apiError(rows("SET @@time_zone = 'America/New_York'; SELECT 1"));
    console.log(e.message);
    expect(e.message).toMatch(/America\/New_York/);
    expect((await apiError(rows("SET @@dataset_id = 'shop'; SELECT 1"))).message).toMatch(/@@dataset_id/);
  });

  it('system variables: @@current_job_id is the child job of the statement, @@script.job_id the parent, @@last_job_id the previous child, completed children counted, @@row_count, @@script.* sums, @@project_id', async () => {
    const [job] = await sdk.createQueryJob({ query: `SELECT 1 AS a;
      SELECT @@current_job_id AS cur, @@script.job_id AS script, @@last_job_id AS last, @@script.num_child_jobs AS children,
        @@script.bytes_processed >= 0 AS bytes_ok, @@script.creation_time <= CURRENT_TIMESTAMP() AS created_ok, @@project_id AS project`, useLegacySql: false });
    const [r] = await job.getQueryResults();
    const [children] = await sdk.getJobs({ parentJobId: job.id } as never);
    const first = children.find((c) => c.metadata.statistics.scriptStatistics.stackFrames[0].startLine === 1)!;
    const second = children.find((c) => c.metadata.statistics.scriptStatistics.stackFrames[0].startLine === 2)!;
    console.log(JSON.stringify(r), job.id, first.id);
    expect(r).toEqual([{ cur: second.id, script: job.id, last: first.id, children: 1, bytes_ok: true, created_ok: true, project: 'demo-project' }]);
    expect(await rows("DELETE FROM shop.customers WHERE customer_id < 0; SELECT @@row_count AS n")).toEqual([{ n: 0 }]);
  });

  it('CALL runs an emulator procedure (fixtures/…/customer_report.routine.json) with its argument', async () => {
    const viaCall = await rows("CALL shop.customer_report('FR')");
    const direct = await rows("SELECT customer_id, email FROM shop.customers WHERE country = 'FR'");
    console.log(`${viaCall.length} rows via CALL`);
    expect(viaCall.length).toBeGreaterThan(0);
    expect(viaCall).toEqual(direct);
  });

  it('the job is a SCRIPT parent with numChildJobs; each statement a child job (parentJobId, scriptStatistics), listed by jobs.list?parentJobId=', async () => {
    const [job] = await sdk.createQueryJob({ query: "DECLARE c STRING DEFAULT 'DE';\nSELECT COUNT(*) AS n FROM shop.customers WHERE country = c;\nSELECT c AS country", useLegacySql: false });
    const [result] = await job.getQueryResults();
    expect(result).toEqual([{ country: 'DE' }]);
    const [meta] = await job.getMetadata();
    console.log(JSON.stringify(meta.statistics));
    expect(meta.statistics.query.statementType).toBe('SCRIPT');
    expect(meta.statistics.numChildJobs).toBe('2');
    const [children] = await sdk.getJobs({ parentJobId: job.id } as never);
    expect(children.length).toBe(2);
    const stats = children.map((c) => c.metadata.statistics);
    console.log(JSON.stringify(stats.map((s: any) => s.scriptStatistics)));
    for (const s of stats) { expect(s.parentJobId).toBe(job.id); expect(s.scriptStatistics.evaluationKind).toBe('STATEMENT'); }
    const texts = stats.map((s: any) => s.scriptStatistics.stackFrames[0].text).sort();
    expect(texts).toEqual(['SELECT COUNT(*) AS n FROM shop.customers WHERE country = c', 'SELECT c AS country']);
    const first = children.find((c) => c.metadata.statistics.scriptStatistics.stackFrames[0].startLine === 2)!;
    const [firstRows] = await first.getQueryResults();
    const direct = await rows("SELECT COUNT(*) AS n FROM shop.customers WHERE country = 'DE'");
    expect(firstRows).toEqual(direct);
  });

  it('a script the gateway declared as another kind is refused; declared as SCRIPT, each statement stays within the declared tables', async () => {
    const declared = (d: unknown) => ({ 'x-bqgate-declared': Buffer.from(JSON.stringify(d)).toString('base64url') });
    const script = 'DECLARE n INT64 DEFAULT 0; SELECT COUNT(*) AS n FROM shop.orders';
    const asSelect = await api('POST', '/queries', { query: script, useLegacySql: false }, declared({ statementKind: 'QUERY', tables: ['demo-project.shop.orders'] }));
    console.log(asSelect.body.error?.message);
    expect(asSelect.body.error.errors[0].reason).toBe('accessDenied');
    const other = await api('POST', '/queries', { query: script, useLegacySql: false }, declared({ statementKind: 'SCRIPT', tables: ['demo-project.shop.customers'] }));
    console.log(other.body.error?.message);
    expect(other.body.error.errors[0].reason).toBe('accessDenied');
    const ok = await api('POST', '/queries', { query: script, useLegacySql: false }, declared({ statementKind: 'SCRIPT', tables: ['demo-project.shop.orders'] }));
    expect(ok.body.rows.length).toBe(1);
    const temp = 'CREATE TEMP TABLE t AS SELECT 1 AS a; SELECT a FROM t';
    const noTemp = await api('POST', '/queries', { query: temp, useLegacySql: false }, declared({ statementKind: 'SCRIPT', tables: [] }));
    expect(noTemp.body.error.errors[0].reason).toBe('accessDenied');
    const withTemp = await api('POST', '/queries', { query: temp, useLegacySql: false }, declared({ statementKind: 'SCRIPT', tables: ['_SESSION.t'] }));
    expect(withTemp.body.rows).toEqual([{ f: [{ v: '1' }] }]);
  });

  it('temp functions (SQL expression bodies) run inline: typed and ANY TYPE parameters, RETURNS, one calling another; a parameter shadows a variable', async () => {
    const r = await rows(`
      DECLARE k INT64 DEFAULT 10;
      CREATE TEMP FUNCTION add_one(x INT64) AS (x + 1);
      CREATE TEMP FUNCTION twice(y ANY TYPE) RETURNS INT64 AS (add_one(y) * 2);
      CREATE TEMP FUNCTION plus(x INT64, k INT64) AS (x + k);
      SELECT customer_id, add_one(customer_id) AS a, twice(customer_id) AS b, plus(k, 5) AS c FROM shop.customers ORDER BY customer_id LIMIT 2`);
    console.log(JSON.stringify(r));
    expect(r.map((x: any) => [x.a - x.customer_id, x.b - 2 * (x.customer_id + 1), x.c])).toEqual([[1, 0, 15], [1, 0, 15]]);
    const agg = await rows(`CREATE TEMP AGGREGATE FUNCTION scaled_sum(x INT64, k INT64 NOT AGGREGATE) AS (SUM(x) * k);
      SELECT country, scaled_sum(customer_id, 2) AS s, SUM(customer_id) * 2 AS direct FROM shop.customers GROUP BY country ORDER BY country LIMIT 3`);
    console.log(JSON.stringify(agg));
    expect(agg.length).toBe(3);
    for (const a of agg) expect(a.s).toBe(a.direct);
    const e = await apiError(rows("CREATE TEMP FUNCTION js(x FLOAT64) RETURNS FLOAT64 LANGUAGE js AS 'return x'; SELECT js(1.0)"));
    expect(e.message).toMatch(/only SQL expression functions/);
  });

  it('a statement with a ; inside a string is one statement, not a script', async () => {
    expect(await rows("SELECT 'a;b' AS s; -- trailing comment")).toEqual([{ s: 'a;b' }]);
  });
});
