/**
 * A script job as BigQuery reports it (https://cloud.google.com/bigquery/docs/multi-statement-queries,
 * Job resource: https://cloud.google.com/bigquery/docs/reference/rest/v2/Job#JobStatistics): the
 * parent job's `statistics.query.statementType` is `SCRIPT` and `statistics.numChildJobs` counts its
 * statements; each statement is a child job `script_job_<hex>_<n>` with `statistics.parentJobId`
 * and `statistics.scriptStatistics` (`evaluationKind: STATEMENT`, `stackFrames`), listed by
 * `jobs.list?parentJobId=`; the parent's result is the last SELECT's.
 *
 * The gateway declares a script as `{statementKind: "SCRIPT", tables}` (guard.ts): each statement then
 * runs declared as its own kind over those tables, a temp table `_SESSION.t` standing for the hidden
 * dataset's `t`. A script under any other declaration is refused (accessDenied).
 */
import { randomBytes } from 'node:crypto';
import { BigQueryError } from '../bigquery/errors.js';
import type { Engine, RunResult, RunContext } from './engine.js';
import { statementType } from './ddl.js';
import type { Declared } from './guard.js';
import type { QueryParameter } from './params.js';
import { routineStore } from './routines.js';
import { runScript, type StackFrame } from './script.js';
import { stringValue, type ScriptValue } from './script-values.js';
import type { ScriptParser } from './script-parse.js';
import { ScriptTransaction } from './transaction.js';

/** One statement of a script, as its child job records it. */
export interface ChildRun { jobId: string; sql: string; frame: StackFrame; startTime: number; endTime: number; result?: RunResult; error?: BigQueryError }

export interface ScriptJob {
  ctx: RunContext;
  parentJobId: string;
  declared?: Declared;
  signal?: AbortSignal;
  maximumBytesBilled?: number;
  /** Called as each child statement ends. */
  onChild(c: ChildRun): void;
}

/** Runs the parsed script `parsed` of `sql` as the job `job`; resolves with the parent's result (statementType SCRIPT). */
export async function runScriptJob(engine: Engine, parser: ScriptParser, parsed: any, sql: string, job: ScriptJob): Promise<RunResult> {
  const { ctx, declared } = job;
  if (declared && declared.statementKind.toUpperCase() !== 'SCRIPT') {
    throw new BigQueryError('accessDenied', `Access Denied: the statement is a SCRIPT, but the gateway declared a ${declared.statementKind}; the emulator runs only the statement kind that was analyzed.`);
  }
  const hex = randomBytes(16).toString('hex');
  let serial = 0;
  let temp: { projectId: string; datasetId: string } | undefined;
  const system: Record<string, ScriptValue> = {
    project_id: stringValue(ctx.projectId), 'script.job_id': stringValue(job.parentJobId),
    // The job of the statement that reads it (its child job, the next one numbered), as BigQuery documents for scripts.
    current_job_id: stringValue(`script_job_${hex}_0`),
    dataset_id: stringValue(ctx.defaultDataset?.datasetId ?? null), dataset_project_id: stringValue(ctx.defaultDataset?.projectId ?? (ctx.defaultDataset ? ctx.projectId : null)),
    location: stringValue('US'), last_job_id: stringValue(null),
    'script.creation_time': { type: { type: 'TIMESTAMP' }, value: { value: new Date().toISOString().replace('T', ' ').replace('Z', '+00:00') } },
  };
  let billed = 0;
  const txn = new ScriptTransaction(engine);
  const run = async (text: string, params: QueryParameter[], temps: ReadonlyMap<string, string>, frame?: StackFrame) => {
    const kind = statementType(text);
    const tables = declared && [...new Set(declared.tables.flatMap((t) => {
      const m = /^_SESSION\.(.+)$/i.exec(t);
      const real = m ? temps.get(m[1].toLowerCase()) : undefined;
      return m ? (real ? [real] : []) : [t];
    }))];
    const opts = {
      declared: declared && { statementKind: kind, tables: tables! }, signal: job.signal,
      maximumBytesBilled: job.maximumBytesBilled === undefined ? undefined : job.maximumBytesBilled - billed,
      transaction: txn.forStatement(kind),
    };
    const runCtx = { ...ctx, queryParameters: params };
    if (!frame) return engine.run(text, runCtx, opts).catch(async (err) => { await txn.failed(err); throw err; });
    const child: ChildRun = { jobId: `script_job_${hex}_${serial++}`, sql: text, frame, startTime: Date.now(), endTime: 0 };
    try {
      child.result = await engine.run(text, runCtx, opts);
      billed += child.result.totalBytesBilled;
      return child.result;
    } catch (err) {
      child.error = err instanceof BigQueryError ? err : new BigQueryError('internalError', String((err as Error).message));
      await txn.failed(child.error);
      throw child.error;
    } finally {
      child.endTime = Date.now();
      system.last_job_id = stringValue(child.jobId);
      system.current_job_id = stringValue(`script_job_${hex}_${serial}`);
      job.onChild(child);
    }
  };
  try {
    const outcome = await runScript(parsed, sql, {
      run, parse: (body) => parser.parse(body), transaction: (op) => txn.control(op),
      parameters: ctx.queryParameters ?? [], system, signal: job.signal,
      tempDataset: async () => {
        if (!temp) {
          temp = { projectId: ctx.projectId, datasetId: `_script_${hex}` };
          await engine.catalog.createDataset(temp.projectId, temp.datasetId, {}, true);
        }
        return temp;
      },
      procedure: (path) => {
        const [r, d, p] = [...path].reverse();
        const key = `${p ?? ctx.defaultDataset?.projectId ?? ctx.projectId}.${d ?? ctx.defaultDataset?.datasetId ?? ''}.${r}`;
        const hit = routineStore(engine).get(key);
        return hit && hit.routineType === 'PROCEDURE' ? { id: key, language: hit.language, arguments: hit.arguments, definitionBody: String(hit.definitionBody) } : undefined;
      },
    });
    const last = outcome.last;
    return {
      schema: last?.schema ?? [], rows: last?.rows ?? [], statementType: 'SCRIPT',
      totalBytesProcessed: outcome.totalBytesProcessed, totalBytesBilled: outcome.totalBytesBilled,
    };
  } finally {
    await txn.close();
    if (temp) await engine.catalog.deleteDataset(temp.projectId, temp.datasetId, true).catch(() => {});
  }
}
