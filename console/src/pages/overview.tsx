/** Overview: queries, denials and bytes delivered per principal over time (`GET /bqgate/v1/audit/stats`). */
import { useEffect, useState } from 'preact/hooks';
import type { ChartConfiguration } from 'chart.js';
import { api } from '../api';
import { ChartView, ErrorBox, fmtBytes } from '../ui';

interface Stats { since: string; until: string; bucketMs: number; series: Array<{ principal: string; points: Array<{ t: number; queries: number; denied: number; bytes: number }> }> }

const RANGES = { '1h': [3_600_000, 300_000], '24h': [86_400_000, 3_600_000], '7d': [7 * 86_400_000, 6 * 3_600_000] } as const;
const COLORS = ['#2f6fde', '#e0823d', '#2aa876', '#c7433a', '#8a5cd1', '#d4a72c', '#3aa6c7', '#7b8794'];

export function Overview() {
  const [range, setRange] = useState<keyof typeof RANGES>('1h');
  const [stats, setStats] = useState<Stats>();
  const [error, setError] = useState<unknown>();
  useEffect(() => {
    const [span, bucket] = RANGES[range];
    const until = Date.now();
    api<Stats>('/audit/stats', { query: { since: new Date(until - span).toISOString(), until: new Date(until).toISOString(), bucketMs: String(bucket) } }).then(setStats, setError);
  }, [range]);

  const buckets: number[] = [];
  if (stats) for (let t = Math.floor(Date.parse(stats.since) / stats.bucketMs) * stats.bucketMs; t < Date.parse(stats.until); t += stats.bucketMs) buckets.push(t);
  const label = (t: number) => new Date(t).toLocaleString('en-GB', range === '7d' ? { day: '2-digit', month: 'short', hour: '2-digit' } : { hour: '2-digit', minute: '2-digit', hour12: false });
  const chart = (metric: 'queries' | 'denied' | 'bytes', type: 'bar' | 'line'): ChartConfiguration => ({
    type,
    data: {
      labels: buckets.map(label),
      datasets: (stats?.series ?? []).map((s, i) => {
        const at = new Map(s.points.map((p) => [p.t, p[metric]]));
        return { label: s.principal, data: buckets.map((t) => at.get(t) ?? 0), backgroundColor: COLORS[i % COLORS.length], borderColor: COLORS[i % COLORS.length], stack: 'a' };
      }),
    },
    options: { scales: { x: { stacked: type === 'bar' }, y: { stacked: type === 'bar', beginAtZero: true, ...(metric === 'bytes' ? { ticks: { callback: (v) => fmtBytes(Number(v)) } } : {}) } }, plugins: { legend: { position: 'bottom' } } },
  });
  const total = (m: 'queries' | 'denied' | 'bytes') => (stats?.series ?? []).reduce((n, s) => n + s.points.reduce((a, p) => a + p[m], 0), 0);
  return (
    <section>
      <div class="title-row">
        <h1>Overview</h1>
        <div class="seg">{(Object.keys(RANGES) as Array<keyof typeof RANGES>).map((r) => <button key={r} class={range === r ? 'on' : ''} onClick={() => setRange(r)}>{r}</button>)}</div>
      </div>
      <ErrorBox error={error} />
      {stats && (
        <>
          <div class="kpis">
            <div><b data-testid="kpi-queries">{total('queries')}</b><span>queries</span></div>
            <div><b data-testid="kpi-denied">{total('denied')}</b><span>denied</span></div>
            <div><b>{fmtBytes(total('bytes'))}</b><span>delivered</span></div>
            <div><b>{stats.series.length}</b><span>principals</span></div>
          </div>
          <div class="charts">
            <figure><figcaption>Queries per principal</figcaption><ChartView config={chart('queries', 'bar')} label="queries per principal over time" /></figure>
            <figure><figcaption>Denials per principal</figcaption><ChartView config={chart('denied', 'bar')} label="denials per principal over time" /></figure>
            <figure><figcaption>Bytes delivered per principal</figcaption><ChartView config={chart('bytes', 'line')} label="bytes delivered per principal over time" /></figure>
          </div>
        </>
      )}
    </section>
  );
}
