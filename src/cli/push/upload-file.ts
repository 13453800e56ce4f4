// Uploading one file as a blob: first as one streamed request read from the file through two
// reused buffers; if that fails on the way (a transient error), the rest goes through a resumable
// upload session in large chunks, each resumed from the offset the server reports, so a broken
// connection costs at most one chunk instead of the whole file.
import { open, type FileHandle } from 'node:fs/promises';
import { isRetryableClientError, type ModelgateClient, type RateLimiter, type StoredBlob } from '../../client/index.js';
import type { Progress } from '../progress.js';
import { withRetries, type RetryOptions } from '../../lib/retry.js';

export interface BlobSource {
  digest: string;
  size: number;
  absolutePath: string;
}

const ATTEMPTS = 4;
const RETRY_BASE_DELAY_MS = 500;
/** Session chunks: large, so the per-request cost stays noise, and well below a 10-digit Content-Length. */
export const SESSION_CHUNK = 64 * 1024 * 1024;

export async function uploadFile(
  client: ModelgateClient,
  blob: BlobSource,
  progress: Progress,
  signal: AbortSignal,
  limiter?: RateLimiter,
): Promise<StoredBlob> {
  const handle = await open(blob.absolutePath, 'r');
  // Exactly the bytes that were hashed: a file that changed since fails the server's digest check.
  const read = async (buffer: Buffer, length: number, position: number) => (await handle.read(buffer, 0, length, position)).bytesRead;
  try {
    let sent = 0;
    try {
      return await client.uploadBlobFrom(blob.digest, blob.size, read, {
        limiter,
        signal,
        onProgress: (n) => {
          sent += n;
          progress.advance(n);
        },
      });
    } catch (err) {
      progress.advance(-sent);
      if (signal.aborted || !isRetryableClientError(err)) throw err;
      progress.note(`modelgate: upload of ${blob.digest} failed (${describe(err)}); continuing through a resumable upload session`);
    }
    return await uploadInSession(client, blob, read, progress, signal, limiter);
  } finally {
    await closeQuietly(handle);
  }
}

async function uploadInSession(
  client: ModelgateClient,
  blob: BlobSource,
  read: (buffer: Buffer, length: number, position: number) => Promise<number>,
  progress: Progress,
  signal: AbortSignal,
  limiter?: RateLimiter,
): Promise<StoredBlob> {
  const retry: RetryOptions = {
    attempts: ATTEMPTS,
    baseDelayMs: RETRY_BASE_DELAY_MS,
    retryable: isRetryableClientError,
    signal,
    onRetry: (err, attempt, delayMs) =>
      progress.note(`modelgate: upload of ${blob.digest} failed (${describe(err)}); retry ${attempt} in ${delayMs}ms`),
  };
  const { id } = await withRetries(() => client.openUpload(signal), retry);
  /** Bytes of this session on the meter. */
  let counted = 0;
  let offset = 0;
  while (offset < blob.size) {
    offset = await withRetries(async () => {
      // After a failure the server's offset says what it kept; the meter follows it.
      const from = await client.uploadOffset(id, signal);
      progress.advance(from - counted);
      counted = from;
      const length = Math.min(SESSION_CHUNK, blob.size - from);
      return client.appendUpload(id, from, length, read, {
        limiter,
        signal,
        onProgress: (n) => {
          counted += n;
          progress.advance(n);
        },
      });
    }, retry);
  }
  return withRetries(() => client.commitUpload(id, blob.digest, blob.size, signal), retry);
}

async function closeQuietly(handle: FileHandle): Promise<void> {
  await handle.close().catch(() => undefined);
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
