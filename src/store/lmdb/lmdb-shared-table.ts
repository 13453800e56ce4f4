// The shared table of a single node: a local LMDB table, whose writes this class runs one at a
// time, so that a swap compares against what the previous write left (a read before an LMDB write
// has committed still sees the old row).
import type { LocalTable } from '../../index/local-table.js';
import type { SharedTable } from '../../index/shared-table.js';

export class LmdbSharedTable<V> implements SharedTable<V> {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly table: LocalTable<V>) {}

  async get(key: string): Promise<V | undefined> {
    await this.queue.catch(() => undefined);
    return this.table.get(key);
  }

  create(key: string, value: V): Promise<boolean> {
    return this.serial(async () => {
      if (this.table.get(key) !== undefined) return false;
      await this.table.put(key, value);
      return true;
    });
  }

  swap(key: string, expected: V, next: V): Promise<boolean> {
    return this.serial(async () => {
      const current = this.table.get(key);
      if (current === undefined || JSON.stringify(current) !== JSON.stringify(expected)) return false;
      await this.table.put(key, next);
      return true;
    });
  }

  remove(key: string): Promise<void> {
    return this.serial(async () => {
      await this.table.remove(key);
    });
  }

  async *entries(): AsyncIterable<{ key: string; value: V }> {
    await this.queue.catch(() => undefined);
    yield* this.table.entries();
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.catch(() => undefined).then(fn);
    this.queue = run;
    return run;
  }
}
