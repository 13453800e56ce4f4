// Fleet telemetry shared by every node through Redis: one hash per model (field = the observation
// key, value = JSON), a set of models, a hash of unregistered artifacts, and row counts for the
// caps. Each write is optimistic (WATCH the keys it reads, MULTI/EXEC, retry on a conflict), so the
// merge rule stays in one place (domain/fleet.ts) and concurrent flushes from several nodes add up.
import { Redis } from 'ioredis';
import {
  artifactKey,
  mergeArtifacts,
  mergeObservations,
  observationKey,
  type FleetObservation,
  type UnregisteredArtifact,
} from '../../domain/fleet.js';
import { logger } from '../../log.js';
import type { FleetStore, MergeResult } from '../fleet-store.js';

const MAX_ATTEMPTS = 50;

export interface RedisFleetStoreOptions {
  url: string;
  prefix: string;
}

interface Keys {
  models: string;
  obs: (model: string) => string;
  obsCount: string;
  artifacts: string;
  artifactCount: string;
}

export class RedisFleetStore implements FleetStore {
  private readonly keys: Keys;
  /** One transaction at a time on the connection: WATCH belongs to the connection. */
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly redis: Redis,
    prefix: string,
  ) {
    const p = `${prefix}fleet:`;
    this.keys = {
      models: `${p}models`,
      obs: (model) => `${p}obs:${model}`,
      obsCount: `${p}obs-count`,
      artifacts: `${p}unregistered`,
      artifactCount: `${p}unregistered-count`,
    };
  }

  static async open(options: RedisFleetStoreOptions): Promise<RedisFleetStore> {
    const redis = new Redis(options.url, {
      lazyConnect: true,
      // Telemetry waits for nobody: a flush while Redis is away fails at once and is dropped.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: 3000,
      retryStrategy: (n: number) => Math.min(50 * n, 1000),
      connectionName: 'modelgate-fleet',
    });
    redis.on('error', (err) => logger.debug({ err: err.message }, 'redis fleet connection error'));
    await redis.connect().catch(() => undefined);
    return new RedisFleetStore(redis, options.prefix);
  }

  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work, work);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Runs `attempt` (which WATCHes what it reads and returns its EXEC result) until it commits. */
  private async optimistic<T>(attempt: () => Promise<T | null>): Promise<T> {
    return this.exclusive(async () => {
      for (let i = 0; i < MAX_ATTEMPTS; i++) {
        const done = await attempt();
        if (done !== null) return done;
      }
      throw new Error(`fleet write kept conflicting with other nodes' writes (${MAX_ATTEMPTS} attempts)`);
    });
  }

  mergeObservations(batch: readonly FleetObservation[], cap: number): Promise<MergeResult> {
    const byModel = new Map<string, Map<string, FleetObservation>>();
    for (const o of batch) {
      let rows = byModel.get(o.model);
      if (!rows) byModel.set(o.model, (rows = new Map()));
      const key = observationKey(o);
      const earlier = rows.get(key);
      rows.set(key, earlier ? mergeObservations(earlier, o) : o);
    }
    return this.optimistic(async () => {
      const r = this.redis;
      await r.watch(this.keys.obsCount, ...[...byModel.keys()].map(this.keys.obs));
      let count = Number((await r.get(this.keys.obsCount)) ?? 0);
      let dropped = 0;
      let created = 0;
      const multi = r.multi();
      for (const [model, rows] of byModel) {
        const fields = [...rows.keys()];
        const stored = await r.hmget(this.keys.obs(model), ...fields);
        const writes: string[] = [];
        fields.forEach((field, i) => {
          const text = stored[i];
          const incoming = rows.get(field)!;
          if (text) writes.push(field, JSON.stringify(mergeObservations(JSON.parse(text) as FleetObservation, incoming)));
          else if (count < cap) {
            writes.push(field, JSON.stringify(incoming));
            count++;
            created++;
          } else dropped++;
        });
        if (writes.length > 0) {
          multi.hset(this.keys.obs(model), ...writes);
          multi.sadd(this.keys.models, model);
        }
      }
      if (created > 0) multi.set(this.keys.obsCount, count);
      const result = await multi.exec();
      return result === null ? null : { dropped, created };
    });
  }

  async observations(model: string): Promise<FleetObservation[]> {
    const rows = await this.redis.hvals(this.keys.obs(model));
    return rows.map((text) => JSON.parse(text) as FleetObservation);
  }

  async models(): Promise<string[]> {
    return (await this.redis.smembers(this.keys.models)).sort();
  }

  mergeArtifacts(batch: readonly UnregisteredArtifact[], cap: number): Promise<{ dropped: number; created: UnregisteredArtifact[] }> {
    const rows = new Map<string, UnregisteredArtifact>();
    for (const a of batch) {
      const key = artifactKey(a);
      const earlier = rows.get(key);
      rows.set(key, earlier ? mergeArtifacts(earlier, a) : a);
    }
    const fields = [...rows.keys()];
    return this.optimistic(async () => {
      const r = this.redis;
      await r.watch(this.keys.artifactCount, this.keys.artifacts);
      let count = Number((await r.get(this.keys.artifactCount)) ?? 0);
      const stored = fields.length > 0 ? await r.hmget(this.keys.artifacts, ...fields) : [];
      let dropped = 0;
      const created: UnregisteredArtifact[] = [];
      const writes: string[] = [];
      fields.forEach((field, i) => {
        const text = stored[i];
        const incoming = rows.get(field)!;
        if (text) writes.push(field, JSON.stringify(mergeArtifacts(JSON.parse(text) as UnregisteredArtifact, incoming)));
        else if (count < cap) {
          writes.push(field, JSON.stringify(incoming));
          count++;
          created.push(incoming);
        } else dropped++;
      });
      const multi = r.multi();
      if (writes.length > 0) multi.hset(this.keys.artifacts, ...writes);
      if (created.length > 0) multi.set(this.keys.artifactCount, count);
      const result = await multi.exec();
      return result === null ? null : { dropped, created };
    });
  }

  async unregistered(): Promise<UnregisteredArtifact[]> {
    return (await this.redis.hvals(this.keys.artifacts)).map((text) => JSON.parse(text) as UnregisteredArtifact);
  }

  async prune(before: number): Promise<number> {
    let removed = 0;
    for (const model of await this.models()) {
      removed += await this.pruneHash(this.keys.obs(model), this.keys.obsCount, before, model);
    }
    removed += await this.pruneHash(this.keys.artifacts, this.keys.artifactCount, before, null);
    return removed;
  }

  /** Deletes the rows of one hash last seen before `before`; a model left with none leaves the set. */
  private pruneHash(key: string, countKey: string, before: number, model: string | null): Promise<number> {
    return this.optimistic(async () => {
      const r = this.redis;
      await r.watch(key, countKey);
      const rows = await r.hgetall(key);
      const stale = Object.entries(rows)
        .filter(([, text]) => (JSON.parse(text) as { lastSeen: number }).lastSeen < before)
        .map(([field]) => field);
      const left = Object.keys(rows).length - stale.length;
      const count = Number((await r.get(countKey)) ?? 0);
      const multi = r.multi();
      if (stale.length > 0) {
        multi.hdel(key, ...stale);
        multi.set(countKey, Math.max(0, count - stale.length));
      }
      if (model !== null && left === 0) multi.srem(this.keys.models, model);
      const result = await multi.exec();
      return result === null ? null : stale.length;
    });
  }

  async close(): Promise<void> {
    await this.queue;
    this.redis.disconnect();
  }
}
