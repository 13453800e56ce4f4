// sha256 of a file on a thread that does nothing else (the push's hash worker): blocking reads into
// one buffer small enough to stay in the core's own cache, hashed by the thread that read them
// (hashFileRange). The promise-based reads of sha256-file.ts run on libuv's pool, another thread,
// often on the other core: each buffer then crosses cores before it is hashed, and the whole costs
// about a quarter more CPU (1 GiB from tmpfs: 1.03–1.12 CPU-s against 0.83–0.97 here;
// bench/README.md, push). The loop yields to the thread's event loop between slices, so a cancel
// message gets in.
import { createHash } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import type { FileHash } from '../sha256-file.js';
import { hashFileRange } from '../../lib/hash-file-range.js';
import { READ_SLACK } from '../../lib/read-placement.js';

const READ_SIZE = 512 * 1024;
/** Bytes between two looks at the event loop (and progress reports). */
const SLICE = 32 * 1024 * 1024;

export async function sha256FileBlocking(path: string, onBytes?: (n: number) => void, signal?: AbortSignal): Promise<FileHash> {
  const hash = createHash('sha256');
  const fd = openSync(path, 'r');
  const buffer = Buffer.allocUnsafeSlow(READ_SIZE + READ_SLACK);
  try {
    let size = 0;
    for (;;) {
      const hashed = hashFileRange(hash, fd, buffer, size, SLICE);
      size += hashed;
      if (hashed > 0) onBytes?.(hashed);
      if (hashed < SLICE) return { hex: hash.digest('hex'), size };
      await new Promise((resolve) => setImmediate(resolve));
      signal?.throwIfAborted();
    }
  } finally {
    closeSync(fd);
  }
}
