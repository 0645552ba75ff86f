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
 * - a synthesized routine takes its call site's argument types; `udf(x).*` makes it return a STRUCT;
 * - then the shape rules (arrays from UNNEST / subscripts, JSON from string subscripts and
 *   JSON_QUERY_ARRAY elements, set-operation column counts and types, INSERT values — a type the
 *   message truncates is rebuilt by analyzing the value itself; a target without a column list keeps
 *   the query's column count —, USING, ambiguity), and last a
 *   bounded cycle through types for the column nearest after the error.
 * Names resolve per alias through resolve.ts (UNNEST, CTE and subquery select lists, APPENDS).
 */
import type { BqField } from '../../src/emulator/encode.js';
import { typeToField } from '../../src/sql/types.js';
import { repairMl } from './ml.js';
import { tokenize } from '../../src/sql/pipe/index.js';
import { callAt, callsAt, offsetOf, pathAt, tablesIn, type Call } from './scope.js';
import { TYPES, SCALAR, eq, field, allFields, findIn, findField, addPath, fresh, catalogTables, tablesInScope, aliased, tvfColumns, asField, setType, splitTypes, fieldOf, unnestNamed, chainBefore, columnNear, routineNamed, routineCalledAt, named, type RepairState } from './resolve.js';

export type { RepairState } from './resolve.js';

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

function signature(st: RepairState, msg: string, pos: number): boolean {
  const inList = msg.match(/No matching signature for operator (IN(?: UNNEST)?) for argument types (.+?) and \{(.+?)\}/);
  const m = inList ? [inList[0], 'operator', inList[1], `${inList[2]}, ${inList[3]}`, 'ANY IN ANY'] : msg.match(/No matching signature for (?:aggregate |analytic )?(function|operator) (.+?) for argument types?: (.*?)(?:\. (?:Supported signatures?: )?(.*?))?(?: \[at|$)/s);
  if (!m) return false;
  m[2] = m[2].replace(/^BIGQUERY:/i, ''); // a registered BigQuery builtin (sql/builtins) is named in its group
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
  const sigs = (m[4] ?? '').split('; ').filter(Boolean).map((x) => {
    const inner = x.match(/^[^(]*\((.*)\)$/);
    return m[1] === 'function' && inner ? splitTypes(inner[1]).map((t) => t.replace(/^\[|\]$/g, '').replace(/^\w+ => /, '').trim()) : x.replace(/[()]/g, '').split(/ (?:[=<>!+\-*\/|]+|LIKE|BETWEEN|AND|IN|IS(?: NOT)? DISTINCT FROM|IS) /).map((t) => t.trim());
  });
  // A signature every non-column argument fits; the columns take its types.
  const fitsAt = (sig: string[], i: number) => !!ops[i].f || !sig[i] || /^(ANY|T\d|ARRAY<T\d>|ARRAY<ANY)/.test(sig[i]) || sig[i] === given[i];
  const score = (sig: string[]) => ops.filter((_, i) => fitsAt(sig, i)).length - (sig.length >= ops.length ? 0 : 0.5);
  const sig = [...sigs].sort((a, b) => score(b) - score(a))[0];
  // The type an operand is compared with: a non-column's, else a column's already inferred (retyped) one.
  // Comparisons (=, <, IN, BETWEEN, …) need a type with equality and order: never GEOGRAPHY or JSON.
  const comparable = (g: string) => SCALAR.has(g) && (m[1] === 'function' || !['GEOGRAPHY', 'JSON'].includes(g));
  const partner = given.find((g, i) => !ops[i]?.f && comparable(g))
    ?? given.find((g, i) => ops[i]?.f && st.retyped.has(ops[i].f!) && comparable(g)) ?? (ops.length > 1 ? 'STRING' : undefined);
  let changed = false;
  for (const [i, { o, f }] of ops.entries()) {
    const want = sig?.[i] && !/^(ANY|T\d)/.test(sig[i]) ? sig[i] : partner;
    if (!f) {
      // A query parameter the synthesizer declared (`price * @scaling`) takes the signature's type.
      const name = Buffer.from(st.sql, 'utf8').subarray(o.start, o.end).toString('utf8').match(/^@(\w+)$/)?.[1];
      const p = name ? st.src.params.find((x) => eq(x.name ?? '', name)) : undefined;
      if (p && want && SCALAR.has(want) && want !== 'GEOGRAPHY' && p.parameterType.type !== want) { p.parameterType = { type: want }; changed = true; }
      continue;
    }
    if (!want || want === given[i] || (st.retyped.get(f) ?? 0) > 5) continue;
    if (asField(f, want)) { st.retyped.set(f, (st.retyped.get(f) ?? 0) + 1); changed = true; }
  }
  return changed;
}

/**
 * Functions whose result has their first argument's type (navigation and value functions,
 * https://cloud.google.com/bigquery/docs/reference/standard-sql/navigation_functions; MIN / MAX /
 * ANY_VALUE, aggregate_functions): `IFNULL(LAG(x) OVER (…), 0)` types x through the LAG.
 */
const SAME_TYPE = /^(LAG|LEAD|FIRST_VALUE|LAST_VALUE|NTH_VALUE|ANY_VALUE|MIN|MAX|IFNULL|COALESCE)$/i;

/** The synthesized column an operand's value is: a path, or a path under SAME_TYPE calls. */
function valueColumn(st: RepairState, o: Call['operands'][number], depth = 0): BqField | undefined {
  if (o.path) return fieldOf(st, o.path, o.start);
  const inner = depth < 4 ? st.scope.calls.find((c) => c.start === o.start && c.kind === 'astFunctionCallNode' && SAME_TYPE.test(c.name ?? '')) : undefined;
  return inner?.operands[0] ? valueColumn(st, inner.operands[0], depth + 1) : undefined;
}

/** One synthesis step from an error message; false when nothing applies. */
export async function repair(st: RepairState, msg: string): Promise<boolean> {
  const { src, sql } = st;
  const tables = [...src.tables.keys()];
  const at = msg.match(/\[at (\d+):(\d+)\]/);
  const pos = at ? offsetOf(sql, Number(at[1]), Number(at[2])) : undefined;
  if (repairMl(src, st.scope, sql, msg, pos)) return true; // VECTOR_SEARCH / AI.SEARCH base.x, query.x (corpus/ml.ts)
  let m;
  // A backquoted name becomes a column only when a column can be named so: letters, marks, digits,
  // underscores (https://cloud.google.com/bigquery/docs/schemas#column_names) — never `{}` placeholders.
  if ((m = msg.match(/Unrecognized name: (?:`([\p{L}\p{M}\p{N}_]+)`|([A-Za-z_][A-Za-z0-9_]*))(?![^\s;])/u))) return unrecognized(st, m[1] ?? m[2], pos);
  if ((m = msg.match(/Name `?(\w+)`? not found inside `?([A-Za-z_][A-Za-z0-9_]*)`?/))) return notInside(st, m[1], m[2], pos);
  if (pos !== undefined && /(?:Dot-star would expand|SELECT \* expands) to zero columns/.test(msg)) {
    // `r.* EXCEPT (k)` where r has only k: its table gets another column.
    const alias = Buffer.from(sql, 'utf8').subarray(pos).toString('utf8').match(/^`?(\w+)`?\s*\.\s*\*/)?.[1];
    const ref = alias ? aliased(st, alias, pos) : undefined;
    const t = ref ? catalogTables(st, ref) : [];
    if (t.length === 1) { const fs = src.tables.get(t[0])!; return addPath(fs, [fresh(fs)]); }
  }
  if (pos !== undefined && (m = msg.match(/Field name `?(\w+)`? does not exist in STRUCT/))) {
    const p = pathAt(st.scope, pos);
    const k = p ? p.names.findIndex((n, i) => i > 0 && eq(n, m![1])) : -1;
    const f = p && k > 0 ? fieldOf(st, p.names.slice(0, k), pos) : undefined;
    if (f?.type === 'RECORD') return addPath(f.fields!, p!.names.slice(k));
  }
  if ((m = msg.match(/Field name `?(\w+)`? does not exist in STRUCT<([^<>]*)>/)) && !m[2].includes('...')) {
    // Not at a path of the statement (inside a UDF body, a lambda): the one synthesized STRUCT with exactly those fields.
    const names = splitTypes(m[2]).map((x) => x.match(/^`?(\w+)`?\s/)?.[1]?.toLowerCase());
    // Else the one table with exactly those columns (`SELECT AS STRUCT * FROM t`).
    const same = (fs: BqField[]) => fs.length === names.length && fs.every((x, i) => x.name.toLowerCase() === names[i]);
    const hits = [...src.tables.values(), src.variables].flatMap((fs) => [...allFields(fs)]).filter((f) => f.type === 'RECORD' && same(f.fields!)).map((f) => f.fields!);
    const owners = hits.length ? hits : [...src.tables.values()].filter(same);
    if (owners.length === 1) return addPath(owners[0], [m[1]]);
  }
  if ((m = msg.match(/(?:HAVING clause|SELECT list|QUALIFY clause|ORDER BY clause) expression references column `?(\w+)`? which is neither grouped nor aggregated/))) {
    // An upper-case name no table spells qualified and the statement does not group: a constant the
    // statement's script declares (`HAVING n > MIN_TRIPS_THRESH`), not a column.
    const spelledQualified = st.scope.paths.some((p) => p.names.length >= 2 && eq(p.names[1], m![1]));
    const owner = tables.find((t) => src.tables.get(t)!.some((f) => eq(f.name, m![1]) && f.type !== 'RECORD'));
    if (owner && !spelledQualified && /^[A-Z][A-Z0-9_]*$/.test(m[1]) && !findIn(src.variables, m[1])) {
      const fs = src.tables.get(owner)!;
      const [f] = fs.splice(fs.findIndex((x) => eq(x.name, m![1])), 1);
      src.variables.push(f);
      return true;
    }
  }
  if (pos !== undefined && (m = msg.match(/Column `?(\w+)`? in SELECT \* (?:EXCEPT|REPLACE) list does not exist/))) {
    // `s.arr[0].* EXCEPT (x)`: x is a field of the STRUCT the dot-star expands.
    const before = Buffer.from(sql, 'utf8').subarray(0, pos).toString('utf8');
    const star = before.match(/\.\s*\*\s*(?:EXCEPT|REPLACE)\s*\([^()]*(?:\([^()]*\)[^()]*)*$/i);
    const starAt = star ? Buffer.byteLength(before, 'utf8') - Buffer.byteLength(star[0], 'utf8') : -1;
    const chain = star ? chainBefore(st, starAt) : [];
    const f = chain.length ? fieldOf(st, chain, starAt) : undefined;
    if (f?.type === 'RECORD') return addPath(f.fields!, [m[1]]);
    const t = tablesInScope(st, pos).find((x) => !findIn(src.tables.get(x)!, m![1])) ?? tables.find((x) => !findIn(src.tables.get(x)!, m![1]));
    return !!t && addPath(src.tables.get(t)!, [m[1]]);
  }
  if (pos !== undefined && st.typeOf && (m = msg.match(/Query column (\d+) has type ((?:STRUCT|ARRAY)<.+?) which cannot be inserted into column `?(\w+)`?, which has type/))) {
    // A STRUCT / ARRAY value (its type truncated in the message): the target column takes the type
    // of the query's Nth select item, analyzed on its own.
    const f = st.scope.dml && catalogTables(st, st.scope.dml).map((t) => findIn(src.tables.get(t)!, m![3])).find(Boolean);
    const sel = st.scope.selects.find((x) => x.start === pos);
    const it = sel?.items[Number(m[1]) - 1];
    const expr = it ? Buffer.from(sql, 'utf8').subarray(it.start, it.end).toString('utf8').replace(/\s+AS\s+`?\w+`?\s*$/i, '') : undefined;
    const from = sel?.from ? Buffer.from(sql, 'utf8').subarray(sel.from.start, sel.from.end).toString('utf8') : '';
    const t = f && expr ? await st.typeOf(expr, /^\s*FROM\b/i.test(from) ? from : from && `FROM ${from}`) : undefined;
    if (f && t) {
      const made = named(typeToField(f.name, t));
      if (JSON.stringify(made) !== JSON.stringify(f)) { Object.assign(f, made); if (!made.fields) delete f.fields; st.retyped.set(f, 99); return true; }
    }
  }
  if ((m = msg.match(/Query column (\d+) has type (\w+) which cannot be inserted into column `?(\w+)`?/))) {
    // The INSERT target's column (the source table may have one of the same name).
    const f = (st.scope.dml && catalogTables(st, st.scope.dml).map((t) => findIn(src.tables.get(t)!, m![3])).find(Boolean)) ?? findField(src, m[3]);
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
  if ((m = msg.match(/Inserted row has wrong column count; Has (\d+), expected (\d+)/)) && Number(m[1]) < Number(m[2]) && st.scope.dml) {
    // INSERT without a column list over a target with more columns than the query: the target got
    // columns another table's names were meant for (an alias not understood); it keeps the query's count.
    const t = catalogTables(st, st.scope.dml)[0];
    const fs = t ? src.tables.get(t)! : undefined;
    if (fs && fs.length === Number(m[2])) { fs.splice(Number(m[1])); return true; }
  }
  if (/No writable column in target table|SELECT \* would expand to zero columns|Inserted row has wrong column count|has \d+ columns? but|Query has \d+ columns? .* expected/.test(msg)) {
    const empty = tables.filter((t) => src.tables.get(t)!.length === 0);
    const targets = empty.length ? empty : /Inserted row|INSERT|columns? but/.test(msg) ? tables.slice(0, 1) : [];
    for (const t of targets) addPath(src.tables.get(t)!, [`c${src.tables.get(t)!.length + 1}`]);
    return targets.length > 0;
  }
  if (pos !== undefined && (m = msg.match(/Queries in [A-Z ]+ have mismatched column count; query (\d+) has (\d+) columns?, query (\d+) has (\d+) column/))) {
    // `SELECT * FROM a UNION ALL SELECT * FROM b`: the narrower input's one table gets the missing columns.
    const op = st.scope.setOps.filter((x) => x.start <= pos && pos < x.end).sort((a, b) => (a.end - a.start) - (b.end - b.start))[0];
    const [i, n] = Number(m[2]) < Number(m[4]) ? [Number(m[1]), Number(m[4]) - Number(m[2])] : [Number(m[3]), Number(m[2]) - Number(m[4])];
    const starTable = (k: number) => {
      const input = op?.inputs[k - 1];
      const sel = input && st.scope.selects.find((x) => x.start === input.start && x.end === input.end);
      const refs = sel?.star && sel.from ? tablesIn(st.scope, sel.from) : [];
      const t = refs.length === 1 ? catalogTables(st, refs[0]) : [];
      return t.length === 1 ? src.tables.get(t[0])! : undefined;
    };
    // The wider input is `SELECT * FROM t`: t loses the placeholder columns (`c1`, made so a `*`
    // expanded to something) that the statement never names, before the narrower one grows.
    const wide = starTable(i === Number(m[1]) ? Number(m[3]) : Number(m[1]));
    const spelled = (name: string) => st.scope.paths.some((p) => p.names.some((x) => eq(x, name)));
    const placeholders = wide ? wide.filter((f) => /^c\d+$/.test(f.name) && !spelled(f.name)).slice(0, n) : [];
    if (wide && placeholders.length) { for (const f of placeholders) wide.splice(wide.indexOf(f), 1); return true; }
    const fs = starTable(i);
    if (fs) { for (let k = 0; k < n; k++) addPath(fs, [fresh(fs)]); return true; }
  }
  if ((m = msg.match(/BY NAME requires all input queries to have identical column names, but query \d+ has \[([^\]]*)\] and query \d+ has \[([^\]]*)\]/))) {
    // STRICT BY NAME (bqgate's check, sql/pipe/setops.ts): the table whose columns are one input's takes the other's names.
    const [a, b] = [m[1], m[2]].map((x) => x.split(', ').filter(Boolean));
    const same = (fs: BqField[], xs: string[]) => fs.length === xs.length && fs.every((f) => xs.some((x) => eq(x, f.name)));
    let changed = false;
    for (const fs of src.tables.values()) {
      for (const [mine, other] of [[a, b], [b, a]]) {
        if (!same(fs, mine)) continue;
        for (let i = fs.length - 1; i >= 0; i--) if (!other.some((x) => eq(x, fs[i].name))) { fs.splice(i, 1); changed = true; }
        for (const n of other) if (!findIn(fs, n)) changed = addPath(fs, [n]) || changed;
        break;
      }
    }
    if (changed) return true;
  }
  if (pos !== undefined && /set operation using CORRESPONDING do not have any columns in common/.test(msg)) {
    // `FROM t |> UNION ALL BY NAME (SELECT 1 AS a)`: each `SELECT * FROM t` input's one table gets the
    // names the other inputs' select lists give (https://cloud.google.com/bigquery/docs/reference/standard-sql/query-syntax#corresponding).
    const op = st.scope.setOps.filter((x) => x.start <= pos && pos < x.end).sort((a, b) => (a.end - a.start) - (b.end - b.start))[0];
    const sels = (op?.inputs ?? []).map((r) => st.scope.selects.find((x) => x.start === r.start && x.end === r.end));
    const names = sels.flatMap((x) => (x && !x.star ? x.items.map((it) => it.alias ?? it.path?.at(-1)).filter((n): n is string => !!n) : []));
    let changed = false;
    for (const sel of sels) {
      const refs = sel?.star && sel.from ? tablesIn(st.scope, sel.from) : [];
      const t = refs.length === 1 ? catalogTables(st, refs[0]) : [];
      if (t.length === 1) for (const n of names) if (!findIn(src.tables.get(t[0])!, n)) changed = addPath(src.tables.get(t[0])!, [n]) || changed;
    }
    if (changed) return true;
  }
  if (pos !== undefined && (m = msg.match(/Column `?([A-Za-z_]\w*)`? in [A-Z ]+ has incompatible types: ([^\[]+?) \[at/))) {
    // A set operation by name (CORRESPONDING): the `SELECT * FROM t` inputs' column of that name takes the other type.
    const op = st.scope.setOps.filter((x) => x.start <= pos && pos < x.end).sort((a, b) => (a.end - a.start) - (b.end - b.start))[0];
    const given = splitTypes(m[2]).map((g) => g.replace(/^DOUBLE$/, 'FLOAT64'));
    let changed = false;
    for (const r of op?.inputs ?? []) {
      const sel = st.scope.selects.find((x) => x.start === r.start && x.end === r.end);
      const refs = sel?.star && sel.from ? tablesIn(st.scope, sel.from) : [];
      const t = refs.length === 1 ? catalogTables(st, refs[0]) : [];
      const f = t.length === 1 ? findIn(src.tables.get(t[0])!, m[1]) : undefined;
      const want = f && given.find((g) => g !== f.type && SCALAR.has(g));
      if (f && want && (st.retyped.get(f) ?? 0) < 6 && asField(f, want)) { st.retyped.set(f, (st.retyped.get(f) ?? 0) + 1); changed = true; }
    }
    if (changed) return true;
  }
  if (pos !== undefined && (m = msg.match(/Column (\d+) in [A-Z ]+ has incompatible types: ([^\[]+?) \[at/))) {
    // The inputs' Nth columns: those read from a column take the type of one computed by an expression (else the first's).
    const given = splitTypes(m[2]).map((g) => g.replace(/^DOUBLE$/, 'FLOAT64'));
    const op = st.scope.setOps.filter((x) => x.start <= pos && pos < x.end).sort((a, b) => (a.end - a.start) - (b.end - b.start))[0];
    const n = Number(m[1]) - 1;
    const fields = (op?.inputs ?? []).map((r) => {
      const sel = st.scope.selects.find((x) => x.start === r.start && x.end === r.end);
      if (sel?.star && sel.from) { // SELECT * FROM t: t's Nth column
        const refs = tablesIn(st.scope, sel.from);
        const t = refs.length === 1 ? catalogTables(st, refs[0]) : [];
        return t.length === 1 ? st.src.tables.get(t[0])![n] : undefined;
      }
      const it = sel?.items[n];
      return it?.path ? fieldOf(st, it.path, it.start) : undefined;
    });
    if (fields.length === given.length) {
      // A computed input's type wins; else one a signature already inferred (`SUM(x)` over the set
      // operation made x numeric), so two rules do not undo each other; else the first input's.
      const want = given.find((g, i) => !fields[i] && SCALAR.has(g))
        ?? given.find((g, i) => fields[i] && st.retyped.has(fields[i]!) && SCALAR.has(g)) ?? given[0];
      let changed = false;
      for (const [i, f] of fields.entries()) {
        if (!f || given[i] === want || (st.retyped.get(f) ?? 0) > 5) continue;
        if (asField(f, want)) { st.retyped.set(f, (st.retyped.get(f) ?? 0) + 1); changed = true; }
      }
      if (changed) return true;
    }
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
  if (pos !== undefined && (m = msg.match(/No matching signature for function EXTRACT for argument types: DATE_TIME_PART FROM (\w+)/))) {
    // EXTRACT(part FROM x) parses as its own node (not a function call): x becomes a TIMESTAMP,
    // which takes every date part (https://cloud.google.com/bigquery/docs/reference/standard-sql/timestamp_functions#extract).
    const x = callsAt(st.scope, pos).find((c) => c.kind === 'astExtractExpressionNode')?.operands[1];
    const f = x?.path ? fieldOf(st, x.path, x.start) : undefined;
    if (f && (st.retyped.get(f) ?? 0) < 6 && asField(f, 'TIMESTAMP')) { st.retyped.set(f, (st.retyped.get(f) ?? 0) + 1); return true; }
  }
  if ((m = msg.match(/No matching signature for (?:function )?(?:BQGATE:)?([\w.-]+) for argument types: (.*?)\. Supported signature: /))) {
    // A synthesized routine takes the argument types of its call site (not from truncated text).
    const r = routineNamed(st, m[1]);
    const given = splitTypes(m[2]);
    if (r && given.length === r.args.length && !given.some((g) => /\.\.\.|^TABLE</.test(g))) {
      let changed = false;
      for (const [i, a] of r.args.entries()) changed = setType(a, given[i]) || changed;
      if (changed) return true;
    }
  }
  if (pos !== undefined && (m = msg.match(/No matching signature for (?:aggregate )?function (ARRAY_CONCAT|COALESCE|IFNULL|GREATEST|LEAST|IF) for argument types: (.*?)\. Supported/))) {
    // Arguments of one type: a column takes the type of a non-column argument, spelled in full.
    const given = splitTypes(m[2]);
    const call = callsAt(st.scope, pos, m[1]).find((c) => c.kind === 'astFunctionCallNode' && eq(c.name ?? '', m![1]));
    const ops = (call?.operands ?? []).slice(0, given.length).map((o) => valueColumn(st, o));
    const from = eq(m[1], 'IF') ? 1 : 0; // IF(cond, a, b): a and b share a type
    const want = given.find((g, i) => i >= from && !ops[i] && !g.includes('...'));
    let changed = false;
    for (const [i, f] of ops.entries()) {
      if (!f || i < from || !want || given[i] === want || (st.retyped.get(f) ?? 0) > 5) continue;
      if (setType(f, want)) { st.retyped.set(f, (st.retyped.get(f) ?? 0) + 1); changed = true; }
    }
    if (changed) return true;
  }
  if (pos !== undefined && (m = msg.match(/^(?:.*: )?(\w+) is not supported by RANGE\(\)|No matching signature for function RANGE_CONTAINS for argument types: RANGE<(\w+)>, (\w+)\./))) {
    // RANGE(lower, upper) takes DATE, DATETIME or TIMESTAMP bounds; RANGE_CONTAINS(r, v) a v of r's
    // element type (https://cloud.google.com/bigquery/docs/reference/standard-sql/range-functions).
    const name = m[2] ? 'RANGE_CONTAINS' : 'RANGE';
    const call = callsAt(st.scope, pos, name).find((c) => c.kind === 'astFunctionCallNode' && eq(c.name ?? '', name));
    const want = m[2] ?? 'TIMESTAMP';
    let changed = false;
    for (const o of (call?.operands ?? []).slice(m[2] ? 1 : 0, 2)) {
      const f = o.path ? fieldOf(st, o.path, o.start) : undefined;
      if (f && (st.retyped.get(f) ?? 0) < 6 && asField(f, want)) { st.retyped.set(f, 9); changed = true; }
    }
    if (changed) return true;
  }
  if (pos !== undefined && (m = msg.match(/No matching signature for function (?:BIGQUERY:)?([\w.]+) for argument types: STRING\b.*?Supported signatures?: [\w.]+\(JSON\b/i))) {
    // `JSON_FLATTEN(JSON_QUERY(col, path))`: a JSON function's argument is a JSON_QUERY / JSON_EXTRACT
    // of a column, which returns JSON when the column is JSON (json_functions#json_query).
    const call = callsAt(st.scope, pos, m[1].split('.').pop()).find((c) => c.kind === 'astFunctionCallNode' && eq(c.name?.split('.').pop() ?? '', m![1].split('.').pop()!));
    const arg = call?.operands[0];
    const inner = arg && st.scope.calls.find((c) => c.kind === 'astFunctionCallNode' && c.start === arg.start && /^(JSON_QUERY|JSON_EXTRACT)$/i.test(c.name ?? ''));
    const col = inner?.operands[0]?.path ? fieldOf(st, inner.operands[0].path, inner.operands[0].start) : undefined;
    if (col && col.type !== 'JSON' && asField(col, 'JSON')) { st.retyped.set(col, 99); return true; }
  }
  if (pos !== undefined && (m = msg.match(/No matching signature for operator (OR|AND) for argument types/))) {
    // Every column operand of OR / AND is a BOOL.
    const call = callsAt(st.scope, pos).find((c) => c.kind === (m![1] === 'OR' ? 'astOrExprNode' : 'astAndExprNode'));
    let changed = false;
    for (const o of call?.operands ?? []) {
      const f = o.path ? fieldOf(st, o.path, o.start) : undefined;
      if (f && f.type !== 'BOOL' && (st.retyped.get(f) ?? 0) < 6 && asField(f, 'BOOL')) { st.retyped.set(f, 9); changed = true; }
    }
    if (changed) return true;
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
  if (pos !== undefined && /Array position in \[\] must be coercible to INT64 type, but has type STRING/.test(msg)) {
    // `x['key']`: a string subscript is JSON's (https://cloud.google.com/bigquery/docs/reference/standard-sql/operators#json_subscript_operator).
    const text = Buffer.from(sql, 'utf8').subarray(0, pos).toString('utf8').replace(/\[\s*$/, '');
    const lit = Buffer.from(sql, 'utf8').subarray(pos).toString('utf8').match(/^\[?\s*(['"])/);
    const chain = lit ? chainBefore(st, Buffer.byteLength(text, 'utf8')) : [];
    const f = chain.length ? fieldOf(st, chain, pos) : undefined;
    if (f && f.type !== 'JSON' && asField(f, 'JSON')) return true;
  }
  if (pos !== undefined && /Window framing expression for ROWS can only be of integer type/.test(msg)) {
    const param = Buffer.from(sql, 'utf8').subarray(pos).toString('utf8').match(/^@(\w+)/);
    const p = param && src.params.find((x) => eq(x.name ?? '', param[1]));
    if (p && p.parameterType.type !== 'INT64') { p.parameterType = { type: 'INT64' }; return true; }
  }
  if (pos !== undefined && /Array position in \[\] must be coercible to INT64|Window framing expression for ROWS can only be of integer type/.test(msg)) {
    const f = columnNear(st, pos, (x) => (st.retyped.get(x) ?? 0) < 8);
    if (f && asField(f, 'INT64')) { st.retyped.set(f, (st.retyped.get(f) ?? 0) + 1); return true; }
  }
  if (pos !== undefined && (m = msg.match(/Dot-star is not supported for type/))) {
    const r = routineCalledAt(st, pos); // `udf(x).*`: the routine returns a STRUCT
    if (r && r.returns.type !== 'RECORD') { r.returns = { ...r.returns, type: 'RECORD', fields: [field('c1')] }; return true; }
    // The value `.*` expands: the chain written just before the first `.*` after the error (`s.arr[0].field.*`).
    const rest = Buffer.from(sql, 'utf8').subarray(pos).toString('utf8').match(/^[^*]*?\.\s*\*/);
    const chain = rest ? chainBefore(st, pos + Buffer.byteLength(rest[0].replace(/\.\s*\*$/, ''), 'utf8')) : [];
    const p = pathAt(st.scope, pos);
    const f = (chain.length ? fieldOf(st, chain, pos) : undefined) ?? (p ? fieldOf(st, p.names, pos) : undefined);
    if (f && f.type !== 'RECORD') { f.type = 'RECORD'; f.fields = [field('c1')]; st.retyped.set(f, 9); return true; }
    if (f) return false;
  }
  if (pos !== undefined && /Could not cast literal "/.test(msg)) {
    // `col = 'text'` where col was retyped: the literal is text, so its partner is a STRING.
    const op = callsAt(st.scope, pos).find((c) => c.kind !== 'astFunctionCallNode' && c.operands.some((o) => o.start === pos));
    for (const o of op?.operands ?? []) {
      const f = o.start !== pos && o.path ? fieldOf(st, o.path, o.start) : undefined;
      if (f && asField(f, 'STRING')) { st.retyped.set(f, 99); return true; }
    }
  }
  if (pos !== undefined && (m = msg.match(/must be of type (\w+) but was of type|Could not cast literal .* to type|FORMAT is not allowed for cast from (\w+)|(?:MIN|MAX|[A-Z_]+) is not defined for arguments of type|Dot-star is not supported for type/))) {
    const f = columnNear(st, pos, (x) => (st.retyped.get(x) ?? 0) < 8);
    const want = m[1] ?? (/FORMAT/.test(m[0]) ? 'TIMESTAMP' : 'STRING');
    if (f && /Dot-star/.test(m[0])) { f.type = 'RECORD'; f.fields = [field('c1')]; f.mode = 'NULLABLE'; st.retyped.set(f, 9); return true; }
    if (f && asField(f, want)) { st.retyped.set(f, (st.retyped.get(f) ?? 0) + 1); return true; }
  }
  if (pos !== undefined && /The argument to ARRAY_CONCAT \(or ARRAY_CONCAT_AGG\) must be an array type/.test(msg)) {
    // Every column argument of the ARRAY_CONCAT at the error is an array (`(x).ARRAY_CONCAT(y)` too).
    const call = callsAt(st.scope, pos, 'ARRAY_CONCAT').find((c) => c.kind === 'astFunctionCallNode' && eq(c.name ?? '', 'ARRAY_CONCAT'));
    let changed = false;
    for (const o of call?.operands ?? []) {
      const f = o.path ? fieldOf(st, o.path, o.start) : undefined;
      if (f && f.mode !== 'REPEATED') { f.mode = 'REPEATED'; if (f.type === 'GEOGRAPHY' || f.type === 'JSON') f.type = 'STRING'; changed = true; }
    }
    if (changed) return true;
  }
  if (pos !== undefined && /Subscript access|for function ARRAY_|UNNEST|must be an array|must be arrays|ARRAY_LENGTH|ARRAY_TO_STRING|ARRAY_CONCAT/i.test(msg)) {
    // The error points into a subscript (`a.arr[0].b.parts[0]`, at the index): the value subscripted
    // is the chain written just before that `[` (subscripts of earlier arrays skipped).
    const open = Buffer.from(sql, 'utf8').subarray(0, pos).toString('utf8').match(/\[\s*$/);
    const chain = /Subscript/.test(msg) && open ? chainBefore(st, pos - Buffer.byteLength(open[0], 'utf8')) : [];
    const sub = chain.length > 1 ? fieldOf(st, chain, pos) : undefined;
    const p = pathAt(st.scope, pos) ?? (/Subscript/.test(msg) ? st.scope.paths.filter((x) => x.end <= pos && !x.inTableRef).sort((a, b) => b.end - a.end)[0] : undefined);
    const f = (sub?.mode !== 'REPEATED' ? sub : undefined) ?? (p && fieldOf(st, p.names, pos)) ?? columnNear(st, pos);
    if (f && f.mode !== 'REPEATED') { f.mode = 'REPEATED'; if (f.type === 'GEOGRAPHY' || f.type === 'JSON') f.type = 'STRING'; return true; }
  }
  if ((m = msg.match(/Value (?:has type|of type) (.+?) (?:which )?cannot be (?:inserted into|assigned to) (?:column )?`?(\w+)`?, which has type/))) {
    const f = (st.scope.dml && catalogTables(st, st.scope.dml).map((t) => findIn(src.tables.get(t)!, m![2])).find(Boolean)) ?? findField(src, m[2]);
    if (f && m[1].includes('...')) {
      // The message truncates long types: the column takes the type of the value, analyzed on its own.
      const v = pos !== undefined ? st.scope.values.find((x) => x.start === pos) : undefined;
      const t = v && st.typeOf ? await st.typeOf(Buffer.from(sql, 'utf8').subarray(v.start, v.end).toString('utf8')) : undefined;
      if (!t) return false;
      const made = named(typeToField(f.name, t));
      if (JSON.stringify(made) === JSON.stringify(f)) return false;
      Object.assign(f, made);
      if (!made.fields) delete f.fields;
      return true;
    }
    return !!f && setType(f, m[1]);
  }
  if ((m = msg.match(/Column name `?(\w+)`? not found in `?([^\s`]+)`?/))) {
    const t = tables.find((x) => eq(x.split('.').pop()!, m![2])) ?? tables[0];
    return !!t && addPath(src.tables.get(t)!, [m[1]]);
  }
  if (/Positional parameters are not supported/.test(msg) && !src.params.length) {
    // `?` parameters (parameterMode POSITIONAL): one unnamed STRING parameter per `?` token.
    const n = tokenize(sql).filter((t) => t.text === '?').length;
    for (let i = 0; i < n; i++) src.params.push({ parameterType: { type: 'STRING' } });
    return n > 0;
  }
  if ((m = msg.match(/Query parameter '?([A-Za-z_][A-Za-z0-9_]*)'? not found/))) {
    if (src.params.some((p) => p.name === m![1])) return false;
    src.params.push({ name: m[1], parameterType: { type: 'STRING' } });
    return true;
  }
  if ((m = msg.match(/Column name `?([A-Za-z_][A-Za-z0-9_]*)`? is ambiguous/))) {
    // Kept where the statement spells it qualified (`alias.col`), else in the first table that has it.
    const qualified = new Set(st.scope.paths.filter((p) => p.names.length >= 2 && eq(p.names[1], m![1]))
      .flatMap((p) => { const ref = aliased(st, p.names[0], p.start); return ref ? catalogTables(st, ref) : []; }));
    const owners = tables.filter((t) => findIn(src.tables.get(t)!, m![1]));
    const keep = owners.find((t) => qualified.has(t)) ?? owners[0];
    let kept = false;
    for (const t of [keep, ...tables.filter((x) => x !== keep)].filter(Boolean)) {
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
    // `UNNEST(JSON_QUERY_ARRAY(x.y)) AS item` then `item.f`: x.y is JSON, whose array elements are JSON
    // (https://cloud.google.com/bigquery/docs/reference/standard-sql/json_functions#json_query_array).
    const u = chain.length === 1 ? unnestNamed(st, chain[0], pos) : undefined;
    if (u?.call?.arg && /^(JSON_QUERY_ARRAY|JSON_EXTRACT_ARRAY)$/i.test(u.call.name)) {
      const j = fieldOf(st, u.call.arg, u.call.argStart);
      return !!j && j.type !== 'JSON' && asField(j, 'JSON');
    }
    const f = (chain.length ? fieldOf(st, chain, pos) : undefined) ?? (p && k > 0 ? undefined : columnNear(st, pos));
    if (!f) return false;
    if (m[2]) f.mode = 'REPEATED'; // field access on an array: an array of structs
    if (f.type !== 'RECORD') { f.type = 'RECORD'; f.fields = []; }
    return addPath(f.fields!, p && k > 0 ? p.names.slice(k) : [m[1]]);
  }
  if (pos !== undefined && (m = msg.match(/Invalid cast from \w+ to ((?:ARRAY|STRUCT)<.*>) \[at/)) && !m[1].includes('...')) {
    // CAST(col AS STRUCT<…>): a STRUCT column casts to a STRUCT type; the column takes the target type.
    const f = columnNear(st, pos, (x) => (st.retyped.get(x) ?? 0) < 3);
    if (f && setType(f, m[1])) { st.retyped.set(f, (st.retyped.get(f) ?? 0) + 1); return true; }
  }
  if (pos !== undefined && (m = msg.match(/Struct field \d+ has type \w+ which does not coerce to (\w+)/))) {
    const f = columnNear(st, pos, (x) => (st.retyped.get(x) ?? 0) < 6);
    if (f && asField(f, m[1])) { st.retyped.set(f, (st.retyped.get(f) ?? 0) + 1); return true; }
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
