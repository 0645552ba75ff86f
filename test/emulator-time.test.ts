/**
 * TIME functions DuckDB lacks and date / timestamp forms with a time zone (src/emulator/time-functions.ts),
 * through the emulator over real HTTP, with BigQuery's documented answers beyond the pages' own
 * examples (test/emulator-docs.test.ts): FORMAT_TIME, PARSE_TIME, TIME_TRUNC, FORMAT_TIMESTAMP(f, ts,
 * zone), DATE(ts, zone), EXTRACT(… AT TIME ZONE zone), nested and inside other calls.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolve } from 'node:path';
import { startEmulator, newEmulatorSecret, type RunningEmulator } from '../src/emulator/index.ts';
import { emulatorQuery } from './helpers/emulator-http.ts';

let emu: RunningEmulator;
const secret = newEmulatorSecret();
const query = emulatorQuery(() => emu, secret);
const row = async (sql: string) => {
  const r = await query(sql);
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return { values: r.body.rows[0].f.map((c: any) => c.v), types: r.body.schema.fields.map((f: any) => f.type) };
};

beforeAll(async () => { emu = await startEmulator({ fixturesDir: resolve('fixtures'), port: 0, secret }); });
afterAll(async () => { await emu?.close(); });

describe('time functions (https://cloud.google.com/bigquery/docs/reference/standard-sql/time_functions)', () => {
  it('FORMAT_TIME, PARSE_TIME and TIME_TRUNC answer TIME values as BigQuery documents, nested too', async () => {
    const r = await row(`SELECT FORMAT_TIME('%H:%M:%S', TIME '15:30:12') AS a, FORMAT_TIME('%I %p', TIME_TRUNC(TIME '15:30:12.5', MINUTE)) AS b,
      PARSE_TIME('%H:%M', '07:05') AS c, TIME_TRUNC(PARSE_TIME('%I:%M:%S %p', '11:59:59 PM'), HOUR) AS d, TIME_TRUNC(TIME '15:30:12.345678', SECOND) AS e`);
    expect(r.values).toEqual(['15:30:12', '03 PM', '07:05:00', '23:00:00', '15:30:12']);
    expect(r.types).toEqual(['STRING', 'STRING', 'TIME', 'TIME', 'TIME']);
  });
});

describe('time zones (https://cloud.google.com/bigquery/docs/reference/standard-sql/timestamp_functions#format_timestamp, date_functions#date)', () => {
  it("FORMAT_TIMESTAMP(f, ts, zone) prints the zone's wall time; DATE(ts, zone) is the zone's date; DATE's other forms are unchanged", async () => {
    const r = await row(`SELECT FORMAT_TIMESTAMP('%Y-%m-%d %H:%M', TIMESTAMP '2008-12-25 15:30:00+00', 'America/Los_Angeles') AS a,
      FORMAT_TIMESTAMP('%H:%M', TIMESTAMP '2008-12-25 15:30:00+00', 'Asia/Kolkata') AS b,
      DATE(TIMESTAMP '2016-12-25 05:30:00+07', 'America/Los_Angeles') AS c, DATE(TIMESTAMP '2016-12-25 23:30:00+00', 'Asia/Tokyo') AS d,
      DATE(2016, 12, 25) AS e, DATE(DATETIME '2016-12-25 23:59:59') AS f`);
    expect(r.values).toEqual(['2008-12-25 07:30', '21:00', '2016-12-24', '2016-12-26', '2016-12-25', '2016-12-25']);
    expect(r.types).toEqual(['STRING', 'STRING', 'DATE', 'DATE', 'DATE', 'DATE']);
  });

  it('EXTRACT(part FROM ts AT TIME ZONE zone) reads the wall time in that zone', async () => {
    const r = await row(`SELECT EXTRACT(DAY FROM TIMESTAMP '2008-12-25 05:30:00+00' AT TIME ZONE 'America/Los_Angeles') AS a,
      EXTRACT(HOUR FROM TIMESTAMP('2008-12-25 05:30:00+00') AT TIME ZONE 'Asia/Kolkata') AS b, EXTRACT(HOUR FROM TIMESTAMP '2008-12-25 05:30:00+00') AS c,
      EXTRACT(DATE FROM TIMESTAMP '2008-12-25 20:30:00+00' AT TIME ZONE 'Asia/Tokyo') AS d`);
    expect(r.values).toEqual(['24', '11', '5', '2008-12-26']);
    expect(r.types).toEqual(['INTEGER', 'INTEGER', 'INTEGER', 'DATE']);
  });
});
