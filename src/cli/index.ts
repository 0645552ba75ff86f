/**
 * `bqgate` command line:
 *   serve                      the gateway (+ embedded emulator, dev issuer) on the embedded defaults
 *   emulator                   the BigQuery emulator alone
 *   token --sub S [--groups a,b] [--email E] [--act AGENT] [--ttl SEC]
 *                              a token from the local development issuer, printed to stdout
 *   sessions list [--json]     audit sessions (a principal's requests split by 30 min idle gaps)
 *   sessions show <principal> [--json]
 *                              that principal's audit records, newest first
 *   policy lint [--offline]    validate the policy files (schema, file:line, live-catalog patterns)
 *   policy test                run policies/tests/*.yaml; prints "N passed, N failed"
 *   policy explain --as CLAIMS --sql SQL
 *                              the decision with the rule trace
 */
import { Command } from 'commander';
import { loadConfig, devIssuerUrl } from '../config.js';

const program = new Command();
program.name('bqgate').description('Identity-aware, SQL-aware gateway in front of Google BigQuery');
program.option('--data-dir <dir>', 'data directory (keys, SQLite state)');

const cfgFrom = (o: Record<string, unknown> = {}) => loadConfig({
  ...(program.opts().dataDir ? { dataDir: program.opts().dataDir } : {}),
  ...(o.port !== undefined ? { port: Number(o.port) } : {}),
  ...(o.host ? { host: String(o.host) } : {}),
  ...(o.upstream ? { upstream: String(o.upstream) } : {}),
  ...(o.policies ? { policiesDir: String(o.policies) } : {}),
  ...(o.emulatorPort !== undefined ? { emulatorPort: Number(o.emulatorPort) } : {}),
});

program.command('serve').description('run the gateway')
  .option('--host <host>').option('--port <port>').option('--upstream <url>', '"emulator" or a BigQuery API base URL')
  .option('--policies <dir>').option('--emulator-port <port>')
  .action(async (o) => {
    const { createGateway } = await import('../server.js');
    const cfg = cfgFrom(o);
    const gw = await createGateway(cfg);
    const stop = async () => { await gw.close(); process.exit(0); };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    process.stderr.write([
      `bqgate listening on ${gw.url}  (upstream ${gw.upstreamUrl}, data ${cfg.dataDir})`,
      `  token:  npx bqgate token --sub agent-7 --groups analysts`,
      `  query:  bq --api=${gw.url} --project_id=demo-project --oauth_access_token="$TOKEN" query --nouse_legacy_sql 'SELECT customer_id, email FROM shop.customers LIMIT 5'`,
      `  audit:  npx bqgate sessions list`, '',
    ].join('\n'));
  });

program.command('emulator').description('run the BigQuery emulator alone')
  .option('--host <host>', 'listen host', '127.0.0.1').option('--port <port>', 'listen port', '9060').option('--fixtures <dir>', 'fixtures directory')
  .action(async (o) => {
    const { startEmulator } = await import('../emulator/index.js');
    const cfg = loadConfig(o.fixtures ? { fixturesDir: o.fixtures } : {});
    const emu = await startEmulator({ host: o.host, port: Number(o.port), fixturesDir: cfg.fixturesDir });
    const stop = async () => { await emu.close(); process.exit(0); };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    process.stderr.write(`bqgate emulator listening on ${emu.url}\n`);
  });

program.command('token').description('print a token from the local development issuer')
  .requiredOption('--sub <subject>').option('--groups <groups>', 'comma-separated groups', '')
  .option('--email <email>').option('--act <agent>', 'the agent acting for the subject (RFC 8693 act claim)')
  .option('--ttl <seconds>', 'lifetime in seconds', '3600').option('--port <port>').option('--host <host>')
  .action(async (o) => {
    const { loadDevIssuer } = await import('../auth/dev-issuer.js');
    const cfg = cfgFrom(o);
    const issuer = await loadDevIssuer(cfg.dataDir, cfg.auth.issuer || devIssuerUrl(cfg), cfg.auth.audience);
    const groups = String(o.groups).split(',').map((s) => s.trim()).filter(Boolean);
    const token = await issuer.sign({ sub: o.sub, groups, ...(o.email ? { email: o.email } : {}), ...(o.act ? { act: { sub: o.act } } : {}) }, { ttlSec: Number(o.ttl) });
    process.stdout.write(token + '\n');
  });

const sessions = program.command('sessions').description('audit sessions');
sessions.command('list').option('--json').option('--gap <minutes>', 'idle gap that ends a session', '30').action(async (o) => {
  const { Store } = await import('../audit/index.js');
  const store = new Store(cfgFrom().dataDir);
  const list = store.sessions(Number(o.gap) * 60_000);
  if (o.json) { process.stdout.write(JSON.stringify(list, null, 2) + '\n'); return; }
  const rows = list.map((s) => [new Date(s.start).toISOString(), new Date(s.end).toISOString(), s.principal, s.actor ?? '', String(s.requests), String(s.denied)]);
  printTable(['start', 'end', 'principal', 'actor', 'requests', 'denied'], rows);
});
sessions.command('show <principal>').option('--json').option('--limit <n>', 'records', '50').action(async (principal, o) => {
  const { Store } = await import('../audit/index.js');
  const store = new Store(cfgFrom().dataDir);
  const events = store.events({ principal, limit: Number(o.limit) });
  if (o.json) { process.stdout.write(JSON.stringify(events, null, 2) + '\n'); return; }
  printTable(['time', 'operation', 'status', 'decision', 'rules', 'rows', 'ms', 'sql / error'], events.map((e) => [
    new Date(e.ts).toISOString(), e.operation, String(e.status ?? ''), e.decision ?? '', (e.matchedRules ?? []).join(','),
    e.rowsReturned === undefined ? '' : String(e.rowsReturned), String(e.durationMs ?? ''),
    (e.errorMessage ?? e.sql ?? e.resource ?? '').replace(/\s+/g, ' ').slice(0, 100),
  ]));
});

const policyCmd = program.command('policy').description('policy files: lint, test, explain');
policyCmd.command('lint').description('validate the policy files; with the live catalog, patterns must match real tables and columns')
  .option('--policies <dir>').option('--offline', 'skip the live-catalog checks')
  .action(async (o) => {
    const { lintPolicies } = await import('../policy/lint.js');
    const { loadPolicy } = await import('../policy/index.js');
    const cfg = cfgFrom(o);
    let listing;
    if (!o.offline) {
      const { openAnalysis } = await import('./analysis.js');
      const stack = await openAnalysis(cfg);
      try {
        const patterns = loadSafe(() => loadPolicy(cfg.policiesDir).rules, []).flatMap((r) => [...(r.tables ?? []), ...(r.columns ?? []), ...(r.masks ?? []).map((m) => m.column)]);
        let projects = [...new Set(patterns.filter((t) => !t.startsWith('tag:')).map((t) => t.split('.')[0]).filter((p) => p && !p.includes('*')))];
        if (!projects.length || patterns.some((t) => t.startsWith('tag:') || t.startsWith('*'))) {
          // Tag patterns and project wildcards can match anywhere: list every project the upstream shows.
          projects = [...new Set([...projects, ...((await stack.upstream.ok('GET', '/projects')).projects ?? []).map((p: any) => p.projectReference.projectId)])];
        }
        listing = await stack.listing(projects);
      } finally { await stack.close(); }
    }
    const problems = lintPolicies(cfg.policiesDir, listing);
    for (const p of problems) process.stdout.write(`${p.file}:${p.line}:${p.col}: ${p.message}\n`);
    if (problems.length) { process.stdout.write(`${problems.length} problem(s)\n`); process.exitCode = 1; return; }
    const policy = loadPolicy(cfg.policiesDir);
    process.stdout.write(`${policy.rules.length} rules, policy version ${policy.version}: OK${listing ? ` (checked against ${listing.length} tables)` : ''}\n`);
  });

policyCmd.command('test').description('run the policy test files (principal + SQL → expected decision)')
  .option('--policies <dir>').option('--tests <dir>', 'test files directory (default: <policies>/tests)')
  .action(async (o) => {
    const { loadPolicy } = await import('../policy/index.js');
    const { loadPolicyTests, runPolicyTests } = await import('../policy/testing.js');
    const { openAnalysis } = await import('./analysis.js');
    const cfg = cfgFrom(o);
    const policy = loadPolicy(cfg.policiesDir);
    const cases = loadPolicyTests(o.tests ?? `${cfg.policiesDir}/tests`);
    const stack = await openAnalysis(cfg);
    try {
      const results = await runPolicyTests(policy, cases, (c) => stack.analyzer.analyze({
        sql: c.sql, projectId: c.project ?? 'demo-project', ...(c.default_dataset ? { defaultDataset: { datasetId: c.default_dataset } } : {}),
      }));
      for (const r of results) {
        process.stdout.write(`${r.ok ? 'ok  ' : 'FAIL'} ${r.case.file}: ${r.case.name}\n`);
        for (const p of r.problems) process.stdout.write(`       ${p}\n`);
      }
      const failed = results.filter((r) => !r.ok).length;
      process.stdout.write(`${results.length - failed} passed, ${failed} failed\n`);
      if (failed) process.exitCode = 1;
    } finally { await stack.close(); }
  });

policyCmd.command('explain').description('the decision for a principal and a statement, with the rule trace')
  .requiredOption('--as <claims>', 'principal claims as JSON, e.g. {"sub":"agent-7","groups":["analysts"]}')
  .requiredOption('--sql <sql>').option('--project <id>', 'project of the job', 'demo-project').option('--default-dataset <id>')
  .option('--policies <dir>').option('--json')
  .action(async (o) => {
    const { loadPolicy, explain } = await import('../policy/index.js');
    const { principalFromClaims } = await import('../policy/testing.js');
    const { openAnalysis } = await import('./analysis.js');
    const cfg = cfgFrom(o);
    const policy = loadPolicy(cfg.policiesDir);
    const principal = principalFromClaims(JSON.parse(o.as));
    const stack = await openAnalysis(cfg);
    try {
      const analysis = await stack.analyzer.analyze({ sql: o.sql, projectId: o.project, ...(o.defaultDataset ? { defaultDataset: { datasetId: o.defaultDataset } } : {}) });
      const { decision, trace } = explain(policy, principal, analysis);
      if (o.json) { process.stdout.write(JSON.stringify({ analysis: { statementKind: analysis.statementKind, tablesRead: analysis.tablesRead, tablesWritten: analysis.tablesWritten, columnsRead: analysis.columnsRead, lineage: analysis.lineage }, decision, trace }, null, 2) + '\n'); return; }
      process.stdout.write(`statement: ${analysis.statementKind}; reads ${analysis.tablesRead.join(', ') || 'no table'}${analysis.tablesWritten.length ? `; writes ${analysis.tablesWritten.join(', ')}` : ''}\n`);
      process.stdout.write(`columns:   ${analysis.columnsRead.map((c) => `${c.table.split('.').pop()}.${c.column}`).join(', ') || '-'}\n`);
      process.stdout.write(`decision:  ${decision.effect.toUpperCase()} — ${decision.reasons.join(' ')}\n`);
      for (const [t, cols] of Object.entries(decision.masks)) for (const [c, m] of Object.entries(cols)) process.stdout.write(`mask:      ${t}.${c} → ${m.rule} (rule ${m.ruleId})\n`);
      process.stdout.write('trace:\n');
      for (const r of trace) process.stdout.write(`  ${r.applies ? '●' : '○'} ${r.id} (${r.effect})${r.why ? ` — ${r.why}` : ''}${r.covers.length ? `: ${r.covers.join('; ')}` : ''}\n`);
    } catch (err) {
      process.stdout.write(`refused: ${(err as Error).message}\n`);
      process.exitCode = 1;
    } finally { await stack.close(); }
  });

function loadSafe<T>(f: () => T, fallback: T): T { try { return f(); } catch { return fallback; } }

function printTable(head: string[], rows: string[][]) {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(w[i])).join('  ').trimEnd();
  process.stdout.write([line(head), line(w.map((n) => '-'.repeat(n))), ...rows.map(line)].join('\n') + '\n');
}

await program.parseAsync(process.argv);
