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
    const sql = 'SELECT customer_id, email, phone FROM `demo-project.shop.customers` TABLESAMPLE SYSTEM (50 PERCENT)';
    const [rows] = await sdk.query({ query: sql, useLegacySql: false });
    const [all] = await sdk.query({ query: 'SELECT COUNT(*) AS n FROM `demo-project.shop.customers`', useLegacySql: false });
    console.log(`${rows.length} of ${all[0].n} rows sampled`);
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.length).toBeLessThan(Number(all[0].n));
    for (const r of rows) {
      expect(r.email).toMatch(/^(XXXXX@\S+|[0-9a-f]{64})$/);
      expect(r.phone).toMatch(/^[0-9a-f]{64}$/);
    }
    const sent = (await auditRequests(gw.dataDir)).filter((r) => r.sql === sql && r.upstream?.sql).map((r) => r.upstream!.sql!);
    expect(sent.length).toBeGreaterThan(0);
    for (const s of sent) expect(s).toMatch(/FROM \(SELECT .*IF\(REGEXP_CONTAINS\(`email`.* AS `customers` TABLESAMPLE SYSTEM \(50 PERCENT\)/i); // the masking projection is sampled
  });
});
