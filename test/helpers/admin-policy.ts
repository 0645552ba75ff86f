/**
 * The policies the REST surface tests run under: policies/demo.yaml plus the test-only
 * test/fixtures/policies-admin/admin.yaml (an administrator and narrow attack principals), laid in
 * a fresh directory for BQGATE_POLICIES (`demoAndAdminPolicies`), and a gateway started under them
 * with a token per test principal (`startDemoAndAdminGateway`).
 */
import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startGateway, type TestGateway } from './gateway.ts';

const ROOT = resolve(import.meta.dirname, '..', '..');

export function demoAndAdminPolicies(): string {
  const dir = mkdtempSync(join(tmpdir(), 'bqgate-rest-policies-'));
  copyFileSync(join(ROOT, 'policies', 'demo.yaml'), join(dir, 'demo.yaml'));
  copyFileSync(join(ROOT, 'test', 'fixtures', 'policies-admin', 'admin.yaml'), join(dir, 'admin.yaml'));
  return dir;
}

/**
 * A gateway process under `demoAndAdminPolicies()`, and a token for each principal of `groups`:
 * subject `${prefix}-${name}`, the groups given (the test files' audit assertions name them);
 * `env`: more environment for the gateway process.
 */
export async function startDemoAndAdminGateway<K extends string>(prefix: string, groups: Record<K, string[]>, env: Record<string, string> = {}): Promise<{ gw: TestGateway; tokens: Record<K, string> }> {
  const gw = await startGateway({ env: { BQGATE_POLICIES: demoAndAdminPolicies(), ...env } });
  const tokens = {} as Record<K, string>;
  for (const name of Object.keys(groups) as K[]) tokens[name] = await gw.token({ sub: `${prefix}-${name}`, groups: groups[name] });
  return { gw, tokens };
}

/** The INFORMATION_SCHEMA tests' principals: a gateway administrator, a non-administrator allowed every table, an analyst, EU support. */
export const INFOSCHEMA_GROUPS = { root: ['test-admins', 'security-oncall'], admin: ['test-admins'], analyst: ['analysts'], eu: ['eu-support'] };

/**
 * startDemoAndAdminGateway with INFOSCHEMA_GROUPS, and `demo-project.hr_private.salaries` made in
 * the emulator: a dataset no analyst rule names, for the region-level metadata views.
 */
export async function startInformationSchemaGateway(prefix: string) {
  const out = await startDemoAndAdminGateway(prefix, INFOSCHEMA_GROUPS);
  await out.gw.emulatorSdk().query({ query: 'CREATE SCHEMA IF NOT EXISTS `demo-project.hr_private`', useLegacySql: false });
  await out.gw.emulatorSdk().query({ query: 'CREATE TABLE IF NOT EXISTS `demo-project.hr_private.salaries` (employee STRING, salary INT64)', useLegacySql: false });
  return out;
}
