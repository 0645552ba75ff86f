/** Analyzer options bqgate passes to ZetaSQL for every statement. */

/** BigQuery's system variables (https://cloud.google.com/bigquery/docs/reference/system-variables). */
export const SYSTEM_VARIABLES = [
  ['current_job_id', 'TYPE_STRING'], ['dataset_id', 'TYPE_STRING'], ['dataset_project_id', 'TYPE_STRING'], ['last_job_id', 'TYPE_STRING'],
  ['location', 'TYPE_STRING'], ['project_id', 'TYPE_STRING'], ['query_label', 'TYPE_STRING'], ['reservation', 'TYPE_STRING'],
  ['row_count', 'TYPE_INT64'], ['session_id', 'TYPE_STRING'], ['time_zone', 'TYPE_STRING'], ['error.message', 'TYPE_STRING'],
  ['script.bytes_billed', 'TYPE_INT64'], ['script.bytes_processed', 'TYPE_INT64'], ['script.creation_time', 'TYPE_TIMESTAMP'],
  ['script.job_id', 'TYPE_STRING'], ['script.num_child_jobs', 'TYPE_INT64'], ['script.slot_ms', 'TYPE_INT64'],
].map(([name, kind]) => ({ namePath: name.split('.'), type: { typeKind: kind } }));
