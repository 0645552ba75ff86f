/**
 * Date, time, INTERVAL and WITH-expression GoogleSQL through the emulator over real HTTP (issue 20;
 * src/emulator/translate-datetime.ts, translate-syntax.ts): answers and schema types as BigQuery
 * documents them, beyond the documentation's own examples (test/emulator-docs.test.ts) — a DATE
 * column of a fixture table, every weekday of WEEK(<day>), week differences across a year, signed
 * intervals, and the refusal of a volatile WITH variable used twice.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolve } from 'node:path';
import { startEmulator, newEmulatorSecret, type RunningEmulator } from '../src/emulator/index.ts';
import { emulatorQuery } from './helpers/emulator-http.ts';

let emu: RunningEmulator;
const secret = newEmulatorSecret();
const query = emulatorQuery(() => emu, secret);
const cells = (body: any) => body.rows.map((r: any) => r.f.map((c: any) => c.v));
const types = (body: any) => body.schema.fields.map((f: any) => f.type);

beforeAll(async () => { emu = await startEmulator({ fixturesDir: resolve('fixtures'), port: 0, secret }); });
afterAll(async () => { await emu?.close(); });

describe('emulator date/time with BigQuery semantics', () => {
  it('DATE_TRUNC keeps a DATE a DATE and starts WEEK on Sunday, WEEK(<day>) on that day', async () => {
    // 2017-11-08 is a Wednesday.
    const days = ['SUNDAY', 'MONDAY', 'TUESDAY', 'WEDNESDAY', 'THURSDAY', 'FRIDAY', 'SATURDAY'];
    const sql = `SELECT DATE_TRUNC(DATE '2017-11-08', WEEK) AS w, DATE_TRUNC(DATE '2017-11-08', ISOWEEK) AS iso, ${days.map((d) => `DATE_TRUNC(DATE '2017-11-08', WEEK(${d})) AS ${d.toLowerCase()}`).join(', ')}, DATE_TRUNC(DATE '2017-11-08', QUARTER) AS q`;
    const r = await query(sql);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(types(r.body)).toEqual(Array(10).fill('DATE'));
    expect(cells(r.body)).toEqual([['2017-11-05', '2017-11-06', '2017-11-05', '2017-11-06', '2017-11-07', '2017-11-08', '2017-11-02', '2017-11-03', '2017-11-04', '2017-10-01']]);
  });

  it('DATE_TRUNC of a fixture DATE column is a DATE on or before it, on a Sunday', async () => {
    const r = await query('SELECT birth_date, DATE_TRUNC(birth_date, WEEK) AS w, EXTRACT(DAYOFWEEK FROM DATE_TRUNC(birth_date, WEEK)) AS dow FROM shop.customers WHERE birth_date IS NOT NULL ORDER BY customer_id LIMIT 20');
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(types(r.body)).toEqual(['DATE', 'DATE', 'INTEGER']);
    for (const [d, w, dow] of cells(r.body)) {
      const gap = (Date.parse(d) - Date.parse(w)) / 86_400_000;
      expect(gap >= 0 && gap < 7, `${d} → ${w}`).toBe(true);
      expect(dow).toBe('1');
    }
  });

  it('DATE_DIFF and DATETIME_DIFF count week boundaries of WEEK, WEEK(<day>) and ISOWEEK', async () => {
    // 2017-12-17 is a Sunday, 2017-12-18 a Monday, 2017-12-23 a Saturday: one Sunday-based week (the docs' date_diff-4).
    const r = await query(`SELECT
      DATE_DIFF(DATE '2017-12-18', DATE '2017-12-17', WEEK), DATE_DIFF(DATE '2017-12-23', DATE '2017-12-17', WEEK),
      DATE_DIFF(DATE '2017-12-18', DATE '2017-12-17', ISOWEEK), DATETIME_DIFF(DATETIME '2017-12-23 00:00:00', DATETIME '2017-12-17 00:00:00', WEEK(SATURDAY)),
      DATE_DIFF(DATE '2018-01-01', DATE '2017-01-01', WEEK), DATE_DIFF(DATE '2017-01-01', DATE '2016-01-03', ISOYEAR)`);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(cells(r.body)).toEqual([['0', '0', '1', '1', '52', '1']]);
  });

  it('TIMESTAMP_DIFF counts whole parts where DATETIME_DIFF counts boundaries', async () => {
    const r = await query(`SELECT TIMESTAMP_DIFF(TIMESTAMP '2001-02-01 01:00:00+00', TIMESTAMP '2001-02-01 00:00:01+00', HOUR),
      DATETIME_DIFF(DATETIME '2001-02-01 01:00:00', DATETIME '2001-02-01 00:59:59', HOUR),
      TIMESTAMP_DIFF(TIMESTAMP '2001-02-02 00:00:00+00', TIMESTAMP '2001-02-01 00:00:01+00', DAY)`);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(cells(r.body)).toEqual([['0', '1', '0']]);
  });

  it('INTERVALs keep months, days and time apart, with their signs, in BigQuery\'s text', async () => {
    const r = await query(`SELECT INTERVAL -3 DAY, INTERVAL '-22-6 10 -12:30' YEAR TO MINUTE, MAKE_INTERVAL(0, 0, 0, 0, 0, -90),
      JUSTIFY_DAYS(INTERVAL -65 DAY), EXTRACT(MILLISECOND FROM INTERVAL '1:2:3.456' HOUR TO SECOND)`);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(types(r.body)).toEqual(['INTERVAL', 'INTERVAL', 'INTERVAL', 'INTERVAL', 'INTEGER']);
    expect(cells(r.body)).toEqual([['0-0 -3 0:0:0', '-22-6 10 -12:30:0', '0-0 0 -0:1:30', '-0-2 -5 0:0:0', '456']]);
  });

  it('LAST_DAY with a date part is the last day of that period, a DATE', async () => {
    const r = await query(`SELECT LAST_DAY(DATE '2024-02-10', MONTH), LAST_DAY(DATE '2024-02-10', QUARTER), LAST_DAY(DATETIME '2024-02-10 12:00:00', WEEK(MONDAY))`);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(types(r.body)).toEqual(['DATE', 'DATE', 'DATE']);
    expect(cells(r.body)).toEqual([['2024-02-29', '2024-03-31', '2024-02-11']]);
  });

  it('the WITH expression evaluates its variables in order, nested; a volatile variable used twice is refused', async () => {
    const ok = await query(`SELECT WITH(a AS 2, b AS a * 10, WITH(c AS b + a, CONCAT('with(', CAST(c AS STRING), ')'))) AS s`);
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    expect(cells(ok.body)).toEqual([['with(22)']]);
    const bad = await query('SELECT WITH(r AS RAND(), r - r) AS zero');
    expect(bad.status).toBe(400);
    expect(bad.body.error.errors[0].reason).toBe('invalidQuery');
    expect(bad.body.error.message).toMatch(/volatile/);
  });
});
