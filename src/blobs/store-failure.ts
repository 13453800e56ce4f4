// The storage behind the blob store failed: the bucket could not be reached, was overloaded, or
// refused the request. Clients get a status and code that say so and whether retrying helps
// (503 BLOB_STORE_UNAVAILABLE with Retry-After for what is transient, 502 BLOB_STORE_FAILED for a
// refusal that will not go away by itself, such as AccessDenied or NoSuchBucket); the cause is
// logged here, once, because the response does not carry it.
import { DomainError } from '../domain/errors.js';
import { logger } from '../log.js';

/** Seconds a client is asked to wait before retrying after a transient failure. */
export const RETRY_AFTER_SECONDS = 5;

export class BlobStoreFailure extends DomainError {
  constructor(
    readonly operation: string,
    readonly retryable: boolean,
    override readonly cause: unknown,
  ) {
    const reason = describe(cause);
    super(
      retryable ? 'unavailable' : 'dependency_failed',
      retryable ? 'BLOB_STORE_UNAVAILABLE' : 'BLOB_STORE_FAILED',
      retryable
        ? `the blob store (bucket) failed to ${operation} (${reason}); this is usually temporary: retry later`
        : `the blob store (bucket) refused to ${operation} (${reason}); retrying will not help until an operator fixes the bucket or its credentials`,
      { retryable, reason },
      retryable ? { retryAfterSeconds: RETRY_AFTER_SECONDS } : {},
    );
    logger.error({ err: cause, operation, retryable }, 'blob store failure');
  }
}

/** A short, safe name for what went wrong: the S3 error name or the socket error code. */
function describe(err: unknown): string {
  const e = err as { name?: unknown; code?: unknown; $metadata?: { httpStatusCode?: unknown } } | null;
  const status = e?.$metadata?.httpStatusCode;
  const name = typeof e?.code === 'string' && /^E[A-Z]+$/.test(e.code) ? e.code : typeof e?.name === 'string' ? e.name : 'Error';
  return typeof status === 'number' ? `${name}, HTTP ${status}` : name;
}
