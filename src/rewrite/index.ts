/**
 * `rewrite/`: SQL + Decision → the SQL sent upstream, masking at the scan.
 *
 * Each reference to a table with masked or denied columns is replaced, at its exact byte range in
 * the text (from ZetaSQL's parse locations), by a projection of that table:
 * `(SELECT <col or mask(col) AS col or NULL AS col>, … FROM \`p.d.t\` [WHERE <row filters>]) AS alias`, so every
 * expression, predicate, join, aggregate and whole-row reference sees masked values, as BigQuery's
 * dynamic data masking does. Tables with nothing governed are left as written.
 *
 * Writes (CREATE TABLE AS SELECT, INSERT … SELECT, EXPORT DATA, MERGE/UPDATE/DELETE sources, views)
 * that read governed tables are rewritten the same way, so what they copy is masked; a governed
 * table that is itself the target of UPDATE/DELETE/MERGE is refused (its predicates would read raw
 * values).
 *
 * `verifyRewrite` checks the re-analyzed result: every scan of a governed table must lie inside a
 * projection the rewrite placed, so no raw governed column is reachable.
 *
 * Throws BigQueryError when a rewrite cannot be placed safely (no parse location, time travel on a
 * governed table, a governed write target): the statement is refused, never sent raw.
 */
import { BigQueryError } from '../bigquery/errors.js';
import type { Decision } from '../policy/index.js';
import { spliceScansWithRanges, quoteIdent, type QueryAnalysis } from '../sql/index.js';
import { randomBytes } from 'node:crypto';
import { maskExpression, nullColumn, MASK_SECRET, type MaskKeys } from './masks.js';

export type { MaskKeys } from './masks.js';

export interface Rewrite {
  sql: string;
  /** Tables whose references were replaced by a masking projection. */
  governedTables: string[];
  /** Where the projections are in `sql` (UTF-8 byte offsets), for verifyRewrite. */
  projections: Array<[number, number]>;
}

/**
 * Projection SQL of one governed table for `decision` (used for queries and for tabledata.list).
 * `asOf` (an RFC 3339 timestamp) reads the table as it was then (`FOR SYSTEM_TIME AS OF`).
 */
export function governedProjection(table: string, analysis: Pick<QueryAnalysis, 'tables'>, decision: Decision, keys: MaskKeys, columns?: string[], asOf?: string): string {
  const schema = analysis.tables[table];
  if (!schema) throw new BigQueryError('internalError', `No schema for ${table}`);
  const masks = decision.masks[table] ?? {};
  const denied = new Set(decision.deniedColumns[table] ?? []);
  const fields = columns ? schema.filter((f) => columns.includes(f.name)) : schema;
  const items = fields.map((f) => {
    if (denied.has(f.name)) return nullColumn(f);
    const m = masks[f.name];
    return m ? maskExpression(f, m.rule, table, keys) : quoteIdent(f.name);
  });
  const filters = decision.rowFilters[table];
  const where = filters === undefined ? '' : filters.length ? ` WHERE ${filters.map((f) => `(${f})`).join(' OR ')}` : ' WHERE FALSE';
  const travel = asOf === undefined ? '' : ` FOR SYSTEM_TIME AS OF TIMESTAMP '${new Date(asOf).toISOString()}'`;
  return `SELECT ${items.join(', ')} FROM ${quoteIdent(table)}${travel}${where}`;
}

/** True when `table` has anything to mask, hide or filter for this decision. */
export const isGoverned = (d: Decision, table: string) =>
  Object.keys(d.masks[table] ?? {}).length > 0 || (d.deniedColumns[table]?.length ?? 0) > 0 || d.rowFilters[table] !== undefined;

export interface RewriteOptions {
  /**
   * Re-execution as of a past instant (RFC 3339): every table is read `FOR SYSTEM_TIME AS OF` it,
   * through a projection (masked where governed). Queries only; a statement that already travels
   * in time or reads a wildcard table is refused (invalidQuery).
   */
  asOf?: string;
}

/** Rewrites `sql` (see the module comment). `hmacKey` is the gateway's key for HMAC_SHA256; RANDOM_HASH gets a fresh salt per call. */
export function rewriteQuery(sql: string, analysis: QueryAnalysis, decision: Decision, hmacKey: Buffer, opts: RewriteOptions = {}): Rewrite {
  const keys: MaskKeys = { hmacKey, salt: randomBytes(16) };
  if (opts.asOf !== undefined) {
    if (analysis.statementKind !== 'SELECT') throw new BigQueryError('invalidQuery', `Only queries can be re-executed as of a past time; this statement is ${analysis.statementKind}.`);
    const odd = analysis.scans.find((s) => s.timeTravel || s.members);
    if (odd) throw new BigQueryError('invalidQuery', `${odd.table} is read ${odd.members ? 'as a wildcard table' : 'with its own FOR SYSTEM_TIME AS OF'}; bqgate cannot re-execute this query as of a past time.`);
    const out = spliceScansWithRanges(sql, analysis.scans.map((scan) => ({ scan, text: governedProjection(scan.table, analysis, decision, keys, undefined, opts.asOf) })), 'time travel projection');
    return { sql: out.sql, governedTables: [...new Set(analysis.scans.map((s) => s.table))], projections: out.ranges };
  }
  const wild = analysis.scans.find((s) => s.members?.some((m) => isGoverned(decision, m)));
  if (wild) {
    throw new BigQueryError('accessDenied', `Access Denied: ${wild.table} reads ${wild.members!.find((m) => isGoverned(decision, m))}, which has masked or denied columns for you; masking through wildcard tables is not supported by bqgate yet. Query the tables by name.`);
  }
  const governed = analysis.scans.filter((s) => isGoverned(decision, s.table));
  if (governed.length === 0) return { sql, governedTables: [], projections: [] };
  const target = governed.find((s) => analysis.tablesWritten.includes(s.table));
  if (target) {
    throw new BigQueryError('accessDenied', `Access Denied: ${analysis.statementKind} on ${target.table}, which has masked or denied columns for you, is refused: its conditions would read raw values. The statement was not run.`);
  }
  for (const s of governed) {
    if (s.timeTravel) {
      throw new BigQueryError('accessDenied', `Access Denied: FOR SYSTEM_TIME AS OF on ${s.table}, which has masked columns, is not supported by bqgate yet; the query was not run.`);
    }
  }
  const out = spliceScansWithRanges(sql, governed.map((scan) => ({ scan, text: governedProjection(scan.table, analysis, decision, keys) })), 'masking projection');
  return { sql: out.sql, governedTables: [...new Set(governed.map((s) => s.table))], projections: out.ranges };
}

/**
 * Checks the analysis of the rewritten SQL: every scan of a table with masked or denied columns must
 * sit inside one of the rewrite's projections. Throws BigQueryError(accessDenied) otherwise.
 */
export function verifyRewrite(rewritten: Pick<QueryAnalysis, 'scans'>, r: Rewrite, decision: Decision): void {
  for (const s of rewritten.scans) {
    const governed = isGoverned(decision, s.table) || s.members?.some((m) => isGoverned(decision, m));
    if (!governed) continue;
    const inside = s.start !== undefined && r.projections.some(([a, b]) => s.start! >= a && s.end! <= b);
    if (!inside) throw new BigQueryError('accessDenied', `Access Denied: bqgate's check found ${s.table} readable outside its masking projection after the rewrite; the query was not run.`);
  }
}

const MASK_SECRETS = new RegExp(MASK_SECRET, 'g');

/**
 * The rewritten SQL with the masks' secret material (masks.ts MASK_SECRET: the HMAC_SHA256 pads
 * and RANDOM_HASH salts) replaced by `FROM_HEX('<redacted>')`. For copies that leave the gateway's
 * key boundary (the audit log and its SIEM sinks, caller messages); INFORMATION_SCHEMA.JOBS.query
 * gets the same in SQL (REDACT_MASK_SECRETS).
 */
export function redactMaskSecrets(sql: string): string {
  return sql.replace(MASK_SECRETS, "FROM_HEX('<redacted>')");
}
