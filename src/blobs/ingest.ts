// One upload's path from socket to disk: request chunks are copied into 1 MiB buffers (uWS
// neuters its chunk after the callback), and each full buffer goes to the sink and to the hash
// worker at once. The buffers are shared memory (SharedArrayBuffer), so the worker hashes the
// bytes in place while the sink writes them; a buffer returns to the pool when both are done.
// The producer is told to pause while too many bytes are in flight, so memory stays bounded at
// any size, and a long upload reuses the same few buffers instead of faulting in fresh pages.
// A sink failure is reported at once (`onFailure`), not only on the next chunk: the producer is
// most likely paused exactly when the sink is slow or failing, and would otherwise never be told.
import { bindIngestBuffers } from '../metrics/metrics.js';
import type { ChunkHash } from './hash-pool.js';
import type { HashResult } from '../../workers/hash.js';

const BUFFER_BYTES = 1 << 20;
const HIGH_WATER = 16 << 20;
const LOW_WATER = 4 << 20;

/** Where ingested bytes go: a blob writer, or the file of a resumable upload session. */
export interface ChunkSink {
  readonly bytesWritten: number;
  /** Must not keep `chunk` once the returned promise settles: its buffer is reused. */
  write(chunk: Buffer): Promise<void>;
}

/**
 * Buffers in use across every upload (MiB): past GLOBAL_HIGH every upload is paused, and flushes
 * the buffer it was filling, until they are back under GLOBAL_LOW. Without it, many uploads at
 * once (or many aborted ones the hashing threads have not caught up with) each held up to
 * HIGH_WATER. The pool keeps up to MAX_IDLE idle buffers, so buffers are reused rather than left
 * to the garbage collector: a shared buffer that reached a hashing thread is freed only once that
 * thread's heap, which allocates little and so rarely collects, lets go of it too (measured before
 * this bound: RSS grew by about 1 MiB per aborted upload and stayed there).
 */
const GLOBAL_HIGH = 96;
const GLOBAL_LOW = 48;
/** Above GLOBAL_HIGH: chunks already read when the uploads paused still need somewhere to go. */
const MAX_IDLE = 128;
const idle: Buffer[] = [];
let buffersOut = 0;
/** Buffers ever allocated: flat once the pool covers what uploads use at once. */
let allocated = 0;
let globalPaused = false;
/** Uploads still receiving, told when the global bound pauses or resumes them. */
const receiving = new Set<Ingest>();

function takeBuffer(): Buffer {
  buffersOut++;
  let buffer = idle.pop();
  if (!buffer) {
    buffer = Buffer.from(new SharedArrayBuffer(BUFFER_BYTES));
    allocated++;
  }
  updateGlobalPressure();
  return buffer;
}

function giveBuffer(buffer: Buffer): void {
  buffersOut--;
  if (idle.length < MAX_IDLE) idle.push(buffer);
  updateGlobalPressure();
}

function updateGlobalPressure(): void {
  const next = globalPaused ? buffersOut > GLOBAL_LOW : buffersOut >= GLOBAL_HIGH;
  if (next === globalPaused) return;
  globalPaused = next;
  for (const ingest of receiving) ingest.checkPressure();
}

/** Shared buffers, for tests and /metrics: in use by uploads, idle in the pool, and ever allocated. */
export function ingestBuffers(): { inUse: number; idle: number; allocated: number } {
  return { inUse: buffersOut, idle: idle.length, allocated };
}
bindIngestBuffers(ingestBuffers);

/** A filled buffer on its way to the sink and the hash; `holders` counts who still reads it. */
interface Chunk {
  buffer: Buffer;
  bytes: Buffer;
  holders: number;
}

export class Ingest {
  private current: Buffer | null = null;
  private filled = 0;
  private readonly queue: Chunk[] = [];
  /** Bytes in buffers taken from the pool and not yet given back. */
  private inFlight = 0;
  private writing: Promise<void> | null = null;
  private failure: Error | null = null;
  private paused = false;
  /** Stopped: buffers still come back, but the producer is no longer told to pause or resume. */
  private stopped = false;
  received = 0;

  private sink: ChunkSink | null = null;

  constructor(
    private readonly pendingSink: Promise<ChunkSink>,
    private readonly hash: ChunkHash | null,
    private readonly onPressure: (paused: boolean) => void,
    /** Called once, as soon as the sink fails (to open or to write), whether or not data still arrives. */
    private readonly onFailure: (err: Error) => void = () => undefined,
    /** The hash goes on after this body (a resumable session's next chunk): finish waits for it, not its digest. */
    private readonly keepHashOpen = false,
  ) {
    pendingSink.then(
      (sink) => (this.sink = sink),
      (err: unknown) => this.fail(err),
    );
    receiving.add(this);
    this.checkPressure();
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
        this.current = takeBuffer();
        this.filled = 0;
        this.inFlight += BUFFER_BYTES;
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
    // The whole body is in: nothing left to pause.
    receiving.delete(this);
    this.flushCurrent();
    while (this.writing) await this.writing;
    if (this.failure) throw this.failure;
    const sink = this.sink ?? (await this.pendingSink);
    if (this.keepHashOpen) {
      await this.hash?.idle();
      return { size: sink.bytesWritten, hash: null };
    }
    const hash = this.hash ? await this.hash.digest() : null;
    return { size: sink.bytesWritten, hash };
  }

  /**
   * Stops writing and hashing; the caller aborts or keeps the writer's bytes. Buffers come back to
   * the pool as the sink and the aborted hash let go of them (see StreamHash in hash-pool.ts).
   */
  async stop(): Promise<void> {
    this.failure ??= new Error('upload stopped');
    this.stopped = true;
    receiving.delete(this);
    this.dropQueued();
    if (this.current) {
      // Only this ingest ever held the partly filled buffer: it can go straight back.
      giveBuffer(this.current);
      this.inFlight -= BUFFER_BYTES;
      this.current = null;
    }
    this.hash?.abort();
    while (this.writing) await this.writing.catch(() => undefined);
  }

  private flushCurrent(): void {
    const buffer = this.current;
    if (!buffer) return;
    this.current = null;
    if (this.filled === 0) {
      this.inFlight -= BUFFER_BYTES;
      giveBuffer(buffer);
      return;
    }
    const chunk: Chunk = { buffer, bytes: buffer.subarray(0, this.filled), holders: this.hash ? 2 : 1 };
    this.filled = 0;
    this.hash?.update(chunk.bytes, () => this.release(chunk));
    this.queue.push(chunk);
    this.checkPressure();
    if (!this.writing) this.writing = this.drain();
  }

  private async drain(): Promise<void> {
    try {
      const sink = this.sink ?? (await this.pendingSink);
      while (this.queue.length > 0 && !this.failure) {
        const chunk = this.queue.shift()!;
        try {
          await sink.write(chunk.bytes);
        } finally {
          // Written or refused, the sink is done with it (ChunkSink.write keeps nothing after settling).
          this.release(chunk);
        }
      }
    } catch (err) {
      this.fail(err);
    } finally {
      this.writing = null;
    }
  }

  /**
   * Records the first failure, lets go of every chunk still waiting for the sink (they will never
   * be written; the hash still returns its share) and tells the owner at once.
   */
  private fail(err: unknown): void {
    if (this.failure) return;
    this.failure = err as Error;
    this.dropQueued();
    this.onFailure(this.failure);
  }

  /** Chunks queued for the sink will not be written: the sink's hold on each is released. */
  private dropQueued(): void {
    // The chunk drain() may be writing right now is no longer queued; drain releases it when done.
    for (const chunk of this.queue.splice(0)) this.release(chunk);
  }

  /** One reader of the chunk is done with it; the last one returns the buffer to the pool. */
  private release(chunk: Chunk): void {
    if (--chunk.holders > 0) return;
    this.inFlight -= BUFFER_BYTES;
    giveBuffer(chunk.buffer);
    this.checkPressure();
  }

  /**
   * Pauses the producer past this upload's bound or the global one, and resumes it below both.
   * Paused by the global bound, it also sends on the buffer it was filling, so that every buffer
   * in use is on its way back to the pool and no upload waits on another's half-filled buffer.
   */
  checkPressure(): void {
    if (this.stopped) return;
    if (globalPaused && this.current && this.filled > 0) this.flushCurrent();
    if (!this.paused && (globalPaused || this.inFlight >= HIGH_WATER)) {
      this.paused = true;
      this.onPressure(true);
    } else if (this.paused && !globalPaused && this.inFlight <= LOW_WATER) {
      this.paused = false;
      this.onPressure(false);
    }
  }
}
