// One set of behaviours every ControlStore passes: the embedded LMDB authority and the Redis-shared
// store (a real redis-server, a local LMDB replica per instance). Then what only a shared store can
// get wrong: several instances on one Redis, races between them, a replica built from nothing,
// and Redis going away and coming back.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Authenticator } from '../src/auth/authenticator.js';
import { TokenRegistry } from '../src/registry/tokens.js';
import { ApiError } from '../src/domain/errors.js';
import { recordDigest } from '../src/domain/record-digest.js';
import { logger } from '../src/log.js';
import { verifyAuditChain } from '../src/domain/audit-verify.js';
import { previousDeployment } from '../src/registry/registry.js';
import type { AliasPolicy } from '../src/domain/policy.js';
import type { Actor, Approval, Change, ChangeNotice, TokenRecord, Version } from '../src/domain/types.js';
import { sortFiles, versionDigest } from '../src/domain/version-digest.js';
import type { AliasMove, NewVersion } from '../src/domain/mutations.js';
import type { ControlStore } from '../src/store/control-store.js';
import { LmdbControlStore } from '../src/store/lmdb/lmdb-control-store.js';
import { RedisControlStore } from '../src/store/redis/redis-control-store.js';
import { sha256, waitFor } from './harness/http.js';
import { deletePrefix, randomPrefix, startRedis, type TestRedis } from './harness/redis.js';

logger.level = process.env.MODELGATE_TEST_LOG ?? 'fatal';

const alice: Actor = { id: 'tok-alice', name: 'alice' };
const bob: Actor = { id: 'tok-bob', name: 'bob' };
const carol: Actor = { id: 'tok-carol', name: 'carol' };

// ---------------------------------------------------------------------------------------------
// Backends

interface Authority {
  /** The authority's own view (Redis: the seq key and the log length), to prove nothing was written there. */
  seq(): Promise<number>;
  logLength(): Promise<number>;
}

interface Opened {
  store: ControlStore;
  /** Closes this instance and opens a new one on the same state (and, for Redis, the same replica dir). */
  reopen(): Promise<Opened>;
  authority?: Authority;
}

interface Backend {
  name: string;
  open(): Promise<Opened>;
}

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

async function openRedisStore(r: TestRedis, prefix: string, dataDir?: string, antiEntropyMs = 600_000): Promise<RedisControlStore> {
  const dir = dataDir ?? (await tempDir());
  return track(await RedisControlStore.open({ url: r.url, prefix, dataDir: dir, antiEntropyMs }));
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

// ---------------------------------------------------------------------------------------------
// Helpers

function files(contents: Record<string, string>): NewVersion['files'] {
  return sortFiles(Object.entries(contents).map(([path, c]) => ({ path, size: Buffer.byteLength(c), digest: sha256(c) })));
}

function newVersion(name: string, contents: Record<string, string>, record: Partial<NewVersion['record']> = {}): NewVersion {
  const list = files(contents);
  return {
    name,
    files: list,
    digest: versionDigest(list),
    size: list.reduce((s, f) => s + f.size, 0),
    record: { metadata: {}, lineage: {}, metrics: {}, card: {}, ...record },
  };
}

function unique(label: string): string {
  return `${label}-${randomBytes(6).toString('hex')}`;
}

function apiError(status: number, code: string) {
  return (err: unknown) => {
    assert.ok(err instanceof ApiError, `expected ApiError ${status} ${code}, got ${err instanceof Error ? `${err.constructor.name}: ${err.message}` : String(err)}`);
    assert.equal(err.code, code, err.message);
    assert.equal(err.status, status, err.message);
    return true;
  };
}

/** Records what the store reports, to check that each committed change is told exactly once. */
class Recorder {
  readonly changes: Change[] = [];
  readonly commits: Change[] = [];
  constructor(readonly opened: Opened) {
    opened.store.onChange((c) => this.changes.push(c));
    opened.store.onCommit((n) => this.commits.push(n.change));
  }
  get store() {
    return this.opened.store;
  }
}

async function snapshot(r: Recorder) {
  return {
    seq: r.store.currentSeq(),
    head: r.store.auditHead(),
    changes: r.changes.length,
    commits: r.commits.length,
    authSeq: r.opened.authority ? await r.opened.authority.seq() : undefined,
    logLength: r.opened.authority ? await r.opened.authority.logLength() : undefined,
  };
}

/**
 * Runs a mutation and checks the invariants of every commit: the sequence moves by exactly one,
 * exactly one audit entry is appended with that sequence and the chain verifies to it, and
 * onChange and onCommit each fire once with the new sequence.
 */
async function mutation<T>(r: Recorder, fn: () => Promise<T>, expect: { action?: string; target?: string; change?: Partial<Change> } = {}): Promise<T> {
  const before = await snapshot(r);
  const out = await fn();
  const seq = before.seq + 1;
  assert.equal(r.store.currentSeq(), seq, 'currentSeq moves by exactly one');
  const entries = r.store.auditEntries(before.seq + 1, 10);
  assert.equal(entries.length, 1, 'exactly one audit entry appended');
  const entry = entries[0]!;
  assert.equal(entry.seq, seq);
  assert.equal(entry.prevHash, before.head.hash, 'the entry links to the previous head');
  if (expect.action) assert.equal(entry.action, expect.action);
  if (expect.target) assert.equal(entry.target, expect.target);
  assert.deepEqual(r.store.auditHead(), { seq, hash: entry.hash });
  const verified = verifyAuditChain(r.store);
  assert.equal(verified.ok, true, JSON.stringify(verified.firstBad));
  assert.equal(verified.headSeq, seq);
  assert.equal(verified.headHash, entry.hash);
  assert.equal(r.changes.length, before.changes + 1, 'onChange fired once');
  assert.equal(r.commits.length, before.commits + 1, 'onCommit fired once');
  assert.equal(r.changes.at(-1)!.seq, seq);
  assert.deepEqual(r.commits.at(-1), r.changes.at(-1));
  if (expect.change) assert.deepEqual({ ...r.changes.at(-1)! }, { ...r.changes.at(-1)!, ...expect.change });
  if (r.opened.authority) {
    assert.equal(await r.opened.authority.seq(), seq, 'the authority sequence moved by one');
    assert.equal(await r.opened.authority.logLength(), before.logLength! + 1, 'one replication log entry');
  }
  return out;
}

async function assertNothingWritten(r: Recorder, before: Awaited<ReturnType<typeof snapshot>>): Promise<void> {
  const now = await snapshot(r);
  assert.deepEqual(now, before, 'nothing was written and nothing was told');
}

/** A refused mutation: the expected ApiError, and nothing written anywhere. */
async function refused(r: Recorder, fn: () => Promise<unknown>, status: number, code: string): Promise<ApiError> {
  const before = await snapshot(r);
  let caught: ApiError | undefined;
  await assert.rejects(fn(), (err) => {
    apiError(status, code)(err);
    caught = err as ApiError;
    return true;
  });
  await assertNothingWritten(r, before);
  return caught!;
}

/** An idempotent repeat: succeeds and writes nothing. */
async function noop<T>(r: Recorder, fn: () => Promise<T>): Promise<T> {
  const before = await snapshot(r);
  const out = await fn();
  await assertNothingWritten(r, before);
  return out;
}

function move(name: string, alias: string, to: number | null, extra: Partial<AliasMove> = {}): AliasMove {
  return { name, alias, to, action: to === null ? 'delete' : 'set', ...extra };
}

/** A policy that asks for nothing, and one that asks for one approval of the current record. */
const OPEN: AliasPolicy = { approvals: 0, separationOfDuties: false, requiredCardFields: [], metrics: [] };
const ONE_APPROVAL: AliasPolicy = { ...OPEN, approvals: 1 };

function token(id: string, extra: Partial<TokenRecord> = {}): TokenRecord {
  return {
    id,
    name: `name-${id}`,
    role: 'writer',
    scope: '*',
    createdAt: new Date().toISOString(),
    createdBy: 'admin',
    expiresAt: null,
    revokedAt: null,
    hash: 'ab'.repeat(32),
    ...extra,
  };
}

// ---------------------------------------------------------------------------------------------
// The shared suite

for (const backend of [lmdbBackend, redisBackend]) {
  describe(`ControlStore conformance: ${backend.name}`, () => {
    const fresh = async () => new Recorder(await backend.open());

    test('registerVersion numbers versions per model, creates the model, and is idempotent by digest', async () => {
      const r = await fresh();
      const s = r.store;
      assert.equal(s.currentSeq(), 0);
      assert.deepEqual(verifyAuditChain(s), { ok: true, entries: 0, headSeq: 0, headHash: s.auditHead().hash });

      const a = newVersion('team/fraud', { 'model.bin': 'weights-1', 'config.json': '{}' });
      const first = await mutation(r, () => s.registerVersion(a, alice), {
        action: 'version.register',
        target: 'team/fraud@v1',
        change: { model: 'team/fraud', kind: 'version', version: 1 },
      });
      assert.equal(first.created, true);
      assert.equal(first.version.version, 1);
      assert.equal(first.version.digest, a.digest);
      assert.equal(first.version.status, 'registered');
      assert.equal(first.version.createdById, alice.id);
      assert.deepEqual(first.version.protectedAliases, []);
      assert.equal(first.change?.seq, 1);
      assert.equal(s.getModel('team/fraud')?.latestVersion, 1);
      assert.equal(s.getModel('team/fraud')?.owner, 'alice');
      assert.deepEqual(s.getVersion('team/fraud', 1), first.version);
      assert.deepEqual(s.getVersionByDigest('team/fraud', a.digest), first.version);

      const again = await noop(r, () => s.registerVersion({ ...a }, bob));
      assert.equal(again.created, false);
      assert.equal(again.version.version, 1);
      assert.equal(again.change, undefined);

      const second = await mutation(r, () => s.registerVersion(newVersion('team/fraud', { 'model.bin': 'weights-2' }), alice), { target: 'team/fraud@v2' });
      assert.equal(second.version.version, 2);
      const other = await mutation(r, () => s.registerVersion(newVersion('churn', { 'model.bin': 'weights-1', 'config.json': '{}' }), alice), { target: 'churn@v1' });
      assert.equal(other.version.version, 1, 'numbering is per model');
      assert.equal(s.getModel('team/fraud')?.latestVersion, 2);

      assert.deepEqual(s.listVersions('team/fraud', undefined, 10).items.map((v) => v.version), [1, 2]);
      assert.deepEqual(s.listVersions('team/fraud', 1, 10).items.map((v) => v.version), [2]);
      assert.deepEqual([...s.allVersions()].map((v) => `${v.name}@${v.version}`), ['churn@1', 'team/fraud@1', 'team/fraud@2']);
      assert.equal(s.isBlobReferenced(sha256('weights-1')), true);
      assert.equal(s.isBlobReferenced(sha256('nothing')), false);
      assert.deepEqual(
        s.blobReferences(sha256('weights-1')).sort((x, y) => x.name.localeCompare(y.name)),
        [{ name: 'churn', version: 1 }, { name: 'team/fraud', version: 1 }],
      );
      assert.deepEqual(s.versionHistory('team/fraud', 1).map((e) => e.action), ['register']);
      assert.deepEqual(s.listModels({ limit: 10 }).items.map((m) => m.name), ['churn', 'team/fraud']);
      assert.equal(s.currentSeq(), 3);
    });

    test('createModel and updateModel', async () => {
      const r = await fresh();
      const s = r.store;
      const { model } = await mutation(r, () => s.createModel('vision/det', { description: 'detector', owner: 'cv', tags: ['a'] }, alice), {
        action: 'model.create',
        target: 'vision/det',
        change: { model: 'vision/det', kind: 'model' },
      });
      assert.equal(model.latestVersion, 0);
      await refused(r, () => s.createModel('vision/det', { description: '', owner: '', tags: [] }, alice), 409, 'MODEL_EXISTS');
      await refused(r, () => s.updateModel('vision/none', { description: 'x' }, alice), 404, 'MODEL_NOT_FOUND');
      const updated = await mutation(r, () => s.updateModel('vision/det', { description: 'better' }, bob), { action: 'model.update' });
      assert.equal(updated.model.description, 'better');
      assert.deepEqual(updated.model.tags, ['a']);
      assert.equal(s.getModel('vision/det')?.description, 'better');
      const v = await mutation(r, () => s.registerVersion(newVersion('vision/det', { w: 'det' }), alice));
      assert.equal(v.version.version, 1);
      assert.equal(s.getModel('vision/det')?.description, 'better', 'registering keeps the model info');
    });

    test('updateVersion changes the mutable fields and keeps their history', async () => {
      const r = await fresh();
      const s = r.store;
      await mutation(r, () => s.registerVersion(newVersion('m', { w: 'x' }, { metrics: { auc: { value: 0.8 } } }), alice));
      const { version } = await mutation(
        r,
        () => s.updateVersion('m', 1, { metrics: { auc: { value: 0.9, dataset: 'holdout' } }, card: { intendedUse: 'scoring' } }, bob),
        { action: 'version.update', target: 'm@v1', change: { model: 'm', kind: 'version', version: 1 } },
      );
      assert.deepEqual(version.metrics, { auc: { value: 0.9, dataset: 'holdout' } });
      assert.deepEqual(s.getVersion('m', 1)?.card, { intendedUse: 'scoring' });
      const history = s.versionHistory('m', 1);
      assert.deepEqual(history.map((e) => e.action), ['register', 'update']);
      assert.deepEqual(history[1]!.changes, {
        metrics: { before: { auc: { value: 0.8 } }, after: { auc: { value: 0.9, dataset: 'holdout' } } },
        card: { before: {}, after: { intendedUse: 'scoring' } },
      });
      assert.deepEqual(history[1]!.actor, bob);
      await mutation(r, () => s.updateVersion('m', 1, { status: 'deprecated' }, bob));
      assert.equal(s.getVersion('m', 1)?.status, 'deprecated');
      assert.equal(s.versionHistory('m', 1).length, 3);
      await refused(r, () => s.updateVersion('m', 7, { metadata: {} }, bob), 404, 'VERSION_NOT_FOUND');
      await refused(r, () => s.updateVersion('nope', 1, { metadata: {} }, bob), 404, 'MODEL_NOT_FOUND');
    });

    test('recordApproval: decisions, status, and a check callback that refuses writes nothing', async () => {
      const r = await fresh();
      const s = r.store;
      await mutation(r, () => s.registerVersion(newVersion('credit', { w: 'c1' }), alice));
      let seen: { version: Version; approvals: readonly Approval[] } | undefined;
      const res = await mutation(
        r,
        () =>
          s.recordApproval('credit', 1, 'approve', 'looks good', bob, (version, approvals) => {
            seen = { version, approvals };
          }),
        { action: 'version.approve', target: 'credit@v1', change: { model: 'credit', kind: 'version', version: 1 } },
      );
      assert.equal(seen?.version.version, 1);
      assert.deepEqual(seen?.approvals, []);
      assert.equal(res.version.status, 'approved');
      assert.equal(res.approval.decision, 'approve');
      assert.equal(res.approval.comment, 'looks good');
      assert.deepEqual(res.approval.approver, bob);

      // The check sees the approvals as committed, and may refuse.
      const refusal = () =>
        s.recordApproval('credit', 1, 'approve', undefined, bob, (_v, approvals) => {
          if (approvals.some((a) => a.approver.id === bob.id)) throw new ApiError(409, 'ALREADY_DECIDED', 'bob already decided');
        });
      await refused(r, refusal, 409, 'ALREADY_DECIDED');
      await refused(
        r,
        () =>
          s.recordApproval('credit', 1, 'approve', undefined, alice, (v) => {
            if (v.createdById === alice.id) throw new ApiError(403, 'SEPARATION_OF_DUTIES', 'no');
          }),
        403,
        'SEPARATION_OF_DUTIES',
      );
      assert.equal(s.listApprovals('credit', 1).length, 1);

      const rejected = await mutation(r, () => s.recordApproval('credit', 1, 'reject', 'drift', carol, () => undefined), { action: 'version.reject' });
      assert.equal(rejected.version.status, 'rejected');
      assert.deepEqual(s.listApprovals('credit', 1).map((a) => [a.approver.id, a.decision]), [[bob.id, 'approve'], [carol.id, 'reject']]);
      const history = s.versionHistory('credit', 1);
      assert.deepEqual(history.map((e) => e.action), ['register', 'approve', 'reject']);
      assert.deepEqual(history[1]!.changes, { status: { before: 'registered', after: 'approved' } });
      assert.deepEqual(history[2]!.changes, { status: { before: 'approved', after: 'rejected' } });
      await refused(r, () => s.recordApproval('credit', 9, 'approve', undefined, bob, () => undefined), 404, 'VERSION_NOT_FOUND');
    });

    test('an error thrown by a caller callback propagates unchanged and writes nothing', async () => {
      // A check is caller code; whatever it throws is the caller's answer, not a store failure.
      const r = await fresh();
      const s = r.store;
      await mutation(r, () => s.registerVersion(newVersion('cb', { w: 'cb' }), alice));
      class Refusal extends Error {}
      const before = await snapshot(r);
      await assert.rejects(
        s.recordApproval('cb', 1, 'approve', undefined, bob, () => {
          throw new Refusal('refused by the caller');
        }),
        (err: unknown) => {
          assert.ok(err instanceof Refusal, `expected the callback's own error, got ${err instanceof ApiError ? `ApiError ${err.status} ${err.code}: ${err.message}` : String(err)}`);
          return true;
        },
      );
      await assert.rejects(
        s.updateVersion('cb', 1, { card: { intendedUse: 'x' } }, alice, () => {
          throw new Refusal('edit refused');
        }),
        (err: unknown) => {
          assert.ok(err instanceof Refusal, `expected the check's own error, got ${err instanceof ApiError ? `ApiError ${err.status} ${err.code}: ${err.message}` : String(err)}`);
          return true;
        },
      );
      await assertNothingWritten(r, before);
    });

    test('moveAlias compare-and-set: expected null, stale, current; same target is a no-op; delete', async () => {
      const r = await fresh();
      const s = r.store;
      for (let i = 1; i <= 3; i++) await mutation(r, () => s.registerVersion(newVersion('risk', { w: `risk-${i}` }), alice));

      const set1 = await mutation(r, () => s.moveAlias(move('risk', 'staging', 1, { expected: null, reason: 'first' }), alice), {
        action: 'alias.set',
        target: 'risk@staging',
        change: { model: 'risk', kind: 'alias', alias: 'staging' },
      });
      assert.deepEqual(set1.result, { name: 'risk', alias: 'staging', version: 1, previous: null, seq: 4, changed: true });
      assert.equal(s.getAlias('risk', 'staging')?.version, 1);
      assert.equal(s.getAlias('risk', 'staging')?.seq, 4);
      assert.equal(s.getAlias('risk', 'staging')?.updatedBy, 'alice');

      const conflictNull = await refused(r, () => s.moveAlias(move('risk', 'staging', 2, { expected: null }), bob), 409, 'ALIAS_CONFLICT');
      assert.deepEqual(conflictNull.details, { current: 1, expected: null });
      const stale = await refused(r, () => s.moveAlias(move('risk', 'staging', 2, { expected: 3 }), bob), 409, 'ALIAS_CONFLICT');
      assert.deepEqual(stale.details, { current: 1, expected: 3 });
      await refused(r, () => s.moveAlias(move('risk', 'canary', 2, { expected: 1 }), bob), 409, 'ALIAS_CONFLICT');
      assert.equal(s.getAlias('risk', 'staging')?.version, 1);

      const set2 = await mutation(r, () => s.moveAlias(move('risk', 'staging', 2, { expected: 1 }), bob), { action: 'alias.set' });
      assert.equal(set2.result.previous, 1);
      assert.equal(set2.result.version, 2);

      const same = await noop(r, () => s.moveAlias(move('risk', 'staging', 2, { expected: 2 }), bob));
      assert.equal(same.result.changed, false);
      assert.equal(same.result.seq, set2.result.seq);
      assert.equal(same.change, undefined);

      await refused(r, () => s.moveAlias(move('risk', 'staging', 99), bob), 404, 'VERSION_NOT_FOUND');
      await refused(r, () => s.moveAlias(move('nobody', 'staging', 1), bob), 404, 'MODEL_NOT_FOUND');

      await mutation(r, () => s.moveAlias(move('risk', 'staging', 3), bob), { action: 'alias.set' }); // no expected: no check
      await mutation(r, () => s.moveAlias(move('risk', 'canary', 1), bob));
      assert.deepEqual(s.listAliases('risk').map((a) => [a.alias, a.version]), [['canary', 1], ['staging', 3]]);

      await refused(r, () => s.moveAlias(move('risk', 'staging', null, { expected: 2 }), bob), 409, 'ALIAS_CONFLICT');
      const deleted = await mutation(r, () => s.moveAlias(move('risk', 'staging', null, { expected: 3 }), bob), {
        action: 'alias.delete',
        change: { model: 'risk', kind: 'alias', alias: 'staging' },
      });
      assert.equal(deleted.result.version, null);
      assert.equal(deleted.result.previous, 3);
      assert.equal(s.getAlias('risk', 'staging'), undefined);
      assert.deepEqual(s.listAliases('risk').map((a) => a.alias), ['canary']);
      await refused(r, () => s.moveAlias(move('risk', 'staging', null), bob), 404, 'ALIAS_NOT_FOUND');
      // After a delete, "must not exist" holds again.
      await mutation(r, () => s.moveAlias(move('risk', 'staging', 1, { expected: null }), bob));
    });

    test('gates refuse with 403 POLICY_UNMET and nothing is written; a passing protected move marks the version', async () => {
      const r = await fresh();
      const s = r.store;
      await mutation(r, () => s.registerVersion(newVersion('pay', { w: 'p1' }), alice));
      await mutation(r, () => s.registerVersion(newVersion('pay', { w: 'p2' }), alice));
      await mutation(r, () => s.moveAlias(move('pay', 'production', 1, { policy: OPEN }), alice));
      const err = await refused(r, () => s.moveAlias(move('pay', 'production', 2, { policy: ONE_APPROVAL }), alice), 403, 'POLICY_UNMET');
      assert.deepEqual(err.details, [{ code: 'APPROVALS', message: 'needs 1 approval(s), has 0' }]);
      assert.equal(s.getAlias('pay', 'production')?.version, 1);
      assert.deepEqual(s.getVersion('pay', 2)?.protectedAliases, []);
      assert.equal(s.aliasHistory('pay', 'production').length, 1);

      await mutation(r, () => s.recordApproval('pay', 2, 'approve', undefined, bob, () => undefined));
      await mutation(r, () => s.moveAlias(move('pay', 'production', 2, { policy: ONE_APPROVAL }), alice));
      assert.deepEqual(s.getVersion('pay', 2)?.protectedAliases, ['production']);
      assert.deepEqual(s.getVersion('pay', 1)?.protectedAliases, ['production']);
      // An unprotected alias leaves the record alone.
      await mutation(r, () => s.moveAlias(move('pay', 'staging', 2), alice));
      assert.deepEqual(s.getVersion('pay', 2)?.protectedAliases, ['production']);
    });

    test('rollback bookkeeping: the alias history records each move with from, to, action, actor and reason', async () => {
      const r = await fresh();
      const s = r.store;
      for (let i = 1; i <= 3; i++) await mutation(r, () => s.registerVersion(newVersion('fraud', { w: `f${i}` }), alice));
      await mutation(r, () => s.moveAlias(move('fraud', 'production', 1), alice));
      await mutation(r, () => s.moveAlias(move('fraud', 'canary', 2), alice));
      await mutation(r, () => s.moveAlias(move('fraud', 'production', 2, { reason: 'release 2' }), alice));
      await mutation(r, () => s.moveAlias(move('fraud', 'production', 3), bob));
      const back = await mutation(r, () => s.moveAlias(move('fraud', 'production', 2, { action: 'rollback', expected: 3, reason: 'latency' }), carol), {
        action: 'alias.rollback',
        target: 'fraud@production',
      });
      assert.deepEqual(back.result, { name: 'fraud', alias: 'production', version: 2, previous: 3, seq: back.result.seq, changed: true });
      const entry = s.auditEntries(back.result.seq, 1)[0]!;
      // The entry names the record the alias now serves, so the chain says which record was deployed.
      assert.deepEqual(entry.details, { from: 3, to: 2, reason: 'latency', recordDigest: recordDigest(s.getVersion('fraud', 2)!) });
      assert.deepEqual(entry.actor, carol);

      const history = s.aliasHistory('fraud', 'production');
      assert.deepEqual(
        history.map((e) => ({ action: e.action, from: e.from, to: e.to, actor: e.actor.name, reason: e.reason })),
        [
          { action: 'set', from: null, to: 1, actor: 'alice', reason: undefined },
          { action: 'set', from: 1, to: 2, actor: 'alice', reason: 'release 2' },
          { action: 'set', from: 2, to: 3, actor: 'bob', reason: undefined },
          { action: 'rollback', from: 3, to: 2, actor: 'carol', reason: 'latency' },
        ],
      );
      assert.deepEqual(history.map((e) => e.seq), [...history.map((e) => e.seq)].sort((a, b) => a - b), 'in sequence order');
      assert.ok(history.every((e) => e.name === 'fraud' && e.alias === 'production' && typeof e.at === 'string'));
      // The registry's next rollback target is computed from this history: back to v1, skipping the rollback.
      assert.equal(previousDeployment(history, 2), 1);
      assert.deepEqual(s.modelAliasEvents('fraud').map((e) => `${e.alias}:${e.to}`), ['canary:2', 'production:1', 'production:2', 'production:3', 'production:2']);
      assert.deepEqual(s.aliasHistory('fraud', 'nothing'), []);
    });

    test('deleteVersion refuses a version in use or once protected; a free one is removed with its blob references', async () => {
      const r = await fresh();
      const s = r.store;
      await mutation(r, () => s.registerVersion(newVersion('del', { w: 'd1' }), alice));
      await mutation(r, () => s.registerVersion(newVersion('del', { w: 'd2' }), alice));
      const v3 = newVersion('del', { w: 'd3-unique', extra: 'd3-extra' });
      await mutation(r, () => s.registerVersion(v3, alice));
      await mutation(r, () => s.moveAlias(move('del', 'staging', 1), alice));
      await mutation(r, () => s.moveAlias(move('del', 'production', 2, { policy: OPEN }), alice));
      await mutation(r, () => s.moveAlias(move('del', 'production', 1, { policy: OPEN }), alice));

      const inUse = await refused(r, () => s.deleteVersion('del', 1, 'cleanup', alice), 409, 'VERSION_IN_USE');
      assert.match(inUse.message, /@staging/);
      await refused(r, () => s.deleteVersion('del', 2, 'cleanup', alice), 409, 'VERSION_RETAINED');
      await refused(r, () => s.deleteVersion('del', 42, 'cleanup', alice), 404, 'VERSION_NOT_FOUND');
      await refused(r, () => s.deleteVersion('nobody', 1, 'cleanup', alice), 404, 'MODEL_NOT_FOUND');
      assert.equal(s.isBlobReferenced(sha256('d3-unique')), true);

      await mutation(r, () => s.deleteVersion('del', 3, 'unused', bob), { action: 'version.delete', target: 'del@v3', change: { model: 'del', kind: 'version', version: 3 } });
      assert.equal(s.getVersion('del', 3), undefined);
      assert.equal(s.getVersionByDigest('del', v3.digest), undefined);
      assert.equal(s.isBlobReferenced(sha256('d3-unique')), false);
      assert.deepEqual(s.blobReferences(sha256('d3-extra')), []);
      assert.deepEqual(s.listVersions('del', undefined, 10).items.map((v) => v.version), [1, 2]);
      await refused(r, () => s.deleteVersion('del', 3, 'again', bob), 404, 'VERSION_NOT_FOUND');
      // Numbers are never reused: the same files come back as a new version.
      const again = await mutation(r, () => s.registerVersion(v3, alice));
      assert.equal(again.version.version, 4);
    });

    test('tokens: create, refuse a duplicate, revoke once', async () => {
      const r = await fresh();
      const s = r.store;
      const id = unique('tok');
      await mutation(r, () => s.createToken(token(id), alice), { action: 'token.create', target: `token:${id}`, change: { model: '', kind: 'token' } });
      assert.equal(s.getToken(id)?.revokedAt, null);
      assert.deepEqual(s.listTokens().map((t) => t.id), [id]);
      await refused(r, () => s.createToken(token(id, { name: 'other' }), alice), 409, 'TOKEN_EXISTS');
      const revoked = await mutation(r, () => s.revokeToken(id, bob), { action: 'token.revoke', target: `token:${id}` });
      assert.ok(revoked.revokedAt);
      assert.equal(s.getToken(id)?.revokedAt, revoked.revokedAt);
      const twice = await noop(r, () => s.revokeToken(id, bob));
      assert.equal(twice.revokedAt, revoked.revokedAt);
      await refused(r, () => s.revokeToken('no-such-token', bob), 404, 'TOKEN_NOT_FOUND');
      assert.equal(s.getToken('no-such-token'), undefined);
    });

    test('appendAudit appends one chained entry and returns its sequence', async () => {
      const r = await fresh();
      const s = r.store;
      const seq = await mutation(r, () => s.appendAudit('denied.aliases.set', '/v1/models/x/aliases/production', { status: 403 }, bob), {
        action: 'denied.aliases.set',
        target: '/v1/models/x/aliases/production',
        change: { model: '', kind: 'audit' },
      });
      assert.equal(seq, 1);
      const seq2 = await mutation(r, () => s.appendAudit('gc.run', 'blobs', { removed: 0 }, alice));
      assert.equal(seq2, 2);
      const [e1, e2] = s.auditEntries(1, 10);
      assert.deepEqual(e1!.details, { status: 403 });
      assert.deepEqual(e1!.actor, bob);
      assert.equal(e2!.prevHash, e1!.hash);
      assert.deepEqual(s.auditEntries(2, 10).map((e) => e.seq), [2]);
    });

    test('settings round-trip', async () => {
      const r = await fresh();
      assert.equal(r.store.getSetting('admin-token-sha256'), undefined);
      await r.store.putSetting('admin-token-sha256', 'cafe');
      assert.equal(r.store.getSetting('admin-token-sha256'), 'cafe');
      assert.equal(r.store.currentSeq(), 0, 'a setting is not a registry mutation');
    });

    test('state survives closing and reopening the store', async () => {
      const r = await fresh();
      const s = r.store;
      await s.registerVersion(newVersion('keep', { w: 'k1' }), alice);
      await s.registerVersion(newVersion('keep', { w: 'k2' }), alice);
      await s.moveAlias(move('keep', 'production', 2), alice);
      await s.createToken(token(unique('keep')), alice);
      const head = s.auditHead();
      const reopened = await r.opened.reopen();
      const t = reopened.store;
      assert.equal(t.currentSeq(), 4);
      assert.deepEqual(t.auditHead(), head);
      assert.equal(t.getAlias('keep', 'production')?.version, 2);
      assert.equal(verifyAuditChain(t).ok, true);
      const r2 = new Recorder(reopened);
      await mutation(r2, () => t.moveAlias(move('keep', 'production', 1, { expected: 2 }), alice));
      assert.equal(t.currentSeq(), 5);
    });
  });
}

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

  test('a notice that ships the next log entry is applied without asking Redis; a gap or a bad payload reads the log', async () => {
    const { a, b } = await pair();
    const notices: ChangeNotice[] = [];
    a.onCommit((n) => notices.push(n));
    await a.registerVersion(newVersion('shipped', { w: 'x1' }), alice);
    await b.sync();
    await a.moveAlias(move('shipped', 'production', 1), alice);
    const next = notices.at(-1)!;
    assert.equal(next.change.seq, 2);
    assert.equal(typeof next.replication, 'string', 'a small commit ships its log entry');

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
    assert.equal(verifyAuditChain(b).ok, true);
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
    assert.deepEqual(seenB.map((c) => c.seq), [1, 2, 3]);
    assert.deepEqual(seenB[2], { seq: 3, model: 'shared', kind: 'alias', alias: 'production' });
    assert.equal(committedB.length, 0);
    await b.sync(3); // already there: a no-op
    assert.equal(seenB.length, 3);

    // B writes on top (its commit catches up first anyway), A syncs.
    await a.moveAlias(move('shared', 'production', 2, { expected: 1 }), alice);
    const moved = await b.moveAlias(move('shared', 'production', 1, { action: 'rollback', expected: 2 }), bob);
    assert.equal(moved.result.previous, 2);
    assert.equal(moved.result.seq, 5);
    assert.deepEqual(committedB.map((c) => c.seq), [5]);
    assert.deepEqual(seenB.map((c) => c.seq), [1, 2, 3, 4, 5]);
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
      assert.equal(won.length, 1, `round ${round}: exactly one winner; got ${outcomes.map((o) => (o.status === 'fulfilled' ? 'ok' : `${(o.reason as ApiError).status} ${(o.reason as ApiError).code}: ${(o.reason as Error).message}`)).join(' / ')}`);
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
    assert.deepEqual(a.listVersions('reg', undefined, 1000).items.map((v) => v.version), Array.from({ length: 60 }, (_, i) => i + 1));
    assert.deepEqual([...a.allVersions()], [...b.allVersions()]);
  });

  test('interleaved writers never produce a spurious 503 while Redis is up', async () => {
    // Each instance commits while the other one is committing too: every call must succeed
    // (appendAudit has no precondition that could refuse it).
    const { a, b } = await pair();
    const failures: string[] = [];
    const run = async (s: RedisControlStore, who: Actor) => {
      for (let i = 0; i < 150; i++) {
        await s.appendAudit('test.tick', who.name, { i }, who).catch((err: unknown) => failures.push(`${who.name} #${i}: ${err instanceof ApiError ? `${err.status} ${err.code}: ` : ''}${(err as Error).message}`));
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
      await assert.rejects(s.moveAlias(move('outage', 'production', 2, { expected: 1 }), alice), apiError(503, 'CONTROL_PLANE_UNAVAILABLE'));
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
