/**
 * The cache of verified upstream statements (src/pipeline/statement-cache.ts) through the real
 * gateway process, the real SDK and the embedded emulator: the same text from a masked and an
 * unmasked principal, interleaved so each is served after the other's entry exists, gets each its
 * own upstream SQL and rows; a policy reload and a schema change (CREATE OR REPLACE TABLE through the gateway) change
 * what a repeated text sends.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGateway, auditRequests, type TestGateway } from './helpers/gateway.ts';

const policy = (emailRule: string) => `version: 1
rules:
  - id: cache-read
    effect: allow
    principals: { groups: [cache-plain, cache-masked] }
    verbs: [SELECT]
    tables: ["demo-project.shop.*"]
  - id: cache-ddl
    effect: allow
    principals: { groups: [cache-plain] }
    verbs: [SELECT, "CREATE_*"]
    tables: ["demo-project.shop.cache_probe"]
  - id: cache-mask
    effect: mask
    principals: { groups: [cache-masked] }
    masks:
      - { column: demo-project.shop.customers.email, rule: ${emailRule} }
      - { column: demo-project.shop.cache_probe.b, rule: SHA256 }
`;

let gw: TestGateway;
let dir: string;
let plain: string;
let masked: string;
const EMAILS = 'SELECT email FROM `demo-project.shop.customers` ORDER BY customer_id LIMIT 3';

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'bqgate-statement-cache-'));
  writeFileSync(join(dir, 'cache.yaml'), policy('SHA256'));
  gw = await startGateway({ env: { BQGATE_POLICIES: dir } });
  plain = await gw.token({ sub: 'cache-plain-1', groups: ['cache-plain'] });
  masked = await gw.token({ sub: 'cache-masked-1', groups: ['cache-masked'] });
});
afterAll(async () => { await gw?.stop(); });

const rows = async (token: string, query: string) => (await gw.sdk(token).query({ query, useLegacySql: false }))[0] as Array<Record<string, unknown>>;
/** The upstream SQL the audit recorded for each request of `sub` with this text, oldest first. */
const sent = async (sub: string, sql: string) => (await auditRequests(gw.dataDir)).filter((r) => r.principal.endsWith(sub) && r.sql === sql && r.upstream?.sql).map((r) => r.upstream!.sql!);

describe('verified upstream statements, cached per principal decision', () => {
  it('a masked and an unmasked principal issuing the same text each get their own upstream SQL and rows', async () => {
    const [truth] = await gw.emulatorSdk().query({ query: EMAILS, useLegacySql: false });
    const raw = truth.map((r: any) => r.email);
    for (let round = 0; round < 2; round++) {
      expect((await rows(masked, EMAILS)).map((r) => r.email)).not.toEqual(raw);
      expect((await rows(plain, EMAILS)).map((r) => r.email)).toEqual(raw);
    }
    const m = await sent('cache-masked-1', EMAILS);
    const p = await sent('cache-plain-1', EMAILS);
    console.log(`upstream SQL, masked: ${m[0]}\nupstream SQL, plain: ${p[0]}`);
    expect(m).toHaveLength(2);
    expect(p).toHaveLength(2);
    expect(new Set(m).size).toBe(1);
    expect(m[0]).toMatch(/SHA256/);
    expect(p[0]).not.toMatch(/SHA256/);
    expect(m[0]).not.toBe(p[0]);
  });

  it('a policy reload changes what the same text sends', async () => {
    const before = (await rows(masked, EMAILS)).map((r) => r.email);
    expect(before.every((e) => typeof e === 'string' && /^[0-9a-f]{64}$/.test(e))).toBe(true);
    writeFileSync(join(dir, 'cache.yaml'), policy('ALWAYS_NULL'));
    await expect.poll(async () => (await rows(masked, EMAILS)).map((r) => r.email), { timeout: 20_000, interval: 200 }).toEqual([null, null, null]);
    const m = await sent('cache-masked-1', EMAILS);
    expect(m[m.length - 1]).not.toMatch(/SHA256/);
  });

  it('a schema change through the gateway reaches a repeated SELECT * of a masked table', async () => {
    await rows(plain, 'CREATE TABLE `demo-project.shop.cache_probe` AS SELECT 1 AS a, \'x\' AS b');
    const star = 'SELECT * FROM `demo-project.shop.cache_probe`';
    expect(Object.keys((await rows(masked, star))[0]).sort()).toEqual(['a', 'b']);
    expect(Object.keys((await rows(masked, star))[0]).sort()).toEqual(['a', 'b']);
    // The emulator runs no ALTER TABLE … ADD COLUMN: the same table replaced with one more column.
    await rows(plain, 'CREATE OR REPLACE TABLE `demo-project.shop.cache_probe` AS SELECT 1 AS a, \'x\' AS b, \'y\' AS c');
    const after = (await rows(masked, star))[0];
    expect(Object.keys(after).sort()).toEqual(['a', 'b', 'c']);
    expect(after.b).toMatch(/^[0-9a-f]{64}$/);
    const m = await sent('cache-masked-1', star);
    expect(m[m.length - 1]).toMatch(/`c`/);
    expect(m[m.length - 1]).not.toBe(m[0]);
  });
});
