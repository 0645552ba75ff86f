/**
 * A persistent routine as `routines.get` would return it once the document's `CREATE [AGGREGATE |
 * TABLE] FUNCTION ds.f …` / `CREATE PROCEDURE ds.p …` ran (REST reference, Routine:
 * https://cloud.google.com/bigquery/docs/reference/rest/v2/routines#Routine), read from that
 * statement's parse: arguments (name, mode, type; ANY TYPE as ANY_TYPE), return type, RETURNS
 * TABLE columns, language, remote connection and the body text. Undefined when a type cannot be
 * declared (the synthesizer then shapes the routine from its call site, source.ts).
 */
import type { RoutineInfo } from '../../src/sql/index.js';
import { standardType } from './source.js';
import { typedField } from './resolve.js';

const range = (o: any): [number, number] | undefined => {
  for (let p = o, d = 0; p && typeof p === 'object' && d < 8; p = p.parent, d++) if (p.parseLocationRange) return [Number(p.parseLocationRange.start ?? 0), Number(p.parseLocationRange.end ?? 0)];
  return undefined;
};
/** The located node under a oneof wrapper (`{astSimpleTypeNode: {parent, …}}`). */
const located = (w: any): any => {
  for (let o = w, d = 0; o && typeof o === 'object' && d < 6; d++) {
    if (range(o)) return o;
    const k = Object.keys(o).find((x) => x.startsWith('ast'));
    o = k ? o[k] : undefined;
  }
  return undefined;
};
/** The first node under `o` with key `key` (depth-first, `parent` links excluded). */
function find(o: any, key: string, depth = 0): any {
  if (!o || typeof o !== 'object' || depth > 6) return undefined;
  if (o[key]) return o[key];
  for (const [k, v] of Object.entries(o)) { if (k === 'parent') continue; const hit = find(v, key, depth + 1); if (hit) return hit; }
  return undefined;
}

/** The columns of `a INT64, b STRUCT<x STRING>, …` (a TABLE<…> parameter's), or undefined when a type cannot be read. */
function tableColumns(list: string): Array<{ name: string; type: ReturnType<typeof standardType> }> | undefined {
  const parts: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of `${list},`) {
    if (ch === '<' || ch === '(') depth++;
    if (ch === '>' || ch === ')') depth--;
    if (ch === ',' && depth === 0) { parts.push(cur.trim()); cur = ''; } else cur += ch;
  }
  const out = [];
  for (const part of parts) {
    const m = part.match(/^(`[^`]+`|[A-Za-z_]\w*)\s+([\s\S]+)$/);
    const f = m ? typedField(m[1].replace(/`/g, ''), m[2]) : undefined;
    if (!f) return undefined;
    out.push({ name: f.name, type: standardType(f) });
  }
  return out;
}

/** `tree`: the definition's parse (`parsedStatement`); `sql`: its text; `fullName`: the name the caller resolved. */
export function routineFromDefinition(tree: any, sql: string, fullName: string): RoutineInfo | undefined {
  const bytes = Buffer.from(sql, 'utf8');
  const text = (n: any) => { const r = range(located(n)); return r ? bytes.subarray(r[0], r[1]).toString('utf8') : undefined; };
  const ddl = tree?.astDdlStatementNode?.astCreateStatementNode;
  const proc = ddl?.astCreateProcedureStatementNode;
  const fn = ddl?.astCreateFunctionStmtBaseNode?.astCreateFunctionStatementNode;
  const tvf = ddl?.astCreateFunctionStmtBaseNode?.astCreateTableFunctionStatementNode;
  const node = proc ?? fn ?? tvf;
  if (!node) return undefined;
  const base = proc ?? node.parent; // functions keep their declaration on the base node
  const entries: any[] = (proc ? proc.parameters : base?.functionDeclaration?.parameters)?.parameterEntries ?? [];
  const args: RoutineInfo['arguments'] = [];
  for (const e of entries) {
    const name = String(e.name?.idString ?? '');
    const mode = e.procedureParameterMode && e.procedureParameterMode !== 'NOT_SET' ? e.procedureParameterMode as 'IN' | 'OUT' | 'INOUT' : undefined;
    if (e.templatedParameterType) { args.push({ name, argumentKind: 'ANY_TYPE', ...(mode ? { mode } : {}) }); continue; }
    const t = e.type ? text(e.type) : e.tvfSchema ? text(e.tvfSchema) : undefined;
    const table = t?.match(/^TABLE\s*<([\s\S]*)>$/i);
    if (table) {
      // A table parameter (`orders TABLE<item STRING, sales INT64>`): argumentKind FIXED_TABLE with its columns.
      const columns = tableColumns(table[1]);
      if (!columns) return undefined;
      args.push({ name, argumentKind: 'FIXED_TABLE', tableType: { columns } });
      continue;
    }
    const f = t ? typedField(name, t) : undefined;
    if (!f) return undefined;
    args.push({ name, argumentKind: 'FIXED_TYPE', ...(mode ? { mode } : {}), dataType: standardType(f), ...(e.isNotAggregate ? { isAggregate: false } : {}) });
  }
  const language = String(find(base, 'language')?.idString ?? 'SQL').toUpperCase();
  const remote = sql.match(/\bREMOTE\s+WITH\s+CONNECTION\s+(`[^`]+`|[\w.-]+)/i);
  const endpoint = sql.match(/\bendpoint\s*=\s*["']([^"']+)["']/i)?.[1];
  const common = { fullName, language: (language === 'JS' ? 'JAVASCRIPT' : language) as RoutineInfo['language'], arguments: args, ...(remote ? { remoteFunctionOptions: { connection: remote[1].replace(/`/g, ''), ...(endpoint ? { endpoint } : {}) } } : {}) };
  if (proc) return { ...common, routineType: 'PROCEDURE', definitionBody: text(proc.body) ?? '' };
  if (tvf) {
    const columns = [];
    for (const c of tvf.returnTvfSchema?.columns ?? []) {
      const f = typedField(String(c.name?.idString ?? ''), text(c.type) ?? '');
      if (!f) return undefined;
      columns.push({ name: f.name, type: standardType(f) });
    }
    return { ...common, routineType: 'TABLE_VALUED_FUNCTION', definitionBody: text(tvf.query) ?? '', ...(columns.length ? { returnTableType: { columns } } : {}) };
  }
  const ret = fn.returnType ? typedField('', text(fn.returnType) ?? '') : undefined;
  if (fn.returnType && !ret) return undefined;
  const body = fn.sqlFunctionBody ? text(fn.sqlFunctionBody) : undefined;
  return {
    ...common, routineType: fn.isAggregate ? 'AGGREGATE_FUNCTION' : 'SCALAR_FUNCTION',
    ...(ret ? { returnType: standardType(ret) } : {}),
    definitionBody: body ?? text(find(base, 'code')) ?? '',
  };
}
