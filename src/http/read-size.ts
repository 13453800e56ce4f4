/**
 * How much one download reads per step. Each read is a round trip to a libuv thread (two thread
 * wake-ups), so a client that takes bytes fast wants large reads; a slow one would only hold large
 * buffers idle. The size is `max` as long as the socket takes every chunk at once (the reads are
 * what the client waits for; one step, so the pool mostly holds buffers of two sizes); once the
 * socket has been full, it follows the client's pace measured since then, about PACE_MS of it per
 * read, a power of two in [min, max], one step at a time. The pace is taken over WINDOW_CHUNKS
 * chunks at least: a client that reads in bursts looks fast between two.
 */
const PACE_MS = 100;
const WINDOW_CHUNKS = 8;

export class ReadSize {
  size: number;
  private window: { at: number; sent: number } | null = null;
  private chunks = 0;

  constructor(
    private readonly min: number,
    private readonly max: number,
  ) {
    this.size = min;
  }

  /** After a chunk went to the socket: `sent` bytes so far, `waited` if the socket was full first. */
  handed(sent: number, waited: boolean, now: number = performance.now()): void {
    if (!this.window) {
      if (waited) this.window = { at: now, sent };
      else this.size = this.max;
      return;
    }
    if (++this.chunks < WINDOW_CHUNKS) return;
    const ms = now - this.window.at;
    const wanted = ms > 0 ? ((sent - this.window.sent) / ms) * PACE_MS : Number.POSITIVE_INFINITY;
    if (wanted >= this.size * 2) this.size = Math.min(this.size * 2, this.max);
    else while (this.size > this.min && this.size > wanted) this.size /= 2;
  }
}
