// Bounded parallelism with fail-fast: at most `limit` tasks run at once; after the first failure
// no new task starts, the tasks in flight are told to stop through the signal, and once they have
// settled the first error is thrown (so no task outlives the call).

export async function mapLimited<T, R>(
  items: readonly T[],
  limit: number,
  task: (item: T, signal: AbortSignal, index: number) => Promise<R>,
  outerSignal?: AbortSignal,
): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  const stop = new AbortController();
  const signal = outerSignal ? AbortSignal.any([outerSignal, stop.signal]) : stop.signal;
  let next = 0;
  let firstError: { error: unknown } | null = null;

  const worker = async (): Promise<void> => {
    while (!firstError && !signal.aborted && next < items.length) {
      const index = next++;
      try {
        results[index] = await task(items[index]!, signal, index);
      } catch (error) {
        if (!firstError) firstError = { error };
        stop.abort(error);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, limit), items.length) }, worker));
  if (firstError) throw (firstError as { error: unknown }).error;
  outerSignal?.throwIfAborted();
  return results;
}
