/**
 * How the corpus synthesizer reads a statement against its synthetic catalog (repair.ts uses it):
 * which catalog tables a table reference or alias reads, the catalog field a path names (through
 * UNNEST aliases, CTE and subquery select lists, APPENDS(TABLE t) aliases), the column nearest an
 * error position, the synthesized routine a name or call means, and GoogleSQL type text → fields.
 */
import type { BqField } from '../../src/emulator/encode.js';
import { qualify } from '../../src/sql/index.js';
import { qualifyObject } from '../../src/sql/names.js';
import type { TypeProto } from '../../src/sql/types.js';
import type { SyntheticSource } from './source.js';
import { callsAt, cteOf, enclosingSelects, pathAt, tablesIn, type Scope, type TableRef } from './scope.js';

export const TYPES = ['STRING', 'INT64', 'FLOAT64', 'TIMESTAMP', 'DATE', 'BOOL', 'NUMERIC', 'DATETIME', 'BYTES', 'JSON', 'GEOGRAPHY'];
export const SCALAR = new Set([...TYPES, 'TIME', 'BIGNUMERIC', 'INTERVAL']);
export const CTX = { projectId: 'corpus-project', defaultDataset: { datasetId: 'corpus_dataset' } };
export const eq = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();
export const field = (name: string, type = 'STRING'): BqField => ({ name, type, mode: 'NULLABLE' });

/** The state one synthesis carries between rounds. */
export interface RepairState {
  src: SyntheticSource; sql: string; scope: Scope; retyped: Map<BqField, number>;
  /** The type of an expression of the statement, analyzed on its own or over `from` (a FROM clause's text); undefined when it does not analyze. */
  typeOf?: (expr: string, from?: string) => Promise<TypeProto | undefined>;
}

/** Every field of the catalog (nested ones included), with its parent list. */
export function* allFields(fields: BqField[]): Generator<BqField> {
  for (const f of fields) { yield f; if (f.fields) yield* allFields(f.fields); }
}
export const findIn = (fields: BqField[], name: string) => fields.find((x) => eq(x.name, name));
export function findField(src: SyntheticSource, name: string, deep = false): BqField | undefined {
  for (const fields of [...src.tables.values(), src.variables]) {
    const f = findIn(fields, name);
    if (f) return f;
  }
  if (deep) for (const fields of src.tables.values()) for (const f of allFields(fields)) if (eq(f.name, name)) return f;
  return undefined;
}

/** Adds `path` (a column and its STRUCT fields) to `fields`; false when it is all there already. */
export function addPath(fields: BqField[], path: string[]): boolean {
  let list = fields;
  let changed = false;
  for (const [i, name] of path.entries()) {
    let f = findIn(list, name);
    if (!f) { f = field(name); list.push(f); changed = true; }
    if (i === path.length - 1) break;
    if (f.type !== 'RECORD') { f.type = 'RECORD'; f.fields = []; changed = true; }
    list = f.fields!;
  }
  return changed;
}

/** A column name `fs` does not have yet (`c1`, `c2`, …). */
export function fresh(fs: BqField[]): string {
  for (let k = fs.length + 1; ; k++) if (!findIn(fs, `c${k}`)) return `c${k}`;
}

/** The catalog tables a table reference reads (a CTE: the tables of its body, recursively). */
export function catalogTables(st: RepairState, t: TableRef, depth = 0): string[] {
  const cte = cteOf(st.scope, t);
  if (cte && !(t.start >= cte.start && t.end <= cte.end)) {
    return depth > 4 ? [] : [...new Set(tablesIn(st.scope, cte).flatMap((x) => catalogTables(st, x, depth + 1)))];
  }
  try {
    const full = qualify(t.path, CTX);
    if (full.endsWith('*')) return [...st.src.tables.keys()].filter((k) => k.startsWith(full.slice(0, -1)));
    return st.src.tables.has(full) ? [full] : [...st.src.tables.keys()].filter((k) => k.endsWith(`.${t.path.join('.')}`));
  } catch { return []; }
}

/** The tables in scope at `pos`, innermost SELECT first, then the DML target. */
export function tablesInScope(st: RepairState, pos: number): string[] {
  const out: string[] = [];
  for (const sel of enclosingSelects(st.scope, pos)) if (sel.from) for (const t of tablesIn(st.scope, sel.from)) out.push(...catalogTables(st, t));
  if (st.scope.dml) out.push(...catalogTables(st, st.scope.dml));
  return [...new Set(out)];
}

/** The table reference an alias (or an unaliased table's last name) names, the nearest enclosing first. */
export function aliased(st: RepairState, alias: string, pos: number): TableRef | undefined {
  const refs = st.scope.tables.filter((t) => eq(t.alias ?? t.path[t.path.length - 1], alias));
  const inScope = enclosingSelects(st.scope, pos).flatMap((s) => (s.from ? tablesIn(st.scope, s.from) : [])).filter((t) => refs.includes(t));
  return inScope[0] ?? refs[0];
}

/** The output columns of the synthesized TVFs called in the FROM clauses enclosing `pos` (or aliased `alias`). */
export function tvfColumns(st: RepairState, pos: number, alias?: string): BqField[][] {
  const out: BqField[][] = [];
  for (const sel of enclosingSelects(st.scope, pos)) {
    if (!sel.from) continue;
    for (const t of st.scope.tvfs.filter((x) => x.start >= sel.from!.start && x.end <= sel.from!.end && (!alias || eq(x.alias ?? x.name[x.name.length - 1], alias)))) {
      const r = st.src.routines.get(qualifyObject(t.name, CTX));
      if (r) out.push(r.columns);
    }
    if (out.length) break;
  }
  return out;
}

/** `INT64`, `ARRAY<DATE>`, … → a field type (false for what a column cannot be given). */
export function asField(f: BqField, type: string): boolean {
  const arr = type.match(/^ARRAY<(\w+)>$/);
  const base = (arr ? arr[1] : type).replace(/^DOUBLE$/, 'FLOAT64');
  if (!SCALAR.has(base)) return false;
  const mode = arr ? 'REPEATED' : 'NULLABLE';
  if (f.type === base && (f.mode ?? 'NULLABLE') === mode) return false;
  f.type = base; f.mode = mode; delete f.fields; delete f.rangeElementType;
  return true;
}

/** Gives `f` the GoogleSQL type `text` (`ARRAY<STRUCT<a INT64, b STRING>>`, `DATE`, …); false when it cannot or nothing changes. */
export function setType(f: BqField, text: string): boolean {
  const t = text.trim();
  const arr = t.match(/^ARRAY<(.*)>$/s);
  const inner = arr ? arr[1].trim() : t;
  const st = inner.match(/^STRUCT<(.*)>$/s);
  const range = inner.match(/^RANGE<(DATE|DATETIME|TIMESTAMP)>$/);
  if (range) {
    // A RANGE column (https://cloud.google.com/bigquery/docs/reference/standard-sql/data-types#range_type).
    const before = JSON.stringify(f);
    f.type = 'RANGE'; f.rangeElementType = { type: range[1] }; f.mode = arr ? 'REPEATED' : 'NULLABLE'; delete f.fields;
    return JSON.stringify(f) !== before;
  }
  if (!st) return asField(f, t);
  const fields: BqField[] = [];
  for (const [i, part] of splitTypes(st[1]).entries()) {
    if (part === '...') continue;
    const named = part.match(/^`?(\w+)`?\s+(.+)$/s);
    const sub = field(named ? named[1] : `f${i + 1}`);
    if (!setType(sub, named ? named[2] : part) && sub.type === 'STRING' && !/^STRING$/.test(named ? named[2] : part)) sub.type = 'STRING';
    fields.push(sub);
  }
  const before = JSON.stringify(f);
  f.type = 'RECORD'; f.fields = fields; f.mode = arr ? 'REPEATED' : 'NULLABLE';
  return JSON.stringify(f) !== before;
}

/** Splits `A, STRUCT<a INT64, b STRING>, C` at top-level commas. */
export function splitTypes(s: string): string[] {
  const out: string[] = [];
  let depth = 0, cur = '';
  for (const ch of s) {
    if (ch === '<' || ch === '(') depth++;
    if (ch === '>' || ch === ')') depth--;
    if (ch === ',' && depth === 0) { out.push(cur.trim()); cur = ''; } else cur += ch;
  }
  if (cur.trim()) out.push(cur.trim());
  return out;
}

/** The catalog field an argument path names (`col`, `alias.col`, `col.field`). */
export function fieldOf(st: RepairState, path: string[], pos: number, depth = 0, outside?: string): BqField | undefined {
  if (depth > 4 || !path.length) return undefined;
  // An UNNEST's own expression is read outside its alias's scope (`UNNEST(labels) AS labels`): there
  // the name is no UNNEST alias of that spelling (another SELECT's `UNNEST(labels) AS labels` neither).
  const u = outside !== undefined && eq(outside, path[0]) ? undefined : unnestNamed(st, path[0], pos);
  if (u) return u.path.length ? walk(fieldOf(st, u.path, u.start, depth + 1, u.alias), path.slice(1)) : undefined;
  const ref = aliased(st, path[0], pos);
  const tables = ref ? catalogTables(st, ref) : [];
  if (ref && tables.length && path.length > 1) {
    // A CTE's own select-list column shadows its tables' columns of that name.
    const item = derivedItem(st, path[0], path[1], pos);
    if (item) return walk(derivedColumn(st, path[0], path[1], pos, depth), path.slice(2));
    return walk(tables.map((t) => findIn(st.src.tables.get(t)!, path[1])).find(Boolean), path.slice(2));
  }
  if (path.length > 1) { const d = derivedColumn(st, path[0], path[1], pos, depth); if (d) return walk(d, path.slice(2)); }
  if (!ref && path.length > 1) {
    // `FROM APPENDS(TABLE t, …) AS a`: a's columns are t's.
    const tvf = st.scope.tvfs.find((x) => eq(x.alias ?? '', path[0]) && x.tableArgs.length);
    for (const arg of tvf?.tableArgs ?? []) {
      const t = catalogTables(st, { start: tvf!.start, end: tvf!.end, path: arg });
      const hit = t.map((x) => findIn(st.src.tables.get(x)!, path[1])).find(Boolean);
      if (hit) return walk(hit, path.slice(2));
    }
  }
  if (ref && !tables.length && ref.path.length > 1 && aliased(st, ref.path[0], ref.start)) {
    return walk(fieldOf(st, ref.path, ref.start, depth + 1), path.slice(1)); // FROM t, t.arr AS a
  }
  if (!ref) {
    // An unqualified name over a CTE (`WITH c AS (SELECT a.b.c AS x …) SELECT x.y FROM c`): the
    // field the CTE's select item reads (the innermost SELECT with a FROM decides).
    const sel = enclosingSelects(st.scope, pos).find((x) => x.from);
    for (const t of sel ? tablesIn(st.scope, sel.from!) : []) {
      const d = t.path.length === 1 ? derivedColumn(st, t.path[0], path[0], pos, depth) : undefined;
      if (d) return walk(d, path.slice(1));
    }
    // `SELECT SUM(c) FROM (SELECT cs.x AS c … UNION ALL …)`, a FROM subquery without an alias: the
    // column its first (outermost, leftmost) SELECT's item of that name reads.
    const inner = sel ? st.scope.selects.filter((x) => x !== sel && x.start >= sel.from!.start && x.end <= sel.from!.end)
      .sort((a, b) => a.start - b.start || (b.end - b.start) - (a.end - a.start))[0] : undefined;
    const item = inner?.items.find((i) => eq(i.alias ?? i.path?.at(-1) ?? '', path[0]));
    if (item?.path && !st.scope.derived.some((d) => d.start <= inner!.start && inner!.end <= d.end)) {
      const f = fieldOf(st, item.path, item.start, depth + 1);
      if (f) return walk(f, path.slice(1));
    }
  }
  const f = tablesInScope(st, pos).map((t) => findIn(st.src.tables.get(t)!, path[0])).find(Boolean) ?? findField(st.src, path[0]);
  return walk(f, path.slice(1));
}
/**
 * The UNNEST aliased `alias` that is in scope at `pos`: in the FROM of the innermost enclosing
 * SELECT that has one (several branches may reuse an alias), never one whose own expression holds `pos`.
 */
export function unnestNamed(st: RepairState, alias: string, pos: number) {
  const named = st.scope.unnests.filter((x) => eq(x.alias, alias) && !(x.start <= pos && pos < x.end));
  for (const sel of enclosingSelects(st.scope, pos)) {
    const hit = sel.from && named.find((x) => x.start >= sel.from!.start && x.end <= sel.from!.end);
    if (hit) return hit;
  }
  return named[0];
}

/** The select-list item of the CTE or FROM subquery named `name` that outputs column `col`. */
export function derivedItem(st: RepairState, name: string, col: string, pos: number) {
  const cte = st.scope.ctes.find((c) => eq(c.name, name) && !(c.start <= pos && pos < c.end));
  const r = cte ?? st.scope.derived.find((d) => eq(d.alias, name));
  if (!r) return undefined;
  const sel = st.scope.selects.filter((x) => x.start >= r.start && x.end <= r.end).sort((a, b) => a.start - b.start || (b.end - b.start) - (a.end - a.start))[0];
  return sel?.items.find((i) => eq(i.alias ?? i.path?.[i.path.length - 1] ?? '', col));
}

/**
 * Column `col` of the CTE or FROM subquery named `name`: the field its select-list item reads (a
 * path), or the return value of the synthesized routine it calls.
 */
export function derivedColumn(st: RepairState, name: string, col: string, pos: number, depth: number): BqField | undefined {
  const item = derivedItem(st, name, col, pos);
  if (item?.path) return fieldOf(st, item.path, item.start, depth + 1);
  if (item?.call) return routineNamed(st, item.call)?.returns;
  return undefined;
}

/** The identifier chain written just before byte `pos` (`a.b[OFFSET(0)].` → [a, b]). */
export function chainBefore(st: RepairState, pos: number): string[] {
  let text = Buffer.from(st.sql, 'utf8').subarray(0, pos).toString('utf8').replace(/\s*\.\s*$/, '');
  const out: string[] = [];
  for (let guard = 0; guard < 12; guard++) {
    const sub = text.match(/\[[^\[\]]*(?:\[[^\[\]]*\][^\[\]]*)*\]\s*$/);
    if (sub) { text = text.slice(0, -sub[0].length); continue; }
    const id = text.match(/`?([A-Za-z_][A-Za-z0-9_]*)`?\s*$/);
    if (!id) break;
    out.unshift(id[1]);
    text = text.slice(0, -id[0].length);
    const dot = text.match(/\s*\.\s*$/);
    if (!dot) break;
    text = text.slice(0, -dot[0].length);
  }
  return out;
}
export function walk(f: BqField | undefined, names: string[]): BqField | undefined {
  for (const n of names) f = f?.fields ? findIn(f.fields, n) : undefined;
  return f;
}

/** The column at byte `pos` (the path there), else the first known one after it, else the nearest path before it. */
export function columnNear(st: RepairState, pos: number, ok: (f: BqField) => boolean = () => true): BqField | undefined {
  const p = pathAt(st.scope, pos);
  const at = p ? fieldOf(st, p.names, pos) : undefined;
  if (at && ok(at)) return at;
  const rest = Buffer.from(st.sql, 'utf8').subarray(pos).toString('utf8');
  for (const w of rest.match(/[A-Za-z_][A-Za-z0-9_]*/g) ?? []) { const f = findField(st.src, w, true); if (f && ok(f)) return f; }
  for (const b of st.scope.paths.filter((x) => x.end <= pos && !x.inTableRef).sort((x, y) => y.end - x.end).slice(0, 3)) {
    const f = fieldOf(st, b.names, b.start);
    if (f && ok(f)) return f;
  }
  return undefined;
}

/** The synthesized routine an error names (`MY_DATASET.F`, `P.D.UDF`: the spelled path, any case). */
export function routineNamed(st: RepairState, spelled: string) {
  const want = spelled.toLowerCase();
  return [...st.src.routines.entries()].find(([k]) => k.toLowerCase() === want || k.toLowerCase().endsWith(`.${want}`))?.[1];
}

/** The synthesized routine called at byte `pos` (a call starting there). */
export function routineCalledAt(st: RepairState, pos: number) {
  const call = callsAt(st.scope, pos).find((c) => c.kind === 'astFunctionCallNode' && c.start === pos);
  return call?.name ? routineNamed(st, call.name) : undefined;
}

/** A field whose anonymous STRUCT fields get names (`f1`, `f2`, …), as a table column's must. */
export function named(f: BqField): BqField {
  return f.fields ? { ...f, fields: f.fields.map((c, i) => named(c.name ? c : { ...c, name: `f${i + 1}` })) } : f;
}

/** A field named `name` of the GoogleSQL type `text` (`ARRAY<STRUCT<a INT64>>`, `DATE`, …); undefined when the synthesizer cannot declare it. */
export function typedField(name: string, text: string): BqField | undefined {
  const f = field(name);
  return setType(f, text) || /^STRING$/i.test(text.trim()) ? f : undefined;
}
