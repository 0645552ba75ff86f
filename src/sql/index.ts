/**
 * `sql/`: GoogleSQL text → `QueryAnalysis`, with ZetaSQL's analyzer resolving every name against a
 * catalog built from the tables the statement names.
 *
 * Steps: ExtractTableNamesFromStatement → qualify each name with the request's project and
 * defaultDataset → fetch schemas (TableSource, i.e. the catalog stage) → register a SimpleCatalog
 * answering exactly the spellings used (cached) → Analyze with every statement kind enabled and
 * parse locations recorded → walk the resolved AST (walk.ts).
 *
 * Errors: `BigQueryError('invalidQuery')` for SQL ZetaSQL cannot read or resolve, or a shape bqgate
 * does not analyze yet (scripts, wildcard tables, INFORMATION_SCHEMA); `notFound` for a missing
 * table; `backendError` while the analyzer is down. Nothing unanalyzed is ever let through.
 */
import { createHash } from 'node:crypto';
import { BigQueryError } from '../bigquery/errors.js';
import type { BqField } from '../emulator/encode.js';
import { ZetaSqlServer, allStatementKinds } from './zetasql.js';
import { fieldType, parameterType } from './types.js';
import { dmlTarget, functionNames, outputColumns, statementKind, tableScans, type TableScan } from './walk.js';

export { ZetaSqlServer } from './zetasql.js';
export { typeSql } from './types.js';
export type { TableScan } from './walk.js';

export interface TableInfo {
  /** `project.dataset.table` */
  fullName: string;
  schema: BqField[];
}

/** Where table schemas come from (the catalog stage). Throws BigQueryError(notFound) for a missing table. */
export interface TableSource {
  getTable(fullName: string): Promise<TableInfo>;
}

export interface QueryParameter {
  name?: string;
  parameterType: { type: string; arrayType?: any; structTypes?: any[] };
  parameterValue?: unknown;
}

export interface AnalyzeInput {
  sql: string;
  /** The job's project: qualifies `dataset.table`. */
  projectId: string;
  defaultDataset?: { projectId?: string; datasetId: string };
  queryParameters?: QueryParameter[];
}

export interface ColumnRef { table: string; column: string }

/** What a statement does, in plain data. */
export interface QueryAnalysis {
  /** SELECT, INSERT, UPDATE, DELETE, MERGE, CREATE_TABLE_AS_SELECT, … */
  statementKind: string;
  tablesRead: string[];
  tablesWritten: string[];
  /** Every column of every table read, used anywhere in the statement. */
  columnsRead: ColumnRef[];
  /** Table scans with their byte ranges, for the rewrite stage. */
  scans: TableScan[];
  /** Result column names (queries). */
  outputColumns: string[];
  /** Functions called (ZetaSQL names). */
  functions: string[];
  /** Schemas of the tables involved, by full name. */
  tables: Record<string, BqField[]>;
}

let cachedOptions: { generation: number; value: any } | undefined;

/** The analyzer. One per gateway; safe for concurrent use. */
export class Analyzer {
  private catalogs = new Map<string, { id: string; generation: number }>();

  constructor(private readonly server: ZetaSqlServer, private readonly source: TableSource) {}

  private async languageOptions(): Promise<any> {
    const gen = this.server.generation;
    if (cachedOptions?.generation === gen) return cachedOptions.value;
    const max = await this.server.call('getLanguageOptions', { maximumFeatures: true });
    const value = { ...max, productMode: 'PRODUCT_EXTERNAL', supportedStatementKinds: allStatementKinds() };
    cachedOptions = { generation: gen, value };
    return value;
  }

  /** Analyzes one statement. See the module comment for the errors thrown. */
  async analyze(input: AnalyzeInput): Promise<QueryAnalysis> {
    const lo = await this.languageOptions();
    let names: string[][];
    try {
      const r = await this.server.call('extractTableNamesFromStatement', { sqlStatement: input.sql, options: lo, allowScript: false });
      names = (r.tableName ?? []).map((t: any) => t.tableNameSegment as string[]);
    } catch (err) {
      throw analysisError(err, input.sql);
    }
    const spelled = new Map<string, { segments: string[]; full: string }>();
    for (const segs of names) spelled.set(segs.join('\u0000'), { segments: segs, full: qualify(segs, input) });
    const infos = new Map<string, TableInfo>();
    for (const { full } of spelled.values()) if (!infos.has(full)) infos.set(full, await this.source.getTable(full));

    const catalogId = await this.registerCatalog([...spelled.values()], infos, lo);
    const options: Record<string, unknown> = {
      languageOptions: lo, pruneUnusedColumns: true, parseLocationRecordType: 'PARSE_LOCATION_RECORD_CODE_SEARCH',
      errorMessageMode: 'ERROR_MESSAGE_ONE_LINE', defaultTimezone: 'UTC',
    };
    const params = input.queryParameters ?? [];
    if (params.length && params.every((p) => p.name)) {
      options.parameterMode = 'PARAMETER_NAMED';
      options.queryParameters = params.map((p) => ({ name: p.name!.toLowerCase(), type: parameterType(p.parameterType) }));
    } else if (params.length) {
      options.parameterMode = 'PARAMETER_POSITIONAL';
      options.positionalQueryParameters = params.map((p) => parameterType(p.parameterType));
    }
    let resolved: Record<string, any>;
    try {
      const r = await this.server.call('analyze', { registeredCatalogId: catalogId, sqlStatement: input.sql, options });
      resolved = r.resolvedStatement;
    } catch (err) {
      throw analysisError(err, input.sql);
    }
    if (!resolved) throw new BigQueryError('invalidQuery', 'bqgate could not analyze this statement (the analyzer returned nothing); it was not run.', { location: 'q' });

    const kind = statementKind(resolved);
    const scans = tableScans(resolved);
    const target = dmlTarget(resolved);
    const read = new Map<string, Set<string>>();
    for (const s of scans) {
      if (!read.has(s.table)) read.set(s.table, new Set());
      for (const c of s.columns) read.get(s.table)!.add(c);
    }
    const written = target ? [target] : [];
    if (target && kind === 'INSERT') read.delete(target); // an INSERT's target scan lists the columns written, not read
    const tables: Record<string, BqField[]> = {};
    for (const [full, info] of infos) tables[full] = info.schema;
    return {
      statementKind: kind,
      tablesRead: [...read.keys()].sort(),
      tablesWritten: written,
      columnsRead: [...read.entries()].flatMap(([table, cols]) => [...cols].sort().map((column) => ({ table, column }))),
      scans,
      outputColumns: outputColumns(resolved),
      functions: [...functionNames(resolved)].sort(),
      tables,
    };
  }

  private async registerCatalog(entries: Array<{ segments: string[]; full: string }>, infos: Map<string, TableInfo>, lo: any): Promise<string> {
    const gen = this.server.generation;
    const key = createHash('sha256').update(JSON.stringify(entries.map((e) => [e.segments, e.full, infos.get(e.full)!.schema]))).digest('hex');
    const hit = this.catalogs.get(key);
    if (hit && hit.generation === gen) return hit.id;
    const root: any = { name: 'bqgate', table: [], catalog: [], builtinFunctionOptions: { languageOptions: lo } };
    let serial = 1;
    for (const e of entries) {
      let cat = root;
      for (const part of e.segments.slice(0, -1)) {
        let sub = cat.catalog.find((c: any) => c.name === part);
        if (!sub) { sub = { name: part, table: [], catalog: [] }; cat.catalog.push(sub); }
        cat = sub;
      }
      const name = e.segments[e.segments.length - 1];
      if (cat.table.some((t: any) => t.name === name)) continue;
      cat.table.push({
        name, fullName: e.full, serializationId: String(serial++),
        column: infos.get(e.full)!.schema.map((f) => ({ name: f.name, type: fieldType(f) })),
      });
    }
    const r = await this.server.call('registerCatalog', { simpleCatalog: root });
    if (this.catalogs.size > 500) {
      const [oldKey, old] = this.catalogs.entries().next().value as [string, { id: string; generation: number }];
      this.catalogs.delete(oldKey);
      if (old.generation === gen) this.server.call('unregisterCatalog', { registeredId: old.id }).catch(() => {});
    }
    this.catalogs.set(key, { id: r.registeredId, generation: gen });
    return r.registeredId;
  }
}

/** `segments` as written → `project.dataset.table`, per BigQuery's name resolution. */
export function qualify(segments: string[], input: Pick<AnalyzeInput, 'projectId' | 'defaultDataset'>): string {
  const parts = segments.flatMap((s) => s.split('.'));
  const shown = parts.join('.');
  if (parts.some((p) => p.includes('*'))) {
    throw new BigQueryError('invalidQuery', `Wildcard table ${shown} is not supported by bqgate yet; name the tables explicitly (UNION ALL).`, { location: 'q' });
  }
  if (parts.some((p) => p.toUpperCase() === 'INFORMATION_SCHEMA')) {
    throw new BigQueryError('invalidQuery', `INFORMATION_SCHEMA views (${shown}) are not supported by bqgate yet; use tables.get / tables.list instead.`, { location: 'q' });
  }
  if (parts.length === 3) return shown;
  if (parts.length === 2) return `${input.projectId}.${shown}`;
  if (parts.length === 1) {
    if (!input.defaultDataset) throw new BigQueryError('invalidQuery', `Table name "${shown}" missing dataset while no default dataset is set in the request.`, { location: 'q' });
    return `${input.defaultDataset.projectId ?? input.projectId}.${input.defaultDataset.datasetId}.${shown}`;
  }
  throw new BigQueryError('invalidQuery', `Table name "${shown}" has ${parts.length} parts; bqgate expects project.dataset.table.`, { location: 'q' });
}

function analysisError(err: unknown, _sql: string): BigQueryError {
  if (err instanceof BigQueryError) return err;
  const details = String((err as { details?: string }).details ?? (err as Error).message ?? 'unknown error');
  if (/Statement not supported|not supported/i.test(details)) {
    return new BigQueryError('invalidQuery', `bqgate cannot analyze this statement kind yet, so it was not run: ${details}`, { location: 'q' });
  }
  if (/Syntax error/i.test(details)) return new BigQueryError('invalidQuery', details, { location: 'q' });
  return new BigQueryError('invalidQuery', `bqgate could not analyze the query, so it was not run: ${details}`, { location: 'q' });
}
