/**
 * Download read buffers in power-of-two sizes from `min` to `max`, reused across downloads.
 * Buffers larger than `min` come out of a growth budget (all of them together, in use or idle,
 * at most `growthBudget` bytes), and only while at most `crowd` downloads are in flight: beyond
 * that every download reads `min` at a time, so many concurrent (mostly slow) downloads hold what
 * they did before buffers could grow. Idle large buffers are kept rather than dropped: a fresh
 * buffer costs a page fault and a zeroed page per 4 KiB on its first read (a fifth of the
 * server's CPU under 32 ranged streams while the pool still dropped them).
 * Every buffer has `slack` bytes more than its size class, so its user can start the bytes of the
 * class anywhere in its first `slack` bytes (download.ts places reads to suit the CPU's copy).
 */
export class BufferPool {
  private readonly free = new Map<number, Buffer[]>();
  private freeSmallBytes = 0;
  /** Bytes of buffers larger than `min`, in use or idle. */
  private grownBytes = 0;
  /** Downloads holding buffers from this pool (each takes two). */
  active = 0;

  constructor(
    readonly min: number,
    readonly max: number,
    readonly slack: number,
    private readonly limits: {
      /** Bytes of idle `min` buffers kept for the next downloads; the rest go to the garbage collector. */
      keepBytes: number;
      growthBudget: number;
      crowd: number;
    },
  ) {}

  /** The size class of a buffer from this pool. */
  sizeOf(buffer: Buffer): number {
    return buffer.length - this.slack;
  }

  /** A buffer of `size` (a power of two in [min, max]) plus slack, or of the largest size allowed now. */
  take(size: number = this.min): Buffer {
    let s = this.active > this.limits.crowd ? this.min : Math.min(Math.max(size, this.min), this.max);
    for (; s > this.min; s /= 2) {
      const idle = this.free.get(s)?.pop();
      if (idle) return idle;
      if (this.grownBytes + s > this.limits.growthBudget) this.dropIdleGrown(s);
      if (this.grownBytes + s <= this.limits.growthBudget) {
        this.grownBytes += s;
        return Buffer.allocUnsafeSlow(s + this.slack);
      }
    }
    const idle = this.free.get(this.min)?.pop();
    if (!idle) return Buffer.allocUnsafeSlow(this.min + this.slack);
    this.freeSmallBytes -= this.min;
    return idle;
  }

  /** The size class take(size) gives now, budget aside: `min` while more than `crowd` downloads are in flight. */
  allowed(size: number): number {
    return this.active > this.limits.crowd ? this.min : Math.min(Math.max(size, this.min), this.max);
  }

  give(buffer: Buffer): void {
    const size = this.sizeOf(buffer);
    if (size === this.min) {
      if (this.freeSmallBytes + size > this.limits.keepBytes) return;
      this.freeSmallBytes += size;
    }
    const list = this.free.get(size);
    if (list) list.push(buffer);
    else this.free.set(size, [buffer]);
  }

  /** Lets idle large buffers of other sizes go until `size` more bytes fit in the budget. */
  private dropIdleGrown(size: number): void {
    for (const [length, list] of this.free) {
      if (length === this.min || length === size) continue;
      while (list.length > 0 && this.grownBytes + size > this.limits.growthBudget) {
        list.pop();
        this.grownBytes -= length;
      }
    }
  }
}
