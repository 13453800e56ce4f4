// Fetching one piece with a Range request over a kept-alive connection, its bytes written at their
// offsets as they arrive. Failed attempts are retried with backoff, their bytes taken back from
// the meter; a connection that goes quiet fails the attempt instead of hanging the pull. A retry
// fetches the whole piece again; the bytes of the failed attempt that were already hashed stay
// as they are (FileDownload does not write them twice), so the hash is of what is on disk.
import { isRetryableClientError, type BlobRangeReader } from '../../client/index.js';
import type { Progress } from '../progress.js';
import { withRetries } from '../../lib/retry.js';
import type { FileDownload } from './file-download.js';
import type { Piece } from './piece-plan.js';

export interface PieceOptions {
  attempts: number;
  retryBaseDelayMs: number;
}

export const DEFAULT_PIECE_OPTIONS: PieceOptions = { attempts: 5, retryBaseDelayMs: 500 };

export async function downloadPiece(
  reader: BlobRangeReader,
  file: FileDownload,
  piece: Piece,
  progress: Progress,
  signal: AbortSignal,
  options: PieceOptions = DEFAULT_PIECE_OPTIONS,
): Promise<void> {
  const { digest, size } = file.partial;
  await withRetries(
    async () => {
      let written = 0;
      try {
        await reader.read(
          digest,
          { start: piece.start, end: piece.end, size },
          (buffer, offset, length) => {
            file.write(buffer, offset, length, piece.start + written);
            written += length;
            progress.advance(length);
          },
          signal,
        );
      } catch (err) {
        progress.advance(-written);
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
          `modelgate: bytes ${piece.start}-${piece.end} of ${digest} failed (${(err as Error).message}); retry ${attempt} in ${delayMs}ms`,
        ),
    },
  );
}
