/**
 * NUMERIC, BIGNUMERIC and FLOAT64 through the real gateway and the @google-cloud/bigquery SDK
 * (issue 20): the SDK decodes NUMERIC and BIGNUMERIC as Big (big.js) and FLOAT64 as a number, so the
 * schema types the emulator reports decide what an agent's code gets; a NUMERIC overflow reaches
 * the SDK as BigQuery's invalidQuery error; INSERT without INTO runs
 * (https://cloud.google.com/bigquery/docs/reference/standard-sql/data-types#decimal_types,
 * https://cloud.google.com/bigquery/docs/reference/standard-sql/dml-syntax#insert_statement).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BigQuery } from '@google-cloud/bigquery';
import { apiError, type TestGateway } from './helpers/gateway.ts';
import { startDemoAndAdminGateway } from './helpers/admin-policy.ts';

let gw: TestGateway;
let sdk: BigQuery;

beforeAll(async () => {
  let tokens: Record<'admin', string>;
  ({ gw, tokens } = await startDemoAndAdminGateway('numeric', { admin: ['test-admins'] }));
  sdk = gw.sdk(tokens.admin);
}, 120_000);
afterAll(async () => { await gw?.stop(); });

describe('decimal and float values through the gateway and the SDK', () => {
  it('FLOAT64 literals are numbers; NUMERIC and BIGNUMERIC are Big with their exact digits', async () => {
    const [rows] = await sdk.query({ query: "SELECT 1.5 AS f, NUMERIC '12345678901234567890.123456789' AS n, BIGNUMERIC '0.1234567890123456789' AS b, NUMERIC '1.123456789' * NUMERIC '1.123456789' AS nn", useLegacySql: false });
    const r = rows[0];
    expect(r.f).toBe(1.5);
    expect(r.n.constructor.name).toBe('Big');
    expect(r.n.toFixed()).toBe('12345678901234567890.123456789');
    expect(r.b.constructor.name).toBe('Big');
    expect(r.b.toFixed()).toBe('0.1234567890123456789');
    expect(r.nn.toFixed()).toBe('1.262155157');
  });

  it('a NUMERIC overflow is the invalidQuery error "numeric overflow", not a value', async () => {
    const err = await apiError(sdk.query({ query: "SELECT NUMERIC '99999999999999999999999999999' * 10 AS x", useLegacySql: false }));
    expect(err.errors?.[0]?.reason).toBe('invalidQuery');
    expect(err.message).toMatch(/numeric overflow/);
  });

  it('INSERT without INTO writes the row, with the column\'s NUMERIC(P, S) rounding', async () => {
    await sdk.query({ query: 'CREATE TABLE `demo-project.shop.numeric_gw` (a NUMERIC(10, 2), f FLOAT64)', useLegacySql: false });
    await sdk.query({ query: "INSERT `demo-project.shop.numeric_gw` (a, f) VALUES (NUMERIC '1.255', 2.5)", useLegacySql: false });
    const [rows] = await sdk.query({ query: 'SELECT a, f FROM `demo-project.shop.numeric_gw`', useLegacySql: false });
    expect(rows.map((r: any) => [r.a.toFixed(), r.f])).toEqual([['1.26', 2.5]]);
    await sdk.query({ query: 'DROP TABLE `demo-project.shop.numeric_gw`', useLegacySql: false });
  });
});
