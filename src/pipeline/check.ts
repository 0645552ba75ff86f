/**
 * The statement stage: analyze → decide → rewrite, for one statement a job operation is about to
 * run (jobs.query, jobs.insert, a method decided as the statement it equals).
 *
 * In: the request context and a QueryRequest-shaped `q` (query, useLegacySql, defaultDataset,
 * queryParameters, and the job options the analysis must see). Out: the analysis, the policy's
 * decision, and `sql`, the text generated for the upstream from the analysis (never the caller's
 * bytes, pipeline/statement.ts) with `sent`, its own analysis. Throws `BigQueryError`: `invalid`
 * (no query), `invalidQuery` (legacy SQL; what ZetaSQL cannot analyze), `accessDenied` (the policy's
 * deny, with `decision` and `analysis` attached for the audit; a statement kind the request may not
 * run, `Ctx.statementKinds`, with `analysis`; job options whose effect the analysis cannot see).
 */
import { BigQueryError } from '../bigquery/index.js';
import type { Catalog } from '../catalog/index.js';
import type { Analyzer, QueryAnalysis } from '../sql/index.js';
import type { ZetaSqlPool } from '../sql/pool.js';
import { allowsExternalConnection, decideStatement, requireAnyAllow, rolesOf, type Decision } from '../policy/index.js';
import { MAX_OWN_JOBS, refuseJobsViews, withJobsQueryRedacted } from './jobs-views.js';
import { informationSchemaScope, withInformationSchema } from './infoschema-filter.js';
import type { Config } from '../config.js';
import type { JobStore } from '../state/index.js';
import { stage } from '../request-scope.js';
import { upstreamStatement } from './statement.js';
import { decisionAudit, type Ctx } from './context.js';

/** A statement the pipeline allowed; `sent` is the analysis of `sql`, the text generated for the upstream. */
export interface Checked { analysis: QueryAnalysis; decision: Decision; sql: string; sent: QueryAnalysis }

/** The statement stage: throws the refusal, with its decision attached. */
export type Check = (c: Ctx, projectId: string, q: { query?: unknown; useLegacySql?: unknown; defaultDataset?: any; queryParameters?: any[]; [k: string]: unknown }) => Promise<Checked>;

type Q = Parameters<Check>[2];
/**
 * Job options whose effect the analysis cannot see, refused before analysis (fail closed), and
 * legacy SQL. Sources: BigQuery REST reference, QueryRequest / JobConfigurationQuery.
 */
const JOB_OPTION_GUARDS: Array<{ field: string; refuses(q: Q): boolean; reason: 'accessDenied' | 'invalidQuery'; message: string; location?: string }> = [
  { field: 'tableDefinitions', refuses: (q) => Boolean(q.tableDefinitions), reason: 'accessDenied',
    message: 'Access Denied: tableDefinitions (external tables defined in the job) are refused by bqgate; query tables by name.' },
  { field: 'userDefinedFunctionResources', refuses: (q) => Array.isArray(q.userDefinedFunctionResources) && q.userDefinedFunctionResources.length > 0, reason: 'accessDenied',
    message: 'Access Denied: userDefinedFunctionResources (JavaScript UDF code attached to the job) are refused by bqgate.' },
  { field: 'createSession / connectionProperties.session_id', reason: 'accessDenied',
    refuses: (q) => Boolean(q.createSession) || (Array.isArray(q.connectionProperties) && q.connectionProperties.some((p: any) => p?.key === 'session_id')),
    message: 'Access Denied: session mode (createSession / session_id) is refused by bqgate: session state (temp tables, variables) is invisible to its analysis. Send self-contained statements.' },
  { field: 'useLegacySql', refuses: (q) => q.useLegacySql !== false, reason: 'invalidQuery', location: 'q',
    message: 'bqgate accepts GoogleSQL only; legacy SQL is refused. Set useLegacySql=false (bq: --nouse_legacy_sql, or "[query] --use_legacy_sql=false" in ~/.bigqueryrc).' },
];

/** The tables, models and columns a statement touches, for the audit `decision` event (`models` only when it names one). */
export const analysisAudit = (a: Pick<QueryAnalysis, 'statementKind' | 'tablesRead' | 'tablesWritten' | 'columnsRead'> & Partial<Pick<QueryAnalysis, 'modelsRead'>>) => ({
  statementKind: a.statementKind,
  tables: [...new Set([...a.tablesRead, ...a.tablesWritten])],
  ...(a.modelsRead?.length ? { models: [...a.modelsRead] } : {}),
  columns: [...new Set(a.columnsRead.map((c) => `${c.table}.${c.column}`))],
});

export function createCheck(parts: { cfg: Config; analyzer: Analyzer; zetasql: ZetaSqlPool; catalog: Catalog; hmacKey: Buffer; store: JobStore }): Check {
  const { cfg, analyzer, zetasql, catalog, hmacKey, store } = parts;
  return async function check(c, projectId, q) {
    const { policy, principal } = c;
    if (typeof q.query !== 'string' || !q.query.trim()) throw new BigQueryError('invalid', 'Required parameter is missing: query');
    requireAnyAllow(policy, principal); // before any analysis: nobody without an allow rule reaches the analyzer
    zetasql.precheck(q.query, cfg.analyzer.sqlLimits); // structural limits, quarantined statements
    for (const g of JOB_OPTION_GUARDS) if (g.refuses(q)) throw new BigQueryError(g.reason, g.message, g.location ? { location: g.location } : undefined);
    const text = q.query;
    // EXTERNAL_QUERY columns bqgate must ask the upstream for: only on connections this caller may use.
    const externalConnectionAllowed = (conn: string) => allowsExternalConnection(policy, principal, conn);
    const analysis: QueryAnalysis = await stage('analyze', () => analyzer.analyze({ sql: text, projectId, defaultDataset: q.defaultDataset, queryParameters: q.queryParameters, externalConnectionAllowed }));
    const only = c.statementKinds;
    if (only && !only.kinds.includes(analysis.statementKind)) {
      throw Object.assign(new BigQueryError('accessDenied', `Access Denied: this statement is ${analysis.statementKind}; ${only.why}`), { analysis });
    }
    const admin = rolesOf(policy, principal.groups).admin;
    // Metadata views: rows of readable datasets, tables and columns, and of the caller's own jobs only (infoschema-filter.ts).
    const scope = admin ? undefined : await informationSchemaScope(policy, principal, analysis, {
      catalog, analyze: (sql, p) => analyzer.analyze({ sql, projectId: p }),
      ownJobIds: async (p) => (await store.listJobs(p, principal.issuer, principal.subject, MAX_OWN_JOBS)).map((j) => j.jobId),
    });
    refuseJobsViews(analysis, admin, Object.keys(scope?.filters ?? {})); // any other JOBS view holds every principal's jobs (jobs-views.ts)
    const decision = await stage('policy', () => withJobsQueryRedacted(withInformationSchema(decideStatement(policy, principal, scope?.rest ?? analysis), scope), analysis));
    if (decision.effect === 'deny') throw Object.assign(new BigQueryError('accessDenied', decision.reasons[0]), { decision, analysis });
    if (/^(CREATE|ALTER|DROP|TRUNCATE|LOAD|SCRIPT)/.test(analysis.statementKind)) {
      for (const t of analysis.tablesWritten) catalog.invalidate(t); // DDL through the gateway: the schema cache must not outlive it
    }
    // What goes upstream is generated from the analysis, never the caller's bytes (pipeline/statement.ts).
    const sent = await upstreamStatement(analyzer, { sql: text, projectId, defaultDataset: q.defaultDataset, queryParameters: q.queryParameters, externalConnectionAllowed }, analysis, decision, hmacKey);
    c.audit = { ...decisionAudit(decision, sent.sql), ...analysisAudit(analysis) };
    return { analysis, decision, sql: sent.sql, sent: sent.analysis };
  };
}
