/**
 * Emulator query syntax through the real gateway and SDK (issue 20): the `/` operator's division by
 * zero arrives as BigQuery's error envelope (invalidQuery), and TABLESAMPLE on a governed table
 * samples the masked rows — what goes upstream reads the table through its masking projection
 * (https://cloud.google.com/bigquery/docs/reference/standard-sql/query-syntax#tablesample_operator).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolve } from 'node:path';
import { apiError, auditRequests, startGateway, type TestGateway } from './helpers/gateway.ts';

let gw: TestGateway;
const claims = { sub: 'syntax-agent', groups: ['bench-agents'] };

beforeAll(async () => { gw = await startGateway({ env: { BQGATE_POLICIES: resolve('bench', 'policies') } }); }, 120_000);
afterAll(async () => { await gw?.stop(); });

describe('emulator syntax through the gateway', () => {
  it('x / 0 is the invalidQuery error "division by zero: x / 0"', async () => {
    const sdk = gw.sdk(await gw.token(claims));
    const err = await apiError(sdk.query({ query: 'SELECT order_id / (order_id - order_id) AS r FROM `demo-project.shop.orders` WHERE order_id = 7', useLegacySql: false }));
    expect(err.errors?.[0]?.reason).toBe('invalidQuery');
    expect(err.message).toMatch(/division by zero: 7 \/ 0/);
  });

  it('TABLESAMPLE SYSTEM on a masked table: a sample of the masked rows, never a raw value', async () => {
    const sdk = gw.sdk(await gw.token(claims));
    const sqlOf = (run: number) => `SELECT customer_id, email, phone, ${run} AS run FROM \`demo-project.shop.customers\` TABLESAMPLE SYSTEM (50 PERCENT)`;
    const [all] = await sdk.query({ query: 'SELECT COUNT(*) AS n FROM `demo-project.shop.customers`', useLegacySql: false });
    // DuckDB samples SYSTEM by vectors of 2,048 rows, as BigQuery samples by storage blocks: one run
    // of a 10,000-row table may return every row or none (each about 3% at 50 PERCENT), so the
    // sample is checked over six runs: some run returns a proper part, and no run a raw value. Each
    // run is its own statement: a prepared statement the emulator reuses keeps its sample's seed.
    const sizes: number[] = [];
    for (let run = 0; run < 6; run++) {
      const [rows] = await sdk.query({ query: sqlOf(run), useLegacySql: false });
      sizes.push(rows.length);
      for (const r of rows) {
        expect(r.email).toMatch(/^(XXXXX@\S+|[0-9a-f]{64})$/);
        expect(r.phone).toMatch(/^[0-9a-f]{64}$/);
      }
    }
    console.log(`rows sampled of ${all[0].n}, six runs: ${sizes.join(', ')}`);
    expect(sizes.some((n) => n > 0 && n < Number(all[0].n))).toBe(true);
    const runs = new Set(Array.from({ length: 6 }, (_, run) => sqlOf(run)));
    const sent = (await auditRequests(gw.dataDir)).filter((r) => runs.has(r.sql ?? "") && r.upstream?.sql).map((r) => r.upstream!.sql!);
    expect(sent.length).toBe(6);
    for (const s of sent) expect(s).toMatch(/FROM \(SELECT .*IF\(REGEXP_CONTAINS\(`email`.* AS `customers` TABLESAMPLE SYSTEM \(50 PERCENT\)/i); // the masking projection is sampled
  });
});
