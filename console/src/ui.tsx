/** Small shared pieces: highlighted SQL, badges, delivered rows, formats, charts. */
import { useEffect, useRef } from 'preact/hooks';
import hljs from 'highlight.js/lib/core';
import sql from 'highlight.js/lib/languages/sql';
import { Chart, BarController, BarElement, LineController, LineElement, PointElement, CategoryScale, LinearScale, Legend, Tooltip, type ChartConfiguration } from 'chart.js';

hljs.registerLanguage('sql', sql);
Chart.register(BarController, BarElement, LineController, LineElement, PointElement, CategoryScale, LinearScale, Legend, Tooltip);

/** GoogleSQL, highlighted (highlight.js escapes the text). */
export function Sql({ text, class: cls }: { text: string; class?: string }) {
  const html = hljs.highlight(text, { language: 'sql', ignoreIllegals: true }).value;
  return <pre class={`sql ${cls ?? ''}`}><code class="hljs" dangerouslySetInnerHTML={{ __html: html }} /></pre>;
}

export function Badge({ kind, children }: { kind: string; children: any }) {
  return <span class={`badge badge-${kind}`}>{children}</span>;
}

export const effectBadge = (effect?: string, status?: number) => {
  if (!effect) return status && status >= 400 ? <Badge kind="deny">{status}</Badge> : null;
  return <Badge kind={effect}>{effect.toUpperCase()}</Badge>;
};

export const fmtTime = (t: number | string) => new Date(t).toLocaleString('en-GB', { hour12: false });
export const fmtBytes = (n?: number) => n === undefined ? '—' : n < 1024 ? `${n} B` : n < 1024 ** 2 ? `${(n / 1024).toFixed(1)} KiB` : n < 1024 ** 3 ? `${(n / 1024 ** 2).toFixed(1)} MiB` : `${(n / 1024 ** 3).toFixed(2)} GiB`;
export const fmtMs = (n?: number) => n === undefined ? '' : n < 10 ? `${n.toFixed(1)} ms` : `${Math.round(n)} ms`;

/** A BigQuery f/v cell as text (records and arrays as JSON). */
const cell = (v: unknown): string => {
  if (v === null || v === undefined) return 'NULL';
  if (typeof v === 'object' && v && 'v' in (v as object)) return cell((v as { v: unknown }).v);
  if (Array.isArray(v)) return JSON.stringify(v.map((x) => cell(x)));
  if (typeof v === 'object' && v && 'f' in (v as object)) return JSON.stringify(((v as { f: unknown[] }).f).map((x) => cell(x)));
  return String(v);
};

/** Rows as the caller received them (f/v), under their column names. */
export function Rows({ columns, rows }: { columns: string[]; rows: Array<{ f?: unknown[] }> }) {
  return (
    <div class="rows-wrap">
      <table class="rows">
        <thead><tr>{columns.map((c) => <th key={c}>{c}</th>)}</tr></thead>
        <tbody>{rows.map((r, i) => <tr key={i}>{(r.f ?? []).map((c, j) => <td key={j}>{cell(c)}</td>)}</tr>)}</tbody>
      </table>
    </div>
  );
}

export function ErrorBox({ error }: { error?: unknown }) {
  if (!error) return null;
  return <div class="error" role="alert">{error instanceof Error ? error.message : String(error)}</div>;
}

/** A Chart.js chart that is rebuilt when its configuration changes. */
export function ChartView({ config, label }: { config: ChartConfiguration; label: string }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    const chart = new Chart(canvas.current!, { ...config, options: { ...config.options, animation: false, responsive: true, maintainAspectRatio: false } });
    return () => chart.destroy();
  }, [JSON.stringify(config.data), config.type]);
  return <div class="chart"><canvas ref={canvas} role="img" aria-label={label} /></div>;
}
