/**
 * Differential test of the emulator's native masks through the real gateway (issue 21 target 4):
 * two gateway processes with their embedded emulators, one with BQGATE_EMULATOR_NATIVE_MASKS=0 (the
 * translated GoogleSQL spellings), one with the default (native), the benchmark's policy
 * (bench/policies: EMAIL_MASK, SHA256, LAST_FOUR_CHARACTERS, HMAC_SHA256, a row filter). The same
 * masked queries through the real SDK must return the same rows. Both gateways read the same HMAC
 * key: the second starts with a copy of the first's keys.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startGateway, type TestGateway } from './helpers/gateway.ts';

let native: TestGateway;
let translated: TestGateway;
const policies = resolve('bench', 'policies');

beforeAll(async () => {
  native = await startGateway({ env: { BQGATE_POLICIES: policies } });
  const copy = mkdtempSync(join(tmpdir(), 'bqgate-native-masks-'));
  cpSync(join(native.dataDir, 'keys'), join(copy, 'keys'), { recursive: true }); // the same HMAC key and dev issuer
  translated = await startGateway({ dataDir: copy, env: { BQGATE_POLICIES: policies, BQGATE_EMULATOR_NATIVE_MASKS: '0' } });
}, 240_000);
afterAll(async () => { await native?.stop(); await translated?.stop(); });

const QUERIES = [
  'SELECT customer_id, full_name, email, phone, country FROM `demo-project.shop.customers` ORDER BY customer_id LIMIT 100',
  'SELECT customer_id, card_number, email FROM `demo-project.shop.customers` WHERE customer_id > 9000 ORDER BY customer_id',
  // Masked values in predicates, grouping and joins: they must be the masked ones on both paths.
  "SELECT SUBSTR(email, 1, 6) AS e, COUNT(*) AS n FROM `demo-project.shop.customers` WHERE phone LIKE '%a%' GROUP BY e ORDER BY e",
  'SELECT a.customer_id, b.full_name FROM `demo-project.shop.customers` a JOIN `demo-project.shop.customers` b ON a.full_name = b.full_name WHERE a.customer_id < 50 ORDER BY a.customer_id',
];

describe('native masks through the gateway', () => {
  for (const sql of QUERIES) {
    it(`same rows native and translated: ${sql.slice(0, 70)}…`, async () => {
      const claims = { sub: 'native-masks-agent', groups: ['bench-agents'] };
      const [on] = await native.sdk(await native.token(claims)).query({ query: sql, useLegacySql: false });
      const [off] = await translated.sdk(await translated.token(claims)).query({ query: sql, useLegacySql: false });
      console.log(`${on.length} rows; first: ${JSON.stringify(on[0]).slice(0, 200)}`);
      expect(on.length).toBeGreaterThan(0);
      expect(on).toEqual(off);
    });
  }

  it('the masks are applied on both (no raw e-mail address comes back)', async () => {
    const claims = { sub: 'native-masks-agent', groups: ['bench-agents'] };
    const sql = 'SELECT email, phone FROM `demo-project.shop.customers` ORDER BY customer_id LIMIT 20';
    for (const gw of [native, translated]) {
      const [rows] = await gw.sdk(await gw.token(claims)).query({ query: sql, useLegacySql: false });
      for (const r of rows) {
        expect(r.email).toMatch(/^(XXXXX@\S+|[0-9a-f]{64})$/);
        expect(r.phone).toMatch(/^[0-9a-f]{64}$/);
      }
    }
  });
});
