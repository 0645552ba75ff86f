/**
 * `npx tsx scripts/regenerate-corpus.ts [--limit N]`: how many corpus statements that analyze are
 * regenerated exactly by `Analyzer.regenerate` (src/sql/canonical.ts): re-emitted from ZetaSQL's
 * parse and resolving to the same resolved AST. Prints the exact share, how many texts were already
 * canonical, the mean time per regeneration (ms, parse + re-analysis, cold catalog per statement)
 * and the refusals by reason. The four statements that crash this ZetaSQL build are skipped.
 */
import { resolve } from 'node:path';
import { ZetaSqlServer, Analyzer } from '../src/sql/index.js';
import { readCorpus, synthesize, corpusRequest } from './corpus-catalog.js';

const args = process.argv.slice(2);
const limit = Number(args[args.indexOf('--limit') + 1] || Infinity);
const CRASHERS = /^(bigquery-docs-0070[89]|professional-services-00044|sqlfluff-00001)$/;
const stmts = readCorpus(resolve('../shared/corpus/bigquery-sql')).filter((s) => !CRASHERS.test(s.id)).slice(0, limit);
const zeta = new ZetaSqlServer();
await zeta.start();
let analyzed = 0;
let exact = 0;
let unchanged = 0;
let ms = 0;
const refused = new Map<string, string[]>();
for (const s of stmts) {
  const r = await synthesize(zeta, s);
  if (!r.ok) continue;
  analyzed++;
  const analyzer = new Analyzer(zeta, r.src, 10);
  const req = corpusRequest(s, r.src);
  try {
    const expected = await analyzer.analyze(req);
    const t = performance.now();
    const out = await analyzer.regenerate(req, expected);
    ms += performance.now() - t;
    exact++;
    if (out.sql === s.sql) unchanged++;
  } catch (err) {
    const why = (err as Error).message.replace(/"[^"]*"/g, '"…"').slice(0, 140);
    (refused.get(why) ?? refused.set(why, []).get(why)!).push(s.id);
  }
}
console.log(`analyzed ${analyzed}; regenerated exactly ${exact} (${((100 * exact) / analyzed).toFixed(2)}%); text already canonical ${unchanged}; mean ${(ms / exact).toFixed(2)} ms per regeneration`);
for (const [why, ids] of [...refused].sort((a, b) => b[1].length - a[1].length)) console.log(`${String(ids.length).padStart(5)}  ${why}  e.g. ${ids.slice(0, 4).join(' ')}`);
await zeta.stop();
