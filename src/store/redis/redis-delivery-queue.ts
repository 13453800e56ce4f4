// The delivery queue shared by the nodes of a Redis-backed registry: records in a hash, the due
// times in a sorted set, one sorted set per endpoint for its log. Enqueue and claim are Lua
// scripts, so two nodes never both add a delivery or both claim it.
import type { Redis } from 'ioredis';
import type { WebhookDelivery } from '../../domain/webhooks.js';
import type { DeliveryQueue } from '../delivery-queue.js';

// KEYS: records, due, cursor. ARGV: through, endpoint-key prefix, then (id, json, dueAt, endpointId, seq) per delivery.
const ENQUEUE = `
for i = 3, #ARGV, 5 do
  if redis.call('HSETNX', KEYS[1], ARGV[i], ARGV[i + 1]) == 1 then
    redis.call('ZADD', KEYS[2], ARGV[i + 2], ARGV[i])
    redis.call('ZADD', ARGV[2] .. ARGV[i + 3], ARGV[i + 4], ARGV[i])
  end
end
local current = tonumber(redis.call('GET', KEYS[3]) or '0')
if tonumber(ARGV[1]) > current then redis.call('SET', KEYS[3], ARGV[1]) end
return 1`;

// KEYS: records, due. ARGV: now, limit, lease end. Pushes each claimed delivery's due time to the lease end.
const CLAIM = `
local ids = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local out = {}
for _, id in ipairs(ids) do
  local record = redis.call('HGET', KEYS[1], id)
  if record then
    redis.call('ZADD', KEYS[2], ARGV[3], id)
    out[#out + 1] = record
  else
    redis.call('ZREM', KEYS[2], id)
  end
end
return out`;

export class RedisDeliveryQueue implements DeliveryQueue {
  private readonly keys: { records: string; due: string; cursor: string; endpoint: string };

  constructor(
    private readonly redis: Redis,
    prefix: string,
    /** Turns a Redis failure into the store's 503. */
    private readonly unavailable: (err: unknown) => Error,
  ) {
    const p = `${prefix}webhooks:`;
    this.keys = { records: `${p}deliveries`, due: `${p}due`, cursor: `${p}cursor`, endpoint: `${p}endpoint:` };
  }

  async cursor(): Promise<number> {
    return Number((await this.call(() => this.redis.get(this.keys.cursor))) ?? 0);
  }

  async enqueue(deliveries: readonly WebhookDelivery[], through: number): Promise<void> {
    const args: (string | number)[] = [through, this.keys.endpoint];
    for (const d of deliveries) args.push(d.id, JSON.stringify(d), d.nextAttemptAt, d.endpointId, d.seq);
    await this.call(() => this.redis.eval(ENQUEUE, 3, this.keys.records, this.keys.due, this.keys.cursor, ...args));
  }

  async claimDue(now: number, limit: number, leaseMs: number): Promise<WebhookDelivery[]> {
    const claimed = (await this.call(() =>
      this.redis.eval(CLAIM, 2, this.keys.records, this.keys.due, now, limit, now + leaseMs),
    )) as string[];
    return claimed.map((json) => JSON.parse(json) as WebhookDelivery);
  }

  async settle(delivery: WebhookDelivery): Promise<void> {
    const multi = this.redis.multi().hset(this.keys.records, delivery.id, JSON.stringify(delivery));
    if (delivery.status === 'pending') multi.zadd(this.keys.due, delivery.nextAttemptAt, delivery.id);
    else multi.zrem(this.keys.due, delivery.id);
    const results = await this.call(() => multi.exec());
    const failed = results?.find(([err]) => err);
    if (failed) throw this.unavailable(failed[0]);
  }

  async get(id: string): Promise<WebhookDelivery | undefined> {
    const json = await this.call(() => this.redis.hget(this.keys.records, id));
    return json ? (JSON.parse(json) as WebhookDelivery) : undefined;
  }

  async listForEndpoint(endpointId: string, limit: number): Promise<WebhookDelivery[]> {
    const ids = await this.call(() => this.redis.zrevrange(this.keys.endpoint + endpointId, 0, limit - 1));
    if (ids.length === 0) return [];
    const records = await this.call(() => this.redis.hmget(this.keys.records, ...ids));
    return records.filter((r): r is string => r !== null).map((r) => JSON.parse(r) as WebhookDelivery);
  }

  private async call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw this.unavailable(err);
    }
  }
}
