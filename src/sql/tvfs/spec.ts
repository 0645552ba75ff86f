/**
 * The BigQuery TVF / function table (bigquery-tvfs.yaml beside this file), loaded once, and GoogleSQL
 * type text → ZetaSQL TypeProto for its output columns.
 *
 * Throws (at load) when the data file names a type this parser does not read: the table is fixed
 * data, so a mistake in it must fail the first analysis loudly, never register a wrong schema.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import type { TypeProto } from '../types.js';

export interface ArgSpec { name: string; kind: 'model' | 'relation' | 'scalar'; optional: boolean }

export interface TvfSpec {
  name: string;
  doc: string;
  args: ArgSpec[];
  /** Output column list items (see the data file's header). */
  output?: string[];
  /** modelType class → output list (`regression`, `classification`, `kmeans`, `pca`, `autoencoder`, `default`). */
  variants?: Record<string, string[]>;
  /** `features`: computed columns derive from the model's feature columns present in the input. */
  reads?: 'features';
  /** EXTERNAL_QUERY: the inner statement runs in another database. */
  external?: boolean;
  /** Documented, but its output cannot be computed exactly: why (the call is refused). */
  refuse?: string;
}

export interface FunctionSpec {
  name: string; doc: string; args: ArgSpec[]; returns: TypeProto; aggregate: boolean;
  /** The string argument whose 'name TYPE, …' columns replace the `replaces` field of the returned STRUCT. */
  schema?: { arg: string; replaces: string };
}

const FILE = join(dirname(fileURLToPath(import.meta.url)), 'bigquery-tvfs.yaml');

/** The data file's argument list (`model`, `relation`, a scalar name; `named:x` a scalar even when x is `model`). `scalars`: a function's (no MODEL / relation arguments). */
function args(list: string[], scalars = false): ArgSpec[] {
  return list.map((a) => {
    const optional = a.endsWith('?');
    const named = a.startsWith('named:');
    const name = a.replace(/\?$/, '').replace(/^named:/, '');
    return { name, kind: named || scalars ? 'scalar' : name === 'model' ? 'model' : name === 'relation' ? 'relation' : 'scalar', optional };
  });
}

let loaded: { tvfs: Map<string, TvfSpec>; functions: Map<string, FunctionSpec> } | undefined;

/** The table, keyed by upper-case dotted name (`ML.PREDICT`). */
export function specs(): { tvfs: Map<string, TvfSpec>; functions: Map<string, FunctionSpec> } {
  if (loaded) return loaded;
  const doc = parseYaml(readFileSync(FILE, 'utf8')) as { tvfs: Record<string, any>; functions: Record<string, any> };
  const tvfs = new Map<string, TvfSpec>();
  for (const [name, t] of Object.entries(doc.tvfs)) {
    tvfs.set(name.toUpperCase(), { name, doc: t.doc, args: args(t.args), output: t.output, variants: t.variants, reads: t.reads, external: t.external === true, ...(t.refuse ? { refuse: String(t.refuse) } : {}) });
  }
  const functions = new Map<string, FunctionSpec>();
  for (const [name, f] of Object.entries(doc.functions)) {
    functions.set(name.toUpperCase(), { name, doc: f.doc, args: args(f.args, true), returns: parseType(f.returns), aggregate: f.aggregate === true, ...(f.schema ? { schema: { arg: String(f.schema), replaces: String(f.replaces) } } : {}) });
  }
  loaded = { tvfs, functions };
  return loaded;
}

const SCALAR_KINDS: Record<string, string> = {
  INT64: 'TYPE_INT64', INT: 'TYPE_INT64', INTEGER: 'TYPE_INT64', FLOAT64: 'TYPE_DOUBLE', FLOAT: 'TYPE_DOUBLE', NUMERIC: 'TYPE_NUMERIC',
  BIGNUMERIC: 'TYPE_BIGNUMERIC', BOOL: 'TYPE_BOOL', BOOLEAN: 'TYPE_BOOL', STRING: 'TYPE_STRING', BYTES: 'TYPE_BYTES', DATE: 'TYPE_DATE',
  DATETIME: 'TYPE_DATETIME', TIME: 'TYPE_TIME', TIMESTAMP: 'TYPE_TIMESTAMP', GEOGRAPHY: 'TYPE_GEOGRAPHY', JSON: 'TYPE_JSON', INTERVAL: 'TYPE_INTERVAL',
};

/**
 * GoogleSQL type text (`INT64`, `ARRAY<STRUCT<a STRING, b FLOAT64>>`, `RANGE<DATE>`) → TypeProto.
 * Parameterized spellings (`STRING(10)`, `NUMERIC(10, 2)`) drop their parameters. Throws on anything else.
 */
export function parseType(text: string): TypeProto {
  const toks = text.match(/`[^`]*`|[A-Za-z_][A-Za-z0-9_]*|\d+|[<>,()]/g) ?? [];
  let i = 0;
  const fail = (): never => { throw new Error(`cannot read the type "${text}"`); };
  const type = (): TypeProto => {
    const word = (toks[i++] ?? fail()).toUpperCase();
    if (word === 'ARRAY' || word === 'RANGE') {
      if (toks[i++] !== '<') fail();
      const el = type();
      if (toks[i++] !== '>') fail();
      return word === 'ARRAY' ? { typeKind: 'TYPE_ARRAY', arrayType: { elementType: el } } : { typeKind: 'TYPE_RANGE', rangeType: { elementType: el } } as TypeProto;
    }
    if (word === 'STRUCT') {
      if (toks[i++] !== '<') fail();
      const field: Array<{ fieldName: string; fieldType: TypeProto }> = [];
      while (toks[i] !== '>') {
        const name = (toks[i++] ?? fail()).replace(/`/g, '');
        field.push({ fieldName: name, fieldType: type() });
        if (toks[i] === ',') i++;
        else if (toks[i] !== '>') fail();
      }
      i++;
      return { typeKind: 'TYPE_STRUCT', structType: { field } };
    }
    const kind = SCALAR_KINDS[word] ?? fail();
    if (toks[i] === '(') { while (i < toks.length && toks[i] !== ')') i++; i++; }
    return { typeKind: kind };
  };
  const t = type();
  if (i !== toks.length) fail();
  return t;
}

/**
 * `name TYPE [OPTIONS(…)], …` (an AI.GENERATE_TABLE / AI.GENERATE output_schema) → columns; a column's
 * OPTIONS list (`OPTIONS(description = '…')`, which only describes it to the model) is dropped. Throws
 * on a malformed list.
 */
export function parseColumns(text: string): Array<{ name: string; type: TypeProto }> {
  const out: Array<{ name: string; type: TypeProto }> = [];
  let depth = 0;
  let cur = '';
  for (const ch of `${text},`) {
    if (ch === '<' || ch === '(') depth++;
    if (ch === '>' || ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      const m = cur.trim().replace(/\s+OPTIONS\s*\((?:[^()'"]|'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")*\)$/i, '').match(/^(`[^`]+`|[A-Za-z_][A-Za-z0-9_]*)\s+([\s\S]+)$/);
      if (!m) throw new Error(`cannot read the column "${cur.trim()}"`);
      out.push({ name: m[1].replace(/`/g, ''), type: parseType(m[2]) });
      cur = '';
    } else cur += ch;
  }
  return out;
}
