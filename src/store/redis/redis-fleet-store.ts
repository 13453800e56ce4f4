// Fleet telemetry shared by every node through Redis: one hash per model (field = the observation
// key, value = JSON), a set of models, a hash of unregistered artifacts, row counts for the caps,
// a hash of claims (HSETNX: the first node to claim a key gets it), and a count per model that
// each merge writing its rows increments (so a node learns which models changed on other nodes). Each write is optimistic (WATCH the keys it reads, MULTI/EXEC, retry on a conflict), so the
// merge rule stays in one place (domain/fleet.ts) and concurrent flushes from several nodes add up.
import { Redis } from 'ioredis';
import {
  artifactKey,
  capRows,
  foldByKey,
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
  claims: string;
  changes: string;
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
      claims: `${p}claims`,
      changes: `${p}changes`,
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
    const byModel = new Map<string, FleetObservation[]>();
    for (const o of batch) {
      const rows = byModel.get(o.model);
      if (rows) rows.push(o);
      else byModel.set(o.model, [o]);
    }
    const folded = [...byModel].map(([model, rows]) => [model, foldByKey(rows, observationKey, mergeObservations)] as const);
    return this.optimistic(async () => {
      const r = this.redis;
      await r.watch(this.keys.obsCount, ...[...byModel.keys()].map(this.keys.obs));
      let count = Number((await r.get(this.keys.obsCount)) ?? 0);
      let dropped = 0;
      let created = 0;
      const multi = r.multi();
      for (const [model, rows] of folded) {
        const done = capRows(rows, await this.stored<FleetObservation>(this.keys.obs(model), rows), mergeObservations, count, cap);
        count = done.count;
        dropped += done.dropped;
        created += done.created.length;
        if (done.writes.length > 0) {
          multi.hset(this.keys.obs(model), ...fieldValues(done.writes));
          multi.sadd(this.keys.models, model);
          multi.hincrby(this.keys.changes, model, 1);
        }
      }
      if (created > 0) multi.set(this.keys.obsCount, count);
      const result = await multi.exec();
      return result === null ? null : { dropped, created };
    });
  }

  /** The stored rows of hash `key` for the fields of `rows` (read inside a WATCH). */
  private async stored<T>(key: string, rows: ReadonlyMap<string, unknown>): Promise<(field: string) => T | undefined> {
    const fields = [...rows.keys()];
    const texts = fields.length > 0 ? await this.redis.hmget(key, ...fields) : [];
    const byField = new Map(fields.map((field, i) => [field, texts[i]]));
    return (field) => {
      const text = byField.get(field);
      return text ? (JSON.parse(text) as T) : undefined;
    };
  }

  async observations(model: string): Promise<FleetObservation[]> {
    const rows = await this.redis.hvals(this.keys.obs(model));
    return rows.map((text) => JSON.parse(text) as FleetObservation);
  }

  async models(): Promise<string[]> {
    return (await this.redis.smembers(this.keys.models)).sort();
  }

  async changeCounts(): Promise<Map<string, number>> {
    const counts = await this.redis.hgetall(this.keys.changes);
    return new Map(Object.entries(counts).map(([model, count]) => [model, Number(count)]));
  }

  mergeArtifacts(batch: readonly UnregisteredArtifact[], cap: number): Promise<{ dropped: number; created: UnregisteredArtifact[] }> {
    const rows = foldByKey(batch, artifactKey, mergeArtifacts);
    return this.optimistic(async () => {
      const r = this.redis;
      await r.watch(this.keys.artifactCount, this.keys.artifacts);
      const count = Number((await r.get(this.keys.artifactCount)) ?? 0);
      const done = capRows(rows, await this.stored<UnregisteredArtifact>(this.keys.artifacts, rows), mergeArtifacts, count, cap);
      const multi = r.multi();
      if (done.writes.length > 0) multi.hset(this.keys.artifacts, ...fieldValues(done.writes));
      if (done.created.length > 0) multi.set(this.keys.artifactCount, done.count);
      const result = await multi.exec();
      return result === null ? null : { dropped: done.dropped, created: done.created };
    });
  }

  async unregistered(): Promise<UnregisteredArtifact[]> {
    return (await this.redis.hvals(this.keys.artifacts)).map((text) => JSON.parse(text) as UnregisteredArtifact);
  }

  async claim(key: string, at: number): Promise<boolean> {
    return (await this.redis.hsetnx(this.keys.claims, key, JSON.stringify({ lastSeen: at }))) === 1;
  }

  async prune(before: number): Promise<number> {
    let removed = 0;
    for (const model of await this.models()) {
      removed += await this.pruneHash(this.keys.obs(model), this.keys.obsCount, before, model);
    }
    removed += await this.pruneHash(this.keys.artifacts, this.keys.artifactCount, before, null);
    await this.pruneHash(this.keys.claims, null, before, null);
    return removed;
  }

  /** Deletes the rows of one hash last seen before `before` (and keeps its row count); a model left with none leaves the set. */
  private pruneHash(key: string, countKey: string | null, before: number, model: string | null): Promise<number> {
    return this.optimistic(async () => {
      const r = this.redis;
      await r.watch(key, ...(countKey === null ? [] : [countKey]));
      const rows = await r.hgetall(key);
      const stale = Object.entries(rows)
        .filter(([, text]) => (JSON.parse(text) as { lastSeen: number }).lastSeen < before)
        .map(([field]) => field);
      const left = Object.keys(rows).length - stale.length;
      const count = countKey === null ? 0 : Number((await r.get(countKey)) ?? 0);
      const multi = r.multi();
      if (stale.length > 0) {
        multi.hdel(key, ...stale);
        if (countKey !== null) multi.set(countKey, Math.max(0, count - stale.length));
      }
      if (model !== null && left === 0) multi.srem(this.keys.models, model).hdel(this.keys.changes, model);
      const result = await multi.exec();
      return result === null ? null : stale.length;
    });
  }

  async close(): Promise<void> {
    await this.queue;
    this.redis.disconnect();
  }
}

/** Rows as HSET's field, value, field, value… arguments. */
function fieldValues(writes: readonly [string, unknown][]): string[] {
  return writes.flatMap(([field, row]) => [field, JSON.stringify(row)]);
}
