/**
 * Approvals inbox: pending requests the signed-in user may decide (or asked for), live by long
 * poll (`GET /bqgate/v1/approvals?ifChanged=<etag>`); approve or deny with a comment.
 */
import { useEffect, useState } from 'preact/hooks';
import { api } from '../api';
import { Badge, ErrorBox, Sql, fmtBytes, fmtTime } from '../ui';
import type { Me } from '../main';

interface Step { approver: { subject: string }; decision: 'approve' | 'deny'; comment?: string; at: number; breakGlass: boolean }
interface Approval {
  id: string; status: string; createdAt: string; expiresAt: string; decidedAt?: string;
  requester: { subject: string; email?: string; actor?: string; groups: string[] };
  projectId: string; jobId: string; bytesEstimate?: number; policyVersion: string;
  requirements: Array<{ ruleId: string; description?: string; approverGroups: string[]; count: number; breakGlassGroups: string[] }>;
  steps: Step[]; sql: string; tables: string[]; columns?: string[];
}

export function Approvals({ me }: { me: Me }) {
  const [status, setStatus] = useState<'pending' | 'any'>('pending');
  const [items, setItems] = useState<Approval[]>();
  const [error, setError] = useState<unknown>();
  const [tick, setTick] = useState(0);

  useEffect(() => {
    const stop = new AbortController();
    (async () => {
      let etag: string | undefined;
      while (!stop.signal.aborted) {
        try {
          const r = await api<{ etag: string; approvals: Approval[] }>('/approvals', { query: { status, ifChanged: etag, timeoutMs: etag ? '20000' : undefined }, signal: stop.signal });
          etag = r.etag;
          setItems(r.approvals);
          setError(undefined);
        } catch (err) {
          if (stop.signal.aborted) return;
          setError(err);
          await new Promise((r) => setTimeout(r, 3000));
        }
      }
    })();
    return () => stop.abort();
  }, [status, tick]);

  return (
    <section>
      <div class="title-row">
        <h1>Approvals</h1>
        <div class="seg">
          <button class={status === 'pending' ? 'on' : ''} onClick={() => setStatus('pending')}>Pending</button>
          <button class={status === 'any' ? 'on' : ''} onClick={() => setStatus('any')}>All recent</button>
        </div>
        <span class="muted live" title="updates arrive as they happen">● live</span>
      </div>
      <ErrorBox error={error} />
      {items && !items.length && <p class="empty">{status === 'pending' ? 'Nothing waits for your approval.' : 'No approvals yet.'}</p>}
      {items?.map((a) => <ApprovalCard key={a.id} a={a} me={me} onDecided={() => setTick((t) => t + 1)} />)}
    </section>
  );
}

function ApprovalCard({ a, me, onDecided }: { a: Approval; me: Me; onDecided: () => void }) {
  const [comment, setComment] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const mine = a.requester.subject === me.subject;
  const decide = async (d: 'approve' | 'deny') => {
    setBusy(true);
    setError(undefined);
    try { await api(`/approvals/${encodeURIComponent(a.id)}/${d}`, { method: 'POST', body: { comment: comment || undefined } }); onDecided(); } catch (err) { setError(err); } finally { setBusy(false); }
  };
  return (
    <article class="card approval" data-approval={a.id} data-status={a.status}>
      <header>
        <div>
          <b>{a.requester.subject}</b>{a.requester.actor && <> via <b>{a.requester.actor}</b></>}
          <span class="muted"> · {a.requester.groups.join(', ')} · asked {fmtTime(a.createdAt)}</span>
        </div>
        <Badge kind={a.status}>{a.status}</Badge>
      </header>
      <Sql text={a.sql} />
      <dl class="facts">
        <dt>Tables</dt><dd>{a.tables.join(', ') || '—'}</dd>
        <dt>Columns</dt><dd>{a.columns?.length ? a.columns.map((c) => c.split('.').slice(-2).join('.')).join(', ') : '—'}</dd>
        <dt>Bytes (dry run)</dt><dd>{fmtBytes(a.bytesEstimate)}</dd>
        <dt>Rule</dt><dd>{a.requirements.map((q) => <div key={q.ruleId}><code>{q.ruleId}</code> — {q.count} of {q.approverGroups.join('/')}{q.breakGlassGroups.length ? ` (break-glass: ${q.breakGlassGroups.join('/')})` : ''}{q.description ? <span class="muted"> · {q.description}</span> : null}</div>)}</dd>
        <dt>Job</dt><dd><code>{a.projectId}:{a.jobId}</code></dd>
        <dt>Expires</dt><dd>{fmtTime(a.expiresAt)}</dd>
      </dl>
      {a.steps.length > 0 && <ul class="steps">{a.steps.map((s, i) => <li key={i}><b>{s.approver.subject}</b> {s.decision === 'approve' ? 'approved' : 'denied'}{s.breakGlass ? ' (break-glass)' : ''} at {fmtTime(s.at)}{s.comment ? <>: “{s.comment}”</> : null}</li>)}</ul>}
      {a.status === 'pending' && (mine
        ? <p class="muted">You asked for this; someone else must decide it.</p>
        : <div class="decide">
            <textarea placeholder="Comment (the requester sees it)" value={comment} onInput={(e) => setComment((e.target as HTMLTextAreaElement).value)} aria-label="comment" />
            <button class="approve" disabled={busy} onClick={() => decide('approve')}>Approve</button>
            <button class="deny" disabled={busy} onClick={() => decide('deny')}>Deny</button>
          </div>)}
      <ErrorBox error={error} />
    </article>
  );
}
