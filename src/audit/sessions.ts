/**
 * Sessions and their timelines, from audit events (plain data in, plain data out).
 *
 * A session groups one principal's requests: by the explicit session key the client sent
 * (x-bqgate-session header or the bqgate_session job label), otherwise by idle gap — a new session
 * starts when the principal's previous request is more than `gapMs` older (default 30 minutes).
 * Session ids: `key:<principal>:<session key>`, or `<principal>@<ISO start time>`.
 */
import type { AuditEvent } from './events.js';
import type { Principal } from '../auth/index.js';

/** One request as the audit recorded it. Times in ms since epoch; `durationMs` in ms. */
export interface RequestRecord {
  requestId: string;
  ts: number;
  principal: string;
  issuer: string;
  actor?: string;
  sessionKey?: string;
  operation: string;
  /** Job project of the request (path parameter). */
  projectId?: string;
  /** The principal's groups and email as the gateway verified them. */
  groups?: string[];
  email?: string;
  sql?: string;
  parameters?: unknown;
  /** The front door (rest, mcp) and the client (user agent, or an MCP client's name/version). */
  door?: string;
  client?: string;
  /** An MCP tools/call: the tool, its arguments, the protocol revision and era. */
  mcp?: { tool?: string; arguments?: unknown; protocolVersion?: string; era?: string };
  /** jobs.query: the default dataset and format options; jobs.insert: the job configuration (query text elsewhere). */
  defaultDataset?: { projectId?: string; datasetId: string };
  formatOptions?: { useInt64Timestamp?: boolean };
  configuration?: Record<string, any>;
  /** The request's query string (getQueryResults: pageToken, startIndex, formatOptions.useInt64Timestamp, …). */
  query?: Record<string, string>;
  /** `statementKind`: the verb decided (SELECT, INSERT, DROP, … — a REST method's verb too: tables.delete is DROP). */
  decision?: { effect: string; matchedRules: string[]; reasons: string[]; policyVersion?: string; statementKind?: string; tables?: string[]; models?: string[]; columns?: string[] };
  upstream?: { jobId?: string; sql?: string; labels?: Record<string, string> };
  deliveries: Array<{ columns: string[]; rows: number; bytes: number; sha256: string; rowsSha256?: string; nextPageToken?: string; sample: unknown[]; sampleTruncated: boolean; detections?: Record<string, number> }>;
  approvals: Array<Record<string, unknown>>;
  response?: { status: number; errorReason?: string; errorMessage?: string; durationMs: number; timings?: Record<string, number> };
  /** seq of every event of the request, in order. */
  seqs: number[];
}

export interface Session {
  id: string;
  principal: string;
  actor?: string;
  /** The principal's groups as verified on the session's first request. */
  groups?: string[];
  start: number;
  end: number;
  requests: number;
  denied: number;
  tables: string[];
}

/** Folds events (any order) into requests, oldest first. */
export function requestsOf(events: AuditEvent[]): RequestRecord[] {
  const byId = new Map<string, RequestRecord>();
  for (const e of [...events].sort((a, b) => a.seq - b.seq)) {
    let r = byId.get(e.requestId);
    if (!r) {
      r = { requestId: e.requestId, ts: e.ts, principal: e.principal, issuer: e.issuer, actor: e.actor, sessionKey: e.sessionKey, operation: '', deliveries: [], approvals: [], seqs: [] };
      byId.set(e.requestId, r);
    }
    r.seqs.push(e.seq);
    const d = e.data as any;
    if (e.type === 'request') {
      Object.assign(r, {
        ts: e.ts, operation: d.operation, projectId: d.projectId, groups: d.groups, email: d.email, sql: d.sql, parameters: d.parameters,
        defaultDataset: d.defaultDataset ?? d.configuration?.query?.defaultDataset, formatOptions: d.formatOptions, configuration: d.configuration, query: d.query,
        door: d.door, client: d.client, ...(d.tool !== undefined ? { mcp: { tool: d.tool, arguments: d.arguments, protocolVersion: d.protocolVersion, era: d.era } } : {}),
      });
    }
    else if (e.type === 'decision') r.decision = d;
    else if (e.type === 'upstream') r.upstream = d;
    else if (e.type === 'delivery') r.deliveries.push(d);
    else if (e.type === 'approval') r.approvals.push(d);
    else if (e.type === 'response') r.response = d;
  }
  return [...byId.values()].sort((a, b) => a.ts - b.ts);
}

const denied = (r: RequestRecord) => r.decision?.effect === 'deny' || r.response?.status === 403;

/** Groups requests into sessions, newest first. */
export function sessionsOf(requests: RequestRecord[], gapMs = 30 * 60_000): Array<Session & { requestIds: string[] }> {
  const out: Array<Session & { requestIds: string[]; last: number }> = [];
  const open = new Map<string, Session & { requestIds: string[]; last: number }>();
  for (const r of [...requests].sort((a, b) => a.ts - b.ts)) {
    const key = r.sessionKey ? `key:${r.principal}:${r.sessionKey}` : `gap:${r.principal}`;
    let s = open.get(key);
    if (!s || (!r.sessionKey && r.ts - s.last > gapMs)) {
      s = { id: r.sessionKey ? key : `${r.principal}@${new Date(r.ts).toISOString()}`, principal: r.principal, actor: r.actor, groups: r.groups, start: r.ts, end: r.ts, last: r.ts, requests: 0, denied: 0, tables: [], requestIds: [] };
      open.set(key, s);
      out.push(s);
    }
    s.end = Math.max(s.end, r.ts + (r.response?.durationMs ?? 0));
    s.last = r.ts;
    s.requests++;
    if (denied(r)) s.denied++;
    for (const t of r.decision?.tables ?? []) if (!s.tables.includes(t)) s.tables.push(t);
    s.requestIds.push(r.requestId);
  }
  return out.map(({ last: _l, ...s }) => s).sort((a, b) => b.start - a.start);
}

/** A terminal timeline of one session's requests. */
export function renderTimeline(s: Session, requests: RequestRecord[]): string {
  const lines = [`session ${s.id}`, `principal ${s.principal}${s.actor ? ` (actor ${s.actor})` : ''}, ${new Date(s.start).toISOString()} → ${new Date(s.end).toISOString()}, ${s.requests} request(s), ${s.denied} denied`, ''];
  for (const r of requests) {
    const status = r.response ? `${r.response.status}${r.response.errorReason ? ` ${r.response.errorReason}` : ''} in ${r.response.durationMs.toFixed(1)} ms` : 'no response recorded';
    lines.push(`${new Date(r.ts).toISOString()}  ${r.operation}  → ${status}`);
    if (r.sql) lines.push(`    sql:      ${r.sql.replace(/\s+/g, ' ').slice(0, 300)}`);
    if (r.decision) {
      lines.push(`    decision: ${r.decision.effect.toUpperCase()} by ${r.decision.matchedRules.join(', ') || '(default deny)'}${r.decision.policyVersion ? ` (policy ${r.decision.policyVersion})` : ''}`);
      for (const why of r.decision.reasons.slice(0, 5)) lines.push(`              ${why}`);
    }
    for (const a of r.approvals as Array<Record<string, any>>) {
      const what = a.step === 'requested' ? `requested (${a.approvalId}; needs ${(a.requirements ?? []).join(', ')})`
        : a.step === 'reused' ? `reused ${a.approvalId}`
        : `${a.step === 'approve' ? 'approved' : 'denied'} by ${a.approver}${a.breakGlass ? ' (BREAK-GLASS)' : ''}${a.comment ? `: "${a.comment}"` : ''} → ${a.status}`;
      lines.push(`    approval: ${what}`);
    }
    if (r.upstream?.jobId) lines.push(`    job:      ${r.upstream.jobId}`);
    for (const d of r.deliveries) {
      lines.push(`    rows:     ${d.rows} delivered (${d.columns.join(', ')}), sha256 ${d.sha256.slice(0, 16)}…`);
      for (const row of d.sample.slice(0, 5)) lines.push(`              ${JSON.stringify(row)}`);
      if (d.sample.length > 5 || d.sampleTruncated) lines.push(`              … (${d.sample.length} recorded of ${d.rows})`);
    }
    if (r.response?.errorMessage) lines.push(`    error:    ${r.response.errorMessage}`);
    lines.push('');
  }
  return lines.join('\n');
}

/**
 * The principal as the audit recorded it, for re-deciding or re-running a recorded request
 * (`policy diff`, `sessions reexecute`). Claims beyond sub, iss, groups, email and act are not
 * recorded, so rules matching other claims see them absent.
 */
export function recordedPrincipal(r: RequestRecord): Principal {
  const groups = r.groups ?? [];
  return {
    subject: r.principal, issuer: r.issuer, email: r.email, groups, actor: r.actor,
    claims: { sub: r.principal, iss: r.issuer, groups, ...(r.email ? { email: r.email } : {}), ...(r.actor ? { act: { sub: r.actor } } : {}) },
  };
}
