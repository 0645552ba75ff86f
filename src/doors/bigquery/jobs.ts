/**
 * Jobs (`jobs.query`, `jobs.insert`, `jobs.get`, `jobs.getQueryResults`, `jobs.cancel`, `jobs.list`):
 * checked statements become jobs recorded with their owner (a caller sees only its own jobs), are
 * sent upstream with bqgate's labels and limits — or parked PENDING when they need approval
 * (approvals/gate.ts) — and their result pages are delivered through the backstop and row cap.
 * Copy, extract and load jobs are decided by their verb. The query pipeline itself (`check`:
 * analyze → decide → rewrite) is the gateway's and comes in as a function.
 *
 * What a caller receives is built from allowlists (deliver/resources.ts): its own SQL, job id,
 * labels and owner, never the upstream's objects. Caller-chosen jobIds and requestIds are
 * namespaced per principal before they reach the upstream (job-ids.ts), and caller labels in the
 * gateway's `bqgate_` namespace are dropped (`jobLabels`).
 */
import type { Principal } from '../../auth/index.js';
import { BigQueryError, callerLabels, RESULTS_DATASET, type Operation } from '../../bigquery/index.js';
import type { Catalog } from '../../catalog/index.js';
import type { QueryAnalysis } from '../../sql/index.js';
import { decide, decideStatement, backstopColumns, type Decision } from '../../policy/index.js';
import { decideDestinationJob, destinationName, destinationUnits } from '../../pipeline/destination.js';
import { isGoverned } from '../../rewrite/index.js';
import { upstreamError, storedIdentity, declaredOf, type Declared, type Upstream, type UpstreamStream, type UpstreamCredentials, type JobCredential } from '../../upstream/index.js';
import { deliverPage, deliverJob, dryRunResponse, jobListEntry, callerMessage, callerError, streamPage, type JobView, type StreamedPage, type StreamOptions } from '../../deliver/index.js';
import { upstreamJobId, upstreamRequestId, mintJobId, callerJobId, findOwnJob, resultsTableAccess } from './job-ids.js';
import type { JobStore, JobRecord } from '../../state/index.js';
import { enc, pick, decisionAudit, type Ctx, type Outcome } from '../../pipeline/context.js';
import type { Checked } from '../../pipeline/check.js';
import type { BqField } from '../../emulator/encode.js';
import type { Config } from '../../config.js';
import type { Person } from '../../approvals/index.js';
import type { ApprovalGate, Hold } from '../../approvals/gate.js';
import type { UploadProxy } from './upload.js';


export interface JobDeps {
  cfg: Config;
  store: JobStore;
  upstream: Upstream;
  catalog: Catalog;
  gate: ApprovalGate;
  /** Which credential runs a job upstream (the gateway's, a group's service account, or the caller's federated one). */
  credentials: UpstreamCredentials;
  /** The media upload endpoint's byte mover (upload.ts). */
  uploads: UploadProxy;
  /** The query pipeline: throws the refusal, with its decision attached. */
  check(c: Ctx, projectId: string, q: Record<string, unknown>): Promise<Checked>;
}

/**
 * Applies a row cap to a delivered page that starts at row `start`: rows past `max` are dropped, the
 * page token goes once the cap is reached, totalRows says at most `max`. Returns the next page's
 * token and first row, when there is a next page.
 */
function capRows(page: { body: any; rows: number }, start: number, max: number): { token: string; start: number } | undefined {
  const rows: unknown[] = page.body.rows ?? [];
  const allowed = Math.max(0, max - start);
  if (rows.length > allowed) page.body.rows = rows.slice(0, allowed);
  page.rows = page.body.rows?.length ?? 0;
  if (page.body.totalRows !== undefined && Number(page.body.totalRows) > max) page.body.totalRows = String(max);
  if (start + page.rows >= max) delete page.body.pageToken;
  else if (page.body.pageToken) return { token: page.body.pageToken, start: start + page.rows };
  return undefined;
}

/**
 * The table a copy, extract or load job's reference names, as `project.dataset.table` for the
 * policy: a snapshot decorator (`t@<ms>`, `t@-<ms>`, ranges `t@a-b`) or a partition decorator
 * (`t$20240101`) is cut off, so the decision — masks, denied columns, row filters, table patterns —
 * is the whole table's (https://cloud.google.com/bigquery/docs/table-decorators); the job goes
 * upstream with the reference as sent. Throws `invalid` for an id that is not a table id with at
 * most one such decorator.
 */
export function decidedTable(t: { projectId?: unknown; datasetId?: unknown; tableId?: unknown }, projectId: string): string {
  const id = typeof t.tableId === 'string' ? t.tableId.match(/^([\p{L}\p{M}\p{N}\p{Pc}\p{Pd} ]{1,1024}?)(@-?\d+(?:--?\d*)?|\$[A-Za-z0-9_]+)?$/u) : null;
  const ok = (v: unknown) => typeof v === 'string' && /^[A-Za-z0-9_-]{1,1024}$/.test(v);
  const project = t.projectId ?? projectId;
  if (!id || !ok(t.datasetId) || typeof project !== 'string' || !/^[a-z0-9:.-]{1,128}$/.test(project)) {
    throw new BigQueryError('invalid', `Invalid table reference ${JSON.stringify({ projectId: t.projectId, datasetId: t.datasetId, tableId: t.tableId })}: a tableId (letters, marks, digits, _ - and spaces) with at most one @snapshot or $partition decorator, in a datasetId of letters, digits, _ and -.`);
  }
  return `${project}.${t.datasetId}.${id[1]}`;
}

/**
 * Labels stamped on every upstream job so BigQuery's own audit logs and INFORMATION_SCHEMA.JOBS join
 * back to bqgate's records: the principal, the actor, the audit record id, the audit session and the front door (`bqgate_door`: rest, mcp).
 * The `bqgate_` namespace is the gateway's: the caller's own labels (`client`, validated by
 * bigquery/labels.ts) of that name, any case, are dropped. Label values are lowercased and
 * limited to [a-z0-9_-], 63 characters (BigQuery's label rules).
 */
export function jobLabels(c: { principal: Principal; auditId: string; sessionKey?: string; door?: string }, client: unknown = {}): Record<string, string> {
  const v = (s: string) => s.toLowerCase().replace(/[^a-z0-9_-]/g, '_').slice(0, 63);
  return {
    ...callerLabels(client),
    bqgate_principal: v(c.principal.subject),
    ...(c.principal.actor ? { bqgate_actor: v(c.principal.actor) } : {}),
    bqgate_request: v(c.auditId),
    ...(c.sessionKey ? { bqgate_session: v(c.sessionKey) } : {}),
    ...(c.door ? { bqgate_door: v(c.door) } : {}),
  };
}

/** A job id chosen by the gateway. */

/** The job id a caller asked for in jobs.insert, as recorded and sent upstream (namespaced per principal), or a minted one. */
const insertJobId = (c: Ctx, asked: unknown) => (asked === undefined || asked === null ? mintJobId() : upstreamJobId(c.principal, String(asked)));

const NON_QUERY = ['COPY', 'EXTRACT', 'LOAD'];

/**
 * How the caller sees `job`: its own job id, SQL and labels (the gateway's `bqgate_*` left out), the
 * owner; a SELECT job's anonymous results as `_bqgate_results.<jobId>` (RESULTS_DATASET), which the
 * Storage Read API door serves to the owner — only when job-ids.ts `resultsTableAccess` says
 * 'readable' (not row-capped, not approved).
 */
export const jobView = (c: Ctx, job: JobRecord, upstream?: any, extra: Partial<JobView> = {}): JobView => ({
  projectId: job.projectId, jobId: callerJobId(job), location: job.location, query: NON_QUERY.includes(job.statementType) ? undefined : job.query, owner: owner(c),
  labels: callerLabels(upstream?.configuration?.labels ?? job.pendingConfiguration?.labels),
  ...(resultsTableAccess(job) === 'readable' ? { resultsTable: { projectId: job.projectId, datasetId: RESULTS_DATASET, tableId: callerJobId(job) } } : {}),
  ...extra,
});

/**
 * How the caller sees the job it just inserted (`b`: the jobs.insert body; `jobId`: the id
 * recorded; `job`: the upstream's or the gate's resource).
 */
const insertedView = (c: Ctx, b: any, jobId: string, job: any, query: string | undefined): JobView => ({
  projectId: c.req.params.projectId!, jobId: b.jobReference?.jobId !== undefined ? String(b.jobReference.jobId) : jobId,
  location: job?.jobReference?.location ?? b.jobReference?.location, query, owner: owner(c), labels: callerLabels(b.configuration?.labels),
});

/** A job's URI list (sourceUris, destinationUris) as strings; throws invalid naming `field` otherwise. */
const uriList = (v: unknown, field: string): string[] => {
  if (!Array.isArray(v) || !v.length || v.some((u) => typeof u !== 'string' || !u)) throw new BigQueryError('invalid', `${field} must be a non-empty list of URIs (strings).`);
  return v;
};

/** The job reference the caller knows `job` by. */
const callerRef = (job: JobRecord) => ({ projectId: job.projectId, jobId: callerJobId(job), location: job.location });

/** The caller as an approvals party. */
export const person = (c: Ctx): Person => ({ subject: c.principal.subject, issuer: c.principal.issuer, email: c.principal.email, actor: c.principal.actor, groups: c.principal.groups });

/** How a job's owner is shown in `user_email`. */
export const owner = (c: Ctx) => c.principal.email ?? c.principal.subject;

/** The job operations, for the gateway's pipeline. */
export function jobOperations(d: JobDeps): Pick<Record<Operation, (c: Ctx) => Promise<Outcome>>, 'jobs.query' | 'jobs.insert' | 'jobs.get' | 'jobs.getQueryResults' | 'jobs.cancel' | 'jobs.list' | 'jobs.upload' | 'jobs.uploadChunk'> {
  const { cfg, store, upstream, catalog, gate, check, credentials, uploads } = d;

  /** The credential for a new job of the caller, or the one `job` already runs with. */
  const jobCredential = (c: Ctx, job?: JobRecord, decision?: Decision): Promise<JobCredential> =>
    credentials.forJob(c.principal, c.callerToken, job ? storedIdentity(job.upstreamIdentity) : undefined, decision?.upstreamServiceAccount);
  const as = async (c: Ctx, job: JobRecord) => (await jobCredential(c, job)).client;
  /** The job location: the client's, else the configured default, else US. */
  const where = (location: string | undefined) => location ?? cfg.upstreamAuth.location ?? 'US';

  /** The caller's job, or notFound (also for another principal's job: its existence is not revealed). */
  const ownJob = async (c: Ctx) => {
    const { projectId, jobId } = c.req.params;
    const j = await findOwnJob(store, c.principal, projectId!, jobId!);
    if (!j) throw new BigQueryError('notFound', `Not found: Job ${projectId}:${jobId}`);
    return j;
  };

  /**
   * How long past a results call's `timeoutMs` the gateway waits for the upstream's answer before it
   * answers `jobComplete: false` itself, ms (https://cloud.google.com/bigquery/docs/reference/rest/v2/jobs/getQueryResults:
   * "timeoutMs … If the timeout passes before the job completes, the 'jobComplete' field … will be false").
   */
  const POLL_GRACE_MS = 2000;

  const resultsQuery = (q: Record<string, string | undefined>, extra: Record<string, string | undefined> = {}) => ({
    location: q.location, maxResults: q.maxResults, pageToken: q.pageToken, startIndex: q.startIndex,
    timeoutMs: String(Math.min(Number(q.timeoutMs ?? cfg.defaultWaitMs), cfg.defaultWaitMs)),
    'formatOptions.useInt64Timestamp': q['formatOptions.useInt64Timestamp'], ...extra,
  });

  /** Creates the job upstream under a gateway-chosen id, recorded (with its owner) first. */
  /** The job record and upstream configuration of a checked query job (limits applied). */
  function prepareJob(c: Ctx, original: string, checked: { sql: string; analysis: QueryAnalysis; decision: Decision }, queryConfig: any, extra: any, requestId?: string) {
    const { maximumBytesBilled: cap, maximumRows } = checked.decision.limits;
    if (cap !== undefined) {
      const asked = queryConfig.maximumBytesBilled !== undefined ? Number(queryConfig.maximumBytesBilled) : Infinity;
      queryConfig = { ...queryConfig, maximumBytesBilled: String(Math.min(asked, cap)) };
    }
    return {
      rec: {
        query: original, upstreamQuery: checked.sql, statementType: checked.analysis.statementKind, requestId,
        backstopColumns: backstopColumns(c.policy, checked.analysis.lineage, checked.analysis.tables), maxRows: maximumRows,
      },
      configuration: { ...extra, query: { ...queryConfig, query: checked.sql, useLegacySql: false } },
    };
  }

  /**
   * Runs a checked query job: parked as PENDING when it needs approval (returns the job resource
   * the caller sees), else recorded and submitted upstream (returns the upstream job).
   */
  async function insertJob(c: Ctx, jobId: string, location: string | undefined, original: string, checked: Checked, queryConfig: any, extra: any, requestId?: string) {
    const prepared = prepareJob(c, original, checked, queryConfig, extra, requestId);
    const hold = await approvalHold(c, checked, queryConfig);
    const cred = await jobCredential(c, undefined, checked.decision);
    if (!hold) return submitJob(c, jobId, location, prepared.rec, prepared.configuration, cred, declaredOf(checked.sent));
    return (await parkJob(c, jobId, location, original, checked, prepared, hold, cred)).resource;
  }

  /** Records a job that waits for approval, and its pending approval; nothing goes upstream. */
  async function parkJob(c: Ctx, jobId: string, location: string | undefined, original: string, checked: { sql: string; analysis: QueryAnalysis; decision: Decision }, prepared: ReturnType<typeof prepareJob>, hold: Hold, cred: JobCredential) {
    const projectId = c.req.params.projectId!;
    const apr = await gate.park({
      hold, requester: person(c), projectId, jobId, policyVersion: checked.decision.policyVersion, sql: original, upstreamSql: checked.sql,
      tables: [...new Set([...checked.analysis.tablesRead, ...checked.analysis.tablesWritten])],
      columns: [...new Set(checked.analysis.columnsRead.map((x) => `${x.table}.${x.column}`))], requestId: c.auditId, sessionKey: c.sessionKey,
    });
    const job: JobRecord = {
      ...prepared.rec, projectId, jobId, location: where(location), ownerIssuer: c.principal.issuer, ownerSubject: c.principal.subject, createdAt: Date.now(),
      sessionKey: c.sessionKey, approvalId: apr.id, upstreamIdentity: cred.identity, pendingConfiguration: { ...prepared.configuration, labels: jobLabels(c, prepared.configuration.labels) },
    };
    await store.insertJob(job);
    (c.events ??= []).push({ type: 'approval', data: { step: 'requested', approvalId: apr.id, requirements: hold.requirements.map((q) => q.ruleId), bytesEstimate: hold.bytesEstimate, expiresAt: apr.expiresAt } });
    return { job, resource: deliverJob(gate.jobResource(job, apr, { query: { query: original, useLegacySql: false } }, owner(c)), jobView(c, job)) };
  }

  /** The approval hold of a checked statement, if it needs one (reused approvals are audited). */
  async function approvalHold(c: Ctx, checked: { sql: string; analysis: QueryAnalysis; decision: Decision }, query: Record<string, unknown>): Promise<Hold | undefined> {
    const { hold, reused } = await gate.needs({
      requester: person(c), projectId: c.req.params.projectId!, requirements: checked.decision.approvals, fingerprint: checked.analysis.fingerprint,
      parameters: query.queryParameters, policyVersion: checked.decision.policyVersion, sql: checked.sql, query,
    });
    if (reused) (c.events ??= []).push({ type: 'approval', data: { step: 'reused', approvalId: reused.id, uses: reused.used } });
    return hold;
  }


  /**
   * Records a job with its owner (before anything reaches the upstream), then creates it upstream
   * under the same id with `configuration` plus bqgate's labels. Returns the upstream job resource
   * (or, with `sender` — the upload endpoint's — what it returns for that job body).
   */
  async function submitJob(c: Ctx, jobId: string, location: string | undefined, rec: Pick<JobRecord, 'query' | 'upstreamQuery' | 'statementType'> & Partial<JobRecord>, configuration: any, cred: JobCredential, declared?: Declared, sender?: (body: any) => Promise<any>) {
    const projectId = c.req.params.projectId!;
    location = location ?? cfg.upstreamAuth.location;
    const body = { jobReference: { projectId, jobId, ...(location ? { location } : {}) }, configuration: { ...configuration, labels: jobLabels(c, configuration.labels) } };
    const send = () => (sender ? sender(body) : upstream.insertJobIdempotent(projectId, body, cred.client, declared));
    const record: JobRecord = { ...rec, projectId, jobId, location: where(location), ownerIssuer: c.principal.issuer, ownerSubject: c.principal.subject, createdAt: Date.now(), sessionKey: c.sessionKey, upstreamIdentity: cred.identity };
    try {
      await store.insertJob(record);
    } catch (err) {
      if (!(err instanceof BigQueryError && err.reason === 'duplicate')) throw err;
      // A client retrying its own insert (same id, same statement) after the replica that recorded
      // it died, perhaps before the upstream had it: the job is sent now (the upstream refuses a
      // second copy), then the retry gets BigQuery's answer to a repeated insert, 409 duplicate —
      // naming the caller's own job id only.
      const prior = await store.getJob(projectId, jobId, c.principal.issuer, c.principal.subject);
      if (prior && !prior.approvalId && prior.upstreamQuery === rec.upstreamQuery) await send().catch(() => undefined);
      throw new BigQueryError('duplicate', `Already Exists: Job ${projectId}:${record.location}.${callerJobId(record)}`);
    }
    return send();
  }

  const QUERY_KEYS = ['defaultDataset', 'queryParameters', 'parameterMode', 'maximumBytesBilled', 'useQueryCache', 'priority'];
  /** The destination of a query job's result (decided by `withDestination`). */
  const DESTINATION_KEYS = ['destinationTable', 'writeDisposition', 'createDisposition', 'schemaUpdateOptions', 'timePartitioning', 'rangePartitioning', 'clustering'];

  /** A query job's destination table and whether it exists now; undefined without one. */
  async function destinationOf(projectId: string, q: any): Promise<{ table: string; exists: boolean } | undefined> {
    if (q?.destinationTable === undefined || q?.destinationTable === null) return undefined;
    const table = destinationName(q.destinationTable, projectId);
    const exists = await catalog.getTable(table).then(() => true, (err) => {
      if (err instanceof BigQueryError && err.reason === 'notFound') return false;
      throw err;
    });
    return { table, exists };
  }

  /**
   * A query job with `destinationTable`: the query's decision plus the write statements it equals
   * (pipeline/destination.ts: CREATE_TABLE_AS_SELECT, INSERT, TRUNCATE+INSERT) — a refusal of any
   * of them refuses the job, their approvals join the query's. The rows written are the rewritten
   * (masked, filtered) query's, as a CREATE TABLE … AS SELECT's are. Without a destination, `checked` as is.
   */
  function withDestination(c: Ctx, dest: { table: string; exists: boolean } | undefined, q: any, checked: Checked): Checked {
    if (!dest) return checked;
    const { table, exists } = dest;
    const units = destinationUnits(checked.analysis, table, exists, q);
    const { decision, rowCap } = decideDestinationJob(c.policy, c.principal, checked.analysis, units);
    const analysis = { ...checked.analysis, statementKind: `SELECT+${units.map((u) => u.statementKind).join('+')}`, tablesWritten: [table] };
    c.audit = { ...c.audit, matchedRules: decision.matchedRules, reasons: decision.reasons, statementKind: analysis.statementKind, tables: [...new Set([...checked.analysis.tablesRead, table])] };
    if (rowCap !== undefined) {
      throw Object.assign(new BigQueryError('accessDenied', `Access Denied: destinationTable is refused for ${c.principal.subject}: a row cap of ${rowCap} rows applies to its results, and rows written to a table would pass it. Read the results instead.`), { decision, analysis });
    }
    if (decision.effect === 'deny') throw Object.assign(new BigQueryError('accessDenied', decision.reasons[0]), { decision, analysis });
    catalog.invalidate(table);
    // Masks, filters and limits stay the query's (they shaped the text sent); verbs and approvals are the union's.
    // The upstream is told of the destination too (declared.ts): the emulator refuses an undeclared write.
    const sent = { ...checked.sent, tablesWritten: [...new Set([...checked.sent.tablesWritten, table])] };
    return { ...checked, sent, decision: { ...checked.decision, matchedRules: decision.matchedRules, reasons: decision.reasons, ...(decision.approvals ? { approvals: decision.approvals } : {}) } };
  }

  /**
   * Copy, extract and load jobs: decided like the SQL statements they equal — EXPORT_DATA for an
   * extract, LOAD_DATA for a load (rules may also write EXTRACT and LOAD, policy VERB_ALIASES),
   * COPY for a copy (no one SQL statement equals it) — applying to the tables named (sources are
   * read whole, so every column counts), with extract destinations checked against
   * export_destinations and load sourceUris against load_sources (the gateway's credential reads them). A source with masks, denied columns or row
   * filters for the caller is refused: these jobs would move raw values. Allowed jobs are recorded
   * with their owner and sent upstream unchanged (with bqgate's labels) — a load job of the upload
   * endpoint (`c.req.upload`) with its file, through `uploads`.
   */
  async function nonQueryJob(c: Ctx, b: any): Promise<Outcome> {
    const cfg = b.configuration ?? {};
    const name = (t: any) => (t ? decidedTable(t, c.req.params.projectId ?? '') : undefined);
    // The job type (what BigQuery and jobs.list call it) and the policy verb: that of the SQL statement the job equals.
    let jobType: 'COPY' | 'EXTRACT' | 'LOAD';
    let verb: 'COPY' | 'EXPORT_DATA' | 'LOAD_DATA';
    let sources: string[] = [];
    let targets: string[];
    let exportUris: string[] | undefined;
    let loadUris: string[] | undefined;
    if (cfg.copy) { jobType = verb = 'COPY'; sources = [...(cfg.copy.sourceTables ?? []), ...(cfg.copy.sourceTable ? [cfg.copy.sourceTable] : [])].map(name) as string[]; targets = [name(cfg.copy.destinationTable)!]; }
    else if (cfg.extract) { jobType = 'EXTRACT'; verb = 'EXPORT_DATA'; sources = [name(cfg.extract.sourceTable)!]; targets = sources; exportUris = uriList(cfg.extract.destinationUris ?? (cfg.extract.destinationUri !== undefined ? [cfg.extract.destinationUri] : []), 'configuration.extract.destinationUris'); }
    else if (cfg.load) {
      jobType = 'LOAD'; verb = 'LOAD_DATA'; targets = [name(cfg.load.destinationTable)!];
      // An upload's file is its source (jobs.upload refuses sourceUris beside it); otherwise the gs:// files named.
      loadUris = c.req.upload ? [] : uriList(cfg.load.sourceUris, 'configuration.load.sourceUris');
    }
    else throw new BigQueryError('invalid', 'The job configuration names no query, copy, extract or load.');
    if ([...sources, ...targets].some((t) => !t || t.includes('undefined'))) throw new BigQueryError('invalid', `The ${jobType.toLowerCase()} job does not name its tables fully.`);
    const tables: Record<string, BqField[]> = {};
    // A dropped table named with a snapshot decorator (undelete): its schema as it was then, from the upstream's tables.get of the decorated name.
    const raw = [...(cfg.copy?.sourceTables ?? []), ...(cfg.copy?.sourceTable ? [cfg.copy.sourceTable] : []), ...(cfg.extract?.sourceTable ? [cfg.extract.sourceTable] : [])];
    const decorated = (t: string) => raw.map((r: any) => `${r.projectId ?? c.req.params.projectId}.${r.datasetId}.${r.tableId}`).find((n: string) => n !== t && n.startsWith(`${t}@`));
    for (const t of sources) {
      tables[t] = (await catalog.getTable(t).catch(async (err) => {
        const d = decorated(t);
        if (!d || !(err instanceof BigQueryError) || err.reason !== 'notFound') throw err;
        return catalog.getTable(d);
      })).schema;
    }
    const analysis = {
      statementKind: verb, tablesRead: sources, tablesWritten: targets, tables,
      columnsRead: sources.flatMap((t) => tables[t].map((f) => ({ table: t, column: f.name }))),
      flags: { exportUris, loadUris },
    };
    const decision = decide(c.policy, c.principal, analysis);
    const kind = jobType.toLowerCase();
    if (decision.effect === 'deny') throw Object.assign(new BigQueryError('accessDenied', `${decision.reasons[0]}${verb !== jobType ? ` (${kind} jobs are decided as ${verb})` : ''}`), { decision, analysis });
    const governed = sources.find((t) => isGoverned(decision, t));
    if (governed) throw Object.assign(new BigQueryError('accessDenied', `Access Denied: ${kind} of ${governed} is refused: it has masked, denied or filtered rows or columns for ${c.principal.subject}, and a ${kind} job would move raw values. Use a query instead.`), { decision });
    const jobId = insertJobId(c, b.jobReference?.jobId);
    const rec = { query: '', upstreamQuery: '', statementType: jobType };
    const cred = await jobCredential(c, undefined, decision);
    const sender = c.req.upload ? (body: any) => uploads.send(c, body, cred.client) : undefined;
    const audit = { ...decisionAudit(decision, ''), jobId, statementKind: verb, tables: [...new Set([...sources, ...targets])] };
    c.audit = { ...c.audit, ...audit }; // the decision event, durable before anything goes upstream
    const job = await submitJob(c, jobId, b.jobReference?.location, rec, cfg, cred, undefined, sender);
    // A resumable upload session opened: the caller PUTs its file to the gateway's URL.
    if (job?.session) return { body: {}, headers: { location: job.session }, audit };
    return { body: deliverJob(job, insertedView(c, b, jobId, job, undefined)), audit };
  }

  /**
   * Results of a job that may wait for approval: long-polls while pending (jobComplete false),
   * answers accessDenied once denied or expired, and reads the upstream once approved.
   */
  async function gatedResults(c: Ctx, job: JobRecord, kind: 'bigquery#queryResponse' | 'bigquery#getQueryResultsResponse', q: Record<string, any>): Promise<Outcome> {
    if (job.approvalId) {
      const st = await gate.state(job, Math.min(Number(q.timeoutMs ?? cfg.defaultWaitMs), cfg.defaultWaitMs));
      if (st.status === 'pending') return { body: { kind, jobReference: callerRef(job), jobComplete: false }, audit: { jobId: job.jobId } };
      if (st.status === 'refused') throw new BigQueryError(gate.refusalReason(st.record), callerMessage(gate.refusalMessage(st.record!)));
    }
    return results(c, job, kind, q);
  }

  async function results(c: Ctx, job: JobRecord, kind: 'bigquery#queryResponse' | 'bigquery#getQueryResultsResponse', q: Record<string, any>): Promise<Outcome> {
    let start = 0;
    if (job.maxRows !== undefined && q.pageToken) {
      // Row offsets of the page tokens handed out for row-capped jobs are in the shared state, so a
      // later page (on any replica) knows where it starts.
      const known = await store.pageStart(job.projectId, job.jobId, String(q.pageToken));
      if (known === undefined) throw new BigQueryError('invalid', 'This page token was not handed out by bqgate for this job; read the results again from startIndex=0.');
      start = known;
    } else if (q.startIndex !== undefined) start = Number(q.startIndex);
    const path = `/projects/${enc(job.projectId)}/queries/${enc(job.jobId)}`;
    const opts = { query: resultsQuery(q, { location: q.location ?? job.location }), as: await as(c, job) };
    // BigQuery's timeoutMs bounds this wait even when the upstream does not answer in it: past it
    // (and a grace for the network) the call is cut and the caller told to poll again. The cut
    // covers the wait for the answer's headers; a streamed body is then bounded by the request's deadline.
    // (Not AbortSignal.timeout: gaxios retries a call aborted with a TimeoutError reason.)
    const cut = new AbortController();
    const timer = setTimeout(() => cut.abort(new Error('the results wait passed timeoutMs')), Number(opts.query.timeoutMs) + POLL_GRACE_MS);
    let r: UpstreamStream;
    try {
      r = streams(c) ? await upstream.stream('GET', path, { ...opts, signal: cut.signal }) : await upstream.call('GET', path, { ...opts, signal: cut.signal });
    } catch (err) {
      if (cut.signal.aborted && err === cut.signal.reason) return { body: { kind, jobReference: callerRef(job), jobComplete: false }, audit: { jobId: job.jobId } };
      throw err;
    } finally { clearTimeout(timer); }
    if (r.stream) return presented(job, await streamPage(r.stream, streamOptions(job, kind, start)));
    if (r.status >= 300) throw callerError(upstreamError(r));
    return present(job, r.body, kind, start);
  }

  /**
   * Whether `c`'s result pages are streamed (deliver/stream.ts: read, redacted, capped and hashed as
   * they arrive, never held as objects): the REST door's. MCP keeps the object path (its pages
   * are at most 1,000 rows, and it renders the body).
   */
  const streams = (c: Ctx) => c.door === 'rest';

  /** How `job`'s page from row `start` is streamed: its backstop columns, row cap and the caller's job reference. */
  const streamOptions = (job: JobRecord, kind: 'bigquery#queryResponse' | 'bigquery#getQueryResultsResponse', start: number): StreamOptions => ({
    kind, scan: job.backstopColumns, ref: () => callerRef(job), sampleRows: cfg.audit.rowsCap,
    ...(job.maxRows !== undefined ? { cap: { start, max: job.maxRows } } : {}),
  });

  /** A streamed page of `job` as the outcome: the next page's start recorded (row-capped jobs). */
  async function presented(job: JobRecord, page: StreamedPage): Promise<Outcome> {
    if (page.next) await store.setPageStart(job.projectId, job.jobId, page.next.token, page.next.start);
    return { body: page.head, streamed: page, audit: { jobId: job.jobId, rowsReturned: page.rows, detections: page.detections } };
  }

  /** An upstream result page as the caller may receive it: backstop, row cap from `start`. */
  async function present(job: JobRecord, body: any, kind: 'bigquery#queryResponse' | 'bigquery#getQueryResultsResponse', start: number): Promise<Outcome> {
    const page = deliverPage(body, kind, job.backstopColumns, callerRef(job));
    const next = job.maxRows !== undefined && page.body.jobComplete ? capRows(page, start, job.maxRows) : undefined;
    if (next) await store.setPageStart(job.projectId, job.jobId, next.token, next.start);
    return { body: page.body, audit: { jobId: job.jobId, rowsReturned: page.rows, detections: page.detections } };
  }

  /** Results of a jobs.query the caller repeats with the same requestId: its first job's. */
  const repeated = (c: Ctx, prior: JobRecord, b: any) =>
    results(c, prior, 'bigquery#queryResponse', { maxResults: b.maxResults, timeoutMs: b.timeoutMs, 'formatOptions.useInt64Timestamp': b.formatOptions?.useInt64Timestamp ? 'true' : undefined });

  /**
   * jobs.query with one upstream round trip, as the client asked; the job is recorded as the
   * caller's before its id is returned to anyone. The requestId (the client's namespaced per
   * principal, else one of ours) makes the upstream run it once however often it is retried; a
   * concurrent retry of the caller's own that recorded the job first is answered from that job.
   */
  async function runQuery(c: Ctx, b: any, checked: Checked, prepared: ReturnType<typeof prepareJob>, cred: JobCredential): Promise<Outcome> {
    const projectId = c.req.params.projectId!;
    const timeoutMs = Math.min(Number(b.timeoutMs ?? cfg.defaultWaitMs), cfg.defaultWaitMs);
    const location = b.location ?? cfg.upstreamAuth.location;
    const requestId = upstreamRequestId(c.principal, b.requestId !== undefined ? String(b.requestId) : `bqgate:${c.auditId}`);
    const path = `/projects/${enc(projectId)}/queries`;
    const opts = {
      body: { ...pick(b, ['maxResults', 'formatOptions']), ...(location ? { location } : {}), requestId, ...prepared.configuration.query, timeoutMs, labels: jobLabels(c, b.labels) },
      as: cred.client, declared: declaredOf(checked.sent),
    };
    const newJob = (ref: any): JobRecord => ({
      ...prepared.rec, projectId, jobId: String(ref.jobId), location: ref.location ?? where(location), ownerIssuer: c.principal.issuer, ownerSubject: c.principal.subject,
      createdAt: Date.now(), sessionKey: c.sessionKey, upstreamIdentity: cred.identity,
    });
    let ref: any;
    let streamed: StreamedPage | undefined;
    let body: any;
    if (streams(c)) {
      const s = await upstream.stream('POST', path, opts);
      if (!s.stream) throw callerError(upstreamError(s));
      // The page is read whole before the job is recorded; its reference is the caller's view of the upstream's.
      const o = streamOptions(newJob({}), 'bigquery#queryResponse', 0);
      streamed = await streamPage(s.stream, { ...o, ref: (up) => { ref = up; return up?.jobId ? callerRef(newJob(up)) : { projectId }; } });
    } else {
      const r = await upstream.call('POST', path, opts);
      if (r.status >= 300) throw callerError(upstreamError(r));
      body = r.body;
      ref = r.body.jobReference;
    }
    if (!ref?.jobId) throw new BigQueryError('backendError', 'The upstream answered jobs.query without a job reference; the result cannot be delivered.');
    const job = newJob(ref);
    try {
      await store.insertJob(job);
    } catch (err) {
      if (!(err instanceof BigQueryError && err.reason === 'duplicate')) throw err;
      const mine = await store.getJob(projectId, job.jobId, c.principal.issuer, c.principal.subject);
      // Never someone else's job (nor its id): the upstream's requestIds are namespaced per principal.
      if (!mine) throw new BigQueryError('backendError', 'The upstream answered with a job bqgate already recorded for another request; nothing is delivered. Retry with a new requestId.');
      return repeated(c, mine, b);
    }
    const page = streamed ? await presented(job, streamed) : await present(job, body, 'bigquery#queryResponse', 0);
    return { ...page, audit: { ...decisionAudit(checked.decision, checked.sql), ...page.audit, jobId: job.jobId } };
  }

  /** A job resource of the caller's job `j` as the upstream reports it (or as the gate does, while it waits for approval). */
  async function currentJob(c: Ctx, j: JobRecord): Promise<any> {
    const st = await gate.state(j);
    if (st.status === 'pending' || st.status === 'refused') return deliverJob(gate.jobResource(j, st.record, { query: { query: j.query, useLegacySql: false } }, owner(c)), jobView(c, j));
    const r = await upstream.ok('GET', `/projects/${enc(j.projectId)}/jobs/${enc(j.jobId)}`, { query: { location: c.req.query.location ?? j.location }, as: await as(c, j) });
    return deliverJob(r, jobView(c, j, r));
  }

  /**
   * The jobs.list filters (REST reference jobs.list): `stateFilter` (done, pending, running; may be
   * repeated), `minCreationTime` / `maxCreationTime` (ms since the epoch, inclusive), `parentJobId`
   * (the caller's job id of a script: its child jobs). BigQueryError('invalid') for another state.
   */
  const listFilter = (c: Ctx) => {
    const q = c.req.query as Record<string, string | string[] | undefined>;
    const states = ([] as string[]).concat(q.stateFilter ?? []).flatMap((s) => s.split(',')).map((s) => s.trim().toLowerCase()).filter(Boolean);
    for (const s of states) if (!['done', 'pending', 'running'].includes(s)) throw new BigQueryError('invalid', `Invalid value for stateFilter: ${JSON.stringify(s)}; it must be done, pending or running.`);
    const min = q.minCreationTime !== undefined ? Number(q.minCreationTime) : -Infinity;
    const max = q.maxCreationTime !== undefined ? Number(q.maxCreationTime) : Infinity;
    const parent = typeof q.parentJobId === 'string' ? upstreamJobId(c.principal, q.parentJobId) : undefined;
    return {
      created: (t: number) => t >= min && t <= max,
      keep: (up: any) => (!states.length || states.includes(String(up?.status?.state ?? '').toLowerCase())) && (!parent || [parent, q.parentJobId].includes(up?.statistics?.parentJobId)),
    };
  };

  /** A `jobs.list` page token: the offset into the caller's jobs, as the gateway handed it out. */
  const listOffset = (t: string | undefined) => {
    if (!t) return 0;
    const m = /^\d{1,9}$/.exec(Buffer.from(t, 'base64url').toString());
    if (!m || Buffer.from(m[0]).toString('base64url') !== t) throw new BigQueryError('invalid', 'Invalid value for pageToken: it was not handed out by bqgate for jobs.list; list again without a pageToken.');
    return Number(m[0]);
  };

  const ops: Pick<Record<Operation, (c: Ctx) => Promise<Outcome>>, 'jobs.query' | 'jobs.insert' | 'jobs.get' | 'jobs.getQueryResults' | 'jobs.cancel' | 'jobs.list' | 'jobs.upload' | 'jobs.uploadChunk'> = {
    'jobs.query': async (c) => {
      const b = c.req.body;
      const projectId = c.req.params.projectId!;
      if (b.requestId !== undefined) {
        const prior = await store.getJobByRequestId(projectId, String(b.requestId), c.principal.issuer, c.principal.subject);
        if (prior) return repeated(c, prior, b);
      }
      const checked = await check(c, projectId, b);
      if (b.dryRun) {
        const dry = { ...pick(b, ['defaultDataset', 'queryParameters', 'parameterMode', 'location', 'useQueryCache', 'maximumBytesBilled']), query: checked.sql, useLegacySql: false, dryRun: true };
        const r = await upstream.ok('POST', `/projects/${enc(projectId)}/queries`, { body: dry, declared: declaredOf(checked.sent) });
        return { body: dryRunResponse(r, { projectId, location: where(b.location ?? r.jobReference?.location) }), audit: decisionAudit(checked.decision, checked.sql) };
      }
      const prepared = prepareJob(c, b.query, checked, pick(b, QUERY_KEYS), pick(b, ['labels']), b.requestId !== undefined ? String(b.requestId) : undefined);
      const hold = await approvalHold(c, checked, b);
      const cred = await jobCredential(c, undefined, checked.decision);
      if (!hold) return runQuery(c, b, checked, prepared, cred);
      // Parked: the caller long-polls like any slow query, and gets the result once approved.
      const { job } = await parkJob(c, mintJobId(), b.location, b.query, checked, prepared, hold, cred);
      const q = { maxResults: b.maxResults !== undefined ? String(b.maxResults) : undefined, timeoutMs: b.timeoutMs !== undefined ? String(b.timeoutMs) : undefined, 'formatOptions.useInt64Timestamp': b.formatOptions?.useInt64Timestamp ? 'true' : undefined };
      const page = await gatedResults(c, job, 'bigquery#queryResponse', q);
      return { ...page, audit: { ...decisionAudit(checked.decision, checked.sql), ...page.audit, jobId: job.jobId } };
    },

    'jobs.getQueryResults': async (c) => gatedResults(c, await ownJob(c), 'bigquery#getQueryResultsResponse', c.req.query),

    'jobs.insert': async (c) => {
      const b = c.req.body;
      const cfgIn = b.configuration ?? {};
      if (!cfgIn.query) return nonQueryJob(c, b);
      const projectId = c.req.params.projectId!;
      // The destination is looked up before the query is decided: nothing reaches the upstream between a decision and its audit event.
      const dest = await destinationOf(projectId, cfgIn.query);
      const checked = withDestination(c, dest, cfgIn.query, await check(c, projectId, cfgIn.query));
      if (cfgIn.dryRun) {
        const query = { ...pick(cfgIn.query, [...QUERY_KEYS, ...DESTINATION_KEYS]), query: checked.sql, useLegacySql: false };
        const r = await upstream.ok('POST', `/projects/${enc(projectId)}/jobs`, { body: { jobReference: { projectId, ...(b.jobReference?.location ? { location: b.jobReference.location } : {}) }, configuration: { query, dryRun: true } }, declared: declaredOf(checked.sent) });
        const view: JobView = { projectId, location: where(b.jobReference?.location ?? r.jobReference?.location), query: cfgIn.query.query, owner: owner(c), labels: callerLabels(cfgIn.labels) };
        return { body: deliverJob(r, view), audit: decisionAudit(checked.decision, checked.sql) };
      }
      const jobId = insertJobId(c, b.jobReference?.jobId);
      const job = await insertJob(c, jobId, b.jobReference?.location, cfgIn.query.query, checked, pick(cfgIn.query, [...QUERY_KEYS, ...DESTINATION_KEYS]), pick(cfgIn, ['labels', 'jobTimeoutMs']));
      const view = insertedView(c, b, jobId, job, cfgIn.query.query);
      return { body: deliverJob(job, view), audit: { ...decisionAudit(checked.decision, checked.sql), jobId } };
    },

    'jobs.get': async (c) => ({ body: await currentJob(c, await ownJob(c)) }),

    // The upload endpoint: a load job decided as jobs.insert's, then its file forwarded (upload.ts).
    'jobs.upload': async (c) => {
      const cfgIn = c.req.body?.configuration ?? {};
      if (!cfgIn.load || cfgIn.query || cfgIn.copy || cfgIn.extract) throw new BigQueryError('invalid', 'An upload carries a load job: configuration.load (and no query, copy or extract).');
      // The uploaded file is the source: a load job that also names Cloud Storage files would read them unseen by this decision.
      if (cfgIn.load.sourceUris !== undefined) throw new BigQueryError('invalid', 'An upload\'s load job reads the uploaded file: remove configuration.load.sourceUris (load gs:// files with jobs.insert).');
      uploads.admit(c); // the size bound, before the decision
      return nonQueryJob(c, c.req.body);
    },

    'jobs.uploadChunk': async (c) => {
      // Decided when the session was opened (jobs.upload); a chunk is admitted only from that principal.
      const r = await uploads.resume(c, async (jobId) => {
        c.audit = { ...c.audit, decision: 'allow', reasons: [`a chunk of the resumable upload of load job ${jobId}, opened (and decided) by ${c.principal.subject}`], policyVersion: c.policy.version, jobId, statementKind: 'LOAD_DATA' };
        // The job's own upstream credential (recorded with it), whichever replica opened the session.
        const job = await store.getJob(c.req.params.projectId!, jobId, c.principal.issuer, c.principal.subject);
        if (!job) throw new BigQueryError('notFound', `Not found: the load job of this upload session (${jobId}). Start the upload again with uploadType=resumable.`);
        return as(c, job);
      });
      if (r.status === 308) return { status: 308, body: {}, headers: r.range ? { range: r.range } : ({} as Record<string, string>) };
      const job = await store.getJob(r.projectId, r.jobId, c.principal.issuer, c.principal.subject);
      if (!job) throw new BigQueryError('notFound', `Not found: Job ${r.projectId}:${r.jobId}`);
      return { body: deliverJob(r.job, jobView(c, job, r.job)), audit: { jobId: job.jobId } };
    },

    'jobs.cancel': async (c) => {
      const j = await ownJob(c);
      if (j.approvalId) {
        // Still waiting for approval: withdrawn here, nothing ever reached the upstream.
        const rec = await gate.cancel(j);
        if (rec && rec.status !== 'approved') {
          (c.events ??= []).push({ type: 'approval', data: { step: 'cancel', approvalId: rec.id, status: rec.status, requester: c.principal.subject } });
          return { body: { kind: 'bigquery#jobCancelResponse', job: deliverJob(gate.jobResource(j, rec, { query: { query: j.query, useLegacySql: false } }, owner(c)), jobView(c, j)) } };
        }
      }
      const r = await upstream.ok('POST', `/projects/${enc(j.projectId)}/jobs/${enc(j.jobId)}/cancel`, { query: { location: c.req.query.location ?? j.location }, as: await as(c, j) });
      return { body: { kind: 'bigquery#jobCancelResponse', job: deliverJob(r.job, jobView(c, j, r.job)) } };
    },

    'jobs.list': async (c) => {
      const projectId = c.req.params.projectId!;
      const max = Math.min(Number(c.req.query.maxResults ?? 50), 1000);
      const offset = listOffset(c.req.query.pageToken);
      const f = listFilter(c);
      const mine = await store.listJobs(projectId, c.principal.issuer, c.principal.subject, max + 1, offset);
      const listed = await Promise.all(mine.slice(0, max).filter((j) => f.created(j.createdAt)).map(async (j) => {
        const r = await upstream.call('GET', `/projects/${enc(projectId)}/jobs/${enc(j.jobId)}`, { query: { location: j.location }, as: await as(c, j).catch(() => undefined) });
        const up = r.status < 300 ? r.body : { status: { state: 'DONE' }, configuration: { jobType: NON_QUERY.includes(j.statementType) ? j.statementType : 'QUERY' }, statistics: { creationTime: String(j.createdAt) } };
        return f.keep(up) ? jobListEntry(up, jobView(c, j, up)) : undefined;
      }));
      const jobs = listed.filter((x) => x !== undefined);
      const body: Record<string, unknown> = { kind: 'bigquery#jobList', jobs };
      if (mine.length > max) body.nextPageToken = Buffer.from(String(offset + max)).toString('base64url');
      return { body };
    },
  };

  // Every refusal that carries an upstream message is redacted of keyed-mask material.
  return Object.fromEntries(Object.entries(ops).map(([op, h]) => [op, async (c: Ctx) => { try { return await h(c); } catch (err) { throw callerError(err); } }])) as typeof ops;
}
