// One upload's path from socket to disk: request chunks are copied into owned 1 MiB buffers
// (uWS neuters its chunk after the callback), written in order, then handed to the hash worker.
// The producer is told to pause while too many bytes wait, so memory stays bounded at any size.
import type { StreamHash } from './hash-pool.js';
import type { HashResult } from '../../workers/hash.js';

const BUFFER_BYTES = 1 << 20;
const HIGH_WATER = 16 << 20;
const LOW_WATER = 4 << 20;

/** Where ingested bytes go: a blob writer, or the file of a resumable upload session. */
export interface ChunkSink {
  readonly bytesWritten: number;
  write(chunk: Buffer): Promise<void>;
}

export class Ingest {
  private current: Buffer | null = null;
  private filled = 0;
  private readonly queue: Buffer[] = [];
  private queuedBytes = 0;
  private writing: Promise<void> | null = null;
  private failure: Error | null = null;
  private paused = false;
  received = 0;

  private sink: ChunkSink | null = null;

  constructor(
    private readonly pendingSink: Promise<ChunkSink>,
    private readonly hash: StreamHash | null,
    private readonly onPressure: (paused: boolean) => void,
  ) {
    if (hash) hash.onAck = () => this.checkPressure();
    pendingSink.then(
      (sink) => (this.sink = sink),
      (err: unknown) => (this.failure ??= err as Error),
    );
  }

  get error(): Error | null {
    return this.failure;
  }

  push(chunk: ArrayBuffer): void {
    if (this.failure) return;
    const bytes = new Uint8Array(chunk);
    this.received += bytes.length;
    let at = 0;
    while (at < bytes.length) {
      if (!this.current) {
        // allocUnsafeSlow: an ArrayBuffer of our own, so it can be transferred to the worker.
        this.current = Buffer.allocUnsafeSlow(BUFFER_BYTES);
        this.filled = 0;
      }
      const n = Math.min(bytes.length - at, BUFFER_BYTES - this.filled);
      this.current.set(bytes.subarray(at, at + n), this.filled);
      this.filled += n;
      at += n;
      if (this.filled === BUFFER_BYTES) this.flushCurrent();
    }
  }

  /** Writes what is left, waits for the disk and the hash, and returns the hash (if any) and size. */
  async finish(): Promise<{ size: number; hash: HashResult | null }> {
    this.flushCurrent();
    while (this.writing) await this.writing;
    if (this.failure) throw this.failure;
    const sink = this.sink ?? (await this.pendingSink);
    const hash = this.hash ? await this.hash.digest() : null;
    return { size: sink.bytesWritten, hash };
  }

  /** Stops writing and hashing; the caller aborts or keeps the writer's bytes. */
  async stop(): Promise<void> {
    this.failure ??= new Error('upload stopped');
    this.queue.length = 0;
    this.queuedBytes = 0;
    this.current = null;
    this.hash?.abort();
    while (this.writing) await this.writing.catch(() => undefined);
  }

  private flushCurrent(): void {
    if (!this.current || this.filled === 0) return;
    const chunk = this.filled === BUFFER_BYTES ? this.current : this.current.subarray(0, this.filled);
    this.current = null;
    this.filled = 0;
    this.queue.push(chunk);
    this.queuedBytes += chunk.length;
    this.checkPressure();
    if (!this.writing) this.writing = this.drain();
  }

  private async drain(): Promise<void> {
    try {
      const sink = this.sink ?? (await this.pendingSink);
      while (this.queue.length > 0 && !this.failure) {
        const chunk = this.queue.shift()!;
        await sink.write(chunk);
        this.queuedBytes -= chunk.length;
        this.hash?.update(chunk);
        this.checkPressure();
      }
    } catch (err) {
      this.failure = err as Error;
    } finally {
      this.writing = null;
    }
  }

  private checkPressure(): void {
    const waiting = this.queuedBytes + (this.hash?.pending ?? 0);
    if (!this.paused && waiting >= HIGH_WATER) {
      this.paused = true;
      this.onPressure(true);
    } else if (this.paused && waiting <= LOW_WATER) {
      this.paused = false;
      this.onPressure(false);
    }
  }
}
