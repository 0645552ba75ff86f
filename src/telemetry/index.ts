/**
 * `telemetry/`: what operators watch — Prometheus metrics (metrics.ts) and OpenTelemetry traces of
 * the pipeline stages (tracing.ts). Logs are pino JSON lines from fastify, one `reqId` per request
 * (the audit log's request id).
 */
export { GatewayMetrics, type MetricSources } from './metrics.js';
export { startTracing, endSpan, type Tracing } from './tracing.js';
