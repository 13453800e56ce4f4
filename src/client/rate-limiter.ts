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
