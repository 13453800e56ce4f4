// Fetching a run of consecutive pieces of one file with one Range request over a kept-alive
// connection, its bytes written at their offsets as they arrive and each piece reported done the
// moment its last byte is written, so resume and the in-order hash keep the piece as their unit
// while the request count does not grow with the piece count. A failed attempt is retried with
// backoff from the first piece not done, its unfinished bytes taken back from the meter; a
// connection that goes quiet fails the attempt instead of hanging the pull. Bytes of a failed
// attempt that were already hashed stay as they are (FileDownload does not write them twice), so
// the hash is of what is on disk.
import { isRetryableClientError, type BlobRangeReader } from '../../client/index.js';
import type { Progress } from '../progress.js';
import { withRetries } from '../../lib/retry.js';
import type { FileDownload } from './file-download.js';
import type { Piece } from './piece-plan.js';

export interface RunOptions {
  attempts: number;
  retryBaseDelayMs: number;
}

export const DEFAULT_RUN_OPTIONS: RunOptions = { attempts: 5, retryBaseDelayMs: 500 };

/** Fetches `run` (consecutive pieces of `file`, in order); `onPieceDone` is called for each as it completes. */
export async function downloadRun(
  reader: BlobRangeReader,
  file: FileDownload,
  run: readonly Piece[],
  progress: Progress,
  signal: AbortSignal,
  onPieceDone: (piece: Piece) => void,
  options: RunOptions = DEFAULT_RUN_OPTIONS,
): Promise<void> {
  const { digest, size } = file.partial;
  /** Index in `run` of the first piece not done. */
  let next = 0;
  await withRetries(
    async () => {
      let position = run[next]!.start;
      /** Bytes of piece `next` written in this attempt. */
      let unfinished = 0;
      try {
        await reader.read(
          digest,
          { start: position, end: run[run.length - 1]!.end, size },
          (buffer, offset, length) => {
            while (length > 0) {
              const piece = run[next]!;
              const take = Math.min(length, piece.end + 1 - position);
              file.write(buffer, offset, take, position);
              progress.advance(take);
              position += take;
              offset += take;
              length -= take;
              unfinished += take;
              if (position === piece.end + 1) {
                next++;
                unfinished = 0;
                onPieceDone(piece);
              }
            }
          },
          signal,
        );
      } catch (err) {
        progress.advance(-unfinished);
        throw err;
      }
    },
    {
      attempts: options.attempts,
      baseDelayMs: options.retryBaseDelayMs,
      retryable: isRetryableClientError,
      signal,
      onRetry: (err, attempt, delayMs) =>
        progress.note(
          `modelgate: bytes ${run[next]!.start}-${run[run.length - 1]!.end} of ${digest} failed (${(err as Error).message}); retry ${attempt} in ${delayMs}ms`,
        ),
    },
  );
}
