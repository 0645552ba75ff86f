/**
 * The console's proposed-policy mode: `POST /bqgate/v1/policy/diff` (`policy.diff`, auditors).
 *
 * Body: `{ files: [{ name: "x.yaml", content: "…" }], days?: 1..31 (default 7), principal?, table? }`
 * — the proposed policy files (at most 20, each at most 256 KiB, names `[A-Za-z0-9_.-]+.yaml|yml`).
 * Answer: the diff report (policy/diff DiffReport, `kind: bqgate#policyDiff`) of the gateway's
 * current policy against the proposed one over the audit log's last `days` days, decided with the
 * gateway's own analyzer and catalog; at most `maxStatements` recorded statements (default 20 000,
 * then `truncated`).
 *
 * Who: the same audience as the session views (policy roles.auditors, or roles.admins): a diff
 * names other principals and their statements. Statements appear only literal-free
 * (policy/diff/redact.ts), never as recorded; decision reasons are not returned.
 *
 * Errors: accessDenied (not an auditor), invalid (no files, a bad file name or size, a file that
 * does not lint or load — the message names the file, line and column).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BigQueryError, type Operation } from '../../bigquery/index.js';
import type { AuditLog } from '../../audit/index.js';
import type { Analyzer } from '../../sql/index.js';
import { loadPolicy, type Policy } from '../../policy/index.js';
import { lintPolicies } from '../../policy/lint.js';
import { diffTraffic, tableExistsIn } from '../../policy/diff/index.js';
import { requireAuditor, type Ctx, type Outcome } from '../../pipeline/context.js';

export interface PolicyDiffDeps {
  auditLog: AuditLog;
  analyzer: Analyzer;
  precheck?: (sql: string) => void;
  /** Today's catalog (a query job's destinationTable: does it exist). */
  catalog?: { getTable(table: string): Promise<unknown> };
  /** Most recorded statements one diff reads (default 20 000). */
  maxStatements?: number;
}

const DAY = 86_400_000;
const NAME = /^[A-Za-z0-9_.-]{1,100}\.ya?ml$/;
const MAX_FILES = 20;
const MAX_BYTES = 256 * 1024;

/** The proposed policy from the request's files: linted offline, then loaded. Throws BigQueryError('invalid'). */
export function proposedPolicy(files: unknown): Policy {
  if (!Array.isArray(files) || !files.length) throw new BigQueryError('invalid', 'files is required: the proposed policy files, [{name: "demo.yaml", content: "…"}]');
  if (files.length > MAX_FILES) throw new BigQueryError('invalid', `At most ${MAX_FILES} policy files per diff`);
  const dir = mkdtempSync(join(tmpdir(), 'bqgate-proposed-'));
  try {
    const names = new Set<string>();
    for (const f of files as Array<{ name?: unknown; content?: unknown }>) {
      if (typeof f?.name !== 'string' || !NAME.test(f.name) || f.name.startsWith('.')) throw new BigQueryError('invalid', `Invalid policy file name ${JSON.stringify(String(f?.name)).slice(0, 80)}: letters, digits, _ . - and a .yaml or .yml suffix`);
      if (typeof f.content !== 'string' || Buffer.byteLength(f.content) > MAX_BYTES) throw new BigQueryError('invalid', `Policy file ${f.name}: content must be text of at most ${MAX_BYTES} bytes`);
      if (names.has(f.name)) throw new BigQueryError('invalid', `Policy file ${f.name} is given twice`);
      names.add(f.name);
      writeFileSync(join(dir, f.name), f.content);
    }
    const problems = lintPolicies(dir);
    if (problems.length) throw new BigQueryError('invalid', `The proposed policy does not lint: ${problems.slice(0, 5).map((p) => `${p.file}:${p.line}:${p.col}: ${p.message}`).join('; ')}`);
    try { return loadPolicy(dir); } catch (err) { throw new BigQueryError('invalid', `The proposed policy does not load: ${(err as Error).message}`); }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function policyDiffOperation(d: PolicyDiffDeps): Pick<Record<Operation, (c: Ctx) => Promise<Outcome>>, 'policy.diff'> {
  return {
    'policy.diff': async (c) => {
      requireAuditor(c, 'the policy diff (it shows other principals\' recorded statements)');
      const b = c.req.body ?? {};
      const days = b.days === undefined ? 7 : Number(b.days);
      if (!Number.isInteger(days) || days < 1 || days > 31) throw new BigQueryError('invalid', 'days is a whole number of days from 1 to 31');
      const proposed = proposedPolicy(b.files);
      const now = Date.now();
      const report = await diffTraffic({ log: d.auditLog, analyzer: d.analyzer, precheck: d.precheck, ...(d.catalog ? { tableExists: tableExistsIn(d.catalog) } : {}) }, {
        current: c.policy, proposed, since: now - days * DAY, until: now, now, maxStatements: d.maxStatements ?? 20_000,
        ...(typeof b.principal === 'string' && b.principal ? { principal: b.principal } : {}),
        ...(typeof b.table === 'string' && b.table ? { table: b.table } : {}),
      });
      return { body: report };
    },
  };
}
