/**
 * The corpus catalog synthesizer (scripts/corpus-catalog.ts, scripts/corpus/) against the real
 * ZetaSQL server: each statement below stalled the synthesizer in `npm run coverage:sql` (the rule
 * that failed is named per case); a catalog is synthesized so that it analyzes, with the column
 * shapes the statement implies.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ZetaSqlServer } from '../src/sql/index.ts';
import { synthesize } from '../scripts/corpus-catalog.ts';
import type { BqField } from '../src/emulator/encode.ts';

let zeta: ZetaSqlServer;
beforeAll(async () => { zeta = new ZetaSqlServer(); await zeta.start(); });
afterAll(async () => { await zeta?.stop(); });

/** Synthesizes a catalog for `sql`; returns the outcome and the synthesized tables by last name part. */
async function synth(sql: string) {
  const r = await synthesize(zeta, { id: 'test', sql, category: 'query_simple' });
  const tables = new Map([...r.src.tables].map(([k, v]) => [k.split('.').pop()!, v]));
  return { ok: r.ok, last: r.last, tables };
}
const col = (fs: BqField[] | undefined, name: string) => fs?.find((f) => f.name.toLowerCase() === name.toLowerCase());

describe('corpus catalog synthesis', () => {
  it('SUM over a FROM subquery without an alias types the column its first SELECT reads; the UNION keeps that type', async () => {
    const r = await synth('SELECT SUM(c), SUM(e) FROM (SELECT cs.x AS c, cs.w AS e FROM t1 cs UNION ALL SELECT cs.y AS c, cs.v AS e FROM t2 cs)');
    expect(r.ok, r.last).toBe(true);
    const types = ['x', 'w'].map((n) => col(r.tables.get('t1'), n)?.type).concat(['y', 'v'].map((n) => col(r.tables.get('t2'), n)?.type));
    console.log('SUM over an unaliased UNION subquery, x w y v:', types.join(' '));
    expect(new Set(types).size).toBe(1);
  });

  it('the wider SELECT * input of a UNION drops the placeholder column it got for an empty table', async () => {
    const r = await synth('SELECT * FROM t UNION ALL SELECT x, y FROM t');
    expect(r.ok, r.last).toBe(true);
    expect(r.tables.get('t')!.map((f) => f.name)).toEqual(['x', 'y']);
  });

  it('UNNEST(labels) AS labels in two SELECTs resolves labels to the column, not to the other UNNEST', async () => {
    const r = await synth(`SELECT n FROM t AS u LEFT JOIN UNNEST(labels) AS labels ON labels.key = 'a'
      UNION ALL SELECT n FROM t AS u LEFT JOIN UNNEST(labels) AS labels ON labels.key = 'b'`);
    expect(r.ok, r.last).toBe(true);
    const labels = col(r.tables.get('t'), 'labels');
    expect(labels?.mode).toBe('REPEATED');
    expect(labels?.type).toBe('RECORD');
    expect(col(labels?.fields, 'key')).toBeDefined();
  });

  it('a subscript error at a.arr[0].b.parts[0] makes parts (the chain before that subscript) an array', async () => {
    const r = await synth('SELECT r.candidates[0].content.parts[0].text AS t FROM results r');
    expect(r.ok, r.last).toBe(true);
    const candidates = col(r.tables.get('results'), 'candidates');
    expect(candidates?.mode).toBe('REPEATED');
    expect(col(col(candidates?.fields, 'content')?.fields, 'parts')?.mode).toBe('REPEATED');
  });
});
