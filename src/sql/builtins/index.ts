/**
 * BigQuery builtins this ZetaSQL build lacks, registered as custom functions in the analyzer catalog
 * of each statement that names them (builtinNamesIn), and BigQuery's type-name aliases as named types.
 *
 * The functions come from one data file, `bigquery-functions.yaml` beside this module (one entry per
 * documented function: name path, scalar / aggregate, signatures, doc URL), which
 * `scripts/builtins-diff.ts` checks against BigQuery's function reference and this build's
 * `GetBuiltinFunctions`. A dotted name (`KLL_QUANTILES.EXTRACT_INT64`) is registered in a nested
 * catalog per leading segment: a multi-part name path at the root is not found by the analyzer.
 * Functions resolve under the group `BigQuery` (`BigQuery:search` in the resolved AST), so policy
 * tells them from user functions.
 *
 * Signature text (`args`, `returns`): a GoogleSQL type (`INT64`, `ARRAY<STRING>`,
 * `STRUCT<a INT64, b STRING>`, `RANGE<DATE>`) or a template: `ANY` / `ANY2` (any type, the same
 * wherever it is repeated), `ARRAY<ANY>` / `ARRAY<ANY2>` (an array of it), `ARBITRARY` (any type,
 * each occurrence independent). An argument is `[name] TYPE` with `?` (optional) or `*` (repeated)
 * after the type; `name => TYPE` makes it a named-only argument (BigQuery's `name => value`).
 * Errors: an entry the parser cannot read throws at module load, naming the entry.
 */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import type { TypeProto } from '../types.js';

/** One entry of bigquery-functions.yaml. */
export interface BuiltinEntry {
  /** Dotted name as BigQuery documents it, e.g. `SEARCH`, `KLL_QUANTILES.EXTRACT_INT64`. */
  name: string;
  kind?: 'scalar' | 'aggregate' | 'analytic';
  url: string;
  signatures?: Array<{ args: string[]; returns: string }>;
  /** Documented but left to another part (a TVF, ML.*, graph syntax): why it is not registered here. */
  deferred?: string;
  /** A statement over the demo catalog that must analyze once the function is registered. */
  example?: string;
  /**
   * This build's builtin signatures (FunctionSignatureId names, zetasql/public/builtin_function.proto)
   * the entry replaces: the build has the function with fewer arguments than BigQuery documents, so
   * a statement naming it gets the entry's signatures instead of the build's.
   */
  replaces?: string[];
}

const DATA_FILE = new URL('./bigquery-functions.yaml', import.meta.url);

/** The data file's entries, in file order. */
export const BUILTIN_ENTRIES: readonly BuiltinEntry[] = parse(readFileSync(DATA_FILE, 'utf8')).functions;

/** BigQuery's parameterized-type-free aliases (BigQuery data types doc, "Numeric types"). */
export const TYPE_ALIASES: Readonly<Record<string, string>> = {
  INT: 'TYPE_INT64', SMALLINT: 'TYPE_INT64', INTEGER: 'TYPE_INT64', BIGINT: 'TYPE_INT64', TINYINT: 'TYPE_INT64', BYTEINT: 'TYPE_INT64',
  DECIMAL: 'TYPE_NUMERIC', BIGDECIMAL: 'TYPE_BIGNUMERIC',
};

const SCALAR_KINDS: Record<string, string> = {
  INT64: 'TYPE_INT64', FLOAT64: 'TYPE_DOUBLE', NUMERIC: 'TYPE_NUMERIC', BIGNUMERIC: 'TYPE_BIGNUMERIC', BOOL: 'TYPE_BOOL',
  STRING: 'TYPE_STRING', BYTES: 'TYPE_BYTES', DATE: 'TYPE_DATE', DATETIME: 'TYPE_DATETIME', TIME: 'TYPE_TIME',
  TIMESTAMP: 'TYPE_TIMESTAMP', GEOGRAPHY: 'TYPE_GEOGRAPHY', JSON: 'TYPE_JSON', INTERVAL: 'TYPE_INTERVAL',
};
const TEMPLATES: Record<string, string> = { ANY: 'ARG_TYPE_ANY_1', ANY2: 'ARG_TYPE_ANY_2', 'ARRAY<ANY>': 'ARG_ARRAY_TYPE_ANY_1', 'ARRAY<ANY2>': 'ARG_ARRAY_TYPE_ANY_2', ARBITRARY: 'ARG_TYPE_ARBITRARY' };

/** Splits `a, b<c, d>, e` at top-level commas. */
function splitTop(s: string): string[] {
  const out: string[] = [];
  let depth = 0, cur = '';
  for (const ch of s) {
    if (ch === '<') depth++;
    if (ch === '>') depth--;
    if (ch === ',' && depth === 0) { out.push(cur.trim()); cur = ''; } else cur += ch;
  }
  if (cur.trim()) out.push(cur.trim());
  return out;
}

/** A concrete GoogleSQL type text as a TypeProto. Throws on anything else. */
export function parseType(text: string): TypeProto {
  const t = text.trim();
  const m = t.match(/^(ARRAY|STRUCT|RANGE)\s*<(.*)>$/is);
  if (!m) {
    const kind = SCALAR_KINDS[t.toUpperCase()];
    if (!kind) throw new Error(`unknown type ${t}`);
    return { typeKind: kind };
  }
  const head = m[1].toUpperCase();
  if (head === 'ARRAY') return { typeKind: 'TYPE_ARRAY', arrayType: { elementType: parseType(m[2]) } };
  if (head === 'RANGE') return { typeKind: 'TYPE_RANGE', rangeType: { elementType: parseType(m[2]) } } as TypeProto;
  return {
    typeKind: 'TYPE_STRUCT',
    structType: { field: splitTop(m[2]).map((f) => { const [, n, ft] = f.match(/^(\w+)\s+(.+)$/s) ?? []; if (!n) throw new Error(`bad STRUCT field ${f}`); return { fieldName: n, fieldType: parseType(ft) }; }) },
  };
}

/** One argument (or the return type) as a FunctionArgumentTypeProto. */
function argument(text: string, isReturn = false): Record<string, unknown> {
  const m = text.trim().match(/^(?:(\w+)\s*(=>)?\s+)?(.+?)([?*])?$/s);
  if (!m) throw new Error(`bad argument ${text}`);
  const [, name, namedOnly, typeText, card] = m;
  const template = TEMPLATES[typeText.replace(/\s+/g, '').toUpperCase()];
  const options: Record<string, unknown> = { cardinality: card === '?' ? 'OPTIONAL' : card === '*' ? 'REPEATED' : 'REQUIRED' };
  if (name && !isReturn) {
    options.argumentName = name;
    options.namedArgumentKind = namedOnly ? 'NAMED_ONLY' : 'POSITIONAL_OR_NAMED';
  }
  return template ? { kind: template, options, numOccurrences: 1 } : { kind: 'ARG_TYPE_FIXED', type: parseType(typeText), options, numOccurrences: 1 };
}

/** An entry as a FunctionProto in group `BigQuery`. */
function functionProto(e: BuiltinEntry): Record<string, unknown> {
  try {
    return {
      // the full path (registered in the last segment's sub-catalog) names it whole in the resolved AST
      namePath: e.name.toLowerCase().split('.'),
      group: 'BigQuery',
      mode: e.kind === 'aggregate' ? 'AGGREGATE' : e.kind === 'analytic' ? 'ANALYTIC' : 'SCALAR',
      signature: (e.signatures ?? []).map((s, i) => ({ argument: s.args.map((a) => argument(a)), returnType: argument(s.returns, true), contextId: String(i) })),
      options: e.kind === 'aggregate' || e.kind === 'analytic' ? { supportsOverClause: true, windowOrderingSupport: 'ORDER_OPTIONAL', supportsWindowFraming: e.kind === 'aggregate' } : {},
    };
  } catch (err) {
    throw new Error(`bigquery-functions.yaml, ${e.name}: ${(err as Error).message}`);
  }
}

interface CatalogNode { name?: string; customFunction?: unknown[]; catalog?: CatalogNode[]; namedType?: unknown[] }

/** Registered entries by the lowercased last segment of their name. */
const BY_LEAF = new Map<string, BuiltinEntry[]>();
for (const e of BUILTIN_ENTRIES) {
  if (!e.signatures?.length) continue;
  const leaf = e.name.split('.').pop()!.toLowerCase();
  BY_LEAF.set(leaf, [...(BY_LEAF.get(leaf) ?? []), e]);
}
const PROTOS = new Map(BUILTIN_ENTRIES.filter((e) => e.signatures?.length).map((e) => [e.name, functionProto(e)]));
const NAMED_TYPES = Object.entries(TYPE_ALIASES).map(([name, kind]) => ({ name, type: { typeKind: kind } }));

/**
 * The registered functions a statement may call: those whose name's last segment occurs in `sql` as
 * a word (a call needs its name written out; a word in a comment or a string only adds one more
 * function to the catalog). Sorted names, for catalog cache keys. Registering only these keeps
 * catalog registration as cheap as without them (each registration ships every function it holds).
 */
export function builtinNamesIn(sql: string): string[] {
  const out = new Set<string>();
  for (const w of sql.match(/[A-Za-z_][A-Za-z0-9_]*/g) ?? []) for (const e of BY_LEAF.get(w.toLowerCase()) ?? []) out.add(e.name);
  return [...out].sort();
}

/** The builtin signature ids (`FN_…`) the entries named in `names` replace: excluded from the build's builtins. */
export function replacedBuiltins(names: readonly string[]): string[] {
  return names.flatMap((n) => BUILTIN_ENTRIES.find((e) => e.name === n)?.replaces ?? []);
}

/**
 * Adds the type aliases and the registered BigQuery functions named in `names` (default: all) to a
 * SimpleCatalogProto root: root functions there, dotted ones in sub-catalogs per leading segment
 * (merged with a table sub-catalog of the same name).
 */
export function addBigQueryBuiltins(root: { customFunction?: unknown[]; namedType?: unknown[]; catalog?: CatalogNode[] }, names: readonly string[] = [...PROTOS.keys()]): void {
  root.namedType = [...(root.namedType ?? []), ...NAMED_TYPES];
  root.customFunction ??= [];
  root.catalog ??= [];
  for (const name of names) {
    const proto = PROTOS.get(name);
    if (!proto) continue;
    let node: CatalogNode = root;
    for (const part of name.split('.').slice(0, -1)) {
      node.catalog ??= [];
      let sub = node.catalog.find((c) => c.name === part);
      if (!sub) { sub = { name: part, table: [], catalog: [] } as CatalogNode; node.catalog.push(sub); }
      node = sub;
    }
    (node.customFunction ??= []).push(proto);
  }
}
