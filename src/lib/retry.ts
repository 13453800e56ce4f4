// Retrying transient failures with exponential backoff and jitter, so several pieces failing at
// once do not all hammer the server again at the same instant.
import { setTimeout as sleep } from 'node:timers/promises';

export interface RetryOptions {
  /** Total tries, the first included. */
  attempts: number;
  baseDelayMs: number;
  retryable(err: unknown): boolean;
  signal?: AbortSignal;
  onRetry?(err: unknown, attempt: number, delayMs: number): void;
}

export async function withRetries<T>(work: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work(attempt);
    } catch (err) {
      if (attempt >= options.attempts || options.signal?.aborted || !options.retryable(err)) throw err;
      const delayMs = Math.round(options.baseDelayMs * 2 ** (attempt - 1) * (0.5 + Math.random() / 2));
      options.onRetry?.(err, attempt, delayMs);
      await sleep(delayMs, undefined, { signal: options.signal });
    }
  }
}
