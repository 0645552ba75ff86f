/**
 * Scripts in the emulator, run statement by statement as BigQuery runs them
 * (https://cloud.google.com/bigquery/docs/reference/standard-sql/procedural-language,
 * https://cloud.google.com/bigquery/docs/multi-statement-queries): the script parsed by ZetaSQL
 * (script-parse.ts) and walked here.
 *
 * Supported: DECLARE (with a type, a DEFAULT, or both), SET x = …, SET (a, b) = (…), IF / ELSEIF /
 * ELSE, LOOP, WHILE, REPEAT … UNTIL, FOR … IN (query) DO, BREAK / LEAVE and CONTINUE / ITERATE (with
 * labels), BEGIN … [EXCEPTION WHEN ERROR THEN …] END (`@@error.message`, `@@error.statement_text`,
 * `@@error.formatted_stack_trace`; a plain RAISE in a handler raises the error again), RAISE USING
 * MESSAGE, RETURN, temp tables (CREATE TEMP TABLE; read as `t` or `_SESSION.t`; they live in a
 * hidden dataset `_script_<job>` the host makes and drops), BEGIN TRANSACTION / COMMIT / ROLLBACK (ROLLBACK
 * really undoes the transaction's DML), CALL of a SQL procedure of the
 * emulator's routine store (IN arguments, and OUT / INOUT arguments given as variables),
 * `@@row_count`, `@@project_id`, `@@dataset_id`, `@@current_job_id`, `@@last_job_id`, `@@script.job_id`,
 * `@@script.num_child_jobs`, `@@script.bytes_processed`, `@@script.bytes_billed`, `@@script.creation_time`, `@@time_zone`
 * (https://cloud.google.com/bigquery/docs/reference/system-variables).
 *
 * Variables are never pasted into SQL: each reference (an expression path whose first name is a
 * variable) becomes a query parameter `@_svN` bound to the value (script-values.ts). A column with
 * the variable's name does not shadow it here (BigQuery resolves the column first).
 *
 * Temp functions with a SQL expression body are expanded inline at each call (tempFunction).
 *
 * CASE [expr] WHEN … END CASE; EXECUTE IMMEDIATE sql [INTO …] [USING …]; SET @@time_zone (UTC);
 * BEGIN TRANSACTION / COMMIT / ROLLBACK on one DuckDB transaction (script-job.ts, transaction.ts).
 *
 * Refused as notImplemented, naming the construct: JavaScript temp functions, SET of
 * another system variable or @@time_zone to another zone, and a procedure whose language is not SQL. Every statement of the script (SELECT, DML, DDL; a FOR…IN query) runs
 * through `host.run`, which makes it a child job and applies the engine's checks (guard.ts).
 */
import { BigQueryError } from '../bigquery/errors.js';
import type { QueryParameter } from './params.js';
import type { RunResult } from './engine.js';
import { flat, unwrap, span, CONTROL_KINDS } from './script-parse.js';
import { fromResult, rowStruct, structFields, stringValue, intValue, isTrue, typeText, type ScriptValue } from './script-values.js';

/** Where a child statement is in its script (BigQuery's `scriptStatistics.stackFrames[]`, lines and columns 1-based). */
export interface StackFrame { startLine: number; startColumn: number; endLine: number; endColumn: number; text: string; procedureId?: string }

/** What the script needs of the job that runs it. */
export interface ScriptHost {
  /**
   * Runs one GoogleSQL statement with `params` (the variables it uses, and the job's own named
   * parameters); `frame`: it is a statement of the script (a child job), else an expression evaluation.
   * `temps`: temp table name (lower case) → its `p.d.t`.
   */
  run(sql: string, params: QueryParameter[], temps: ReadonlyMap<string, string>, frame?: StackFrame): Promise<RunResult>;
  /** The hidden dataset for temp tables, made on first use. */
  tempDataset(): Promise<{ projectId: string; datasetId: string }>;
  /** A procedure by its path as written (`d.p`, `p.d.p`): arguments and body; undefined when absent. */
  procedure(path: string[]): { id: string; language?: string; arguments?: Array<{ name: string; mode?: string; dataType?: { typeKind?: string } }>; definitionBody: string } | undefined;
  /** The parsed script of a procedure body. */
  parse(sql: string): Promise<any>;
  /** The job's named query parameters (positional ones cannot be mixed with script variables). */
  parameters: QueryParameter[];
  /** `@@project_id`, `@@script.job_id`, … */
  system: Record<string, ScriptValue>;
  /**
   * BEGIN TRANSACTION, COMMIT TRANSACTION, ROLLBACK TRANSACTION (https://cloud.google.com/bigquery/docs/transactions):
   * statements between BEGIN and its end run on one DuckDB transaction. Throws invalidQuery for a
   * nested BEGIN, or a COMMIT / ROLLBACK without a transaction.
   */
  transaction(op: 'BEGIN' | 'COMMIT' | 'ROLLBACK'): Promise<void>;
  signal?: AbortSignal;
}

/** What a script did: the last SELECT's result, and the sums of its statements. */
export interface ScriptOutcome { last?: RunResult; children: number; totalBytesProcessed: number; totalBytesBilled: number }

class Jump { constructor(readonly kind: 'break' | 'continue' | 'return', readonly label?: string) {} }

interface Source { bytes: Buffer; procedureId?: string }
interface TempFunction { name: string; params: Array<{ name: string; type?: string }>; returns?: string; body: any; src: Source }
interface Failure { message: string; statementText: string; frame?: StackFrame; error: BigQueryError }

const notImplemented = (what: string) => new BigQueryError('notImplemented', `The emulator does not run ${what} in scripts yet.`);
const labelOf = (n: any): string | undefined => { const l = flat(flat(n)?.label); const name = flat(l?.name)?.idString; return name ? String(name).toLowerCase() : undefined; };
const statements = (list: any): any[] => flat(list)?.statementList ?? [];

/** Runs a parsed script (script-parse.ts) of `sql` through `host`. Throws the first uncaught error as BigQuery would fail the script. */
export async function runScript(parsed: any, sql: string, host: ScriptHost): Promise<ScriptOutcome> {
  const s = new Interpreter(host);
  try {
    await s.list(statements(flat(parsed).statementListNode), { bytes: Buffer.from(sql, 'utf8') });
  } catch (err) {
    if (!(err instanceof Jump)) throw err;
    if (err.kind !== 'return') throw new BigQueryError('invalidQuery', `${err.kind.toUpperCase()} outside a loop${err.label ? ` labelled ${err.label}` : ''}.`, { location: 'query' });
  }
  return s.outcome;
}

class Interpreter {
  private scopes: Array<Map<string, ScriptValue>> = [new Map()];
  private temps = new Map<string, string>();
  /** Temp functions (SQL expression bodies), by lower-case name: expanded inline at each call. */
  private functions = new Map<string, TempFunction>();
  private failures: Failure[] = [];
  private rowCount: number | null = null;
  private timeZone = 'UTC';
  readonly outcome: ScriptOutcome = { children: 0, totalBytesProcessed: 0, totalBytesBilled: 0 };

  constructor(private readonly host: ScriptHost) {}

  private lookup(name: string): ScriptValue | undefined {
    for (let i = this.scopes.length - 1; i >= 0; i--) { const v = this.scopes[i].get(name); if (v) return v; }
    return undefined;
  }

  private assign(name: string, v: ScriptValue) {
    for (let i = this.scopes.length - 1; i >= 0; i--) if (this.scopes[i].has(name)) { this.scopes[i].set(name, v); return; }
    throw new BigQueryError('invalidQuery', `Undeclared variable: ${name}`, { location: 'query' });
  }

  private system(name: string): ScriptValue {
    const failure = this.failures.at(-1);
    switch (name) {
      case 'error.message': return stringValue(failure?.message ?? null);
      case 'error.statement_text': return stringValue(failure?.statementText ?? null);
      case 'error.formatted_stack_trace': return stringValue(failure ? `At ${failure.frame ? `${failure.frame.startLine}:${failure.frame.startColumn}` : '?'}` : null);
      case 'row_count': return intValue(this.rowCount);
      case 'script.num_child_jobs': return intValue(this.outcome.children);
      case 'script.bytes_processed': return intValue(this.outcome.totalBytesProcessed);
      case 'script.bytes_billed': return intValue(this.outcome.totalBytesBilled);
      case 'time_zone': return stringValue(this.timeZone);
      default: {
        const v = this.host.system[name];
        if (!v) throw new BigQueryError('invalidQuery', `The emulator does not provide the system variable @@${name}.`, { location: 'query' });
        return v;
      }
    }
  }

  /** A node's GoogleSQL text with variable, system variable, temp table and temp function references replaced; the parameters it then needs. */
  private text(node: any, src: Source, extra: Array<[number, number, string]> = [], params: QueryParameter[] = []): { sql: string; params: QueryParameter[] } {
    const sql = this.render(node, src, extra, params);
    const own = this.host.parameters;
    if (params.length && own.some((p) => !p.name)) throw new BigQueryError('invalidQuery', 'The emulator cannot mix positional query parameters with script variables; use named parameters.', { location: 'query' });
    return { sql, params: [...own, ...params] };
  }

  /**
   * The text of `node` in `src` with its references replaced (`extra`: replacements of the caller's,
   * which win over any inside them). Inside a temp function's body, `args` maps its parameters to
   * the call's argument texts and script variables are not in scope.
   */
  private render(node: any, src: Source, extra: Array<[number, number, string]>, params: QueryParameter[], args?: Map<string, string>, depth = 0): string {
    if (depth > 16) throw new BigQueryError('invalidQuery', 'Temp functions nest deeper than 16 calls (or call themselves); the emulator stops expanding them.', { location: 'query' });
    const [start, end] = span(node)!;
    const reps: Array<[number, number, string]> = [...extra];
    const param = (v: ScriptValue, prefix: string) => {
      const name = `${prefix}${params.length}`;
      params.push({ name, parameterType: v.type, parameterValue: v.value });
      return `@${name}`;
    };
    const value = (name: string): string | undefined => {
      if (args) return args.get(name);
      const v = this.lookup(name);
      return v && param(v, '_sv');
    };
    const tempPath = (n: any): string | undefined => {
      const names: string[] = (flat(n).names ?? []).map((x: any) => String(flat(x).idString).toLowerCase());
      if (names.length === 1) return this.temps.get(names[0]);
      if (names.length === 2 && names[0] === '_session') return this.temps.get(names[1]);
      return undefined;
    };
    const visit = (o: any, key: string): void => {
      if (!o || typeof o !== 'object') return;
      if (Array.isArray(o)) { for (const x of o) visit(x, key); return; }
      // A bare variable as a select column is named after the variable, as BigQuery names it.
      const bare = !args && key === 'columns' && o.expression && !flat(o).alias ? flat(o.expression.astGeneralizedPathExpressionNode?.astPathExpressionNode)?.names : undefined;
      const aliasOf = bare?.length === 1 && this.lookup(String(flat(bare[0]).idString).toLowerCase()) ? ` AS \`${String(flat(bare[0]).idString)}\`` : '';
      const path = o.astGeneralizedPathExpressionNode?.astPathExpressionNode;
      if (path) {
        const first = flat(path).names?.[0];
        const text = first && value(String(flat(first).idString).toLowerCase());
        if (text) { const r = span(first)!; reps.push([r[0], r[1], text]); }
        if (text || (flat(path).names ?? []).length) return;
      }
      const call = o.astFunctionCallNode && flat(o.astFunctionCallNode);
      const fnNames = call && flat(call.function)?.names;
      const fn = fnNames?.length === 1 ? this.functions.get(String(flat(fnNames[0]).idString).toLowerCase()) : undefined;
      if (fn) {
        const given: any[] = call.arguments ?? [];
        if (given.length !== fn.params.length) throw new BigQueryError('invalidQuery', `Function ${fn.name} takes ${fn.params.length} arguments, but ${given.length} were given.`, { location: 'query' });
        const bound = new Map(fn.params.map((p, i) => {
          const arg = `(${this.render(given[i], src, [], params, args, depth)})`;
          return [p.name, p.type ? `CAST(${arg} AS ${p.type})` : arg] as [string, string];
        }));
        const body = `(${this.render(fn.body, fn.src, [], params, bound, depth + 1)})`;
        const r = span(o.astFunctionCallNode)!;
        reps.push([r[0], r[1], fn.returns ? `CAST(${body} AS ${fn.returns})` : body]);
        return;
      }
      if (o.astSystemVariableExprNode && !args) {
        const n = flat(o.astSystemVariableExprNode);
        const name = (flat(n.path).names ?? []).map((x: any) => String(flat(x).idString).toLowerCase()).join('.');
        const r = span(o.astSystemVariableExprNode)!;
        reps.push([r[0], r[1], param(this.system(name), '_sys')]);
        return;
      }
      if (key === 'pathExpr' || key === 'targetPath' || key === 'name') {
        const [, n] = unwrap(o);
        const real = Array.isArray(flat(n)?.names) ? tempPath(n) : undefined;
        if (real) { const r = span(n)!; reps.push([r[0], r[1], `\`${real}\``]); return; }
      }
      for (const [k, v] of Object.entries(o)) if (k !== 'parseLocationRange') visit(v, k);
      if (aliasOf) { const r = span(o.expression)!; reps.push([r[1], r[1], aliasOf]); }
    };
    visit(node, '');
    const kept = reps.filter((r, i) => i < extra.length || !extra.some((e) => r[0] >= e[0] && r[1] <= e[1])).sort((a, b) => a[0] - b[0]);
    let sql = '';
    let at = start;
    for (const [s, e, t] of kept) {
      if (s < at || e > end) throw new BigQueryError('internalError', 'The emulator could not place a script variable in its statement.');
      sql += src.bytes.subarray(at, s).toString('utf8') + t;
      at = e;
    }
    return sql + src.bytes.subarray(at, end).toString('utf8');
  }

  /** The value of an expression (a SELECT of it, not a child job). */
  private async evaluate(expr: any, src: Source, cast?: string): Promise<ScriptValue> {
    const { sql, params } = this.text(expr, src);
    const r = await this.host.run(cast ? `SELECT CAST((${sql}) AS ${cast}) AS v` : `SELECT (${sql}) AS v`, params, this.temps);
    if (r.rows.length > 1) throw new BigQueryError('invalidQuery', 'Scalar subquery produced more than one element', { location: 'query' });
    return fromResult(r.schema, r.rows[0]);
  }

  private frame(node: any, src: Source): StackFrame {
    const [s, e] = span(node)!;
    const at = (off: number) => {
      const before = src.bytes.subarray(0, off).toString('utf8');
      const lines = before.split('\n');
      return [lines.length, lines.at(-1)!.length + 1];
    };
    const [startLine, startColumn] = at(s);
    const [endLine, endColumn] = at(e);
    return { startLine, startColumn, endLine, endColumn, text: src.bytes.subarray(s, e).toString('utf8'), ...(src.procedureId ? { procedureId: src.procedureId } : {}) };
  }

  /** A statement of the script as a child job; failures remembered for @@error. */
  private async child(node: any, src: Source, sql: string, params: QueryParameter[]): Promise<RunResult> {
    const frame = this.frame(node, src);
    this.outcome.children++;
    try {
      const r = await this.host.run(sql, params, this.temps, frame);
      this.outcome.totalBytesProcessed += r.totalBytesProcessed;
      this.outcome.totalBytesBilled += r.totalBytesBilled;
      if (r.statementType === 'SELECT') this.outcome.last = r;
      this.rowCount = r.numDmlAffectedRows ?? null;
      return r;
    } catch (err) {
      if (err instanceof BigQueryError) (err as any).scriptFrame ??= frame;
      throw err;
    }
  }

  async list(list: any[], src: Source): Promise<void> {
    for (const w of list) await this.statement(w, src);
  }

  /** Statements in a scope of their own (their DECLAREs end with it). */
  private async scoped(list: any[], src: Source): Promise<void> {
    this.scopes.push(new Map());
    try { await this.list(list, src); } finally { this.scopes.pop(); }
  }

  /** A loop body run once: false when the loop must stop (BREAK / LEAVE of this loop). */
  private async iteration(node: any, src: Source): Promise<boolean> {
    this.host.signal?.throwIfAborted();
    const label = labelOf(node);
    try { await this.scoped(statements(flat(node).body), src); } catch (err) {
      if (!(err instanceof Jump) || err.kind === 'return' || (err.label && err.label !== label)) throw err;
      return err.kind === 'continue';
    }
    return true;
  }

  private async statement(w: any, src: Source): Promise<void> {
    this.host.signal?.throwIfAborted();
    const [kind, n] = unwrap(w);
    const node = flat(n);
    switch (kind) {
      case 'astVariableDeclarationNode': {
        const names: string[] = (flat(node.variableList).identifierList ?? []).map((i: any) => String(flat(i).idString).toLowerCase());
        const type = node.type ? src.bytes.subarray(...span(node.type)!).toString('utf8') : undefined;
        let v: ScriptValue;
        if (node.defaultValue) v = await this.evaluate(node.defaultValue, src, type);
        else if (type) v = fromResult((await this.host.run(`SELECT CAST(NULL AS ${type}) AS v`, [], this.temps)).schema, undefined);
        else throw new BigQueryError('invalidQuery', `DECLARE ${names.join(', ')} needs a type or a DEFAULT value.`, { location: 'query' });
        const scope = this.scopes.at(-1)!;
        for (const name of names) {
          if (scope.has(name)) throw new BigQueryError('invalidQuery', `Variable ${name} is already declared in this scope.`, { location: 'query' });
          scope.set(name, v);
        }
        return;
      }
      case 'astSingleAssignmentNode': {
        const name = String(flat(node.variable).idString).toLowerCase();
        const old = this.lookup(name);
        if (!old) throw new BigQueryError('invalidQuery', `Undeclared variable: ${name}`, { location: 'query' });
        this.assign(name, await this.evaluate(node.expression, src, typeText(old.type)));
        return;
      }
      case 'astAssignmentFromStructNode': {
        const names: string[] = (flat(node.variables).identifierList ?? []).map((i: any) => String(flat(i).idString).toLowerCase());
        const fields = structFields(await this.evaluate(node.structExpression, src));
        if (fields.length !== names.length) throw new BigQueryError('invalidQuery', `SET assigns ${names.length} variables from a STRUCT of ${fields.length} fields.`, { location: 'query' });
        names.forEach((name, i) => this.assign(name, fields[i]));
        return;
      }
      case 'astIfStatementNode': {
        if (isTrue(await this.evaluate(node.condition, src))) return this.scoped(statements(node.thenList), src);
        for (const e of flat(node.elseifClauses)?.elseifClauses ?? []) {
          const c = flat(e);
          if (isTrue(await this.evaluate(c.condition, src))) return this.scoped(statements(c.body), src);
        }
        if (node.elseList) await this.scoped(statements(node.elseList), src);
        return;
      }
      case 'astWhileStatementNode': // LOOP is a WHILE without a condition
        while (!node.condition || isTrue(await this.evaluate(node.condition, src))) if (!(await this.iteration(node, src))) return;
        return;
      case 'astRepeatStatementNode':
        do { if (!(await this.iteration(node, src))) return; } while (!isTrue(await this.evaluate(flat(node.untilClause).condition, src)));
        return;
      case 'astForInStatementNode': {
        const { sql, params } = this.text(node.query, src);
        const r = await this.child(node.query, src, sql, params);
        const variable = String(flat(node.variable).idString).toLowerCase();
        for (const row of r.rows) {
          this.scopes.push(new Map([[variable, rowStruct(r.schema, row)]]));
          try { if (!(await this.iteration(node, src))) return; } finally { this.scopes.pop(); }
        }
        return;
      }
      case 'astBreakStatementNode': case 'astContinueStatementNode': {
        const keyword = String(node.keyword ?? (kind === 'astBreakStatementNode' ? 'BREAK' : 'CONTINUE')).toUpperCase();
        throw new Jump(keyword === 'BREAK' || keyword === 'LEAVE' ? 'break' : 'continue', labelOf(node));
      }
      case 'astReturnStatementNode': throw new Jump('return');
      case 'astRaiseStatementNode': {
        if (node.message) throw new BigQueryError('invalidQuery', String((await this.evaluate(node.message, src)).value.value ?? 'NULL'), { location: 'query' });
        const current = this.failures.at(-1);
        if (current) throw current.error;
        throw new BigQueryError('invalidQuery', 'RAISE without a message outside an exception handler.', { location: 'query' });
      }
      case 'astBeginEndBlockNode': return this.block(node, src);
      case 'astBeginStatementNode': return this.host.transaction('BEGIN');
      case 'astCommitStatementNode': return this.host.transaction('COMMIT');
      case 'astRollbackStatementNode': return this.host.transaction('ROLLBACK');
      case 'astCallStatementNode': return this.call(node, src);
      case 'astCaseStatementNode': return this.caseStatement(node, src);
      case 'astExecuteImmediateStatementNode': return this.executeImmediate(node, src);
      case 'astSystemVariableAssignmentNode': return this.setSystem(node, src);
      default:
        if (kind && CONTROL_KINDS.has(kind)) throw notImplemented(`${kind.replace(/^ast|Node$/g, '')} statements`);
        return this.sqlStatement(w, kind, node, src);
    }
  }

  /**
   * CASE [expr] WHEN … THEN … [ELSE …] END CASE: the first WHEN whose value equals `expr` (or, with
   * no `expr`, whose condition is TRUE) runs; else the ELSE list; with neither, nothing.
   */
  private async caseStatement(node: any, src: Source): Promise<void> {
    for (const c of flat(node.whenThenClauses)?.whenThenClauses ?? []) {
      const w = flat(c);
      const hit = node.expression ? await this.evaluateEquals(node.expression, w.condition, src) : isTrue(await this.evaluate(w.condition, src));
      if (hit) return this.scoped(statements(w.body), src);
    }
    if (node.elseList) await this.scoped(statements(node.elseList), src);
  }

  /** Whether `(a) = (b)` is TRUE, evaluated in one SELECT. */
  private async evaluateEquals(a: any, b: any, src: Source): Promise<boolean> {
    const params: QueryParameter[] = [];
    const right = this.render(b, src, [], params);
    const left = this.text(a, src, [], params);
    const r = await this.host.run(`SELECT ((${left.sql}) = (${right})) AS v`, left.params, this.temps);
    return isTrue(fromResult(r.schema, r.rows[0]));
  }

  /**
   * EXECUTE IMMEDIATE sql [INTO v, …] [USING expr [AS name], …]: `sql` evaluated to a string, parsed
   * as one SQL statement and run as a child job with the USING values as its query parameters (`?`
   * in order, `@name` by alias); it does not see the script's variables. INTO: the first row's
   * columns set the variables in order (NULL when there is no row; more than one row is an error).
   */
  private async executeImmediate(node: any, src: Source): Promise<void> {
    const v = await this.evaluate(node.sql, src, 'STRING');
    const text = v.value.value;
    if (typeof text !== 'string') throw new BigQueryError('invalidQuery', 'EXECUTE IMMEDIATE: the SQL string is NULL.', { location: 'query' });
    const parsed = await this.host.parse(text);
    const list = statements(flat(parsed).statementListNode);
    const [kind] = unwrap(list[0]);
    if (list.length !== 1 || (kind && CONTROL_KINDS.has(kind))) {
      throw new BigQueryError('invalidQuery', 'EXECUTE IMMEDIATE runs exactly one SQL statement (not a script statement).', { location: 'query' });
    }
    const using: QueryParameter[] = [];
    for (const a of node.usingClause ? flat(node.usingClause).arguments ?? [] : []) {
      const arg = flat(a);
      const val = await this.evaluate(arg.expression, src);
      const alias = flat(flat(arg.alias)?.identifier)?.idString;
      using.push({ ...(alias ? { name: String(alias) } : {}), parameterType: val.type, parameterValue: val.value });
    }
    if (using.some((p) => p.name) && using.some((p) => !p.name)) throw new BigQueryError('invalidQuery', 'EXECUTE IMMEDIATE cannot mix named and positional USING arguments.', { location: 'query' });
    const inner: Source = { bytes: Buffer.from(text, 'utf8') };
    const params: QueryParameter[] = [];
    const sql = this.render(list[0], inner, [], params, new Map());
    const r = await this.child(node, src, sql, [...using, ...params]);
    const into: string[] = (flat(flat(node.intoClause)?.identifiers)?.identifierList ?? []).map((i: any) => String(flat(i).idString).toLowerCase());
    if (!into.length) return;
    if (r.rows.length > 1) throw new BigQueryError('invalidQuery', 'EXECUTE IMMEDIATE … INTO: the query returned more than one row.', { location: 'query' });
    if (r.schema.length !== into.length) throw new BigQueryError('invalidQuery', `EXECUTE IMMEDIATE … INTO ${into.length} variables, but the query returns ${r.schema.length} columns.`, { location: 'query' });
    into.forEach((name, i) => this.assign(name, fromResult(r.schema, r.rows[0], i)));
  }

  /**
   * SET @@system_variable = expr. Settable here: @@time_zone to UTC only (the emulator's functions
   * compute in UTC; another zone would give other answers than BigQuery, so it is refused, naming it).
   */
  private async setSystem(node: any, src: Source): Promise<void> {
    const name = (flat(flat(node.systemVariable).path).names ?? []).map((x: any) => String(flat(x).idString).toLowerCase()).join('.');
    if (name !== 'time_zone') throw new BigQueryError('invalidQuery', `The emulator cannot set @@${name} in a script; it can set @@time_zone (to UTC).`, { location: 'query' });
    const zone = String((await this.evaluate(node.expression, src, 'STRING')).value.value ?? '');
    if (!/^(UTC|Etc\/UTC|Z|[+-]00(:?00)?)$/i.test(zone)) throw notImplemented(`SET @@time_zone = '${zone}' (its time functions compute in UTC)`);
    this.timeZone = zone;
  }

  private async block(node: any, src: Source): Promise<void> {
    const label = labelOf(node);
    const handler = flat(node.handlerList)?.exceptionHandlerList?.[0];
    try {
      await this.scoped(statements(node.statementListNode), src);
    } catch (err) {
      if (err instanceof Jump) {
        if (err.kind === 'break' && err.label && err.label === label) return;
        throw err;
      }
      if (!handler || !(err instanceof BigQueryError) || this.host.signal?.aborted) throw err;
      const frame: StackFrame | undefined = (err as any).scriptFrame;
      this.failures.push({ message: err.message, statementText: frame?.text ?? '', frame, error: err });
      try { await this.scoped(statements(flat(handler).statementList), src); } finally { this.failures.pop(); }
    }
  }

  private async sqlStatement(w: any, kind: string | undefined, node: any, src: Source): Promise<void> {
    if (kind === 'astCreateFunctionStatementNode' && node.scope === 'TEMPORARY') return this.tempFunction(node, src);
    if (kind === 'astCreateTableStatementNode' && node.scope === 'TEMPORARY') {
      const names: string[] = (flat(node.name).names ?? []).map((x: any) => String(flat(x).idString));
      if (names.length !== 1) throw new BigQueryError('invalidQuery', `A temp table name must be one identifier, not ${names.join('.')}.`, { location: 'query' });
      const { projectId, datasetId } = await this.host.tempDataset();
      const real = `${projectId}.${datasetId}.${names[0]}`;
      const [start] = span(w)!;
      const [, nameEnd] = span(node.name)!;
      const head = `CREATE ${node.isOrReplace ? 'OR REPLACE ' : ''}TABLE ${node.isIfNotExists ? 'IF NOT EXISTS ' : ''}\`${real}\``;
      const { sql, params } = this.text(w, src, [[start, nameEnd, head]]);
      const key = names[0].toLowerCase();
      const had = this.temps.has(key);
      this.temps.set(key, real); // declared as _SESSION.<name> (script-job.ts) from its creation on
      try { await this.child(w, src, sql, params); } catch (err) { if (!had) this.temps.delete(key); throw err; }
      return;
    }
    const { sql, params } = this.text(w, src);
    await this.child(w, src, sql, params);
  }

  /**
   * CREATE TEMP FUNCTION with a SQL expression body: kept for the rest of the script and expanded
   * inline where it is called (its arguments CAST to the parameter types, the body to RETURNS), as
   * BigQuery inlines SQL UDFs; an AGGREGATE function's body (SUM(x) * k, k NOT AGGREGATE) is inlined the same way, so its aggregates group with the calling query. An argument used twice in the body is evaluated twice (a
   * non-deterministic one, RAND(), may differ). Refused: JavaScript and other languages.
   */
  private tempFunction(node: any, src: Source): void {
    const decl = flat(node.functionDeclaration);
    const names: string[] = (flat(decl.name).names ?? []).map((x: any) => String(flat(x).idString));
    const textOf = (n: any) => (n ? src.bytes.subarray(...span(n)!).toString('utf8') : undefined);
    if (names.length !== 1) throw new BigQueryError('invalidQuery', `A temp function name must be one identifier, not ${names.join('.')}.`, { location: 'query' });
    if (!node.sqlFunctionBody || node.language) throw notImplemented(`CREATE TEMP FUNCTION ${names[0]} (only SQL expression functions run)`);
    const key = names[0].toLowerCase();
    if (this.functions.has(key) && !node.isOrReplace) {
      if (node.isIfNotExists) return;
      throw new BigQueryError('duplicate', `Function ${names[0]} already exists in this script.`);
    }
    const params = (flat(decl.parameters)?.parameterEntries ?? []).map((e: any) => {
      const p = flat(e);
      const type = textOf(p.type);
      return { name: String(flat(p.name).idString).toLowerCase(), type: type && !/^ANY\s+TYPE$/i.test(type) ? type : undefined };
    });
    this.functions.set(key, { name: names[0], params, returns: textOf(node.returnType), body: flat(node.sqlFunctionBody).expression, src });
  }

  /** CALL of a SQL procedure: its body run as a script with the arguments as its variables; OUT / INOUT ones copied back. */
  private async call(node: any, src: Source): Promise<void> {
    const path: string[] = (flat(node.procedureName).names ?? []).map((x: any) => String(flat(x).idString));
    const proc = this.host.procedure(path);
    if (!proc) throw new BigQueryError('notFound', `Not found: Procedure ${path.join('.')}`);
    if ((proc.language ?? 'SQL').toUpperCase() !== 'SQL') throw notImplemented(`CALL of a ${proc.language} procedure`);
    const args: any[] = (node.arguments ?? []).map((a: any) => flat(a).expr);
    const formal = proc.arguments ?? [];
    if (args.length !== formal.length) throw new BigQueryError('invalidQuery', `Procedure ${proc.id} takes ${formal.length} arguments, but ${args.length} were given.`, { location: 'query' });
    const frame = new Map<string, ScriptValue>();
    const outs: Array<[string, string]> = [];
    for (let i = 0; i < formal.length; i++) {
      const f = formal[i];
      const mode = String(f.mode ?? 'IN').toUpperCase();
      const cast = f.dataType?.typeKind && f.dataType.typeKind !== 'TYPE_KIND_UNSPECIFIED' ? f.dataType.typeKind.replace(/^TYPE_/, '') : undefined;
      if (mode !== 'IN') {
        const target = flat(args[i]?.astGeneralizedPathExpressionNode?.astPathExpressionNode)?.names;
        const name = target?.length === 1 ? String(flat(target[0]).idString).toLowerCase() : undefined;
        if (!name || !this.lookup(name)) throw new BigQueryError('invalidQuery', `Argument ${f.name} of ${proc.id} is ${mode}: pass a variable.`, { location: 'query' });
        outs.push([f.name.toLowerCase(), name]);
        frame.set(f.name.toLowerCase(), mode === 'OUT' ? { ...this.lookup(name)!, value: { value: null } } : this.lookup(name)!);
      } else frame.set(f.name.toLowerCase(), await this.evaluate(args[i], src, cast === 'ARRAY' || cast === 'STRUCT' ? undefined : cast));
    }
    const parsed = await this.host.parse(proc.definitionBody);
    const saved = this.scopes;
    this.scopes = [frame];
    try {
      await this.list(statements(flat(parsed).statementListNode), { bytes: Buffer.from(proc.definitionBody, 'utf8'), procedureId: proc.id });
    } catch (err) {
      if (!(err instanceof Jump) || err.kind !== 'return') throw err;
    } finally { this.scopes = saved; }
    for (const [formalName, target] of outs) this.assign(target, frame.get(formalName)!);
  }
}
