// One upload's path from socket to disk. Two ways, chosen when the sink has opened:
// - A sink backed by a local file (fs blobs, a session's file) offers `direct`: each uWS chunk is
//   written straight into the file on the event loop (a page-cache write of one chunk takes
//   microseconds) and the hash worker reads the bytes back from that file (from the page cache),
//   told every few MiB how far the file is written. Nothing is copied in user space and nothing
//   waits on the threadpool per chunk. The producer is paused while the hash lags too far behind.
//   While the file is being written back to the disk, chunks take the second way instead (a write
//   could wait for the write-back there, on the event loop; see DirectFile.writingBack).
// - Any other sink (S3), and the file during a write-back: request chunks are copied into 1 MiB buffers (uWS neuters its chunk
//   after the callback), and each full buffer goes to the sink and to the hash worker at once. The
//   buffers are shared memory (SharedArrayBuffer), so the worker hashes the bytes in place while
//   the sink writes them; a buffer returns to the pool when both are done. The producer is told to
//   pause while too many bytes are in flight, so memory stays bounded at any size, and a long
//   upload reuses the same few buffers instead of faulting in fresh pages.
// Chunks that arrive before the sink has opened take the second way, and are written before the
// first direct write. A sink failure is reported at once (`onFailure`), not only on the next
// chunk: the producer is most likely paused exactly when the sink is slow or failing, and would
// otherwise never be told.
import { bindIngestBuffers } from '../metrics/metrics.js';
import type { ChunkHash } from './hash-pool.js';
import type { HashResult } from '../../workers/hash.js';

const BUFFER_BYTES = 1 << 20;
/**
 * Bytes an upload may hold in shared buffers before it pauses, and below which it resumes. Small
 * enough that the buffers the main thread fills and the hashing thread reads stay few: on the
 * Intel guest of 2026-12-07 (2 MiB of L2 a core), an upload of a stored blob (every byte through
 * these buffers, hashed, not written) took 1.18–1.23 s a GiB at 16/4 MiB and 0.96–0.99 s at 6/3
 * MiB, with 0.3 CPU-s less of the server's time (median of 7 curl uploads a setting, twice).
 */
const HIGH_WATER = 6 << 20;
const LOW_WATER = 3 << 20;

/** Where ingested bytes go: a blob writer, or the file of a resumable upload session. */
export interface ChunkSink {
  readonly bytesWritten: number;
  /** Must not keep `chunk` once the returned promise settles: its buffer is reused. */
  write(chunk: Buffer): Promise<void>;
  /** Present when the bytes land in a local file that can take each chunk at once. */
  readonly direct?: DirectFile;
}

/** A sink's local file, written on the calling thread (see the top of this file). */
export interface DirectFile {
  /** Where the bytes land; the hash reads them back from here. */
  readonly path: string;
  /** The position in `path` of the sink's first byte. */
  readonly start: number;
  /** Writes `bytes` after every byte written so far (counted in bytesWritten), now; throws if it cannot. */
  writeNow(bytes: Uint8Array): void;
  /**
   * True while a write-back of the file is under way. A write may then wait for it (ext4 holds the
   * file's block map while the write-back allocates blocks: 14 waits over 2 ms in 6 s, up to 23 ms,
   * seen on the event loop with `perf record -e sched:sched_switch` during two uploads), so
   * meanwhile chunks take the shared buffers and the threadpool writes them.
   */
  readonly writingBack: boolean;
  /** Called when a write-back ends (done, or failed: the next writeNow throws). */
  onWrittenBack: (() => void) | null;
}

/** Bytes written directly before the hash worker is told to read them: one message each way per step. */
const HASH_STEP = 4 << 20;
/** Bytes written directly and not yet hashed past which the producer pauses, and below which it resumes. */
const HASH_LAG_HIGH = 32 << 20;
const HASH_LAG_LOW = 8 << 20;

/**
 * The shared buffers of every upload: at most MAX_SHARED_BUFFERS (MiB) are ever allocated, and
 * none is ever dropped. A shared buffer that reached a hashing thread is freed only once that
 * thread's heap, which allocates little and so rarely collects, lets go of it too: buffers the
 * pool dropped after a peak stayed allocated, and the next peak allocated fresh ones (measured
 * under load: 729 allocated over 1000 aborted uploads, array buffers 457 MB after). With a fixed
 * set, what the hashing threads keep referring to is the set itself.
 * Past GLOBAL_HIGH buffers in use every upload is paused, and flushes the buffer it was filling,
 * until they are back under GLOBAL_LOW. Bytes that arrive when every shared buffer is out (chunks
 * already read when the uploads paused, or the first chunk of an upload that starts then) are
 * copied into ordinary memory, which the main thread collects like any other, and moved into
 * shared buffers as they come back, first come first served; the upload stays paused meanwhile,
 * so that memory is at most one read per upload.
 */
export const MAX_SHARED_BUFFERS = 128;
const GLOBAL_HIGH = 96;
const GLOBAL_LOW = 48;
const idle: Buffer[] = [];
let buffersOut = 0;
/** Buffers ever allocated: at most MAX_SHARED_BUFFERS. */
let allocated = 0;
/** Bytes waiting in ordinary memory for a shared buffer, across every upload. */
let waitingBytes = 0;
let globalPaused = false;
/** Uploads still receiving, told when the global bound pauses or resumes them. */
const receiving = new Set<Ingest>();
/** Uploads with bytes waiting for a shared buffer, in the order they started waiting. */
const waiting = new Set<Ingest>();

/** The staging copy of copyIntoShared: one, reused, since each copy completes before the next. */
const staging = new Uint8Array(BUFFER_BYTES + 8);

/**
 * Copies `source` into the shared `target` at `at`. V8 copies into shared memory with relaxed
 * atomic stores, word by word only where source and target sit at the same offset within a
 * word, and byte by byte otherwise: 3.4 GB/s against 26 for the same 512 KiB in a loop here, and
 * under upload of a stored blob (no file to write, so every byte takes this copy) that copy was
 * 26% of the server's samples against 4.5% for the kernel's receive copy (perf, 2026-12-07).
 * Where a request chunk lands in its socket buffer is not known from JavaScript, so it is first
 * copied (at memcpy speed: neither side shared) into staging at the target's offset within a word.
 */
function copyIntoShared(target: Uint8Array, at: number, source: Uint8Array): void {
  const shift = (target.byteOffset + at) & 7;
  staging.set(source, shift);
  target.set(staging.subarray(shift, shift + source.length), at);
}

/** A shared buffer from the pool, or null when all MAX_SHARED_BUFFERS are in use. */
function takeBuffer(): Buffer | null {
  let buffer = idle.pop();
  if (!buffer) {
    if (allocated >= MAX_SHARED_BUFFERS) return null;
    buffer = Buffer.from(new SharedArrayBuffer(BUFFER_BYTES));
    allocated++;
  }
  buffersOut++;
  updateGlobalPressure();
  return buffer;
}

function giveBuffer(buffer: Buffer): void {
  buffersOut--;
  idle.push(buffer);
  updateGlobalPressure();
  serveWaiting();
}

let serving = false;
/** Hands returned buffers to the uploads waiting for one, oldest first. */
function serveWaiting(): void {
  // A buffer given back while an upload takes its waiting bytes (a hash that lets go at once) is
  // picked up by the loop below, not by a nested call.
  if (serving) return;
  serving = true;
  try {
    while (idle.length > 0 && waiting.size > 0) {
      const first = waiting.values().next().value as Ingest;
      if (!first.takeWaiting()) break;
    }
  } finally {
    serving = false;
  }
}

function updateGlobalPressure(): void {
  const next = globalPaused ? buffersOut > GLOBAL_LOW : buffersOut >= GLOBAL_HIGH;
  if (next === globalPaused) return;
  globalPaused = next;
  for (const ingest of receiving) ingest.checkPressure();
}

/**
 * Shared buffers, for tests and /metrics: in use by uploads, idle in the pool, and ever
 * allocated; and the bytes waiting in ordinary memory for one.
 */
export function ingestBuffers(): { inUse: number; idle: number; allocated: number; waitingBytes: number } {
  return { inUse: buffersOut, idle: idle.length, allocated, waitingBytes };
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
  /** Bytes received while every shared buffer was out, copied into ordinary memory, in order. */
  private readonly waitingChunks: Buffer[] = [];
  private waitingBytes = 0;
  /** finish() waiting for the waiting bytes to reach shared buffers. */
  private onWaitingDone: (() => void) | null = null;
  /** Stopped: buffers still come back, but the producer is no longer told to pause or resume. */
  private stopped = false;
  received = 0;

  private sink: ChunkSink | null = null;
  /** The sink's file once writes go straight to it (every earlier byte is written by then). */
  private direct: DirectFile | null = null;
  /** The sink offered a file: writes go straight to it as soon as the buffered ones are written. */
  private offered: DirectFile | null = null;
  /** Position in the direct file of the first byte not yet handed to the hash. */
  private hashFrom = 0;
  /** Bytes written directly and not yet handed to the hash. */
  private unhashed = 0;
  /** Bytes handed to the hash from the file and not yet hashed. */
  private hashLag = 0;

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
      (sink) => {
        this.sink = sink;
        this.offered = sink.direct ?? null;
        this.goDirect();
      },
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
    if (this.direct?.writingBack) this.leaveDirect();
    if (this.direct) {
      this.writeDirect(bytes);
      this.checkPressure();
      return;
    }
    // Bytes already waiting go first: these wait behind them.
    const taken = this.waitingChunks.length > 0 ? 0 : this.fill(bytes);
    if (taken < bytes.length) this.wait(Buffer.from(bytes.subarray(taken)));
    this.checkPressure();
  }

  /** Copies `bytes` into shared buffers, sending on each full one; how many fit before the pool ran out. */
  private fill(bytes: Uint8Array): number {
    let at = 0;
    while (at < bytes.length) {
      if (!this.current) {
        const buffer = takeBuffer();
        if (!buffer) break;
        this.current = buffer;
        this.filled = 0;
        this.inFlight += BUFFER_BYTES;
      }
      const n = Math.min(bytes.length - at, BUFFER_BYTES - this.filled);
      copyIntoShared(this.current, this.filled, bytes.subarray(at, at + n));
      this.filled += n;
      at += n;
      if (this.filled === BUFFER_BYTES) this.flushCurrent();
    }
    return at;
  }

  /**
   * Switches to writing straight into the sink's file once it was offered and every byte before
   * is written (nothing queued or being written, the half-filled buffer and any waiting bytes
   * written here first, in order). Called when the sink opens and whenever the queue drains.
   */
  private goDirect(): void {
    const file = this.offered;
    if (!file || this.direct || file.writingBack || this.failure || this.stopped || this.queue.length > 0 || this.writing) return;
    this.hashFrom = file.start + this.sink!.bytesWritten;
    this.direct = file;
    file.onWrittenBack = () => {
      this.goDirect();
      this.checkPressure();
    };
    const partial = this.current;
    if (partial) {
      this.current = null;
      this.writeDirect(partial.subarray(0, this.filled));
      this.filled = 0;
      this.inFlight -= BUFFER_BYTES;
      giveBuffer(partial);
    }
    for (const waiting of this.waitingChunks) this.writeDirect(waiting);
    this.stopWaiting();
    if (receiving.has(this)) this.checkPressure();
  }

  /** Back to the shared buffers while the file is written back (see DirectFile.writingBack); goDirect comes back. */
  private leaveDirect(): void {
    this.hashWritten();
    this.direct = null;
  }

  /** Writes bytes into the sink's file now, and hands the hash every full step of them. */
  private writeDirect(bytes: Uint8Array): void {
    if (this.failure) return;
    try {
      this.direct!.writeNow(bytes);
    } catch (err) {
      this.fail(err);
      return;
    }
    this.unhashed += bytes.length;
    if (this.unhashed >= HASH_STEP) this.hashWritten();
  }

  /** Tells the hash to read the bytes written since it was last told. */
  private hashWritten(): void {
    const length = this.unhashed;
    if (length === 0 || !this.direct) return;
    this.unhashed = 0;
    if (!this.hash) return;
    this.hashLag += length;
    this.hash.updateFile(this.direct.path, this.hashFrom, length, () => {
      this.hashLag -= length;
      this.checkPressure();
    });
    this.hashFrom += length;
  }

  /** Keeps a copy of bytes no shared buffer could take, until one comes back. */
  private wait(copy: Buffer): void {
    this.waitingChunks.push(copy);
    this.waitingBytes += copy.length;
    waitingBytes += copy.length;
    waiting.add(this);
  }

  /**
   * Moves waiting bytes into shared buffers as far as the pool allows (called by the pool when
   * buffers come back); false if it could move nothing.
   */
  takeWaiting(): boolean {
    let moved = 0;
    while (this.waitingChunks.length > 0 && !this.failure) {
      const head = this.waitingChunks[0]!;
      const n = this.fill(head);
      moved += n;
      this.waitingBytes -= n;
      waitingBytes -= n;
      if (n < head.length) {
        this.waitingChunks[0] = head.subarray(n);
        break;
      }
      this.waitingChunks.shift();
    }
    if (this.waitingChunks.length === 0) this.stopWaiting();
    if (receiving.has(this)) this.checkPressure();
    return moved > 0 || !waiting.has(this);
  }

  /** No bytes wait any more (all moved, or dropped after a failure or a stop). */
  private stopWaiting(): void {
    waitingBytes -= this.waitingBytes;
    this.waitingBytes = 0;
    this.waitingChunks.length = 0;
    waiting.delete(this);
    this.onWaitingDone?.();
    this.onWaitingDone = null;
  }

  /** Writes what is left, waits for the disk and the hash, and returns the hash (if any) and size. */
  async finish(): Promise<{ size: number; hash: HashResult | null }> {
    // The whole body is in: nothing left to pause.
    receiving.delete(this);
    if (this.waitingChunks.length > 0) await new Promise<void>((resolve) => (this.onWaitingDone = resolve));
    this.flushCurrent();
    while (this.writing) await this.writing;
    this.hashWritten();
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
    this.stopWaiting();
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
    this.goDirect();
  }

  /**
   * Records the first failure, lets go of every chunk still waiting for the sink (they will never
   * be written; the hash still returns its share) and tells the owner at once.
   */
  private fail(err: unknown): void {
    if (this.failure) return;
    this.failure = err as Error;
    this.stopWaiting();
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
    if (this.direct) {
      // No shared buffers held: only the hash sets the pace.
      if (!this.paused && this.hashLag >= HASH_LAG_HIGH) {
        this.paused = true;
        this.onPressure(true);
      } else if (this.paused && this.hashLag <= HASH_LAG_LOW) {
        this.paused = false;
        this.onPressure(false);
      }
      return;
    }
    if (globalPaused && this.current && this.filled > 0) this.flushCurrent();
    const waits = this.waitingChunks.length > 0;
    if (!this.paused && (globalPaused || waits || this.inFlight >= HIGH_WATER)) {
      this.paused = true;
      this.onPressure(true);
    } else if (this.paused && !globalPaused && !waits && this.inFlight <= LOW_WATER) {
      this.paused = false;
      this.onPressure(false);
    }
  }
}
