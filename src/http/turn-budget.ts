/**
 * Bytes all downloads together may copy into their sockets in one turn of the event loop. A
 * resolve that arrives while downloads run waits for the turn in progress, so the turn's bytes
 * are its wait; but every write costs a system call and a pass through the pump, so each
 * download should write large pieces. A budget shared by all downloads gives both: a download
 * writes while the turn has budget left, and waits for a later turn once it is spent (its
 * socket's writable callback included), so a turn copies about `bytes` however many downloads
 * are in flight. The turn ends at the next setImmediate.
 *
 * The small budget costs the downloads CPU (more turns, each a pass through epoll and the
 * waiting downloads' callbacks, and sockets taken off and put back on epoll's writable list), and
 * only requests other than downloads gain from it. So it applies while such requests arrive
 * (`others` counts them): after `quietMs` without one, turns take `quiet` bytes in larger writes,
 * until the next one arrives.
 */
export interface TurnLimits {
  /** Bytes a turn copies, and the largest write, while other requests arrive. */
  busy: number;
  busyWrite: number;
  /** Bytes a turn copies, and the largest write, with no other request in the last `quietMs`. */
  quiet: number;
  quietWrite: number;
  quietMs: number;
}

export class TurnBudget {
  private spent = 0;
  private resetting = false;
  /** This turn's budget and largest write, and whether it is a quiet one. */
  bytes: number;
  maxWrite: number;
  quiet = false;
  private seen = 0;
  private lastOtherAt = Number.NEGATIVE_INFINITY;

  /** `others`: requests other than downloads so far; while it answers undefined every turn is busy. */
  constructor(
    readonly limits: TurnLimits,
    private readonly others: () => number | undefined = () => undefined,
  ) {
    this.bytes = limits.busy;
    this.maxWrite = limits.busyWrite;
  }

  get exhausted(): boolean {
    return this.spent >= this.bytes;
  }

  spend(bytes: number): void {
    this.spent += bytes;
    if (this.resetting) return;
    this.resetting = true;
    setImmediate(this.reset);
  }

  /** Resolves in the first turn with budget left (at once if this one has some). */
  async wait(): Promise<void> {
    while (this.exhausted) await new Promise(setImmediate);
  }

  private readonly reset = (): void => {
    this.spent = 0;
    this.resetting = false;
    const now = performance.now();
    const count = this.others();
    if (count === undefined || count !== this.seen) {
      this.seen = count ?? 0;
      this.lastOtherAt = now;
    }
    this.quiet = now - this.lastOtherAt > this.limits.quietMs;
    this.bytes = this.quiet ? this.limits.quiet : this.limits.busy;
    this.maxWrite = this.quiet ? this.limits.quietWrite : this.limits.busyWrite;
  };
}
