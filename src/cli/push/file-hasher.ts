// sha256 of files on a worker thread, for push: the hash of a large file runs beside its upload
// instead of before it (the digest is needed only for the existence check and the commit). The
// thread starts with the first file and ends with close().
import { Worker } from 'node:worker_threads';
import type { FileHash } from '../sha256-file.js';

export type FileHasherRequest = { op: 'hash'; id: number; path: string } | { op: 'cancel'; id: number };
export type FileHasherReply = { id: number; bytes: number } | { id: number; hex: string; size: number } | { id: number; error: string };

interface Waiter {
  resolve(hash: FileHash): void;
  reject(err: Error): void;
  onBytes?: (n: number) => void;
}

export class FileHasher {
  private worker: Worker | null = null;
  private nextId = 1;
  private readonly waiting = new Map<number, Waiter>();

  /** sha256 of the file's bytes as this thread's reads find them; `onBytes` sees progress. */
  hash(path: string, onBytes?: (n: number) => void, signal?: AbortSignal): Promise<FileHash> {
    const worker = this.start();
    const id = this.nextId++;
    return new Promise<FileHash>((resolve, reject) => {
      const cancel = () => {
        if (!this.waiting.delete(id)) return;
        worker.postMessage({ op: 'cancel', id } satisfies FileHasherRequest);
        reject(signal?.reason ?? new Error('hash cancelled'));
      };
      if (signal?.aborted) return reject(signal.reason);
      signal?.addEventListener('abort', cancel, { once: true });
      this.waiting.set(id, {
        resolve: (h) => {
          signal?.removeEventListener('abort', cancel);
          resolve(h);
        },
        reject: (err) => {
          signal?.removeEventListener('abort', cancel);
          reject(err);
        },
        onBytes,
      });
      worker.postMessage({ op: 'hash', id, path } satisfies FileHasherRequest);
    });
  }

  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = null;
    if (worker) await worker.terminate();
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(new URL('./hash-worker.js', import.meta.url));
    worker.on('message', (reply: FileHasherReply) => {
      const waiter = this.waiting.get(reply.id);
      if (!waiter) return;
      if ('bytes' in reply) {
        waiter.onBytes?.(reply.bytes);
        return;
      }
      this.waiting.delete(reply.id);
      if ('hex' in reply) waiter.resolve({ hex: reply.hex, size: reply.size });
      else waiter.reject(new Error(`hashing failed: ${reply.error}`));
    });
    worker.on('error', (err) => {
      for (const waiter of this.waiting.values()) waiter.reject(err);
      this.waiting.clear();
    });
    this.worker = worker;
    return worker;
  }
}
