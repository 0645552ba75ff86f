/**
 * Availability of the analysis stage against a real gateway process (its embedded emulator and its
 * pool of ZetaSQL processes): statements that stall or crash ZetaSQL — a 4,000-term `1+1+…` chain,
 * the corpus statements that took the analyzer down, a CTE named with a leading `$` — sent in a
 * loop by one principal, while another principal's fresh statements (real SDK, real bq CLI) keep
 * succeeding; a principal with no allow rule refused before analysis; every structural limit's
 * refusal; and, with the limits off and a short deadline, a stalled process killed and replaced.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startGateway, type TestGateway } from './helpers/gateway.ts';

const execFileP = promisify(execFile);
const CORPUS = '/work/shared/corpus/bigquery-sql';
const CORPUS_CRASHERS = ['bigquery-docs-00708', 'bigquery-docs-00709', 'professional-services-00044', 'sqlfluff-00001'];
const corpusSql = (id: string) => {
  const file = `${CORPUS}/${id.replace(/-\d+$/, '')}.jsonl`;
  const line = readFileSync(file, 'utf8').split('\n').find((l) => l.includes(`"id": "${id}"`));
  return (JSON.parse(line!) as { sql: string }).sql;
};
const chain = (n: number) => `SELECT ${Array(n).fill('1').join('+')}`;
const DOLLAR_CTE = 'WITH `$t` AS (SELECT 1 AS a) SELECT * FROM `$t`';

/** jobs.query over REST; `ms` the round trip. */
async function query(gw: TestGateway, token: string, sql: string) {
  const t0 = performance.now();
  const res = await fetch(`${gw.url}/bigquery/v2/projects/demo-project/queries`, {
    method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ query: sql, useLegacySql: false }),
  });
  const body = await res.json() as any;
  return { status: res.status, body, reason: body.error?.errors?.[0]?.reason as string | undefined, message: (body.error?.message ?? '') as string, timing: res.headers.get('server-timing') ?? '', ms: performance.now() - t0 };
}

const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))]?.toFixed(0);
  return `n=${s.length} p50=${q(0.5)} ms p95=${q(0.95)} ms max=${q(1)} ms`;
};
const gauge = async (gw: TestGateway, name: string) => Number((await (await fetch(`${gw.url}/metrics`)).text()).match(new RegExp(`^${name} (\\S+)$`, 'm'))?.[1]);
/** remote_server processes that are children of the gateway process. */
const analyzerPids = async (gw: TestGateway) => (await execFileP('ps', ['-o', 'pid=,comm=', '--ppid', String(gw.pid)])).stdout.split('\n').filter((l) => /remote_server/.test(l)).map((l) => Number(l.trim().split(/\s+/)[0]));

describe('analyzer DoS (default limits, 2 analyzer processes)', () => {
  let gw: TestGateway;
  let attacker: string;
  let victim: string;
  let nobody: string;
  beforeAll(async () => {
    gw = await startGateway();
    attacker = await gw.token({ sub: 'dos-attacker', groups: ['analysts'] });
    victim = await gw.token({ sub: 'dos-victim', groups: ['analysts'] });
    nobody = await gw.token({ sub: 'dos-nobody', groups: ['nobody'] });
  });
  afterAll(async () => { await gw?.stop(); });

  it('keeps answering one principal while another loops crashers and chains', async () => {
    const crashers = [chain(4000), ...CORPUS_CRASHERS.map(corpusSql), DOLLAR_CTE];
    const sdk = gw.sdk(victim);
    const baseline: number[] = [];
    for (let i = 1; i <= 10; i++) {
      const t0 = performance.now();
      await sdk.query({ query: `SELECT order_id, status FROM shop.orders ORDER BY order_id LIMIT ${1000 + i}`, useLegacySql: false });
      baseline.push(performance.now() - t0);
    }
    const attacks: Array<{ sql: string; status: number; reason?: string; ms: number }> = [];
    let stop = false;
    const attack = (async () => {
      for (let round = 0; round < 5; round++) {
        for (const sql of crashers) {
          const r = await query(gw, attacker, sql);
          attacks.push({ sql: sql.slice(0, 30), status: r.status, reason: r.reason, ms: r.ms });
        }
      }
      stop = true;
    })();
    const ok: number[] = [];
    const failed: string[] = [];
    for (let i = 1; !stop || ok.length < 10; i++) {
      const t0 = performance.now();
      // Distinct statements (the LIMIT), so the analysis cache hides nothing.
      const r = await sdk.query({ query: `SELECT order_id, status FROM shop.orders ORDER BY order_id LIMIT ${i}`, useLegacySql: false }).then(([rows]) => rows.length, (e: Error) => e.message);
      if (typeof r === 'number' && r > 0) ok.push(performance.now() - t0); else failed.push(String(r));
    }
    await attack;
    const bq = await gw.bq(victim, ['--format=json', 'query', '--nouse_legacy_sql', 'SELECT order_id FROM shop.orders ORDER BY order_id LIMIT 3']);
    console.log(`victim (SDK) before the attack: ${stats(baseline)}`);
    console.log(`victim (SDK) while attacked: ${stats(ok)}; failures: ${failed.length}`);
    console.log(`attacker: ${stats(attacks.map((a) => a.ms))}`);
    for (const a of attacks.slice(0, crashers.length * 2)) console.log(`  ${a.status} ${a.reason ?? ''} ${a.ms.toFixed(0)} ms  ${a.sql.replace(/\n/g, ' ')}`);
    expect(failed).toEqual([]);
    expect(bq.code, bq.stderr).toBe(0);
    expect(JSON.parse(bq.stdout.slice(bq.stdout.indexOf('[')))).toHaveLength(3);
    // The attacker was refused, never answered 5xx (nothing made the analyzer unavailable to it either).
    expect(attacks.every((a) => a.status >= 400 && a.status < 500 || a.status === 200)).toBe(true);
    const dollar = attacks.filter((a) => a.sql.startsWith('WITH `$t`'));
    expect(dollar.every((a) => a.reason === 'invalidQuery')).toBe(true);
    expect((await fetch(`${gw.url}/readyz`)).status).toBe(200);
    expect(await gauge(gw, 'bqgate_zetasql_up')).toBe(1);
  }, 300_000);

  it('refuses the chain by its operator-chain limit, in a millisecond, before analysis', async () => {
    const r = await query(gw, attacker, chain(4000));
    expect(r.status).toBe(400);
    expect(r.reason).toBe('invalidQuery');
    expect(r.message).toMatch(/SQL operator chain limit exceeded \(one expression chains 3999 binary operators; the maximum is 100, BQGATE_SQL_MAX_CHAIN\)/);
    expect(r.timing).not.toMatch(/analyze/);
  });

  it('quarantines a statement that crashed an analyzer process: refused at once, analyzer untouched', async () => {
    const restarts = await gauge(gw, 'bqgate_zetasql_restarts_total');
    const again = await query(gw, attacker, DOLLAR_CTE.toLowerCase().replace(/ /g, '\n  '));
    console.log(`quarantined statement refused in ${again.ms.toFixed(0)} ms: ${again.message}`);
    expect(again.reason).toBe('invalidQuery');
    expect(again.message).toMatch(/This statement crashed bqgate's SQL analyzer \(.*, the process ended with SIGABRT\); bqgate refuses it .* until .*It was not run/);
    expect(again.timing).not.toMatch(/analyze/);
    expect(await gauge(gw, 'bqgate_zetasql_restarts_total')).toBe(restarts);
  });

  it('refuses a principal with no allow rule before analysis', async () => {
    for (const sql of ['SELECT 1', DOLLAR_CTE.replace('$t', '$u'), chain(4000)]) {
      const r = await query(gw, nobody, sql);
      expect(r.status).toBe(403);
      expect(r.reason).toBe('accessDenied');
      expect(r.message).toMatch(/^Access Denied: no bqgate policy rule allows anything for dos-nobody \[groups: nobody\] \(default deny\), so the statement was neither analyzed nor run/);
      expect(r.timing).not.toMatch(/analyze/);
    }
    const sdk = await gw.sdk(nobody).query({ query: 'SELECT 2', useLegacySql: false }).catch((e: Error) => e.message);
    expect(sdk).toMatch(/no bqgate policy rule allows anything/);
  });

  it('names each structural limit, the measured value and the maximum', async () => {
    const cases: Array<[string, RegExp]> = [
      [`SELECT 1 -- ${'x'.repeat(1024 * 1024)}`, /SQL bytes limit exceeded \(the statement is 1048588 bytes; the maximum is 1048576, BQGATE_SQL_MAX_BYTES\)/],
      [`SELECT ${Array(12_501).fill('1').join(',')}`, /SQL tokens limit exceeded \(the statement has more than 25000 tokens; the maximum is 25000, BQGATE_SQL_MAX_TOKENS\)/],
      [`SELECT ${'('.repeat(51)}1${')'.repeat(51)}`, /SQL nesting depth limit exceeded \(parentheses\/brackets nest 51 levels deep; the maximum is 50, BQGATE_SQL_MAX_DEPTH\)/],
      [chain(102), /SQL operator chain limit exceeded \(one expression chains 101 binary operators; the maximum is 100, BQGATE_SQL_MAX_CHAIN\)/],
    ];
    for (const [sql, msg] of cases) {
      const r = await query(gw, attacker, sql);
      expect(r.status).toBe(400);
      expect(r.reason).toBe('invalidQuery');
      expect(r.message).toMatch(msg);
      expect(r.message).toMatch(/^bqgate refused the statement before analysis: .* It was not run\.$/);
    }
    // Just inside the chain limit (AND runs are flat in ZetaSQL): analyzed and run as usual.
    const fine = await query(gw, attacker, `SELECT ${Array(101).fill('TRUE').join(' AND ')} AS x`);
    expect(fine.status, fine.message).toBe(200);
    expect(fine.body.rows).toEqual([{ f: [{ v: 'true' }] }]);
  });
});

describe('analyzer deadline (limits off, 1.5 s deadline)', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startGateway({ env: { BQGATE_SQL_MAX_CHAIN: '0', BQGATE_SQL_MAX_TOKENS: '0', BQGATE_ANALYZER_DEADLINE_MS: '1500' } });
  });
  afterAll(async () => { await gw?.stop(); });

  it('kills and replaces the stalled process, refuses the statement clearly, and serves others meanwhile', async () => {
    const attacker = await gw.token({ sub: 'deadline-attacker', groups: ['analysts'] });
    const victim = await gw.token({ sub: 'deadline-victim', groups: ['analysts'] });
    const before = await analyzerPids(gw);
    expect(before).toHaveLength(2);
    const slow = query(gw, attacker, chain(4000));
    const ok: number[] = [];
    for (let i = 1; i <= 15; i++) {
      const r = await query(gw, victim, `SELECT order_id FROM shop.orders ORDER BY order_id LIMIT ${i}`);
      expect(r.status, r.message).toBe(200);
      ok.push(r.ms);
    }
    const s = await slow;
    console.log(`stalled statement refused after ${s.ms.toFixed(0)} ms: ${s.message}`);
    console.log(`victim meanwhile: ${stats(ok)}`);
    expect(s.reason).toBe('invalidQuery');
    expect(s.message).toMatch(/stalled bqgate's SQL analyzer past its deadline \(.*no answer within 1500 ms; the process was stopped and replaced\)/);
    const again = await query(gw, attacker, chain(4000));
    expect(again.message).toMatch(/stalled bqgate's SQL analyzer past its deadline/);
    expect(again.ms).toBeLessThan(1000);
    for (let i = 0; i < 50 && (await gauge(gw, 'bqgate_zetasql_restarts_total')) < 1; i++) await new Promise((r) => setTimeout(r, 100));
    expect(await gauge(gw, 'bqgate_zetasql_restarts_total')).toBe(1);
    let after: number[] = [];
    for (let i = 0; i < 50 && (after = await analyzerPids(gw)).length !== 2; i++) await new Promise((r) => setTimeout(r, 100));
    expect(after).toHaveLength(2);
    expect(before.filter((p) => !after.includes(p))).toHaveLength(1); // exactly the stalled one is gone (no core left busy)
    expect((await fetch(`${gw.url}/readyz`)).status).toBe(200);
  }, 120_000);
});
