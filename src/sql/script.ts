/**
 * Scripts (several statements; DECLARE, SET, IF, LOOP/WHILE/REPEAT, FOR…IN, BEGIN…EXCEPTION…END,
 * CASE, transactions): the parsed script (ZetaSQL Parse with allow_script) broken into the units that can
 * read or write data, in text order — each SQL statement, and each expression a control statement
 * evaluates (DECLARE defaults, SET values, IF/WHILE/UNTIL conditions, FOR…IN queries, RAISE
 * messages) — with their UTF-8 byte ranges, plus the variables the script declares.
 */

/** One analyzable piece of a script. */
export interface ScriptUnit {
  kind: 'statement' | 'expression' | 'query';
  start: number;
  end: number;
  /** DECLARE: the variables this unit's value (or `typeText`) defines. */
  declares?: string[];
  /** DECLARE with an explicit type: its text. */
  typeText?: string;
  /** FOR…IN: the loop variable (a STRUCT of the query's columns). */
  loopVariable?: string;
}

const range = (n: any): [number, number] | undefined => {
  for (let o = n, d = 0; o && d < 6; o = o.parent, d++) {
    const r = o.parseLocationRange;
    if (r) return [Number(r.start), Number(r.end)];
  }
  return undefined;
};

/** The location of a node given in its (possibly nested) Any-wrapper form. */
export const rangeDeep = (w: any, depth = 0): [number, number] | undefined => {
  if (!w || typeof w !== 'object' || depth > 8) return undefined;
  const r = range(w);
  if (r) return r;
  const k = Object.keys(w).find((x) => x.startsWith('ast'));
  return k ? rangeDeep(w[k], depth + 1) : undefined;
};

/** The inner node of an Any-wrapper (`{astXNode: {...}, node: 'astXNode'}`). */
const inner = (w: any): [string, any] | undefined => {
  if (!w || typeof w !== 'object') return undefined;
  const k = Object.keys(w).find((x) => x.startsWith('ast'));
  return k ? [k, w[k]] : undefined;
};

/** A loop's statements: on the node, or on its ASTLoopStatement base (`parent.body`). */
const loopBody = (node: any) => node.body ?? node.parent?.body;

/** Keys of control-flow nodes whose parts are units, not statements themselves. */
const CONTROL = new Set([
  'astScriptStatementNode', 'astVariableDeclarationNode', 'astSingleAssignmentNode', 'astAssignmentFromStructNode',
  'astIfStatementNode', 'astBeginEndBlockNode', 'astLoopStatementNode', 'astWhileStatementNode', 'astRepeatStatementNode',
  'astForInStatementNode', 'astBreakStatementNode', 'astContinueStatementNode', 'astReturnStatementNode', 'astRaiseStatementNode',
  'astBeginStatementNode', 'astCommitStatementNode', 'astRollbackStatementNode', 'astCaseStatementNode', 'astSystemVariableAssignmentNode',
  'astParameterAssignmentNode', 'astLabelNode', 'astUntilClauseNode', 'astBreakContinueStatementNode',
]);

/** Whether a parsed statement's wrapper key is a script (control) statement rather than a SQL statement. */
export const isScriptControl = (key: string): boolean => CONTROL.has(key) || key === 'astExecuteImmediateStatementNode';

/** Transaction control and loop control: nothing to analyze. */
const INERT = new Set(['astBreakContinueStatementNode', 'astBreakStatementNode', 'astContinueStatementNode', 'astReturnStatementNode', 'astBeginStatementNode', 'astCommitStatementNode', 'astRollbackStatementNode']);

/** Units of a parsed script, in order. Throws Error(message) for a part bqgate cannot analyze. */
export function scriptUnits(parsedScript: any, sql: string): ScriptUnit[] {
  const bytes = Buffer.from(sql, 'utf8');
  const text = (r: [number, number]) => bytes.subarray(r[0], r[1]).toString('utf8');
  const out: ScriptUnit[] = [];
  const expr = (w: any, extra: Partial<ScriptUnit> = {}) => {
    const r = rangeDeep(w);
    if (!r) throw new Error('an expression without a location');
    out.push({ kind: 'expression', start: r[0], end: r[1], ...extra });
  };
  const list = (l: any) => { for (const st of l?.statementList ?? []) visit(st); };
  const visit = (w: any): void => {
    const n = inner(w);
    if (!n) return;
    const [key, node] = n;
    if (!CONTROL.has(key)) {
      const r = rangeDeep(node);
      if (!r) throw new Error(`a ${key.replace(/^ast|Node$/g, '')} without a location`);
      out.push({ kind: 'statement', start: r[0], end: r[1] });
      return;
    }
    if (INERT.has(key)) return;
    switch (key) {
      case 'astScriptStatementNode': visit(node); return;
      case 'astLoopStatementNode': if (inner(node)) visit(node); else list(loopBody(node)); return; // a wrapper (WHILE, FOR…IN) or a plain LOOP
      case 'astVariableDeclarationNode': {
        const names = (node.variableList?.identifierList ?? []).map((i: any) => String(i.idString));
        const tr = node.type ? rangeDeep(node.type) : undefined;
        const typeText = tr ? text(tr) : undefined;
        if (node.defaultValue) expr(node.defaultValue, { declares: names, typeText });
        else {
          const r = range(node)!;
          out.push({ kind: 'expression', start: r[1], end: r[1], declares: names, typeText });
        }
        return;
      }
      case 'astSingleAssignmentNode': expr(node.expression); return;
      case 'astAssignmentFromStructNode': expr(node.structExpression); return;
      case 'astIfStatementNode':
        expr(node.condition);
        list(node.thenList);
        for (const e of node.elseifClauses?.elseifClauseList ?? []) { expr(e.condition); list(e.body); }
        list(node.elseList);
        return;
      case 'astBeginEndBlockNode':
        list(node.statementListNode);
        for (const h of node.handlerList?.exceptionHandlerList ?? []) list(h.statementList);
        return;
      case 'astWhileStatementNode': if (node.condition) expr(node.condition); list(loopBody(node)); return;
      case 'astRepeatStatementNode': list(loopBody(node)); if (node.untilClause) expr(node.untilClause.condition); return;
      case 'astForInStatementNode': {
        const r = rangeDeep(node.query);
        if (r) out.push({ kind: 'query', start: r[0], end: r[1], loopVariable: String(node.variable?.idString ?? '') });
        list(loopBody(node));
        return;
      }
      case 'astRaiseStatementNode': if (node.message) expr(node.message); return;
      case 'astSystemVariableAssignmentNode':
        // A time zone or a default dataset set mid-script changes what the analyzed statements mean (date row filters, table names).
        throw new Error('SET @@system_variable is not run through bqgate: it would change what the statements analyzed after it mean (their time zone, their default dataset); set the time zone in the functions (DATE(ts, \'zone\')) or name the dataset');
      case 'astCaseStatementNode': // CASE [expr] WHEN … THEN … [ELSE …] END CASE: every value and every branch
        if (node.expression) expr(node.expression);
        for (const c of node.whenThenClauses?.whenThenClauses ?? []) { expr(c.condition); list(c.body); }
        list(node.elseList);
        return;
      default:
        throw new Error(`${key.replace(/^ast|Node$/g, '')} statements are not analyzed by bqgate yet`);
    }
  };
  for (const st of parsedScript?.statementListNode?.statementList ?? []) visit(st);
  return out;
}
