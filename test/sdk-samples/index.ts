/**
 * Every workflow of the SDK sample suite, one per file of googleapis/nodejs-bigquery `samples/`
 * (the repository's top-level samples; the generated/ GAPIC snippets use another client), in the
 * order they run: models last but one group (deleteModel.js removes the fixture model), jobs and
 * transfers after.
 */
import type { Workflow } from './scope.ts';
import { QUERY_WORKFLOWS } from './queries.ts';
import { TABLE_WORKFLOWS } from './tables.ts';
import { DATASET_WORKFLOWS, ROUTINE_WORKFLOWS, MODEL_WORKFLOWS, JOB_WORKFLOWS } from './resources.ts';
import { TRANSFER_WORKFLOWS, usesGcs } from './transfers.ts';

export const WORKFLOWS: Workflow[] = [...QUERY_WORKFLOWS, ...TABLE_WORKFLOWS, ...DATASET_WORKFLOWS, ...ROUTINE_WORKFLOWS, ...JOB_WORKFLOWS, ...TRANSFER_WORKFLOWS, ...MODEL_WORKFLOWS];
export { usesGcs };
export type { Scope, Workflow, Gcs, Who } from './scope.ts';
