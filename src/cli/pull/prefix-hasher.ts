// Verifying downloads while they arrive: every partial file is hashed in order as its contiguous
// prefix grows, on a worker thread so the network and the hash each get a core. Bytes that arrive
// at the front of the hashed prefix are hashed straight from the connection's receive ring
// (shared memory, see receive-ring.ts); bytes that arrive ahead of it (pieces on other
// connections) are written only, and read back from the file once the gap before them closes.
import { Worker } from 'node:worker_threads';
import { ReceiveRing, type RingSegment } from './receive-ring.js';

export type HasherRequest =
  | { op: 'open'; id: number; path: string; size: number }
  | { op: 'grow'; id: number; upTo: number }
  | ({ op: 'ring' } & RingSegment)
  | { op: 'attach'; ring: number; memory: SharedArrayBuffer; done: Int32Array }
  | { op: 'drop'; id: number };
export type HasherReply = { id: number; hex: string } | { id: number; error: string } | { ready: true };

export interface HashedFile {
  /** Bytes up to `upTo` are written: hash them, reading back from the file what was not handed over. */
  grow(upTo: number): void;
  /**
   * Hashes `length` bytes at `buffer[offset]` as the file's next bytes if `buffer` is a view of a
   * receive ring of this hasher (during the connection's call) and the hashing thread runs; false
   * if not (the caller hands the bytes over with `grow` once they are written).
   */
  receive(buffer: Buffer, offset: number, length: number): boolean;
  /** sha256 hex of the whole file, once every byte was handed over or grown to. */
  readonly digest: Promise<string>;
  /** Stop hashing (the download failed). */
  drop(): void;
}

export class PrefixHasher {
  private worker: Worker | null = null;
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve(hex: string): void; reject(err: Error): void }>();
  private readonly rings = new Map<SharedArrayBuffer, ReceiveRing>();
  /**
   * Whether the hashing thread has started running. Until then no bytes go into a ring: a full
   * ring would stop the download for as long as the thread takes to start (tens of milliseconds
   * here, hundreds under load), while bytes only written are hashed from the page cache later.
   */
  private running = false;
  private markRunning: () => void = () => undefined;
  /** Settles once the hashing thread runs (started by `start`, `ring` or `open`). */
  readonly whenRunning = new Promise<void>((resolve) => {
    this.markRunning = resolve;
  });

  /** Receive buffers for one more connection, hashed from where they land. */
  ring(): ReceiveRing {
    const worker = this.start();
    const ring = new ReceiveRing(this.rings.size, (segment) => this.post(worker, { op: 'ring', ...segment }));
    this.rings.set(ring.memory, ring);
    this.post(worker, { op: 'attach', ring: ring.index, memory: ring.memory, done: ring.done });
    return ring;
  }

  /** Milliseconds the hashing thread has spent busy (not waiting for work) since it started; 0 before. */
  busyMs(): number {
    return this.worker?.performance.eventLoopUtilization().active ?? 0;
  }

  /** Hands every ring's queued bytes to the hashing thread (a file's last bytes must not wait for more). */
  flush(): void {
    for (const ring of this.rings.values()) ring.flush();
  }

  open(path: string, size: number): HashedFile {
    const worker = this.start();
    const id = this.nextId++;
    const digest = new Promise<string>((resolve, reject) => this.waiting.set(id, { resolve, reject }));
    // A file dropped after a failure must not leave an unhandled rejection behind.
    digest.catch(() => undefined);
    this.post(worker, { op: 'open', id, path, size });
    let sent = 0;
    /** The ring this file's last received bytes were queued in. */
    let lastRing: ReceiveRing | null = null;
    return {
      grow: (upTo) => {
        if (upTo <= sent) return;
        sent = upTo;
        // Bytes of this file still queued in a ring come before the ones read back after them.
        this.flush();
        this.post(worker, { op: 'grow', id, upTo });
      },
      receive: (buffer, offset, length) => {
        const ring = buffer.buffer instanceof SharedArrayBuffer ? this.rings.get(buffer.buffer) : undefined;
        if (!ring || !this.running) return false;
        // The next run of a file can begin on another connection right where the last one ended,
        // while the last one's bytes still wait in its ring. The thread hashes strictly in the
        // order of messages, so those must go first (seen as digest mismatches when a cold edge
        // cache released consecutive ranges one after another).
        if (lastRing !== null && lastRing !== ring) this.flush();
        lastRing = ring;
        ring.queue(id, buffer, offset, length);
        sent += length;
        return true;
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
    // A connection waiting for ring space (a pull that failed mid-way) must not wait for a thread that is gone.
    for (const ring of this.rings.values()) ring.release();
  }

  /**
   * Starts the hashing thread (if not yet started). A thread takes about 0.1 s of CPU to start;
   * started before the resolve, it does that on the other core while the main thread is busy.
   */
  start(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(new URL('./prefix-hash-worker.js', import.meta.url));
    worker.on('message', (reply: HasherReply) => {
      if ('ready' in reply) {
        this.running = true;
        this.markRunning();
        return;
      }
      const waiter = this.waiting.get(reply.id);
      this.waiting.delete(reply.id);
      if ('hex' in reply) waiter?.resolve(reply.hex);
      else waiter?.reject(new Error(`hashing failed: ${reply.error}`));
    });
    worker.on('error', (err) => {
      for (const waiter of this.waiting.values()) waiter.reject(err);
      this.waiting.clear();
      for (const ring of this.rings.values()) ring.release();
    });
    this.worker = worker;
    return worker;
  }

  private post(worker: Worker, message: HasherRequest): void {
    worker.postMessage(message);
  }
}
