/**
 * Issue 18's `bq` checklist, 1:1: every command of its list run with the real `bq` CLI through a
 * real gateway process, as the administrator of the test-only policy
 * (test/fixtures/policies-admin/admin.yaml: must exit 0 and print what it did) and as an analyst of
 * policies/demo.yaml (exits 0, or non-zero with the refusal naming the rule or the verb — which
 * one is printed). At the end a table of command → admin / demo outcome, and the counts.
 * The administrator works in a dataset of its own, seeded with a table; the analyst on the shop
 * dataset's tables (its reads pass, its writes are decided on real tables).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { TestGateway } from './helpers/gateway.ts';
import { startDemoAndAdminGateway } from './helpers/admin-policy.ts';

type Who = 'admin' | 'analyst';
/** What a command runs on: the caller's dataset and an existing table of it. */
interface Scope { who: Who; ds: string; t: string; fresh(prefix: string): string; work: string; gcs: (bucket: string, name: string) => string; job?: string }
interface Command {
  name: string;
  demo: 'pass' | 'deny';
  /** Before the command, as the caller (e.g. a job to wait on) or, for the administrator, what the command needs to exist. */
  setup?(s: Scope): Promise<void>;
  args(s: Scope): string[];
  /** What a passing run must have printed or done. */
  check?(out: string, s: Scope): void | Promise<void>;
}

let gw: TestGateway;
let tokens: Record<Who, string>;
const work = mkdtempSync(join(tmpdir(), 'bqgate-bq-checklist-'));
const results = new Map<string, { admin?: string; demo?: string }>();
const DEMO_RULES = [...readFileSync(resolve(import.meta.dirname, '..', 'policies', 'demo.yaml'), 'utf8').matchAll(/^\s*- id: (\S+)/gm)].map((m) => m[1]);
const VERB = /\b(SELECT|INSERT|CREATE_[A-Z_]+|ALTER_[A-Z_]+|DROP(?:_[A-Z_]+)?|GRANT|LOAD|EXTRACT|COPY)\b|\bto (extract)\b|(default deny)/;
let serial = 0;

/** What bq printed, its line wrapping undone. */
const out = (r: { stdout: string; stderr: string }) => `${r.stdout}\n${r.stderr}`.replace(/-\n\s*/g, '-').replace(/\s+/g, ' ');
const admin = () => gw.sdk(tokens.admin);
const SLOW_SQL = 'SELECT COUNT(DISTINCT MOD(x * 7919, 1000003)) AS n FROM UNNEST(GENERATE_ARRAY(1, 3000000)) AS x';

/** Starts a query with `bq --nosync` as the caller; the job id bq printed. */
async function startJob(s: Scope, sql: string): Promise<string> {
  const r = await gw.bq(tokens[s.who], ['--nosync', 'query', '--nouse_legacy_sql', sql]);
  const id = /Successfully started query (\S+)/.exec(out(r))?.[1];
  if (!id) throw new Error(`bq --nosync query printed no job id: ${out(r)}`);
  return id;
}
const rowsOf = async (table: string) => Number((await admin().query(`SELECT COUNT(*) AS n FROM \`${table}\``))[0][0].n);

const COMMANDS: Command[] = [
  { name: 'ls', demo: 'pass', args: (s) => ['ls', `demo-project:${s.ds}`], check: (o, s) => expect(o).toContain(s.t) },
  { name: 'ls -j', demo: 'pass', async setup(s) { s.job = await startJob(s, 'SELECT 1 AS x'); }, args: () => ['ls', '-j'], check: (o, s) => expect(o).toContain(s.job!.split(':').pop()) },
  { name: 'ls -m', demo: 'pass', args: () => ['ls', '-m', 'demo-project:shop'], check: (o) => expect(o).toContain('churn_model') },
  { name: 'ls --routines', demo: 'pass', args: () => ['ls', '--routines', 'demo-project:shop'], check: (o) => expect(o).toContain('total_spent') },
  { name: 'show', demo: 'pass', args: (s) => ['show', `demo-project:${s.ds}.${s.t}`], check: (o) => expect(o).toMatch(/Last modified/) },
  { name: 'show --schema', demo: 'pass', args: (s) => ['show', '--schema', '--format=json', `demo-project:${s.ds}.${s.t}`], check: (o) => expect(o).toContain('"order_id"') },
  { name: 'head', demo: 'pass', args: (s) => ['head', '-n', '3', `demo-project:${s.ds}.${s.t}`], check: (o) => expect(o).toContain('order_id') },
  { name: 'head --selected_fields', demo: 'pass', args: (s) => ['head', '--format=json', '--selected_fields=order_id', '-n', '3', `demo-project:${s.ds}.${s.t}`],
    check: (o) => { const rows = JSON.parse(o.slice(o.indexOf('['), o.lastIndexOf(']') + 1)); expect(rows).toHaveLength(3); expect(Object.keys(rows[0])).toEqual(['order_id']); } },
  { name: 'mk -d', demo: 'deny', args: (s) => ['mk', '-d', `demo-project:${s.fresh('bq_ds')}`], check: (o) => expect(o).toMatch(/created/i) },
  { name: 'mk -t (with a schema)', demo: 'deny', args: (s) => ['mk', '-t', `demo-project:${s.ds}.${s.fresh('bq_t')}`, 'a:STRING,b:INTEGER'], check: (o) => expect(o).toMatch(/created/i) },
  { name: 'mk --view', demo: 'deny', args: (s) => ['mk', '--nouse_legacy_sql', '--view=SELECT order_id FROM `demo-project.shop.orders`', `demo-project:${s.ds}.${s.fresh('bq_v')}`], check: (o) => expect(o).toMatch(/created/i) },
  { name: 'update', demo: 'deny', args: (s) => ['update', '--description=by bq', `demo-project:${s.ds}.${s.t}`], check: (o) => expect(o).toMatch(/updated/i) },
  {
    name: 'rm -t', demo: 'deny',
    async setup(s) { if (s.who === 'admin') { s.job = s.fresh('bq_gone'); await admin().dataset(s.ds).createTable(s.job, { schema: 'a:STRING' }); } },
    args: (s) => ['rm', '-f', '-t', `demo-project:${s.ds}.${s.who === 'admin' ? s.job : s.t}`],
    check: async (_o, s) => expect((await admin().dataset(s.ds).table(s.job!).exists())[0]).toBe(false),
  },
  {
    name: 'rm -r -d', demo: 'deny',
    async setup(s) { if (s.who === 'admin') { s.job = s.fresh('bq_gone_ds'); const [d] = await admin().createDataset(s.job); await d.createTable('t', { schema: 'a:STRING' }); } },
    args: (s) => ['rm', '-r', '-f', '-d', `demo-project:${s.who === 'admin' ? s.job : s.ds}`],
    check: async (_o, s) => expect((await admin().dataset(s.job!).exists())[0]).toBe(false),
  },
  {
    name: 'cp', demo: 'deny', args: (s) => { s.job = s.fresh('bq_cp'); return ['cp', '-f', `demo-project:${s.ds}.${s.t}`, `demo-project:${s.ds}.${s.job}`]; },
    check: async (_o, s) => expect(await rowsOf(`demo-project.${s.ds}.${s.job}`)).toBe(await rowsOf(`demo-project.${s.ds}.${s.t}`)),
  },
  {
    name: 'insert', demo: 'deny',
    async setup(s) { writeFileSync(join(s.work, `rows-${s.who}.json`), '{"order_id": 990001, "customer_id": 1, "amount": 1.5, "status": "paid"}\n{"order_id": 990002, "customer_id": 2, "amount": 2.5, "status": "paid"}\n'); },
    args: (s) => ['insert', `demo-project:${s.ds}.${s.t}`, join(s.work, `rows-${s.who}.json`)],
    check: async (_o, s) => expect(Number((await admin().query(`SELECT COUNT(*) AS n FROM \`demo-project.${s.ds}.${s.t}\` WHERE order_id >= 990001`))[0][0].n)).toBe(2),
  },
  {
    name: 'load (local file)', demo: 'deny',
    async setup(s) { s.job = s.fresh('bq_loaded'); writeFileSync(join(s.work, `load-${s.who}.csv`), 'a,b\nx,1\ny,2\nz,3\n'); },
    args: (s) => ['load', '--source_format=CSV', '--skip_leading_rows=1', `demo-project:${s.ds}.${s.who === 'admin' ? s.job : s.t}`, join(s.work, `load-${s.who}.csv`), ...(s.who === 'admin' ? ['a:STRING,b:INTEGER'] : [])],
    check: async (_o, s) => expect(await rowsOf(`demo-project.${s.ds}.${s.job}`)).toBe(3),
  },
  {
    name: 'extract', demo: 'deny', args: (s) => { s.job = `${s.fresh('bq_x')}.csv`; return ['extract', `demo-project:${s.ds}.${s.t}`, `gs://admin-exports/${s.job}`]; },
    check: async (_o, s) => expect(readFileSync(s.gcs('admin-exports', s.job!), 'utf8').trim().split('\n').length - 1).toBe(await rowsOf(`demo-project.${s.ds}.${s.t}`)),
  },
  {
    name: 'query --destination_table', demo: 'deny', args: (s) => { s.job = s.fresh('bq_dest'); return ['query', '--nouse_legacy_sql', `--destination_table=demo-project:${s.ds}.${s.job}`, 'SELECT order_id FROM `demo-project.shop.orders` LIMIT 5']; },
    check: async (_o, s) => expect(await rowsOf(`demo-project.${s.ds}.${s.job}`)).toBe(5),
  },
  { name: 'query --parameter ARRAY', demo: 'pass', args: () => ['query', '--nouse_legacy_sql', '--format=json', '--parameter=ids:ARRAY<INT64>:[3,1,2]', 'SELECT order_id FROM `demo-project.shop.orders` WHERE order_id IN UNNEST(@ids) ORDER BY order_id'],
    check: (o) => expect(JSON.parse(o.slice(o.indexOf('['), o.lastIndexOf(']') + 1)).map((r: { order_id: string }) => Number(r.order_id))).toEqual([1, 2, 3]) },
  { name: 'query --parameter STRUCT', demo: 'pass', args: () => ['query', '--nouse_legacy_sql', '--format=json', '--parameter=s:STRUCT<a INT64, b STRING>:{"a": 1, "b": "x"}', 'SELECT @s.a AS a, @s.b AS b'],
    check: (o) => expect(JSON.parse(o.slice(o.indexOf('['), o.lastIndexOf(']') + 1))).toEqual([{ a: '1', b: 'x' }]) },
  { name: 'query --parameter TIMESTAMP', demo: 'pass', args: () => ['query', '--nouse_legacy_sql', '--format=json', '--parameter=t:TIMESTAMP:2026-01-02 03:04:05', 'SELECT UNIX_SECONDS(@t) AS s'],
    check: (o) => expect(JSON.parse(o.slice(o.indexOf('['), o.lastIndexOf(']') + 1))).toEqual([{ s: String(Date.UTC(2026, 0, 2, 3, 4, 5) / 1000) }]) },
  { name: 'query --dry_run', demo: 'pass', args: () => ['query', '--nouse_legacy_sql', '--dry_run', 'SELECT order_id FROM `demo-project.shop.orders`'], check: (o) => expect(o).toMatch(/will process \d+ bytes/) },
  { name: 'wait', demo: 'pass', async setup(s) { s.job = await startJob(s, 'SELECT COUNT(*) AS n FROM `demo-project.shop.orders`'); }, args: (s) => ['wait', s.job!], check: (o) => expect(o).toMatch(/SUCCESS|DONE/) },
  { name: 'cancel', demo: 'pass', async setup(s) { s.job = await startJob(s, SLOW_SQL); }, args: (s) => ['cancel', '--nosync', s.job!], check: (o, s) => expect(o).toContain(s.job!.split(':').pop()) },
];

beforeAll(async () => {
  ({ gw, tokens } = await startDemoAndAdminGateway('bqc', { admin: ['test-admins'], analyst: ['analysts'] }));
  const [ds] = await admin().createDataset('bqc');
  await admin().query('CREATE TABLE `demo-project.bqc.t` AS SELECT order_id, customer_id, amount, status FROM `demo-project.shop.orders` WHERE order_id <= 20');
  expect((await ds.table('t').exists())[0]).toBe(true);
}, 180_000);

const scope = (who: Who): Scope => ({
  who, ds: who === 'admin' ? 'bqc' : 'shop', t: who === 'admin' ? 't' : 'orders', work,
  fresh: (p) => `${p}_${++serial}`, gcs: (b, n) => join(gw.dataDir, 'gcs', b, n),
});

describe('the checklist is 1:1 with issue 18', () => {
  it('one entry per command of its list', () => {
    console.log(`bq commands: ${COMMANDS.length}`);
    expect(new Set(COMMANDS.map((c) => c.name)).size).toBe(COMMANDS.length);
  });
});

for (const c of COMMANDS) {
  describe(`bq ${c.name}`, () => {
    it('admin (test-only admin policy): exits 0', async () => {
      results.set(c.name, { ...results.get(c.name), admin: 'fail' });
      const s = scope('admin');
      await c.setup?.(s);
      const r = await gw.bq(tokens.admin, c.args(s));
      console.log(`bq ${c.name} (admin): exit ${r.code}: ${out(r).trim().slice(-300)}`);
      expect(r.code, out(r)).toBe(0);
      await c.check?.(r.stdout + r.stderr, s);
      results.set(c.name, { ...results.get(c.name), admin: 'pass' });
    }, 120_000);

    it(`demo analyst: ${c.demo === 'pass' ? 'exits 0' : 'exits non-zero naming the rule or the verb'}`, async () => {
      results.set(c.name, { ...results.get(c.name), demo: 'fail' });
      const s = scope('analyst');
      await c.setup?.(s);
      const r = await gw.bq(tokens.analyst, c.args(s));
      console.log(`bq ${c.name} (analyst): exit ${r.code}: ${out(r).trim().slice(-300)}`);
      if (c.demo === 'pass') {
        expect(r.code, out(r)).toBe(0);
        await c.check?.(r.stdout + r.stderr, s);
        results.set(c.name, { ...results.get(c.name), demo: 'pass' });
        return;
      }
      expect(r.code).not.toBe(0);
      const text = out(r);
      const rule = DEMO_RULES.find((x) => text.includes(x));
      const refused = /\ballows .*? to ([A-Z][A-Z_]+)\b/.exec(text)?.[1];
      const verb = VERB.exec(text);
      const what = rule ?? (refused ? `default deny of ${refused}` : verb ? (verb[3] ? 'default deny: no rule covers the dataset' : `verb ${verb[1] ?? verb[2]}`) : undefined);
      expect(what, `the refusal names the rule or the verb: ${text}`).toBeDefined();
      results.set(c.name, { ...results.get(c.name), demo: `denied (${what})` });
    }, 120_000);
  });
}

afterAll(async () => {
  const rows = COMMANDS.map((c) => [`bq ${c.name}`, results.get(c.name)?.admin ?? 'not run', results.get(c.name)?.demo ?? 'not run']);
  const width = Math.max(...rows.map((r) => r[0].length));
  const tally = (i: 1 | 2) => Object.entries(rows.reduce<Record<string, number>>((acc, r) => { const k = r[i].replace(/ \(.*$/, ''); acc[k] = (acc[k] ?? 0) + 1; return acc; }, {})).map(([k, v]) => `${k} ${v}`).join(', ');
  console.log(`bq checklist through the gateway (${rows.length}):\n${rows.map(([n, a, d]) => `${n.padEnd(width)}  admin: ${a.padEnd(6)}  demo: ${d}`).join('\n')}\nadmin: ${tally(1)}\ndemo: ${tally(2)}`);
  await gw?.stop();
});
