// Re-hashing every blob in the store against its key: `modelgate blobs verify [--repair]`.
// Bytes are read from the store that holds them (an edge cache's origin: the cache itself only
// ever serves verified bytes, and filling it with every blob would evict what clients use) and
// hashed on the hashing threads, one blob at a time. With a `moveAside` (repair), a blob whose
// bytes do not match is handed to it (the registry moves it aside and audits the move: see
// Registry.quarantineBlob), so it reads as missing and the next push uploads it again.
import type { BlobVerifyReport } from '../domain/types.js';
import type { BlobStore } from './blob-store.js';
import type { HashPool } from './hash-pool.js';

const CHUNK = 1024 * 1024;

/** Moves a damaged blob aside unless it was rewritten after `notModifiedSince`; true if moved. */
export type MoveAside = (digest: string, notModifiedSince: number, found: { size: number; actual: string }) => Promise<boolean>;

export async function verifyBlobs(blobs: BlobStore, hashPool: HashPool, moveAside: MoveAside | null): Promise<BlobVerifyReport> {
  const source = blobs.origin ?? blobs;
  const report: BlobVerifyReport = { repair: moveAside !== null, checked: 0, bytes: 0, mismatched: [], unreadable: [] };
  const buffer = Buffer.from(new SharedArrayBuffer(CHUNK));
  for await (const blob of source.list()) {
    const startedAt = Date.now();
    let hashed: { hex: string; size: number } | null;
    try {
      hashed = await hashStored(source, blob.digest, hashPool, buffer);
    } catch (err) {
      report.unreadable.push({ digest: blob.digest, error: (err as Error).message });
      continue;
    }
    if (!hashed) continue; // removed since the listing (a sweep): nothing to check
    report.checked++;
    report.bytes += hashed.size;
    if (`sha256:${hashed.hex}` === blob.digest) continue;
    const found = { size: hashed.size, actual: `sha256:${hashed.hex}` };
    const movedAside = moveAside ? await moveAside(blob.digest, startedAt, found) : false;
    report.mismatched.push({ digest: blob.digest, ...found, movedAside });
  }
  return report;
}

/** The sha256 and size of the bytes stored under `digest`, or null if it is gone. */
async function hashStored(
  store: BlobStore,
  digest: string,
  hashPool: HashPool,
  buffer: Buffer,
): Promise<{ hex: string; size: number } | null> {
  const reader = await store.open(digest);
  if (!reader) return null;
  const hash = hashPool.startStream();
  try {
    for (let at = 0; at < reader.size; ) {
      const n = await reader.read(buffer, 0, Math.min(buffer.length, reader.size - at), at);
      if (n <= 0) throw new Error(`${digest} ended after ${at} of ${reader.size} bytes`);
      await new Promise<void>((resolve) => hash.update(buffer.subarray(0, n), resolve));
      at += n;
    }
    const { hex } = await hash.digest();
    return { hex, size: reader.size };
  } catch (err) {
    hash.abort();
    throw err;
  } finally {
    await reader.close();
  }
}
