// ControlStore shared through Redis by several gateway nodes.
//
// Redis holds the authority: the global sequence, the registry's tables as hashes, and a stream
// with one entry per committed mutation (its writes). Each node keeps an LMDB replica that serves
// every read and is brought up to date by replaying the stream in sequence order.
//
// A commit is optimistic: catch the replica up, WATCH the sequence key, check it still equals the
// replica's, run the pure plan against the replica, then MULTI/EXEC the writes, the new sequence
// and the stream entry. Any other node's commit changes the sequence, so EXEC fails and the plan
// is re-run on fresher state: compare-and-set, gates and duplicate checks hold across nodes.
import { Redis } from 'ioredis';
import { DomainError, unavailable } from '../../domain/errors.js';
import { logger } from '../../log.js';
import type { RegistryReader } from '../../domain/state.js';
import { LmdbState } from '../../index/lmdb-state.js';
import { PlannedStore } from '../planned-store.js';
import type { Batch, Plan } from '../../domain/writes.js';

export interface RedisStoreOptions {
  url: string;
  prefix: string;
  dataDir: string;
  /** How often a node checks, without any notice, whether it is behind (the backstop for lost messages). */
  antiEntropyMs: number;
}

const PAGE = 500;
const MAX_ATTEMPTS = 100;
/** Larger commits (a registration of thousands of files) are not shipped in the notice; replicas read them from the log. */
const MAX_SHIPPED_BATCH_CHARS = 64 * 1024;

export class RedisControlStore extends PlannedStore {
  protected readonly state: LmdbState;
  private readonly keys: { seq: string; log: string; settings: string; table: (t: string) => string };
  private readonly settings = new Map<string, unknown>();
  private queue: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout | null = null;
  /** Set when Redis is behind this replica (it lost acknowledged writes): writes stop until an operator acts. */
  private diverged: string | null = null;

  private constructor(
    private readonly cmd: Redis,
    private readonly tx: Redis,
    options: RedisStoreOptions,
  ) {
    super();
    this.state = new LmdbState(options.dataDir);
    const p = options.prefix;
    this.keys = { seq: `${p}seq`, log: `${p}log`, settings: `${p}settings`, table: (t) => `${p}t:${t}` };
  }

  static async open(options: RedisStoreOptions): Promise<RedisControlStore> {
    const common = {
      lazyConnect: true,
      // Fail fast while Redis is away: writes answer 503 at once and reads never touch Redis.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: 3000,
      retryStrategy: (n: number) => Math.min(50 * n, 1000),
    };
    const cmd = new Redis(options.url, { ...common, connectionName: 'modelgate-cmd' });
    const tx = new Redis(options.url, { ...common, connectionName: 'modelgate-tx' });
    cmd.on('error', (err) => logger.debug({ err: err.message }, 'redis command connection error'));
    tx.on('error', (err) => logger.debug({ err: err.message }, 'redis transaction connection error'));
    const store = new RedisControlStore(cmd, tx, options);
    await Promise.all([cmd.connect().catch(() => undefined), tx.connect().catch(() => undefined)]);
    try {
      await store.checkPersistence();
      await store.loadSettings();
      await store.sync();
    } catch (err) {
      logger.warn(
        { err: (err as Error).message },
        'redis unreachable at start: serving reads from the local replica, retrying in the background',
      );
    }
    store.timer = setInterval(() => {
      store.sync().catch((err: unknown) => logger.debug({ err: (err as Error).message }, 'anti-entropy pass failed'));
    }, options.antiEntropyMs);
    store.timer.unref();
    return store;
  }

  /**
   * Brings the replica up to the authority's sequence. `seq` (from a notice) skips a needless
   * round trip; `replication` (the notice's copy of the log entry) is applied directly when it is
   * the next entry, with no round trip at all. Anything else reads the log. The audit-head check
   * that detects a Redis which lost writes runs on the next commit and anti-entropy pass.
   */
  override sync(seq?: number, replication?: string): Promise<void> {
    if (seq !== undefined && seq <= this.state.currentSeq()) return Promise.resolve();
    return this.exclusive(async () => {
      const shipped = replication === undefined ? null : parseShippedBatch(replication, seq);
      if (shipped && !this.diverged) {
        if (shipped.seq <= this.state.currentSeq()) return;
        if (shipped.seq === this.state.currentSeq() + 1) {
          await this.applyLocal([shipped]);
          return;
        }
      }
      await this.catchUp();
    });
  }

  protected commit<R>(plan: (state: RegistryReader) => Plan<R>): Promise<Plan<R>> {
    return this.exclusive(async () => {
      for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
        try {
          await this.catchUp();
          if (this.diverged) throw unavailable('CONTROL_PLANE_DIVERGED', this.diverged);
          await this.tx.watch(this.keys.seq);
          const authority = Number((await this.tx.get(this.keys.seq)) ?? 0);
          if (authority !== this.state.currentSeq()) {
            await this.tx.unwatch();
            continue;
          }
          let planned: Plan<R>;
          try {
            planned = plan(this.state);
          } catch (err) {
            await this.tx.unwatch().catch(() => undefined);
            throw new PlanRefused(err);
          }
          if (planned.writes.length === 0) {
            await this.tx.unwatch();
            return planned;
          }
          const batch: Batch = { seq: authority + 1, writes: planned.writes, ...(planned.change ? { change: planned.change } : {}) };
          const multi = this.tx.multi();
          multi.set(this.keys.seq, batch.seq);
          for (const w of batch.writes) {
            const field = JSON.stringify(w.key);
            if (w.value === undefined) multi.hdel(this.keys.table(w.table), field);
            else multi.hset(this.keys.table(w.table), field, JSON.stringify(w.value));
          }
          const entry = JSON.stringify(batch);
          multi.xadd(this.keys.log, `${batch.seq}-1`, 'b', entry);
          const results = await multi.exec();
          if (results === null) continue;
          const failed = results.find(([err]) => err);
          if (failed) throw failed[0];
          // Redis holds it now: tell the other nodes before applying it here.
          if (batch.change)
            this.announce({ change: batch.change, ...(entry.length <= MAX_SHIPPED_BATCH_CHARS ? { replication: entry } : {}) });
          await this.applyLocal([batch]);
          return planned;
        } catch (err) {
          // The plan's own verdict (a 409, a gate, or a bug) is passed on as it is; only a failure
          // to talk to Redis becomes CONTROL_PLANE_UNAVAILABLE (the edge answers it with a 503).
          if (err instanceof PlanRefused) throw err.cause;
          if (err instanceof DomainError) throw err;
          throw unreachable(err);
        }
      }
      throw unavailable('CONTROL_PLANE_CONTENDED', `gave up after ${MAX_ATTEMPTS} conflicting attempts; retry`);
    });
  }

  getSetting(key: string): unknown {
    return this.settings.get(key);
  }

  /** Cluster-wide settings (the bootstrap admin token hash): the first node to set one wins. */
  async putSetting(key: string, value: unknown): Promise<void> {
    try {
      await this.cmd.hsetnx(this.keys.settings, key, JSON.stringify(value));
      await this.loadSettings();
    } catch (err) {
      throw unreachable(err);
    }
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.queue.catch(() => undefined);
    this.cmd.disconnect();
    this.tx.disconnect();
    await this.state.close();
  }

  /** Local upload sessions and the like live beside the replica; they are not shared. */
  openLocalTable<V>(name: string) {
    return this.state.openLocalTable<V>(name);
  }

  private async loadSettings(): Promise<void> {
    const all = await this.cmd.hgetall(this.keys.settings);
    for (const [k, v] of Object.entries(all)) this.settings.set(k, JSON.parse(v));
  }

  /**
   * Replays the log up to the authority's sequence. The sequence is read first: SET seq and XADD
   * are in one MULTI, so the log always holds every entry up to a sequence once it can be read.
   * Then the audit head is compared, which also catches a Redis that lost its last entries and
   * has since reused their sequence numbers.
   */
  private async catchUp(): Promise<void> {
    // The sequence and the audit head at that sequence, read as one snapshot.
    const snapshot = await this.cmd.multi().get(this.keys.seq).hget(this.keys.table('meta'), JSON.stringify('audit-head')).exec();
    if (!snapshot || snapshot.some(([err]) => err)) throw new Error('could not read the sequence from Redis');
    const authority = Number((snapshot[0]![1] as string | null) ?? 0);
    const stored = snapshot[1]![1] as string | null;
    while (this.state.currentSeq() < authority) {
      const from = this.state.currentSeq() + 1;
      const entries = (await this.cmd.xrange(this.keys.log, `${from}-0`, `${authority}-1`, 'COUNT', PAGE)) as [string, string[]][];
      if (entries.length === 0) throw new Error(`the Redis log has no entry ${from} although the sequence is ${authority}`);
      await this.applyLocal(entries.map(([, fields]) => JSON.parse(fields[1]!) as Batch));
    }
    const local = this.state.currentSeq();
    if (authority < local) {
      this.markDiverged(`Redis is at sequence ${authority} but this node has applied ${local}`);
      return;
    }
    const head = stored ? (JSON.parse(stored) as { hash: string }).hash : null;
    if (local > 0 && head !== this.state.auditHead().hash) {
      this.markDiverged(`Redis's audit head at sequence ${authority} differs from this node's`);
      return;
    }
    this.diverged = null;
  }

  private markDiverged(what: string): void {
    this.diverged = `${what}: Redis lost acknowledged writes (check its persistence). Writes are refused until it is restored.`;
    logger.error(this.diverged);
  }

  /** Applies batches in sequence order in one LMDB transaction, then tells listeners. */
  private async applyLocal(batches: Batch[]): Promise<void> {
    const applied = (await this.state.root.transaction(() => {
      const done: Batch[] = [];
      for (const batch of batches) {
        const expected = this.state.currentSeq() + 1;
        if (batch.seq < expected) continue;
        if (batch.seq > expected) break;
        this.state.apply(batch.writes);
        done.push(batch);
      }
      return done;
    })) as Batch[];
    const first = batches[0];
    if (first && applied.length === 0 && first.seq > this.state.currentSeq() + 1) {
      throw new Error(`replication gap: the next log entry is ${first.seq} but the replica is at ${this.state.currentSeq()}`);
    }
    for (const batch of applied) if (batch.change) this.emit(batch.change);
  }

  private async checkPersistence(): Promise<void> {
    try {
      const [, appendonly] = (await this.cmd.config('GET', 'appendonly')) as string[];
      const [, appendfsync] = (await this.cmd.config('GET', 'appendfsync')) as string[];
      if (appendonly !== 'yes' || appendfsync !== 'always') {
        logger.warn(
          { appendonly, appendfsync },
          'Redis may lose acknowledged writes: run it with appendonly yes and appendfsync always (or replicas and WAIT); see README "Running several nodes"',
        );
      }
    } catch (err) {
      logger.warn(
        { err: (err as Error).message },
        'could not read the Redis persistence settings (CONFIG GET refused?); make sure acknowledged writes are durable',
      );
    }
  }

  /** One replica operation at a time on this node: commits and catch-ups never interleave. */
  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work, work);
    this.queue = run.catch(() => undefined);
    return run;
  }
}

/** A log entry shipped in a notice, or null when it is not one (then the log is read instead). */
function parseShippedBatch(replication: string, seq: number | undefined): Batch | null {
  try {
    const batch = JSON.parse(replication) as Batch;
    if (!Number.isSafeInteger(batch.seq) || !Array.isArray(batch.writes) || (seq !== undefined && batch.seq !== seq)) return null;
    return batch;
  } catch {
    return null;
  }
}

/** Marks an error thrown by a plan, as opposed to one from Redis. */
class PlanRefused extends Error {
  constructor(override readonly cause: unknown) {
    super('plan refused');
  }
}

function unreachable(err: unknown): DomainError {
  return unavailable(
    'CONTROL_PLANE_UNAVAILABLE',
    `the shared control plane (Redis) is unreachable, so writes are refused; reads continue from this node's replica (${(err as Error).message})`,
  );
}
