/**
 * The emulator's reused connections and prepared statements (src/emulator/connections.ts), on the
 * real engine: a statement run again reuses its prepared statement, yet never another request's
 * bound values, another default dataset's name resolution, a view's old definition, or a
 * connection a cancelled statement left behind; concurrent runs of one text each get their own.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolve } from 'node:path';
import { Engine, type RunContext } from '../src/emulator/engine.ts';

let engine: Engine;
const ctx: RunContext = { projectId: 'demo-project' };
const named = (name: string, type: string, value: string) => ({ name, parameterType: { type }, parameterValue: { value } });
const values = (r: { rows: unknown[][] }) => r.rows.map((row) => row.map((v) => (typeof v === 'bigint' ? Number(v) : v)));

beforeAll(async () => {
  engine = await Engine.open(resolve('fixtures'));
  for (const [d, x] of [['conn_a', 1], ['conn_b', 2]] as const) {
    await engine.run(`CREATE SCHEMA \`demo-project.${d}\``, ctx);
    await engine.run(`CREATE TABLE \`demo-project.${d}.t\` AS SELECT ${x} AS x`, ctx);
  }
}, 120_000);
afterAll(() => { engine = undefined as never; });

describe('emulator prepared statement reuse', () => {
  it("a parameterized query run again binds this request's values, never the previous request's", async () => {
    const sql = 'SELECT @v AS v';
    expect(values(await engine.run(sql, { ...ctx, queryParameters: [named('v', 'INT64', '41')] }))).toEqual([[41]]);
    expect(values(await engine.run(sql, { ...ctx, queryParameters: [named('v', 'STRING', 'text')] }))).toEqual([['text']]);
    // Without parameters the statement cannot run: the 'text' bound before must not be reused.
    await expect(engine.run(sql, ctx)).rejects.toThrow(/v/);
    expect(values(await engine.run(sql, { ...ctx, queryParameters: [named('v', 'INT64', '7')] }))).toEqual([[7]]);
  });

  it('concurrent runs of one text each read their own parameter', async () => {
    const sql = 'SELECT @v AS v, COUNT(*) AS n FROM `demo-project.shop.orders` WHERE order_id > @v';
    const out = await Promise.all(Array.from({ length: 24 }, (_, i) => engine.run(sql, { ...ctx, queryParameters: [named('v', 'INT64', String(i))] })));
    expect(out.map((r) => values(r)[0][0])).toEqual(Array.from({ length: 24 }, (_, i) => i));
  });

  it('an unqualified name resolves in the default dataset of each run', async () => {
    for (const [d, x] of [['conn_a', 1], ['conn_b', 2], ['conn_a', 1], ['conn_b', 2]] as const) {
      expect(values(await engine.run('SELECT x FROM t', { ...ctx, defaultDataset: { projectId: 'demo-project', datasetId: d } }))).toEqual([[x]]);
    }
  });

  it("a view replaced between two runs of one query is read as it now is (also in a dry run's schema)", async () => {
    await engine.run('CREATE OR REPLACE VIEW `demo-project.conn_a.v` AS SELECT x FROM `demo-project.conn_a.t`', ctx);
    const sql = 'SELECT * FROM `demo-project.conn_a.v`';
    expect(values(await engine.run(sql, ctx))).toEqual([[1]]);
    await engine.run("CREATE OR REPLACE VIEW `demo-project.conn_a.v` AS SELECT x, 'two' AS y FROM `demo-project.conn_a.t`", ctx);
    const after = await engine.run(sql, ctx);
    expect(after.schema.map((f) => f.name)).toEqual(['x', 'y']);
    expect(values(after)).toEqual([[1, 'two']]);
    expect((await engine.run(sql, ctx, { dryRun: true })).schema.map((f) => f.name)).toEqual(['x', 'y']);
  });

  it('a statement cancelled while DuckDB runs it fails; the same and other queries then run with their answers', async () => {
    const heavy = 'SELECT COUNT(*) AS n FROM (SELECT order_id FROM shop.orders WHERE order_id <= 20000) a CROSS JOIN (SELECT order_id FROM shop.orders WHERE order_id <= 20000) b WHERE MOD(a.order_id * b.order_id, 7) = 3';
    const abort = new AbortController();
    const timings: Record<string, number> = {};
    const running = engine.run(heavy, ctx, { signal: abort.signal, timings });
    const executing = setInterval(() => { if (timings.guard !== undefined) abort.abort(new Error('cancelled by the test')); }, 2); // once past the guard: DuckDB is running it
    await expect(running).rejects.toThrow(/cancelled by the test/).finally(() => clearInterval(executing));
    const sql = 'SELECT COUNT(*) AS n FROM `demo-project.shop.orders` WHERE order_id <= 100';
    expect(values(await engine.run(sql, ctx))).toEqual([[100]]);
    expect(values(await engine.run(sql, ctx))).toEqual([[100]]);
    expect(values(await engine.run('SELECT COUNT(*) AS n FROM (SELECT order_id FROM shop.orders WHERE order_id <= 30) a CROSS JOIN (SELECT 1 AS k) b', ctx))).toEqual([[30]]);
  });
});
