/**
 * Catalogs synthesized from corpus statements (used by `npm run coverage:sql` and `npm run bench`).
 *
 * The corpus names tables that exist nowhere, so each statement gets a catalog synthesized from
 * itself: its tables start with no columns, and the analyzer's own errors drive the synthesis —
 * an unrecognized name becomes a column, a field access makes it a STRUCT, UNNEST makes it an
 * ARRAY, a type mismatch retypes the column at the error's position — until the statement analyzes
 * or no rule applies (at most 40 rounds).
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Analyzer, ZetaSqlServer, type ModelInfo, type TableInfo, type TableSource } from '../src/sql/index.js';
import type { BqField } from '../src/emulator/encode.js';

export interface Stmt { id: string; sql: string; category: string }

/** Every statement of the corpus (JSON Lines files in `dir`), in file order. */
export function readCorpus(dir: string): Stmt[] {
  return readdirSync(dir).filter((f) => f.endsWith('.jsonl')).sort()
    .flatMap((f) => readFileSync(join(dir, f), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Stmt));
}

/** A catalog that invents what the statement needs. */
export class SyntheticSource implements TableSource {
  tables = new Map<string, BqField[]>();
  version = 0;
  private infos = new Map<string, TableInfo>();
  async getTable(fullName: string): Promise<TableInfo> {
    if (!this.tables.has(fullName)) this.tables.set(fullName, []);
    const key = `${fullName}@${this.version}`;
    if (!this.infos.has(key)) this.infos.set(key, { fullName, schema: this.tables.get(fullName)! });
    return this.infos.get(key)!;
  }
  /** One shard for every wildcard prefix the statement spells. */
  constructor(private readonly sql = '') {}
  async listTables(_p: string, _d: string): Promise<string[]> {
    return [...this.sql.matchAll(/([A-Za-z0-9_-]*)\*`/g)].map((m) => `${m[1]}20240101`);
  }
  params: Array<{ name: string; parameterType: { type: string } }> = [];
  /** A model for every name: labels from the `predicted_<label>` names the statement uses (else `label`), no features. */
  async getModel(fullName: string): Promise<ModelInfo> {
    const labels = [...new Set([...this.sql.matchAll(/\bpredicted_(\w+?)(?:_probs)?\b/gi)].map((m) => m[1]))];
    return { fullName, featureColumns: [], labelColumns: (labels.length ? labels : ['label']).map((name) => ({ name, type: { typeKind: 'STRING' } })) };
  }
}

const TYPES = ['STRING', 'INT64', 'FLOAT64', 'TIMESTAMP', 'DATE', 'BOOL', 'NUMERIC', 'DATETIME', 'BYTES', 'JSON', 'GEOGRAPHY'];

function identAt(sql: string, line: number, col: number): string | undefined {
  const lines = sql.split('\n');
  const text = lines[line - 1] ?? '';
  const m = text.slice(col - 1).match(/^`?([A-Za-z_][A-Za-z0-9_]*)`?/);
  return m?.[1];
}

/** The first identifier at or after the position that is a known column. */
function columnNear(src: SyntheticSource, sql: string, line: number, col: number): BqField | undefined {
  const lines = sql.split('\n');
  const rest = (lines[line - 1] ?? '').slice(col - 1) + '\n' + lines.slice(line).join('\n');
  for (const w of rest.match(/[A-Za-z_][A-Za-z0-9_]*/g) ?? []) { const f = findField(src, w); if (f) return f; }
  return undefined;
}

const addTo = (fields: BqField[], name: string) => { if (!fields.some((x) => x.name.toLowerCase() === name.toLowerCase())) fields.push({ name, type: 'STRING', mode: 'NULLABLE' }); };

function findField(src: SyntheticSource, name: string): BqField | undefined {
  for (const fields of src.tables.values()) {
    const f = fields.find((x) => x.name.toLowerCase() === name.toLowerCase());
    if (f) return f;
  }
  return undefined;
}

/** One synthesis step from an error message; false when nothing applies. */
function repair(src: SyntheticSource, sql: string, msg: string, retyped: Map<string, number>): boolean {
  const tables = [...src.tables.keys()];
  const pos = msg.match(/\[at (\d+):(\d+)\]/);
  let m;
  if ((m = msg.match(/Unrecognized name: `?([A-Za-z_][A-Za-z0-9_]*)`?/))) {
    // Give the name to the first table that lacks it (the one in scope may be a later one).
    const t = tables.find((x) => !src.tables.get(x)!.some((f) => f.name.toLowerCase() === m![1].toLowerCase()));
    if (!t) return false;
    addTo(src.tables.get(t)!, m[1]);
    return true;
  }
  if ((m = msg.match(/Name `?([A-Za-z_][A-Za-z0-9_]*)`? not found inside `?([A-Za-z_][A-Za-z0-9_]*)`?/))) {
    const field = findField(src, m[2]);
    if (field) { // a STRUCT column: add the field
      if (field.type !== 'RECORD') { field.type = 'RECORD'; field.fields = []; }
      if (field.fields!.some((x) => x.name === m![1])) return false;
      field.fields!.push({ name: m[1], type: 'STRING', mode: 'NULLABLE' });
      return true;
    }
    const target = tables.filter((t) => t.split('.').pop()!.toLowerCase() === m![2].toLowerCase());
    for (const t of target.length ? target : tables) addTo(src.tables.get(t)!, m[1]);
    return tables.length > 0;
  }
  if ((m = msg.match(/Column `?([A-Za-z_][A-Za-z0-9_]*)`? is not present in table `?([^\s`]+)`?/))) {
    const t = src.tables.get(m[2]) ?? src.tables.get(tables.find((x) => x.endsWith(m![2])) ?? '');
    if (!t || t.some((x) => x.name === m![1])) return false;
    addTo(t, m[1]);
    return true;
  }
  if (/No writable column in target table|SELECT \* would expand to zero columns|Inserted row has wrong column count|has \d+ columns? but|Query has \d+ columns? .* expected/.test(msg)) {
    const empty = tables.filter((t) => src.tables.get(t)!.length === 0);
    const targets = empty.length ? empty : /Inserted row|INSERT|columns? but/.test(msg) ? tables.slice(0, 1) : [];
    for (const t of targets) addTo(src.tables.get(t)!, `c${src.tables.get(t)!.length + 1}`);
    return targets.length > 0;
  }
  if ((m = msg.match(/Column `?([A-Za-z_][A-Za-z0-9_]*)`? in USING clause not found on (left|right) side of join/))) {
    const targets = m[2] === 'left' ? tables.slice(0, 1) : tables.slice(1);
    for (const t of targets) addTo(src.tables.get(t)!, m[1]);
    return targets.length > 0;
  }
  if (pos && /Subscript access|for function ARRAY_|UNNEST|must be an array|must be arrays|ARRAY_LENGTH|ARRAY_TO_STRING|ARRAY_CONCAT/i.test(msg)) {
    const field = columnNear(src, sql, Number(pos[1]), Number(pos[2]));
    if (field && field.mode !== 'REPEATED') { field.mode = 'REPEATED'; if (field.type === 'GEOGRAPHY' || field.type === 'JSON') field.type = 'STRING'; return true; }
  }
  if ((m = msg.match(/Value has type (\w+) which cannot be (?:inserted into|assigned to) column `?(\w+)`?/))) {
    const field = findField(src, m[2]);
    if (!field || field.type === m[1]) return false;
    field.type = m[1];
    return true;
  }
  if ((m = msg.match(/Column name `?(\w+)`? not found in `?([^\s`]+)`?/))) {
    const t = tables.find((x) => x.split('.').pop()!.toLowerCase() === m![2].toLowerCase()) ?? tables[0];
    if (!t || src.tables.get(t)!.some((x) => x.name === m![1])) return false;
    addTo(src.tables.get(t)!, m[1]);
    return true;
  }
  if ((m = msg.match(/Query parameter '?([A-Za-z_][A-Za-z0-9_]*)'? not found/))) {
    if (src.params.some((p) => p.name === m![1])) return false;
    src.params.push({ name: m[1], parameterType: { type: 'STRING' } });
    return true;
  }
  if ((m = msg.match(/Column name `?([A-Za-z_][A-Za-z0-9_]*)`? is ambiguous/))) {
    let kept = false;
    for (const t of tables) {
      const fs = src.tables.get(t)!;
      const i = fs.findIndex((x) => x.name === m![1]);
      if (i >= 0) { if (kept) fs.splice(i, 1); kept = true; }
    }
    return kept;
  }
  if (pos && (m = msg.match(/Cannot access field `?([A-Za-z_][A-Za-z0-9_]*)`? on a value with type (ARRAY<)?/))) {
    const name = identAt(sql, Number(pos[1]), Number(pos[2]));
    const field = name && findField(src, name);
    if (!field) return false;
    if (m[2]) { field.mode = 'REPEATED'; } // field access on an array: make it an array of structs
    field.type = 'RECORD';
    field.fields = [...(field.fields ?? []), { name: m[1], type: 'STRING', mode: 'NULLABLE' }];
    return true;
  }
  if (pos && /No matching signature|cannot be|Could not cast|must be|Expected|requires|type mismatch|coerced|does not support|incompatible|not supported for|of type/i.test(msg)) {
    // Retype the column nearest after the error position.
    const lines = sql.split('\n');
    const rest = (lines[Number(pos[1]) - 1] ?? '').slice(Number(pos[2]) - 1) + '\n' + lines.slice(Number(pos[1])).join('\n');
    for (const w of rest.match(/[A-Za-z_][A-Za-z0-9_]*/g) ?? []) {
      const field = findField(src, w);
      if (!field || field.type === 'RECORD') continue;
      const n = (retyped.get(field.name) ?? 0) + 1;
      if (n >= TYPES.length) continue;
      retyped.set(field.name, n);
      field.type = TYPES[n];
      return true;
    }
  }
  return false;
}


export interface Synthesis { ok: boolean; last: string; src: SyntheticSource; killed: boolean; crash?: string }

/**
 * Analyzes `s` against a catalog grown from the analyzer's errors. `killed` is true when the
 * ZetaSQL server died on it (it is restarted before returning); `crash` is set on a non-BigQuery
 * error (a bug in the analyzer).
 */
export async function synthesize(zeta: ZetaSqlServer, s: Stmt): Promise<Synthesis> {
  const src = new SyntheticSource(s.sql);
  const analyzer = new Analyzer(zeta, src, 1);
  const retyped = new Map<string, number>();
  let last = '';
  let killed = false;
  for (let round = 0; round < 40; round++) {
    try {
      await analyzer.analyze(corpusRequest(s, src));
      return { ok: true, last, src, killed };
    } catch (err) {
      last = (err as Error).message;
      if ((err as { reason?: string }).reason === 'backendError') {
        // The analyzer died (on this statement or just before): wait for the restart, retry once.
        if (!killed) { killed = true; await zeta.whenReady(); round--; continue; }
        break;
      }
      if (!(err as { reason?: string }).reason) return { ok: false, last, src, killed, crash: (err as Error).stack?.split('\n').slice(0, 3).join(' | ') };
      if (!repair(src, s.sql, last, retyped)) break;
      src.version++;
    }
  }
  return { ok: false, last, src, killed };
}

/** The analysis request for a corpus statement against its synthesized catalog. */
export const corpusRequest = (s: Stmt, src: SyntheticSource) => ({ sql: s.sql, projectId: 'corpus-project', defaultDataset: { datasetId: 'corpus_dataset' }, queryParameters: src.params });
