/**
 * CLI: `bqgate policy test [--coverage] [--min-coverage N] [--json]` and
 * `bqgate sessions export-tests SESSION [--out FILE] [--redact-literals]`.
 *
 * policy test: runs the test files (src/policy/testing.ts) through the real analyzer and the
 * policy; prints a line per case and "N passed, N failed". `--coverage`: then the coverage report
 * (src/policy/coverage.ts: rules no case exercises, masks no case asserts, per policy file and in
 * total). `--min-coverage N` (0–100, implies --coverage): fails when the total is below N.
 * `--json`: one JSON object {results, passed, failed, coverage?} instead of the lines.
 * Exit codes: 0 all passed (and coverage ≥ N); 1 a case failed; 3 all passed but coverage < N;
 * 2 a usage error (a bad --min-coverage).
 *
 * sessions export-tests: writes the session's statements with today's decisions as a test file
 * (src/policy/export-tests.ts) to FILE or stdout; says on stderr how many cases, how many requests
 * were not statements, and that the file holds the statements' literals unless --redact-literals.
 */
import type { Command } from 'commander';
import type { Config } from '../config.js';
import type { RequestRecord, Session } from '../audit/index.js';

type CfgFrom = (o?: Record<string, unknown>) => Config;

/** Registers `policy test` on the `policy` command. */
export function registerPolicyTest(policyCmd: Command, cfgFrom: CfgFrom): void {
  policyCmd.command('test').description('run the policy test files (principal + SQL → expected decision); --coverage: rules and masks no test covers')
    .option('--policies <dir>').option('--tests <dir>', 'test files directory (default: <policies>/tests)')
    .option('--coverage', 'report rules no case exercises and masks no case asserts, per policy file')
    .option('--min-coverage <percent>', 'exit 3 when (exercised rules + asserted masks) / (rules + masks) is below this percentage (implies --coverage)')
    .option('--json', 'machine-readable output')
    .action(async (o) => {
      const { loadPolicy } = await import('../policy/index.js');
      const { loadPolicyTests, runPolicyTests, analyzeCase } = await import('../policy/testing.js');
      const { policyCoverage, renderCoverage, formatPercent } = await import('../policy/coverage.js');
      const { openAnalysis } = await import('./analysis.js');
      const min = o.minCoverage === undefined ? undefined : Number(o.minCoverage);
      if (min !== undefined && !(min >= 0 && min <= 100)) { process.stderr.write(`--min-coverage must be a percentage from 0 to 100, not ${o.minCoverage}\n`); process.exitCode = 2; return; }
      const cfg = cfgFrom(o);
      const policy = loadPolicy(cfg.policiesDir);
      const cases = loadPolicyTests(o.tests ?? `${cfg.policiesDir}/tests`);
      const stack = await openAnalysis(cfg);
      try {
        const results = await runPolicyTests(policy, cases, (c) => analyzeCase(stack.analyzer, policy, c));
        const failed = results.filter((r) => !r.ok).length;
        const coverage = o.coverage || min !== undefined ? policyCoverage(policy, results) : undefined;
        if (o.json) {
          process.stdout.write(JSON.stringify({ passed: results.length - failed, failed, results: results.map((r) => ({ file: r.case.file, name: r.case.name, ok: r.ok, problems: r.problems })), ...(coverage ? { coverage } : {}) }, null, 2) + '\n');
        } else {
          for (const r of results) {
            process.stdout.write(`${r.ok ? 'ok  ' : 'FAIL'} ${r.case.file}: ${r.case.name}\n`);
            for (const p of r.problems) process.stdout.write(`       ${p}\n`);
          }
          process.stdout.write(`${results.length - failed} passed, ${failed} failed\n`);
          if (coverage) process.stdout.write(renderCoverage(coverage) + '\n');
        }
        if (failed) process.exitCode = 1;
        else if (coverage && min !== undefined && coverage.percent < min) {
          process.stderr.write(`coverage ${formatPercent(coverage.percent)} is below --min-coverage ${min}%\n`);
          process.exitCode = 3;
        }
      } finally { await stack.close(); }
    });
}

/** Registers `sessions export-tests` on the `sessions` command; `findSessions` is the one `sessions show` reads with. */
export function registerExportTests(sessionsCmd: Command, cfgFrom: CfgFrom, findSessions: (o: Record<string, string | undefined>) => Promise<{ requests: RequestRecord[]; sessions: Array<Session & { requestIds: string[] }> }>): void {
  sessionsCmd.command('export-tests <session>')
    .description('write the session\'s statements, with the decisions today\'s policy gives them, as policy test cases (the file holds the statements\' literals unless --redact-literals)')
    .option('--out <file>', 'test file to write (default: standard output)')
    .option('--redact-literals', 'write statements with literals replaced by neutral ones, where that decides the same')
    .option('--policies <dir>').option('--gap <minutes>', 'idle gap that ends a session', '30')
    .action(async (id: string, o) => {
      const { loadPolicy } = await import('../policy/index.js');
      const { exportSessionTests } = await import('../policy/export-tests.js');
      const { analyzeCase } = await import('../policy/testing.js');
      const { tableExistsIn } = await import('../policy/diff/index.js');
      const { openAnalysis } = await import('./analysis.js');
      const { stringify } = await import('yaml');
      const { writeFileSync } = await import('node:fs');
      const { sessions, requests } = await findSessions({ gap: o.gap });
      const s = sessions.find((x) => x.id === id);
      if (!s) { process.stderr.write(`no session ${id} (see: bqgate sessions list)\n`); process.exitCode = 2; return; }
      const cfg = cfgFrom(o);
      const policy = loadPolicy(cfg.policiesDir);
      const stack = await openAnalysis(cfg);
      try {
        const mine = requests.filter((r) => s.requestIds.includes(r.requestId));
        const ex = await exportSessionTests(policy, mine, (c) => analyzeCase(stack.analyzer, policy, c), { redactLiterals: Boolean(o.redactLiterals), tableExists: tableExistsIn(stack.catalog) });
        const header = [
          `# Session ${s.id} (${s.principal}, ${new Date(s.start).toISOString()} → ${new Date(s.end).toISOString()}),`,
          `# pinned by \`bqgate sessions export-tests\` under policy version ${policy.version} on ${new Date().toISOString()}.`,
          o.redactLiterals ? `# Literals redacted in ${ex.redacted} of ${ex.cases.length} statement(s); the others keep their literals (see the notes below).`
            : '# WARNING: the statements keep their literals as recorded (values the agent filtered on); use --redact-literals to redact them.',
          ...ex.notes.map((n) => `# note: ${n}`),
        ].join('\n');
        const text = `${header}\n${stringify({ tests: ex.cases.map(({ file: _f, ...c }) => c) }, { lineWidth: 0 })}`;
        if (o.out) writeFileSync(o.out, text, { mode: 0o600 }); // 0600: it may hold the statements' literals
        else process.stdout.write(text);
        process.stderr.write([
          `${ex.cases.length} test case(s) from ${mine.length} request(s) of session ${s.id}${o.out ? ` written to ${o.out}` : ''}; ${ex.skipped.length} request(s) carried no statement (polls, metadata).`,
          o.redactLiterals ? `literals redacted in ${ex.redacted} case(s); ${ex.cases.length - ex.redacted} keep the recorded SQL.` : 'warning: the file contains the statements\' literals as recorded; --redact-literals writes neutral ones where that decides the same.',
          ...ex.notes, '',
        ].join('\n'));
      } finally { await stack.close(); }
    });
}
