/**
 * A refusal as a gRPC status: the status BigQuery's own error of that reason carries
 * (bigquery/errors.ts REASONS: accessDenied → PERMISSION_DENIED, invalid / invalidQuery →
 * INVALID_ARGUMENT, authError (401) → UNAUTHENTICATED, rateLimitExceeded (429) → RESOURCE_EXHAUSTED,
 * notFound → NOT_FOUND, backendError (the audit log down) → UNAVAILABLE, timeout → DEADLINE_EXCEEDED;
 * https://grpc.github.io/grpc/core/md_doc_statuscodes.html). The message is the BigQueryError's,
 * which never carries a protected value (refusals name rules and columns, not data).
 */
import { status as Status } from '@grpc/grpc-js';
import { REASONS, type BigQueryError } from '../../bigquery/errors.js';

export interface GrpcStatus { code: Status; details: string }

export function grpcStatus(e: BigQueryError): GrpcStatus {
  const name = e.httpStatus === 401 ? 'UNAUTHENTICATED' : e.httpStatus === 429 ? 'RESOURCE_EXHAUSTED' : REASONS[e.reason]?.[1] ?? 'INTERNAL';
  return { code: (Status as unknown as Record<string, Status>)[name] ?? Status.INTERNAL, details: e.message };
}

/** An upstream gRPC error as the caller's BigQueryError-shaped refusal (its code kept, message as the upstream's). */
export function upstreamStatus(err: unknown): GrpcStatus {
  const e = err as { code?: number; details?: string; message?: string };
  return { code: typeof e.code === 'number' ? e.code : Status.UNAVAILABLE, details: `The upstream BigQuery Storage API refused the call: ${e.details ?? e.message ?? 'unknown error'}` };
}
