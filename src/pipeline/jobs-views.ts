/**
 * INFORMATION_SCHEMA.JOBS* through the gateway (issue 20, part 3): every upstream job runs as the
 * gateway's own credential, so the upstream's JOBS, JOBS_BY_PROJECT, JOBS_BY_USER, JOBS_BY_FOLDER
 * and JOBS_BY_ORGANIZATION (https://cloud.google.com/bigquery/docs/information-schema-jobs) hold
 * every principal's job ids and query text.
 *
 * - JOBS, JOBS_BY_USER and JOBS_BY_PROJECT of a region (`region-us.INFORMATION_SCHEMA.JOBS`) are
 *   served to everyone, filtered to the caller's own jobs (`ownJobs`: the ids the job store holds for
 *   the principal, as jobs.list lists them, and the child jobs of its scripts), with the columns
 *   that carry SQL text or plan detail NULL for non-administrators (OWN_JOBS_HIDDEN);
 * - JOBS_BY_FOLDER, JOBS_BY_ORGANIZATION (jobs of other projects, whose ids the store does not
 *   scope), JOBS_TIMELINE* and a JOBS view named any other way stay for gateway administrators
 *   (policy `roles.admins`) only, whatever table rule matches their names.
 *
 * `refuseJobsViews(analysis, admin, filtered)` throws BigQueryError('accessDenied') naming such a
 * view (or a JOBS view the statement writes or reads unfiltered) for anyone else; a script's JOBS
 * reads are filtered like a single statement's (infoschema-filter.ts); the name
 * is checked case-insensitively on every table the statement reads or writes, its views' base
 * tables included (names.ts writes them `project.scope.INFORMATION_SCHEMA.VIEW`).
 */
import { BigQueryError } from '../bigquery/index.js';
import type { QueryAnalysis } from '../sql/index.js';
import type { AppliedMaskRule } from '../policy/index.js';

/** JOBS, JOBS_BY_*, JOBS_TIMELINE*: any view whose name starts with JOBS. */
const JOBS_VIEW = /(^|\.)INFORMATION_SCHEMA\.JOBS/i;

/** The JOBS views served filtered to the caller's own jobs: `project.region-….INFORMATION_SCHEMA.JOBS[_BY_USER|_BY_PROJECT]`; group 1 is the project. */
export const OWN_JOBS_VIEW = /^([^.]+)\.region-[^.]+\.INFORMATION_SCHEMA\.(JOBS|JOBS_BY_USER|JOBS_BY_PROJECT)$/i;

/**
 * JOBS columns NULL for non-administrators, even on their own jobs: the upstream ran the SQL the
 * gateway generated, not the caller's text, so `query` carries the rewrite (keyed-mask pads,
 * row-filter predicates, inlined view bodies); `error_result` / `errors` messages can quote it;
 * `referenced_tables` names the base tables of inlined views; `job_stages` (plan steps quote
 * predicates and tables), `query_info` (hashes of the rewritten text), `destination_table` (the
 * upstream's anonymous table, which jobs.get shows as `_bqgate_results`), and the statistics that
 * name tables and indexes (search, vector search, materialized views, metadata cache). The
 * caller's own text stays in jobs.get (`bq show -j`).
 */
export const OWN_JOBS_HIDDEN = ['query', 'error_result', 'errors', 'referenced_tables', 'job_stages', 'query_info', 'destination_table',
  'search_statistics', 'vector_search_statistics', 'materialized_view_statistics', 'metadata_cache_statistics'];

/** The most recent own jobs a JOBS filter names (the job store's newest first); older ones are absent from the answer. */
export const MAX_OWN_JOBS = 10_000;

/** A GoogleSQL string literal of a job id (ids are [A-Za-z0-9_-], BigQuery's job id characters; anything else is escaped). */
const str = (s: string) => `'${s.replace(/[\\']/g, (c) => `\\${c}`).replace(/[^\x20-\x7e]/g, '')}'`;

/**
 * The row filter and hidden columns of a JOBS view for a principal whose own job ids are `ids`:
 * `job_id IN (…) OR parent_job_id IN (…)` (a script's child jobs carry the parent's id), `FALSE`
 * when it has none, never an unfiltered view.
 */
export function ownJobs(ids: string[]): { filter: string; hidden: string[] } {
  const list = [...new Set(ids)].sort().map(str).join(', ');
  return { filter: ids.length ? `job_id IN (${list}) OR parent_job_id IN (${list})` : 'FALSE', hidden: [...OWN_JOBS_HIDDEN] };
}

/** The JOBS views among a statement's tables. */
export function jobsViewsOf(a: Pick<QueryAnalysis, 'tablesRead' | 'tablesWritten'> & Partial<Pick<QueryAnalysis, 'views'>>): string[] {
  const all = [...a.tablesRead, ...a.tablesWritten, ...Object.values(a.views ?? {}).flat()];
  return [...new Set(all.filter((t) => JOBS_VIEW.test(t)))].sort();
}

/**
 * Throws accessDenied when a non-administrator's statement reads (or writes) a JOBS view other than
 * those in `filtered`, the views the statement's row filters scope to the caller's jobs (ownJobs via
 * infoschema-filter.ts, in a script's statements too).
 */
export function refuseJobsViews(a: Parameters<typeof jobsViewsOf>[0], admin: boolean, filtered: readonly string[] = []): void {
  if (admin) return;
  const views = jobsViewsOf(a).filter((v) => !(OWN_JOBS_VIEW.test(v) && filtered.includes(v)) || a.tablesWritten.includes(v));
  if (views.length) {
    const why = OWN_JOBS_VIEW.test(views[0]) ? 'bqgate scopes it to your own jobs only where a query reads it' : 'bqgate cannot scope it to your own jobs';
    const message = `Access Denied: ${views[0]} holds every principal's jobs and query text (the upstream runs them all as the gateway) and ${why}; `
      + 'only a gateway administrator may read it so. Read your own jobs in `region-us`.INFORMATION_SCHEMA.JOBS or with jobs.list (bq ls -j).';
    throw Object.assign(new BigQueryError('accessDenied', message), { analysis: a });
  }
}

/**
 * The decision with every JOBS view the statement scans that has a STRING `query` column masked
 * REDACT_MASK_SECRETS (rewrite/masks.ts): the upstream's `query` is the SQL the gateway sent, with
 * the HMAC_SHA256 pads (from which the gateway's key follows) and RANDOM_HASH salts of masked jobs
 * written in it. For everyone, administrators included; a column the decision already denies
 * (non-administrators, OWN_JOBS_HIDDEN) stays NULL.
 */
export function withJobsQueryRedacted<D extends { effect: string; masks: Record<string, Record<string, { rule: AppliedMaskRule; ruleId: string }>> }>(
  d: D, a: Pick<QueryAnalysis, 'tablesRead' | 'tablesWritten' | 'tables'> & Partial<Pick<QueryAnalysis, 'views'>>,
): D {
  if (d.effect !== 'allow') return d;
  const views = jobsViewsOf(a).filter((v) => a.tables[v]?.some((f) => f.name.toLowerCase() === 'query' && f.type === 'STRING'));
  if (!views.length) return d;
  const masks = { ...d.masks };
  for (const v of views) {
    const col = a.tables[v].find((f) => f.name.toLowerCase() === 'query')!.name;
    masks[v] = { ...masks[v], [col]: { rule: 'REDACT_MASK_SECRETS', ruleId: 'bqgate:jobs-query-mask-secrets' } };
  }
  return { ...d, masks };
}
