// Streaming sha256 of a file: constant memory whatever the file size. Two reused buffers: the next
// read runs on the thread pool while the current one is hashed.
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';

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
  const buffers = [Buffer.allocUnsafe(READ_SIZE), Buffer.allocUnsafe(READ_SIZE)];
  let reading = handle.read(buffers[0]!, 0, READ_SIZE, 0);
  try {
    let size = 0;
    let turn = 0;
    for (;;) {
      const { bytesRead } = await reading;
      if (bytesRead === 0) break;
      signal?.throwIfAborted();
      const current = buffers[turn]!;
      turn ^= 1;
      reading = handle.read(buffers[turn]!, 0, READ_SIZE, size + bytesRead);
      hash.update(current.subarray(0, bytesRead));
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
