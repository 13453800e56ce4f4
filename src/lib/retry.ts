// Retrying transient failures with exponential backoff and jitter, so several callers failing at
// once do not all try again at the same instant. The one retry rule of the code base: the CLI's
// transfers and watch reconnects, the S3 blob store and webhook deliveries all use it.
import { setTimeout as sleep } from 'node:timers/promises';

export interface RetryOptions {
  /** Total tries, the first included. */
  attempts: number;
  /** Delay before the second try; doubles each time, with jitter. */
  baseDelayMs: number;
  retryable(err: unknown): boolean;
  signal?: AbortSignal;
  onRetry?(err: unknown, attempt: number, delayMs: number): void;
}

/** The pause after failed try number `attempt`: between half and all of baseDelayMs · 2^(attempt-1). */
export function backoffDelay(attempt: number, baseDelayMs: number): number {
  const ceiling = baseDelayMs * 2 ** (attempt - 1);
  return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
}

export async function withRetries<T>(work: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work(attempt);
    } catch (err) {
      if (attempt >= options.attempts || options.signal?.aborted || !options.retryable(err)) throw err;
      const delayMs = backoffDelay(attempt, options.baseDelayMs);
      options.onRetry?.(err, attempt, delayMs);
      await sleep(delayMs, undefined, { signal: options.signal });
    }
  }
}
