/** Counts the asynchronous requests (uploads, downloads, registrations) in progress, so shutdown can wait for them. */
export class InFlight {
  private active = 0;
  private idleWaiters: (() => void)[] = [];

  /** Counts `work` until it settles. */
  track(work: Promise<unknown>): void {
    this.active++;
    const settled = () => this.settled();
    work.then(settled, settled);
  }

  /** Resolves once no tracked request is in progress. */
  whenIdle(): Promise<void> {
    if (this.active === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private settled(): void {
    this.active--;
    if (this.active === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const wake of waiters) wake();
    }
  }
}
