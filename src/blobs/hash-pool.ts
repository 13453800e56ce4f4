// The pool of hashing threads and the main-thread side of a streamed hash.
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { Piscina } from 'piscina';
import type { HashChunk, HashFileChunk, HashResult } from '../../workers/hash.js';
import { hashMetrics } from '../metrics/metrics.js';

/** What hashing a stream or a file yields, for callers above the blobs floor (they never reach the workers themselves). */
export type { HashResult };

const WORKER_FILE = new URL('../../workers/hash.js', import.meta.url).href;

export class HashPool {
  private readonly pool: Piscina;

  constructor(threads: number) {
    this.pool = new Piscina({
      filename: WORKER_FILE,
      minThreads: threads,
      maxThreads: threads,
      // Every upload's hash runs as a task from the start (a few bytes of state, no thread of its
      // own), never queued: chunks sent to a queued task held their shared buffers until a slot
      // freed, the held buffers paused every upload (ingest.ts's global bound), and the uploads
      // holding the slots, paused, never ended (a paused socket does not even see its client
      // leave). 2000 aborted uploads, 64 at a time, stalled for good with 1870 tasks queued.
      concurrentTasksPerWorker: 1_000_000,
      idleTimeout: 60_000,
    });
    hashMetrics.bindQueue(() => this.pool.queueSize);
  }

  startStream(): StreamHash {
    const { port1, port2 } = new MessageChannel();
    const done = this.timed(this.pool.run({ port: port2 }, { name: 'hashStream', transferList: [port2] }) as Promise<HashResult | null>);
    return new StreamHash(port1, done);
  }

  hashFile(path: string): Promise<HashResult> {
    return this.timed(this.pool.run({ path }, { name: 'hashFile' }) as Promise<HashResult>);
  }

  async close(): Promise<void> {
    await this.pool.destroy();
  }

  private timed<T>(task: Promise<T>): Promise<T> {
    const stop = hashMetrics.taskSeconds.startTimer();
    return task.finally(() => stop());
  }
}

/**
 * One upload's running hash. Chunks handed to `update` live in shared memory: the worker hashes
 * them in place, and `done` is called (in order) once it has, so the caller may reuse the buffer.
 * Every `done` is called, after an abort too: the worker acknowledges the chunks it took before
 * the abort, and the rest are released when it closes its end of the port (it reads none of them
 * after that). A buffer left to the garbage collector instead would stay allocated until both
 * this thread and the hashing thread collected it, which with their small heaps is rarely: that
 * held about 1 MiB per aborted upload (2 GiB of RSS after 2000 aborted uploads).
 */
/** What an upload's pipeline (Ingest) needs of a running hash. */
export interface ChunkHash {
  /** Hashes `chunk` (in shared memory); `done` once the bytes may be reused. */
  update(chunk: Buffer, done: () => void): void;
  /** Hashes `length` bytes already written at `position` of the local file `path`; `done` once hashed. */
  updateFile(path: string, position: number, length: number, done: () => void): void;
  /** Resolves once every chunk handed to `update` so far is hashed (the hash stays open). */
  idle(): Promise<void>;
  digest(): Promise<HashResult>;
  abort(): void;
}

export class StreamHash implements ChunkHash {
  private readonly acks: (() => void)[] = [];
  private idleWaiters: (() => void)[] = [];
  private ended = false;
  /** Bytes handed to `update` (what the hash will have covered once idle). */
  bytes = 0;

  constructor(
    private readonly port: MessagePort,
    private readonly done: Promise<HashResult | null>,
  ) {
    // An aborted hash's task is never awaited: its failure (the pool closing under it at
    // shutdown) must not surface as an unhandled rejection. digest() still sees it.
    done.catch(() => undefined);
    port.on('message', () => {
      this.acks.shift()?.();
      if (this.acks.length === 0) this.wake();
    });
    port.on('close', () => {
      for (const done of this.acks.splice(0)) done();
      this.wake();
    });
  }

  idle(): Promise<void> {
    if (this.acks.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private wake(): void {
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  update(chunk: Buffer, done: () => void): void {
    if (!(chunk.buffer instanceof SharedArrayBuffer)) throw new Error('StreamHash.update needs a buffer in shared memory');
    const message: HashChunk = { buffer: chunk.buffer, offset: chunk.byteOffset, length: chunk.byteLength };
    this.acks.push(done);
    this.bytes += chunk.byteLength;
    this.port.postMessage(message);
  }

  updateFile(path: string, position: number, length: number, done: () => void): void {
    const message: HashFileChunk = { path, position, length };
    this.acks.push(done);
    this.bytes += length;
    this.port.postMessage(message);
  }

  async digest(): Promise<HashResult> {
    this.ended = true;
    this.port.postMessage('end');
    const result = await this.done;
    if (!result) throw new Error('hash task ended without a result');
    return result;
  }

  abort(): void {
    if (this.ended) return;
    this.ended = true;
    this.port.postMessage('abort');
  }
}
