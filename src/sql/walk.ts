/**
 * Reading ZetaSQL's resolved AST (protobuf-as-JSON, zetasql/resolved_ast/resolved_ast.proto) for what
 * the policy needs: the statement kind, every table scan with its columns, its byte range in the
 * SQL text and alias, and the DML/DDL target.
 *
 * With `prune_unused_columns`, a scan's `column_list` holds exactly the columns the statement uses
 * anywhere (select list, predicates, joins, grouping, ordering, whole-row references), so the
 * union of scan column lists is the set of columns read.
 */

/** One `ResolvedTableScan`. `start`/`end` are UTF-8 byte offsets of the table path in the SQL. */
export interface TableScan {
  table: string;
  columns: string[];
  alias: string;
  start?: number;
  end?: number;
  /** `FOR SYSTEM_TIME AS OF` is present. */
  timeTravel: boolean;
  /** For a wildcard table: the tables it reads, after `_TABLE_SUFFIX` narrowing. */
  members?: string[];
  /** A scan inside the body of this routine (routines.ts): not in the statement text, so it has no position. */
  routine?: string;
  /** A temp function's body scan, placed (and masked) where the script's CREATE TEMP FUNCTION reads it. */
  scriptLocal?: boolean;
}

const STMT_VERBS: Record<string, string> = {
  resolvedQueryStmtNode: 'SELECT', resolvedInsertStmtNode: 'INSERT', resolvedUpdateStmtNode: 'UPDATE',
  resolvedDeleteStmtNode: 'DELETE', resolvedMergeStmtNode: 'MERGE', resolvedTruncateStmtNode: 'TRUNCATE',
  resolvedCreateTableAsSelectStmtNode: 'CREATE_TABLE_AS_SELECT', resolvedCreateTableStmtNode: 'CREATE_TABLE',
  resolvedCreateViewStmtNode: 'CREATE_VIEW', resolvedCreateMaterializedViewStmtNode: 'CREATE_MATERIALIZED_VIEW',
  resolvedCreateFunctionStmtNode: 'CREATE_FUNCTION', resolvedCreateTableFunctionStmtNode: 'CREATE_TABLE_FUNCTION',
  resolvedCreateProcedureStmtNode: 'CREATE_PROCEDURE', resolvedCreateSchemaStmtNode: 'CREATE_SCHEMA',
  resolvedDropStmtNode: 'DROP', resolvedAlterTableStmtNode: 'ALTER_TABLE', resolvedAlterViewStmtNode: 'ALTER_VIEW',
  resolvedAlterMaterializedViewStmtNode: 'ALTER_MATERIALIZED_VIEW', resolvedAlterSchemaStmtNode: 'ALTER_SCHEMA',
  resolvedDropFunctionStmtNode: 'DROP_FUNCTION', resolvedDropMaterializedViewStmtNode: 'DROP_MATERIALIZED_VIEW',
  resolvedDropTableFunctionStmtNode: 'DROP_TABLE_FUNCTION', resolvedCreateExternalTableStmtNode: 'CREATE_EXTERNAL_TABLE',
  resolvedCreateSnapshotTableStmtNode: 'CREATE_SNAPSHOT_TABLE', resolvedAuxLoadDataStmtNode: 'LOAD_DATA',
  resolvedGrantStmtNode: 'GRANT', resolvedRevokeStmtNode: 'REVOKE', resolvedAssertStmtNode: 'ASSERT', resolvedExportDataStmtNode: 'EXPORT_DATA',
  resolvedCallStmtNode: 'CALL', resolvedExecuteImmediateStmtNode: 'EXECUTE_IMMEDIATE',
};

/**
 * The concrete statement node: `[key, body]`, descending through the abstract wrappers the proto
 * uses for class hierarchies (`{resolvedCreateStatementNode: {resolvedCreateTableStmtNode: …}}`).
 */
export function statementNode(resolvedStatement: Record<string, any>): [string, any] {
  let key = Object.keys(resolvedStatement).find((k) => k.startsWith('resolved')) ?? 'unknown';
  let body = resolvedStatement[key];
  for (;;) {
    if (!body || typeof body !== 'object') break;
    const next = Object.keys(body).find((k) => k.startsWith('resolved') && k.endsWith('Node'));
    if (!next || (key.endsWith('StmtNode') && !/StmtNode$/.test(next))) break;
    key = next;
    body = body[next];
  }
  return [key, body];
}

/** The statement's kind: BigQuery statementType spelling where one exists, else the node name. */
export function statementKind(resolvedStatement: Record<string, unknown>): string {
  const [key] = statementNode(resolvedStatement);
  return STMT_VERBS[key] ?? key.replace(/^resolved|StmtNode$/g, '').replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase();
}

/** The object a DDL statement creates, alters or drops, as written (`name_path`), if any. */
export function ddlTarget(resolvedStatement: Record<string, any>): string[] | undefined {
  const [, body] = statementNode(resolvedStatement);
  const find = (o: any, depth = 0): string[] | undefined => {
    if (!o || typeof o !== 'object' || depth > 4) return undefined;
    if (Array.isArray(o.namePath) && o.namePath.length) return o.namePath;
    return find(o.parent, depth + 1);
  };
  return find(body);
}

/**
 * The ResolvedTableScan held by `o`, if any: scans arrive wrapped (`resolvedTableScanNode`) or, as
 * DML targets, bare (`tableScan: {table, …}`).
 */
export function tableScanNode(o: Record<string, any>): any | undefined {
  if (o.resolvedTableScanNode && typeof o.resolvedTableScanNode === 'object') return o.resolvedTableScanNode;
  if (o.tableScan && typeof o.tableScan === 'object' && o.tableScan.table && !o.tableScan.resolvedTableScanNode) return o.tableScan;
  return undefined;
}

/** Every table scan anywhere in the tree, in document order; `members` (if given) expands wildcard scans. */
export function tableScans(node: unknown, members?: (scanNode: object, table: string) => string[] | undefined, out: TableScan[] = []): TableScan[] {
  if (Array.isArray(node)) { for (const n of node) tableScans(n, members, out); return out; }
  if (!node || typeof node !== 'object') return out;
  for (const [k, v] of Object.entries(node as Record<string, unknown>)) {
    const s = k === 'resolvedTableScanNode' || k === 'tableScan' ? tableScanNode({ [k]: v }) : undefined;
    if (s) {
      const loc = s.parent?.parent?.parseLocationRange;
      const table = s.table?.fullName ?? s.table?.name;
      const m = members?.(s, table);
      out.push({
        table,
        ...(m ? { members: m } : {}),
        columns: (s.parent?.columnList ?? []).map((c: any) => c.name),
        alias: s.alias ?? '',
        start: loc?.start !== undefined ? Number(loc.start) : undefined,
        end: loc?.end !== undefined ? Number(loc.end) : undefined,
        timeTravel: !!s.forSystemTimeExpr,
        ...(s.bqgateRoutine ? { routine: String(s.bqgateRoutine), ...(s.bqgateScriptLocal ? { scriptLocal: true } : {}) } : {}),
      });
    }
    tableScans(v, members, out);
  }
  return out;
}

/** The target table scan of a DML statement (INSERT/UPDATE/DELETE/MERGE/TRUNCATE), if any. */
export function dmlTarget(resolvedStatement: Record<string, any>): string | undefined {
  const [, body] = statementNode(resolvedStatement);
  const scan = body?.tableScan?.resolvedTableScanNode ?? body?.tableScan;
  return scan?.table?.fullName ?? scan?.table?.name;
}

/** Output column names of a statement with a result (query, CTAS, EXPORT DATA), in order. */
export function outputColumns(resolvedStatement: Record<string, any>): string[] {
  const [, q] = statementNode(resolvedStatement); // queries, CREATE … AS SELECT, EXPORT DATA
  return (q?.outputColumnList ?? []).map((c: any) => c.name);
}

/** Names of functions called anywhere, e.g. `ZetaSQL:sha256`, to flag UDFs and external calls. */
export function functionNames(node: unknown, out = new Set<string>()): Set<string> {
  if (Array.isArray(node)) { for (const n of node) functionNames(n, out); return out; }
  if (!node || typeof node !== 'object') return out;
  for (const [k, v] of Object.entries(node as Record<string, unknown>)) {
    if (k === 'function' && v && typeof v === 'object' && typeof (v as any).name === 'string') out.add((v as any).name);
    functionNames(v, out);
  }
  return out;
}

/** What the policy needs to know beyond tables and columns. */
export interface StatementFlags {
  /** EXECUTE IMMEDIATE: the text it runs cannot be seen. */
  dynamicSql: boolean;
  /** EXPORT DATA `uri` option. */
  exportUri?: string;
  /**
   * Every export destination of the statement (with a script's units and the procedures it calls):
   * the EXPORT DATA `uri`, or null for one that is missing or not a string literal.
   */
  exportUris?: Array<string | null>;
  /**
   * LOAD DATA's `FROM FILES (uris = …)`: each source URI, or null for one that is not a string
   * literal (a parameter, an expression) and for a missing uris option; absent for other statements.
   */
  loadUris?: Array<string | null>;
  /** CREATE TEMP TABLE / TEMP FUNCTION. */
  temporary: boolean;
  /** `@@name` system variables read. */
  systemVariables: string[];
  /** FOR SYSTEM_TIME AS OF on some table. */
  timeTravel: boolean;
  /** Functions that are neither ZetaSQL built-ins nor BigQuery's (`BigQuery:` group, sql/builtins), by name: UDFs, TVFs. */
  userFunctions: string[];
  /** EXTERNAL_QUERY connection ids (sql/tvfs): their inner statements run in another database. */
  externalConnections?: string[];
  /** JavaScript or remote function bodies created by the statement (CREATE FUNCTION … LANGUAGE js). */
  language?: string;
  /** Routines the statement calls that it does not define (routines.ts): language SQL, JAVASCRIPT, PYTHON, … or REMOTE (with its endpoint). */
  routines?: Array<{ name: string; routineType: string; language: string; remote?: { endpoint?: string; connection?: string } }>;
}

/**
 * The strings of an option's value: an ARRAY<STRING> literal's elements or a STRING literal, null
 * for an element that is not a string (NULL) or a value that is not a literal; undefined without one.
 */
function literalStrings(value: any): Array<string | null> | undefined {
  if (!value) return undefined;
  const lit = value.resolvedLiteralNode?.value?.value;
  if (!lit) return [null];
  if (lit.arrayValue) return (lit.arrayValue.element ?? []).map((e: any) => (typeof e?.stringValue === 'string' ? e.stringValue : null));
  return [typeof lit.stringValue === 'string' ? lit.stringValue : null];
}

/** Reads the flags of a resolved statement. */
export function statementFlags(resolvedStatement: Record<string, any>, functions: string[], scans: TableScan[]): StatementFlags {
  const [key, body] = statementNode(resolvedStatement);
  const sysvars = new Set<string>();
  const walk = (n: unknown) => {
    if (Array.isArray(n)) { n.forEach(walk); return; }
    if (!n || typeof n !== 'object') return;
    const o = n as Record<string, any>;
    if (o.resolvedSystemVariableNode) sysvars.add((o.resolvedSystemVariableNode.namePath ?? []).join('.'));
    Object.values(o).forEach(walk);
  };
  walk(resolvedStatement);
  const uri = key === 'resolvedExportDataStmtNode'
    ? (body.optionList ?? []).find((opt: any) => String(opt.name).toLowerCase() === 'uri')?.value?.resolvedLiteralNode?.value?.value?.stringValue
    : undefined;
  // A LOAD DATA without uris reads what bqgate cannot see: one unreadable source (refused by the policy).
  const loadUris = key === 'resolvedAuxLoadDataStmtNode' ? literalStrings((body.fromFilesOptionList ?? []).find((opt: any) => String(opt.name).toLowerCase() === 'uris')?.value) ?? [null] : undefined;
  const scope = (o: any, d = 0): string | undefined => (!o || d > 4 ? undefined : o.createScope ?? scope(o.parent, d + 1));
  return {
    dynamicSql: key === 'resolvedExecuteImmediateStmtNode',
    ...(uri ? { exportUri: String(uri) } : {}),
    ...(key === 'resolvedExportDataStmtNode' ? { exportUris: [uri ? String(uri) : null] } : {}),
    ...(loadUris ? { loadUris } : {}),
    temporary: scope(body) === 'CREATE_TEMP',
    systemVariables: [...sysvars].sort(),
    timeTravel: scans.some((s) => s.timeTravel),
    userFunctions: functions.filter((f) => !f.startsWith('ZetaSQL:') && !f.startsWith('BigQuery:')),
    ...(body?.language ? { language: String(body.language) } : {}),
  };
}
