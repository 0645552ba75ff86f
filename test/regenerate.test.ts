/**
 * The regenerated statement (Analyzer.regenerate, sql/canonical.ts) returns what the caller's would:
 * every hand-checked analysis case (test/cases/analysis*.yaml) is regenerated exactly, and each
 * query among them that the real emulator runs gives the same column names, types and rows (in
 * order where the query orders them) from the regenerated text as from the original.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse } from 'yaml';
import type { Analyzer } from '../src/sql/index.ts';
import { openAnalysis, type AnalysisStack } from '../src/cli/analysis.ts';

interface Case { sql: string; kind?: string; error?: string; default_dataset?: string; params?: unknown[] }
const CASES: Case[] = readdirSync(resolve('test/cases')).filter((f) => /^analysis.*\.yaml$/.test(f)).sort()
  .flatMap((f) => parse(readFileSync(resolve('test/cases', f), 'utf8')).cases as Case[]);
/** Results that differ between two runs of the same text (clocks, randomness, sampling, the jobs views). */
const VOLATILE = /CURRENT_|RAND\(|GENERATE_UUID|SESSION_USER|TABLESAMPLE|NOW\(|ANY_VALUE|ROW_NUMBER|ARRAY_AGG|STRING_AGG|INFORMATION_SCHEMA\.JOBS/i; // JOBS: each run of the statement is itself a new job in the view

let stack: AnalysisStack;
let analyzer: Analyzer;
beforeAll(async () => {
  stack = await openAnalysis({ upstream: 'emulator', fixturesDir: resolve('fixtures') });
  analyzer = stack.analyzer;
}, 120_000);
afterAll(async () => { await stack?.close(); });

/** A query's answer from the emulator: schema (name, type) and rows, or the error message. */
async function run(sql: string, c: Case) {
  const r = await stack.upstream.call('POST', '/projects/demo-project/queries', {
    body: { query: sql, useLegacySql: false, timeoutMs: 30_000, ...(c.default_dataset ? { defaultDataset: { projectId: 'demo-project', datasetId: c.default_dataset } } : {}) },
  });
  if (r.status >= 300) return { error: String(r.body?.error?.message) };
  return { schema: (r.body.schema?.fields ?? []).map((f: any) => `${f.name}:${f.type}:${f.mode ?? ''}`), rows: (r.body.rows ?? []).map((x: unknown) => JSON.stringify(x)) as string[] };
}

describe('regenerated statements', () => {
  const counts = { cases: 0, compared: 0, emulatorGap: 0, changed: 0 };
  afterAll(() => console.log(`regenerate: ${counts.cases} hand-checked cases regenerated exactly, ${counts.changed} with a different text; ${counts.compared} queries compared on the emulator (${counts.emulatorGap} the emulator cannot run either way)`));

  it.each(CASES.filter((c) => !c.error).map((c, i) => [i, c.sql, c] as const))('#%i %s', async (_i, _sql, c) => {
    const input = { sql: c.sql, projectId: 'demo-project', ...(c.default_dataset ? { defaultDataset: { datasetId: c.default_dataset } } : {}) };
    if (c.params) return; // no parameter values to run with; the analysis cases cover their types
    const expected = await analyzer.analyze(input);
    // As the pipeline does (pipeline/statement.ts): the text regenerated is the analyzed one (views inlined, pipes desugared).
    const out = await analyzer.regenerate({ ...input, sql: expected.effectiveSql }, expected);
    counts.cases++;
    if (out.sql !== c.sql) counts.changed++;
    expect(out.analysis.outputColumns).toEqual(expected.outputColumns);
    expect(out.sql, 'no comment survives').not.toMatch(/--|\/\*|#/);
    if ((c.kind ?? 'SELECT') !== 'SELECT') return; // writes are not run twice
    const [a, b] = [await run(c.sql, c), await run(out.sql, c)];
    if (a.error) { counts.emulatorGap++; return; }
    // BY NAME and STRICT CORRESPONDING desugar to CORRESPONDING, which the emulator's DuckDB translation cannot run yet (issue 20).
    if (b.error && /\bCORRESPONDING\b/.test(out.sql) && !/\bCORRESPONDING\b/i.test(c.sql.replace(/\bSTRICT\s+CORRESPONDING\b/gi, ''))) { counts.emulatorGap++; return; }
    expect(b.error, `regenerated: ${out.sql}`).toBeUndefined();
    counts.compared++;
    expect(b.schema).toEqual(a.schema);
    if (VOLATILE.test(c.sql)) return;
    const ordered = /ORDER BY(?![^(]*\))/i.test(c.sql); // a top-level ORDER BY, not one inside OVER (…)
    expect(ordered ? b.rows : [...b.rows!].sort(), `rows of ${out.sql}`).toEqual(ordered ? a.rows : [...a.rows!].sort());
  });
});
