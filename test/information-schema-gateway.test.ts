/**
 * INFORMATION_SCHEMA through the real gateway and its embedded emulator (issue 20), with the real
 * SDK. The gateway governs the views like tables: the demo policy's analysts (whose rules name
 * `demo-project.shop.*`, one segment) are refused; the test administrator (test/fixtures/policies-admin)
 * reads them, and gets what the emulator serves directly.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiError, type TestGateway } from './helpers/gateway.ts';
import { startDemoAndAdminGateway } from './helpers/admin-policy.ts';

let gw: TestGateway;
let tokens: Record<'admin' | 'analyst', string>;
beforeAll(async () => { ({ gw, tokens } = await startDemoAndAdminGateway('infoschema', { admin: ['test-admins'], analyst: ['analysts'] })); }, 240_000);
afterAll(async () => { await gw?.stop(); });

const QUERIES = [
  'SELECT table_name, table_type FROM `demo-project.shop.INFORMATION_SCHEMA.TABLES` ORDER BY table_name',
  "SELECT column_name, ordinal_position, data_type, is_nullable FROM `demo-project`.shop.INFORMATION_SCHEMA.COLUMNS WHERE table_name = 'customers' ORDER BY ordinal_position",
  'SELECT schema_name, location FROM `demo-project`.`region-us`.INFORMATION_SCHEMA.SCHEMATA ORDER BY schema_name',
  'SELECT routine_name, routine_type FROM `demo-project.shop.INFORMATION_SCHEMA.ROUTINES` ORDER BY routine_name',
];

describe('INFORMATION_SCHEMA through the gateway', () => {
  for (const sql of QUERIES) {
    it(`an administrator reads what the emulator serves: ${sql.slice(0, 80)}`, async () => {
      const [viaGateway] = await gw.sdk(tokens.admin).query({ query: sql, useLegacySql: false });
      const [direct] = await gw.emulatorSdk().query({ query: sql, useLegacySql: false });
      console.log(`${viaGateway.length} rows; first ${JSON.stringify(viaGateway[0])}`);
      expect(viaGateway.length).toBeGreaterThan(0);
      expect(viaGateway).toEqual(direct);
    });
  }

  it('an analyst is refused the views (no rule names them), as before the emulator served them', async () => {
    for (const sql of [QUERIES[0], QUERIES[1]]) {
      const e = await apiError(gw.sdk(tokens.analyst).query({ query: sql, useLegacySql: false }));
      console.log(`analyst: ${e.message}`);
      expect(e.errors?.[0]?.reason).toBe('accessDenied');
    }
  });
});
