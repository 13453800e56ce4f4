// Streaming sha256 of a file: constant memory whatever the file size. Two reused buffers: the next
// read runs on the thread pool while the current one is hashed.
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { readPlacement, READ_SLACK } from '../lib/read-placement.js';

export interface FileHash {
  hex: string;
  /** Bytes actually hashed, which is the size that goes with the digest even if the file changed since it was listed. */
  size: number;
}

const READ_SIZE = 4 * 1024 * 1024;

/** sha256 of a file's bytes; `onBytes` sees each chunk's length as it is hashed. */
export async function sha256File(path: string, onBytes?: (n: number) => void, signal?: AbortSignal): Promise<FileHash> {
  const hash = createHash('sha256');
  const handle = await open(path, 'r');
  // Each read lands where the kernel's copy out of the page cache is fast (readPlacement).
  const buffers = [Buffer.allocUnsafeSlow(READ_SIZE + READ_SLACK), Buffer.allocUnsafeSlow(READ_SIZE + READ_SLACK)];
  const placed = [readPlacement(0), 0];
  let reading = handle.read(buffers[0]!, placed[0]!, READ_SIZE, 0);
  try {
    let size = 0;
    let turn = 0;
    for (;;) {
      const { bytesRead } = await reading;
      if (bytesRead === 0) break;
      signal?.throwIfAborted();
      const current = buffers[turn]!.subarray(placed[turn]!, placed[turn]! + bytesRead);
      turn ^= 1;
      placed[turn] = readPlacement(size + bytesRead);
      reading = handle.read(buffers[turn]!, placed[turn]!, READ_SIZE, size + bytesRead);
      hash.update(current);
      size += bytesRead;
      onBytes?.(bytesRead);
    }
    return { hex: hash.digest('hex'), size };
  } finally {
    // A read still in flight (after an abort) must end before the handle closes.
    await reading.catch(() => undefined);
    await handle.close();
  }
}
