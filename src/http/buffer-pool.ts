/**
 * Download read buffers in power-of-two sizes from `min` to `max`, reused across downloads.
 * Buffers above `min` come out of a growth budget, and only while at most `crowd` downloads are
 * in flight: beyond that every download reads `min` at a time, so many concurrent (mostly slow)
 * downloads hold what they did before buffers could grow, and the service's memory stays bounded.
 */
export class BufferPool {
  private readonly free = new Map<number, Buffer[]>();
  private freeBytes = 0;
  /** Bytes above `min` per buffer in the hands of downloads right now. */
  private grown = 0;
  /** Downloads holding buffers from this pool (each takes two). */
  active = 0;

  constructor(
    readonly min: number,
    readonly max: number,
    private readonly limits: { keepBytes: number; growthBudget: number; crowd: number },
  ) {}

  /** A buffer of `size` (a power of two in [min, max]), or of the largest size allowed now. */
  take(size: number = this.min): Buffer {
    let s = this.active > this.limits.crowd ? this.min : Math.min(Math.max(size, this.min), this.max);
    while (s > this.min && this.grown + (s - this.min) > this.limits.growthBudget) s /= 2;
    this.grown += s - this.min;
    const idle = this.free.get(s)?.pop();
    if (!idle) return Buffer.allocUnsafeSlow(s);
    this.freeBytes -= s;
    return idle;
  }

  give(buffer: Buffer): void {
    this.grown -= buffer.length - this.min;
    if (this.freeBytes + buffer.length > this.limits.keepBytes) return;
    this.freeBytes += buffer.length;
    const list = this.free.get(buffer.length);
    if (list) list.push(buffer);
    else this.free.set(buffer.length, [buffer]);
  }
}
