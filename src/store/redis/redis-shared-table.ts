// A shared table as one Redis hash (<prefix>shared:<name>), values as JSON. The swap runs as a
// script in Redis, so it compares and writes in one step whichever node sends it.
import type { Redis } from 'ioredis';
import type { SharedTable } from '../../index/shared-table.js';

/** KEYS[1] hash; ARGV field, expected JSON, next JSON: 1 if swapped, 0 if the row changed or is gone. */
const SWAP = `if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then redis.call('HSET', KEYS[1], ARGV[1], ARGV[3]) return 1 end return 0`;

export class RedisSharedTable<V> implements SharedTable<V> {
  constructor(
    private readonly cmd: Redis,
    private readonly key: string,
    private readonly unavailable: (err: unknown) => Error,
  ) {}

  async get(key: string): Promise<V | undefined> {
    const raw = await this.call(() => this.cmd.hget(this.key, key));
    return raw === null ? undefined : (JSON.parse(raw) as V);
  }

  async create(key: string, value: V): Promise<boolean> {
    return (await this.call(() => this.cmd.hsetnx(this.key, key, JSON.stringify(value)))) === 1;
  }

  async swap(key: string, expected: V, next: V): Promise<boolean> {
    const done = await this.call(() => this.cmd.eval(SWAP, 1, this.key, key, JSON.stringify(expected), JSON.stringify(next)));
    return done === 1;
  }

  async remove(key: string): Promise<void> {
    await this.call(() => this.cmd.hdel(this.key, key));
  }

  async *entries(): AsyncIterable<{ key: string; value: V }> {
    let cursor = '0';
    do {
      const [next, flat] = await this.call(() => this.cmd.hscan(this.key, cursor, 'COUNT', 200));
      for (let i = 0; i + 1 < flat.length; i += 2) yield { key: flat[i]!, value: JSON.parse(flat[i + 1]!) as V };
      cursor = next;
    } while (cursor !== '0');
  }

  private async call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw this.unavailable(err);
    }
  }
}
