/**
 * The metadata and row-read methods (tables.get/list, datasets.get/list, projects.list,
 * tabledata.list), with the policy applied: only what some allow rule covers is shown, tables.get
 * leaves out the columns the caller may not see and says which are masked, and tabledata.list reads
 * through the masking projection (masks, row filters, row caps) when anything is governed.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { BigQueryError } from '../../bigquery/index.js';
import type { Catalog } from '../../catalog/index.js';
import { decide, canSeeTable, canSeeDataset, canSeeProject, isDeclared } from '../../policy/index.js';
import { governedProjection, isGoverned } from '../../rewrite/index.js';
import { declaredOf, type Upstream } from '../../upstream/index.js';
import type { AuthClient } from 'google-auth-library';
import { tableDataFromQuery, backstop, tableDataList, tableResource, tableList, datasetResource, datasetList, projectList, callerError } from '../../deliver/index.js';
import { visibleViewSchema, describedMasked, type ViewAnalyzer } from './view-schema.js';
import type { BqField } from '../../emulator/encode.js';
import { enc, pick, decisionAudit, type Ctx, type Outcome } from '../../pipeline/context.js';

type MetadataOperation = 'tabledata.list' | 'tables.get' | 'tables.list' | 'datasets.get' | 'datasets.list' | 'projects.list';

/**
 * The refusal of a dataset the caller may not see (datasets.get, and a method on one): default deny,
 * naming the principal and its groups and what a rule would have to name.
 */
export function datasetDenied(c: Ctx, projectId: string, datasetId: string): BigQueryError {
  return new BigQueryError('accessDenied', `Access Denied: Dataset ${projectId}:${datasetId}: no bqgate policy rule covers it for ${c.principal.subject} (groups ${JSON.stringify(c.principal.groups)}); default deny. A rule must allow a verb on the dataset (\`${projectId}.${datasetId}\`) or on a table in it (\`${projectId}.${datasetId}.*\`).`);
}

/**
 * The handlers, over the gateway's upstream, catalog, analyzer (a view's schema follows its
 * lineage) and HMAC key (also signs the page tokens of masked reads); `waitMs` bounds a masked
 * read's wait for its query (ms). Metadata is read with the gateway credential; table data
 * (tabledata.list and its masked query) with `dataCredential`, the caller's job credential. Every
 * answer is built from an allowlist of fields (deliver/resources.ts).
 */
export function metadataOperations({ upstream, catalog, hmacKey, analyzer, waitMs, dataCredential }: { upstream: Upstream; catalog: Catalog; hmacKey: Buffer; analyzer: ViewAnalyzer; waitMs: number; dataCredential: (c: Ctx) => Promise<AuthClient> }): Record<MetadataOperation, (c: Ctx) => Promise<Outcome>> {
  /** The MAC binding a masked read's row offset `n` to the caller and the table. */
  const mac = (c: Ctx, table: string, n: number) => createHmac('sha256', hmacKey).update(`tabledata\0${c.principal.issuer}\0${c.principal.subject}\0${table}\0${n}`).digest('base64url').slice(0, 22);
  /** The page token of a masked read of `table` starting at row `n`, for this caller only. */
  const rowToken = (c: Ctx, table: string, n: number) => Buffer.from(`${n}.${mac(c, table, n)}`).toString('base64url');
  /** The row offset of a token `rowToken` handed out; BigQueryError(invalid) for any other. */
  const rowOffset = (c: Ctx, table: string, t: string | undefined): number | undefined => {
    if (t === undefined) return undefined;
    const m = /^(\d{1,15})\.([A-Za-z0-9_-]{22})$/.exec(Buffer.from(t, 'base64url').toString());
    if (!m || m[2] !== mac(c, table, Number(m[1]))) throw new BigQueryError('invalid', `Invalid value for pageToken: it was not handed out by bqgate for ${table} to this caller; read again from startIndex.`);
    return Number(m[1]);
  };

  /** Metadata visibility: some allow rule must cover the table / dataset (accessDenied otherwise). */
  const mustSeeTable = (c: Ctx, table: string) => {
    if (!canSeeTable(c.policy, c.principal, table)) throw new BigQueryError('accessDenied', `Access Denied: Table ${table}: no bqgate policy rule lets ${c.principal.subject} read it.`);
  };
  const mustSeeDataset = (c: Ctx, projectId: string, datasetId: string) => {
    if (!canSeeDataset(c.policy, c.principal, projectId, datasetId)) throw datasetDenied(c, projectId, datasetId);
  };

  /**
   * The schema the caller may know about: denied columns left out, masked ones described as such
   * (tables.get, and the default column set of tabledata.list).
   */
  const visibleSchema = (c: Ctx, table: string, fields: BqField[]): BqField[] => {
    const d = decide(c.policy, c.principal, { statementKind: 'SELECT', tablesRead: [table], tablesWritten: [], columnsRead: [], tables: { [table]: fields } });
    const denied = new Set(d.deniedColumns[table] ?? []);
    return fields.filter((f) => !denied.has(f.name)).map((f) => {
      const m = d.masks[table]?.[f.name];
      return m ? describedMasked(f, [`${m.rule}, rule ${m.ruleId}`]) : f;
    });
  };

  const ops: Record<MetadataOperation, (c: Ctx) => Promise<Outcome>> = {
    'tabledata.list': async (c) => {
      const { projectId, datasetId, tableId } = c.req.params;
      const table = `${projectId}.${datasetId}.${tableId}`;
      mustSeeTable(c, table);
      const info = await catalog.getTable(table);
      if (info.viewQuery !== undefined) throw new BigQueryError('invalid', `Cannot read rows of the view ${table} with tabledata.list; query it instead.`);
      const selected = c.req.query.selectedFields?.split(',').map((s) => s.trim().split('.')[0]).filter(Boolean);
      // Without selectedFields: the columns the caller may know about (as tables.get shows them).
      const columns = selected?.length ? selected : visibleSchema(c, table, info.schema).map((f) => f.name);
      const analysis = { statementKind: 'SELECT', tablesRead: [table], tablesWritten: [], columnsRead: columns.map((column) => ({ table, column })), tables: { [table]: info.schema } };
      const decision = decide(c.policy, c.principal, analysis);
      if (decision.effect === 'deny') throw Object.assign(new BigQueryError('accessDenied', decision.reasons[0]), { decision });
      const q = c.req.query;
      const fields = info.schema.filter((f) => columns.includes(f.name));
      const scan = fields.flatMap((f, i) => (isDeclared(c.policy, table, f.name, info.schema) ? [] : [i]));
      const cap = decision.limits.maximumRows;
      if (!isGoverned(decision, table) && cap === undefined) {
        const r = await upstream.ok('GET', `/projects/${enc(projectId!)}/datasets/${enc(datasetId!)}/tables/${enc(tableId!)}/data`, { query: pick(q, ['maxResults', 'pageToken', 'startIndex', 'selectedFields', 'formatOptions.useInt64Timestamp']), as: await dataCredential(c) });
        const b = backstop(r.rows, selected?.length ? fields : info.schema, scan);
        return { body: tableDataList({ ...r, ...(b.rows ? { rows: b.rows } : {}) }), audit: { ...decisionAudit(decision, ''), rowsReturned: r.rows?.length ?? 0, detections: b.detections } };
      }
      // Masked (or capped) read: the same rows, through the masking projection, in storage order.
      const start = rowOffset(c, table, q.pageToken) ?? Number(q.startIndex ?? 0);
      const max = Math.max(0, Math.min(Number(q.maxResults ?? 10_000), 100_000, cap === undefined ? Infinity : cap - start));
      const sql = `${governedProjection(table, analysis, decision, { hmacKey, salt: randomBytes(16) }, columns)} LIMIT ${max} OFFSET ${start}`;
      const r = await upstream.ok('POST', `/projects/${enc(projectId!)}/queries`, { body: { query: sql, useLegacySql: false, timeoutMs: waitMs, formatOptions: { useInt64Timestamp: q['formatOptions.useInt64Timestamp'] === 'true' } }, as: await dataCredential(c), declared: declaredOf(analysis) });
      const stored = Number((await upstream.ok('GET', `/projects/${enc(projectId!)}/datasets/${enc(datasetId!)}/tables/${enc(tableId!)}`)).numRows ?? 0);
      const total = cap === undefined ? stored : Math.min(stored, cap);
      const got = r.rows?.length ?? 0;
      const b = backstop(r.rows, r.schema?.fields, scan);
      return { body: tableDataFromQuery({ ...r, rows: b.rows }, String(total), start + got < total && got > 0 ? rowToken(c, table, start + got) : undefined), audit: { ...decisionAudit(decision, sql), rowsReturned: got, detections: b.detections } };
    },

    'tables.get': async (c) => {
      const { projectId, datasetId, tableId } = c.req.params;
      const table = `${projectId}.${datasetId}.${tableId}`;
      mustSeeTable(c, table);
      const r = await upstream.ok('GET', `/projects/${enc(projectId!)}/datasets/${enc(datasetId!)}/tables/${enc(tableId!)}`, { query: pick(c.req.query, ['view']) });
      const fields: BqField[] | undefined = r.schema?.fields;
      // A view's columns take the policy of the table columns they derive from (its lineage).
      const visible = !fields ? undefined : r.type === 'VIEW' || r.view ? await visibleViewSchema(analyzer, c.policy, c.principal, table, fields) : visibleSchema(c, table, fields);
      // selectedFields (REST tables.get): the schema of those top-level columns only, as tabledata.list returns them (bq head --selected_fields).
      const selected = c.req.query.selectedFields?.split(',').map((x) => x.trim().split('.')[0].toLowerCase()).filter(Boolean);
      return { body: tableResource(r, selected?.length && visible ? visible.filter((f) => selected.includes(f.name.toLowerCase())) : visible) };
    },

    'tables.list': async (c) => {
      const { projectId, datasetId } = c.req.params;
      mustSeeDataset(c, projectId!, datasetId!);
      const r = await upstream.ok('GET', `/projects/${enc(projectId!)}/datasets/${enc(datasetId!)}/tables`, { query: pick(c.req.query, ['maxResults', 'pageToken']) });
      const tables = (r.tables ?? []).filter((t: any) => canSeeTable(c.policy, c.principal, `${projectId}.${datasetId}.${t.tableReference?.tableId}`));
      return { body: tableList(r, tables) };
    },

    'datasets.get': async (c) => {
      const { projectId, datasetId } = c.req.params;
      mustSeeDataset(c, projectId!, datasetId!);
      // The access list is an ACL: shown only to a caller some rule allows GRANT on the dataset.
      // datasetView=ACL asks for it alone, so it is refused outright; FULL (the default) leaves it out.
      const view = c.req.query.datasetView;
      if (view !== undefined && !['DATASET_VIEW_UNSPECIFIED', 'METADATA', 'ACL', 'FULL'].includes(view)) throw new BigQueryError('invalid', `Invalid value for datasetView: ${JSON.stringify(view)}; it must be METADATA, ACL or FULL.`);
      const grant = decide(c.policy, c.principal, { statementKind: 'GRANT', tablesRead: [], tablesWritten: [`${projectId}.${datasetId}`], columnsRead: [], tables: {} });
      if (view === 'ACL' && grant.effect === 'deny') throw Object.assign(new BigQueryError('accessDenied', `Access Denied: the access list of dataset ${projectId}:${datasetId} is shown only to principals a bqgate rule allows GRANT on it. ${grant.reasons[0]}`), { decision: grant });
      const r = await upstream.ok('GET', `/projects/${enc(projectId!)}/datasets/${enc(datasetId!)}`, { query: pick(c.req.query, ['datasetView', 'accessPolicyVersion']) });
      const acl = grant.effect === 'allow' && view !== 'METADATA' && Array.isArray(r.access);
      return { body: { ...datasetResource(r), ...(acl ? { access: r.access } : {}) } };
    },

    'datasets.list': async (c) => {
      const projectId = c.req.params.projectId!;
      const r = await upstream.ok('GET', `/projects/${enc(projectId)}/datasets`, { query: pick(c.req.query, ['maxResults', 'pageToken', 'all', 'filter']) });
      const datasets = (r.datasets ?? []).filter((d: any) => canSeeDataset(c.policy, c.principal, projectId, d.datasetReference?.datasetId));
      return { body: datasetList(r, datasets) };
    },

    'projects.list': async (c) => {
      const r = await upstream.ok('GET', '/projects', { query: pick(c.req.query, ['maxResults', 'pageToken']) });
      const projects = (r.projects ?? []).filter((p: any) => canSeeProject(c.policy, c.principal, p.projectReference?.projectId));
      return { body: projectList(r, projects) };
    },
  };
  // Refusals that carry an upstream message are redacted of keyed-mask material.
  return Object.fromEntries(Object.entries(ops).map(([op, h]) => [op, async (c: Ctx) => { try { return await h(c); } catch (err) { throw callerError(err); } }])) as typeof ops;
}
