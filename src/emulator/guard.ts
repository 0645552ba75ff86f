/**
 * What the emulator's engine agrees to run: one statement of the kind the BigQuery text is (and,
 * when the gateway declared it, of the kind and over the tables the gateway analyzed), reading
 * only its own tables. The emulator is a local upstream; these checks keep it from being a way
 * into the host it runs on (DuckDB reads files, attaches databases, installs extensions).
 *
 * Three layers, each enough on its own for the cases it covers:
 * - the DuckDB statement type of the prepared statement (DuckDB's own classification) must be one
 *   the BigQuery statement kind translates to: SELECT, INSERT, UPDATE, DELETE (also TRUNCATE),
 *   MERGE_INTO, CREATE (a table or view) or DROP (a table or view); COPY, ATTACH, DETACH, PRAGMA,
 *   SET, RESET, INSTALL, LOAD, EXPORT/IMPORT DATABASE, CALL and CHECKPOINT never are;
 * - DuckDB's physical plan (`EXPLAIN (FORMAT JSON)`) may scan tables and call only the table
 *   functions that read no data (`range`, `generate_series`, `unnest`); every other table function
 *   (read_text, read_csv, glob, duckdb_settings, …) is refused;
 * - by name, as defence in depth: the translated text may not call a file-reading or
 *   engine-introspecting function (`read_*`, `glob`, `parquet_*`, `query`, `duckdb_*`, …), even
 *   where external access being off would stop it anyway.
 *
 * Every refusal is a BigQueryError: `accessDenied` for a statement the emulator will not run,
 * naming what differed.
 */
import { StatementType } from '@duckdb/node-api';
import { BigQueryError } from '../bigquery/errors.js';

/** What the gateway analyzed (header `x-bqgate-declared`): the statement kind and every table read or written, `p.d.t`. */
export interface Declared { statementKind: string; tables: string[] }

export const DECLARED_HEADER = 'x-bqgate-declared';

/** A node of DuckDB's JSON plan (`EXPLAIN (FORMAT JSON)`). */
export interface PlanNode { name: string; children?: PlanNode[]; extra_info?: Record<string, unknown> }

/** A table scan in a plan: DuckDB's `[catalog, schema, table]` and the columns it reads. */
export interface PlanScan { path: string[]; columns: string[]; filters: string }

const deny = (why: string) => new BigQueryError('accessDenied', `Access Denied: ${why}`);

/**
 * Parses the `x-bqgate-declared` header (base64url JSON `{statementKind, tables}`); undefined when
 * absent. Throws BigQueryError(invalid) when malformed.
 */
export function parseDeclared(header: string | string[] | undefined): Declared | undefined {
  if (header === undefined) return undefined;
  try {
    const v = JSON.parse(Buffer.from(String(header), 'base64url').toString('utf8'));
    if (typeof v?.statementKind === 'string' && Array.isArray(v.tables) && v.tables.every((t: unknown) => typeof t === 'string')) return { statementKind: v.statementKind, tables: v.tables };
  } catch { /* below */ }
  throw new BigQueryError('invalid', `Invalid ${DECLARED_HEADER} header: expected base64url JSON {"statementKind": string, "tables": string[]}.`);
}

/** The family a statement kind belongs to: SELECT, INSERT, UPDATE, DELETE, MERGE, CREATE, DROP, or the kind itself. */
function family(kind: string): string {
  const k = kind.toUpperCase();
  if (k === 'TRUNCATE' || k === 'TRUNCATE_TABLE') return 'DELETE';
  if (/^CREATE_(TABLE|TABLE_AS_SELECT|VIEW)$|^CREATE$/.test(k)) return 'CREATE';
  if (/^DROP(_TABLE|_VIEW)?$/.test(k)) return 'DROP';
  return k;
}

const DUCK_TYPES: Record<string, StatementType> = {
  SELECT: StatementType.SELECT, INSERT: StatementType.INSERT, UPDATE: StatementType.UPDATE, DELETE: StatementType.DELETE,
  MERGE: StatementType.MERGE_INTO, CREATE: StatementType.CREATE, DROP: StatementType.DROP,
};

/**
 * The DuckDB statement type a statement must prepare to: from the emulator's own reading of the
 * BigQuery text (`textKind`, its first keyword) and, when given, the gateway's declared kind, which
 * must agree with it. Throws accessDenied for any other kind (COPY, ATTACH, PRAGMA, SET, CALL, …).
 */
export function expectedDuckType(textKind: string, declaredKind?: string): StatementType {
  const fam = family(textKind);
  if (declaredKind !== undefined && family(declaredKind) !== fam) {
    throw deny(`the statement is a ${textKind}, but the gateway declared a ${declaredKind}; the emulator runs only the statement kind that was analyzed.`);
  }
  const t = DUCK_TYPES[fam];
  if (t === undefined) throw deny(`the emulator does not run ${textKind} statements; it runs SELECT, INSERT, UPDATE, DELETE, MERGE, CREATE TABLE/VIEW and DROP TABLE/VIEW.`);
  return t;
}

/** Throws accessDenied unless DuckDB prepared the statement as `expected`. */
export function checkDuckType(actual: StatementType, expected: StatementType, textKind: string): void {
  if (actual !== expected) {
    throw deny(`the ${textKind} statement translates to a DuckDB ${StatementType[actual] ?? actual} statement, not ${StatementType[expected]}; the emulator runs only the statement kind that was analyzed.`);
  }
}

/** DuckDB functions that read files, reach other databases or reveal the engine's settings and host. */
const REFUSED_FUNCTIONS = /(?:^|[^\w$])"?(read_\w+|glob|parquet_\w+|sniff_csv|query|query_table|sqlite_\w+|postgres_\w+|mysql_\w+|iceberg_\w+|delta_scan|json_execute_serialized_sql|duckdb_\w+|pragma_\w+|current_setting|getenv|load_extension|which_secret|arrow_scan\w*|checkpoint|force_checkpoint)"?\s*\(/i;

/** Throws accessDenied when the DuckDB text calls a function the emulator never runs, whatever its context. */
export function refuseFunctionsByName(duckSql: string): void {
  const m = duckSql.match(REFUSED_FUNCTIONS);
  if (m) throw deny(`the emulator does not run the DuckDB function ${m[1].toLowerCase()}(): it reads files, other databases or the engine's own state.`);
}

/** Table functions that produce rows without reading anything. */
const DATA_FREE_FUNCTIONS = new Set(['RANGE', 'GENERATE_SERIES', 'UNNEST']);

/** Splits DuckDB's `"demo-project".shop.orders` into its parts (double-quoted parts unquoted). */
export function splitQualified(name: string): string[] {
  const parts: string[] = [];
  let cur = '';
  for (let i = 0; i < name.length; i++) {
    const c = name[i];
    if (c === '"') {
      for (i++; i < name.length; i++) {
        if (name[i] === '"' && name[i + 1] === '"') { cur += '"'; i++; } else if (name[i] === '"') break; else cur += name[i];
      }
    } else if (c === '.') { parts.push(cur); cur = ''; } else cur += c;
  }
  parts.push(cur);
  return parts;
}

/**
 * The table scans of a DuckDB physical plan, with the columns each reads. Throws accessDenied for
 * a table function that reads data (anything but range, generate_series and unnest).
 */
export function planScans(plan: PlanNode[]): PlanScan[] {
  const out: PlanScan[] = [];
  const walk = (n: PlanNode) => {
    const info = n.extra_info ?? {};
    const fn = typeof info.Function === 'string' ? info.Function.toUpperCase() : undefined;
    if (fn !== undefined && !DATA_FREE_FUNCTIONS.has(fn)) throw deny(`the emulator does not run the DuckDB table function ${fn.toLowerCase()}: it reads files or the engine's own state.`);
    if (typeof info.Table === 'string') {
      const p = info.Projections;
      const columns = (Array.isArray(p) ? p : typeof p === 'string' && p ? [p] : []).map(String);
      out.push({ path: splitQualified(info.Table), columns, filters: typeof info.Filters === 'string' ? info.Filters : Array.isArray(info.Filters) ? info.Filters.join(' AND ') : '' });
    }
    for (const c of n.children ?? []) walk(c);
  };
  for (const n of plan) walk(n);
  return out;
}

/** Throws accessDenied unless a CREATE plan creates a table or a view (not a schema, macro, secret, sequence or type). */
export function checkCreatePlan(plan: PlanNode[]): void {
  const root = plan[0]?.name ?? '';
  if (!/^(BATCH_)?CREATE_TABLE(_AS)?$|^CREATE_VIEW$/.test(root)) throw deny(`the emulator creates tables and views only; this CREATE statement plans as ${root || 'nothing'}.`);
}

/** Throws accessDenied unless a DROP statement drops a table or a view (not a schema, macro, secret or sequence). */
export function checkDropText(duckSql: string): void {
  if (!/^\s*DROP\s+(TABLE|VIEW)\b/i.test(duckSql)) throw deny('the emulator drops tables and views only.');
}

/**
 * Throws accessDenied unless every table the statement reads or writes (`p.d.t`) is among the
 * declared ones, naming those that are not. Tables the gateway declared but DuckDB does not touch
 * (a scan the optimizer removed) are fine: the declared set is an upper bound.
 */
export function checkDeclaredTables(declared: Declared, reads: string[], writes: string[]): void {
  const allowed = new Set(declared.tables);
  const extra = [...new Set([...reads, ...writes])].filter((t) => !allowed.has(t)).sort();
  if (extra.length) {
    throw deny(`the statement ${writes.some((t) => !allowed.has(t)) ? 'writes' : 'reads'} ${extra.join(', ')}, which the gateway did not declare (declared: ${[...allowed].sort().join(', ') || 'none'}); the emulator runs only what was analyzed.`);
  }
}

/** `gs://bucket/object` as BigQuery names Cloud Storage objects; bucket names as Cloud Storage allows them. */
const GS_URI = /^gs:\/\/([a-z0-9][a-z0-9._-]{1,61}[a-z0-9])\/(.+)$/;

/**
 * The local file that stands in for a `gs://bucket/object` URI under `root` (extract writes it, a
 * load job reads it): `<root>/<bucket>/<object>`. Throws invalid for anything that is not such a
 * URI, and accessDenied for an object name that could leave the bucket: `..` or `.` segments, empty
 * segments, a leading `/`, backslashes, NUL, more than 1024 characters. The caller checks the
 * resolved parent against symlinks (`checkInsideRoot`).
 */
export function bucketFile(root: string, uri: string): string {
  const m = String(uri).match(GS_URI);
  if (!m) throw new BigQueryError('invalid', `Invalid Cloud Storage URI ${String(uri).slice(0, 200)}: expected gs://bucket/object.`);
  const [, bucket, object] = m;
  const segments = object.split('/');
  if (object.length > 1024 || /[\\\0]/.test(object) || segments.some((s) => s === '' || s === '.' || s === '..')) {
    throw deny(`the object name in ${uri.slice(0, 200)} could leave the bucket (".", ".." or empty segments, backslashes, NUL); the emulator keeps every object inside its bucket root.`);
  }
  return [root.replace(/\/+$/, ''), bucket, ...segments].join('/');
}

/** Throws accessDenied unless `realParent` (a resolved real path) is inside `realRoot` (also resolved). */
export function checkInsideRoot(realRoot: string, realParent: string, uri: string): void {
  const root = realRoot.replace(/\/+$/, '');
  if (realParent !== root && !realParent.startsWith(`${root}/`)) throw deny(`${uri.slice(0, 200)} resolves outside the emulator's bucket root (a symbolic link); it was not used.`);
}
