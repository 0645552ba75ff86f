/**
 * The emulator's storage and execution: DuckDB in memory, one attached catalog per BigQuery
 * project, one schema per dataset, loaded from `fixtures/<project>/<dataset>/<table>.schema.json`
 * and `<table>.jsonl.gz`; views from `<view>.view.sql` (GoogleSQL, translated like any query).
 *
 * `run(sql, ctx, opts)` translates GoogleSQL to DuckDB (translate.ts), checks the statement
 * (guard.ts: its kind, its plan, the tables the gateway declared), estimates the bytes it
 * processes (bytes.ts) against maximumBytesBilled, binds query parameters and returns the BigQuery
 * schema plus the raw DuckDB rows; `encodeRow` turns rows into f/v cells at read time.
 *
 * DuckDB is locked down once the fixtures are loaded: no external access (files, network), no
 * extension autoload or autoinstall, and the configuration locked so no statement can undo it.
 */
import { DuckDBInstance, type DuckDBConnection, type DuckDBPreparedStatement, type DuckDBValue, type DuckDBType, DuckDBTypeId, StatementType as StatementTypes } from '@duckdb/node-api';
import { readdirSync, readFileSync, existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { BigQueryError } from '../bigquery/errors.js';
import { bqToDuck, duckToField, type BqField } from './encode.js';
import { toDuckDb } from './translate.js';
import { nativeMasks } from './native-masks.js';
import { nativeFunctionDdl } from './translate-functions.js';
import { registerNativeFunctions } from './native-functions.js';
import { registerJsonFunctions } from './json-functions.js';
import { registerToJsonString } from './to-json-string.js';
import { extractInfoSchema, infoSchemaSubquery, sourceFor, INFO_PREFIX, type InfoRef, type InfoSource, type InfoJob } from './information-schema.js';
import { timeTravelClauses, versionAt, HISTORY_DATASET, TIME_TRAVEL_WINDOW_US, type TableVersion } from './time-travel.js';
import {
  expectedDuckType, checkDuckType, refuseFunctionsByName, planScans, checkCreatePlan, checkDropText, checkDeclaredTables,
  type Declared, type PlanNode, type PlanScan,
} from './guard.js';
import { sizeExpression, billedBytes } from './bytes.js';
import { Catalog, type TableMeta, type TablePatch } from './catalog.js';
import { ddlOptions, ddlShape, statementStart, statementType, type DdlShape } from './ddl.js';
import { functionDdl } from './function-ddl.js';
import { routineStore } from './routines.js';
import { ConnectionPool } from './connections.js';

export { statementType } from './ddl.js';
import { typedParameter, type QueryParameter } from './params.js';
import { divisionByZeroMessage } from './translate-divide.js';
import { decimalErrorMessage } from './translate-numeric.js';

export type { TableMeta } from './catalog.js';

export interface RunContext {
  projectId: string;
  defaultDataset?: { projectId?: string; datasetId: string };
  /** BigQuery queryParameters as both clients send them (CONTRACT.md §7). */
  queryParameters?: QueryParameter[];
  /** The user the job runs as (its `bqgate_principal` label; INFORMATION_SCHEMA.JOBS_BY_USER). */
  user?: string;
}

export type { QueryParameter } from './params.js';

export interface RunOptions {
  /** What the gateway analyzed (guard.ts): the statement must be of that kind and touch only those tables. */
  declared?: Declared;
  /** BigQuery's maximumBytesBilled: refused (bytesBilledLimitExceeded) before running when the statement would bill more. */
  maximumBytesBilled?: number;
  /** Interrupts DuckDB when aborted; the run then rejects with `signal.reason`. */
  signal?: AbortSignal;
  /** Check and estimate only (a dry run): nothing runs, no rows. */
  dryRun?: boolean;
  /**
   * Filled with the ms (performance.now) each phase of a single-statement run took: `translate`
   * (time travel, DDL shape, translation or its cache), `connect` (connection, USE, the one-statement
   * check), `prepare` (DuckDB prepare and bind), `plan` (EXPLAIN), `guard` (scans, declared tables,
   * bytes), `execute` (DuckDB run, rows read). For profiles (bench/emulator-profile.ts).
   */
  timings?: Record<string, number>;
  /** A script's open transaction (transaction.ts): the statement runs on its connection, which stays open; the tables it writes are added to `written`. */
  transaction?: { connection: DuckDBConnection; written: Set<string> };
}

export interface RunResult {
  schema: BqField[];
  rows: DuckDBValue[][];
  statementType: string;
  numDmlAffectedRows?: number;
  /** Bytes the statement processes and bills, as BigQuery counts them (bytes.ts). */
  totalBytesProcessed: number;
  totalBytesBilled: number;
  /** For DDL: what was done (CREATE, REPLACE, DROP, SKIP) and to which table or dataset, as statistics.query reports it. */
  ddl?: { operation: 'CREATE' | 'REPLACE' | 'DROP' | 'SKIP'; table?: { projectId: string; datasetId: string; tableId: string }; dataset?: { projectId: string; datasetId: string }; routine?: { projectId: string; datasetId: string; routineId: string } };
}

/**
 * DuckDB's Top-N late materialization for LIMITs up to 100,000 rows (DuckDB's default: 50): `SELECT <masked
 * projections> … ORDER BY k LIMIT n` then computes the ORDER BY key over the scan, keeps the Top-N
 * row ids and computes the other projections (the gateway's masks) for those n rows only, joined
 * back by row id — the same rows and values, DuckDB's own optimizer rewrite
 * (https://duckdb.org/docs/stable/configuration/overview, `late_materialization_max_rows`). Without
 * it the benchmark's masked 100-row query hashed every one of the 10,000 rows before the Top-N.
 */
const LATE_MATERIALIZATION_ROWS = 100_000;

/** The late materialization setting, BQGATE_EMULATOR_LATE_MATERIALIZATION (rows; 50 is DuckDB's default) read when an engine opens, for before/after measurements. */
const lateMaterialization = () => {
  const n = Number(process.env.BQGATE_EMULATOR_LATE_MATERIALIZATION ?? LATE_MATERIALIZATION_ROWS);
  return `late_materialization_max_rows = ${Number.isSafeInteger(n) && n >= 0 ? n : LATE_MATERIALIZATION_ROWS}`;
};

/** Settings applied once the fixtures are loaded; `lock_configuration` last, so no statement can change them back. */
const LOCKDOWN = ['enable_external_access = false', 'autoload_known_extensions = false', 'autoinstall_known_extensions = false', 'allow_community_extensions = false', 'lock_configuration = true'];

/** How often a cancelled statement's connection is interrupted again until its run ends (ms). */
const INTERRUPT_REPEAT_MS = 20;

/** Translations the engine keeps (see Engine.translate). */
const TRANSLATIONS_KEPT = 1000;

const quote = (s: string) => `"${s.replace(/"/g, '""')}"`;

/** `fixtures/<project>/<dataset>/` directories. */
function fixtureDatasets(fixturesDir: string): Array<{ project: string; dataset: string; dir: string }> {
  const dirs = (d: string) => (existsSync(d) ? readdirSync(d).filter((n) => statSync(join(d, n)).isDirectory()) : []);
  return dirs(fixturesDir).flatMap((project) => dirs(join(fixturesDir, project)).map((dataset) => ({ project, dataset, dir: join(fixturesDir, project, dataset) })));
}

export class Engine {
  /** Past states of tables changed by DML (time-travel.ts), by `p.d.t`, oldest first. */
  private readonly history = new Map<string, TableVersion[]>();
  /** Bytes per column of scanned tables (bytes.ts), by `p.d.t` (or a time-travel copy's path); dropped when the table is written. */
  private readonly sizes = new Map<string, Map<string, number>>();
  /** The fixtures directory it was opened from (routines.ts loads `*.routine.json` from it). */
  fixturesDir?: string;

  /** Datasets and tables as BigQuery resources (catalog.ts). */
  readonly catalog: Catalog;

  private constructor(private readonly db: DuckDBInstance, private readonly tables: Map<string, TableMeta>, projects: Set<string>) {
    this.catalog = new Catalog(db, tables, projects);
    this.pool = new ConnectionPool(db);
  }

  /** Idle connections and their prepared statements, for statements outside a transaction (connections.ts). */
  private readonly pool: ConnectionPool;

  /** Opens DuckDB and loads every table under `fixturesDir`; throws if a fixture cannot be read. */
  static async open(fixturesDir: string): Promise<Engine> {
    const db = await DuckDBInstance.create(':memory:');
    const con = await db.connect();
    const tables = new Map<string, TableMeta>();
    const created = Date.UTC(2026, 10, 1);
    const datasets = fixtureDatasets(fixturesDir);
    for (const project of new Set(datasets.map((d) => d.project))) await con.run(`ATTACH ':memory:' AS ${quote(project)}`);
    for (const { project, dataset, dir } of datasets) {
      await con.run(`CREATE SCHEMA ${quote(project)}.${quote(dataset)}`);
      for (const file of readdirSync(dir).filter((f) => f.endsWith('.schema.json')).sort()) {
        const tableId = file.replace(/\.schema\.json$/, '');
        const schema = JSON.parse(readFileSync(join(dir, file), 'utf8')) as BqField[];
        const target = `${quote(project)}.${quote(dataset)}.${quote(tableId)}`;
        const cols = schema.map((f) => `${quote(f.name)} ${bqToDuck(f)}`).join(', ');
        await con.run(`CREATE TABLE ${target} (${cols})`);
        const data = join(dir, `${tableId}.jsonl.gz`);
        if (existsSync(data)) {
          const spec = `{${schema.map((f) => `'${f.name}': '${bqToDuck(f).replace(/'/g, "''")}'`).join(', ')}}`;
          await con.run(`INSERT INTO ${target} SELECT * FROM read_json('${data.replace(/'/g, "''")}', format='newline_delimited', columns=${spec})`);
        }
        const n = Number((await con.runAndReadAll(`SELECT count(*) FROM ${target}`)).getRows()[0][0]);
        tables.set(`${project}.${dataset}.${tableId}`, { projectId: project, datasetId: dataset, tableId, schema, numRows: n, creationTime: created });
      }
    }
    registerNativeFunctions(con); // JS scalars the macros below call (native-functions.ts)
    for (const ddl of nativeFunctionDdl()) await con.run(ddl); // GoogleSQL functions DuckDB lacks (translate-functions.ts)
    registerJsonFunctions(con); // JSON mutators (json-functions.ts)
    registerToJsonString(con); // TO_JSON_STRING's encodings (to-json-string.ts)
    for (const setting of [lateMaterialization(), ...LOCKDOWN]) await con.run(`SET GLOBAL ${setting}`);
    // Views last: their definitions may read any table.
    const engine = new Engine(db, tables, new Set(datasets.map((d) => d.project)));
    engine.fixturesDir = fixturesDir;
    for (const { project, dataset } of datasets) engine.catalog.register({ projectId: project, datasetId: dataset, creationTime: created, lastModifiedTime: created });
    for (const { project, dataset, dir } of datasets) {
      for (const file of readdirSync(dir).filter((f) => f.endsWith('.view.sql')).sort()) {
        const viewId = file.replace(/\.view\.sql$/, '');
        const query = readFileSync(join(dir, file), 'utf8').trim();
        const [duck] = toDuckDb(query, (path) => engine.matchWildcard(path, project));
        await con.run(`CREATE VIEW ${quote(project)}.${quote(dataset)}.${quote(viewId)} AS ${duck}`);
        const r = await engine.run(`SELECT * FROM \`${project}.${dataset}.${viewId}\` LIMIT 0`, { projectId: project });
        tables.set(`${project}.${dataset}.${viewId}`, { projectId: project, datasetId: dataset, tableId: viewId, schema: r.schema, numRows: 0, creationTime: created, viewQuery: query });
      }
    }
    con.closeSync();
    return engine;
  }

  /** Whether the masking rules' spellings run as native DuckDB expressions (native-masks.ts); BQGATE_EMULATOR_NATIVE_MASKS=0 turns it off. */
  nativeMasks = process.env.BQGATE_EMULATOR_NATIVE_MASKS !== '0';

  /** DuckDB text of GoogleSQL statements, by statement text and JSON parameters (LRU, TRANSLATIONS_KEPT); statements over wildcard tables are not kept (they depend on the tables that exist). */
  private readonly translations = new Map<string, string[]>();

  /** `sql` translated (translate.ts), the masks made native when on; from the cache when translated before. */
  private translate(sql: string, jsonParams: Set<string>, resolve: (path: string) => Array<[string, string, string, string]>): string[] {
    const key = JSON.stringify([this.nativeMasks, sql, [...jsonParams].sort()]);
    const hit = this.translations.get(key);
    if (hit) {
      this.translations.delete(key); // LRU: to the back
      this.translations.set(key, hit);
      return hit;
    }
    let wildcard = false;
    const out = toDuckDb(sql, (path) => { wildcard = true; return resolve(path); }, (n) => (jsonParams.has(n) ? 'JSON' : undefined))
      .map((s) => (this.nativeMasks ? nativeMasks(s) : s));
    if (!wildcard) {
      this.translations.set(key, out);
      if (this.translations.size > TRANSLATIONS_KEPT) this.translations.delete(this.translations.keys().next().value as string);
    }
    return out;
  }

  /** The REST server's jobs, for INFORMATION_SCHEMA.JOBS (server.ts sets it). */
  jobSource?: () => InfoJob[];
  /** DuckDB texts DuckDB's parser read as exactly one statement (a property of the text alone), so the check is not repeated; at most TRANSLATIONS_KEPT, oldest dropped first. */
  private readonly single = new Set<string>();

  /** Translated text with each INFORMATION_SCHEMA placeholder replaced by its view's rows (information-schema.ts). */
  private withInfoSchema(duck: string, refs: InfoRef[], user?: string): string {
    const all: InfoSource = { location: 'US', datasets: [...this.catalog.datasets.values()], tables: this.listTables(), routines: [...routineStore(this).values()], jobs: this.jobSource?.() ?? [], user };
    return duck.replace(new RegExp(`"?${INFO_PREFIX}(\\d+)"?`, 'g'), (_m, i: string) => infoSchemaSubquery(refs[Number(i)], sourceFor(refs[Number(i)], all)));
  }

  /** Every table, in name order. */
  listTables(): TableMeta[] {
    return [...this.tables.values()].sort((a, b) => `${a.projectId}.${a.datasetId}.${a.tableId}`.localeCompare(`${b.projectId}.${b.datasetId}.${b.tableId}`));
  }

  getTable(projectId: string, datasetId: string, tableId: string): TableMeta | undefined {
    return this.tables.get(`${projectId}.${datasetId}.${tableId}`);
  }

  /** Reads rows `[start, start+count)` of a table in storage order, every column or `selected` ones. */
  async readTable(t: TableMeta, start: number, count: number, selected?: string[]): Promise<{ schema: BqField[]; rows: DuckDBValue[][] }> {
    const fields = selected?.length ? t.schema.filter((f) => selected.includes(f.name)) : t.schema;
    const con = await this.db.connect();
    try {
      const r = await con.runAndReadAll(`SELECT ${fields.map((f) => quote(f.name)).join(', ')} FROM ${quote(t.projectId)}.${quote(t.datasetId)}.${quote(t.tableId)} LIMIT ${count} OFFSET ${start}`);
      return { schema: fields, rows: r.getRows() as DuckDBValue[][] };
    } finally { con.closeSync(); }
  }

  /** Before the emulator itself writes a table (copy, load, truncation): its state kept for time travel, its sizes forgotten. */
  async beforeWrite(key: string): Promise<void> {
    await this.keepVersion(key);
    this.sizes.delete(key);
  }

  /** Appends typed rows (one value per schema field, in order) to a table; its past state is kept for time travel. */
  async insertTyped(t: TableMeta, rows: Array<Array<{ value: DuckDBValue; type: DuckDBType }>>): Promise<void> {
    if (!rows.length) return;
    const key = `${t.projectId}.${t.datasetId}.${t.tableId}`;
    await this.keepVersion(key);
    const con = await this.db.connect();
    try {
      const ps = await con.prepare(`INSERT INTO ${quote(t.projectId)}.${quote(t.datasetId)}.${quote(t.tableId)} (${t.schema.map((f) => quote(f.name)).join(', ')}) VALUES (${t.schema.map(() => '?').join(', ')})`);
      await con.run('BEGIN TRANSACTION');
      try {
        for (const r of rows) { ps.bind(r.map((c) => c.value), r.map((c) => c.type)); await ps.run(); }
        await con.run('COMMIT');
      } catch (err) { await con.run('ROLLBACK'); throw err; }
    } finally { con.closeSync(); }
    this.sizes.delete(key);
    await this.catalog.recount(key);
  }

  /**
   * Runs one GoogleSQL statement. Throws BigQueryError: invalidQuery | notFound on failure,
   * accessDenied for a statement the emulator will not run (guard.ts), bytesBilledLimitExceeded
   * over `opts.maximumBytesBilled`, `opts.signal.reason` once aborted (DuckDB is interrupted).
   * `FOR SYSTEM_TIME AS OF` reads the table's state at that instant; DML keeps the state it replaces
   * (time-travel.ts).
   */
  async run(sql: string, ctx: RunContext, opts: RunOptions = {}): Promise<RunResult> {
    let at = performance.now();
    const phase = opts.timings ? (name: string) => { const now = performance.now(); opts.timings![name] = now - at; at = now; } : () => {};
    const project = ctx.defaultDataset?.projectId ?? ctx.projectId;
    sql = await this.resolveTimeTravel(sql, ctx, opts);
    const ddl = ddlShape(sql);
    if (ddl?.statementType.endsWith('_SCHEMA')) return this.schemaDdl(ddl, ctx, opts);
    if (!ddl && /^CREATE\b/i.test(statementStart(sql))) {
      const fn = this.readFunctionDdl(sql);
      if (fn) return this.functionDdl(fn, ctx, opts);
    }
    // CREATE TABLE / VIEW … OPTIONS(…): DuckDB runs the statement without the clause; the options become the table's metadata after.
    const withOptions = ddl && ddlOptions(ddl);
    if (withOptions) {
      const meta = await this.optionsMeta(withOptions.options, ctx);
      const result = await this.run(withOptions.sql, ctx, opts);
      if (result.ddl?.table && result.ddl.operation !== 'SKIP') {
        const { projectId, datasetId, tableId } = result.ddl.table;
        await this.catalog.patchTable(projectId, datasetId, tableId, meta, false);
      }
      return result;
    }
    if (ddl?.body !== undefined) {
      // A view's query is checked as the SELECT it is (functions, plan, declared tables) before the view is made.
      await this.run(ddl.body, ctx, { ...opts, dryRun: true, declared: opts.declared && { ...opts.declared, statementKind: 'SELECT' } });
    }
    const jsonParams = new Set((ctx.queryParameters ?? []).filter((p) => p.name && p.parameterType?.type?.toUpperCase() === 'JSON').map((p) => p.name!));
    const info = extractInfoSchema(sql, project, ctx.defaultDataset?.datasetId);
    const statements = this.translate(info.sql, jsonParams, (path) => this.matchWildcard(path, project, ctx.defaultDataset?.datasetId, opts.declared))
      .map((s) => (info.refs.length ? this.withInfoSchema(s, info.refs, ctx.user) : s));
    // An empty text (only comments) is BigQuery's syntax error; several statements reach here only when the script parser saw one (the translator split it).
    if (!statements.length) throw new BigQueryError('invalidQuery', 'Syntax error: Unexpected end of script at [1:1]', { location: 'query' });
    if (statements.length !== 1) throw new BigQueryError('invalidQuery', 'The emulator translated this statement into several; it runs one statement per child job.', { location: 'query' });
    phase('translate');
    const kind = statementType(sql);
    const expected = expectedDuckType(kind, opts.declared?.statementKind);
    // polyglot writes NUMERIC/BIGNUMERIC columns as DECIMAL, which DuckDB reads as DECIMAL(18,3).
    const duck = kind === 'CREATE_TABLE' ? statements[0].replace(/\bDECIMAL\b(?!\s*\()/gi, 'DECIMAL(38,9)') : statements[0];
    refuseFunctionsByName(duck);
    if (ddl?.statementType.startsWith('DROP_')) checkDropText(duck);
    const dml = dmlTargetPath(sql);
    const target = dml ?? ddlTargetPath(sql);
    if (!target && kind !== 'SELECT') throw new BigQueryError('accessDenied', `Access Denied: the emulator cannot tell which table this ${kind} statement writes; it was not run.`);
    const searchPath = !this.hasCatalog(project) ? '' : ctx.defaultDataset ? `${quote(project)}.${quote(ctx.defaultDataset.datasetId)}` : quote(project);
    const lent = opts.transaction ? undefined : await this.pool.acquire(searchPath);
    const con = opts.transaction?.connection ?? lent!.connection;
    // Queries reuse the connection's prepared statement of the same text; a dry run reads a fresh one's schema (a reused one's may predate a view's change), and INFORMATION_SCHEMA texts carry their rows (never the same twice).
    const reuse = lent && kind === 'SELECT' && !opts.dryRun && !info.refs.length;
    const made: DuckDBPreparedStatement[] = [];
    const prepare = async (text: string) => (reuse ? lent.prepared(text) : con.prepare(text).then((ps) => { made.push(ps); return ps; }));
    // DuckDB forgets an interrupt that arrives before its worker thread starts the statement: repeated until the run ends.
    let interrupting: NodeJS.Timeout | undefined;
    const interrupt = () => { con.interrupt(); interrupting = setInterval(() => con.interrupt(), INTERRUPT_REPEAT_MS); };
    opts.signal?.addEventListener('abort', interrupt, { once: true });
    let failed = false;
    try {
      opts.signal?.throwIfAborted();
      if (searchPath) await con.run(`USE ${searchPath}`);
      if (!this.single.has(duck)) {
        if ((await con.extractStatements(duck)).count !== 1) throw new BigQueryError('accessDenied', 'Access Denied: the statement translates to several DuckDB statements; the emulator runs one.');
        this.single.add(duck);
        if (this.single.size > TRANSLATIONS_KEPT) this.single.delete(this.single.values().next().value as string);
      }
      phase('connect');
      const ps = await prepare(duck);
      checkDuckType(ps.statementType, expected, kind);
      bindParameters(ps, ctx.queryParameters ?? []);
      phase('prepare');
      const plan = await this.explain(prepare, duck, ctx.queryParameters ?? []);
      phase('plan');
      if (expected === StatementTypes.CREATE) checkCreatePlan(plan);
      const scans = planScans(plan);
      const writes = target ? [this.tableKey(target, ctx)] : [];
      // Statements write only the datasets the catalog holds (not the time-travel copies' schema, nor one DuckDB has but BigQuery would not).
      if (writes[0]) { const [wp, wd] = writes[0].split('.'); this.catalog.dataset(wp, wd); }
      const existed = ddl ? this.tables.has(writes[0]) : false;
      if (opts.declared) checkDeclaredTables(opts.declared, scans.map((sc) => this.sourceOf(sc.path)), writes);
      const processed = await this.bytesOf(con, scans);
      const stats = { totalBytesProcessed: processed, totalBytesBilled: billedBytes(processed) };
      if (opts.maximumBytesBilled !== undefined && stats.totalBytesBilled > opts.maximumBytesBilled) {
        throw new BigQueryError('bytesBilledLimitExceeded', `Query exceeded limit for bytes billed: ${opts.maximumBytesBilled}. ${stats.totalBytesBilled} or higher required.`);
      }
      if (opts.dryRun) return { schema: kind === 'SELECT' ? preparedSchema(ps) : [], rows: [], statementType: kind, ...stats };
      if (dml) await this.keepVersion(this.tableKey(dml, ctx));
      if (ddl?.statementType === 'DROP_TABLE' && existed) await this.keepDropped(writes[0]);
      phase('guard');
      opts.signal?.throwIfAborted(); // a cancel while preparing or planning: DuckDB's interrupt only stops a running statement
      const reader = await ps.runAndReadAll();
      for (const w of writes) { this.sizes.delete(w); opts.transaction?.written.add(w); }
      const names = reader.columnNames();
      const types = reader.columnTypes();
      const rows = reader.getRows() as DuckDBValue[][];
      phase('execute');
      if (ddl) return { schema: [], rows: [], statementType: kind, ...stats, ddl: await this.afterDdl(ddl, writes[0], existed) };
      if (kind !== 'SELECT') {
        await this.catalog.recount(writes[0]);
        const affected = rows.length === 1 && types[0]?.typeId === DuckDBTypeId.BIGINT ? Number(rows[0][0]) : 0;
        return { schema: [], rows: [], statementType: kind, numDmlAffectedRows: affected, ...stats };
      }
      return { schema: names.map((n, i) => duckToField(bqName(n, i), types[i])), rows, statementType: kind, ...stats };
    } catch (err) {
      failed = true;
      if (opts.signal?.aborted) throw opts.signal.reason;
      if (err instanceof BigQueryError) throw err;
      throw mapDuckError(err as Error);
    } finally {
      opts.signal?.removeEventListener('abort', interrupt);
      clearInterval(interrupting);
      for (const ps of made) ps.destroySync();
      // A connection that failed or was interrupted is closed, never lent again (connections.ts).
      if (lent) this.pool.release(lent, !failed && !opts.signal?.aborted);
    }
  }

  /** A connection of its own for a script's transaction (transaction.ts); the caller closes it. */
  connect(): Promise<DuckDBConnection> {
    return this.db.connect();
  }

  /** After a transaction ends (committed or rolled back): the tables it wrote are measured and counted again. */
  async afterTransaction(written: Iterable<string>): Promise<void> {
    for (const key of written) { this.sizes.delete(key); await this.catalog.recount(key); }
  }

  /**
   * The table metadata a CREATE's OPTIONS set: friendly_name, description (strings), labels (an
   * array of (key, value) string pairs) and expiration_timestamp (a TIMESTAMP expression, evaluated
   * here, reading no table). Any other option is refused as notImplemented: the emulator would not honour it.
   */
  private async optionsMeta(options: Array<[string, string]>, ctx: RunContext): Promise<TablePatch> {
    // Options are constant expressions: evaluated as a SELECT that may read no table at all (a subquery's scan is refused).
    const value = async (expr: string) => (await this.run(`SELECT ${expr} AS v`, ctx, { declared: { statementKind: 'SELECT', tables: [] } })).rows[0]?.[0];
    const meta: TablePatch = {};
    for (const [name, expr] of options) {
      if (name === 'friendly_name') meta.friendlyName = String(await value(expr));
      else if (name === 'description') meta.description = String(await value(expr));
      else if (name === 'expiration_timestamp') meta.expirationTime = String(await value(`UNIX_MILLIS(${expr})`));
      else if (name === 'labels') {
        const pairs = [...expr.matchAll(/\(\s*(['"])(.*?)\1\s*,\s*(['"])(.*?)\3\s*\)/g)].map((m) => [m[2], m[4]]);
        if (!/^\[\s*\]$/.test(expr) && !pairs.length) throw new BigQueryError('invalidQuery', `Invalid labels option ${expr}: it must be an array of ("key", "value") pairs.`, { location: 'query' });
        meta.labels = Object.fromEntries(pairs);
      } else throw new BigQueryError('notImplemented', `The emulator does not support the DDL option ${name}; it supports friendly_name, description, labels and expiration_timestamp.`);
    }
    return meta;
  }

  /** Records what a CREATE/DROP TABLE/VIEW did (catalog.ts) and reports it as BigQuery does (ddlOperationPerformed). */
  private async afterDdl(ddl: DdlShape, key: string, existed: boolean): Promise<NonNullable<RunResult['ddl']>> {
    const [projectId, datasetId, tableId] = key.split('.');
    const table = { projectId, datasetId, tableId };
    if (ddl.statementType.startsWith('DROP_')) {
      if (!existed) return { operation: 'SKIP', table };
      this.tables.delete(key);
      this.sizes.delete(key);
      return { operation: 'DROP', table };
    }
    if (existed && !ddl.orReplace) return { operation: 'SKIP', table };
    this.sizes.delete(key);
    await this.catalog.sync(projectId, datasetId, tableId, { created: true, ...(ddl.body !== undefined ? { viewQuery: ddl.body } : {}) });
    return { operation: existed ? 'REPLACE' : 'CREATE', table };
  }

  /** The persistent SQL UDF a CREATE FUNCTION statement makes (function-ddl.ts); invalidQuery when its head cannot be read. */
  private readFunctionDdl(sql: string) {
    try {
      return functionDdl(statementStart(sql));
    } catch (err) {
      throw new BigQueryError('invalidQuery', `The emulator cannot read this CREATE FUNCTION: ${(err as Error).message}.`, { location: 'query' });
    }
  }

  /**
   * CREATE [OR REPLACE] FUNCTION [IF NOT EXISTS]: the routine is made in the emulator's routine store
   * (routines.ts) as routines.insert would (SCALAR_FUNCTION, language SQL); the body is not run.
   */
  private async functionDdl(fn: NonNullable<ReturnType<typeof functionDdl>>, ctx: RunContext, opts: RunOptions): Promise<RunResult> {
    if (opts.declared && opts.declared.statementKind.toUpperCase() !== 'CREATE_FUNCTION') {
      throw new BigQueryError('accessDenied', `Access Denied: the statement is a CREATE_FUNCTION, but the gateway declared a ${opts.declared.statementKind}; the emulator runs only the statement kind that was analyzed.`);
    }
    const parts = fn.path.split('.');
    if (parts.length < 2 || parts.length > 3) throw new BigQueryError('invalidQuery', `Invalid function name ${fn.path}: expected dataset.function or project.dataset.function.`, { location: 'query' });
    const routineId = parts.pop()!;
    const datasetId = parts.pop()!;
    const projectId = parts.pop() ?? ctx.projectId;
    this.catalog.dataset(projectId, datasetId); // notFound for a missing dataset
    const routine = { projectId, datasetId, routineId };
    const base = { schema: [], rows: [], statementType: 'CREATE_FUNCTION', totalBytesProcessed: 0, totalBytesBilled: 0 };
    if (opts.dryRun) return base;
    const store = routineStore(this);
    const key = `${projectId}.${datasetId}.${routineId}`;
    const old = store.get(key);
    if (old && fn.ifNotExists) return { ...base, ddl: { operation: 'SKIP', routine } };
    if (old && !fn.orReplace) throw new BigQueryError('duplicate', `Already Exists: Routine ${projectId}:${datasetId}.${routineId}`);
    const now = Date.now();
    store.set(key, {
      routineReference: routine, routineType: 'SCALAR_FUNCTION', language: 'SQL', arguments: fn.arguments,
      ...(fn.returnType ? { returnType: fn.returnType } : {}), definitionBody: fn.definitionBody,
      etag: `"${now.toString(36)}"`, creationTime: old?.creationTime ?? String(now), lastModifiedTime: String(now),
    });
    return { ...base, ddl: { operation: old ? 'REPLACE' : 'CREATE', routine } };
  }

  /** CREATE SCHEMA / DROP SCHEMA [CASCADE]: made by the catalog from the path alone (no other clause is run). */
  private async schemaDdl(ddl: DdlShape, ctx: RunContext, opts: RunOptions): Promise<RunResult> {
    if (opts.declared && opts.declared.statementKind.toUpperCase() !== ddl.statementType) {
      throw new BigQueryError('accessDenied', `Access Denied: the statement is a ${ddl.statementType}, but the gateway declared a ${opts.declared.statementKind}; the emulator runs only the statement kind that was analyzed.`);
    }
    const parts = ddl.path.split('.');
    if (parts.length > 2) throw new BigQueryError('invalidQuery', `Invalid dataset name ${ddl.path}: expected dataset or project.dataset.`, { location: 'query' });
    const datasetId = parts.pop()!;
    const projectId = parts.pop() ?? ctx.projectId;
    const rest = statementStart(ddl.original).slice(ddl.length).trim().replace(/;$/, '').trim();
    if (rest && !(ddl.statementType === 'DROP_SCHEMA' && /^RESTRICT$/i.test(rest))) {
      throw new BigQueryError('invalidQuery', `The emulator does not support "${rest.slice(0, 40)}" in ${ddl.statementType.replace('_', ' ')}; set dataset options with datasets.patch (bq update).`, { location: 'query' });
    }
    const dataset = { projectId, datasetId };
    const base = { schema: [], rows: [], statementType: ddl.statementType, totalBytesProcessed: 0, totalBytesBilled: 0 };
    if (opts.dryRun) return base;
    if (ddl.statementType === 'CREATE_SCHEMA') {
      const made = await this.catalog.createDataset(projectId, datasetId, {}, ddl.conditional);
      return { ...base, ddl: { operation: made ? 'CREATE' : 'SKIP', dataset } };
    }
    if (!this.catalog.datasets.has(`${projectId}.${datasetId}`) && ddl.conditional) return { ...base, ddl: { operation: 'SKIP', dataset } };
    await this.catalog.deleteDataset(projectId, datasetId, ddl.cascade);
    for (const k of [...this.sizes.keys()]) if (k.startsWith(`${projectId}.${datasetId}.`)) this.sizes.delete(k);
    return { ...base, ddl: { operation: 'DROP', dataset } };
  }

  /** DuckDB's physical plan of `duck` (parameters bound as for the run). */
  private async explain(prepare: (text: string) => Promise<DuckDBPreparedStatement>, duck: string, params: QueryParameter[]): Promise<PlanNode[]> {
    const ps = await prepare(`EXPLAIN (FORMAT JSON) ${duck}`);
    bindParameters(ps, params);
    const rows = (await ps.runAndReadAll()).getRows();
    const physical = rows.find((r) => r[0] === 'physical_plan') ?? rows[0];
    return JSON.parse(String(physical?.[1] ?? '[]')) as PlanNode[];
  }

  /** The table (`p.d.t`) a scanned DuckDB table holds: a time-travel copy counts as the table it is a state of. */
  private sourceOf(path: string[]): string {
    const [p, d, t] = path;
    if (d === HISTORY_DATASET) {
      for (const [key, versions] of this.history) if (key.startsWith(`${p}.`) && versions.some((v) => v.snapshot === t)) return key;
    }
    return path.join('.');
  }

  /** Bytes a statement's scans process: every value of each column read, per scanned table (bytes.ts). */
  private async bytesOf(con: DuckDBConnection, scans: PlanScan[]): Promise<number> {
    const byTable = new Map<string, { path: string[]; columns: Set<string> }>();
    for (const sc of scans) {
      const key = sc.path.join('.');
      const e = byTable.get(key) ?? { path: sc.path, columns: new Set<string>() };
      for (const c of sc.columns) e.columns.add(c);
      for (const w of sc.filters.match(/[A-Za-z_][A-Za-z0-9_]*/g) ?? []) e.columns.add(w); // filter columns are read too
      byTable.set(key, e);
    }
    let total = 0;
    for (const [key, { path, columns }] of byTable) {
      const sizes = await this.columnSizes(con, key, path);
      for (const c of columns) total += sizes.get(c) ?? 0;
    }
    return total;
  }

  /** Per-column byte totals of a scanned table (`key`: its path joined), computed in one pass and kept until a statement writes the table. */
  private async columnSizes(con: DuckDBConnection, key: string, path: string[]): Promise<Map<string, number>> {
    const cached = this.sizes.get(key);
    if (cached) return cached;
    const table = path.map(quote).join('.');
    // A time-travel copy has its table's schema; a table made by CTAS has none here: sized as text.
    const fields: BqField[] = this.tables.get(this.sourceOf(path))?.schema
      ?? (await con.runAndReadAll(`SELECT column_name FROM (DESCRIBE ${table})`)).getRows().map((r) => ({ name: String(r[0]), type: 'JSON' }));
    const sizes = new Map<string, number>();
    if (fields.length) {
      const r = await con.runAndReadAll(`SELECT ${fields.map((f) => `sum(${sizeExpression(f, quote(f.name))})`).join(', ')} FROM ${table}`);
      fields.forEach((f, i) => sizes.set(f.name, Number(r.getRows()[0][i] ?? 0)));
    }
    this.sizes.set(key, sizes);
    return sizes;
  }

  /** `p.d.t` of a path as written (`t`, `d.t`, `p.d.t`), with the job's defaults. */
  private tableKey(path: string, ctx: RunContext): string {
    const parts = path.split('.');
    const t = parts.pop()!;
    const d = parts.pop() ?? ctx.defaultDataset?.datasetId ?? '';
    const p = parts.pop() ?? ctx.defaultDataset?.projectId ?? ctx.projectId;
    return `${p}.${d}.${t}`;
  }

  /** Tables dropped within the time travel window: their metadata as it was, by `p.d.t` (the history holds their rows). */
  private readonly dropped = new Map<string, TableMeta>();

  /** Before a table is dropped (DROP TABLE, tables.delete): its last state kept for time travel and a copy from `t@<ms>`. */
  private async keepDropped(key: string): Promise<void> {
    const t = this.tables.get(key);
    if (!t || t.viewQuery !== undefined) return;
    await this.keepVersion(key);
    this.dropped.set(key, { ...t, schema: t.schema.map((f) => ({ ...f })) });
  }

  /** tables.delete: the table dropped, its last state kept for time travel (copy from `t@<ms>` restores it). */
  async dropTable(p: string, d: string, t: string): Promise<void> {
    await this.keepDropped(`${p}.${d}.${t}`);
    await this.catalog.dropTable(p, d, t);
    this.sizes.delete(`${p}.${d}.${t}`);
  }

  /**
   * The table `p.d.t` as it was at `atMs` (a snapshot decorator's number: ms since the epoch; negative:
   * ms before now; 0: the oldest state kept), live or dropped since, as the copy
   * source of a snapshot decorator (`t@<ms>`): metadata whose path is the history copy when the state
   * then is not the live one. Throws notFound when the table did not exist then; invalid outside the
   * time travel window or in the future (time-travel.ts).
   * https://cloud.google.com/bigquery/docs/table-decorators#time_decorators
   */
  snapshotAt(p: string, d: string, t: string, atMs: number): TableMeta {
    if (atMs < 0) atMs += Date.now();
    const key = `${p}.${d}.${t}`;
    const live = this.tables.get(key);
    const meta = live && live.creationTime <= atMs ? live : this.dropped.get(key);
    if (!meta || meta.viewQuery !== undefined) throw new BigQueryError('notFound', `Not found: Table ${p}:${d}.${t}@${atMs}`);
    if (atMs === 0) atMs = Math.max(meta.creationTime, Date.now() - TIME_TRAVEL_WINDOW_US / 1000 + 1000); // @0: the oldest state time travel keeps
    let version: TableVersion | undefined;
    try { version = versionAt(key, this.history.get(key) ?? [], atMs * 1000, meta.creationTime * 1000, Date.now() * 1000); } catch (why) { throw new BigQueryError('invalid', String(why)); }
    if (!version && meta !== live) throw new BigQueryError('notFound', `Not found: Table ${p}:${d}.${t}@${atMs} (it was dropped before then)`);
    return version ? { ...meta, datasetId: HISTORY_DATASET, tableId: version.snapshot } : meta;
  }

  /** Copies a table's current state into the history before DML changes it. */
  private async keepVersion(key: string): Promise<void> {
    const t = this.tables.get(key);
    if (!t || t.viewQuery !== undefined) return;
    const versions = this.history.get(key) ?? [];
    const snapshot = `${t.datasetId}__${t.tableId}__${versions.length}`;
    const con = await this.db.connect();
    try {
      await con.run(`CREATE SCHEMA IF NOT EXISTS ${quote(t.projectId)}.${quote(HISTORY_DATASET)}`);
      await con.run(`CREATE TABLE ${quote(t.projectId)}.${quote(HISTORY_DATASET)}.${quote(snapshot)} AS SELECT * FROM ${quote(t.projectId)}.${quote(t.datasetId)}.${quote(t.tableId)}`);
    } finally { con.closeSync(); }
    versions.push({ snapshot, untilUs: Date.now() * 1000 });
    this.history.set(key, versions);
  }

  /** Replaces each `path FOR SYSTEM_TIME AS OF expr` by the path of the table's state at that instant. */
  private async resolveTimeTravel(sql: string, ctx: RunContext, opts: RunOptions): Promise<string> {
    const clauses = timeTravelClauses(sql);
    for (const c of clauses.reverse()) {
      const key = this.tableKey(c.path, ctx);
      const t = this.tables.get(key);
      if (!t) throw new BigQueryError('notFound', `Not found: Table ${key.replace('.', ':')} was not found in location US`);
      if (t.viewQuery !== undefined) throw new BigQueryError('invalidQuery', `FOR SYSTEM_TIME AS OF is not supported on the view ${key}.`, { location: 'query' });
      const at = await this.run(`SELECT UNIX_MICROS(CAST((${c.expr}) AS TIMESTAMP))`, { ...ctx }, { declared: opts.declared && { ...opts.declared, statementKind: 'SELECT' }, signal: opts.signal });
      const atUs = Number(at.rows[0]?.[0]);
      if (!Number.isFinite(atUs)) throw new BigQueryError('invalidQuery', `FOR SYSTEM_TIME AS OF needs a TIMESTAMP; ${c.expr} is NULL or not a timestamp.`, { location: 'query' });
      let version: TableVersion | undefined;
      try { version = versionAt(key, this.history.get(key) ?? [], atUs, t.creationTime * 1000, Date.now() * 1000); } catch (why) { throw new BigQueryError('invalidQuery', String(why), { location: 'query' }); }
      const path = version ? `${t.projectId}.${HISTORY_DATASET}.${version.snapshot}` : key;
      sql = `${sql.slice(0, c.start)}\`${path}\`${sql.slice(c.end)}`;
    }
    return sql;
  }

  /**
   * Tables a wildcard path (`[p.]d.prefix*`) matches, with their `_TABLE_SUFFIX`; with `declared`,
   * only the declared ones (the gateway narrowed the wildcard by `_TABLE_SUFFIX` already).
   */
  matchWildcard(path: string, project: string, dataset?: string, declared?: Declared): Array<[string, string, string, string]> {
    const parts = path.split('.');
    const prefix = parts.pop()!.replace(/\*$/, '');
    const d = parts.pop() ?? dataset;
    const p = parts.pop() ?? project;
    const allowed = declared && new Set(declared.tables);
    return this.listTables().filter((t) => t.projectId === p && t.datasetId === d && t.tableId.startsWith(prefix) && (!allowed || allowed.has(`${p}.${d}.${t.tableId}`)))
      .map((t) => [t.projectId, t.datasetId, t.tableId, t.tableId.slice(prefix.length)]);
  }

  /** Whether fixtures made a DuckDB catalog for `project`. */
  private hasCatalog(project: string): boolean { return this.catalog.hasProject(project); }
}

/** The table a DML statement changes, as written, if `sql` is one. */
export function dmlTargetPath(sql: string): string | undefined {
  const m = statementStart(sql)
    .match(/^(?:INSERT(?:\s+INTO)?|UPDATE|DELETE(?:\s+FROM)?|MERGE(?:\s+INTO)?|TRUNCATE\s+TABLE)\s+((?:`[^`]+`|[A-Za-z_][\w-]*)(?:\.(?:`[^`]+`|[A-Za-z_][\w-]*))*)/i);
  return m?.[1].replace(/`/g, '');
}

/** The table or view a CREATE or DROP statement creates or drops, as written, if `sql` is one (not a schema). */
export function ddlTargetPath(sql: string): string | undefined {
  const d = ddlShape(sql);
  return d && !d.statementType.endsWith('_SCHEMA') ? d.path : undefined;
}

/** BigQuery names an unnamed result column f<i>_; DuckDB names it after its expression. */
const bqName = (n: string, i: number) => (/^[A-Za-z_][A-Za-z0-9_]*$/.test(n) ? n : `f${i}_`);

/** The result schema of a prepared SELECT, without running it (dry runs). */
function preparedSchema(ps: DuckDBPreparedStatement): BqField[] {
  return Array.from({ length: ps.columnCount }, (_, i) => duckToField(bqName(ps.columnName(i), i), ps.columnType(i)));
}

/** Binds the job's parameters with their BigQuery types (params.ts); named ones only where the statement uses them (time travel may have taken one out). */
function bindParameters(ps: { bind(v: Record<string, DuckDBValue> | DuckDBValue[], t?: Record<string, DuckDBType> | DuckDBType[]): void; parameterCount: number; parameterName(i: number): string }, params: QueryParameter[]) {
  if (!params.length) return;
  if (params.every((p) => p.name)) {
    const used = new Set(Array.from({ length: ps.parameterCount }, (_, i) => ps.parameterName(i + 1)));
    params = params.filter((p) => used.has(p.name!));
    if (!params.length) return;
    const typed = params.map((p) => [p.name!, typedParameter(p)] as const);
    ps.bind(Object.fromEntries(typed.map(([n, t]) => [n, t.value])), Object.fromEntries(typed.map(([n, t]) => [n, t.type])));
  } else {
    const typed = params.map((p, i) => typedParameter(p, `#${i + 1}`));
    ps.bind(typed.map((t) => t.value), typed.map((t) => t.type));
  }
}

function mapDuckError(err: Error): BigQueryError {
  const msg = err.message ?? String(err);
  const zero = divisionByZeroMessage(msg); // the / operator, DIV, MOD: BigQuery's message, not DuckDB's failing cast
  if (zero) return new BigQueryError('invalidQuery', zero, { location: 'query' });
  const decimal = decimalErrorMessage(msg); // NUMERIC / BIGNUMERIC overflow and invalid values (translate-numeric.ts)
  if (decimal) return new BigQueryError('invalidQuery', decimal, { location: 'query' });
  const exists = msg.match(/Table with name "?([^"\s]+)"? already exists/);
  if (exists) return new BigQueryError('duplicate', `Already Exists: Table ${exists[1]}`);
  const schema = msg.match(/Schema with name "?([^"\s]+)"? does not exist/);
  if (schema) return new BigQueryError('notFound', `Not found: Dataset ${schema[1]}`);
  const missing = msg.match(/Table with name (\S+) does not exist/);
  if (missing) return new BigQueryError('notFound', `Not found: Table ${missing[1]} was not found in location US`);
  return new BigQueryError('invalidQuery', msg.split('\n')[0], { location: 'query' });
}
