/**
 * The emulator's INFORMATION_SCHEMA views (src/emulator/information-schema.ts): each view's
 * column names and types as its BigQuery page lists them (URL per view), rows from the catalog,
 * dataset and region qualifiers, and the refusals. Run by the real engine over the fixtures.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { resolve } from 'node:path';
import { Engine } from '../src/emulator/engine.ts';

let engine: Engine;
beforeAll(async () => { engine = await Engine.open(resolve('fixtures')); });
const ctx = { projectId: 'demo-project' };
const run = (sql: string) => engine.run(sql, ctx);
const plain = (rows: unknown[][]) => JSON.parse(JSON.stringify(rows, (_k, v) => (typeof v === 'bigint' ? Number(v) : v)));

/** Columns (name TYPE) per view, from BigQuery's page for it. */
const DOCUMENTED: Record<string, { doc: string; scope: string; cols: string }> = {
  SCHEMATA: { doc: 'https://cloud.google.com/bigquery/docs/information-schema-datasets-schemata', scope: '`region-us`', cols: 'catalog_name STRING, schema_name STRING, schema_owner STRING, creation_time TIMESTAMP, last_modified_time TIMESTAMP, location STRING, ddl STRING, default_collation_name STRING' },
  TABLES: { doc: 'https://cloud.google.com/bigquery/docs/information-schema-tables', scope: 'shop', cols: 'table_catalog STRING, table_schema STRING, table_name STRING, table_type STRING, is_insertable_into STRING, is_typed STRING, is_change_history_enabled STRING, creation_time TIMESTAMP, base_table_catalog STRING, base_table_schema STRING, base_table_name STRING, snapshot_time_ms TIMESTAMP, ddl STRING, default_collation_name STRING, upsert_stream_apply_watermark TIMESTAMP' },
  COLUMNS: { doc: 'https://cloud.google.com/bigquery/docs/information-schema-columns', scope: 'shop', cols: 'table_catalog STRING, table_schema STRING, table_name STRING, column_name STRING, ordinal_position INTEGER, is_nullable STRING, data_type STRING, is_generated STRING, generation_expression STRING, is_stored STRING, is_hidden STRING, is_updatable STRING, is_system_defined STRING, is_partitioning_column STRING, clustering_ordinal_position INTEGER, collation_name STRING, column_default STRING, rounding_mode STRING, policy_tags ARRAY<STRING>' },
  COLUMN_FIELD_PATHS: { doc: 'https://cloud.google.com/bigquery/docs/information-schema-column-field-paths', scope: 'shop', cols: 'table_catalog STRING, table_schema STRING, table_name STRING, column_name STRING, field_path STRING, data_type STRING, description STRING, collation_name STRING, rounding_mode STRING, policy_tags ARRAY<STRING>' },
  TABLE_OPTIONS: { doc: 'https://cloud.google.com/bigquery/docs/information-schema-table-options', scope: 'shop', cols: 'table_catalog STRING, table_schema STRING, table_name STRING, option_name STRING, option_type STRING, option_value STRING' },
  VIEWS: { doc: 'https://cloud.google.com/bigquery/docs/information-schema-views', scope: 'shop', cols: 'table_catalog STRING, table_schema STRING, table_name STRING, view_definition STRING, check_option STRING, use_standard_sql STRING' },
  ROUTINES: { doc: 'https://cloud.google.com/bigquery/docs/information-schema-routines', scope: 'shop', cols: 'specific_catalog STRING, specific_schema STRING, specific_name STRING, routine_catalog STRING, routine_schema STRING, routine_name STRING, routine_type STRING, data_type STRING, routine_body STRING, routine_definition STRING, external_language STRING, is_deterministic STRING, security_type STRING, created TIMESTAMP, last_altered TIMESTAMP, ddl STRING, connection STRING' },
  PARAMETERS: { doc: 'https://cloud.google.com/bigquery/docs/information-schema-parameters', scope: 'shop', cols: 'specific_catalog STRING, specific_schema STRING, specific_name STRING, ordinal_position INTEGER, parameter_mode STRING, is_result STRING, parameter_name STRING, data_type STRING, parameter_default STRING, is_aggregate STRING' },
  PARTITIONS: { doc: 'https://cloud.google.com/bigquery/docs/information-schema-partitions', scope: 'shop', cols: 'table_catalog STRING, table_schema STRING, table_name STRING, partition_id STRING, total_rows INTEGER, total_logical_bytes INTEGER, total_billable_bytes INTEGER, last_modified_time TIMESTAMP, storage_tier STRING' },
};

describe('emulator INFORMATION_SCHEMA', () => {
  for (const [view, { doc, scope, cols }] of Object.entries(DOCUMENTED)) {
    it(`${view}: BigQuery's columns and types (${doc})`, async () => {
      const r = await run(`SELECT * FROM ${scope}.INFORMATION_SCHEMA.${view}`);
      const got = r.schema.map((f) => `${f.name} ${f.mode === 'REPEATED' ? `ARRAY<${f.type}>` : f.type}`).join(', ');
      console.log(`${view}: ${r.rows.length} rows`);
      expect(got).toBe(cols);
    });
  }

  it('TABLES and COLUMNS list the catalog: every table, its columns in order, BigQuery type names, REQUIRED as NOT NULL', async () => {
    const tables = plain((await run('SELECT table_name, table_type FROM `demo-project.shop.INFORMATION_SCHEMA.TABLES` ORDER BY table_name')).rows);
    const listed = engine.listTables().filter((t) => t.datasetId === 'shop').map((t) => [t.tableId, t.viewQuery !== undefined ? 'VIEW' : 'BASE TABLE']);
    expect(tables).toEqual(listed);
    const customers = engine.getTable('demo-project', 'shop', 'customers')!;
    const cols = plain((await run("SELECT column_name, ordinal_position, is_nullable, data_type, policy_tags FROM shop.INFORMATION_SCHEMA.COLUMNS WHERE table_name = 'customers' ORDER BY ordinal_position")).rows);
    expect(cols.map((c: any[]) => c[0])).toEqual(customers.schema.map((f) => f.name));
    expect(cols.find((c: any[]) => c[0] === 'customer_id').slice(2, 4)).toEqual(['NO', 'INT64']);
    expect(cols.find((c: any[]) => c[0] === 'tags')[3]).toBe('ARRAY<STRING>');
    expect(cols.find((c: any[]) => c[0] === 'address')[3]).toBe('STRUCT<street STRING, zip STRING>');
    expect(cols.find((c: any[]) => c[0] === 'ssn')[4].items).toEqual((customers.schema.find((f) => f.name === 'ssn') as any).policyTags.names);
  });

  it('COLUMN_FIELD_PATHS lists STRUCT subfields; VIEWS the view query; PARAMETERS the return type at position 0', async () => {
    expect(plain((await run("SELECT field_path, data_type FROM `demo-project`.shop.INFORMATION_SCHEMA.COLUMN_FIELD_PATHS WHERE table_name = 'customers' AND column_name = 'address' ORDER BY field_path")).rows))
      .toEqual([['address', 'STRUCT<street STRING, zip STRING>'], ['address.street', 'STRING'], ['address.zip', 'STRING']]);
    const views = plain((await run('SELECT table_name, view_definition, use_standard_sql FROM shop.INFORMATION_SCHEMA.VIEWS')).rows);
    expect(views.map((v: any[]) => [v[0], v[1], v[2]])).toEqual(engine.listTables().filter((t) => t.viewQuery !== undefined).map((t) => [t.tableId, t.viewQuery, 'YES']));
    const out = plain((await run("SELECT parameter_mode, is_result, data_type FROM shop.INFORMATION_SCHEMA.PARAMETERS WHERE specific_name = 'customer_email' AND ordinal_position = 0")).rows);
    expect(out).toEqual([['OUT', 'YES', 'STRING']]);
  });

  it('TABLE_OPTIONS shows what CREATE TABLE … OPTIONS set', async () => {
    await run("CREATE TABLE shop.is_opts (x INT64) OPTIONS (description = 'made for the test', labels = [('team', 'emu')])");
    const opts = plain((await run("SELECT option_name, option_type, option_value FROM shop.INFORMATION_SCHEMA.TABLE_OPTIONS WHERE table_name = 'is_opts' ORDER BY option_name")).rows);
    expect(opts).toEqual([['description', 'STRING', '"made for the test"'], ['labels', 'ARRAY<STRUCT<STRING, STRING>>', '[STRUCT("team", "emu")]']]);
    await run('DROP TABLE shop.is_opts');
  });

  it('a region qualifier spans the project\'s datasets; SCHEMATA takes only a region; PARTITIONS only a dataset', async () => {
    const region = plain((await run('SELECT DISTINCT table_schema FROM `region-us`.INFORMATION_SCHEMA.TABLES ORDER BY 1')).rows).map((r: any[]) => r[0]);
    expect(region).toEqual([...engine.catalog.datasets.values()].filter((d) => d.projectId === 'demo-project' && engine.listTables().some((t) => t.datasetId === d.datasetId)).map((d) => d.datasetId).sort());
    await expect(run('SELECT * FROM shop.INFORMATION_SCHEMA.SCHEMATA')).rejects.toMatchObject({ reason: 'invalidQuery' });
    await expect(run('SELECT * FROM `region-us`.INFORMATION_SCHEMA.PARTITIONS')).rejects.toMatchObject({ reason: 'invalidQuery' });
    await expect(run('SELECT * FROM nope.INFORMATION_SCHEMA.TABLES')).rejects.toMatchObject({ reason: 'notFound' });
    await expect(run('SELECT * FROM `region-eu`.INFORMATION_SCHEMA.TABLES')).rejects.toMatchObject({ reason: 'notFound' });
    await expect(run('SELECT * FROM `region-us`.INFORMATION_SCHEMA.JOBS_BY_FOLDER')).rejects.toMatchObject({ reason: 'notFound' });
    await expect(run('SELECT * FROM shop.INFORMATION_SCHEMA.JOBS')).rejects.toMatchObject({ reason: 'invalidQuery' }); // JOBS takes a region (test/emulator-jobs-view.test.ts)
  });

  it('the text INFORMATION_SCHEMA in a string literal is left alone', async () => {
    expect(plain((await run("SELECT 'shop.INFORMATION_SCHEMA.TABLES' AS s")).rows)).toEqual([['shop.INFORMATION_SCHEMA.TABLES']]);
  });
});
