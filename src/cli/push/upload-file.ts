// Uploading one file as a blob: streamed from disk (constant memory), counted into the progress
// meter, retried on transient failures with a fresh read of the file each time.
import { createReadStream } from 'node:fs';
import { isRetryableClientError, type ModelgateClient, type StoredBlob } from '../../client/index.js';
import type { Progress } from '../progress.js';
import { withRetries } from '../retry.js';

export interface BlobSource {
  digest: string;
  size: number;
  absolutePath: string;
}

const UPLOAD_ATTEMPTS = 4;
const RETRY_BASE_DELAY_MS = 500;

export async function uploadFile(client: ModelgateClient, blob: BlobSource, progress: Progress, signal: AbortSignal): Promise<StoredBlob> {
  return withRetries(
    async () => {
      let sent = 0;
      const counted = async function* (): AsyncGenerator<Uint8Array> {
        // Exactly the bytes that were hashed: a file that grew since then fails on the server's digest check.
        for await (const chunk of createReadStream(blob.absolutePath, { start: 0, end: blob.size - 1, highWaterMark: 1024 * 1024 })) {
          const bytes = chunk as Buffer;
          sent += bytes.length;
          progress.advance(bytes.length);
          yield bytes;
        }
      };
      try {
        return await client.uploadBlob(blob.digest, blob.size, blob.size === 0 ? new Uint8Array(0) : counted(), signal);
      } catch (err) {
        progress.advance(-sent);
        throw err;
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
