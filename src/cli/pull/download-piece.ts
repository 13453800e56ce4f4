// Fetching one piece with a Range request and writing it at its offset. Failed attempts are
// retried with backoff, their bytes taken back from the meter; a connection that goes quiet is
// abandoned instead of hanging the pull. A piece counts as done only once its bytes are synced,
// so the state file never claims bytes a crash could lose.
import { open, type FileHandle } from 'node:fs/promises';
import { isRetryableClientError, ModelgateTransferError, type ModelgateClient } from '../../client/index.js';
import type { Progress } from '../progress.js';
import { withRetries } from '../retry.js';
import type { PartialDownload } from './partial-download.js';
import type { Piece } from './piece-plan.js';

export interface PieceOptions {
  attempts: number;
  retryBaseDelayMs: number;
  /** Abandon an attempt when no bytes arrive for this long. */
  stallTimeoutMs: number;
}

export const DEFAULT_PIECE_OPTIONS: PieceOptions = { attempts: 5, retryBaseDelayMs: 500, stallTimeoutMs: 30_000 };

export async function downloadPiece(
  client: ModelgateClient,
  download: PartialDownload,
  piece: Piece,
  progress: Progress,
  signal: AbortSignal,
  options: PieceOptions = DEFAULT_PIECE_OPTIONS,
): Promise<void> {
  await withRetries(() => fetchPieceOnce(client, download, piece, progress, signal, options.stallTimeoutMs), {
    attempts: options.attempts,
    baseDelayMs: options.retryBaseDelayMs,
    retryable: isRetryableClientError,
    signal,
    onRetry: (err, attempt, delayMs) =>
      progress.note(
        `modelgate: bytes ${piece.start}-${piece.end} of ${download.digest} failed (${(err as Error).message}); retry ${attempt} in ${delayMs}ms`,
      ),
  });
  await download.state.markDone(piece.index);
}

async function fetchPieceOnce(
  client: ModelgateClient,
  download: PartialDownload,
  piece: Piece,
  progress: Progress,
  signal: AbortSignal,
  stallTimeoutMs: number,
): Promise<void> {
  const stalled = new AbortController();
  const watchdog = setTimeout(() => stalled.abort(), stallTimeoutMs);
  const handle = await open(download.paths.data, 'r+');
  let written = 0;
  try {
    const body = await client.readBlobRange(download.digest, { start: piece.start, end: piece.end, size: download.size }, AbortSignal.any([signal, stalled.signal]));
    for await (const chunk of body) {
      watchdog.refresh();
      await writeAt(handle, chunk, piece.start + written);
      written += chunk.byteLength;
      progress.advance(chunk.byteLength);
    }
    await handle.datasync();
  } catch (err) {
    progress.advance(-written);
    if (stalled.signal.aborted && !signal.aborted) {
      throw new ModelgateTransferError(`no data for ${stallTimeoutMs / 1000}s on bytes ${piece.start}-${piece.end} of ${download.digest}`);
    }
    throw err;
  } finally {
    clearTimeout(watchdog);
    await handle.close();
  }
}

async function writeAt(handle: FileHandle, chunk: Uint8Array, position: number): Promise<void> {
  for (let offset = 0; offset < chunk.byteLength; ) {
    const { bytesWritten } = await handle.write(chunk, offset, chunk.byteLength - offset, position + offset);
    offset += bytesWritten;
  }
}
