/**
 * Which functions of BigQuery's function reference this ZetaSQL build lacks, and whether
 * `src/sql/builtins/bigquery-functions.yaml` covers each one.
 *
 * Source of the reference: `src/sql/builtins/bigquery-function-list.tsv`, the name and doc URL of
 * every row of https://docs.cloud.google.com/bigquery/docs/reference/standard-sql/functions-all,
 * extracted from the markdown mirror of that page in github.com/apstndb/bigquery-docs-mirror
 * (`--from <functions-all.md>` re-extracts it). A documented name counts as present when
 * `GetBuiltinFunctions` (LocalService, with the analyzer's language options) lists it, or when
 * `SELECT NAME()` fails for any reason but "Function not found" (CAST, EXTRACT, ARRAY, … are syntax).
 * Every missing name must have an entry in the data file (signatures, or `deferred` with the reason);
 * every entry with an `example` must analyze over the demo catalog with the entries registered.
 * An entry with `replaces` stands in for a function the build has with fewer arguments (its builtin
 * signatures excluded); it is not reported as an extra entry.
 *
 * Usage: npx tsx scripts/builtins-diff.ts [--from functions-all.md]
 * Prints the missing names with their status; exits 1 when one is not covered or an example fails.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ZetaSqlServer } from '../src/sql/index.js';
import { allStatementKinds } from '../src/sql/zetasql.js';
import { bigQueryLanguageOptions } from '../src/sql/features.js';
import { BUILTIN_ENTRIES, addBigQueryBuiltins, replacedBuiltins } from '../src/sql/builtins/index.js';
import { fieldType } from '../src/sql/types.js';

const LIST = resolve('src/sql/builtins/bigquery-function-list.tsv');
const args = process.argv.slice(2);
const from = args.includes('--from') ? args[args.indexOf('--from') + 1] : undefined;

if (from) {
  // <td><a href="URL"><code …>NAME</code></a></td> rows of the function table
  const rows = [...readFileSync(from, 'utf8').matchAll(/<td><a href="([^"]+)"><code[^>]*>([^<]+)<\/code><\/a>/g)].map((m) => `${m[2]}\t${m[1]}`);
  const head = readFileSync(LIST, 'utf8').split('\n').filter((l) => l.startsWith('#'));
  writeFileSync(LIST, [...head, ...[...new Set(rows)].sort()].join('\n') + '\n');
  console.log(`${rows.length} rows extracted from ${from} into ${LIST}`);
}

const documented = new Map<string, string>();
for (const line of readFileSync(LIST, 'utf8').split('\n')) {
  if (!line || line.startsWith('#')) continue;
  const [name, url] = line.split('\t');
  if (!documented.has(name)) documented.set(name, url);
}

const zeta = new ZetaSqlServer();
await zeta.start();
try {
  const lo = bigQueryLanguageOptions(await zeta.call('getLanguageOptions', { maximumFeatures: true }), allStatementKinds());
  const builtin = new Set(((await zeta.call('getBuiltinFunctions', { languageOptions: lo })).function ?? []).map((f: { namePath: string[] }) => f.namePath.join('.').toLowerCase()));
  // the demo tables, so examples can read columns
  const demo = ['customers', 'orders'].map((t, i) => ({
    name: t, serializationId: String(i + 1),
    column: JSON.parse(readFileSync(resolve(`fixtures/demo-project/shop/${t}.schema.json`), 'utf8')).map((f: any) => ({ name: f.name, type: fieldType(f) })),
  }));
  const bare = (await zeta.call('registerCatalog', { simpleCatalog: { name: 'bare', builtinFunctionOptions: { languageOptions: lo } } })).registeredId;
  const withOurs: any = { name: 'ours', builtinFunctionOptions: { languageOptions: lo, excludeFunctionIds: replacedBuiltins(BUILTIN_ENTRIES.map((e) => e.name)) }, table: demo, catalog: [] };
  addBigQueryBuiltins(withOurs);
  const ours = (await zeta.call('registerCatalog', { simpleCatalog: withOurs })).registeredId;
  const analyze = (id: string, sql: string) => zeta.call('analyze', { registeredCatalogId: id, sqlStatement: sql, options: { languageOptions: lo } });

  const entries = new Map(BUILTIN_ENTRIES.map((e) => [e.name.toUpperCase(), e]));
  const missing: string[] = [];
  for (const name of documented.keys()) {
    if (builtin.has(name.toLowerCase())) continue;
    const err = await analyze(bare, `SELECT ${name}()`).then(() => undefined, (e) => String(e.details ?? e.message));
    if (err && /Function not found/i.test(err)) missing.push(name);
  }
  let bad = 0;
  console.log(`documented: ${documented.size}; in GetBuiltinFunctions or syntax: ${documented.size - missing.length}; missing from this build: ${missing.length}`);
  for (const name of missing) {
    const e = entries.get(name.toUpperCase());
    const status = !e ? 'NOT COVERED' : e.signatures?.length ? `registered (${e.signatures.length} signature${e.signatures.length > 1 ? 's' : ''})` : `deferred: ${e.deferred}`;
    if (!e || (!e.signatures?.length && !e.deferred)) bad++;
    console.log(`  ${name.padEnd(34)} ${status}`);
  }
  // An entry that replaces the build's signatures (`replaces`) is for a function the build has.
  const extra = BUILTIN_ENTRIES.filter((e) => !e.replaces && !missing.includes(e.name.toUpperCase()) && !missing.includes(e.name));
  for (const e of extra) console.log(`  data file entry ${e.name} is not among the missing functions (${documented.has(e.name) ? 'the build has it' : 'not in the reference list'})`);
  for (const e of BUILTIN_ENTRIES.filter((x) => x.example)) {
    const err = await analyze(ours, e.example!).then(() => undefined, (x) => String(x.details ?? x.message));
    if (err) { bad++; console.log(`  example of ${e.name} fails: ${err}\n    ${e.example}`); }
  }
  const registered = BUILTIN_ENTRIES.filter((e) => e.signatures?.length).length;
  console.log(`data file: ${BUILTIN_ENTRIES.length} entries, ${registered} registered, ${BUILTIN_ENTRIES.length - registered} deferred; examples: ${BUILTIN_ENTRIES.filter((x) => x.example).length}`);
  process.exitCode = bad ? 1 : 0;
} finally {
  await zeta.stop();
}
