/**
 * `bqgate policy diff --proposed DIR [--policy DIR] [--since 7d] [--until T] [--principal SUB]
 * [--table GLOB] [--json] [--format text|markdown] [--page-size N]`: what the proposed policy files
 * would decide differently on the statements the audit log recorded in the window (policy/diff).
 *
 * The proposed directory is linted first (schema, duplicate ids, and its table / column patterns
 * against the live catalog, as `bqgate policy lint`); any problem is exit 2 with the lint messages.
 * Exit codes: 0 nothing changes (statements that no longer analyze are reported but are no change
 * of the policy), 1 something changes, 2 an error (bad options, a policy that does not load or
 * lint, an unreadable audit log). A progress bar on stderr when it is a terminal; silent otherwise.
 *
 * Times: `--since` / `--until` take a duration back from now (`90m`, `24h`, `7d`) or an ISO 8601
 * time; `--since` defaults to 7d.
 */
import { projectOf } from '../bigquery/table-path.js';
import type { Command } from 'commander';
import type { Config } from '../config.js';
import type { AuditLog } from '../audit/index.js';

/** Milliseconds since the epoch of `--since`/`--until` (`7d`, `24h`, `30m`, `45s`, or ISO 8601). Throws on anything else. */
export function parseWhen(v: string, now = Date.now()): number {
  const m = /^(\d+)\s*([smhdw])$/.exec(v.trim());
  if (m) return now - Number(m[1]) * { s: 1e3, m: 6e4, h: 36e5, d: 864e5, w: 6048e5 }[m[2] as 's']!;
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw new Error(`${JSON.stringify(v)} is neither a duration (7d, 24h, 30m) nor an ISO 8601 time`);
  return t;
}

/** The table/column patterns of a policy's rules and the projects they name ('*' when some pattern can match any project). */
function patternProjects(rules: Array<{ tables?: string[]; columns?: string[]; masks?: Array<{ column: string }> }>): string[] {
  const patterns = rules.flatMap((r) => [...(r.tables ?? []), ...(r.columns ?? []), ...(r.masks ?? []).map((m) => m.column)]);
  return [...new Set(patterns.map((p) => (p.startsWith('tag:') ? '*' : projectOf(p))).map((p) => (p.includes('*') ? '*' : p)))];
}

export interface PolicyDiffDeps {
  cfgFrom(o?: Record<string, unknown>): Config;
  openAuditLog(): Promise<AuditLog>;
}

/** Adds `diff` to the `policy` command. */
export function registerPolicyDiff(policyCmd: Command, deps: PolicyDiffDeps): void {
  policyCmd.command('diff').description('what proposed policy files would decide differently on the recorded traffic (exit 0: nothing, 1: changes, 2: error)')
    .requiredOption('--proposed <dir>', 'the proposed policy directory').option('--policy <dir>', 'the current policy directory (default: the configured one)')
    .option('--since <when>', 'window start: 7d, 24h, 30m or an ISO time', '7d').option('--until <when>', 'window end (default: now)')
    .option('--principal <sub>', 'only this principal').option('--table <glob>', 'only statements on tables matching this glob (project.dataset.table, * within a segment)')
    .option('--json', 'the report as JSON').option('--format <text|markdown>', 'text for a terminal, markdown for a pull-request comment', 'text')
    .option('--page-size <events>', 'audit events read per page', '500')
    .action(async (o) => {
      try {
        process.exitCode = await run(o, deps);
      } catch (err) {
        process.stderr.write(`bqgate policy diff: ${(err as Error).message}\n`);
        process.exitCode = 2;
      }
    });
}

async function run(o: Record<string, string | boolean | undefined>, deps: PolicyDiffDeps): Promise<number> {
  const { loadPolicy } = await import('../policy/index.js');
  const { lintPolicies } = await import('../policy/lint.js');
  const { diffTraffic, renderText, renderMarkdown, tableExistsIn } = await import('../policy/diff/index.js');
  const { openAnalysis } = await import('./analysis.js');
  if (o.format !== 'text' && o.format !== 'markdown') throw new Error(`--format is text or markdown, not ${JSON.stringify(o.format)}`);
  const cfg = deps.cfgFrom(o.policy ? { policies: o.policy } : {});
  const now = Date.now();
  const since = parseWhen(String(o.since), now);
  const until = o.until ? parseWhen(String(o.until), now) : undefined;
  const pageSize = Number(o.pageSize);
  if (!Number.isInteger(pageSize) || pageSize < 1) throw new Error('--page-size is a positive integer');
  const current = loadPolicy(cfg.policiesDir);
  const proposedDir = String(o.proposed);
  const lintFailed = (problems: ReturnType<typeof lintPolicies>) => {
    for (const p of problems) process.stderr.write(`proposed policy ${proposedDir}/${p.file}:${p.line}:${p.col}: ${p.message}\n`);
    process.stderr.write(`${problems.length} problem(s) in the proposed policy: nothing was diffed\n`);
    return 2;
  };
  const { existsSync, readdirSync } = await import('node:fs');
  if (!existsSync(proposedDir) || !readdirSync(proposedDir).some((f) => /\.ya?ml$/.test(f))) throw new Error(`--proposed ${proposedDir} holds no policy files (*.yaml)`);
  const offline = lintPolicies(proposedDir);
  if (offline.length) return lintFailed(offline);
  const stack = await openAnalysis(cfg);
  try {
    let projects = patternProjects(loadPolicy(proposedDir).rules);
    if (projects.includes('*')) projects = [...new Set([...projects.filter((p) => p !== '*'), ...((await stack.upstream.ok('GET', '/projects')).projects ?? []).map((p: any) => p.projectReference.projectId)])];
    const problems = lintPolicies(proposedDir, await stack.listing(projects));
    if (problems.length) return lintFailed(problems);
    const proposed = loadPolicy(proposedDir);
    const log = await deps.openAuditLog();
    let bar: import('cli-progress').SingleBar | undefined;
    try {
      if (process.stderr.isTTY) {
        const { SingleBar, Presets } = await import('cli-progress');
        bar = new SingleBar({ format: 'policy diff [{bar}] {percentage}% | {statements} statements', stream: process.stderr, clearOnComplete: true, hideCursor: true }, Presets.shades_classic);
        bar.start(Math.max(1, await log.size()), 0, { statements: 0 });
      }
      const { checkSqlLimits } = await import('../sql/limits.js');
      const report = await diffTraffic({ log, analyzer: stack.analyzer, precheck: (sql) => { checkSqlLimits(sql, cfg.analyzer.sqlLimits); }, tableExists: tableExistsIn(stack.catalog) }, {
        current, proposed, since, until, principal: o.principal as string | undefined, table: o.table as string | undefined, pageSize, now,
        onProgress: (p) => bar?.update(p.nextSeq, { statements: p.statements }),
      });
      bar?.stop();
      bar = undefined;
      process.stdout.write(o.json ? JSON.stringify(report, null, 2) + '\n' : o.format === 'markdown' ? renderMarkdown(report) : renderText(report));
      process.stderr.write(`diffed ${report.scanned.statements} recorded statements in ${report.scanned.ms} ms (${report.scanned.ms ? Math.round(report.scanned.statements / (report.scanned.ms / 1000)) : 0} statements/s)\n`);
      return report.changedStatements > 0 ? 1 : 0;
    } finally {
      bar?.stop();
      await log.close();
    }
  } finally {
    await stack.close();
  }
}
