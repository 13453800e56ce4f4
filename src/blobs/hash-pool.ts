// The pool of hashing threads and the main-thread side of a streamed hash.
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { Piscina } from 'piscina';
import type { HashResult } from '../../workers/hash.js';
import { hashMetrics } from '../metrics/metrics.js';

const WORKER_FILE = new URL('../../workers/hash.js', import.meta.url).href;

export class HashPool {
  private readonly pool: Piscina;

  constructor(threads: number) {
    this.pool = new Piscina({
      filename: WORKER_FILE,
      minThreads: threads,
      maxThreads: threads,
      concurrentTasksPerWorker: 64,
      idleTimeout: 60_000,
    });
    hashMetrics.bindQueue(() => this.pool.queueSize);
  }

  startStream(): StreamHash {
    const { port1, port2 } = new MessageChannel();
    const done = this.timed(
      this.pool.run({ port: port2 }, { name: 'hashStream', transferList: [port2] }) as Promise<HashResult | null>,
    );
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

/** One upload's running hash. Chunks handed to `update` are transferred and must not be reused. */
export class StreamHash {
  private unacked = 0;
  private ended = false;
  /** Called whenever the worker acknowledges a chunk, so a paused producer can resume. */
  onAck: (() => void) | null = null;

  constructor(
    private readonly port: MessagePort,
    private readonly done: Promise<HashResult | null>,
  ) {
    port.on('message', (bytes: number) => {
      this.unacked -= bytes;
      this.onAck?.();
    });
  }

  /** Bytes handed over but not yet hashed. */
  get pending(): number {
    return this.unacked;
  }

  update(chunk: Buffer): void {
    const owned = chunk.byteOffset === 0 && chunk.byteLength === chunk.buffer.byteLength;
    const buffer = owned ? chunk.buffer : chunk.buffer.slice(chunk.byteOffset, chunk.byteOffset + chunk.byteLength);
    this.unacked += chunk.byteLength;
    this.port.postMessage(buffer, [buffer as ArrayBuffer]);
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
