// Copies one blob from the origin into its cache file while hashing it, publishing progress after
// every chunk so that readers waiting for a range are released as soon as it is on disk.
// The chunk is small (256 KiB) so the first bytes reach readers quickly and no single hash update
// holds the event loop for long.
import { createHash } from 'node:crypto';
import type { BlobReader } from '../blob-store.js';
import type { CacheEntry } from './cache-entry.js';
import { syncFd, writeFully } from './fd-io.js';

const CHUNK = 256 * 1024;

export class DigestMismatchError extends Error {
  readonly code = 'DIGEST_MISMATCH';
}

export class FillCancelledError extends Error {
  readonly code = 'FILL_CANCELLED';
}

/**
 * Streams `source` into the entry's file and checks the digest. Resolves once the file is durable
 * and verified (the caller then publishes it); throws on an origin failure or a digest mismatch.
 */
export async function copyAndVerify(
  entry: CacheEntry,
  source: BlobReader,
  onOriginBytes: (n: number) => void,
  cancelled: () => boolean,
): Promise<void> {
  const fd = entry.descriptor;
  const hash = createHash('sha256');
  const buffer = Buffer.allocUnsafe(CHUNK);
  let position = 0;
  while (position < entry.size) {
    if (cancelled()) throw new FillCancelledError(`fill of ${entry.digest} cancelled: the cache is closing`);
    const n = await source.read(buffer, 0, Math.min(CHUNK, entry.size - position), position);
    if (n <= 0) throw new Error(`origin returned no bytes at ${position} of ${entry.size} for ${entry.digest}`);
    onOriginBytes(n);
    await writeFully(fd, buffer, n, position);
    hash.update(buffer.subarray(0, n));
    position += n;
    entry.progress(position);
  }
  const actual = `sha256:${hash.digest('hex')}`;
  if (actual !== entry.digest) {
    throw new DigestMismatchError(
      `origin bytes for ${entry.digest} hash to ${actual}; the blob is corrupt at the origin and was not cached`,
    );
  }
  // Durable before it is published: a cache entry found at start is trusted without re-hashing.
  await syncFd(fd);
}
