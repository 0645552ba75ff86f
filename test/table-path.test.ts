/**
 * Domain-scoped project IDs (`example.com:proj.dataset.table`): the one table-path parser
 * (src/bigquery/table-path.ts), and that the table the real ZetaSQL analyzer decides is the table
 * policy judges, the rewrite masks and the upstream reads — no site may take such a name apart
 * differently. The catalog is plain data (the emulator has no domain-scoped projects).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { leafOf, pathParts, projectOf, tablePath, writtenParts } from '../src/bigquery/table-path.ts';
import { Analyzer, ZetaSqlServer, type TableInfo, type TableSource } from '../src/sql/index.ts';
import { canSeeDataset, canSeeProject, decide, nameGlob, type Policy } from '../src/policy/index.ts';
import { rewriteQuery, verifyRewrite } from '../src/rewrite/index.ts';
import type { Principal } from '../src/auth/index.ts';

const SCHEMA = [{ name: 'id', type: 'INT64' }, { name: 'email', type: 'STRING' }, { name: 'ssn', type: 'STRING' }];
/** Tables by full name: a domain-scoped project, and plain projects whose naive split of the first would collide. */
const TABLES = ['a.b.com:p.ds.t', 'example.com:p.secret.t', 'example.com:p.ds.t', 'a.b.com', 'example.ds.t'];
const source: TableSource = {
  async getTable(fullName: string): Promise<TableInfo> {
    if (!TABLES.includes(fullName)) throw Object.assign(new Error(`Not found: Table ${fullName}`), { reason: 'notFound' });
    return { fullName, schema: SCHEMA };
  },
  async listTables(p: string, d: string) { return TABLES.filter((t) => pathParts(t)[0] === p && pathParts(t)[1] === d).map(leafOf); },
};
const who: Principal = { subject: 's', groups: ['g'], issuer: 'i', claims: {} };
let zeta: ZetaSqlServer;
let analyzer: Analyzer;
beforeAll(async () => { zeta = new ZetaSqlServer(); await zeta.start(); analyzer = new Analyzer(zeta, source); });
afterAll(async () => { await zeta?.stop(); });
const analyze = (sql: string) => analyzer.analyze({ sql, projectId: 'job-project' });

describe('table-path parser', () => {
  it('keeps a domain-scoped project whole and plain names as they split', () => {
    expect(pathParts('a.b.com:p.ds.t')).toEqual(['a.b.com:p', 'ds', 't']);
    expect(pathParts('example.com:p.region-us.INFORMATION_SCHEMA.JOBS')).toEqual(['example.com:p', 'region-us', 'INFORMATION_SCHEMA', 'JOBS']);
    expect(pathParts('p.ds.t.col')).toEqual(['p', 'ds', 't', 'col']);
    expect(tablePath('example.com:p.ds.t.col')).toEqual({ project: 'example.com:p', dataset: 'ds', name: 't', rest: ['col'] });
    expect(projectOf('a.b.com:p.ds.t')).toBe('a.b.com:p');
    expect(leafOf('a.b.com:p.ds.t')).toBe('t');
    expect(() => tablePath('example.com:p.ds')).toThrow(/not project\.dataset\.name/);
  });

  it('accepts a domain-scoped project only at the start of the first written segment', () => {
    expect(writtenParts(['example.com:p.ds.t'])).toEqual(['example.com:p', 'ds', 't']);
    expect(writtenParts(['example.com:p', 'ds', 't'])).toEqual(['example.com:p', 'ds', 't']);
    for (const segs of [['example', 'com:p', 'ds', 't'], ['example', 'com:p.ds.t'], ['ds', 'example.com:p'], ['example.com:p:q.ds.t'], ['example.com:p.ds:x.t'], ['p:ds.t'], ['example.com:P_1.ds.t']]) {
      expect(() => writtenParts(segs), segs.join('|')).toThrow(/domain-scoped project ID/);
    }
  });

  it('name globs match a domain-scoped project as one part', () => {
    expect(nameGlob('*.ds.*', 'example.com:p.ds.t')).toBe(true);
    expect(nameGlob('example.com:p.*.*', 'example.com:p.ds.t')).toBe(true);
    expect(nameGlob('*.*.*.*', 'example.com:p.ds.t')).toBe(false); // a naive split would see four parts
    expect(nameGlob('example.*.*', 'example.com:p.ds.t')).toBe(false);
    expect(nameGlob('a.b.*', 'a.b.com:p.ds.t')).toBe(false);
    expect(nameGlob('*.*.t.email', 'example.com:p.ds.t.email')).toBe(true);
    expect(nameGlob('example.ds.t', 'example.ds.t')).toBe(true);
  });
});

describe('domain-scoped projects through analysis, policy and rewrite', () => {
  it('resolves every accepted spelling to the same table', async () => {
    for (const sql of ['SELECT email FROM `example.com:p.ds.t`', 'SELECT email FROM `example.com:p`.ds.t', 'SELECT email FROM `example.com:p.ds`.t']) {
      const a = await analyze(sql);
      expect(a.tablesRead, sql).toEqual(['example.com:p.ds.t']);
      expect(a.columnsRead, sql).toEqual([{ table: 'example.com:p.ds.t', column: 'email' }]);
    }
    const is = await analyzer.analyze({ sql: 'SELECT * FROM `a.b.com:p.region-us.INFORMATION_SCHEMA`.JOBS', projectId: 'job-project' }).catch((e) => e);
    // The INFORMATION_SCHEMA view is qualified in the domain-scoped project (its schema is not in this catalog).
    expect(String(is.message)).toContain('a.b.com:p.region-us.INFORMATION_SCHEMA.JOBS');
  });

  it('refuses spellings that split the project across backquotes or leave it unqualified', async () => {
    for (const sql of ['SELECT email FROM example.`com:p`.ds.t', 'SELECT email FROM `example.com:p.t`', 'SELECT email FROM `ds.example.com:p.t`', 'SELECT email FROM `example.com:p.ds.t:x`']) {
      await expect(analyze(sql), sql).rejects.toMatchObject({ reason: 'invalidQuery' });
    }
  });

  it('attack: a rule for the naive split of the name does not allow the table', async () => {
    // Split on every dot, `a.b.com:p.ds.t` would be project a, dataset b: a rule for a.b.* must not cover it.
    const a = await analyze('SELECT email FROM `a.b.com:p.ds.t`');
    const p: Policy = { version: 't', rules: [{ id: 'ab', effect: 'allow', principals: '*', verbs: ['SELECT'], tables: ['a.b.*'] }] };
    const d = decide(p, who, a);
    expect(d.effect).toBe('deny');
    expect(canSeeProject(p, who, 'a.b.com:p')).toBe(false);
    expect(canSeeDataset(p, who, 'a.b.com:p', 'ds')).toBe(false);
    const right: Policy = { version: 't', rules: [{ id: 'dom', effect: 'allow', principals: '*', verbs: ['SELECT'], tables: ['a.b.com:p.ds.*'] }] };
    expect(decide(right, who, a).effect).toBe('allow');
    expect(canSeeDataset(right, who, 'a.b.com:p', 'ds')).toBe(true);
  });

  it('attack: a deny rule with a wildcard project covers a domain-scoped project', async () => {
    const a = await analyze('SELECT id FROM `example.com:p.secret.t`');
    const p: Policy = { version: 't', rules: [
      { id: 'all', effect: 'allow', principals: '*', verbs: ['SELECT'], tables: ['*'] },
      { id: 'secret', effect: 'deny', principals: '*', tables: ['*.secret.*'] },
      { id: 'no-ssn', effect: 'deny', principals: '*', columns: ['*.*.*.ssn'] },
    ] };
    const d = decide(p, who, a);
    expect(d.effect).toBe('deny');
    expect(d.matchedRules).toContain('secret');
    const col = decide(p, who, await analyze('SELECT ssn FROM `example.com:p.ds.t`'));
    expect(col.effect).toBe('deny');
    expect(col.matchedRules).toContain('no-ssn');
  });

  it('masks a column of a domain-scoped table at its scan, naming the same table upstream', async () => {
    const sql = 'SELECT email FROM `example.com:p`.ds.t';
    const a = await analyze(sql);
    const p: Policy = { version: 't', rules: [
      { id: 'all', effect: 'allow', principals: '*', verbs: ['SELECT'], tables: ['*'] },
      { id: 'm', effect: 'mask', principals: '*', masks: [{ column: '*.ds.t.email', rule: 'SHA256' }] },
    ] };
    const d = decide(p, who, a);
    expect(d.masks['example.com:p.ds.t']?.email?.rule).toBe('SHA256');
    const r = rewriteQuery(sql, a, d, Buffer.from('k'));
    console.log('rewritten:', r.sql);
    expect(r.sql).toContain('FROM `example.com:p.ds.t`');
    const again = await analyze(r.sql);
    expect(again.tablesRead).toEqual(['example.com:p.ds.t']);
    expect(() => verifyRewrite(again, r, d)).not.toThrow();
    expect(() => verifyRewrite(a, { ...r, projections: [] }, d)).toThrow(/outside its masking projection/);
  });
});
