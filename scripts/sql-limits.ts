/**
 * `tsx scripts/sql-limits.ts [--corpus DIR]`: the structural measures of src/sql/limits.ts over
 * every corpus statement — the largest of each (and which statement), and how many statements the
 * default limits (or BQGATE_SQL_MAX_* from the environment) would refuse. Exits 1 if any.
 */
import { resolve } from 'node:path';
import { measureSql, checkSqlLimits, type SqlShape } from '../src/sql/limits.js';
import { sqlLimitsFrom } from '../src/config.js';
import { readCorpus } from './corpus-catalog.js';

const i = process.argv.indexOf('--corpus');
const stmts = readCorpus(resolve(i >= 0 ? process.argv[i + 1] : '../shared/corpus/bigquery-sql'));
const limits = sqlLimitsFrom(process.env);
const max: Record<keyof SqlShape, { value: number; id: string }> = { bytes: { value: 0, id: '' }, tokens: { value: 0, id: '' }, depth: { value: 0, id: '' }, chain: { value: 0, id: '' } };
const refused: string[] = [];
const t0 = performance.now();
for (const s of stmts) {
  const shape = measureSql(s.sql);
  for (const k of Object.keys(max) as Array<keyof SqlShape>) if (shape[k] > max[k].value) max[k] = { value: shape[k], id: s.id };
  try { checkSqlLimits(s.sql, limits); } catch (err) { refused.push(`${s.id}: ${(err as Error).message}`); }
}
const ms = performance.now() - t0;
console.log(`${stmts.length} corpus statements measured in ${ms.toFixed(0)} ms`);
for (const [k, v] of Object.entries(max)) console.log(`max ${k.padEnd(6)} ${String(v.value).padStart(7)}  (${v.id})`);
console.log(`limits ${JSON.stringify(limits)}: ${refused.length} refused`);
for (const r of refused) console.log('  ' + r);
process.exit(refused.length ? 1 : 0);
