// The ControlStore conformance suite (test/conformance/control-store.ts) run on the embedded LMDB
// authority and the Redis-shared store (a real redis-server, a local LMDB replica per instance).
// Then what only a shared store can get wrong: several instances on one Redis, races between them,
// a replica built from nothing, and Redis going away and coming back.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Authenticator } from '../src/auth/authenticator.js';
import { TokenRegistry } from '../src/registry/tokens.js';
import { DomainError } from '../src/domain/errors.js';
import { logger } from '../src/log.js';
import { verifyAuditChain } from '../src/domain/audit-verify.js';
import type { Actor, Change, ChangeNotice } from '../src/domain/types.js';
import { LmdbControlStore } from '../src/store/lmdb/lmdb-control-store.js';
import { RedisControlStore } from '../src/store/redis/redis-control-store.js';
import { noticeChannel, RedisEventBus } from '../src/events/redis-bus.js';
import { waitFor } from './harness/http.js';
import { deletePrefix, randomPrefix, startRedis, type TestRedis } from './harness/redis.js';
import {
  alice,
  apiError,
  bob,
  carol,
  controlStoreConformance,
  move,
  newVersion,
  OPEN,
  token,
  unique,
  type Authority,
  type Backend,
  type Opened,
  webhookInput,
} from './conformance/control-store.js';
import { newDelivery } from '../src/domain/webhooks.js';
logger.level = process.env.MODELGATE_TEST_LOG ?? 'fatal';

const cleanups: (() => Promise<unknown>)[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'modelgate-cs-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}
function track<T extends { close(): Promise<void> }>(store: T): T {
  let closed = false;
  const close = store.close.bind(store);
  store.close = async () => {
    if (closed) return;
    closed = true;
    await close();
  };
  cleanups.unshift(() => store.close().catch(() => undefined));
  return store;
}

let redis: TestRedis | undefined;
const prefixes: string[] = [];

before(async () => {
  redis = await startRedis();
});

after(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup().catch(() => undefined);
  if (redis) {
    for (const p of prefixes) await deletePrefix(redis.client, p).catch(() => undefined);
    await redis.dispose();
  }
});

function redisAuthority(r: TestRedis, prefix: string): Authority {
  return {
    seq: async () => Number((await r.client.get(`${prefix}seq`)) ?? 0),
    logLength: () => r.client.xlen(`${prefix}log`),
  };
}

async function openRedisStore(
  r: TestRedis,
  prefix: string,
  dataDir?: string,
  antiEntropyMs = 600_000,
  noticeChannel?: string,
): Promise<RedisControlStore> {
  const dir = dataDir ?? (await tempDir());
  return track(
    await RedisControlStore.open({ url: r.url, prefix, dataDir: dir, antiEntropyMs, ...(noticeChannel ? { noticeChannel } : {}) }),
  );
}

const lmdbBackend: Backend = {
  name: 'lmdb',
  async open() {
    const dir = await tempDir();
    const make = (): Opened => {
      const store = track(new LmdbControlStore(dir));
      return {
        store,
        async reopen() {
          await store.close();
          return make();
        },
      };
    };
    return make();
  },
};

const redisBackend: Backend = {
  name: 'redis',
  async open() {
    const r = redis!;
    const prefix = randomPrefix();
    prefixes.push(prefix);
    const dir = await tempDir();
    const make = async (): Promise<Opened> => {
      const store = await openRedisStore(r, prefix, dir);
      return {
        store,
        authority: redisAuthority(r, prefix),
        async reopen() {
          await store.close();
          return make();
        },
      };
    };
    return make();
  },
};

for (const backend of [lmdbBackend, redisBackend]) controlStoreConformance(backend);

// ---------------------------------------------------------------------------------------------
// What only a shared store can get wrong

describe('RedisControlStore: several instances on one Redis', () => {
  const pair = async () => {
    const prefix = randomPrefix();
    prefixes.push(prefix);
    const a = await openRedisStore(redis!, prefix);
    const b = await openRedisStore(redis!, prefix);
    return { prefix, a, b };
  };

  /** How many times Redis has run each command that reads the log or the sequence. */
  const logReads = async () => {
    const info = await redis!.client.info('commandstats');
    const calls = (cmd: string) => Number(new RegExp(`cmdstat_${cmd}:calls=(\\d+)`).exec(info)?.[1] ?? 0);
    return { xrange: calls('xrange'), get: calls('get'), exec: calls('exec') };
  };

  test('a notice that ships the next log entry (or, from an older node, its JSON text) is applied without asking Redis; a gap or a bad payload reads the log', async () => {
    const { a, b } = await pair();
    const notices: ChangeNotice[] = [];
    a.onCommit((n) => notices.push(n));
    await a.registerVersion(newVersion('shipped', { w: 'x1' }), alice);
    await b.sync();
    await a.moveAlias(move('shipped', 'production', 1), alice);
    const next = notices.at(-1)!;
    assert.equal(next.change.seq, 2);
    assert.equal(typeof next.replication, 'object', 'a small commit ships its log entry, as an object');
    assert.equal(typeof JSON.parse(JSON.stringify(next)).replication, 'object', 'inside the JSON, not as text');

    const before = await logReads();
    await b.sync(next.change.seq, next.replication);
    assert.deepEqual(await logReads(), before, 'no GET, XRANGE or MULTI reached Redis');
    assert.equal(b.currentSeq(), 2);
    assert.equal(b.getAlias('shipped', 'production')?.version, 1);
    assert.deepEqual(b.auditHead(), a.auditHead());

    // Two commits later the notice is not the next entry for B: it reads the log instead.
    await a.registerVersion(newVersion('shipped', { w: 'x2' }), alice);
    await a.moveAlias(move('shipped', 'production', 2, { expected: 1 }), alice);
    const ahead = notices.at(-1)!;
    await b.sync(ahead.change.seq, ahead.replication);
    assert.ok((await logReads()).xrange > before.xrange, 'the gap was filled from the log');
    assert.equal(b.currentSeq(), 4);
    assert.deepEqual(b.auditHead(), a.auditHead());

    // A payload that does not parse, or names another sequence, is ignored in favour of the log.
    await a.moveAlias(move('shipped', 'production', 1, { expected: 2 }), alice);
    const wrong = await logReads();
    await b.sync(5, JSON.stringify({ seq: 6, writes: [] }));
    assert.equal(b.currentSeq(), 5);
    assert.equal(b.getAlias('shipped', 'production')?.version, 1);
    assert.ok((await logReads()).xrange > wrong.xrange);
    await a.moveAlias(move('shipped', 'production', 2, { expected: 1 }), alice);
    await b.sync(6, '{not json');
    assert.equal(b.getAlias('shipped', 'production')?.version, 2);

    // An older node's notice carries the entry as JSON text: applied as well.
    await a.moveAlias(move('shipped', 'production', 1, { expected: 2 }), alice);
    const older = notices.at(-1)!;
    const textBefore = await logReads();
    await b.sync(older.change.seq, JSON.stringify(older.replication));
    assert.deepEqual(await logReads(), textBefore, 'no GET, XRANGE or MULTI reached Redis');
    assert.equal(b.getAlias('shipped', 'production')?.version, 1);
    assert.deepEqual(b.auditHead(), a.auditHead());
    assert.equal(verifyAuditChain(b).ok, true);
  });

  test('given the notice channel, a commit publishes its notice inside its transaction: the bus hears it with the entry, onCommit is not called, and the other store applies it without the log', async () => {
    const prefix = randomPrefix();
    prefixes.push(prefix);
    const a = await openRedisStore(redis!, prefix, undefined, 600_000, noticeChannel(prefix));
    const b = await openRedisStore(redis!, prefix);
    const bus = await RedisEventBus.open(redis!.url, prefix);
    cleanups.unshift(() => bus.close());
    const heard: ChangeNotice[] = [];
    bus.subscribe((n) => heard.push(n));
    const committed: ChangeNotice[] = [];
    a.onCommit((n) => committed.push(n));

    await a.registerVersion(newVersion('in-exec', { w: 'e1' }), alice);
    await a.moveAlias(move('in-exec', 'production', 1), alice);
    await waitFor(() => heard.length === 2, 5000, 'both notices on the bus');
    assert.deepEqual(
      heard.map((n) => n.change.seq),
      [1, 2],
    );
    assert.equal(committed.length, 0, 'the store told the other nodes itself');
    assert.deepEqual(heard[1]!.change, { seq: 2, model: 'in-exec', kind: 'alias', alias: 'production' });

    const before = await logReads();
    for (const n of heard) await b.sync(n.change.seq, n.replication);
    assert.deepEqual(await logReads(), before, 'no GET, XRANGE or MULTI reached Redis');
    assert.equal(b.getAlias('in-exec', 'production')?.version, 1);
    assert.deepEqual(b.auditHead(), a.auditHead());
  });

  test('a commit on a current replica watches and checks it in one round trip (one EXEC in all); one behind catches up first and commits', async () => {
    const { a, b } = await pair();
    await a.registerVersion(newVersion('current', { w: 'c1' }), alice);
    const before = await logReads();
    await a.moveAlias(move('current', 'production', 1), alice);
    const after = await logReads();
    assert.equal(after.exec - before.exec, 1, 'only the commit itself ran a MULTI');
    assert.equal(after.xrange, before.xrange);

    // B has not heard of A's commits: its commit catches up from the log, then commits on top.
    await b.moveAlias(move('current', 'staging', 1), alice);
    assert.ok((await logReads()).xrange > after.xrange, 'B read the log');
    assert.equal(b.currentSeq(), 3);
    await a.sync();
    assert.deepEqual(a.auditHead(), b.auditHead());
    assert.equal(verifyAuditChain(a).ok, true);
  });

  test('webhooks: the outbox written on one instance replicates to the other; the two share one delivery queue and never claim the same delivery', async () => {
    const { a, b } = await pair();
    await a.createWebhook(webhookInput('wh_shared', 'whsec_s'), alice);
    for (let i = 0; i < 20; i++) await a.registerVersion(newVersion('hooked', { w: `h${i}` }), alice);
    await b.sync();
    assert.deepEqual(b.outboxEntries(0, 100), a.outboxEntries(0, 100));
    assert.equal(b.outboxEntries(0, 100).length, 20);

    const deliveries = a.outboxEntries(0, 100).map((e) => newDelivery(e, 'wh_shared'));
    // Both nodes enqueue the same entries (as their workers would); each delivery exists once.
    await Promise.all([a.deliveryQueue().enqueue(deliveries, 21), b.deliveryQueue().enqueue(deliveries, 21)]);
    const now = Date.now();
    const claims = await Promise.all(Array.from({ length: 8 }, (_, i) => (i % 2 === 0 ? a : b).deliveryQueue().claimDue(now, 5, 60_000)));
    const ids = claims.flat().map((d) => d.id);
    assert.equal(ids.length, 20, 'every delivery claimed');
    assert.equal(new Set(ids).size, 20, 'none claimed twice');
    assert.equal(await b.deliveryQueue().cursor(), 21);
  });

  test("each instance sees the other's writes after sync(); remote changes reach onChange but not onCommit", async () => {
    const { a, b } = await pair();
    const seenB: Change[] = [];
    const committedB: Change[] = [];
    b.onChange((c) => seenB.push(c));
    b.onCommit((n) => committedB.push(n.change));

    await a.registerVersion(newVersion('shared', { w: 's1' }), alice);
    await a.registerVersion(newVersion('shared', { w: 's2' }), alice);
    await a.moveAlias(move('shared', 'production', 1), alice);
    assert.equal(b.currentSeq(), 0, 'B has not caught up yet (no anti-entropy in this test)');
    await b.sync();
    assert.equal(b.currentSeq(), 3);
    assert.equal(b.getAlias('shared', 'production')?.version, 1);
    assert.deepEqual(b.getVersion('shared', 2), a.getVersion('shared', 2));
    assert.deepEqual(
      seenB.map((c) => c.seq),
      [1, 2, 3],
    );
    assert.deepEqual(seenB[2], { seq: 3, model: 'shared', kind: 'alias', alias: 'production' });
    assert.equal(committedB.length, 0);
    await b.sync(3); // already there: a no-op
    assert.equal(seenB.length, 3);

    // B writes on top (its commit catches up first anyway), A syncs.
    await a.moveAlias(move('shared', 'production', 2, { expected: 1 }), alice);
    const moved = await b.moveAlias(move('shared', 'production', 1, { action: 'rollback', expected: 2 }), bob);
    assert.equal(moved.result.previous, 2);
    assert.equal(moved.result.seq, 5);
    assert.deepEqual(
      committedB.map((c) => c.seq),
      [5],
    );
    assert.deepEqual(
      seenB.map((c) => c.seq),
      [1, 2, 3, 4, 5],
    );
    const v3 = await b.registerVersion(newVersion('shared', { w: 's3' }), bob);
    assert.equal(v3.version.version, 3);
    await a.sync(6);
    assert.equal(a.currentSeq(), 6);
    assert.deepEqual(a.aliasHistory('shared', 'production'), b.aliasHistory('shared', 'production'));
    assert.deepEqual(a.auditHead(), b.auditHead());
    assert.equal(verifyAuditChain(a).ok, true);
    assert.equal(verifyAuditChain(b).ok, true);
    assert.deepEqual(a.auditEntries(1, 100), b.auditEntries(1, 100));
  });

  test("a version one instance has read is read as edited once the other's edit reaches it, by a notice or by the log", async () => {
    const { a, b } = await pair();
    const notices: ChangeNotice[] = [];
    a.onCommit((n) => notices.push(n));
    await a.registerVersion(newVersion('edited', { w: 'e1' }), alice);
    await b.sync();
    assert.equal(b.getVersion('edited', 1)?.status, 'registered');
    const { version: deprecated } = await a.updateVersion('edited', 1, { status: 'deprecated' }, alice);
    const notice = notices.at(-1)!;
    await b.sync(notice.change.seq, notice.replication);
    assert.deepEqual(b.getVersion('edited', 1), deprecated);
    const { version: described } = await a.updateVersion('edited', 1, { card: { intendedUse: 'scoring' } }, alice);
    await b.sync();
    assert.deepEqual(b.getVersion('edited', 1), described);
    assert.deepEqual(b.getVersion('edited', 1), a.getVersion('edited', 1));
  });

  test('a gate is evaluated against the authority, not a stale replica', async () => {
    const { a, b } = await pair();
    await a.registerVersion(newVersion('gated', { w: 'g1' }), alice);
    await b.sync();
    await b.recordApproval('gated', 1, 'reject', 'bias found', carol, () => undefined);
    assert.equal(a.getVersion('gated', 1)?.status, 'registered', "A's replica is behind");
    await assert.rejects(a.moveAlias(move('gated', 'production', 1, { policy: OPEN }), alice), apiError(403, 'POLICY_UNMET'));
    assert.equal(a.getAlias('gated', 'production'), undefined);
    assert.equal(a.currentSeq(), 2);
  });

  test('two instances racing moveAlias with the same expected version: exactly one wins, the other gets 409', async () => {
    const { a, b } = await pair();
    for (let i = 1; i <= 3; i++) await a.registerVersion(newVersion('race', { w: `r${i}` }), alice);
    await a.moveAlias(move('race', 'production', 1), alice);
    await b.sync();
    let current = 1;
    const rounds = 60;
    for (let round = 0; round < rounds; round++) {
      const toA = (current % 3) + 1;
      const toB = (toA % 3) + 1;
      const outcomes = await Promise.allSettled([
        a.moveAlias(move('race', 'production', toA, { expected: current }), alice),
        b.moveAlias(move('race', 'production', toB, { expected: current }), bob),
      ]);
      const won = outcomes.filter((o) => o.status === 'fulfilled');
      const lost = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
      assert.equal(
        won.length,
        1,
        `round ${round}: exactly one winner; got ${outcomes.map((o) => (o.status === 'fulfilled' ? 'ok' : `${(o.reason as DomainError).kind} ${(o.reason as DomainError).code}: ${(o.reason as Error).message}`)).join(' / ')}`,
      );
      apiError(409, 'ALIAS_CONFLICT')(lost[0]!.reason);
      current = outcomes[0]!.status === 'fulfilled' ? toA : toB;
      assert.equal((won[0] as PromiseFulfilledResult<{ result: { version: number | null } }>).value.result.version, current);
    }
    await a.sync();
    await b.sync();
    assert.equal(a.getAlias('race', 'production')?.version, current);
    assert.equal(b.getAlias('race', 'production')?.version, current);
    const history = a.aliasHistory('race', 'production');
    assert.equal(history.length, rounds + 1, 'one history entry per winning move');
    for (let i = 1; i < history.length; i++) assert.equal(history[i]!.from, history[i - 1]!.to, 'the history is a chain: no lost update');
    assert.equal(verifyAuditChain(b).ok, true);
    assert.deepEqual(a.auditHead(), b.auditHead());
  });

  test('two instances racing registrations: same files give one version, different files distinct numbers', async () => {
    const { a, b } = await pair();
    for (let round = 0; round < 20; round++) {
      const same = newVersion('reg', { w: `same-${round}` });
      const [x, y] = await Promise.all([a.registerVersion(same, alice), b.registerVersion(same, bob)]);
      assert.equal(x.version.version, y.version.version);
      assert.equal([x.created, y.created].filter(Boolean).length, 1, 'exactly one of them created it');
      const [p, q] = await Promise.all([
        a.registerVersion(newVersion('reg', { w: `a-${round}` }), alice),
        b.registerVersion(newVersion('reg', { w: `b-${round}` }), bob),
      ]);
      assert.notEqual(p.version.version, q.version.version);
    }
    await a.sync();
    await b.sync();
    assert.deepEqual(
      a.listVersions('reg', undefined, 1000).items.map((v) => v.version),
      Array.from({ length: 60 }, (_, i) => i + 1),
    );
    assert.deepEqual([...a.allVersions()], [...b.allVersions()]);
  });

  test('interleaved writers never produce a spurious 503 while Redis is up', async () => {
    // Each instance commits while the other one is committing too: every call must succeed
    // (appendAudit has no precondition that could refuse it).
    const { a, b } = await pair();
    const failures: string[] = [];
    const run = async (s: RedisControlStore, who: Actor) => {
      for (let i = 0; i < 150; i++) {
        await s
          .appendAudit('test.tick', who.name, { i }, who)
          .catch((err: unknown) =>
            failures.push(`${who.name} #${i}: ${err instanceof DomainError ? `${err.kind} ${err.code}: ` : ''}${(err as Error).message}`),
          );
      }
    };
    await Promise.all([run(a, alice), run(b, bob), run(a, carol)]);
    assert.deepEqual(failures, []);
    await a.sync();
    await b.sync();
    assert.equal(a.currentSeq(), 450);
    assert.equal(verifyAuditChain(a).ok, true);
    assert.deepEqual(a.auditHead(), b.auditHead());
  });

  test('cluster-wide settings: the first writer wins, and nodes bootstrapping at once agree on one admin token', async () => {
    const { a, b } = await pair();
    await a.putSetting('some-setting', 'from-a');
    await b.putSetting('some-setting', 'from-b');
    assert.equal(b.getSetting('some-setting'), 'from-a', 'B reads the winner after losing');

    // Two nodes that opened before either bootstrapped (no MODELGATE_ADMIN_TOKEN): both see no
    // stored hash and generate a token; only one hash can win in Redis. Every token a node prints
    // as "created" must then open every node, or an operator holds a token that half the cluster refuses.
    const { a: c, b: d } = await pair();
    const first = await Authenticator.bootstrap(new TokenRegistry(c), undefined);
    const second = await Authenticator.bootstrap(new TokenRegistry(d), undefined);
    const printed = [first.created, second.created].filter((t): t is string => typeof t === 'string');
    assert.ok(printed.length >= 1);
    for (const [i, t] of printed.entries()) {
      for (const [j, auth] of [first.auth, second.auth].entries()) {
        assert.doesNotThrow(() => auth.authenticate(`Bearer ${t}`), `the token printed by node ${i + 1} is refused by node ${j + 1}`);
      }
    }
  });

  test('a lease asked for by both instances at once goes to exactly one, and neither gets it again until it expires', async () => {
    const { prefix, a, b } = await pair();
    for (let round = 0; round < 20; round++) {
      const name = `checkpoint:1000:${round}`;
      const won = await Promise.all([a.acquireLease(name, 60_000), b.acquireLease(name, 60_000), a.acquireLease(name, 60_000)]);
      assert.equal(won.filter(Boolean).length, 1, `round ${round}: ${JSON.stringify(won)}`);
      assert.equal(await b.acquireLease(name, 60_000), false);
      const ttl = await redis!.client.pttl(`${prefix}lease:${name}`);
      assert.ok(ttl > 0 && ttl <= 60_000, `the lease expires in Redis (pttl ${ttl})`);
    }
    assert.equal(a.currentSeq(), 0, 'leases are not registry mutations');
  });

  test('if Redis loses acknowledged writes, writes stop with 503 CONTROL_PLANE_DIVERGED and reads continue', async () => {
    const { prefix, a } = await pair();
    await a.registerVersion(newVersion('lost', { w: 'l1' }), alice);
    await a.moveAlias(move('lost', 'production', 1), alice);
    await deletePrefix(redis!.client, prefix); // what a Redis without durable persistence does after a crash
    await assert.rejects(a.moveAlias(move('lost', 'production', null), alice), apiError(503, 'CONTROL_PLANE_DIVERGED'));
    assert.equal(a.getAlias('lost', 'production')?.version, 1);
    assert.equal(a.currentSeq(), 2);
    assert.equal(await redis!.client.exists(`${prefix}seq`), 0, 'nothing was written to the emptied Redis');
  });

  test('the replica is written without fsync: kept after a clean stop or a process crash, copied again from Redis after a machine restart', async () => {
    const prefix = randomPrefix();
    prefixes.push(prefix);
    const dir = await tempDir();
    const mark = join(dir, 'index.unflushed');
    const bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    const first = await openRedisStore(redis!, prefix, dir);
    for (let i = 0; i < 3; i++) await first.appendAudit('test.unflushed', 'u', { i }, alice);
    assert.equal(readFileSync(mark, 'utf8').trim(), bootId, 'the mark of this boot is on disk while the replica is written unflushed');
    await first.close();
    assert.equal(existsSync(mark), false, 'a clean close flushed the replica and dropped the mark');

    // A process crash in this boot leaves the mark: the page cache still holds every commit.
    writeFileSync(mark, `${bootId}\n`);
    const second = await openRedisStore(redis!, prefix, dir);
    assert.equal(second.currentSeq(), 3);
    assert.deepEqual(
      readdirSync(dir).filter((f) => f.startsWith('index.unflushed-')),
      [],
      'a replica of this boot is kept',
    );
    await second.appendAudit('test.unflushed', 'u', { i: 3 }, alice);
    const head = second.auditHead();
    await second.close();

    // The machine restarted after a crash: the replica may be torn (here its file is cut short).
    writeFileSync(mark, 'an-earlier-boot\n');
    writeFileSync(join(dir, 'index', 'data.mdb'), 'torn');
    const third = await openRedisStore(redis!, prefix, dir);
    assert.equal(readdirSync(dir).filter((f) => f.startsWith('index.unflushed-an-earli')).length, 1, 'the suspect replica was moved aside');
    assert.equal(third.currentSeq(), 4, 'and the state copied again from Redis');
    assert.deepEqual(third.auditHead(), head);
    assert.equal(verifyAuditChain(third).ok, true);
    await third.appendAudit('test.unflushed', 'u', { i: 4 }, alice);
    assert.equal(third.currentSeq(), 5);
  });

  test('a store opened on an empty replica directory catches up the whole history', async () => {
    const { prefix, a } = await pair();
    for (let i = 1; i <= 4; i++) await a.registerVersion(newVersion('hist', { w: `h${i}` }), alice);
    await a.moveAlias(move('hist', 'production', 1), alice);
    await a.recordApproval('hist', 2, 'approve', 'ok', bob, () => undefined);
    await a.moveAlias(move('hist', 'production', 2, { policy: OPEN }), alice);
    await a.createToken(token(unique('hist')), alice);
    await a.deleteVersion('hist', 4, 'unused', alice);
    // More than one page of the replication log.
    for (let i = 0; i < 1100; i++) await a.appendAudit('test.filler', 'hist', { i }, alice);
    const total = a.currentSeq();
    assert.equal(total, 1109);

    const changes: Change[] = [];
    const c = await openRedisStore(redis!, prefix);
    c.onChange((ch) => changes.push(ch));
    assert.equal(c.currentSeq(), total, 'open() caught up');
    assert.deepEqual(c.auditHead(), a.auditHead());
    const verified = verifyAuditChain(c);
    assert.equal(verified.ok, true, JSON.stringify(verified.firstBad));
    assert.equal(verified.entries, total);
    assert.deepEqual([...c.allVersions()], [...a.allVersions()]);
    assert.deepEqual(c.listAliases('hist'), a.listAliases('hist'));
    assert.deepEqual(c.aliasHistory('hist', 'production'), a.aliasHistory('hist', 'production'));
    assert.deepEqual(c.listApprovals('hist', 2), a.listApprovals('hist', 2));
    assert.deepEqual(c.listTokens(), a.listTokens());
    assert.deepEqual(c.versionHistory('hist', 2), a.versionHistory('hist', 2));
    assert.equal(c.getVersion('hist', 4), undefined);
    assert.deepEqual(c.auditEntries(1, 2000), a.auditEntries(1, 2000));
    // And it can write on top.
    await c.moveAlias(move('hist', 'production', 1, { expected: 2, action: 'rollback' }), carol);
    await a.sync();
    assert.equal(a.getAlias('hist', 'production')?.version, 1);
  });
});

describe('RedisControlStore: Redis goes away and comes back', () => {
  test('with Redis stopped writes fail fast with 503 CONTROL_PLANE_UNAVAILABLE, reads answer; after a restart writes work again', async () => {
    // Its own redis-server, so stopping it disturbs no other test.
    const own = await startRedis();
    cleanups.push(() => own.dispose());
    const prefix = randomPrefix();
    const a = await openRedisStore(own, prefix, undefined, 200);
    const b = await openRedisStore(own, prefix, undefined, 200);
    await a.registerVersion(newVersion('outage', { w: 'o1' }), alice);
    await a.registerVersion(newVersion('outage', { w: 'o2' }), alice);
    await a.moveAlias(move('outage', 'production', 1), alice);
    await b.sync();
    const head = a.auditHead();

    await own.stop('SIGKILL');
    for (const s of [a, b]) {
      const started = Date.now();
      await assert.rejects(
        s.moveAlias(move('outage', 'production', 2, { expected: 1 }), alice),
        apiError(503, 'CONTROL_PLANE_UNAVAILABLE'),
      );
      await assert.rejects(s.appendAudit('test.down', 'x', {}, alice), apiError(503, 'CONTROL_PLANE_UNAVAILABLE'));
      await assert.rejects(s.registerVersion(newVersion('outage', { w: 'o3' }), alice), apiError(503, 'CONTROL_PLANE_UNAVAILABLE'));
      const elapsed = Date.now() - started;
      assert.ok(elapsed < 1000, `three refused writes took ${elapsed} ms; each should fail at once`);
      // Reads keep answering from the replica.
      assert.equal(s.getAlias('outage', 'production')?.version, 1);
      assert.equal(s.currentSeq(), 3);
      assert.deepEqual(s.auditHead(), head);
      assert.equal(verifyAuditChain(s).ok, true);
      assert.equal(s.listVersions('outage', undefined, 10).items.length, 2);
    }
    // A store opened while Redis is down still opens and serves its (empty) replica.
    const late = await openRedisStore(own, prefix, undefined, 200);
    assert.equal(late.currentSeq(), 0);
    await assert.rejects(late.appendAudit('test.down', 'x', {}, alice), apiError(503, 'CONTROL_PLANE_UNAVAILABLE'));

    await own.restart();
    // Writes work again once the connections are back (the retry strategy reconnects within ~1 s).
    await waitFor(
      async () => {
        try {
          await a.moveAlias(move('outage', 'production', 2, { expected: 1 }), alice);
          return true;
        } catch (err) {
          apiError(503, 'CONTROL_PLANE_UNAVAILABLE')(err);
          return false;
        }
      },
      10_000,
      'a write after Redis restarted',
    );
    assert.equal(a.currentSeq(), 4, 'nothing acknowledged before the crash was lost, nothing refused was applied');
    assert.equal(Number(await own.client.get(`${prefix}seq`)), 4);
    await waitFor(
      async () => {
        try {
          await b.moveAlias(move('outage', 'production', 1, { expected: 2, action: 'rollback' }), bob);
          return true;
        } catch (err) {
          apiError(503, 'CONTROL_PLANE_UNAVAILABLE')(err);
          return false;
        }
      },
      10_000,
      'a write on the second instance',
    );
    // Every instance, including the one that started during the outage, converges (anti-entropy at 200 ms).
    await waitFor(() => a.currentSeq() === 5 && late.currentSeq() === 5, 10_000, 'all instances at sequence 5');
    for (const s of [a, b, late]) {
      assert.equal(s.getAlias('outage', 'production')?.version, 1);
      assert.deepEqual(s.auditHead(), b.auditHead());
      assert.equal(verifyAuditChain(s).ok, true);
    }
    await late.appendAudit('test.up', 'x', {}, alice);
    await deletePrefix(own.client, prefix);
  });
});
