/**
 * The BigQuery builtins data file (src/sql/builtins) against BigQuery's function reference and the
 * real ZetaSQL build: scripts/builtins-diff.ts must find every missing function covered and every
 * example analyzing; the analyzer registers a function only for statements that name it, and a
 * catalog registered without it is not reused for one that calls it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { resolve } from 'node:path';
import { openAnalysis, type AnalysisStack } from '../src/cli/analysis.ts';
import { BUILTIN_ENTRIES, builtinNamesIn, parseType } from '../src/sql/builtins/index.ts';

const run = promisify(execFile);
let stack: AnalysisStack;
beforeAll(async () => { stack = await openAnalysis({ upstream: 'emulator', fixturesDir: resolve('fixtures') }); }, 120_000);
afterAll(async () => { await stack?.close(); });
const analyze = (sql: string) => stack.analyzer.analyze({ sql, projectId: 'demo-project' });

describe('BigQuery builtins', () => {
  it('covers every function of the reference this build lacks (scripts/builtins-diff.ts)', async () => {
    const r = await run('npx', ['tsx', 'scripts/builtins-diff.ts'], { cwd: resolve('.'), timeout: 240_000 }).catch((e) => e as { stdout: string; code: number });
    const out = String(r.stdout);
    console.log(out.split('\n').filter((l) => /^(documented|data file)/.test(l)).join('\n'));
    expect(out).not.toMatch(/NOT COVERED|example of .* fails/);
    expect((r as { code?: number }).code ?? 0).toBe(0);
    expect(out).toMatch(/missing from this build: \d+/);
  }, 300_000);

  it('every entry has a doc URL and either signatures or the reason it is deferred', () => {
    for (const e of BUILTIN_ENTRIES) {
      expect(e.url, e.name).toMatch(/^https:\/\/cloud\.google\.com\/bigquery\/docs\/reference\/standard-sql\//);
      expect(!!e.signatures?.length !== !!e.deferred, e.name).toBe(true);
    }
  });

  it('names the functions a statement may call by the words it contains', () => {
    expect(builtinNamesIn("SELECT search(c, 'x'), kll_quantiles.EXTRACT_INT64(s, 2) FROM t")).toEqual(['KLL_QUANTILES.EXTRACT_INT64', 'SEARCH']);
    expect(builtinNamesIn('SELECT researched FROM t')).toEqual([]);
    expect(builtinNamesIn('SELECT 1 -- edit_distance')).toEqual(['EDIT_DISTANCE']);
  });

  it('parses the signature types of the data file', () => {
    expect(parseType('ARRAY<STRUCT<term STRING, count INT64>>')).toEqual({ typeKind: 'TYPE_ARRAY', arrayType: { elementType: { typeKind: 'TYPE_STRUCT', structType: { field: [{ fieldName: 'term', fieldType: { typeKind: 'TYPE_STRING' } }, { fieldName: 'count', fieldType: { typeKind: 'TYPE_INT64' } }] } } } });
    expect(() => parseType('ARRAY<NUMBER>')).toThrow(/unknown type NUMBER/);
  });

  it('does not reuse a catalog registered without a function for a statement that calls it', async () => {
    await analyze("SELECT email FROM shop.customers WHERE city = 'builtins-test'");
    const a = await analyze("SELECT email FROM shop.customers WHERE city = 'builtins-test' AND EDIT_DISTANCE(email, 'x') < 3");
    expect(a.functions).toContain('BigQuery:edit_distance');
    expect(a.flags.userFunctions).toEqual([]);
  });

  it('refuses a documented function it defers, and a wrong signature, as invalidQuery', async () => {
    await expect(analyze('SELECT PATH_LENGTH(1)')).rejects.toMatchObject({ reason: 'invalidQuery' });
    await expect(analyze("SELECT MAX_BY(email) FROM shop.customers")).rejects.toMatchObject({ reason: 'invalidQuery' });
  });
});
