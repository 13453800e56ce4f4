// Verifying downloads while they arrive: every partial file is hashed in order as its contiguous
// prefix grows (pieces land out of order; the hash waits for the gap to close), on a worker thread
// so the network and the hash each get a core. The bytes hashed are read back from the file, so
// what is verified is what is on disk.
import { Worker } from 'node:worker_threads';

export type HasherRequest =
  | { op: 'open'; id: number; path: string; size: number }
  | { op: 'grow'; id: number; upTo: number }
  | { op: 'drop'; id: number };
export type HasherReply = { id: number; hex: string } | { id: number; error: string };

export interface HashedFile {
  /** Bytes 0..upTo-1 are written and may be hashed. */
  grow(upTo: number): void;
  /** sha256 hex of the whole file, once `grow(size)` was called and every byte is hashed. */
  readonly digest: Promise<string>;
  /** Stop hashing (the download failed). */
  drop(): void;
}

export class PrefixHasher {
  private worker: Worker | null = null;
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve(hex: string): void; reject(err: Error): void }>();

  open(path: string, size: number): HashedFile {
    const worker = this.start();
    const id = this.nextId++;
    const digest = new Promise<string>((resolve, reject) => this.waiting.set(id, { resolve, reject }));
    // A file dropped after a failure must not leave an unhandled rejection behind.
    digest.catch(() => undefined);
    this.post(worker, { op: 'open', id, path, size });
    let sent = 0;
    return {
      grow: (upTo) => {
        if (upTo <= sent) return;
        sent = upTo;
        this.post(worker, { op: 'grow', id, upTo });
      },
      digest,
      drop: () => {
        this.waiting.get(id)?.reject(new Error('dropped'));
        this.waiting.delete(id);
        this.post(worker, { op: 'drop', id });
      },
    };
  }

  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = null;
    if (worker) await worker.terminate();
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(new URL('./prefix-hash-worker.js', import.meta.url));
    worker.on('message', (reply: HasherReply) => {
      const waiter = this.waiting.get(reply.id);
      this.waiting.delete(reply.id);
      if ('hex' in reply) waiter?.resolve(reply.hex);
      else waiter?.reject(new Error(`hashing failed: ${reply.error}`));
    });
    worker.on('error', (err) => {
      for (const waiter of this.waiting.values()) waiter.reject(err);
      this.waiting.clear();
    });
    this.worker = worker;
    return worker;
  }

  private post(worker: Worker, message: HasherRequest): void {
    worker.postMessage(message);
  }
}
