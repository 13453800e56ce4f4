// One blob in the edge cache: its file, how much of it is filled, and who is using it.
// While a fill runs, readers may read what has arrived except the final byte: that byte is released
// only once the whole blob hashed to its digest, so no reader can finish a transfer of bytes that
// later turn out wrong. If verification (or the origin) fails, every pending and later read throws.
import { closeFd, openFd } from './fd-io.js';

type Waiter = { until: number; resolve: () => void; reject: (err: Error) => void };

export class CacheEntry {
  state: 'filling' | 'ready' | 'failed' = 'filling';
  /** Bytes written to the file so far (all of them once ready). */
  filled = 0;
  error: Error | null = null;
  /** No longer in the cache's index (evicted, deleted or failed); its file is gone or going. */
  dropped = false;
  /** When the origin last said the blob exists (ms); stat asks again after a while. */
  confirmedAt: number;
  modifiedAt: number | undefined;
  private fd: number | null = null;
  private opening: Promise<number> | null = null;
  private refs = 0;
  private waiters: Waiter[] = [];

  constructor(
    readonly digest: string,
    readonly size: number,
    public path: string,
    confirmedAt: number,
    modifiedAt?: number,
  ) {
    this.confirmedAt = confirmedAt;
    this.modifiedAt = modifiedAt;
  }

  /** Creates an entry for a fill that already holds `fd` open (read-write) and counts as one user. */
  static filling(digest: string, size: number, path: string, fd: number, modifiedAt?: number): CacheEntry {
    const entry = new CacheEntry(digest, size, path, Date.now(), modifiedAt);
    entry.fd = fd;
    entry.refs = 1;
    return entry;
  }

  /** Readers and the fill that are using the entry; an entry in use is never evicted. */
  get inUse(): boolean {
    return this.refs > 0;
  }

  /** How far readers may read right now. */
  get readable(): number {
    if (this.state === 'ready') return this.size;
    return Math.min(this.filled, this.size - 1);
  }

  /** Pins the entry and returns its descriptor, opening the file if nobody has it open. */
  async acquire(): Promise<number> {
    this.refs++;
    try {
      if (this.fd !== null) return this.fd;
      this.opening ??= openFd(this.path, 'r').finally(() => (this.opening = null));
      const fd = await this.opening;
      this.fd ??= fd;
      if (this.fd !== fd) void closeFd(fd).catch(() => undefined); // two openers raced; keep one
      return this.fd;
    } catch (err) {
      this.release();
      throw err;
    }
  }

  /** Unpins; the last user closes the descriptor. Returns true when nobody uses the entry any more. */
  release(): boolean {
    this.refs--;
    if (this.refs > 0) return false;
    const fd = this.fd;
    this.fd = null;
    if (fd !== null) void closeFd(fd).catch(() => undefined);
    return true;
  }

  /** The descriptor of a pinned entry. */
  get descriptor(): number {
    if (this.fd === null) throw new Error(`cache entry ${this.digest} is not open`);
    return this.fd;
  }

  /** Resolves once readers may read up to `end` (exclusive); rejects if the fill fails. */
  waitFor(end: number): Promise<void> {
    if (this.state === 'failed') return Promise.reject(this.error!);
    if (this.readable >= end) return Promise.resolve();
    return new Promise((resolve, reject) => this.waiters.push({ until: end, resolve, reject }));
  }

  progress(filled: number): void {
    this.filled = filled;
    this.wake();
  }

  verified(path: string): void {
    this.path = path;
    this.state = 'ready';
    this.filled = this.size;
    this.wake();
  }

  fail(err: Error): void {
    this.state = 'failed';
    this.error = err;
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w.reject(err);
  }

  private wake(): void {
    if (this.waiters.length === 0) return;
    const readable = this.readable;
    const still: Waiter[] = [];
    for (const w of this.waiters) {
      if (w.until <= readable) w.resolve();
      else still.push(w);
    }
    this.waiters = still;
  }
}
