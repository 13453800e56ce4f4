// A token bucket shared by every connection of one transfer, so `--limit-rate` caps the sum of
// them. Holding at most a quarter second of credit keeps bursts short after an idle moment.

export class RateLimiter {
  private credit: number;
  private last: number;

  constructor(
    /** Bytes per second. */
    readonly rate: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    if (!(rate > 0)) throw new RangeError(`invalid rate ${rate}`);
    this.credit = this.burst;
    this.last = now();
  }

  private get burst(): number {
    return this.rate / 4;
  }

  /** Counts `bytes` as sent or received; returns how long to wait (ms) before the next transfer. */
  take(bytes: number): number {
    const at = this.now();
    this.credit = Math.min(this.burst, this.credit + ((at - this.last) * this.rate) / 1000);
    this.last = at;
    this.credit -= bytes;
    return this.credit >= 0 ? 0 : Math.ceil((-this.credit * 1000) / this.rate);
  }
}

/**
 * Bytes a sender moves at a time: `preferred`, or under a limiter an eighth of a second's worth
 * where that is less, so the limiter paces the transfer in short steps; never under 64 KiB.
 */
export function stepSize(preferred: number, limiter?: RateLimiter): number {
  return Math.max(64 * 1024, Math.min(preferred, limiter ? Math.ceil(limiter.rate / 8) : Number.POSITIVE_INFINITY));
}

/** Counts `bytes` as sent and waits as long as the limiter then asks (not at all without one). */
export async function paceAfter(limiter: RateLimiter | undefined, bytes: number): Promise<void> {
  const waitMs = limiter?.take(bytes) ?? 0;
  if (waitMs > 0) await new Promise((r) => setTimeout(r, waitMs));
}
