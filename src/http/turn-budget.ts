/**
 * Bytes all downloads together may copy into their sockets in one turn of the event loop. A
 * resolve that arrives while downloads run waits for the turn in progress, so the turn's bytes
 * are its wait; but every write costs a system call and a pass through the pump, so each
 * download should write large pieces. A budget shared by all downloads gives both: a download
 * writes whole chunks while the turn has budget left, and waits for a later turn once it is spent
 * (its socket's writable callback included), so a turn copies about `bytes` however many
 * downloads are in flight. The turn ends at the next setImmediate.
 */
export class TurnBudget {
  private spent = 0;
  private resetting = false;

  constructor(readonly bytes: number) {}

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
  };
}
