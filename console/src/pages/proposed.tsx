/**
 * The playground's "proposed policy" mode: paste or upload changed policy files and see what they
 * would decide differently on the statements recorded over the last N days
 * (`POST /bqgate/v1/policy/diff`, auditors): the change groups as a table (kind, table/column,
 * rules before → after, statements, principals, groups, a literal-free example), the changes per
 * principal and per table, and a chart of changed decisions per day and group.
 */
import { useState } from 'preact/hooks';
import type { ChartConfiguration } from 'chart.js';
import { api } from '../api';
import { Badge, ChartView, ErrorBox, Sql } from '../ui';

type Counts = Record<string, number>;
interface Report {
  policy: { current: string; proposed: string };
  scanned: { statements: number; decided: number; fingerprints: number; ms: number };
  truncated: boolean;
  changedStatements: number;
  changes: Array<{ kind: string; table?: string; column?: string; before?: string; after?: string; statements: number; fingerprints: string[]; principals: string[]; groups: string[]; requestIds: string[]; example: string | null }>;
  noLongerAnalyzes: Array<{ principal: string; reason: string; message: string; statements: number }>;
  byPrincipal: Array<{ principal: string; groups: string[]; statements: number; changes: Counts }>;
  byTable: Array<{ table: string; statements: number; changes: Counts }>;
  byDay: Array<{ day: string; group: string; statements: number }>;
}

const COLORS = ['#2f6fde', '#e0823d', '#2aa876', '#c7433a', '#8a5cd1', '#d4a72c', '#3aa6c7', '#7b8794'];
const counts = (c: Counts) => Object.entries(c).map(([k, n]) => `${k} ${n}`).join(', ');

export function ProposedPolicy() {
  const [files, setFiles] = useState<Array<{ name: string; content: string }>>([{ name: 'proposed.yaml', content: '' }]);
  const [days, setDays] = useState('7');
  const [out, setOut] = useState<Report>();
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);

  const upload = async (list: FileList | null) => {
    if (!list?.length) return;
    setFiles(await Promise.all([...list].map(async (f) => ({ name: f.name, content: await f.text() }))));
  };
  const run = async () => {
    setBusy(true);
    setError(undefined);
    try { setOut(await api<Report>('/policy/diff', { method: 'POST', body: { files, days: Number(days) } })); } catch (err) { setOut(undefined); setError(err); } finally { setBusy(false); }
  };

  const dayLabels = [...new Set((out?.byDay ?? []).map((d) => d.day))].sort();
  const chart: ChartConfiguration = {
    type: 'bar',
    data: {
      labels: dayLabels,
      datasets: [...new Set((out?.byDay ?? []).map((d) => d.group))].map((g, i) => ({
        label: g, stack: 'a', backgroundColor: COLORS[i % COLORS.length],
        data: dayLabels.map((day) => out!.byDay.find((d) => d.day === day && d.group === g)?.statements ?? 0),
      })),
    },
    options: { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true } }, plugins: { legend: { position: 'bottom' } } },
  };
  return (
    <div class="playground">
      <div class="inputs">
        <p class="muted">The proposed policy files replace the current ones; the diff runs over the statements recorded in the window. Examples show literals as <code>?</code>.</p>
        <label>Upload policy files<input type="file" name="upload" accept=".yaml,.yml" multiple onChange={(e) => upload((e.target as HTMLInputElement).files)} /></label>
        {files.map((f, i) => (
          <label key={i}>{f.name}
            <textarea name={`file-${i}`} class="sql-input" rows={14} spellcheck={false} value={f.content}
              onInput={(e) => setFiles(files.map((x, j) => (j === i ? { ...x, content: (e.target as HTMLTextAreaElement).value } : x)))} />
          </label>
        ))}
        <label>Days of recorded traffic<input name="days" type="number" min={1} max={31} value={days} onInput={(e) => setDays((e.target as HTMLInputElement).value)} /></label>
        <button onClick={run} disabled={busy} id="diff">{busy ? 'Diffing…' : 'Diff against recorded traffic'}</button>
      </div>
      <div class="result" data-testid="policy-diff">
        <ErrorBox error={error} />
        {out && (
          <>
            <div class="verdict">
              {out.changedStatements ? <Badge kind="deny">{out.changedStatements} CHANGED</Badge> : <Badge kind="allow">NO CHANGE</Badge>}
              <span class="muted">of {out.scanned.statements} recorded statements ({out.scanned.decided} distinct statement/identity pairs) · policy {out.policy.current} → {out.policy.proposed}{out.truncated ? ' · truncated' : ''}</span>
            </div>
            {out.changes.length > 0 && (
              <>
                <figure><figcaption>Changed decisions per day and group</figcaption><ChartView config={chart} label="changed decisions per day and group" /></figure>
                <table class="list" data-testid="diff-changes">
                  <thead><tr><th>Change</th><th>What</th><th>Statements</th><th>Principals</th><th>Groups</th></tr></thead>
                  <tbody>{out.changes.map((c, i) => (
                    <tr key={i}><td><code>{c.kind}</code></td><td>{[c.table && c.column ? `${c.table}.${c.column}` : c.table ?? c.column, c.before !== undefined || c.after !== undefined ? `${c.before ?? '—'} → ${c.after ?? '—'}` : ''].filter(Boolean).join(': ')}</td>
                      <td>{c.statements} ({c.fingerprints.length} distinct)</td><td>{c.principals.join(', ')}</td><td>{c.groups.join(', ')}</td></tr>
                  ))}</tbody>
                </table>
                <h3>Examples</h3>
                {out.changes.map((c, i) => <div key={i}><p class="muted">{c.kind}</p>{c.example ? <Sql text={c.example} class="small" /> : <p class="muted">(could not be normalized; not shown)</p>}</div>)}
                <h3>By principal</h3>
                <table class="list"><thead><tr><th>Principal</th><th>Groups</th><th>Statements</th><th>Changes</th></tr></thead>
                  <tbody>{out.byPrincipal.map((p) => <tr key={p.principal}><td>{p.principal}</td><td>{p.groups.join(', ')}</td><td>{p.statements}</td><td>{counts(p.changes)}</td></tr>)}</tbody></table>
                <h3>By table</h3>
                <table class="list"><thead><tr><th>Table</th><th>Statements</th><th>Changes</th></tr></thead>
                  <tbody>{out.byTable.map((t) => <tr key={t.table}><td>{t.table}</td><td>{t.statements}</td><td>{counts(t.changes)}</td></tr>)}</tbody></table>
              </>
            )}
            {out.noLongerAnalyzes.length > 0 && (
              <>
                <h3>No longer analyzes (not denials)</h3>
                <ul>{out.noLongerAnalyzes.map((g, i) => <li key={i}>{g.principal}: {g.statements} statement(s) — {g.reason}: {g.message}</li>)}</ul>
              </>
            )}
          </>
        )}
      </div>
    </div>
  );
}
