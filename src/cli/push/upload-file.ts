// Uploading one file as a blob: one streamed request read from the file through two reused
// buffers, counted into the progress meter, retried on transient failures with a fresh read.
import { open } from 'node:fs/promises';
import { isRetryableClientError, type ModelgateClient, type RateLimiter, type StoredBlob } from '../../client/index.js';
import type { Progress } from '../progress.js';
import { withRetries } from '../../lib/retry.js';

export interface BlobSource {
  digest: string;
  size: number;
  absolutePath: string;
}

const UPLOAD_ATTEMPTS = 4;
const RETRY_BASE_DELAY_MS = 500;

export async function uploadFile(client: ModelgateClient, blob: BlobSource, progress: Progress, signal: AbortSignal, limiter?: RateLimiter): Promise<StoredBlob> {
  return withRetries(
    async () => {
      let sent = 0;
      const handle = await open(blob.absolutePath, 'r');
      try {
        // Exactly the bytes that were hashed: a file that changed since fails the server's digest check.
        return await client.uploadBlobFrom(blob.digest, blob.size, async (buffer, length, position) => (await handle.read(buffer, 0, length, position)).bytesRead, {
          limiter,
          signal,
          onProgress: (n) => {
            sent += n;
            progress.advance(n);
          },
        });
      } catch (err) {
        progress.advance(-sent);
        throw err;
      } finally {
        await handle.close();
      }
    },
    {
      attempts: UPLOAD_ATTEMPTS,
      baseDelayMs: RETRY_BASE_DELAY_MS,
      retryable: isRetryableClientError,
      signal,
      onRetry: (err, attempt, delayMs) =>
        progress.note(`modelgate: upload of ${blob.digest} failed (${describe(err)}); retry ${attempt} in ${delayMs}ms`),
    },
  );
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
