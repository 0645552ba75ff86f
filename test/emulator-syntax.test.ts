/**
 * GoogleSQL query syntax the emulator translates around @polyglot-sql/sdk (issue 20), through the
 * emulator over real HTTP, beyond the documentation's own examples (test/emulator-docs.test.ts):
 * the `/` operator's division by zero (src/emulator/translate-divide.ts), `SELECT *` over JOIN … USING
 * (translate-using.ts), SELECT AS STRUCT (translate-struct-select.ts), set operations by name
 * (translate-corresponding.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolve } from 'node:path';
import { startEmulator, newEmulatorSecret, type RunningEmulator } from '../src/emulator/index.ts';
import { emulatorQuery } from './helpers/emulator-http.ts';

let emu: RunningEmulator;
const secret = newEmulatorSecret();
const query = emulatorQuery(() => emu, secret);
const rows = async (sql: string) => {
  const r = await query(sql);
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return { names: r.body.schema.fields.map((f: any) => f.name), rows: (r.body.rows ?? []).map((x: any) => x.f.map((c: any) => c.v)) };
};
const refused = async (sql: string, message: string | RegExp) => {
  const r = await query(sql);
  expect(r.status, JSON.stringify(r.body)).toBe(400);
  expect(r.body.error.errors[0].reason).toBe('invalidQuery');
  expect(r.body.error.message).toMatch(message);
};

beforeAll(async () => { emu = await startEmulator({ fixturesDir: resolve('fixtures'), port: 0, secret }); });
afterAll(async () => { await emu?.close(); });

describe('the / operator (https://cloud.google.com/bigquery/docs/reference/standard-sql/operators#arithmetic_operators)', () => {
  it('dividing by zero is an error for INT64, FLOAT64 and NUMERIC, also on column values', async () => {
    await refused('SELECT 1 / 0', /^division by zero: 1 \/ 0$/);
    await refused('SELECT 1.5 / 0', /^division by zero: 1\.5 \/ 0$/);
    await refused("SELECT NUMERIC '1' / NUMERIC '0'", /^division by zero: /);
    await refused('SELECT 0.0 / 0', /^division by zero: /);
    await refused('SELECT x / y FROM UNNEST([4, 5]) AS x, UNNEST([2, 0]) AS y', /^division by zero: [45] \/ 0$/);
    await refused('SELECT order_id / (customer_id - customer_id) FROM shop.orders LIMIT 1', /^division by zero: /);
  });

  it('keeps precedence and associativity; NULL / 0 is NULL; IEEE_DIVIDE and SAFE_DIVIDE keep theirs', async () => {
    const r = await rows(`SELECT 7 / 2, 2 * 3 / 4, 8 / 2 / 2, 1 + 6 / 3 - 1, -6 / 4, 6 / -4, NULL / 0, CAST(NULL AS INT64) / 0,
      IEEE_DIVIDE(1, 0), IEEE_DIVIDE(0, 0), SAFE_DIVIDE(1, 0), '1/0', [8.0, 6.0][OFFSET(1)] / 4, STRUCT(3 AS a).a / 2,
      CASE WHEN TRUE THEN 9 END / 3, (SELECT 10) / 4, 2 / 4 * 2, 100 / 10 / 5 * 2 /* 4 */`);
    expect(r.rows[0]).toEqual(['3.5', '1.5', '2', '2', '-1.5', '-1.5', null, null, 'Infinity', 'NaN', null, '1/0', '1.5', '1.5', '3', '2.5', '1', '4']);
  });

  it('a window over a division by a window', async () => {
    const r = await rows('SELECT SUM(x) OVER (ORDER BY x) / COUNT(*) OVER () AS r FROM UNNEST([1, 2, 3, 4]) AS x ORDER BY x');
    expect(r.rows.map((x: any[]) => x[0])).toEqual(['0.25', '0.75', '1.5', '2.5']);
  });

  it('SAFE. does not apply to operators: a / 0 inside SAFE_CAST is still an error', async () => {
    await refused('SELECT SAFE_CAST(1 / 0 AS STRING)', /^division by zero: 1 \/ 0$/);
  });
});

describe('SELECT * over JOIN … USING (https://cloud.google.com/bigquery/docs/reference/standard-sql/query-syntax#using_clause)', () => {
  const A = "(SELECT 'a' AS x, 1 AS k, 'p' AS z)";
  const B = "(SELECT 'b' AS y, 2 AS k)";
  it('puts the USING columns first, then the left input\'s others, then the right\'s', async () => {
    expect((await rows(`SELECT * FROM ${A} a JOIN (SELECT 'b' AS y, 1 AS k) b USING (k)`)).names).toEqual(['k', 'x', 'z', 'y']);
    const r = await rows('SELECT * FROM shop.orders JOIN shop.customers USING (customer_id) LIMIT 1');
    expect(r.names.slice(0, 3)).toEqual(['customer_id', 'order_id', 'amount']);
  });

  it('FULL JOIN USING: the USING column is the COALESCE of both sides, first', async () => {
    const r = await rows(`SELECT * FROM ${A} a FULL JOIN ${B} b USING (k) ORDER BY k`);
    expect(r.names).toEqual(['k', 'x', 'z', 'y']);
    expect(r.rows).toEqual([['1', 'a', 'p', null], ['2', null, null, 'b']]);
  });

  it('a chain of USING joins: the last join\'s columns first; * EXCEPT and * with other items', async () => {
    const c = "(SELECT 'c' AS w, 7 AS m)";
    expect((await rows(`SELECT * FROM ${A} a JOIN (SELECT 'b' AS y, 1 AS k, 7 AS m) b USING (k) JOIN ${c} c USING (m)`)).names).toEqual(['m', 'k', 'x', 'z', 'y', 'w']);
    expect((await rows(`SELECT * EXCEPT (z), 0 AS n FROM ${A} a LEFT JOIN ${B} b USING (k)`)).names).toEqual(['k', 'x', 'y', 'n']);
    expect((await rows(`SELECT * EXCEPT (k) FROM ${A} a LEFT JOIN ${B} b USING (k)`)).names).toEqual(['x', 'z', 'y']);
  });
});

describe('SELECT AS STRUCT (https://cloud.google.com/bigquery/docs/reference/standard-sql/query-syntax#select_as_struct)', () => {
  const fields = (v: any) => v.f.map((c: any) => c.v);
  it('SELECT AS STRUCT * in ARRAY(…): one STRUCT per row with the columns in order', async () => {
    const r = await query('SELECT ARRAY(SELECT AS STRUCT * FROM shop.orders WHERE order_id < 3 ORDER BY order_id) AS a');
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.schema.fields[0].fields.map((f: any) => f.name)).toEqual(['order_id', 'customer_id', 'amount', 'currency', 'status', 'created_at']);
    expect(r.body.rows[0].f[0].v.map((e: any) => fields(e.v)[0])).toEqual(['1', '2']);
  });

  it('SELECT AS STRUCT a, b in a scalar subquery, nested, correlated; anonymous fields by position across UNION ALL', async () => {
    const r = await query(`SELECT (SELECT AS STRUCT t.x, x + 1, y AS z, (SELECT AS STRUCT y * 10 AS w) AS s) AS v,
      ARRAY(SELECT AS STRUCT 1, 'a' UNION ALL SELECT AS STRUCT 2, 'b') AS arr FROM (SELECT 1 AS x, 2 AS y) AS t`);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    const [v, arr] = r.body.rows[0].f.map((c: any) => c.v);
    expect(r.body.schema.fields[0].fields.map((f: any) => f.name).filter((n: string) => !n.startsWith('_field_'))).toEqual(['x', 'z', 's']);
    expect(fields(v).slice(0, 3)).toEqual(['1', '2', '2']);
    expect(fields(fields(v)[3])).toEqual(['20']);
    expect(arr.map((e: any) => fields(e.v)).sort()).toEqual([['1', 'a'], ['2', 'b']]);
    expect(r.body.schema.fields[1].fields).toHaveLength(2);
  });
});

describe('set operations by name (https://cloud.google.com/bigquery/docs/reference/standard-sql/query-syntax#corresponding)', () => {
  const A = 'SELECT 1 AS a, 2 AS b';
  it('CORRESPONDING keeps the common columns in the left order; LEFT and FULL modes; BY (list) in the list order', async () => {
    expect(await rows(`${A} UNION ALL CORRESPONDING SELECT 3 AS b, 4 AS c`)).toEqual({ names: ['b'], rows: [['2'], ['3']] });
    expect(await rows(`${A} LEFT UNION ALL CORRESPONDING SELECT 3 AS b, 4 AS c`)).toEqual({ names: ['a', 'b'], rows: [['1', '2'], [null, '3']] });
    expect(await rows(`${A} FULL UNION ALL CORRESPONDING SELECT 3 AS b, 4 AS c`)).toEqual({ names: ['a', 'b', 'c'], rows: [['1', '2', null], [null, '3', '4']] });
    expect(await rows(`${A} UNION ALL CORRESPONDING BY (b, a) SELECT 3 AS b, 4 AS a`)).toEqual({ names: ['b', 'a'], rows: [['2', '1'], ['3', '4']] });
  });

  it('INTERSECT / EXCEPT by name compare the columns by name; ORDER BY applies to the whole operation', async () => {
    const t = '(SELECT 1 AS a, 10 AS b UNION ALL SELECT 2, 20)';
    expect((await rows(`SELECT a, b FROM ${t} INTERSECT DISTINCT CORRESPONDING SELECT 10 AS b, 1 AS a`)).rows).toEqual([['1', '10']]);
    expect((await rows(`SELECT a, b FROM ${t} EXCEPT DISTINCT BY NAME SELECT 10 AS b, 1 AS a ORDER BY a`)).rows).toEqual([['2', '20']]);
  });

  it('parenthesized inputs (as the pipe UNION / INTERSECT / EXCEPT desugar), in a subquery too', async () => {
    expect(await rows(`(${A}) UNION ALL CORRESPONDING (SELECT 3 AS b, 4 AS a)`)).toEqual({ names: ['a', 'b'], rows: [['1', '2'], ['4', '3']] });
    expect(await rows(`SELECT b FROM ((${A}) UNION ALL CORRESPONDING (SELECT 3 AS b, 4 AS a)) ORDER BY b`)).toEqual({ names: ['b'], rows: [['2'], ['3']] });
    expect(await rows(`(${A}) EXCEPT DISTINCT CORRESPONDING (SELECT 2 AS b, 1 AS a)`)).toEqual({ names: ['a', 'b'], rows: [] });
  });

  it('BY NAME and STRICT CORRESPONDING refuse inputs with other column names', async () => {
    await refused(`${A} UNION ALL BY NAME SELECT 3 AS b, 4 AS c`, /same column names/);
    await refused(`${A} UNION ALL STRICT CORRESPONDING SELECT 3 AS b`, /same column names/);
  });
});

describe('a STRUCT expression\'s fields as columns (https://cloud.google.com/bigquery/docs/reference/standard-sql/query-syntax#select_expression_star)', () => {
  const L = "WITH l AS (SELECT STRUCT('Seattle' AS city, STRUCT('WA' AS code, 7 AS n) AS state) AS location, [STRUCT(1 AS x, 'a' AS y), STRUCT(2 AS x, 'b' AS y)] AS arr)";
  it('path.* and element.* expand the fields in order, beside other columns; a string holding .* is left alone', async () => {
    expect(await rows(`${L} SELECT t.location.*, 'a.*' AS s FROM l AS t`)).toEqual({ names: ['city', 'state', 's'], rows: [['Seattle', { f: [{ v: 'WA' }, { v: '7' }] }, 'a.*']] });
    expect(await rows(`${L} SELECT t.location.state.* FROM l AS t`)).toEqual({ names: ['code', 'n'], rows: [['WA', '7']] });
    expect(await rows(`${L} SELECT t.arr[OFFSET(1)].* FROM l AS t`)).toEqual({ names: ['x', 'y'], rows: [['2', 'b']] });
    expect(await rows(`${L} SELECT t.arr[ORDINAL(1)].* FROM l AS t`)).toEqual({ names: ['x', 'y'], rows: [['1', 'a']] });
    expect(await rows(`${L} SELECT location.* FROM l`)).toEqual({ names: ['city', 'state'], rows: [['Seattle', { f: [{ v: 'WA' }, { v: '7' }] }]] });
  });
});

describe('quantified LIKE (https://cloud.google.com/bigquery/docs/reference/standard-sql/operators#quantified_like_operator)', () => {
  it('LIKE ANY|SOME|ALL UNNEST(array) and (list) answer as BigQuery: TRUE / FALSE, NULL when undecided, FALSE (ANY) and TRUE (ALL) over no pattern', async () => {
    expect((await rows("SELECT 'a' LIKE ANY UNNEST(ARRAY<STRING>[]), 'a' LIKE ALL UNNEST(ARRAY<STRING>[]), 'ab' LIKE ALL UNNEST(['a%', '%b']), "
      + "'ab' NOT LIKE ANY UNNEST(['a%', 'x']), 'ab' LIKE ANY UNNEST(['x', NULL]), 'ab' LIKE ANY UNNEST(['a%', NULL]), 'ab' LIKE SOME ('x', 'a%'), 'ab' LIKE ALL ('x', 'a%')")).rows)
      .toEqual([['false', 'true', 'true', 'true', null, 'true', 'true', 'false']]);
    expect((await rows("SELECT w FROM UNNEST(['Intend with clarity.', 'Secure with intention.', 'Clarity and security.']) AS w WHERE w LIKE ANY UNNEST(ARRAY(SELECT e FROM UNNEST(['%ion%', '%and%']) AS e)) ORDER BY w")).rows)
      .toEqual([['Clarity and security.'], ['Secure with intention.']]);
  });
});
