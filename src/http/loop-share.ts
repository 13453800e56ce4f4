// The event loop's time for request bodies while it also answers other requests.
// Everything the loop does for an upload (the native read, the direct write into the blob's file,
// the copy into shared buffers) is on the thread that answers resolves, and an upload takes all
// the time the loop gives it (the client sends as fast as it is read). Two uploads kept the main
// thread busy 80-90% of the time and resolves queued behind their chunks: p99 9-13 ms, against
// 4-5 ms for modelgate's own resolves when the same two uploads went to a separate process, and
// for a bare uWS app under them (perf: the main thread ran 6.9 s of 8, 58% of it in the body
// handler, writeSync into the page cache the largest part).
// So while other requests are answered, bodies get at most `share` of the loop's wall time: a
// token bucket of `burstMs`, charged with the time each chunk took on the loop; past it every body
// is paused (uWS stops reading their sockets) until the bucket has refilled. With no other request
// in the last `quietMs`, bodies are not bounded: a lone upload runs at the machine's speed.

type Pauser = (paused: boolean) => void;

export interface LoopShareLimits {
  /** Fraction of the loop's wall time bodies may take while other requests are answered. */
  share: number;
  /** Time bodies may take at once before the share applies. */
  burstMs: number;
  /** Other requests this recent mean the loop has other work. */
  quietMs: number;
}

export class LoopShare {
  /** Requests without a body so far: counted on the hot path, noticed when a chunk is charged. */
  otherRequests = 0;
  private seenRequests = 0;
  private lastOtherAt = Number.NEGATIVE_INFINITY;
  private tokens: number;
  private refilledAt = Number.NEGATIVE_INFINITY;
  private paused = false;
  private readonly bodies = new Set<Pauser>();
  /** Times bodies were paused by the share, and the milliseconds they stayed paused (for /metrics). */
  pauses = 0;
  pausedMs = 0;
  private pausedAt = 0;

  constructor(private readonly limits: LoopShareLimits) {
    this.tokens = limits.burstMs;
  }

  /** A body starts arriving; `pause` is told when the share pauses or resumes it. Returns its leave(). */
  join(pause: Pauser): () => void {
    this.bodies.add(pause);
    if (this.paused) pause(true);
    return () => this.bodies.delete(pause);
  }

  /** A body's chunk took `ms` of the loop, ending at `now` (performance.now()). */
  charge(ms: number, now: number): void {
    if (this.otherRequests !== this.seenRequests) {
      this.seenRequests = this.otherRequests;
      this.lastOtherAt = now;
    }
    this.refill(now);
    if (now - this.lastOtherAt > this.limits.quietMs) return;
    this.tokens -= ms;
    if (this.tokens >= 0 || this.paused) return;
    this.paused = true;
    this.pauses++;
    this.pausedAt = now;
    for (const pause of this.bodies) pause(true);
    // Resumed once the bucket is back at zero: the debt repaid at `share` of wall time.
    setTimeout(() => this.resume(), Math.ceil(-this.tokens / this.limits.share));
  }

  private refill(now: number): void {
    const earned = (now - this.refilledAt) * this.limits.share;
    this.tokens = Math.min(this.limits.burstMs, this.tokens + earned);
    this.refilledAt = now;
  }

  private resume(): void {
    this.paused = false;
    const now = performance.now();
    this.pausedMs += now - this.pausedAt;
    this.refill(now);
    for (const pause of this.bodies) pause(false);
  }
}

/**
 * The server's: 15% of the loop and 1 ms at once, while another request came within 20 ms.
 * Measured with two 1 GiB uploads and resolves at 16 connections, in turns: resolve p99 3.2-3.8 ms
 * against 4.9-7.8 ms with 30% and 2 ms (and in another run 5.0-6.5 ms at 30% against 9.2-9.9 ms
 * unbounded); the uploads then took 6.6-7.9 s each against 5.4-6.7 s at 30%. 20 ms, not 200: push
 * sends a HEAD or opens a session just before each upload, and 200 ms throttled every push's start.
 */
export const SERVER_LOOP_SHARE: LoopShareLimits = { share: 0.15, burstMs: 1, quietMs: 20 };
