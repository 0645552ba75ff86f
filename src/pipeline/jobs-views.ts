/**
 * INFORMATION_SCHEMA.JOBS* through the gateway (issue 20, part 3): every upstream job runs as the
 * gateway's own credential, so the upstream's JOBS, JOBS_BY_PROJECT, JOBS_BY_USER, JOBS_BY_FOLDER
 * and JOBS_BY_ORGANIZATION (https://cloud.google.com/bigquery/docs/information-schema-jobs) hold
 * every principal's job ids and query text. Until the gateway filters those rows to the caller's
 * own jobs, only a gateway administrator (policy `roles.admins`) may read them, whatever table rule
 * matches their names (a rule `tables: ["*"]` matches them too).
 *
 * `refuseJobsViews(analysis, admin)` throws BigQueryError('accessDenied') naming the view for
 * anyone else; the name is checked case-insensitively on every table the statement reads or writes,
 * its views' base tables included (names.ts writes them `project.scope.INFORMATION_SCHEMA.VIEW`).
 */
import { BigQueryError } from '../bigquery/index.js';
import type { QueryAnalysis } from '../sql/index.js';

/** JOBS, JOBS_BY_*, JOBS_TIMELINE*: any view whose name starts with JOBS. */
const JOBS_VIEW = /(^|\.)INFORMATION_SCHEMA\.JOBS/i;

/** The JOBS views among a statement's tables. */
export function jobsViewsOf(a: Pick<QueryAnalysis, 'tablesRead' | 'tablesWritten'> & Partial<Pick<QueryAnalysis, 'views'>>): string[] {
  const all = [...a.tablesRead, ...a.tablesWritten, ...Object.values(a.views ?? {}).flat()];
  return [...new Set(all.filter((t) => JOBS_VIEW.test(t)))].sort();
}

/** Throws accessDenied when a non-administrator's statement reads a JOBS view. */
export function refuseJobsViews(a: Parameters<typeof jobsViewsOf>[0], admin: boolean): void {
  if (admin) return;
  const views = jobsViewsOf(a);
  if (views.length) {
    throw Object.assign(new BigQueryError('accessDenied', `Access Denied: ${views[0]} holds every principal's jobs and query text (the upstream runs them all as the gateway); only a gateway administrator may read it. List your own jobs with jobs.list (bq ls -j).`), { analysis: a });
  }
}
