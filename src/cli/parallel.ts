// Bounded parallelism with fail-fast: at most `width` tasks run at once; after the first failure
// no new task starts, the tasks in flight are told to stop through the signal, and once they have
// settled the first error is thrown (so no task outlives the call). The width may change while
// the pool runs (pull's connection count follows its measured throughput).

export interface Pool {
  /** Tasks wanted at once from now on: more start at once while there is work; extra ones stop after their current item. */
  resize(width: number): void;
  /** Tasks running now. */
  readonly active: number;
  /** Resolves once `take` has run dry and every task has finished; rejects with the first error once all have settled. */
  readonly done: Promise<void>;
}

/** Runs `task` on each item `take()` hands out (undefined: no more) with up to `width` at once. */
export function startPool<T>(
  take: () => T | undefined,
  width: number,
  task: (item: T, signal: AbortSignal) => Promise<void>,
  outerSignal?: AbortSignal,
): Pool {
  const stop = new AbortController();
  const signal = outerSignal ? AbortSignal.any([outerSignal, stop.signal]) : stop.signal;
  let wanted = Math.max(1, width);
  let active = 0;
  let exhausted = false;
  let firstError: { error: unknown } | null = null;
  let settle!: () => void;
  const done = new Promise<void>((resolve, reject) => {
    settle = () => (firstError ? reject(firstError.error) : outerSignal?.aborted ? reject(outerSignal.reason) : resolve());
  });
  const stopped = () => exhausted || firstError !== null || signal.aborted;

  const worker = async (): Promise<void> => {
    try {
      // A worker beyond the wanted width stops before taking more work.
      while (!stopped() && active <= wanted) {
        const item = take();
        if (item === undefined) {
          exhausted = true;
          break;
        }
        try {
          await task(item, signal);
        } catch (error) {
          firstError ??= { error };
          stop.abort(error);
        }
      }
    } finally {
      // Only the last one out settles: a worker leaving because of the width leaves another behind.
      if (--active === 0) settle();
    }
  };
  const spawn = () => {
    while (active < wanted && !stopped()) {
      active++;
      void worker();
    }
  };
  spawn();
  // Nothing started (a signal aborted already): settle now; settling twice is harmless.
  if (active === 0) settle();
  return {
    resize(width) {
      wanted = Math.max(1, width);
      if (active > 0) spawn();
    },
    get active() {
      return active;
    },
    done,
  };
}

export async function mapLimited<T, R>(
  items: readonly T[],
  limit: number,
  task: (item: T, signal: AbortSignal, index: number) => Promise<R>,
  outerSignal?: AbortSignal,
): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  await startPool(
    () => (next < items.length ? next++ : undefined),
    limit,
    async (index, signal) => {
      results[index] = await task(items[index]!, signal, index);
    },
    outerSignal,
  ).done;
  return results;
}
