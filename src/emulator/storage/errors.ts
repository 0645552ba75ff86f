/**
 * A refusal of the emulator's Storage Read API: a gRPC status code name and a message, sent as the
 * call's status (https://grpc.github.io/grpc/core/md_doc_statuscodes.html). `fromBigQuery` maps the
 * engine's BigQueryError reasons onto the codes BigQuery's Storage API uses for them.
 */
import { status as GrpcStatus } from '@grpc/grpc-js';
import { BigQueryError } from '../../bigquery/errors.js';

export type StorageCode = 'INVALID_ARGUMENT' | 'NOT_FOUND' | 'PERMISSION_DENIED' | 'UNAUTHENTICATED' | 'OUT_OF_RANGE' | 'UNIMPLEMENTED' | 'FAILED_PRECONDITION' | 'RESOURCE_EXHAUSTED' | 'INTERNAL';

export class StorageError extends Error {
  constructor(readonly code: StorageCode, message: string) { super(message); }
  /** The numeric gRPC status. */
  get grpcCode(): number { return GrpcStatus[this.code]; }
}

const BY_REASON: Record<string, StorageCode> = {
  invalid: 'INVALID_ARGUMENT', invalidQuery: 'INVALID_ARGUMENT', notFound: 'NOT_FOUND', accessDenied: 'PERMISSION_DENIED',
  authError: 'UNAUTHENTICATED', bytesBilledLimitExceeded: 'RESOURCE_EXHAUSTED', notImplemented: 'UNIMPLEMENTED', quotaExceeded: 'RESOURCE_EXHAUSTED',
};

/** Any error as a StorageError: a BigQueryError by its reason, anything else INTERNAL. */
export function toStorageError(err: unknown): StorageError {
  if (err instanceof StorageError) return err;
  if (err instanceof BigQueryError) return new StorageError(BY_REASON[err.reason] ?? 'INTERNAL', err.message);
  return new StorageError('INTERNAL', String((err as Error)?.message ?? err));
}
