/**
 * OpenTelemetry traces of the pipeline: one SERVER span per request (`bqgate <operation>`), a child
 * span per stage (auth, analyze, policy, rewrite, upstream, audit), exported over OTLP/HTTP (JSON)
 * when OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT is set (the exporter reads
 * the standard OTEL_* variables); otherwise spans are not recorded. An incoming W3C `traceparent`
 * header makes the request span a child of the agent's trace. Span attributes carry the operation,
 * the principal (`enduser.id`), the decision and the status — never a statement or a token.
 *
 * The SDK, the exporter and the propagator load only when an endpoint is set (`require` of their
 * CommonJS builds, which is what an `import` of them loads too): a gateway that exports no traces
 * does not hold them (about 9 MB resident, measured on the compiled gateway at start).
 */
import { createRequire } from 'node:module';
import { trace, ROOT_CONTEXT, SpanKind, SpanStatusCode, type Span, type Tracer } from '@opentelemetry/api';
import type { TracerProvider } from '@opentelemetry/sdk-trace';
import type { TextMapPropagator } from '@opentelemetry/api';

const load = createRequire(import.meta.url);

export interface Tracing {
  tracer: Tracer;
  /** Starts the request span, a child of the caller's `traceparent` when it sent one. */
  requestSpan(operation: string, headers: Record<string, string | string[] | undefined>): Span;
  /** Starts a stage span under `parent`. */
  stageSpan(name: string, parent: Span): Span;
  /** Exports what is buffered and stops. */
  shutdown(): Promise<void>;
}

const getter = { keys: (h: Record<string, unknown>) => Object.keys(h), get: (h: Record<string, unknown>, k: string) => h[k] as string | string[] | undefined };

/** Tracing from the environment (see the module comment); a no-op tracer when no endpoint is set. */
export function startTracing(env: NodeJS.ProcessEnv = process.env, version = '0.1.0'): Tracing {
  const endpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT;
  let provider: TracerProvider | undefined;
  let propagator: TextMapPropagator | undefined;
  if (endpoint && env.OTEL_TRACES_EXPORTER !== 'none') {
    const { TracerProvider, BatchSpanProcessor } = load('@opentelemetry/sdk-trace') as typeof import('@opentelemetry/sdk-trace');
    const { OTLPTraceExporter } = load('@opentelemetry/exporter-trace-otlp-http') as typeof import('@opentelemetry/exporter-trace-otlp-http');
    const { resourceFromAttributes } = load('@opentelemetry/resources') as typeof import('@opentelemetry/resources');
    const { W3CTraceContextPropagator } = load('@opentelemetry/core') as typeof import('@opentelemetry/core');
    propagator = new W3CTraceContextPropagator();
    provider = new TracerProvider({
      resource: resourceFromAttributes({ 'service.name': env.OTEL_SERVICE_NAME || 'bqgate', 'service.version': version }),
      spanProcessors: [new BatchSpanProcessor({ exporter: new OTLPTraceExporter(), scheduledDelayMillis: 500 })],
    });
  }
  const tracer = provider ? provider.getTracer('bqgate') : trace.getTracer('bqgate-noop');
  return {
    tracer,
    requestSpan(operation, headers) {
      const parent = propagator ? propagator.extract(ROOT_CONTEXT, headers, getter) : ROOT_CONTEXT;
      return tracer.startSpan(`bqgate ${operation}`, { kind: SpanKind.SERVER, attributes: { 'bqgate.operation': operation } }, parent);
    },
    stageSpan: (name, parent) => tracer.startSpan(name, { kind: SpanKind.INTERNAL }, trace.setSpan(ROOT_CONTEXT, parent)),
    async shutdown() { await provider?.shutdown(); },
  };
}

/** Ends `span` with an error status when `err` is set. */
export function endSpan(span: Span, err?: unknown): void {
  if (err) span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message.slice(0, 200) : 'error' });
  span.end();
}

