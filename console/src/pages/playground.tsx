/**
 * Policy playground: pick a principal (one seen in the audit, or any), type SQL, and see the
 * decision, the masks, row filters and approvals it would get, the rule trace and the SQL that
 * would go upstream (`POST /bqgate/v1/policy/explain`; nothing runs). The "Proposed policy" mode
 * (proposed.tsx) diffs changed policy files against the recorded traffic.
 */
import { useEffect, useState } from 'preact/hooks';
import { api } from '../api';
import { consoleConfig } from '../auth';
import { Badge, ErrorBox, Sql } from '../ui';
import type { SessionSummary } from './sessions';
import { ProposedPolicy } from './proposed';

interface Explanation {
  policyVersion: string;
  analysis: { statementKind: string; tablesRead: string[]; tablesWritten: string[]; columnsRead: Array<{ table: string; column: string }> };
  decision: {
    effect: string; reasons: string[]; matchedRules: string[];
    masks: Record<string, Record<string, { rule: string; ruleId: string }>>;
    deniedColumns: Record<string, string[]>; rowFilters: Record<string, string[]>;
    limits: { maximumBytesBilled?: number; maximumRows?: number };
    approvals?: Array<{ ruleId: string; approverGroups: string[]; count: number }>;
  };
  trace: Array<{ id: string; effect: string; applies: boolean; why?: string; covers: string[] }>;
  upstreamSql?: string;
}

const EXAMPLE = 'SELECT customer_id, full_name, email, card_number, country\nFROM shop.customers\nORDER BY customer_id\nLIMIT 10';

export function Playground() {
  const [known, setKnown] = useState<Array<{ sub: string; groups: string[] }>>([]);
  const [sub, setSub] = useState('agent-7');
  const [groups, setGroups] = useState('analysts');
  const [act, setAct] = useState('');
  const [project, setProject] = useState('');
  const [sql, setSql] = useState(EXAMPLE);
  const [out, setOut] = useState<Explanation>();
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const [mode, setMode] = useState<'explain' | 'proposed'>('explain');

  useEffect(() => {
    consoleConfig().then((c) => setProject((p) => p || c.project));
    api<{ sessions: SessionSummary[] }>('/sessions', { query: { limit: '500' } }).then((r) => {
      const seen = new Map<string, string[]>();
      for (const s of r.sessions) if (!seen.has(s.principal) && s.groups) seen.set(s.principal, s.groups);
      setKnown([...seen].map(([s, g]) => ({ sub: s, groups: g })));
    }, () => undefined);
  }, []);

  const run = async () => {
    setBusy(true);
    setError(undefined);
    try {
      setOut(await api<Explanation>('/policy/explain', { method: 'POST', body: { principal: { sub, groups: groups.split(/[\s,]+/).filter(Boolean), act: act || undefined }, sql, projectId: project || undefined } }));
    } catch (err) { setOut(undefined); setError(err); } finally { setBusy(false); }
  };

  const d = out?.decision;
  const needsApproval = d?.effect === 'allow' && d.approvals?.length;
  return (
    <section>
      <div class="title-row">
        <h1>Policy playground</h1>
        <div class="seg"><button class={mode === 'explain' ? 'on' : ''} onClick={() => setMode('explain')}>One statement</button><button id="mode-proposed" class={mode === 'proposed' ? 'on' : ''} onClick={() => setMode('proposed')}>Proposed policy</button></div>
      </div>
      {mode === 'proposed' ? <ProposedPolicy /> : <div class="playground">
        <div class="inputs">
          <label>Principal seen in the audit
            <select name="known" onChange={(e) => { const k = known[Number((e.target as HTMLSelectElement).value)]; if (k) { setSub(k.sub); setGroups(k.groups.join(', ')); } }}>
              <option value="">— pick —</option>
              {known.map((k, i) => <option key={k.sub} value={i}>{k.sub} ({k.groups.join(', ')})</option>)}
            </select>
          </label>
          <div class="row3">
            <label>Subject<input name="sub" value={sub} onInput={(e) => setSub((e.target as HTMLInputElement).value)} /></label>
            <label>Groups<input name="groups" value={groups} onInput={(e) => setGroups((e.target as HTMLInputElement).value)} /></label>
            <label>Actor<input name="act" value={act} placeholder="(none)" onInput={(e) => setAct((e.target as HTMLInputElement).value)} /></label>
          </div>
          <label>Project<input name="project" value={project} onInput={(e) => setProject((e.target as HTMLInputElement).value)} /></label>
          <label>SQL<textarea name="sql" class="sql-input" rows={8} spellcheck={false} value={sql} onInput={(e) => setSql((e.target as HTMLTextAreaElement).value)} /></label>
          <button onClick={run} disabled={busy} id="explain">Explain</button>
        </div>
        <div class="result" data-testid="explanation">
          <ErrorBox error={error} />
          {out && d && (
            <>
              <div class="verdict">
                {needsApproval ? <Badge kind="pending">NEEDS APPROVAL</Badge> : <Badge kind={d.effect}>{d.effect.toUpperCase()}</Badge>}
                <span class="muted">{out.analysis.statementKind} · reads {out.analysis.tablesRead.join(', ') || 'no table'}{out.analysis.tablesWritten.length ? ` · writes ${out.analysis.tablesWritten.join(', ')}` : ''} · policy {out.policyVersion}</span>
              </div>
              <ul class="reasons">{d.reasons.map((r, i) => <li key={i}>{r}</li>)}</ul>
              {Object.keys(d.masks).length > 0 && (
                <table class="list masks"><thead><tr><th>Column</th><th>Masking rule</th><th>Policy rule</th></tr></thead>
                  <tbody>{Object.entries(d.masks).flatMap(([t, cols]) => Object.entries(cols).map(([c, m]) => <tr key={t + c}><td>{t.split('.').pop()}.{c}</td><td><code>{m.rule}</code></td><td>{m.ruleId}</td></tr>))}</tbody></table>
              )}
              {Object.entries(d.rowFilters).map(([t, f]) => <p key={t}>Rows of <code>{t}</code>: {f.length ? f.map((x, i) => <code key={i}>{x}</code>) : <i>none</i>}</p>)}
              {d.approvals?.map((q) => <p key={q.ruleId}>Waits for {q.count} approval(s) from {q.approverGroups.join('/')} (<code>{q.ruleId}</code>)</p>)}
              {(d.limits.maximumBytesBilled || d.limits.maximumRows) && <p class="muted">Limits: {d.limits.maximumBytesBilled ? `${d.limits.maximumBytesBilled} bytes billed` : ''} {d.limits.maximumRows ? `${d.limits.maximumRows} rows` : ''}</p>}
              <h3>Rule trace</h3>
              <ul class="trace">{out.trace.map((r) => <li key={r.id} class={r.applies ? 'applies' : 'skipped'}><span>{r.applies ? '●' : '○'}</span> <code>{r.id}</code> <i>{r.effect}</i>{r.why ? <span class="muted"> — {r.why}</span> : null}{r.covers.length ? <span>: {r.covers.join('; ')}</span> : null}</li>)}</ul>
              {out.upstreamSql && <><h3>SQL sent upstream</h3><Sql text={out.upstreamSql} class="small" /></>}
            </>
          )}
        </div>
      </div>}
    </section>
  );
}
