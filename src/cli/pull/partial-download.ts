// One blob being downloaded into `<dir>/.modelgate/partial/<hex>`: opening (resuming from the state
// file when it describes this very blob), and finishing (verify the whole file, then move it into place).
import { lstat, mkdir, open, rm } from 'node:fs/promises';
import { CliError } from '../cli-error.js';
import { sha256File } from '../sha256-file.js';
import { PartialStateFile, readPartialState } from './partial-state.js';
import { pieceLength, planPieces, type Piece } from './piece-plan.js';
import { placeFile } from './place-file.js';
import { partialDir, partialPaths, type PartialPaths } from './work-dir.js';

export interface PartialDownload {
  digest: string;
  hex: string;
  size: number;
  paths: PartialPaths;
  /** Pieces still to fetch. */
  missing: Piece[];
  /** Bytes already on disk from an earlier, interrupted pull. */
  resumedBytes: number;
  state: PartialStateFile;
}

/**
 * Prepares the partial file for `digest`. A state file for the same digest and size, beside a data
 * file of the right length, is resumed with the piece size it was started with; anything else
 * starts over.
 */
export async function openPartialDownload(root: string, digest: string, size: number, pieceSize: number): Promise<PartialDownload> {
  const hex = digest.slice('sha256:'.length);
  const paths = partialPaths(root, hex);
  await mkdir(partialDir(root), { recursive: true });
  const saved = await readPartialState(paths.state);
  const data = await lstat(paths.data).catch(() => null);
  const resumable = saved !== null && saved.digest === digest && saved.size === size && data?.isFile() === true && data.size === size;

  const effectivePieceSize = resumable ? saved.pieceSize : pieceSize;
  const pieces = planPieces(size, effectivePieceSize);
  const done = resumable ? saved.done.filter((i) => i < pieces.length) : [];
  const state = new PartialStateFile(paths.state, { digest, size, pieceSize: effectivePieceSize }, done);
  if (!resumable) {
    // A sparse file of the final length: pieces are written at their offsets in any order. Removing
    // first and creating exclusively means a symlink left in its place is replaced, not followed.
    await rm(paths.data, { force: true });
    const handle = await open(paths.data, 'wx');
    try {
      await handle.truncate(size);
    } finally {
      await handle.close();
    }
    await state.save();
  }
  const missing = pieces.filter((p) => !state.has(p.index));
  const resumedBytes = pieces.filter((p) => state.has(p.index)).reduce((sum, p) => sum + pieceLength(p), 0);
  return { digest, hex, size, paths, missing, resumedBytes, state };
}

/**
 * Verifies the finished partial against its digest and moves it to every target. On a mismatch
 * the partial and its state are deleted (their bytes cannot be trusted piecewise) and the pull fails.
 */
export async function finishPartialDownload(root: string, download: PartialDownload, targets: readonly string[], relativePaths: readonly string[]): Promise<void> {
  const { hex } = await sha256File(download.paths.data);
  if (hex !== download.hex) {
    await download.state.remove();
    await rm(download.paths.data, { force: true });
    throw new CliError(
      `digest mismatch for ${relativePaths.join(', ')}: expected ${download.digest}, downloaded bytes hash to sha256:${hex}; ` +
        'the partial download was deleted, run pull again',
    );
  }
  await placeFile(root, download.paths.data, targets, 'move');
  await download.state.remove();
}
