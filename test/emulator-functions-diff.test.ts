/**
 * Functions whose emulator answer differed from the one BigQuery documents (issue 20, the docs cases'
 * "another value than documented"; src/emulator/translate-semantics.ts and the files it names),
 * through the emulator over real HTTP: BigQuery's answers beyond the pages' own examples
 * (test/emulator-docs.test.ts) — ARRAY_SLICE's offsets, lambda indexes, NULL series, STRING_AGG …
 * LIMIT, BIT_*(DISTINCT), APPROX_QUANTILES' boundaries, FORMAT_* elements, ARRAY_INCLUDES, PERCENTILE_DISC, and
 * the TIME functions and time-zone forms of src/emulator/time-functions.ts (FORMAT_TIME, PARSE_TIME, TIME_TRUNC,
 * FORMAT_TIMESTAMP(f, ts, zone), DATE(ts, zone), EXTRACT(… AT TIME ZONE zone)).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolve } from 'node:path';
import { startEmulator, newEmulatorSecret, type RunningEmulator } from '../src/emulator/index.ts';
import { emulatorQuery } from './helpers/emulator-http.ts';

let emu: RunningEmulator;
const secret = newEmulatorSecret();
const query = emulatorQuery(() => emu, secret);
/** The answer's body, asserting a 200. */
const answer = async (sql: string) => {
  const r = await query(sql);
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body;
};
/** The first row's cells, an ARRAY cell as the list of its element values. */
const row = async (sql: string) => (await answer(sql)).rows[0].f.map((c: any) => (Array.isArray(c.v) ? c.v.map((e: any) => e.v) : c.v));
/** The first row's cell values and the result's column types. */
const typed = async (sql: string) => {
  const b = await answer(sql);
  return { values: b.rows[0].f.map((c: any) => c.v), types: b.schema.fields.map((f: any) => f.type) };
};
const refused = async (sql: string, text: RegExp) => {
  const r = await query(sql);
  expect(r.status, JSON.stringify(r.body)).toBe(400);
  expect(r.body.error.message).toMatch(text);
};

beforeAll(async () => { emu = await startEmulator({ fixturesDir: resolve('fixtures'), port: 0, secret }); });
afterAll(async () => { await emu?.close(); });

describe('array functions (https://cloud.google.com/bigquery/docs/reference/standard-sql/array_functions)', () => {
  it('ARRAY_SLICE: 0-based inclusive offsets, negative from the end, clamped, empty when start passes end, NULL for a NULL bound', async () => {
    const a = "['a', 'b', 'c', 'd', 'e']";
    expect(await row(`SELECT ARRAY_SLICE(${a}, 1, 3), ARRAY_SLICE(${a}, -3, -1), ARRAY_SLICE(${a}, 1, -3), ARRAY_SLICE(${a}, -30, -5),
      ARRAY_SLICE(${a}, 4, 1), ARRAY_SLICE(${a}, 5, 30), ARRAY_SLICE(${a}, 0, 0), ARRAY_SLICE(${a}, 1, NULL) IS NULL, ARRAY_SLICE(CAST(NULL AS ARRAY<INT64>), 0, 1) IS NULL`))
      .toEqual([['b', 'c', 'd'], ['c', 'd', 'e'], ['b', 'c'], ['a'], [], [], ['a'], 'true', 'true']);
  });

  it('ARRAY_FILTER / ARRAY_TRANSFORM: the lambda\'s second parameter is the 0-based index; a field or string of that name is left alone', async () => {
    expect(await row(`SELECT ARRAY_FILTER([0, 2, 3], (e, i) -> e > i), ARRAY_TRANSFORM([1, 4, 3], (e, i) -> e + i),
      ARRAY_TRANSFORM([10, 20], (x, idx) -> CONCAT('idx', CAST(idx AS STRING))), ARRAY_TRANSFORM([1, 2], e -> e * 2)`))
      .toEqual([['2', '3'], ['1', '5', '5'], ['idx0', 'idx1'], ['2', '4']]);
  });

  it('ARRAY_INCLUDES: a value (NULL for a NULL array or value) or a lambda (with its 0-based index), nested', async () => {
    expect(await row(`SELECT ARRAY_INCLUDES([1, 2, 3], 2), ARRAY_INCLUDES([1, 2, 3], 0), ARRAY_INCLUDES(CAST(NULL AS ARRAY<INT64>), 1) IS NULL, ARRAY_INCLUDES([1, 2], NULL) IS NULL,
      ARRAY_INCLUDES(['a', 'bb'], e -> LENGTH(e) > 1), ARRAY_INCLUDES([5, 1], (e, i) -> e = i), ARRAY_INCLUDES([5, 7], (e, i) -> e = i),
      ARRAY_INCLUDES([[1], [2, 3]], a -> ARRAY_INCLUDES(a, 3)), ARRAY_INCLUDES(CAST(NULL AS ARRAY<INT64>), e -> e > 0) IS NULL`))
      .toEqual(['true', 'false', 'true', 'true', 'true', 'true', 'false', 'true', 'true']);
  });

  it('GENERATE_ARRAY / GENERATE_DATE_ARRAY / GENERATE_TIMESTAMP_ARRAY are NULL when an argument is NULL (the REST row shows [] for it, as BigQuery\'s does)', async () => {
    expect(await row(`SELECT GENERATE_ARRAY(5, NULL, 1) IS NULL, GENERATE_DATE_ARRAY('2016-10-05', NULL) IS NULL,
      GENERATE_TIMESTAMP_ARRAY('2016-10-05 00:00:00', NULL, INTERVAL 1 HOUR) IS NULL, GENERATE_ARRAY(3, 1) IS NULL, GENERATE_ARRAY(1, 7, 3), GENERATE_ARRAY(5, NULL)`))
      .toEqual(['true', 'true', 'true', 'false', ['1', '4', '7'], []]);
  });
});

describe('aggregate functions (https://cloud.google.com/bigquery/docs/reference/standard-sql/aggregate_functions)', () => {
  it('STRING_AGG … LIMIT n joins the first n non-NULL values (DISTINCT and ORDER BY kept, the delimiter defaulting to ",")', async () => {
    expect(await row(`SELECT STRING_AGG(f, ' & ' LIMIT 2), STRING_AGG(DISTINCT f, ' & ' ORDER BY f DESC LIMIT 2), STRING_AGG(f ORDER BY f LIMIT 3),
      STRING_AGG(f, '-') FROM UNNEST(['apple', NULL, 'pear', 'banana', 'pear']) AS f WITH OFFSET o`))
      .toEqual(['apple & pear', 'pear & banana', 'apple,banana,pear', 'apple-pear-banana-pear']);
  });

  it('ARRAY_AGG(… IGNORE NULLS … LIMIT n) drops the NULLs before taking n', async () => {
    expect(await row('SELECT ARRAY_AGG(x IGNORE NULLS ORDER BY x DESC LIMIT 2) FROM UNNEST([3, NULL, 1, NULL, 2]) AS x')).toEqual([['3', '2']]);
  });

  it('BIT_XOR / BIT_OR / BIT_AND (DISTINCT x) aggregate the distinct values', async () => {
    expect(await row('SELECT BIT_XOR(DISTINCT x), BIT_XOR(x), BIT_OR(DISTINCT x), BIT_AND(DISTINCT x) FROM UNNEST([1234, 5678, 1234]) AS x'))
      .toEqual(['4860', '5678', '5886', '1026']);
  });
});

describe('APPROX_QUANTILES (https://cloud.google.com/bigquery/docs/reference/standard-sql/approximate_aggregate_functions#approx_quantiles)', () => {
  it('the n + 1 boundaries: the value at rank floor(i·(m−1)/n) of the m sorted values; DISTINCT first; RESPECT NULLS sorts NULLs first', async () => {
    expect(await row(`SELECT APPROX_QUANTILES(x, 2), APPROX_QUANTILES(DISTINCT x, 2), APPROX_QUANTILES(x, 2 RESPECT NULLS),
      APPROX_QUANTILES(DISTINCT x, 2 RESPECT NULLS), APPROX_QUANTILES(x, 4 IGNORE NULLS), APPROX_QUANTILES(x, 100)[OFFSET(90)]
      FROM UNNEST([NULL, NULL, 1, 1, 1, 4, 5, 6, 7, 8, 9, 10]) AS x`))
      .toEqual([['1', '5', '10'], ['1', '6', '10'], [null, '4', '10'], [null, '6', '10'], ['1', '1', '5', '7', '10'], '9']);
  });

  it('per group, over no rows (NULL, delivered as []), and with a non-positive number of quantiles (an error)', async () => {
    const r = await query('SELECT g, APPROX_QUANTILES(x, 1) FROM UNNEST([STRUCT(1 AS g, 3 AS x), (1, 1), (2, 7)]) GROUP BY g ORDER BY g');
    expect(r.body.rows.map((x: any) => [x.f[0].v, x.f[1].v.map((e: any) => e.v)])).toEqual([['1', ['1', '3']], ['2', ['7', '7']]]);
    expect(await row('SELECT APPROX_QUANTILES(x, 2) IS NULL FROM UNNEST(CAST([] AS ARRAY<INT64>)) AS x')).toEqual(['true']);
    await refused('SELECT APPROX_QUANTILES(x, 0) FROM UNNEST([1, 2]) AS x', /number of quantiles must be positive/);
  });
});

describe('format elements (https://cloud.google.com/bigquery/docs/reference/standard-sql/format-elements#format_elements_date_time)', () => {
  it('%x and %D are MM/DD/YY, %F is YYYY-MM-DD, %X and %T are HH:MM:SS, %R is HH:MM; %% stays a percent sign', async () => {
    expect(await row(`SELECT FORMAT_DATE('%x', DATE '2008-12-25'), FORMAT_DATE('%D|%F', DATE '2008-12-25'),
      FORMAT_TIMESTAMP('%X %T %R %%x', TIMESTAMP '2008-12-25 15:30:05+00'), FORMAT_DATETIME('%F %T', DATETIME '2008-12-25 15:30:05')`))
      .toEqual(['12/25/08', '12/25/08|2008-12-25', '15:30:05 15:30:05 15:30 %x', '2008-12-25 15:30:05']);
  });
});

describe('CORR and STRING(timestamp, zone)', () => {
  it('CORR is NULL with fewer than two non-NULL pairs (https://cloud.google.com/bigquery/docs/reference/standard-sql/statistical_aggregate_functions#corr)', async () => {
    expect(await row('SELECT CORR(y, x) FROM UNNEST([STRUCT(1.0 AS y, NULL AS x), (9.0, 3.0)])')).toEqual([null]);
    const [c] = await row('SELECT CORR(y, x) FROM UNNEST([STRUCT(1.0 AS y, 5.0 AS x), (9.0, 3.0), (2.0, 6.0)])');
    expect(Number(c)).toBeCloseTo(-0.901127113779166, 12);
  });

  it('STRING(timestamp, zone) carries the zone\'s offset (https://cloud.google.com/bigquery/docs/reference/standard-sql/timestamp_functions#string)', async () => {
    expect(await row(`SELECT STRING(TIMESTAMP '2008-12-25 15:30:00+00', 'UTC'), STRING(TIMESTAMP '2008-12-25 15:30:00.25+00', 'America/Los_Angeles'),
      STRING(TIMESTAMP '2008-12-25 15:30:00+00', 'Asia/Kolkata'), STRING(TIMESTAMP '2008-12-25 15:30:00+00'), CAST(12 AS STRING)`))
      .toEqual(['2008-12-25 15:30:00+00', '2008-12-25 07:30:00.25-08', '2008-12-25 21:00:00+05:30', '2008-12-25 15:30:00+00', '12']);
  });
});

describe('anonymous STRUCTs in a set operation (https://cloud.google.com/bigquery/docs/reference/standard-sql/operators#in_operators)', () => {
  it('take the field names of the named STRUCT they unify with, by position; alone they keep two fields', async () => {
    const r = await query(`SELECT * FROM (SELECT STRUCT('blue' AS color, 'round' AS shape) AS info UNION ALL SELECT STRUCT('red', 'square')) ORDER BY info.color`);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.schema.fields[0].fields.map((f: any) => f.name)).toEqual(['color', 'shape']);
    expect(r.body.rows.map((x: any) => x.f[0].v.f.map((c: any) => c.v))).toEqual([['blue', 'round'], ['red', 'square']]);
    const [s] = await row('SELECT STRUCT(1, 2)');
    expect(s.f.map((c: any) => c.v)).toEqual(['1', '2']);
  });
});

describe('navigation functions (https://cloud.google.com/bigquery/docs/reference/standard-sql/navigation_functions#percentile_disc)', () => {
  it('PERCENTILE_DISC: the first value whose cumulative distribution reaches p, NULLs ignored, per partition; RESPECT NULLS is refused, never answered as IGNORE NULLS', async () => {
    expect(await row(`SELECT PERCENTILE_DISC(x, 0.26) OVER (), PERCENTILE_DISC(x, 0.75) OVER (), PERCENTILE_DISC(x, 0.76) OVER (), PERCENTILE_DISC(x, 0) OVER ()
      FROM UNNEST([4, NULL, 2, 1, 3]) AS x`)).toEqual(['2', '3', '4', '1']);
    expect(await row(`SELECT ARRAY_AGG(m ORDER BY g) FROM (SELECT DISTINCT g, PERCENTILE_DISC(x, 0.5) OVER (PARTITION BY g) AS m FROM UNNEST([STRUCT('a' AS g, 1 AS x), ('a', 9), ('a', 5), ('b', 7)]))`)).toEqual([['5', '7']]);
    await refused('SELECT PERCENTILE_DISC(x, 0.5 RESPECT NULLS) OVER () FROM UNNEST([1, NULL]) AS x', /RESPECT NULLS/);
    await refused('SELECT PERCENTILE_CONT(x, 0.5 RESPECT NULLS) OVER () FROM UNNEST([1, NULL]) AS x', /RESPECT NULLS/);
  });
});

describe('time functions (https://cloud.google.com/bigquery/docs/reference/standard-sql/time_functions)', () => {
  it('FORMAT_TIME, PARSE_TIME and TIME_TRUNC answer TIME values as BigQuery documents, nested too', async () => {
    const r = await typed(`SELECT FORMAT_TIME('%H:%M:%S', TIME '15:30:12') AS a, FORMAT_TIME('%I %p', TIME_TRUNC(TIME '15:30:12.5', MINUTE)) AS b,
      PARSE_TIME('%H:%M', '07:05') AS c, TIME_TRUNC(PARSE_TIME('%I:%M:%S %p', '11:59:59 PM'), HOUR) AS d, TIME_TRUNC(TIME '15:30:12.345678', SECOND) AS e`);
    expect(r.values).toEqual(['15:30:12', '03 PM', '07:05:00', '23:00:00', '15:30:12']);
    expect(r.types).toEqual(['STRING', 'STRING', 'TIME', 'TIME', 'TIME']);
  });
});

describe('time zones (https://cloud.google.com/bigquery/docs/reference/standard-sql/timestamp_functions#format_timestamp, date_functions#date)', () => {
  it("FORMAT_TIMESTAMP(f, ts, zone) prints the zone's wall time; DATE(ts, zone) is the zone's date; DATE's other forms are unchanged", async () => {
    const r = await typed(`SELECT FORMAT_TIMESTAMP('%Y-%m-%d %H:%M', TIMESTAMP '2008-12-25 15:30:00+00', 'America/Los_Angeles') AS a,
      FORMAT_TIMESTAMP('%H:%M', TIMESTAMP '2008-12-25 15:30:00+00', 'Asia/Kolkata') AS b,
      DATE(TIMESTAMP '2016-12-25 05:30:00+07', 'America/Los_Angeles') AS c, DATE(TIMESTAMP '2016-12-25 23:30:00+00', 'Asia/Tokyo') AS d,
      DATE(2016, 12, 25) AS e, DATE(DATETIME '2016-12-25 23:59:59') AS f`);
    expect(r.values).toEqual(['2008-12-25 07:30', '21:00', '2016-12-24', '2016-12-26', '2016-12-25', '2016-12-25']);
    expect(r.types).toEqual(['STRING', 'STRING', 'DATE', 'DATE', 'DATE', 'DATE']);
  });

  it('EXTRACT(part FROM ts AT TIME ZONE zone) reads the wall time in that zone', async () => {
    const r = await typed(`SELECT EXTRACT(DAY FROM TIMESTAMP '2008-12-25 05:30:00+00' AT TIME ZONE 'America/Los_Angeles') AS a,
      EXTRACT(HOUR FROM TIMESTAMP('2008-12-25 05:30:00+00') AT TIME ZONE 'Asia/Kolkata') AS b, EXTRACT(HOUR FROM TIMESTAMP '2008-12-25 05:30:00+00') AS c,
      EXTRACT(DATE FROM TIMESTAMP '2008-12-25 20:30:00+00' AT TIME ZONE 'Asia/Tokyo') AS d`);
    expect(r.values).toEqual(['24', '11', '5', '2008-12-26']);
    expect(r.types).toEqual(['INTEGER', 'INTEGER', 'INTEGER', 'DATE']);
  });
});
