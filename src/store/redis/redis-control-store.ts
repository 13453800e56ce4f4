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
//
// Before a node applies anything from Redis it checks that Redis's history contains its own (the
// audit hash at the node's sequence is the node's head); a node whose history is not a prefix of
// Redis's refuses to follow and refuses writes. Each node reports itself in a heartbeat (id,
// address, applied sequence, head), and an operator can rebuild a lost or diverged Redis from one
// healthy node's replica (restoreFromReplica). The log then starts after the restored sequence
// (`log-floor`); a node further behind than that copies the tables instead of replaying.
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { conflict, DomainError, unavailable } from '../../domain/errors.js';
import { GENESIS_HASH } from '../../domain/audit-chain.js';
import { logger } from '../../log.js';
import { trace } from '../../trace.js';
import type { RegistryReader } from '../../domain/state.js';
import { LmdbState } from '../../index/lmdb-state.js';
import { PlannedStore } from '../planned-store.js';
import { TABLES, type Batch, type Key, type Plan, type Table } from '../../domain/writes.js';
import type { Actor, AuditEntry, ControlPlaneRestore, ControlPlaneStatus, NodeReport } from '../../domain/types.js';
import { RedisDeliveryQueue } from './redis-delivery-queue.js';
import { RedisSharedTable } from './redis-shared-table.js';
import { markReplicaFlushed, prepareUnflushedReplica } from './unflushed-replica.js';

export interface RedisStoreOptions {
  url: string;
  prefix: string;
  dataDir: string;
  /** How often a node checks, without any notice, whether it is behind (the backstop for lost messages). */
  antiEntropyMs: number;
  /** A node silent this long is dropped from the node list (default one hour). */
  nodeExpiryMs?: number;
  /**
   * The pub/sub channel of the change notices (the event bus's, see events/redis-bus.ts). When set,
   * each commit PUBLISHes its notice inside its own MULTI/EXEC instead of telling its commit
   * listeners: Redis sends it to the other nodes when the transaction commits (after the AOF
   * fsync, with the reply), one round trip sooner than a PUBLISH sent after EXEC's reply, and
   * never for a transaction that lost the race.
   */
  noticeChannel?: string;
}

const PAGE = 500;
const MAX_ATTEMPTS = 100;

/**
 * After losing a race for the sequence, wait a random 0 to min(attempt + 1, 8) ms before trying
 * again. Retrying at once can fall into step with a node that commits back to back (each of its
 * commits landing between this node's WATCH and EXEC), and then this node loses every attempt
 * and answers 503 CONTROL_PLANE_CONTENDED although Redis is up; a random pause breaks the step.
 */
function backoffAfterConflict(attempt: number): Promise<void> {
  return sleep(Math.random() * Math.min(attempt + 1, 8));
}
/** Larger commits (a registration of thousands of files) are not shipped in the notice; replicas read them from the log. */
const MAX_SHIPPED_BATCH_CHARS = 64 * 1024;
/** A node not heard from for this many anti-entropy periods (and at least 10 s) is shown as not live. */
const LIVE_PERIODS = 5;
/** Table rows written per HSET when restoring. */
const RESTORE_CHUNK = 500;

/** A node's heartbeat as stored in the control store. */
interface Heartbeat {
  id: string;
  address: string;
  appliedSeq: number;
  headHash: string;
  diverged: string | null;
  at: number;
}

export class RedisControlStore extends PlannedStore {
  protected readonly state: LmdbState;
  private readonly keys: {
    seq: string;
    log: string;
    settings: string;
    nodes: string;
    floor: string;
    prefix: string;
    table: (t: string) => string;
  };
  private readonly antiEntropyMs: number;
  private readonly nodeExpiryMs: number;
  /** This node in the heartbeat: a stable id kept beside the replica, and its address once listening. */
  private node: { id: string; address: string } | null = null;
  private readonly settings = new Map<string, unknown>();
  private readonly deliveries: RedisDeliveryQueue;
  private queue: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout | null = null;
  /** Set when Redis is behind this replica (it lost acknowledged writes): writes stop until an operator acts. */
  private diverged: string | null = null;
  /** Who holds a lease this node took (for an operator reading Redis). */
  private readonly holder = randomUUID();
  private readonly dataDir: string;
  private readonly noticeChannel: string | undefined;

  private constructor(
    private readonly cmd: Redis,
    private readonly tx: Redis,
    options: RedisStoreOptions,
    /** The replica is written without fsync (see unflushed-replica.ts), so it is written on the event loop. */
    private readonly unflushed: boolean,
  ) {
    super();
    this.dataDir = options.dataDir;
    this.noticeChannel = options.noticeChannel;
    this.state = new LmdbState(options.dataDir, { flush: !unflushed });
    const p = options.prefix;
    this.keys = {
      seq: `${p}seq`,
      log: `${p}log`,
      settings: `${p}settings`,
      nodes: `${p}nodes`,
      floor: `${p}log-floor`,
      prefix: p,
      table: (t) => `${p}t:${t}`,
    };
    this.antiEntropyMs = options.antiEntropyMs;
    this.nodeExpiryMs = Math.max(options.nodeExpiryMs ?? 3_600_000, this.liveWithinMs());
    this.deliveries = new RedisDeliveryQueue(cmd, p, unreachable);
  }

  deliveryQueue(): RedisDeliveryQueue {
    return this.deliveries;
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
    const store = new RedisControlStore(cmd, tx, options, prepareUnflushedReplica(options.dataDir));
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
      store
        .sync()
        .catch((err: unknown) => logger.debug({ err: (err as Error).message }, 'anti-entropy pass failed'))
        .then(() => store.heartbeat());
    }, options.antiEntropyMs);
    store.timer.unref();
    return store;
  }

  /**
   * Brings the replica up to the authority's sequence. `seq` (from a notice) skips a needless
   * round trip; `replication` (the notice's copy of the log entry) is applied directly when it is
   * the next entry, with no round trip at all. Anything else reads the log. The audit-head check
   * that detects a Redis which lost writes runs on the next commit and anti-entropy pass.
   *
   * The entry travels as an object inside the notice's JSON, parsed once with it; nodes before
   * that sent it as JSON text inside the JSON, which is still read. During a rolling upgrade an
   * older node cannot read the object (its JSON.parse of a non-string fails) and reads the entry
   * from the log instead: correct, one XRANGE slower, until every node runs this version.
   */
  override sync(seq?: number, replication?: unknown): Promise<void> {
    if (seq !== undefined && seq <= this.state.currentSeq()) return Promise.resolve();
    return this.exclusive(async () => {
      if (seq !== undefined) trace('replica.started', seq);
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
    trace('commit.queued');
    return this.exclusive(async () => {
      trace('commit.started');
      for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
        try {
          // The notices keep this replica current, so a first attempt first asks whether it is
          // (one round trip, which leaves the sequence watched); else the replica catches up.
          if (attempt > 0 || this.diverged || !(await this.watchIfCurrent())) {
            await this.catchUp();
            if (this.diverged) throw unavailable('CONTROL_PLANE_DIVERGED', this.diverged);
            // WATCH and GET in one round trip: the GET runs after the WATCH on this connection.
            const watched = await this.tx.pipeline().watch(this.keys.seq).get(this.keys.seq).exec();
            const refused = watched?.find(([err]) => err);
            if (!watched || refused) throw refused?.[0] ?? new Error('could not watch the sequence in Redis');
            const authority = Number((watched[1]![1] as string | null) ?? 0);
            if (authority !== this.state.currentSeq()) {
              await this.tx.unwatch();
              await backoffAfterConflict(attempt);
              continue;
            }
          }
          const authority = this.state.currentSeq();
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
          const shipped = entry.length <= MAX_SHIPPED_BATCH_CHARS;
          // The notice's JSON, { change, replication }, with the log entry's text spliced in rather than encoded again.
          if (batch.change && this.noticeChannel)
            multi.publish(this.noticeChannel, `{"change":${JSON.stringify(batch.change)}${shipped ? `,"replication":${entry}` : ''}}`);
          const results = await multi.exec();
          if (results === null) {
            await backoffAfterConflict(attempt);
            continue;
          }
          const failed = results.find(([err]) => err);
          if (failed) throw failed[0];
          trace('commit.exec', batch.seq);
          // Redis holds it now: tell the other nodes (unless the transaction did) before applying it here.
          if (batch.change && !this.noticeChannel) this.announce({ change: batch.change, ...(shipped ? { replication: batch } : {}) });
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

  /**
   * WATCHes the sequence and reads it with the audit head, in one round trip on the transaction
   * connection. True (the sequence left watched) when Redis is at this replica's sequence with
   * this replica's audit head: the head's hash chains the whole history, so that is every check
   * catchUp would make, passed, with nothing to apply. Otherwise (behind, or the reads straddled
   * another node's commit, since a pipeline is not atomic) it unwatches and returns false, and
   * the caller catches up from one atomic snapshot; a commit after the WATCH fails the EXEC.
   */
  private async watchIfCurrent(): Promise<boolean> {
    const read = await this.tx
      .pipeline()
      .watch(this.keys.seq)
      .get(this.keys.seq)
      .hget(this.keys.table('meta'), JSON.stringify('audit-head'))
      .exec();
    const refused = read?.find(([err]) => err);
    if (!read || refused) throw refused?.[0] ?? new Error('could not watch the sequence in Redis');
    const local = this.state.auditHead();
    const stored = read[2]![1] as string | null;
    if (
      local.seq > 0 &&
      Number((read[1]![1] as string | null) ?? 0) === local.seq &&
      local.seq === this.state.currentSeq() &&
      stored !== null &&
      (JSON.parse(stored) as { hash: string }).hash === local.hash
    )
      return true;
    await this.tx.unwatch();
    return false;
  }

  getSetting(key: string): unknown {
    return this.settings.get(key);
  }

  /** SET NX PX: the first node to ask holds it until it expires; Redis's clock, not the nodes', times it. */
  async acquireLease(name: string, ttlMs: number): Promise<boolean> {
    try {
      return (await this.cmd.set(`${this.keys.prefix}lease:${name}`, this.holder, 'PX', ttlMs, 'NX')) === 'OK';
    } catch (err) {
      throw unreachable(err);
    }
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
    // A node that stops cleanly leaves the status; one that crashes shows as not live.
    if (this.node) await this.cmd.hdel(this.keys.nodes, this.node.id).catch(() => undefined);
    this.cmd.disconnect();
    this.tx.disconnect();
    await this.state.close();
    if (this.unflushed) markReplicaFlushed(this.dataDir);
  }

  /** Local upload sessions and the like live beside the replica; they are not shared. */
  openLocalTable<V>(name: string) {
    return this.state.openLocalTable<V>(name);
  }

  /** Outside the audited state and the log: rows every node reads and swaps in Redis directly. */
  sharedTable<V>(name: string): RedisSharedTable<V> {
    return new RedisSharedTable<V>(this.cmd, `${this.keys.prefix}shared:${name}`, unreachable);
  }

  private async loadSettings(): Promise<void> {
    const all = await this.cmd.hgetall(this.keys.settings);
    for (const [k, v] of Object.entries(all)) this.settings.set(k, JSON.parse(v));
  }

  /**
   * Replays the log up to the authority's sequence. The sequence is read first: SET seq and XADD
   * are in one MULTI, so the log always holds every entry up to a sequence once it can be read.
   * Nothing is applied unless the authority's history contains this node's (its audit hash at
   * this node's sequence is this node's head). Then the audit head is compared, which also
   * catches a Redis that lost its last entries and has since reused their sequence numbers.
   */
  private async catchUp(): Promise<void> {
    const before = this.state.currentSeq();
    // The sequence, the audit head at that sequence, the log floor and the authority's audit
    // entry at this node's sequence, read as one snapshot.
    const snapshot = await this.cmd
      .multi()
      .get(this.keys.seq)
      .hget(this.keys.table('meta'), JSON.stringify('audit-head'))
      .get(this.keys.floor)
      .hget(this.keys.table('audit'), JSON.stringify(before))
      .exec();
    if (!snapshot || snapshot.some(([err]) => err)) throw new Error('could not read the sequence from Redis');
    const authority = Number((snapshot[0]![1] as string | null) ?? 0);
    const stored = snapshot[1]![1] as string | null;
    const floor = Number((snapshot[2]![1] as string | null) ?? 0);
    if (before > 0 && authority >= before) {
      const theirs = snapshot[3]![1] as string | null;
      const hash = theirs ? (JSON.parse(theirs) as AuditEntry).hash : null;
      if (hash !== this.state.auditHead().hash) {
        this.markDiverged(
          `this node's history is not a prefix of the control plane's: at sequence ${before} Redis holds ${hash ? `audit hash ${hash.slice(0, 12)}…` : 'no entry'} and this node ${this.state.auditHead().hash.slice(0, 12)}…, so it refuses to follow`,
        );
        return;
      }
    }
    // The log starts after a restore's sequence: a node further behind copies the tables.
    if (before < floor && authority > before) await this.reseed();
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

  /**
   * Replaces the replica with a copy of the authority's tables, read in one MULTI (so at one
   * sequence), for a node that is behind the start of the log; then tells listeners that every
   * model may have changed.
   */
  private async reseed(): Promise<void> {
    const multi = this.cmd.multi().get(this.keys.seq);
    for (const table of TABLES) multi.hgetall(this.keys.table(table));
    const results = await multi.exec();
    if (!results || results.some(([err]) => err)) throw new Error('could not read the control plane tables from Redis');
    const rows = new Map<Table, { key: Key; value: unknown }[]>();
    TABLES.forEach((table, i) => {
      const all = results[i + 1]![1] as Record<string, string>;
      rows.set(
        table,
        Object.entries(all).map(([k, v]) => ({ key: JSON.parse(k) as Key, value: JSON.parse(v) as unknown })),
      );
    });
    await this.state.transaction(() => this.state.replaceTables(rows));
    const seq = this.state.currentSeq();
    logger.warn({ seq }, 'replica re-seeded from the control plane tables (it was behind the start of the restored log)');
    for (const { value } of rows.get('models') ?? []) this.emit({ seq, model: (value as { name: string }).name, kind: 'model' });
    this.emit({ seq, model: '', kind: 'token' });
  }

  /** Adds this node to the heartbeat (see Heartbeat); its id survives restarts. */
  registerNode(address: string): void {
    let id = this.state.getLocal('node-id') as string | undefined;
    if (!id) {
      id = randomUUID();
      void this.state.putLocal('node-id', id);
    }
    this.node = { id, address };
    void this.heartbeat();
  }

  private async heartbeat(): Promise<void> {
    if (!this.node) return;
    const head = this.state.auditHead();
    const beat: Heartbeat = { ...this.node, appliedSeq: head.seq, headHash: head.hash, diverged: this.diverged, at: Date.now() };
    await this.cmd.hset(this.keys.nodes, this.node.id, JSON.stringify(beat)).catch(() => undefined);
  }

  async controlPlaneStatus(): Promise<ControlPlaneStatus> {
    await this.heartbeat();
    let authority: ControlPlaneStatus['authority'] = null;
    let beats: Heartbeat[] = [];
    let floor = 0;
    let theirHashes: (string | null)[] = [];
    try {
      const snapshot = await this.cmd
        .multi()
        .get(this.keys.seq)
        .hget(this.keys.table('meta'), JSON.stringify('audit-head'))
        .get(this.keys.floor)
        .hgetall(this.keys.nodes)
        .exec();
      if (!snapshot || snapshot.some(([err]) => err)) throw new Error('could not read the control plane status from Redis');
      const seq = Number((snapshot[0]![1] as string | null) ?? 0);
      const head = snapshot[1]![1] as string | null;
      authority = { seq, headHash: head ? (JSON.parse(head) as { hash: string }).hash : GENESIS_HASH };
      floor = Number((snapshot[2]![1] as string | null) ?? 0);
      beats = await this.dropExpired(snapshot[3]![1] as Record<string, string>);
      // The authority's audit hash at each node's sequence: a node agrees when that is its head.
      const fields = beats.map((b) => JSON.stringify(b.appliedSeq));
      theirHashes = fields.length
        ? ((await this.cmd.hmget(this.keys.table('audit'), ...fields)) as (string | null)[]).map((v) =>
            v ? (JSON.parse(v) as AuditEntry).hash : null,
          )
        : [];
    } catch (err) {
      // Unreachable: this node can still say where it stands.
      const head = this.state.auditHead();
      beats = this.node ? [{ ...this.node, appliedSeq: head.seq, headHash: head.hash, diverged: this.diverged, at: Date.now() }] : [];
      theirHashes = beats.map(() => null);
      return {
        backend: 'redis',
        authority: null,
        restoredAt: 0,
        nodes: beats.map((b) => report(b, null, null, this.liveWithinMs())),
        agree: false,
        unreachable: (err as Error).message,
      };
    }
    const nodes = beats
      .map((b, i) => report(b, authority, b.appliedSeq === 0 ? GENESIS_HASH : (theirHashes[i] ?? null), this.liveWithinMs()))
      .sort((a, b) => a.address.localeCompare(b.address));
    const live = nodes.filter((n) => n.live);
    return {
      backend: 'redis',
      authority,
      restoredAt: floor,
      nodes,
      agree: live.length > 0 && live.every((n) => n.agrees && n.diverged === null && n.headHash === live[0]!.headHash),
    };
  }

  /**
   * The heartbeats still worth showing. A crashed node never removes its own (a clean stop does):
   * one silent longer than the expiry is deleted, unless it beat again since it was read (the
   * compare-and-delete runs in Redis, so a node that comes back is never dropped).
   */
  private async dropExpired(raw: Record<string, string>): Promise<Heartbeat[]> {
    const kept: Heartbeat[] = [];
    for (const [id, value] of Object.entries(raw)) {
      const beat = JSON.parse(value) as Heartbeat;
      if (Date.now() - beat.at <= this.nodeExpiryMs) {
        kept.push(beat);
        continue;
      }
      await this.cmd.eval(DELETE_IF_UNCHANGED, 1, this.keys.nodes, id, value);
      logger.info(
        { node: id, address: beat.address, lastHeartbeat: new Date(beat.at).toISOString() },
        'dropped a node silent past its expiry',
      );
    }
    return kept;
  }

  private liveWithinMs(): number {
    return Math.max(10_000, LIVE_PERIODS * this.antiEntropyMs);
  }

  /**
   * Rebuilds Redis from this replica: every table, the settings this node holds, the sequence,
   * and an empty log that starts after it (`log-floor`), in one MULTI; then the restore itself is
   * committed as the next audit entry, so every node replays it. Refused while Redis holds
   * everything this replica has (nothing was lost, and a restore would drop newer writes).
   */
  async restoreFromReplica(actor: Actor): Promise<ControlPlaneRestore> {
    const restored = await this.exclusive(async () => {
      const local = this.state.auditHead();
      let previous: ControlPlaneRestore['previous'];
      try {
        const snapshot = await this.cmd
          .multi()
          .get(this.keys.seq)
          .hget(this.keys.table('meta'), JSON.stringify('audit-head'))
          .hget(this.keys.table('audit'), JSON.stringify(local.seq))
          .exec();
        if (!snapshot || snapshot.some(([err]) => err)) throw new Error('could not read the sequence from Redis');
        const seq = Number((snapshot[0]![1] as string | null) ?? 0);
        const head = snapshot[1]![1] as string | null;
        const atLocal = snapshot[2]![1] as string | null;
        previous = seq === 0 && !head ? null : { seq, headHash: head ? (JSON.parse(head) as { hash: string }).hash : null };
        const holdsOurs = local.seq === 0 || (atLocal !== null && (JSON.parse(atLocal) as AuditEntry).hash === local.hash);
        if (seq >= local.seq && holdsOurs) {
          throw conflict(
            'CONTROL_PLANE_HEALTHY',
            `Redis is at sequence ${seq} and holds this node's history up to ${local.seq}: there is nothing to restore (a restore would drop newer writes)`,
          );
        }
      } catch (err) {
        if (err instanceof DomainError) throw err;
        throw unreachable(err);
      }
      const rows: Record<string, number> = {};
      const multi = this.tx.multi();
      multi.del(this.keys.log, this.keys.floor, this.keys.seq, ...TABLES.map((t) => this.keys.table(t)));
      for (const table of TABLES) {
        let chunk: string[] = [];
        rows[table] = 0;
        for (const { key, value } of this.state.tableRows(table)) {
          chunk.push(JSON.stringify(key), JSON.stringify(value));
          rows[table]++;
          if (chunk.length >= RESTORE_CHUNK * 2) {
            multi.hset(this.keys.table(table), ...chunk);
            chunk = [];
          }
        }
        if (chunk.length > 0) multi.hset(this.keys.table(table), ...chunk);
      }
      for (const [key, value] of this.settings) multi.hsetnx(this.keys.settings, key, JSON.stringify(value));
      multi.set(this.keys.seq, local.seq);
      multi.set(this.keys.floor, local.seq);
      try {
        const results = await multi.exec();
        const failed = results?.find(([err]) => err);
        if (!results || failed) throw failed?.[0] ?? new Error('the restore transaction was discarded');
      } catch (err) {
        throw unreachable(err);
      }
      this.diverged = null;
      logger.warn({ seq: local.seq, previous }, "control plane restored from this node's replica");
      return { restoredSeq: local.seq, headHash: local.hash, previous, rows };
    });
    const auditSeq = await this.appendAudit(
      'control-plane.restore',
      'redis',
      {
        node: this.node?.id ?? 'unregistered',
        address: this.node?.address ?? '',
        restoredSeq: restored.restoredSeq,
        headHash: restored.headHash,
        previous: restored.previous,
      },
      actor,
    );
    return { node: this.node?.id ?? 'unregistered', ...restored, auditSeq };
  }

  private markDiverged(what: string): void {
    this.diverged = `${what}: Redis lost acknowledged writes (check its persistence). Writes are refused until it is restored.`;
    logger.error(this.diverged);
  }

  /**
   * Applies batches in sequence order in one LMDB transaction, then tells listeners. Without fsync
   * the commit takes microseconds, so it runs on the event loop: the change is served at once,
   * with no hand-off to LMDB's write thread and back (which cost milliseconds on a busy machine).
   */
  private async applyLocal(batches: Batch[]): Promise<void> {
    const write = (apply: () => Batch[]): Batch[] | Promise<Batch[]> =>
      this.unflushed ? this.state.transactionSync(apply) : this.state.transaction(apply);
    const applied = await write(() => {
      const done: Batch[] = [];
      for (const batch of batches) {
        const expected = this.state.currentSeq() + 1;
        if (batch.seq < expected) continue;
        if (batch.seq > expected) break;
        this.state.apply(batch.writes);
        done.push(batch);
      }
      return done;
    });
    const first = batches[0];
    if (first && applied.length === 0 && first.seq > this.state.currentSeq() + 1) {
      throw new Error(`replication gap: the next log entry is ${first.seq} but the replica is at ${this.state.currentSeq()}`);
    }
    for (const batch of applied) {
      trace('replica.applied', batch.seq);
      if (batch.change) this.emit(batch.change, batch.writes);
    }
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

/** A log entry shipped in a notice (an object, or JSON text from an older node), or null when it is not one (then the log is read instead). */
function parseShippedBatch(replication: unknown, seq: number | undefined): Batch | null {
  try {
    const batch = (typeof replication === 'string' ? JSON.parse(replication) : replication) as Batch | null;
    if (typeof batch !== 'object' || batch === null) return null;
    if (!Number.isSafeInteger(batch.seq) || !Array.isArray(batch.writes) || (seq !== undefined && batch.seq !== seq)) return null;
    return batch;
  } catch {
    return null;
  }
}

/** HDEL of a hash field only while it still holds the value read (KEYS[1] hash, ARGV field, value). */
const DELETE_IF_UNCHANGED = `if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then return redis.call('HDEL', KEYS[1], ARGV[1]) end return 0`;

/** A heartbeat as the status shows it, compared with the authority. */
function report(
  beat: Heartbeat,
  authority: { seq: number; headHash: string } | null,
  authorityHashAtSeq: string | null,
  liveWithinMs: number,
): NodeReport {
  const ageMs = Math.max(0, Date.now() - beat.at);
  return {
    id: beat.id,
    address: beat.address,
    appliedSeq: beat.appliedSeq,
    headHash: beat.headHash,
    diverged: beat.diverged,
    lastHeartbeat: new Date(beat.at).toISOString(),
    ageMs,
    live: ageMs <= liveWithinMs,
    lag: authority ? authority.seq - beat.appliedSeq : null,
    agrees: authority !== null && beat.appliedSeq <= authority.seq && authorityHashAtSeq === beat.headHash,
  };
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
