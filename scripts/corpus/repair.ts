/**
 * One synthesis step: the analyzer's error → a change to the synthetic catalog (source.ts), or
 * false when no rule applies. Rules, in order:
 * - an unrecognized name becomes a column of a table in scope at the error (the innermost SELECT's
 *   FROM, through CTEs; the DML target), a STRUCT when it is spelled with a path (`a.b.c`), or a
 *   script variable when no table is in scope;
 * - `Name x not found inside o`: `o` is a table alias (the column goes to that table) or a
 *   STRUCT column (the field is added, along the whole path spelled);
 * - a signature error retypes the argument it is about to a type a supported signature takes
 *   (for `=`, `<`, BETWEEN, IN, …: the type of the operand it is compared with);
 * - then the shape rules (arrays from UNNEST / subscripts, column counts, USING, ambiguity), and
 *   last a bounded cycle through types for the column nearest after the error.
 */
import type { BqField } from '../../src/emulator/encode.js';
import { qualify } from '../../src/sql/index.js';
import { qualifyObject } from '../../src/sql/names.js';
import type { SyntheticSource } from './source.js';
import { repairMl } from './ml.js';
import { callAt, callsAt, cteOf, enclosingSelects, offsetOf, pathAt, tablesIn, type Call, type Scope, type TableRef } from './scope.js';

const TYPES = ['STRING', 'INT64', 'FLOAT64', 'TIMESTAMP', 'DATE', 'BOOL', 'NUMERIC', 'DATETIME', 'BYTES', 'JSON', 'GEOGRAPHY'];
const SCALAR = new Set([...TYPES, 'TIME', 'BIGNUMERIC', 'INTERVAL']);
const CTX = { projectId: 'corpus-project', defaultDataset: { datasetId: 'corpus_dataset' } };
const eq = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();
const field = (name: string, type = 'STRING'): BqField => ({ name, type, mode: 'NULLABLE' });

/** The state one synthesis carries between rounds. */
export interface RepairState { src: SyntheticSource; sql: string; scope: Scope; retyped: Map<BqField, number> }

/** Every field of the catalog (nested ones included), with its parent list. */
function* allFields(fields: BqField[]): Generator<BqField> {
  for (const f of fields) { yield f; if (f.fields) yield* allFields(f.fields); }
}
const findIn = (fields: BqField[], name: string) => fields.find((x) => eq(x.name, name));
function findField(src: SyntheticSource, name: string, deep = false): BqField | undefined {
  for (const fields of [...src.tables.values(), src.variables]) {
    const f = findIn(fields, name);
    if (f) return f;
  }
  if (deep) for (const fields of src.tables.values()) for (const f of allFields(fields)) if (eq(f.name, name)) return f;
  return undefined;
}

/** Adds `path` (a column and its STRUCT fields) to `fields`; false when it is all there already. */
function addPath(fields: BqField[], path: string[]): boolean {
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

/** The catalog tables a table reference reads (a CTE: the tables of its body, recursively). */
function catalogTables(st: RepairState, t: TableRef, depth = 0): string[] {
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
function tablesInScope(st: RepairState, pos: number): string[] {
  const out: string[] = [];
  for (const sel of enclosingSelects(st.scope, pos)) if (sel.from) for (const t of tablesIn(st.scope, sel.from)) out.push(...catalogTables(st, t));
  if (st.scope.dml) out.push(...catalogTables(st, st.scope.dml));
  return [...new Set(out)];
}

/** The table reference an alias (or an unaliased table's last name) names, the nearest enclosing first. */
function aliased(st: RepairState, alias: string, pos: number): TableRef | undefined {
  const refs = st.scope.tables.filter((t) => eq(t.alias ?? t.path[t.path.length - 1], alias));
  const inScope = enclosingSelects(st.scope, pos).flatMap((s) => (s.from ? tablesIn(st.scope, s.from) : [])).filter((t) => refs.includes(t));
  return inScope[0] ?? refs[0];
}

/** The output columns of the synthesized TVFs called in the FROM clauses enclosing `pos` (or aliased `alias`). */
function tvfColumns(st: RepairState, pos: number, alias?: string): BqField[][] {
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

function unrecognized(st: RepairState, name: string, pos: number | undefined): boolean {
  const { src } = st;
  const p = pos !== undefined ? pathAt(st.scope, pos) : undefined;
  const path = p && eq(p.names[0], name) ? p.names : [name];
  const predicted = name.match(/^predicted_(\w+)$/i);
  if (predicted && src.models.size) {
    // ML.PREDICT's output column: the model's label is named after it.
    let changed = false;
    for (const m of src.models.values()) if (m.label.name === 'label') { m.label.name = predicted[1]; changed = true; }
    if (changed) return true;
  }
  const scoped = pos !== undefined ? tablesInScope(st, pos) : [];
  const tvf = pos !== undefined && !scoped.length ? tvfColumns(st, pos) : [];
  for (const cols of tvf) if (!findIn(cols, name)) return addPath(cols, path);
  for (const t of scoped) if (!findIn(src.tables.get(t)!, name)) return addPath(src.tables.get(t)!, path);
  if (scoped.length === 0) {
    // No table in scope: a script's variable (the corpus holds units of scripts) …
    if (!st.scope.selects.some((s) => s.from) && !st.scope.dml && src.tables.size === 0) return addPath(src.variables, path);
  }
  // … or the first table lacking it (the statement's scoping was not understood).
  const t = [...src.tables.keys()].find((x) => !findIn(src.tables.get(x)!, name));
  if (t && !scoped.length) return addPath(src.tables.get(t)!, path);
  if (findIn(src.variables, name)) return false;
  // Every table in scope has it and the name is still unknown: no column is visible there (FOR
  // SYSTEM_TIME AS OF, a lambda's outer scope, …): a variable; the guessed columns go.
  for (const x of scoped) { const fs = src.tables.get(x)!; const i = fs.findIndex((f) => eq(f.name, name)); if (i >= 0 && fs[i].type !== 'RECORD') fs.splice(i, 1); }
  return addPath(src.variables, path);
}

function notInside(st: RepairState, name: string, owner: string, pos: number | undefined): boolean {
  const { src } = st;
  const p = pos !== undefined ? pathAt(st.scope, pos) : undefined;
  const i = p ? p.names.findIndex((n, k) => eq(n, name) && k > 0 && eq(p.names[k - 1], owner)) : -1;
  const rest = i >= 0 ? p!.names.slice(i) : [name];
  const ref = pos !== undefined ? aliased(st, owner, pos) : undefined;
  const tvf = pos !== undefined && !ref ? tvfColumns(st, pos, owner) : [];
  if (tvf.length && i === 1) return addPath(tvf[0], rest);
  if (ref && i === 1) {
    const tables = catalogTables(st, ref);
    if (tables.length) return addPath(src.tables.get(tables[0])!, rest);
  }
  const f = findField(src, owner, true);
  if (f) {
    if (f.type !== 'RECORD') { f.type = 'RECORD'; f.fields = []; }
    return addPath(f.fields!, rest);
  }
  const target = [...src.tables.keys()].filter((t) => eq(t.split('.').pop()!, owner));
  let changed = false;
  for (const t of target.length ? target : [...src.tables.keys()]) changed = addPath(src.tables.get(t)!, rest) || changed;
  return changed;
}

/** `INT64`, `ARRAY<DATE>`, … → a field type (false for what a column cannot be given). */
function asField(f: BqField, type: string): boolean {
  const arr = type.match(/^ARRAY<(\w+)>$/);
  const base = (arr ? arr[1] : type).replace(/^DOUBLE$/, 'FLOAT64');
  if (!SCALAR.has(base)) return false;
  const mode = arr ? 'REPEATED' : 'NULLABLE';
  if (f.type === base && (f.mode ?? 'NULLABLE') === mode) return false;
  f.type = base; f.mode = mode; delete f.fields;
  return true;
}

/** Gives `f` the GoogleSQL type `text` (`ARRAY<STRUCT<a INT64, b STRING>>`, `DATE`, …); false when it cannot or nothing changes. */
function setType(f: BqField, text: string): boolean {
  const t = text.trim();
  const arr = t.match(/^ARRAY<(.*)>$/s);
  const inner = arr ? arr[1].trim() : t;
  const st = inner.match(/^STRUCT<(.*)>$/s);
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
function splitTypes(s: string): string[] {
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
function fieldOf(st: RepairState, path: string[], pos: number, depth = 0): BqField | undefined {
  if (depth > 4 || !path.length) return undefined;
  const u = st.scope.unnests.find((x) => eq(x.alias, path[0]));
  if (u) return walk(fieldOf(st, u.path, u.start, depth + 1), path.slice(1));
  const ref = aliased(st, path[0], pos);
  const tables = ref ? catalogTables(st, ref) : [];
  if (ref && tables.length && path.length > 1) return walk(tables.map((t) => findIn(st.src.tables.get(t)!, path[1])).find(Boolean), path.slice(2));
  if (ref && !tables.length && ref.path.length > 1 && aliased(st, ref.path[0], ref.start)) {
    return walk(fieldOf(st, ref.path, ref.start, depth + 1), path.slice(1)); // FROM t, t.arr AS a
  }
  const f = tablesInScope(st, pos).map((t) => findIn(st.src.tables.get(t)!, path[0])).find(Boolean) ?? findField(st.src, path[0]);
  return walk(f, path.slice(1));
}
/** The identifier chain written just before byte `pos` (`a.b[OFFSET(0)].` → [a, b]). */
function chainBefore(st: RepairState, pos: number): string[] {
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
function walk(f: BqField | undefined, names: string[]): BqField | undefined {
  for (const n of names) f = f?.fields ? findIn(f.fields, n) : undefined;
  return f;
}

function signature(st: RepairState, msg: string, pos: number): boolean {
  const inList = msg.match(/No matching signature for operator (IN(?: UNNEST)?) for argument types (.+?) and \{(.+?)\}/);
  const m = inList ? [inList[0], 'operator', inList[1], `${inList[2]}, ${inList[3]}`, 'ANY IN ANY'] : msg.match(/No matching signature for (?:aggregate |analytic )?(function|operator) (.+?) for argument types?: (.*?)\. (?:Supported signatures?: )?(.*?)(?: \[at|$)/s);
  if (!m) return false;
  const given = splitTypes(m[3]);
  if (/IN UNNEST/.test(m[2])) given[1] = given[1]?.replace(/^ARRAY<(.*)>$/, '$1');
  const fn = m[1] === 'function';
  const calls = callsAt(st.scope, pos, fn ? m[2] : undefined).filter((c) => (c.kind === 'astFunctionCallNode') === fn && (!fn || eq(c.name ?? '', m[2])));
  for (const call of calls.slice(0, 6)) if (call.operands.length && retypeArgs(st, m, given, call)) return true;
  if (process.env.SYNTH_TRACE) process.stderr.write(`    no call at ${pos} fits\n`);
  return false;
}

function retypeArgs(st: RepairState, m: string[], given: string[], call: Call): boolean {
  const ops = call.operands.slice(0, given.length).map((o) => ({ o, f: o.path ? fieldOf(st, o.path, o.start) : undefined }));
  const sigs = m[4].split('; ').map((x) => {
    const inner = x.match(/^[^(]*\((.*)\)$/);
    return m[1] === 'function' && inner ? splitTypes(inner[1]).map((t) => t.replace(/^\[|\]$/g, '').replace(/^\w+ => /, '').trim()) : x.replace(/[()]/g, '').split(/ (?:[=<>!+\-*\/|]+|LIKE|BETWEEN|AND|IN|IS) /).map((t) => t.trim());
  });
  // A signature every non-column argument fits; the columns take its types.
  const fitsAt = (sig: string[], i: number) => !!ops[i].f || !sig[i] || /^(ANY|T\d|ARRAY<T\d>|ARRAY<ANY)/.test(sig[i]) || sig[i] === given[i];
  const score = (sig: string[]) => ops.filter((_, i) => fitsAt(sig, i)).length - (sig.length >= ops.length ? 0 : 0.5);
  const sig = [...sigs].sort((a, b) => score(b) - score(a))[0];
  // The type an operand is compared with: a non-column's, else a column's already inferred (retyped) one.
  const partner = given.find((g, i) => !ops[i]?.f && SCALAR.has(g))
    ?? given.find((g, i) => ops[i]?.f && st.retyped.has(ops[i].f!) && SCALAR.has(g)) ?? (ops.length > 1 ? 'STRING' : undefined);
  let changed = false;
  for (const [i, { f }] of ops.entries()) {
    if (!f) continue;
    const want = sig?.[i] && !/^(ANY|T\d)/.test(sig[i]) ? sig[i] : partner;
    if (!want || want === given[i] || (st.retyped.get(f) ?? 0) > 5) continue;
    if (asField(f, want)) { st.retyped.set(f, (st.retyped.get(f) ?? 0) + 1); changed = true; }
  }
  return changed;
}

/** One synthesis step from an error message; false when nothing applies. */
export function repair(st: RepairState, msg: string): boolean {
  const { src, sql } = st;
  const tables = [...src.tables.keys()];
  const at = msg.match(/\[at (\d+):(\d+)\]/);
  const pos = at ? offsetOf(sql, Number(at[1]), Number(at[2])) : undefined;
  if (repairMl(src, st.scope, sql, msg, pos)) return true; // VECTOR_SEARCH / AI.SEARCH base.x, query.x (corpus/ml.ts)
  let m;
  if ((m = msg.match(/Unrecognized name: `?([A-Za-z_][A-Za-z0-9_]*)`?/))) return unrecognized(st, m[1], pos);
  if ((m = msg.match(/Name `?([A-Za-z_][A-Za-z0-9_]*)`? not found inside `?([A-Za-z_][A-Za-z0-9_]*)`?/))) return notInside(st, m[1], m[2], pos);
  if (pos !== undefined && (m = msg.match(/Field name `?(\w+)`? does not exist in STRUCT/))) {
    const p = pathAt(st.scope, pos);
    const k = p ? p.names.findIndex((n, i) => i > 0 && eq(n, m![1])) : -1;
    const f = p && k > 0 ? fieldOf(st, p.names.slice(0, k), pos) : undefined;
    if (f?.type === 'RECORD') return addPath(f.fields!, p!.names.slice(k));
  }
  if (pos !== undefined && (m = msg.match(/Column `?(\w+)`? in SELECT \* (?:EXCEPT|REPLACE) list does not exist/))) {
    const t = tablesInScope(st, pos).find((x) => !findIn(src.tables.get(x)!, m![1])) ?? tables.find((x) => !findIn(src.tables.get(x)!, m![1]));
    return !!t && addPath(src.tables.get(t)!, [m[1]]);
  }
  if ((m = msg.match(/Query column (\d+) has type (\w+) which cannot be inserted into column `?(\w+)`?/))) {
    const f = findField(src, m[3]);
    if (f && (st.retyped.get(f) ?? 0) < 6) { st.retyped.set(f, (st.retyped.get(f) ?? 0) + 1); if (asField(f, m[2])) return true; }
  }
  if (pos !== undefined && (m = msg.match(/Invalid type for argument (\d+) to \w+; Expected (\w+)/))) {
    const want = ({ integer: 'INT64', float: 'FLOAT64', string: 'STRING' } as Record<string, string>)[m[2].toLowerCase()] ?? m[2].toUpperCase();
    const arg = callAt(st.scope, pos)?.operands[Number(m[1]) - 1];
    const f = arg?.path ? fieldOf(st, arg.path, arg.start) : undefined;
    if (f && asField(f, want)) return true;
  }
  if ((m = msg.match(/Column `?([A-Za-z_][A-Za-z0-9_]*)`? is not present in table `?([^\s`]+)`?/))) {
    const t = src.tables.get(m[2]) ?? src.tables.get(tables.find((x) => x.endsWith(m![2])) ?? '');
    return !!t && addPath(t, [m[1]]);
  }
  if ((m = msg.match(/Column `?(\w+)`? is not present in target table/)) && st.scope.dml) {
    const t = catalogTables(st, st.scope.dml)[0];
    if (t) return addPath(src.tables.get(t)!, [m[1]]);
  }
  if ((m = msg.match(/Inserted row has wrong column count; Has (\d+), expected (\d+)/)) && Number(m[1]) > Number(m[2])) {
    const t = (st.scope.dml && catalogTables(st, st.scope.dml)[0]) ?? tables[0];
    const fs = t ? src.tables.get(t)! : undefined;
    if (fs) { for (let i = Number(m[2]); i < Number(m[1]); i++) addPath(fs, [`c${fs.length + 1}`]); return true; }
  }
  if (/No writable column in target table|SELECT \* would expand to zero columns|Inserted row has wrong column count|has \d+ columns? but|Query has \d+ columns? .* expected/.test(msg)) {
    const empty = tables.filter((t) => src.tables.get(t)!.length === 0);
    const targets = empty.length ? empty : /Inserted row|INSERT|columns? but/.test(msg) ? tables.slice(0, 1) : [];
    for (const t of targets) addPath(src.tables.get(t)!, [`c${src.tables.get(t)!.length + 1}`]);
    return targets.length > 0;
  }
  if ((m = msg.match(/Column `?([A-Za-z_][A-Za-z0-9_]*)`? in USING clause not found on (left|right) side of join/))) {
    const join = pos !== undefined ? st.scope.joins.filter((j) => j.start <= pos && pos < j.end).sort((a, b) => (a.end - a.start) - (b.end - b.start))[0] : undefined;
    const side = join && (m[2] === 'left' ? join.lhs : join.rhs);
    const fromSide = side ? [...new Set(tablesIn(st.scope, side).flatMap((t) => catalogTables(st, t)))] : [];
    const targets = fromSide.length ? fromSide.slice(0, 1) : m[2] === 'left' ? tables.slice(0, 1) : tables.slice(1);
    let changed = false;
    for (const t of targets) changed = addPath(src.tables.get(t)!, [m[1]]) || changed;
    return changed;
  }
  if (pos !== undefined && /No matching signature/.test(msg) && signature(st, msg, pos)) return true;
  if (pos !== undefined && (m = msg.match(/must be a literal or query parameter/))) {
    // A constant the statement's script declares: move the column to the script variables.
    const p = pathAt(st.scope, pos);
    const f = p?.names.length === 1 ? fieldOf(st, p.names, pos) : undefined;
    if (f && !findIn(src.variables, f.name)) {
      for (const fs of src.tables.values()) { const i = fs.indexOf(f); if (i >= 0) fs.splice(i, 1); }
      src.variables.push({ ...f, type: 'INT64' });
      return true;
    }
  }
  if (pos !== undefined && (m = msg.match(/(\w+) does not support the \w+ date part/))) {
    const arg = callsAt(st.scope, pos, m[1]).find((c) => c.kind === 'astFunctionCallNode')?.operands[0];
    const f = arg?.path ? fieldOf(st, arg.path, arg.start) : undefined;
    if (f && (st.retyped.get(f) ?? 0) < 8 && asField(f, /^DATE_/.test(m[1]) ? 'DATETIME' : 'TIMESTAMP')) { st.retyped.set(f, (st.retyped.get(f) ?? 0) + 1); return true; }
  }
  if (pos !== undefined && /Array position in \[\] must be coercible to INT64|Window framing expression for ROWS can only be of integer type/.test(msg)) {
    const f = columnNear(st, pos, (x) => (st.retyped.get(x) ?? 0) < 8);
    if (f && asField(f, 'INT64')) { st.retyped.set(f, (st.retyped.get(f) ?? 0) + 1); return true; }
  }
  if (pos !== undefined && (m = msg.match(/Dot-star is not supported for type/))) {
    const p = pathAt(st.scope, pos);
    const f = p ? fieldOf(st, p.names, pos) : undefined;
    if (f && f.type !== 'RECORD') { f.type = 'RECORD'; f.fields = [field('c1')]; st.retyped.set(f, 9); return true; }
  }
  if (pos !== undefined && (m = msg.match(/must be of type (\w+) but was of type|Could not cast literal .* to type|FORMAT is not allowed for cast from (\w+)|(?:MIN|MAX|[A-Z_]+) is not defined for arguments of type|Dot-star is not supported for type/))) {
    const f = columnNear(st, pos, (x) => (st.retyped.get(x) ?? 0) < 8);
    const want = m[1] ?? (/FORMAT/.test(m[0]) ? 'TIMESTAMP' : 'STRING');
    if (f && /Dot-star/.test(m[0])) { f.type = 'RECORD'; f.fields = [field('c1')]; f.mode = 'NULLABLE'; st.retyped.set(f, 9); return true; }
    if (f && asField(f, want)) { st.retyped.set(f, (st.retyped.get(f) ?? 0) + 1); return true; }
  }
  if (pos !== undefined && /Subscript access|for function ARRAY_|UNNEST|must be an array|must be arrays|ARRAY_LENGTH|ARRAY_TO_STRING|ARRAY_CONCAT/i.test(msg)) {
    const p = pathAt(st.scope, pos) ?? (/Subscript/.test(msg) ? st.scope.paths.filter((x) => x.end <= pos && !x.inTableRef).sort((a, b) => b.end - a.end)[0] : undefined);
    const f = (p && fieldOf(st, p.names, pos)) ?? columnNear(st, pos);
    if (f && f.mode !== 'REPEATED') { f.mode = 'REPEATED'; if (f.type === 'GEOGRAPHY' || f.type === 'JSON') f.type = 'STRING'; return true; }
  }
  if ((m = msg.match(/Value (?:has type|of type) (.+?) (?:which )?cannot be (?:inserted into|assigned to) (?:column )?`?(\w+)`?, which has type/))) {
    const f = (st.scope.dml && catalogTables(st, st.scope.dml).map((t) => findIn(src.tables.get(t)!, m![2])).find(Boolean)) ?? findField(src, m[2]);
    return !!f && setType(f, m[1]);
  }
  if ((m = msg.match(/Column name `?(\w+)`? not found in `?([^\s`]+)`?/))) {
    const t = tables.find((x) => eq(x.split('.').pop()!, m![2])) ?? tables[0];
    return !!t && addPath(src.tables.get(t)!, [m[1]]);
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
      const i = fs.findIndex((x) => eq(x.name, m![1]));
      if (i >= 0) { if (kept) fs.splice(i, 1); kept = true; }
    }
    return kept;
  }
  if (pos !== undefined && (m = msg.match(/Cannot access field `?([A-Za-z_][A-Za-z0-9_]*)`? on a value with type (ARRAY<)?/))) {
    const p = pathAt(st.scope, pos);
    const k = p ? p.names.findIndex((n, i) => i > 0 && eq(n, m![1])) : -1;
    const chain = p && k > 0 ? p.names.slice(0, k) : chainBefore(st, pos);
    const f = (chain.length ? fieldOf(st, chain, pos) : undefined) ?? (p && k > 0 ? undefined : columnNear(st, pos));
    if (!f) return false;
    if (m[2]) f.mode = 'REPEATED'; // field access on an array: an array of structs
    if (f.type !== 'RECORD') { f.type = 'RECORD'; f.fields = []; }
    return addPath(f.fields!, p && k > 0 ? p.names.slice(k) : [m[1]]);
  }
  if ((m = msg.match(/Invalid cast from (\w+) to (\w+)/)) && pos !== undefined) {
    const f = columnNear(st, pos);
    if (f && (st.retyped.get(f) ?? 0) < 6) { st.retyped.set(f, (st.retyped.get(f) ?? 0) + 1); return asField(f, 'STRING'); }
  }
  if (pos !== undefined && !/must be a literal/.test(msg) && /No matching signature|cannot be|Could not cast|must be|Expected|requires|type mismatch|coerced|does not support|incompatible|not supported for|of type/i.test(msg)) {
    // Last resort: cycle the type of the column nearest after the error position.
    const f = columnNear(st, pos, (x) => x.type !== 'RECORD' && (st.retyped.get(x) ?? 0) < TYPES.length - 1);
    if (f) {
      const n = (st.retyped.get(f) ?? 0) + 1;
      st.retyped.set(f, n);
      f.type = TYPES[(TYPES.indexOf(f.type) + 1) % TYPES.length];
      return true;
    }
  }
  return false;
}

/** The column at byte `pos` (the path there), else the first known one after it, else the nearest path before it. */
function columnNear(st: RepairState, pos: number, ok: (f: BqField) => boolean = () => true): BqField | undefined {
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
