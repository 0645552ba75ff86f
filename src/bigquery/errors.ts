/**
 * The BigQuery REST error envelope (CONTRACT.md §5).
 *
 * Every non-2xx response of the gateway and the emulator is
 * `{"error":{"code":<http>,"message":M,"errors":[{"message":M,"domain":"global","reason":R,…}],"status":S}}`
 * with `error.message === errors[0].message` (otherwise the Node SDK reports "Multiple errors occurred").
 */

/** BigQuery `reason` values used here, with their HTTP status and gRPC-style `status` (CONTRACT.md §5.4). */
export const REASONS = {
  invalidQuery: [400, 'INVALID_ARGUMENT'],
  invalid: [400, 'INVALID_ARGUMENT'],
  authError: [401, 'UNAUTHENTICATED'],
  accessDenied: [403, 'PERMISSION_DENIED'],
  notFound: [404, 'NOT_FOUND'],
  duplicate: [409, 'ALREADY_EXISTS'],
  rateLimitExceeded: [429, 'RESOURCE_EXHAUSTED'],
  backendError: [503, 'UNAVAILABLE'],
  internalError: [500, 'INTERNAL'],
  stopped: [400, 'CANCELLED'],
  /** A job that ran past its time limit (BigQuery: "Job timed out after …"). */
  timeout: [400, 'DEADLINE_EXCEEDED'],
  /** The job would bill more bytes than its maximumBytesBilled. */
  bytesBilledLimitExceeded: [400, 'INVALID_ARGUMENT'],
  notImplemented: [501, 'UNIMPLEMENTED'],
} as const satisfies Record<string, readonly [number, string]>;

export type Reason = keyof typeof REASONS;

/** One entry of `errors[]` / a job's `status.errorResult`. */
export interface ErrorProto {
  reason: string;
  message: string;
  location?: string;
  locationType?: string;
  domain?: string;
}

/** An error that becomes a BigQuery envelope. `httpStatus` defaults from the reason. */
export class BigQueryError extends Error {
  readonly reason: Reason;
  readonly httpStatus: number;
  readonly location?: string;
  /** Seconds the caller should wait before retrying (the HTTP Retry-After header), when known. */
  readonly retryAfterS?: number;

  constructor(reason: Reason, message: string, opts: { httpStatus?: number; location?: string; retryAfterS?: number } = {}) {
    super(message);
    this.reason = reason;
    this.httpStatus = opts.httpStatus ?? REASONS[reason][0];
    this.location = opts.location;
    this.retryAfterS = opts.retryAfterS;
  }

  /** The job-level form, for `status.errorResult` and `status.errors[]`. */
  toErrorProto(): ErrorProto {
    return { reason: this.reason, message: this.message, ...(this.location ? { location: this.location } : {}) };
  }

  /** The HTTP body: `{error:{code,message,errors:[…],status}}`. */
  toEnvelope() {
    return envelope(this.httpStatus, this.reason, this.message, this.location);
  }
}

/** Builds the error envelope. `location: "q"` marks a query-text error as jobs.query does. */
export function envelope(code: number, reason: string, message: string, location?: string) {
  const status = (REASONS as Record<string, readonly [number, string]>)[reason]?.[1] ?? 'UNKNOWN';
  const entry: Record<string, string> = { message, domain: 'global', reason };
  if (location) { entry.location = location; entry.locationType = 'parameter'; }
  return { error: { code, message, errors: [entry], status } };
}

/** Maps any thrown value to a BigQueryError; unknown errors become internalError without their text. */
export function asBigQueryError(err: unknown): BigQueryError {
  if (err instanceof BigQueryError) return err;
  const e = err as { statusCode?: number; code?: string; message?: string };
  if (e?.statusCode === 400 || e?.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || e?.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') {
    return new BigQueryError('invalid', `Invalid request: ${e.message ?? 'bad request'}`);
  }
  if (e?.statusCode === 413) return new BigQueryError('invalid', 'Request too large', { httpStatus: 413 });
  if (e?.statusCode === 415) return new BigQueryError('invalid', `Unsupported content type`, { httpStatus: 415 });
  return new BigQueryError('internalError', 'Internal error in the gateway; the request was not run.');
}
