/**
 * `bqgate` command line:
 *   serve                      the gateway (+ embedded emulator, dev issuer) on the embedded defaults
 *   emulator                   the BigQuery emulator alone
 *   token --sub S [--groups a,b] [--email E] [--act AGENT] [--ttl SEC] [--aud URI] [--scope S]
 *                              a token from the local development issuer, printed to stdout
 *                              (--aud http://127.0.0.1:9050/mcp: for the MCP endpoint, RFC 8707)
 *   sessions list|show|replay  audit sessions (by session key, else 30 min idle gaps), filters, --json
 *   sessions export-tests SESSION [--out FILE] [--redact-literals]
 *                              the session's statements with today's decisions as policy test cases
 *   sessions reexecute <request id> --token T
 *                              re-run a recorded query as of its time and compare (auditors)
 *   audit export|verify        the tamper-evident log: export with proofs, offline verification
 *   approvals list|approve|deny --token T
 *                              pending approvals, as an approver
 *   policy lint [--offline]    validate the policy files (schema, file:line, live-catalog patterns)
 *   policy test [--coverage] [--min-coverage N]
 *                              run policies/tests/*.yaml; prints "N passed, N failed" (+ rules/masks no test covers)
 *   policy diff --proposed DIR  what proposed policy files decide differently on the recorded traffic (policy-diff.ts)
 *   policy explain --as CLAIMS --sql SQL
 *                              the decision with the rule trace
 *   keys init DIR              the keys replicas share (audit checkpoint key, HMAC key, dev issuer key)
 */
import { projectOf } from '../bigquery/table-path.js';
import { Command } from 'commander';
import { loadConfig, devIssuerUrl } from '../config.js';
import { registerPolicyTest, registerExportTests } from './policy-tests.js';

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
    let stopping = false;
    const stop = async (signal: string) => {
      if (stopping) return;
      stopping = true;
      process.stderr.write(`bqgate: ${signal}: draining (in-flight requests finish, then the audit log is closed)\n`);
      await gw.close();
      process.exit(0);
    };
    process.on('SIGINT', () => void stop('SIGINT'));
    process.on('SIGTERM', () => void stop('SIGTERM'));
    process.stderr.write([
      `bqgate listening on ${gw.url}  (upstream ${gw.upstreamUrl}, data ${cfg.dataDir})`,
      `  token:  npx bqgate token --sub agent-7 --groups analysts`,
      `  query:  bq --api=${gw.url} --project_id=demo-project --oauth_access_token="$TOKEN" query --nouse_legacy_sql 'SELECT customer_id, email FROM shop.customers LIMIT 5'`,
      `  mcp:    ${cfg.mcp.resource}  (token: npx bqgate token --sub agent-7 --groups analysts --aud ${cfg.mcp.resource})`,
      `  audit:  npx bqgate sessions list`,
      `  console: ${gw.url}/console/  (approvals, sessions, policy playground; sign in as a demo persona)`, '',
    ].join('\n'));
  });

program.command('emulator').description('run the BigQuery emulator alone (callers need its secret: BQGATE_EMULATOR_SECRET or _FILE, else one generated into <data dir>/keys/emulator.secret)')
  .option('--host <host>', 'listen host', '127.0.0.1').option('--port <port>', 'listen port', '9060').option('--fixtures <dir>', 'fixtures directory')
  .action(async (o) => {
    const { startEmulator, newEmulatorSecret, writeSecretFile, emulatorSecretFile } = await import('../emulator/index.js');
    const { readSecretFile } = await import('../secret-file.js');
    const cfg = loadConfig({ ...(program.opts().dataDir ? { dataDir: program.opts().dataDir } : {}), ...(o.fixtures ? { fixturesDir: o.fixtures } : {}) });
    const env = process.env;
    let secret = env.BQGATE_EMULATOR_SECRET || (env.BQGATE_EMULATOR_SECRET_FILE ? readSecretFile(env.BQGATE_EMULATOR_SECRET_FILE, 'the emulator secret (BQGATE_EMULATOR_SECRET_FILE)').toString('utf8').trim() : '');
    let where = env.BQGATE_EMULATOR_SECRET ? 'the environment variable BQGATE_EMULATOR_SECRET' : env.BQGATE_EMULATOR_SECRET_FILE;
    if (!secret) {
      secret = newEmulatorSecret();
      where = emulatorSecretFile(cfg.dataDir);
      writeSecretFile(where, secret);
    }
    const emu = await startEmulator({ host: o.host, port: Number(o.port), fixturesDir: cfg.fixturesDir, secret });
    const stop = async () => { await emu.close(); process.exit(0); };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    process.stderr.write(`bqgate emulator listening on ${emu.url} (REST) and ${emu.storageAddress} (Storage Read API, gRPC plaintext; BQGATE_EMULATOR_STORAGE_PORT); its secret (the bearer token callers send; gateways: BQGATE_UPSTREAM_TOKEN or BQGATE_UPSTREAM_TOKEN_FILE) is in ${where}\n`);
  });

program.command('keys').description('keys several replicas must share').command('init').argument('<dir>', 'directory for the key files (mounted as secrets)')
  .description('create audit-ed25519.pem, hmac.key, dev-issuer.jwk.json and emulator.secret in DIR (mode 0600); existing files are kept')
  .action(async (dir: string) => {
    const { mkdirSync, existsSync, writeFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { randomBytes } = await import('node:crypto');
    const { loadSigner } = await import('../audit/signer.js');
    const { loadDevIssuer } = await import('../auth/dev-issuer.js');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    loadSigner(dir, join(dir, 'audit-ed25519.pem'));
    if (!existsSync(join(dir, 'hmac.key'))) writeFileSync(join(dir, 'hmac.key'), randomBytes(32).toString('hex'), { mode: 0o600 });
    await loadDevIssuer(dir, 'unused', 'bqgate', join(dir, 'dev-issuer.jwk.json'));
    // The secret a separately run emulator requires (BQGATE_EMULATOR_SECRET_FILE) and gateways send (BQGATE_UPSTREAM_TOKEN_FILE).
    if (!existsSync(join(dir, 'emulator.secret'))) writeFileSync(join(dir, 'emulator.secret'), randomBytes(32).toString('base64url'), { mode: 0o600 });
    process.stdout.write(`${join(dir, 'audit-ed25519.pem')}\n${join(dir, 'hmac.key')}\n${join(dir, 'dev-issuer.jwk.json')}\n${join(dir, 'emulator.secret')}\n`);
  });

program.command('token').description('print a token from the local development issuer')
  .requiredOption('--sub <subject>').option('--groups <groups>', 'comma-separated groups', '')
  .option('--email <email>').option('--act <agent>', 'the agent acting for the subject (RFC 8693 act claim)')
  .option('--ttl <seconds>', 'lifetime in seconds', '3600').option('--port <port>').option('--host <host>')
  .option('--aud <audience>', 'the audience: the REST audience (BQGATE_AUDIENCE, default bqgate) unless given; the MCP endpoint\'s resource URI (BQGATE_MCP_RESOURCE, default http://<host>:<port>/mcp) for MCP clients')
  .option('--scope <scopes>', 'the token\'s scope claim (space- or comma-separated; BQGATE_MCP_REQUIRED_SCOPES on /mcp)')
  .action(async (o) => {
    const { loadDevIssuer } = await import('../auth/dev-issuer.js');
    const cfg = cfgFrom(o);
    const issuer = await loadDevIssuer(cfg.dataDir, cfg.auth.issuer || devIssuerUrl(cfg), cfg.auth.audience);
    const groups = String(o.groups).split(',').map((s) => s.trim()).filter(Boolean);
    const scope = o.scope ? String(o.scope).split(/[\s,]+/).filter(Boolean).join(' ') : undefined;
    const claims = { sub: o.sub, groups, ...(o.email ? { email: o.email } : {}), ...(o.act ? { act: { sub: o.act } } : {}), ...(scope ? { scope } : {}) };
    const token = await issuer.sign(claims, { ttlSec: Number(o.ttl), ...(o.aud ? { audience: String(o.aud) } : {}) });
    process.stdout.write(token + '\n');
  });

/** The audit log of this data directory (or BQGATE_AUDIT_POSTGRES), for reading. */
async function openAuditLog(readOnly = true) {
  const { AuditLog } = await import('../audit/index.js');
  const cfg = cfgFrom();
  return AuditLog.open(cfg.dataDir, { ...cfg.audit, readOnly });
}

/** Requests matching the filter options, grouped into sessions. */
async function findSessions(o: Record<string, string | undefined>) {
  const { requestsOf, sessionsOf } = await import('../audit/index.js');
  const log = await openAuditLog();
  try {
    const events = await log.events({
      principal: o.principal, actor: o.actor, table: o.table, column: o.column, decision: o.decision as 'allow' | 'deny' | undefined,
      since: o.since ? Date.parse(o.since) : undefined, until: o.until ? Date.parse(o.until) : undefined,
    });
    const requests = requestsOf(events);
    return { requests, sessions: sessionsOf(requests, Number(o.gap ?? 30) * 60_000) };
  } finally {
    await log.close();
  }
}

const filterOptions = (c: Command) => c.option('--json', 'machine-readable output')
  .option('--principal <sub>').option('--actor <agent>').option('--table <project.dataset.table>').option('--column <project.dataset.table.column>')
  .option('--decision <allow|deny>').option('--since <ISO time>').option('--until <ISO time>').option('--gap <minutes>', 'idle gap that ends a session', '30');

const sessions = program.command('sessions').description('audit sessions: list, show, replay');
filterOptions(sessions.command('list').description('sessions, newest first')).action(async (o) => {
  const { sessions: list } = await findSessions(o);
  if (o.json) { process.stdout.write(JSON.stringify(list, null, 2) + '\n'); return; }
  printTable(['session', 'start', 'end', 'principal', 'actor', 'requests', 'denied', 'tables'], list.map((s) => [
    s.id, new Date(s.start).toISOString(), new Date(s.end).toISOString(), s.principal, s.actor ?? '', String(s.requests), String(s.denied), s.tables.join(' ').slice(0, 80),
  ]));
});
/** A request with no SQL (tables.delete, tabledata.insertAll, …): the verb it was decided as and its tables. */
const methodStatement = (r: { decision?: { statementKind?: string; tables?: string[] } }) => [r.decision?.statementKind ?? '', ...(r.decision?.tables ?? [])].join(' ').trim();
for (const [name, desc] of [['show', 'one session: its requests, a line each'], ['replay', 'one session as a timeline: each query, its decision and why, approvals, the rows the caller received']] as const) {
  filterOptions(sessions.command(`${name} <session>`).description(desc)).action(async (id: string, o) => {
    const { renderTimeline } = await import('../audit/index.js');
    const { sessions: list, requests } = await findSessions(o);
    const s = list.find((x) => x.id === id);
    if (!s) { process.stderr.write(`no session ${id} (see: bqgate sessions list)\n`); process.exit(2); }
    const mine = requests.filter((r) => s.requestIds.includes(r.requestId));
    if (o.json) { process.stdout.write(JSON.stringify({ session: s, requests: mine }, null, 2) + '\n'); return; }
    if (name === 'replay') { process.stdout.write(renderTimeline(s, mine) + '\n'); return; }
    printTable(['time', 'operation', 'status', 'decision', 'rules', 'rows', 'ms', 'sql / error'], mine.map((r) => [
      new Date(r.ts).toISOString(), r.operation, String(r.response?.status ?? ''), r.decision?.effect ?? '', (r.decision?.matchedRules ?? []).join(','),
      String(r.deliveries.reduce((a, d) => a + d.rows, 0)), r.response ? r.response.durationMs.toFixed(1) : '',
      (r.response?.errorMessage ?? r.sql ?? methodStatement(r)).replace(/\s+/g, ' ').slice(0, 100),
    ]));
  });
}

/** A call to the gateway's own API (`/bqgate/v1…`) as yourself; exits 1 with the gateway's message on an error. */
const gatewayApi = async (o: { gateway?: string; token?: string }, method: 'GET' | 'POST', path: string, body?: unknown) => {
  const token = o.token ?? process.env.BQGATE_TOKEN;
  if (!token) { process.stderr.write('your token is needed: --token TOKEN or BQGATE_TOKEN\n'); process.exit(2); }
  const base = o.gateway ?? process.env.BQGATE_URL ?? devIssuerUrl(cfgFrom());
  const r = await fetch(`${base}/bqgate/v1${path}`, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, ...(body ? { body: JSON.stringify(body) } : {}) });
  const j = await r.json() as any;
  if (r.status >= 300) { process.stderr.write(`${j.error?.message ?? r.status}\n`); process.exit(1); }
  return j;
};
const approvalsCmd = program.command('approvals').description('pending approvals: list, approve, deny (as yourself: your own OIDC token)');
const approvalsApi = (o: { gateway?: string; token?: string }, method: 'GET' | 'POST', path: string, body?: unknown) => gatewayApi(o, method, `/approvals${path}`, body);
const approverOptions = (c: Command) => c.option('--gateway <url>', 'gateway URL (default: BQGATE_URL or the local gateway)').option('--token <jwt>', 'your token (default: BQGATE_TOKEN)').option('--json');
approverOptions(approvalsCmd.command('list').description('approvals you may decide or asked for').option('--status <pending|approved|denied|expired|cancelled>', '', 'pending')).action(async (o) => {
  const j = await approvalsApi(o, 'GET', `?status=${encodeURIComponent(o.status)}`);
  if (o.json) { process.stdout.write(JSON.stringify(j.approvals, null, 2) + '\n'); return; }
  printTable(['id', 'status', 'requester', 'actor', 'needs', 'expires', 'sql'], j.approvals.map((a: any) => [
    a.id, a.status, a.requester.subject, a.requester.actor ?? '', a.requirements.map((q: any) => `${q.count}×${q.approverGroups.join('/')}`).join(' '), a.expiresAt, a.sql.replace(/\s+/g, ' ').slice(0, 80),
  ]));
});
for (const decision of ['approve', 'deny'] as const) {
  approverOptions(approvalsCmd.command(`${decision} <id>`).description(`${decision} a pending approval`).option('--comment <text>')).action(async (id: string, o) => {
    const j = await approvalsApi(o, 'POST', `/${encodeURIComponent(id)}/${decision}`, { comment: o.comment });
    process.stdout.write(o.json ? JSON.stringify(j, null, 2) + '\n' : `${j.id}: ${j.status}\n`);
  });
}

approverOptions(sessions.command('reexecute <requestId>').description('re-run a recorded query as its principal, as of its time (BigQuery time travel), and compare with what was delivered; for auditors'))
  .action(async (requestId: string, o) => {
    const j = await gatewayApi(o, 'POST', `/audit/requests/${encodeURIComponent(requestId)}/reexecute`, {});
    if (j.verdict === 'differs') process.exitCode = 3;
    if (o.json) { process.stdout.write(JSON.stringify(j, null, 2) + '\n'); return; }
    const lines = [
      `request ${j.requestId} by ${j.principal}${j.actor ? ` (actor ${j.actor})` : ''}, job ${j.jobId ?? '-'}, as of ${j.asOf}`,
      `policy: recorded ${j.policyVersion.recorded ?? '?'}, now ${j.policyVersion.now}; decision now: ${j.decision.effect} (${j.decision.matchedRules.join(', ')})`,
      `delivered ${j.delivered.rows} rows in ${j.delivered.pages} pages; re-executed ${j.reexecuted ? `${j.reexecuted.totalRows} rows (job ${j.reexecuted.jobId})` : '-'}`,
      ...j.pages.map((p: any) => `  page from row ${p.startIndex ?? '?'} (${p.rows} rows, request ${p.requestId}): ${p.match === null ? 'not placed' : p.match ? 'same' : 'DIFFERENT'}${p.why ? ` — ${p.why}` : ''}`),
      ...j.notCompared.map((n: any) => `  not compared: ${n.column} (${n.why})`),
      ...(j.firstDifference ? [`first difference: row ${j.firstDifference.row}, column ${j.firstDifference.column}: delivered ${JSON.stringify(j.firstDifference.delivered)}, now ${JSON.stringify(j.firstDifference.reexecuted)}`] : []),
      `verdict: ${j.verdict}`,
    ];
    process.stdout.write(lines.join('\n') + '\n');
  });

registerExportTests(sessions, cfgFrom, findSessions);

const auditCmd = program.command('audit').description('the tamper-evident audit log: export, verify');
auditCmd.command('export').description('write the log as JSON Lines (events with inclusion proofs, signed checkpoints with consistency proofs)')
  .option('--out <file>', 'file to write (default: standard output)')
  .action(async (o) => {
    const { exportLog } = await import('../audit/index.js');
    const { createWriteStream } = await import('node:fs');
    const log = await openAuditLog(false);
    const out = o.out ? createWriteStream(o.out) : process.stdout;
    try {
      for await (const line of exportLog(log)) out.write(JSON.stringify(line) + '\n');
    } finally {
      await log.close();
      if (o.out) await new Promise<void>((r) => (out as NodeJS.WritableStream).end(() => r()));
    }
  });
auditCmd.command('verify <file>').description('verify an export offline: inclusion of every event, checkpoint signatures, consistency between checkpoints')
  .option('--json').option('--public-key <pem file>', 'the gateway\'s published key, to check the export was signed by it')
  .action(async (file: string, o) => {
    const { verifyExport } = await import('../audit/index.js');
    const { readFileSync } = await import('node:fs');
    const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
    let report = verifyExport(lines);
    if (o.publicKey && lines[0]?.publicKey?.trim() !== readFileSync(o.publicKey, 'utf8').trim()) {
      report = { ...report, ok: false, failure: { kind: 'signature', message: 'the export is signed with a different key than the one given' } };
    }
    if (o.json) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
    else if (report.ok) process.stdout.write(`OK: ${report.events} events (${report.pruned} pruned), ${report.checkpoints} signed checkpoints, tree size ${report.treeSize}\n`);
    else process.stdout.write(`FAILED (${report.failure!.kind}${report.failure!.seq !== undefined ? ` at seq ${report.failure!.seq}` : ''}): ${report.failure!.message}\n`);
    process.exit(report.ok ? 0 : 1);
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
        let projects = [...new Set(patterns.filter((t) => !t.startsWith('tag:')).map((t) => projectOf(t)).filter((p) => p && !p.includes('*')))];
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
    process.stdout.write(`${policy.rules.length} rules, policy version ${policy.version}: OK${listing ? ` (checked against ${listing.filter((t) => !t.model).length} tables, ${listing.filter((t) => t.model).length} models)` : ''}\n`);
  });

registerPolicyTest(policyCmd, cfgFrom);

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

(await import('./policy-diff.js')).registerPolicyDiff(policyCmd, { cfgFrom, openAuditLog: () => openAuditLog() });

function loadSafe<T>(f: () => T, fallback: T): T { try { return f(); } catch { return fallback; } }

function printTable(head: string[], rows: string[][]) {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(w[i])).join('  ').trimEnd();
  process.stdout.write([line(head), line(w.map((n) => '-'.repeat(n))), ...rows.map(line)].join('\n') + '\n');
}

await program.parseAsync(process.argv);
