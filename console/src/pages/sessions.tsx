/**
 * Sessions: search the audit by principal, actor, table, column, decision and time; a session's
 * timeline replays each request — SQL, decision and reasons, approvals, the rows the caller
 * received (masked as delivered), timings — with the checkpoint verification of its events.
 */
import { useEffect, useState } from 'preact/hooks';
import { api } from '../api';
import { Badge, ErrorBox, Rows, Sql, effectBadge, fmtBytes, fmtMs, fmtTime } from '../ui';

export interface SessionSummary { id: string; principal: string; actor?: string; groups?: string[]; start: number; end: number; requests: number; denied: number; tables: string[] }

const FILTERS = ['principal', 'actor', 'table', 'column', 'decision', 'since', 'until'] as const;
type Filters = Partial<Record<(typeof FILTERS)[number], string>>;

export function Sessions() {
  const [filters, setFilters] = useState<Filters>(() => JSON.parse(sessionStorage.getItem('bqgate.console.filters') ?? '{}'));
  const [list, setList] = useState<SessionSummary[]>();
  const [error, setError] = useState<unknown>();
  const search = async (f: Filters) => {
    sessionStorage.setItem('bqgate.console.filters', JSON.stringify(f));
    const iso = (v?: string) => (v ? new Date(v).toISOString() : undefined);
    try {
      setError(undefined);
      setList((await api<{ sessions: SessionSummary[] }>('/sessions', { query: { ...f, since: iso(f.since), until: iso(f.until) } })).sessions);
    } catch (err) { setError(err); }
  };
  useEffect(() => { void search(filters); }, []);
  const field = (k: keyof Filters, label: string, type: 'text' | 'datetime-local' = 'text', placeholder = '') => (
    <label>{label}<input {...({ name: k, type, placeholder } as Record<string, string>)} value={filters[k] ?? ''} onInput={(e) => setFilters({ ...filters, [k]: (e.target as HTMLInputElement).value })} /></label>
  );
  return (
    <section>
      <h1>Sessions</h1>
      <form class="filters" onSubmit={(e) => { e.preventDefault(); void search(filters); }}>
        {field('principal', 'Principal', 'text', 'agent-7')}
        {field('actor', 'Actor', 'text', 'reporting-bot')}
        {field('table', 'Table', 'text', 'project.dataset.table')}
        {field('column', 'Column', 'text', 'project.dataset.table.column')}
        <label>Decision<select name="decision" value={filters.decision ?? ''} onChange={(e) => setFilters({ ...filters, decision: (e.target as HTMLSelectElement).value })}>
          <option value="">any</option><option value="allow">allow</option><option value="deny">deny</option></select></label>
        {field('since', 'Since', 'datetime-local')}
        {field('until', 'Until', 'datetime-local')}
        <button type="submit">Search</button>
      </form>
      <ErrorBox error={error} />
      {list && (list.length ? (
        <table class="list">
          <thead><tr><th>Start</th><th>Principal</th><th>Actor</th><th>Requests</th><th>Denied</th><th>Tables</th></tr></thead>
          <tbody>{list.map((s) => (
            <tr key={s.id} class="session-row">
              <td><a href={`#/sessions/${encodeURIComponent(s.id)}`}>{fmtTime(s.start)}</a></td>
              <td>{s.principal}</td><td>{s.actor ?? ''}</td><td class="num">{s.requests}</td>
              <td class="num">{s.denied ? <Badge kind="deny">{s.denied}</Badge> : 0}</td>
              <td class="tables">{s.tables.join(', ')}</td>
            </tr>))}
          </tbody>
        </table>) : <p class="empty">No session matches.</p>)}
    </section>
  );
}

interface Delivery { columns: string[]; rows: number; bytes: number; sha256: string; sample: Array<{ f?: unknown[] }>; sampleTruncated: boolean; detections?: Record<string, number> }
interface RequestRecord {
  requestId: string; ts: number; operation: string; sql?: string; actor?: string;
  /** The front door (rest, mcp), the client (user agent, or an MCP client's name/version), and an MCP tools/call's tool and protocol era. */
  door?: string; client?: string; mcp?: { tool?: string; protocolVersion?: string; era?: string };
  decision?: { effect: string; matchedRules: string[]; reasons: string[]; policyVersion?: string; tables?: string[]; columns?: string[] };
  upstream?: { jobId?: string };
  deliveries: Delivery[];
  approvals: Array<Record<string, any>>;
  response?: { status: number; errorReason?: string; errorMessage?: string; durationMs: number; timings?: Record<string, number> };
  seqs: number[];
}
interface Verification { checkpoint?: { treeSize: number; ts: number; keyId: string; signatureValid: boolean }; verified: number; pending: number; pruned: number; failure?: { seq: number; kind: string; message: string } }

export function SessionView({ id }: { id: string }) {
  const [data, setData] = useState<{ session: SessionSummary; requests: RequestRecord[]; verification: Verification }>();
  const [error, setError] = useState<unknown>();
  useEffect(() => { api(`/sessions/${encodeURIComponent(id)}`).then(setData, setError); }, [id]);
  if (error) return <section><a href="#/sessions">← Sessions</a><ErrorBox error={error} /></section>;
  if (!data) return <p class="muted">Loading…</p>;
  const { session: s, requests, verification: v } = data;
  return (
    <section>
      <a href="#/sessions">← Sessions</a>
      <h1>Session of {s.principal}{s.actor ? <span class="muted"> via {s.actor}</span> : null}</h1>
      <p class="muted">{fmtTime(s.start)} → {fmtTime(s.end)} · {s.requests} requests · {s.denied} denied · <code>{s.id}</code></p>
      <VerificationBanner v={v} />
      <ol class="timeline">
        {requests.map((r) => <RequestItem key={r.requestId} r={r} />)}
      </ol>
    </section>
  );
}

function VerificationBanner({ v }: { v: Verification }) {
  if (v.failure) return <div class="verify bad" data-testid="verification">✖ Audit verification failed: {v.failure.message}</div>;
  if (!v.checkpoint) return <div class="verify pending" data-testid="verification">… No signed checkpoint yet; {v.pending} events wait for the first one.</div>;
  return (
    <div class="verify ok" data-testid="verification">
      ✔ {v.verified} events verified: each hashes to its leaf and is included in the signed checkpoint at tree size {v.checkpoint.treeSize} ({fmtTime(v.checkpoint.ts)}, key {v.checkpoint.keyId.slice(0, 10)}…)
      {v.pending ? <>; {v.pending} newer events wait for the next checkpoint</> : null}{v.pruned ? <>; {v.pruned} pruned by retention</> : null}.
    </div>
  );
}

function RequestItem({ r }: { r: RequestRecord }) {
  const status = r.response?.status;
  return (
    <li class={`req ${r.decision?.effect ?? ''}`} data-operation={r.operation} data-door={r.door ?? 'rest'}>
      <div class="req-head">
        <span class="time">{fmtTime(r.ts)}</span>
        <span class={`door ${r.door ?? 'rest'}`} data-testid="door">{(r.door ?? 'rest').toUpperCase()}</span>
        {r.mcp?.tool && <code class="tool" data-testid="tool">{r.mcp.tool}</code>}
        <b>{r.operation}</b>
        {effectBadge(r.decision?.effect, status)}
        {status !== undefined && <span class={`status s${Math.floor(status / 100)}`}>{status}{r.response?.errorReason ? ` ${r.response.errorReason}` : ''}</span>}
        <span class="muted">{fmtMs(r.response?.durationMs)}</span>
        {r.upstream?.jobId && <code class="muted">{r.upstream.jobId}</code>}
      </div>
      {(r.client || r.mcp?.protocolVersion) && (
        <div class="muted client" data-testid="client">
          {r.client ? <>client <code>{r.client}</code></> : null}
          {r.mcp?.protocolVersion ? <> · MCP {r.mcp.protocolVersion}{r.mcp.era ? ` (${r.mcp.era === 'modern' ? 'stateless' : 'session'} era)` : ''}</> : null}
        </div>
      )}
      {r.sql && <Sql text={r.sql} />}
      {r.decision && (
        <div class="decision">
          <div>Rules: {r.decision.matchedRules.length ? r.decision.matchedRules.map((x) => <code key={x}>{x}</code>) : <i>default deny</i>}{r.decision.policyVersion ? <span class="muted"> · policy {r.decision.policyVersion}</span> : null}</div>
          <ul>{r.decision.reasons.slice(0, 6).map((why, i) => <li key={i}>{why}</li>)}</ul>
        </div>
      )}
      {r.approvals.length > 0 && <ul class="steps">{r.approvals.map((a, i) => <li key={i}>{approvalLine(a)}</li>)}</ul>}
      {r.response?.errorMessage && !r.decision?.reasons.includes(r.response.errorMessage) && <div class="error-line">{r.response.errorMessage}</div>}
      {r.deliveries.map((d, i) => (
        <div class="delivery" key={i}>
          <div class="muted">{d.rows} rows delivered · {fmtBytes(d.bytes)} · sha256 <code>{d.sha256.slice(0, 16)}…</code>{d.sampleTruncated ? ` · first ${d.sample.length} recorded` : ''}{d.detections ? ` · content detections: ${Object.entries(d.detections).map(([k, n]) => `${k} ${n}`).join(', ')}` : ''}</div>
          {d.sample.length > 0 && <Rows columns={d.columns} rows={d.sample} />}
        </div>
      ))}
      {r.response?.timings && <Timings t={r.response.timings} total={r.response.durationMs} />}
      {r.sql && r.decision?.effect === 'allow' && (r.operation === 'jobs.query' || r.operation === 'jobs.insert') && <Reexecute requestId={r.requestId} />}
    </li>
  );
}

const approvalLine = (a: Record<string, any>) => a.step === 'requested' ? <>approval requested ({a.approvalId}); needs {(a.requirements ?? []).join(', ')}</>
  : a.step === 'reused' ? <>reused approval {a.approvalId}</>
  : <>{a.step === 'approve' ? 'approved' : a.step === 'deny' ? 'denied' : a.step} by <b>{a.approver}</b>{a.breakGlass ? ' (BREAK-GLASS)' : ''}{a.comment ? <>: “{a.comment}”</> : null} → {a.status}</>;

/** The gateway's own time per stage (ms), as a bar. */
function Timings({ t, total }: { t: Record<string, number>; total: number }) {
  const parts = Object.entries(t).filter(([k, v]) => k !== 'total' && v > 0);
  return (
    <div class="timings" title="time per stage">
      {parts.map(([k, v]) => <span key={k} class={`t-${k}`} style={{ flexGrow: Math.max(v, total / 100) }}>{k} {fmtMs(v)}</span>)}
    </div>
  );
}

interface Reexecution {
  verdict: 'match' | 'differs' | 'denied' | 'unknown'; asOf: string; delivered: { pages: number; rows: number };
  reexecuted?: { jobId: string; totalRows: number; rowsRead: number };
  decision: { reasons: string[] };
  credential?: { identity: string; note?: string };
  notCompared: Array<{ column: string; why: string }>;
  firstDifference?: { row: number; column: string; delivered: unknown; reexecuted: unknown };
}

/** Re-runs the query as its principal, as of its time (BigQuery time travel), and compares with what was delivered. */
function Reexecute({ requestId }: { requestId: string }) {
  const [out, setOut] = useState<Reexecution>();
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const run = async () => {
    setBusy(true);
    setError(undefined);
    try { setOut(await api<Reexecution>(`/audit/requests/${encodeURIComponent(requestId)}/reexecute`, { method: 'POST', body: {} })); } catch (err) { setError(err); } finally { setBusy(false); }
  };
  return (
    <div class="reexecute">
      {!out && <button onClick={run} disabled={busy} class="small">{busy ? 'Re-executing…' : 'Re-execute as of then'}</button>}
      {out && (
        <div class={`reexec-result ${out.verdict}`} data-testid="reexecution">
          <Badge kind={out.verdict === 'match' ? 'allow' : out.verdict === 'differs' || out.verdict === 'denied' ? 'deny' : 'pending'}>{out.verdict}</Badge>{' '}
          {out.verdict === 'denied' ? out.decision.reasons[0]
            : <>re-run as of {fmtTime(out.asOf)}: {out.delivered.rows} delivered rows compared{out.reexecuted ? ` with job ${out.reexecuted.jobId}` : ''}{out.credential ? ` (credential: ${out.credential.identity})` : ''}</>}
          {out.firstDifference && <div>First difference: row {out.firstDifference.row}, column <code>{out.firstDifference.column}</code>: delivered <code>{String(out.firstDifference.delivered)}</code>, now <code>{String(out.firstDifference.reexecuted)}</code></div>}
          {out.notCompared.length > 0 && <div class="muted">Not compared: {out.notCompared.map((n) => `${n.column} (${n.why})`).join(', ')}</div>}
          {out.credential?.note && <div class="muted">{out.credential.note}</div>}
        </div>
      )}
      <ErrorBox error={error} />
    </div>
  );
}
