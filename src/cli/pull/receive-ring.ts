// The receive buffers of one download connection: a ring of shared memory that the socket reads
// into and the hashing thread reads from, so a byte received at the front of a file's hashed
// prefix is hashed where it landed instead of being read back from the file. A region of the
// ring is in use from the moment its bytes are queued for hashing until the hashing thread says
// it is done with them (a counter in shared memory); bytes nobody hashes are free once the
// socket's next read begins, since the sink has written them by then. When the region the next
// read would fill is still in use, the connection stops reading until it is free: the hash paces
// the download instead of piling up copies.
import type { ReceiveBuffers } from '../../client/index.js';

const MiB = 1024 * 1024;
/** Bytes of shared memory per connection. */
export const RING_SIZE = 16 * MiB;
/** The most one socket read may fill. */
const MAX_READ = MiB;
/** Less than this left before the end of the ring: the next read starts at the ring's beginning. */
const MIN_READ = 64 * 1024;
/** A paused connection reads again once this much beyond its next region is free, not at the first free byte. */
const RESUME_SLACK = 4 * MiB;
/** Queued bytes are handed to the hashing thread in runs of about this much. */
const HAND_OVER = MiB;

/** Atomics.waitAsync (Node ≥ 16) is in the ES2024 library, newer than the one this project compiles against. */
const waitAsync = (
  Atomics as unknown as {
    waitAsync(array: Int32Array, index: number, value: number): { async: false; value: string } | { async: true; value: Promise<string> };
  }
).waitAsync;

/** A run of ring bytes queued for hashing: the next `length` bytes of file `fileId`. */
export interface RingSegment {
  ring: number;
  fileId: number;
  /** Offset in the ring. */
  offset: number;
  length: number;
  /** The hashing thread stores this in the ring's counter when done with the bytes. */
  seq: number;
}

export class ReceiveRing implements ReceiveBuffers {
  readonly memory = new SharedArrayBuffer(RING_SIZE);
  /** [0]: the seq of the last segment the hashing thread is done with. */
  readonly done = new Int32Array(new SharedArrayBuffer(4));
  /** Monotonic position (bytes since the start) of the region handed to the socket. */
  private regionStart = 0;
  private head = 0;
  private pending: (Omit<RingSegment, 'seq' | 'offset'> & { start: number }) | null = null;
  /** Segments handed over and not known to be done: seq and monotonic start. */
  private readonly inFlight: { seq: number; start: number }[] = [];
  private seq = 0;

  constructor(
    readonly index: number,
    private readonly handOver: (segment: RingSegment) => void,
  ) {}

  next(): Buffer {
    this.regionStart = this.regionHead();
    const offset = this.regionStart % RING_SIZE;
    return Buffer.from(this.memory, offset, Math.min(MAX_READ, RING_SIZE - offset));
  }

  filled(n: number): void {
    this.head = this.regionStart + n;
  }

  /**
   * Queues `length` bytes at `buffer[offset]` (a view of this ring's last region, during the
   * sink's call) for hashing as the next bytes of `fileId`.
   */
  queue(fileId: number, buffer: Buffer, offset: number, length: number): void {
    const start = this.regionStart + (buffer.byteOffset - (this.regionStart % RING_SIZE)) + offset;
    const p = this.pending;
    // A run never wraps around the ring's end: the hashing thread reads it as one view.
    if (p && p.fileId === fileId && p.start + p.length === start && start % RING_SIZE !== 0 && p.length < HAND_OVER) {
      p.length += length;
    } else {
      this.flush();
      this.pending = { ring: this.index, fileId, start, length };
    }
  }

  /** Hands the queued bytes to the hashing thread now. */
  flush(): void {
    const p = this.pending;
    if (!p) return;
    this.pending = null;
    this.seq++;
    this.inFlight.push({ seq: this.seq, start: p.start });
    this.handOver({ ring: p.ring, fileId: p.fileId, offset: p.start % RING_SIZE, length: p.length, seq: this.seq });
  }

  /** The hashing thread is gone: nothing waits for it any more (the files' digests fail instead). */
  release(): void {
    Atomics.store(this.done, 0, 0x7fffffff);
    Atomics.notify(this.done, 0);
  }

  whenFree(): Promise<void> | null {
    if (this.isFree()) return null;
    // The hashing thread can only free what it has been handed.
    this.flush();
    return this.waitUntilFree();
  }

  private async waitUntilFree(): Promise<void> {
    while (!this.isFree(RESUME_SLACK)) {
      const seen = Atomics.load(this.done, 0);
      const wait = waitAsync(this.done, 0, seen);
      if (wait.async) await wait.value;
    }
  }

  /** Where the next read's region starts: at the head, or at the ring's start when too little is left before its end. */
  private regionHead(): number {
    const left = RING_SIZE - (this.head % RING_SIZE);
    return left < MIN_READ ? this.head + left : this.head;
  }

  /** Whether the region the next read would fill holds no byte still waiting for the hash. */
  private isFree(slack = 0): boolean {
    const done = Atomics.load(this.done, 0);
    while (this.inFlight.length > 0 && this.inFlight[0]!.seq <= done) this.inFlight.shift();
    const oldest = this.inFlight[0]?.start ?? this.pending?.start;
    if (oldest === undefined) return true;
    const start = this.regionHead();
    const end = start + Math.min(MAX_READ, RING_SIZE - (start % RING_SIZE));
    return end + slack - oldest <= RING_SIZE;
  }
}
