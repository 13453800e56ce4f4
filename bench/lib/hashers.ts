// The hashers the `hash` scenario compares, each over the same list of 1 MiB chunks.
import { createHash, randomBytes } from 'node:crypto';
import { createBLAKE3, createSHA256 } from 'hash-wasm';
import { HashPool } from '../../src/blobs/hash-pool.js';

export interface Hasher {
  name: string;
  /** Returns the hex digest; the caller times it. */
  digest(chunks: readonly Buffer[]): Promise<string>;
  close?(): Promise<void>;
}

export const nodeCryptoSha256: Hasher = {
  name: 'node:crypto sha256, main thread',
  async digest(chunks) {
    const hash = createHash('sha256');
    for (const chunk of chunks) hash.update(chunk);
    return hash.digest('hex');
  },
};

export async function hashWasmSha256(): Promise<Hasher> {
  const hasher = await createSHA256();
  return {
    name: 'hash-wasm sha256, main thread',
    async digest(chunks) {
      hasher.init();
      for (const chunk of chunks) hasher.update(chunk);
      return hasher.digest('hex');
    },
  };
}

export async function hashWasmBlake3(): Promise<Hasher> {
  const hasher = await createBLAKE3();
  return {
    name: 'hash-wasm blake3, main thread',
    async digest(chunks) {
      hasher.init();
      for (const chunk of chunks) hasher.update(chunk);
      return hasher.digest('hex');
    },
  };
}

/** Chunks handed to the worker and not yet hashed before the sender waits (the server pauses the request at 16 MiB). */
const MAX_IN_FLIGHT = 16;

/**
 * The server's own hashing path: src/blobs/hash-pool.ts (node:crypto sha256 on a piscina thread
 * at lowered priority), fed 1 MiB buffers in shared memory that the worker hashes in place, with
 * at most 16 MiB waiting, as src/blobs/ingest.ts feeds it.
 */
export function pooledNodeCryptoSha256(): Hasher {
  const pool = new HashPool(1);
  return {
    name: "node:crypto sha256, the server's HashPool (piscina worker, shared 1 MiB buffers)",
    async digest(chunks) {
      const stream = pool.startStream();
      let inFlight = 0;
      let wake: (() => void) | null = null;
      const hashed = () => {
        inFlight--;
        const w = wake;
        wake = null;
        w?.();
      };
      for (const chunk of chunks) {
        while (inFlight >= MAX_IN_FLIGHT) await new Promise<void>((r) => (wake = r));
        inFlight++;
        stream.update(chunk, hashed);
      }
      return (await stream.digest()).hex;
    },
    close: () => pool.close(),
  };
}

/** Copies of the chunks in shared memory, as the server's upload buffers are (made outside the timer). */
export function sharedCopies(chunks: readonly Buffer[]): Buffer[] {
  return chunks.map((chunk) => {
    const copy = Buffer.from(new SharedArrayBuffer(chunk.length));
    chunk.copy(copy);
    return copy;
  });
}

/** CPU seconds node:crypto (the OpenSSL `modelgate pull` and `push` hash with) takes for sha256 of `bytes` bytes already in memory. */
export function sha256CpuSeconds(bytes: number): number {
  const block = randomBytes(64 * 1024 * 1024);
  const before = process.cpuUsage();
  const hash = createHash('sha256');
  for (let left = bytes; left > 0; left -= block.length) hash.update(left >= block.length ? block : block.subarray(0, left));
  hash.digest();
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1e6;
}
