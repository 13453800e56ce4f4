// Which S3 failures are worth another try, and how hard the S3 store tries again.
// The SDK already retries a request that failed before its response arrived; these helpers are
// for what it cannot see: a response body that broke off mid-stream, and calls we chain ourselves.
import { DomainError } from '../../domain/errors.js';
import { withRetries } from '../../lib/retry.js';
import { BlobStoreFailure } from '../store-failure.js';

interface SdkLikeError {
  name?: string;
  code?: string;
  message?: string;
  $retryable?: unknown;
  $metadata?: { httpStatusCode?: number };
  cause?: unknown;
}

const TRANSIENT_NAMES = new Set([
  'SlowDown',
  'RequestTimeout',
  'RequestTimeoutException',
  'InternalError',
  'ServiceUnavailable',
  'ThrottlingException',
  'TimeoutError',
  'AbortError',
]);

const TRANSIENT_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'ERR_STREAM_PREMATURE_CLOSE',
  'UND_ERR_SOCKET',
]);

/** A ranged body that ended before the bytes its Content-Range promised (the connection dropped). */
export class ShortBodyError extends Error {
  readonly code = 'S3_SHORT_BODY';
}

/** An object that, read back after a write, is not what was sent: retried like a broken connection. */
export class StoredObjectMismatchError extends Error {
  readonly code = 'S3_OBJECT_MISMATCH';
}

/** The object no longer matches what `open` saw (its size changed): not retried. */
export class BlobChangedError extends Error {
  readonly code = 'BLOB_CHANGED';
}

export function statusOf(err: unknown): number | undefined {
  if (err instanceof BlobStoreFailure) return statusOf(err.cause);
  return (err as SdkLikeError | null)?.$metadata?.httpStatusCode;
}

export function isNotFound(err: unknown): boolean {
  const e = err as SdkLikeError | null;
  return statusOf(err) === 404 || e?.name === 'NotFound' || e?.name === 'NoSuchKey';
}

export function isTransient(err: unknown): boolean {
  if (err instanceof ShortBodyError) return true;
  if (err instanceof StoredObjectMismatchError) return true;
  if (err instanceof BlobChangedError) return false;
  const e = err as SdkLikeError | null;
  if (!e || typeof e !== 'object') return false;
  const status = statusOf(err);
  if (status !== undefined && (status >= 500 || status === 429 || status === 408)) return true;
  if (e.name && TRANSIENT_NAMES.has(e.name)) return true;
  if (e.code && TRANSIENT_CODES.has(e.code)) return true;
  // Node reports a response torn down mid-body as a plain Error('aborted') or 'socket hang up'.
  if (e.message === 'aborted' || e.message === 'socket hang up' || e.message === 'Premature close') return true;
  if (e.$retryable) return true;
  return e.cause !== undefined && e.cause !== err && isTransient(e.cause);
}

const failures = new WeakMap<object, BlobStoreFailure>();

/**
 * What a caller of the store sees when the bucket failed: a BlobStoreFailure (503 when retrying
 * may help, 502 when not), made once per cause. Anything else (a programming error, a DomainError)
 * passes through unchanged.
 */
export function asStoreFailure(operation: string, err: unknown): unknown {
  if (err instanceof DomainError || !err || typeof err !== 'object') return err;
  if (statusOf(err) === undefined && !isTransient(err) && !(err instanceof BlobChangedError)) return err;
  let failure = failures.get(err);
  if (!failure) {
    failure = new BlobStoreFailure(operation, isTransient(err), err);
    failures.set(err, failure);
  }
  return failure;
}

/** How hard the S3 store tries: tries in all (the first included) and the delay before the second. */
export interface RetryPolicy {
  attempts: number;
  baseDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 4, baseDelayMs: 200 };

/** Runs `fn` until it succeeds, fails for a non-transient reason, or runs out of tries. */
export function withS3Retries<T>(fn: (attempt: number) => Promise<T>, policy: RetryPolicy = DEFAULT_RETRY): Promise<T> {
  return withRetries(fn, { ...policy, retryable: isTransient });
}
