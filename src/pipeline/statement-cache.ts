/**
 * The cache of verified upstream statements (pipeline/statement.ts): the rewrite, its re-analysis
 * and verification, and the regenerated canonical text, computed once per distinct input instead of
 * once per request.
 *
 * Keyed by everything the result depends on, so one principal's rewrite is never served to another
 * whose decision differs:
 * - the caller's analysis *object*, which the analyzer hands back only while every table schema,
 *   routine and dataset listing it was built from is still the catalog's current one (sql/index.ts
 *   `Analyzer.analyze`); a schema change upstream yields a new object, so entries of the old one are
 *   never reached again (and are collected with it: a WeakMap);
 * - the caller's SQL text, project, default dataset and parameter names and types;
 * - the decision's masks (table → column → rule), denied columns and row filters (principal values
 *   already substituted), which is all the rewrite reads of a decision (rewrite/index.ts);
 * - the id of the gateway's HMAC_SHA256 key (a SHA-256 prefix of it, never the key).
 *
 * Never cached: a rewrite with per-request material (RANDOM_HASH's salt), a re-execution as of a
 * past time, an EXTERNAL_QUERY (its columns depend on the caller), and a rewrite whose own analysis
 * reads a table or function the caller's analysis does not (a row filter with a subquery or a UDF:
 * the caller's analysis would not notice that object's change).
 */
import { createHash } from 'node:crypto';
import type { AnalyzeInput, QueryAnalysis } from '../sql/index.js';
import type { Decision } from '../policy/index.js';
import type { RewriteOptions } from '../rewrite/index.js';

/** Distinct decisions kept per analysis (principals with different masks or filters on one statement). */
const PER_ANALYSIS = 64;

const entries = new WeakMap<QueryAnalysis, Map<string, unknown>>();
const keyIds = new WeakMap<Buffer, string>();

const keyId = (hmacKey: Buffer) => {
  let id = keyIds.get(hmacKey);
  if (id === undefined) keyIds.set(hmacKey, (id = createHash('sha256').update('bqgate hmac key id\0').update(hmacKey).digest('hex').slice(0, 16)));
  return id;
};

/**
 * The cache key of one upstream statement, or undefined when it must not be cached (see the module
 * comment). Shape: a JSON string; the SQL text and row filters are in it as written.
 */
export function statementKey(input: AnalyzeInput, analysis: QueryAnalysis, decision: Decision, hmacKey: Buffer, opts: RewriteOptions): string | undefined {
  if (opts.asOf !== undefined || analysis.flags.externalConnections?.length) return undefined;
  const masks = Object.entries(decision.masks).map(([t, cols]) => [t, Object.entries(cols).map(([c, m]) => [c, m.rule])] as const);
  if (masks.some(([, cols]) => cols.some(([, rule]) => rule === 'RANDOM_HASH'))) return undefined;
  const params = (input.queryParameters ?? []).map((p) => [p.name ?? null, p.parameterType]);
  return JSON.stringify([input.sql, input.projectId, input.defaultDataset ?? null, params, masks, decision.deniedColumns, decision.rowFilters, keyId(hmacKey)]);
}

/** True when `sent` (the rewrite's analysis) reads no table or user function beyond what `analysis` does. */
export function coveredBy(sent: QueryAnalysis, analysis: QueryAnalysis): boolean {
  const fns = new Set(analysis.flags.userFunctions);
  return Object.keys(sent.tables).every((t) => t in analysis.tables) && sent.flags.userFunctions.every((f) => fns.has(f));
}

/** The cached value for (`analysis`, `key`), or undefined. */
export function cachedStatement<T>(analysis: QueryAnalysis, key: string | undefined): T | undefined {
  return key === undefined ? undefined : (entries.get(analysis)?.get(key) as T | undefined);
}

/** Keeps `value` for (`analysis`, `key`); at most PER_ANALYSIS keys per analysis (oldest dropped). */
export function keepStatement<T>(analysis: QueryAnalysis, key: string | undefined, value: T): void {
  if (key === undefined) return;
  let m = entries.get(analysis);
  if (!m) entries.set(analysis, (m = new Map()));
  m.set(key, value);
  if (m.size > PER_ANALYSIS) m.delete(m.keys().next().value as string);
}
