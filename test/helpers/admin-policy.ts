/**
 * The policies the REST surface tests run under: policies/demo.yaml plus the test-only
 * test/fixtures/policies-admin/admin.yaml (an administrator and narrow attack principals), laid in
 * a fresh directory for BQGATE_POLICIES. Returns that directory.
 */
import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..', '..');

export function demoAndAdminPolicies(): string {
  const dir = mkdtempSync(join(tmpdir(), 'bqgate-rest-policies-'));
  copyFileSync(join(ROOT, 'policies', 'demo.yaml'), join(dir, 'demo.yaml'));
  copyFileSync(join(ROOT, 'test', 'fixtures', 'policies-admin', 'admin.yaml'), join(dir, 'admin.yaml'));
  return dir;
}
