/**
 * The ZetaSQL LanguageFeatures BigQuery has that `getLanguageOptions{maximumFeatures}` leaves off
 * because this ZetaSQL build marks them `in_development` (zetasql/public/options.proto). Each is
 * enabled by name, with the BigQuery documentation of the syntax it admits. Features BigQuery does
 * not document (ANONYMIZATION's `SELECT WITH ANONYMIZATION`, SQL macros, TTL, sequences, …) stay
 * off, so the analyzer keeps refusing what BigQuery would refuse.
 */

/** Feature name (LanguageFeature enum) → the BigQuery doc page of the construct it enables. */
export const BIGQUERY_FEATURES: Readonly<Record<string, string>> = {
  // GROUP BY GROUPING SETS / CUBE / GROUP BY () and the GROUPING() aggregate
  FEATURE_V_1_4_GROUPING_SETS: 'https://cloud.google.com/bigquery/docs/reference/standard-sql/query-syntax#group_by_grouping_sets',
  FEATURE_V_1_4_GROUPING_BUILTIN: 'https://cloud.google.com/bigquery/docs/reference/standard-sql/aggregate_functions#grouping',
  // FULL / LEFT [OUTER] set operations, CORRESPONDING [BY (…)] (what UNION … BY NAME means)
  FEATURE_V_1_4_SET_OPERATION_COLUMN_PROPAGATION_MODE: 'https://cloud.google.com/bigquery/docs/reference/standard-sql/query-syntax#set_operators',
  FEATURE_V_1_4_CORRESPONDING_BY: 'https://cloud.google.com/bigquery/docs/reference/standard-sql/query-syntax#corresponding',
  // x LIKE ANY|SOME|ALL UNNEST(array)
  FEATURE_V_1_4_LIKE_ANY_SOME_ALL_ARRAY: 'https://cloud.google.com/bigquery/docs/reference/standard-sql/operators#like_operator_quantified',
  // TIMESTAMP_BUCKET, DATE_BUCKET, DATETIME_BUCKET
  FEATURE_TIME_BUCKET_FUNCTIONS: 'https://cloud.google.com/bigquery/docs/reference/standard-sql/time-series-functions',
  // the INTERVAL type, INTERVAL literals and date/time subtraction yielding INTERVAL
  FEATURE_INTERVAL_TYPE: 'https://cloud.google.com/bigquery/docs/reference/standard-sql/data-types#interval_type',
  // SELECT WITH DIFFERENTIAL_PRIVACY OPTIONS(epsilon, delta, max_groups_contributed, privacy_unit_column)
  FEATURE_DIFFERENTIAL_PRIVACY: 'https://cloud.google.com/bigquery/docs/reference/standard-sql/query-syntax#dp_clause',
  FEATURE_DIFFERENTIAL_PRIVACY_THRESHOLDING: 'https://cloud.google.com/bigquery/docs/reference/standard-sql/query-syntax#dp_clause',
  FEATURE_DIFFERENTIAL_PRIVACY_PUBLIC_GROUPS: 'https://cloud.google.com/bigquery/docs/reference/standard-sql/query-syntax#dp_clause',
  // COLLATE(), collation specifications in DDL and ORDER BY
  FEATURE_V_1_3_COLLATION_SUPPORT: 'https://cloud.google.com/bigquery/docs/reference/standard-sql/collation-concepts',
  FEATURE_V_1_4_COLLATION_IN_WITH_RECURSIVE: 'https://cloud.google.com/bigquery/docs/reference/standard-sql/collation-concepts',
  // DDL that reads no table: CREATE EXTERNAL TABLE … WITH PARTITION COLUMNS, ALTER COLUMN … SET DATA TYPE,
  // column OPTIONS in CREATE VIEW and ALTER VIEW … ALTER COLUMN … SET OPTIONS
  FEATURE_CREATE_EXTERNAL_TABLE_WITH_PARTITION_COLUMNS: 'https://cloud.google.com/bigquery/docs/reference/standard-sql/data-definition-language#create_external_table_statement',
  FEATURE_ALTER_COLUMN_SET_DATA_TYPE: 'https://cloud.google.com/bigquery/docs/reference/standard-sql/data-definition-language#alter_column_set_data_type_statement',
  FEATURE_CREATE_VIEWS_WITH_COLUMN_OPTIONS: 'https://cloud.google.com/bigquery/docs/reference/standard-sql/data-definition-language#view_column_option_list',
  FEATURE_ALTER_VIEWS_ALTER_COLUMN_SET_OPTIONS: 'https://cloud.google.com/bigquery/docs/reference/standard-sql/data-definition-language#alter_column_set_options_statement',
};

/**
 * The analyzer's LanguageOptionsProto: `max` (getLanguageOptions{maximumFeatures}) with
 * BIGQUERY_FEATURES enabled, BigQuery's product mode (PRODUCT_EXTERNAL) and `statementKinds`.
 */
export function bigQueryLanguageOptions(max: { enabledLanguageFeatures?: string[] }, statementKinds: string[]): Record<string, unknown> {
  return { ...max, enabledLanguageFeatures: withBigQueryFeatures(max.enabledLanguageFeatures), productMode: 'PRODUCT_EXTERNAL', supportedStatementKinds: statementKinds };
}

/**
 * `enabledLanguageFeatures` of the maximum options plus BIGQUERY_FEATURES, without duplicates, in
 * the order given then added.
 */
export function withBigQueryFeatures(enabled: readonly string[] = []): string[] {
  return [...new Set([...enabled, ...Object.keys(BIGQUERY_FEATURES)])];
}
