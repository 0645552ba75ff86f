/**
 * The hand-checked analysis set (test/cases/analysis*.yaml) through the real ZetaSQL analyzer and a
 * catalog read from the real emulator: tables, verbs, columns, clauses, lineage, refusals.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse } from 'yaml';
import type { Analyzer, QueryParameter } from '../src/sql/index.ts';
import { openAnalysis, type AnalysisStack } from '../src/cli/analysis.ts';

interface Case {
  sql: string; kind?: string; read?: string[]; models?: string[]; written?: string[]; cols?: string[]; error?: string; default_dataset?: string;
  out?: Record<string, string>; clauses?: Record<string, string[]>; time_travel?: boolean; views?: Record<string, string[]>; flags?: Record<string, unknown>; units?: string[]; fields?: string[]; outputs?: string[]; functions?: string[];
  params?: Array<{ name?: string; type: string; arrayType?: string }>;
}
/** Every `test/cases/analysis*.yaml` file (one per construct family), in name order. */
const CASES: Case[] = readdirSync(resolve('test/cases')).filter((f) => /^analysis.*\.yaml$/.test(f)).sort()
  .flatMap((f) => parse(readFileSync(resolve('test/cases', f), 'utf8')).cases as Case[]);
const full = (t: string) => (t.startsWith('_SESSION.') ? t : `demo-project.shop.${t}`);
const short = (r: { table: string; column: string }) => `${r.table.split('.').pop()}.${r.column}`;

let stack: AnalysisStack;
let analyzer: Analyzer;
beforeAll(async () => {
  stack = await openAnalysis({ upstream: 'emulator', fixturesDir: resolve('fixtures') });
  analyzer = stack.analyzer;
});
afterAll(async () => { await stack?.close(); });

describe('hand-checked analysis cases', () => {
  it('has at least 150 cases', () => expect(CASES.length).toBeGreaterThanOrEqual(150));

  it.each(CASES.map((c, i) => [i, c.sql, c] as const))('#%i %s', async (_i, _sql, c) => {
    const queryParameters: QueryParameter[] | undefined = c.params?.map((p) => ({
      ...(p.name ? { name: p.name } : {}),
      parameterType: p.type === 'ARRAY' ? { type: 'ARRAY', arrayType: { type: p.arrayType! } } : { type: p.type },
    }));
    const run = analyzer.analyze({ sql: c.sql, projectId: 'demo-project', ...(c.default_dataset ? { defaultDataset: { datasetId: c.default_dataset } } : {}), queryParameters });
    if (c.error) { await expect(run).rejects.toMatchObject({ reason: c.error }); return; }
    const a = await run;
    expect(a.statementKind).toBe(c.kind ?? 'SELECT');
    if (c.read) expect(a.tablesRead).toEqual(c.read.map(full).sort());
    // Models read (a MODEL argument), by full name: what the policy decides beside the tables.
    if (c.models) expect(a.modelsRead).toEqual(c.models.map(full).sort());
    if (c.written) expect(a.tablesWritten).toEqual(c.written.map(full));
    if (c.cols) expect(a.columnsRead.map(short).sort()).toEqual([...c.cols].sort());
    if (c.outputs) expect(a.outputColumns).toEqual(c.outputs);
    if (c.functions) expect(a.functions).toEqual(expect.arrayContaining(c.functions));
    for (const [name, want] of Object.entries(c.out ?? {})) {
      const l = a.lineage.find((x) => x.name === name);
      expect(l, `output column ${name}`).toBeDefined();
      expect(`${l!.direct ? 'copy' : 'expr'}:${l!.sources.map(short).join(',')}`, name).toBe(want);
    }
    for (const [clause, want] of Object.entries(c.clauses ?? {})) expect((a.columnsByClause as any)[clause]?.map(short) ?? [], clause).toEqual([...want].sort());
    if (c.views) expect(a.views).toEqual(Object.fromEntries(Object.entries(c.views).map(([v, ts]) => [full(v), ts.map(full)])));
    if (c.flags) expect(a.flags).toMatchObject(c.flags);
    if (c.units) expect(a.units?.map((u) => u.statementKind)).toEqual(c.units);
    if (c.fields) expect(a.fieldsRead.map((f) => [short(f), ...f.path].join('.')).sort()).toEqual([...c.fields].sort());
    if (c.time_travel !== undefined) expect(a.scans.some((s) => s.timeTravel)).toBe(c.time_travel);
  });
});
