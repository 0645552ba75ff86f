/**
 * EXECUTE IMMEDIATE through the gateway
 * (https://cloud.google.com/bigquery/docs/reference/standard-sql/procedural-language#execute_immediate).
 * The gateway must analyze what runs, so it only lets through a statement it can read before it runs:
 * `EXECUTE IMMEDIATE '<one SQL statement>' [INTO v, …] [USING expr [AS name], …]` with the SQL as a
 * string literal. That statement is written into the script in place of the EXECUTE IMMEDIATE (its
 * `?` / `@name` parameters replaced by the USING expressions, parenthesized; INTO one variable as
 * `SET v = (query)`, INTO several as `SET (a, b) = (SELECT _row FROM (query) AS _row)`, the row as a STRUCT), so the
 * analysis, the policy, the rewrite and the upstream all see the same text. Anything computed at run
 * time (CONCAT, `||`, a variable, a subquery) is refused: the gateway cannot know what it would run.
 */
import { BigQueryError } from '../bigquery/errors.js';
import { rangeDeep, isScriptControl } from './script.js';

/** Parses a script (ZetaSQL Parse with allow_script) → its `parsedScript`; throws on a syntax error. */
export type ScriptParse = (sql: string) => Promise<any>;

type Replacement = [number, number, string];

const computed = () => new BigQueryError('accessDenied',
  'Access Denied: EXECUTE IMMEDIATE runs SQL computed at run time, which bqgate cannot analyze before it runs, so the script was not run. '
  + 'Write the statement as a string literal (EXECUTE IMMEDIATE \'SELECT …\'), or run it directly.');
const invalid = (why: string) => new BigQueryError('invalidQuery', `EXECUTE IMMEDIATE: ${why}; the script was not run.`, { location: 'q' });

/** Every node under `o` whose wrapper key is `key` (depth-first, in text order). */
function findAll(o: any, key: string, out: any[] = []): any[] {
  if (!o || typeof o !== 'object') return out;
  if (Array.isArray(o)) { for (const x of o) findAll(x, key, out); return out; }
  for (const [k, v] of Object.entries(o)) {
    if (k === key) out.push(v);
    else if (k !== 'parseLocationRange') findAll(v, key, out);
  }
  return out;
}

/** The string literal's value, or undefined when the expression is anything else. */
function literal(sqlNode: any): string | undefined {
  const lit = findAll(sqlNode, 'astStringLiteralNode');
  const top = sqlNode?.astLeafNode?.astStringLiteralNode ?? sqlNode?.astStringLiteralNode;
  return lit.length === 1 && top ? String(top.stringValue ?? '') : undefined;
}

/** Applies byte-range replacements (sorted, not overlapping) to `text`. */
function splice(text: string, reps: Replacement[]): string {
  const bytes = Buffer.from(text, 'utf8');
  let out = '';
  let at = 0;
  for (const [s, e, t] of [...reps].sort((a, b) => a[0] - b[0])) { out += bytes.subarray(at, s).toString('utf8') + t; at = e; }
  return out + bytes.subarray(at).toString('utf8');
}

/** The inner statement's text with its query parameters replaced by the USING expressions' texts. */
function bindUsing(inner: string, innerTree: any, using: Array<{ text: string; name?: string }>): string {
  const reps: Replacement[] = [];
  let positional = 0;
  for (const p of findAll(innerTree, 'astParameterExprNode')) {
    const r = rangeDeep(p)!;
    const name = p.name?.idString ?? p.parent?.name?.idString;
    const arg = name !== undefined ? using.find((u) => u.name?.toLowerCase() === String(name).toLowerCase()) : using.filter((u) => !u.name)[positional++];
    if (!arg) throw invalid(`the statement's parameter ${name !== undefined ? `@${name}` : `? number ${positional}`} has no USING argument`);
    reps.push([r[0], r[1], `(${arg.text})`]);
  }
  return splice(inner, reps);
}

/** One EXECUTE IMMEDIATE node → the text that replaces it. */
async function inlineOne(node: any, bytes: Buffer, parse: ScriptParse): Promise<string> {
  const inner = literal(node.sql);
  if (inner === undefined) throw computed();
  const tree = await parse(inner).catch((err) => { throw invalid(`its string is not valid GoogleSQL (${(err as Error).message.slice(0, 200)})`); });
  const list: any[] = tree?.statementListNode?.statementList ?? [];
  if (list.length !== 1) throw invalid(`its string must hold exactly one SQL statement, not ${list.length}`);
  const key = Object.keys(list[0]).find((k) => k.startsWith('ast'))!;
  if (isScriptControl(key)) throw invalid('its string must be a SQL statement, not a script statement');
  const r = rangeDeep(list[0])!;
  const text = (x: any) => { const rr = rangeDeep(x)!; return bytes.subarray(rr[0], rr[1]).toString('utf8'); };
  const using = (node.usingClause?.arguments ?? []).map((a: any) => ({ text: text(a.expression), name: a.alias?.identifier?.idString }));
  const stmt = bindUsing(Buffer.from(inner, 'utf8').subarray(r[0], r[1]).toString('utf8'), list[0], using);
  const into: string[] = (node.intoClause?.identifiers?.identifierList ?? []).map((i: any) => `\`${String(i.idString)}\``);
  if (!into.length) return stmt;
  if (key !== 'astQueryStatementNode') throw invalid('INTO needs a query');
  return into.length === 1 ? `SET ${into[0]} = (\n${stmt}\n)` : `SET (${into.join(', ')}) = (SELECT _row FROM (\n${stmt}\n) AS _row)`;
}

/**
 * `sql` with every EXECUTE IMMEDIATE of `parsedScript` replaced by the statement its literal holds
 * (see the module comment), or undefined when it has none. Throws BigQueryError: accessDenied for
 * SQL computed at run time; invalidQuery when the literal is not one SQL statement, or a parameter
 * has no USING argument.
 */
export async function inlineExecuteImmediate(parsedScript: any, sql: string, parse: ScriptParse): Promise<string | undefined> {
  const nodes = findAll(parsedScript, 'astExecuteImmediateStatementNode');
  if (!nodes.length) return undefined;
  const bytes = Buffer.from(sql, 'utf8');
  const reps: Replacement[] = [];
  for (const n of nodes) {
    const r = rangeDeep(n)!;
    reps.push([r[0], r[1], await inlineOne(n, bytes, parse)]);
  }
  return splice(sql, reps);
}
