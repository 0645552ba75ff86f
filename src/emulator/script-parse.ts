/**
 * Reading a script for the emulator: ZetaSQL's own parser (`parse` with `allowScript`, the
 * `remote_server` of @fivetrandevelopers/zetasql that src/sql/ also runs), so statements, strings,
 * comments and nested BEGIN…END blocks are split exactly as BigQuery's GoogleSQL grammar does.
 *
 * The emulator starts its own analyzer process the first time a job looks like a script
 * (`mayBeScript`) and stops it when the emulator closes; single statements never wait for it.
 *
 * `parseScript(sql)` → the parsed script (`ASTScript` as protobuf JSON) when `sql` is a script
 * (several statements, or one script statement: DECLARE, SET, IF, LOOP, BEGIN, CALL, …), undefined
 * when it is one plain SQL statement. Throws BigQueryError('invalidQuery') with ZetaSQL's syntax
 * error. Node helpers: `flat` (a node with its base-class `parent` chain merged), `unwrap` (the node
 * inside an Any-style wrapper), `span` (its UTF-8 byte range).
 */
import { BigQueryError } from '../bigquery/errors.js';
import { ZetaSqlServer, allStatementKinds } from '../sql/zetasql.js';
import { bigQueryLanguageOptions } from '../sql/features.js';
import { statementStart } from './ddl.js';

/** Statement keywords that only a script has (https://cloud.google.com/bigquery/docs/reference/standard-sql/procedural-language). */
const SCRIPT_START = /^(DECLARE|SET|IF|BEGIN|LOOP|WHILE|REPEAT|FOR|CALL|RAISE|RETURN|BREAK|LEAVE|CONTINUE|ITERATE|EXECUTE|CASE|COMMIT|ROLLBACK|[A-Za-z_]\w*\s*:)\b/i;

/**
 * Whether `sql` may be a script and is worth parsing: it starts with a script keyword (or a label),
 * or has a `;` before its end. Only a pre-filter: the parser decides (a `;` inside a string parses as one statement).
 */
export function mayBeScript(sql: string): boolean {
  const text = statementStart(sql);
  return SCRIPT_START.test(text) || /;\s*\S/.test(text);
}

/** A node with the fields of its base classes (the nested `parent` objects) merged in. */
export function flat(n: any): any {
  if (!n || typeof n !== 'object') return n;
  let out: any = {};
  for (let o = n; o && typeof o === 'object'; o = o.parent) out = { ...o, ...out };
  delete out.parent;
  return out;
}

/** `[kind, node]` of a wrapper `{astXNode: {...}}` (followed down through nested wrappers), or of a bare node `[undefined, node]`. */
export function unwrap(w: any): [string | undefined, any] {
  let kind: string | undefined;
  let n = w;
  for (let depth = 0; depth < 8 && n && typeof n === 'object'; depth++) {
    const k = Object.keys(n).find((x) => x.startsWith('ast'));
    if (!k) break;
    kind = k;
    n = n[k];
  }
  return [kind, n];
}

/** The UTF-8 byte range of a node (its own or its nearest base class's location). */
export function span(n: any): [number, number] | undefined {
  const [, node] = unwrap(n);
  for (let o = node, d = 0; o && typeof o === 'object' && d < 8; o = o.parent, d++) {
    const r = o.parseLocationRange;
    if (r) return [Number(r.start), Number(r.end)];
  }
  return undefined;
}

/** Script statement kinds: nodes that are control flow, not SQL statements. */
export const CONTROL_KINDS = new Set([
  'astVariableDeclarationNode', 'astSingleAssignmentNode', 'astAssignmentFromStructNode', 'astIfStatementNode', 'astBeginEndBlockNode',
  'astWhileStatementNode', 'astRepeatStatementNode', 'astForInStatementNode', 'astBreakStatementNode', 'astContinueStatementNode',
  'astReturnStatementNode', 'astRaiseStatementNode', 'astBeginStatementNode', 'astCommitStatementNode', 'astRollbackStatementNode',
  'astCallStatementNode', 'astCaseStatementNode', 'astExecuteImmediateStatementNode', 'astSystemVariableAssignmentNode',
]);

/** The emulator's ZetaSQL parser: one analyzer process, started on first use. */
export class ScriptParser {
  private server?: ZetaSqlServer;
  private starting?: Promise<{ server: ZetaSqlServer; options: unknown }>;

  private ready(): Promise<{ server: ZetaSqlServer; options: unknown }> {
    this.starting ??= (async () => {
      const server = new ZetaSqlServer();
      this.server = server;
      await server.start();
      const max = await server.call('getLanguageOptions', { maximumFeatures: true });
      return { server, options: bigQueryLanguageOptions(max, allStatementKinds()) };
    })();
    this.starting.catch(() => { this.starting = undefined; });
    return this.starting;
  }

  /** `sql` parsed as a script (even when it is one plain statement). Throws BigQueryError('invalidQuery') with ZetaSQL's syntax error. */
  async parse(sql: string): Promise<any> {
    const { server, options } = await this.ready();
    try {
      return (await server.call('parse', { sqlStatement: sql, options, allowScript: true })).parsedScript;
    } catch (err) {
      if (err instanceof BigQueryError) throw err;
      const details = String((err as { details?: string }).details ?? (err as Error).message);
      throw new BigQueryError('invalidQuery', details, { location: 'query' });
    }
  }

  /** The parsed script, or undefined when `sql` is one plain SQL statement (see the module comment). */
  async parseScript(sql: string): Promise<any | undefined> {
    const parsed = await this.parse(sql);
    const list: any[] = flat(parsed?.statementListNode)?.statementList ?? [];
    if (list.length !== 1) return parsed;
    const [kind] = unwrap(list[0]);
    return kind && CONTROL_KINDS.has(kind) ? parsed : undefined;
  }

  /** Stops the analyzer process, if it was started. */
  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    this.starting = undefined;
    await s?.stop();
  }
}
