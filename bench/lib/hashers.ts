// The hashers the `hash` scenario compares, each over the same list of 1 MiB chunks.
import { createHash } from 'node:crypto';
import { MessageChannel } from 'node:worker_threads';
import { createBLAKE3, createSHA256 } from 'hash-wasm';
import { Piscina } from 'piscina';

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

/** Bytes handed to the worker but not yet acknowledged before the sender waits (the server's 16 MiB high water). */
const WINDOW_BYTES = 16 << 20;

/**
 * node:crypto sha256 on a piscina thread, fed as the server feeds it: each chunk is transferred
 * (so it must be a copy the caller owns: `digest` detaches the chunks it is given), and the
 * sender waits while more than WINDOW_BYTES are unacknowledged.
 */
export function pooledNodeCryptoSha256(): Hasher {
  const pool = new Piscina({
    filename: new URL('./hash-worker.js', import.meta.url).href,
    minThreads: 1,
    maxThreads: 1,
    idleTimeout: 60_000,
  });
  return {
    name: 'node:crypto sha256, piscina worker, transferred 1 MiB chunks',
    async digest(chunks) {
      const { port1, port2 } = new MessageChannel();
      const done = pool.run({ port: port2 }, { name: 'hashStream', transferList: [port2] }) as Promise<string>;
      let unacked = 0;
      let wake: (() => void) | null = null;
      port1.on('message', (bytes: number) => {
        unacked -= bytes;
        if (wake && unacked <= WINDOW_BYTES) {
          const w = wake;
          wake = null;
          w();
        }
      });
      for (const chunk of chunks) {
        while (unacked > WINDOW_BYTES) await new Promise<void>((r) => (wake = r));
        unacked += chunk.byteLength;
        const buffer = chunk.buffer as ArrayBuffer;
        port1.postMessage(buffer, [buffer]);
      }
      port1.postMessage('end');
      const hex = await done;
      port1.close();
      return hex;
    },
    close: () => pool.destroy(),
  };
}

/** Fresh copies the pooled hasher may detach; each chunk owns its whole ArrayBuffer. */
export function ownedCopies(chunks: readonly Buffer[]): Buffer[] {
  return chunks.map((chunk) => {
    const copy = Buffer.allocUnsafeSlow(chunk.length);
    chunk.copy(copy);
    return copy;
  });
}
