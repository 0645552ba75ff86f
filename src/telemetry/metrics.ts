/**
 * Prometheus metrics (prom-client), served at GET /metrics in the text exposition format 0.0.4.
 * Labels never carry a principal, a table or a statement (no PII, bounded cardinality): operation,
 * HTTP status, decision effect, error reason, stage, upstream status class, sink name.
 *
 * | metric | type | labels |
 * |---|---|---|
 * | bqgate_requests_total | counter | operation, status |
 * | bqgate_request_duration_seconds | histogram | operation |
 * | bqgate_stage_duration_seconds | histogram | stage (auth, analyze, policy, rewrite, upstream, audit, …) |
 * | bqgate_decisions_total | counter | effect (allow, deny) |
 * | bqgate_refusals_total | counter | reason (accessDenied, invalidQuery, rateLimitExceeded, backendError, …) |
 * | bqgate_upstream_responses_total | counter | status (2xx, 4xx, 5xx, network) |
 * | bqgate_upstream_retries_total | counter | — |
 * | bqgate_approvals_pending | gauge | — |
 * | bqgate_audit_events | gauge | — (events in the log) |
 * | bqgate_audit_sink_lag_events | gauge | sink (events not yet delivered) |
 * | bqgate_audit_commits_total / bqgate_audit_committed_events_total | counter | — (durable commits of the log, the events they held) |
 * | bqgate_zetasql_up / bqgate_zetasql_restarts_total | gauge | — |
 * plus prom-client's default process metrics (CPU, memory, event-loop lag, GC), prefixed `bqgate_`.
 */
import { Registry, Counter, Histogram, Gauge, collectDefaultMetrics } from 'prom-client';

export interface MetricSources {
  pendingApprovals(): Promise<number>;
  auditEvents(): Promise<number>;
  /** The audit log's durable commits and the events they held, since start. */
  auditCommits(): { commits: number; events: number };
  /** Per sink: the next seq it will deliver (-1 when it has not read yet). */
  sinks(): Array<{ name: string; nextSeq: number }>;
  zetasql(): { ready: boolean; restarts: number };
}

/** Seconds buckets from 1 ms to 60 s. */
const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export class GatewayMetrics {
  readonly registry = new Registry();
  private readonly requests = new Counter({ name: 'bqgate_requests_total', help: 'Requests answered, by BigQuery operation and HTTP status.', labelNames: ['operation', 'status'], registers: [this.registry] });
  private readonly duration = new Histogram({ name: 'bqgate_request_duration_seconds', help: 'Request latency, seconds, by operation.', labelNames: ['operation'], buckets: BUCKETS, registers: [this.registry] });
  private readonly stages = new Histogram({ name: 'bqgate_stage_duration_seconds', help: 'Time per pipeline stage within a request, seconds.', labelNames: ['stage'], buckets: BUCKETS, registers: [this.registry] });
  private readonly decisions = new Counter({ name: 'bqgate_decisions_total', help: 'Policy decisions, by effect.', labelNames: ['effect'], registers: [this.registry] });
  private readonly refusals = new Counter({ name: 'bqgate_refusals_total', help: 'Requests answered with an error, by BigQuery reason.', labelNames: ['reason'], registers: [this.registry] });
  private readonly upstream = new Counter({ name: 'bqgate_upstream_responses_total', help: 'Upstream BigQuery API answers, by status class (network: no answer).', labelNames: ['status'], registers: [this.registry] });
  private readonly retries = new Counter({ name: 'bqgate_upstream_retries_total', help: 'Upstream calls retried (429, 5xx, network).', registers: [this.registry] });

  /** The audit log's size, read once per scrape (two gauges use it). */
  private auditSize: Promise<number> = Promise.resolve(NaN);

  constructor(private readonly src: MetricSources) {
    collectDefaultMetrics({ register: this.registry, prefix: 'bqgate_' });
    const reg = [this.registry];
    const size = () => this.auditSize;
    new Gauge({ name: 'bqgate_approvals_pending', help: 'Approvals waiting for a decision.', registers: reg, async collect() { this.set(await src.pendingApprovals().catch(() => NaN)); } });
    new Gauge({ name: 'bqgate_audit_events', help: 'Events in the audit log.', registers: reg, async collect() { this.set(await size()); } });
    new Gauge({
      name: 'bqgate_audit_sink_lag_events', help: 'Audit events not yet delivered to a sink.', labelNames: ['sink'], registers: reg,
      async collect() {
        const events = await size();
        for (const s of src.sinks()) if (s.nextSeq >= 0) this.set({ sink: s.name }, Math.max(0, events - s.nextSeq));
      },
    });
    new Counter({ name: 'bqgate_audit_commits_total', help: 'Durable commits of the audit log (one transaction and fsync each).', registers: reg, collect() { this.reset(); this.inc(src.auditCommits().commits); } });
    new Counter({ name: 'bqgate_audit_committed_events_total', help: 'Audit events made durable (÷ commits: events per group commit).', registers: reg, collect() { this.reset(); this.inc(src.auditCommits().events); } });
    new Gauge({ name: 'bqgate_zetasql_up', help: '1 when the ZetaSQL analyzer answers.', registers: reg, collect() { this.set(src.zetasql().ready ? 1 : 0); } });
    new Gauge({ name: 'bqgate_zetasql_restarts_total', help: 'Restarts of the ZetaSQL analyzer since start.', registers: reg, collect() { this.set(src.zetasql().restarts); } });
  }

  /**
   * One answered request: its operation, HTTP status, duration (ms), stage timings (ms), the
   * decision effect if one was made, and the error reason if it was refused.
   */
  request(r: { operation: string; status: number; durationMs: number; timings: Record<string, number>; effect?: string; reason?: string }): void {
    this.requests.inc({ operation: r.operation, status: String(r.status) });
    this.duration.observe({ operation: r.operation }, r.durationMs / 1000);
    for (const [stage, ms] of Object.entries(r.timings)) this.stages.observe({ stage }, ms / 1000);
    if (r.effect) this.decisions.inc({ effect: r.effect });
    if (r.reason) this.refusals.inc({ reason: r.reason });
  }

  /** A request refused before the pipeline (the rate limit), by BigQuery reason. */
  refused(reason: string): void { this.refusals.inc({ reason }); }

  /** An upstream answer (HTTP status) or `network` (none). */
  upstreamResponse(status: number | 'network'): void {
    this.upstream.inc({ status: status === 'network' ? 'network' : `${Math.floor(status / 100)}xx` });
  }

  upstreamRetry(): void { this.retries.inc(); }

  /** The exposition: content type and body. */
  async expose(): Promise<{ contentType: string; body: string }> {
    this.auditSize = this.src.auditEvents().catch(() => NaN);
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
