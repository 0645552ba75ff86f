/**
 * The SQL bqgate sends upstream for an allowed statement: rewrite (mask at the scan, row filters)
 * → re-analyze and verify the rewrite → regenerate the text from ZetaSQL's parse (sql/canonical.ts)
 * and check it resolves exactly as the verified text did. The upstream never receives the caller's
 * bytes, only this generated text; the caller's text stays in the audit beside it.
 *
 * Used by every path that runs SQL: the query pipeline (server.ts `check`), re-execution, and the
 * policy playground's preview.
 */
import type { Analyzer, AnalyzeInput, QueryAnalysis } from '../sql/index.js';
import type { Decision } from '../policy/index.js';
import { rewriteQuery, verifyRewrite, type Rewrite, type RewriteOptions } from '../rewrite/index.js';
import { stage } from '../request-scope.js';
import { cachedStatement, coveredBy, keepStatement, statementKey } from './statement-cache.js';

export interface UpstreamStatement {
  /** The text to send upstream (canonical; masks and filters included). */
  sql: string;
  /** The analysis of exactly that text (positions in `sql`): what the upstream is told to expect. */
  analysis: QueryAnalysis;
  rewrite: Rewrite;
}

/**
 * Builds the upstream statement for `analysis` (of `input.sql`) under `decision`. Throws
 * BigQueryError: accessDenied when the rewrite cannot be placed or verified, invalidQuery when the
 * statement cannot be regenerated exactly. `hmacKey` is the gateway's HMAC_SHA256 mask key.
 * A verified result is reused for the same statement, analysis and decision (statement-cache.ts);
 * the returned value may be shared between requests: treat it as read-only.
 */
export async function upstreamStatement(analyzer: Analyzer, input: AnalyzeInput, analysis: QueryAnalysis, decision: Decision, hmacKey: Buffer, opts: RewriteOptions = {}): Promise<UpstreamStatement> {
  const key = statementKey(input, analysis, decision, hmacKey, opts);
  const hit = cachedStatement<UpstreamStatement>(analysis, key);
  if (hit) return hit;
  const rewrite = await stage('rewrite', () => rewriteQuery(analysis.effectiveSql, analysis, decision, hmacKey, opts));
  let verified = analysis;
  if (rewrite.sql !== input.sql) {
    verified = await stage('analyze', () => analyzer.analyze({ ...input, sql: rewrite.sql }));
    verifyRewrite(verified, rewrite, decision);
  }
  const out = await stage('regenerate', () => analyzer.regenerate({ ...input, sql: rewrite.sql }, verified));
  const built = { sql: out.sql, analysis: out.analysis, rewrite };
  if (coveredBy(verified, analysis) && coveredBy(out.analysis, analysis)) keepStatement(analysis, key, built);
  return built;
}
