// The behaviours every ControlStore passes, as a function a new backend's test calls with a way to
// open (and reopen) it: every mutation atomic, one sequence number and one chained audit entry per
// commit, refusals that write nothing, and each change told exactly once.
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { CHECKPOINT_ACTION, checkpointSignatureValid, keyIdOf, signCheckpoint } from '../../src/domain/checkpoint.js';
import { describe, test } from 'node:test';
import { conflict, DomainError, forbidden } from '../../src/domain/errors.js';
import { statusOf } from '../../src/http/errors/refusal.js';
import { recordDigest } from '../../src/domain/record-digest.js';
import { verifyAudit, verifyAuditChain } from '../../src/domain/audit-verify.js';
import { AuditLog } from '../../src/registry/audit-log.js';
import { changeMessages } from '../../src/registry/change-feed.js';
import { previousDeployment } from '../../src/registry/registry.js';
import type { AliasPolicy } from '../../src/domain/policy.js';
import type { Actor, Approval, Change, TokenRecord, Version } from '../../src/domain/types.js';
import { sortFiles, versionDigest } from '../../src/domain/version-digest.js';
import { stackDigest } from '../../src/domain/stack.js';
import type { AliasMove, NewVersion, VersionPatch } from '../../src/domain/mutations.js';
import type { ControlStore } from '../../src/store/control-store.js';
import { sha256 } from '../harness/http.js';
import { newDelivery, type WebhookEndpoint } from '../../src/domain/webhooks.js';

export const alice: Actor = { id: 'tok-alice', name: 'alice' };
export const bob: Actor = { id: 'tok-bob', name: 'bob' };
export const carol: Actor = { id: 'tok-carol', name: 'carol' };

export interface Authority {
  /** The authority's own view (Redis: the seq key and the log length), to prove nothing was written there. */
  seq(): Promise<number>;
  logLength(): Promise<number>;
}

export interface Opened {
  store: ControlStore;
  /** Closes this instance and opens a new one on the same state (and, for Redis, the same replica dir). */
  reopen(): Promise<Opened>;
  authority?: Authority;
}

export interface Backend {
  name: string;
  open(): Promise<Opened>;
}

// ---------------------------------------------------------------------------------------------
// Helpers

export function files(contents: Record<string, string>): NewVersion['files'] {
  return sortFiles(Object.entries(contents).map(([path, c]) => ({ path, size: Buffer.byteLength(c), digest: sha256(c) })));
}

export function newVersion(name: string, contents: Record<string, string>, record: Partial<NewVersion['record']> = {}): NewVersion {
  const list = files(contents);
  return {
    name,
    files: list,
    digest: versionDigest(list),
    size: list.reduce((s, f) => s + f.size, 0),
    record: { metadata: {}, lineage: {}, metrics: {}, card: {}, ...record },
  };
}

/** A stack: its own files (may be none) and components pinned to the given versions. */
export function newStack(
  name: string,
  contents: Record<string, string>,
  components: Record<string, Version>,
  record: Partial<NewVersion['record']> = {},
): NewVersion {
  const list = files(contents);
  const pins = Object.fromEntries(
    Object.entries(components).map(([c, v]) => [c, { name: v.name, version: v.version, digest: v.digest, ref: `${v.name}@v${v.version}` }]),
  );
  return {
    name,
    files: list,
    digest: stackDigest(list, pins),
    size: list.reduce((s, f) => s + f.size, 0),
    record: { metadata: {}, lineage: {}, metrics: {}, card: {}, ...record },
    components: pins,
  };
}

export function unique(label: string): string {
  return `${label}-${randomBytes(6).toString('hex')}`;
}

export function apiError(status: number, code: string) {
  return (err: unknown) => {
    assert.ok(
      err instanceof DomainError,
      `expected DomainError ${status} ${code}, got ${err instanceof Error ? `${err.constructor.name}: ${err.message}` : String(err)}`,
    );
    assert.equal(err.code, code, err.message);
    // The status a client would see for it: the kind, as the http edge maps it.
    assert.equal(statusOf(err), status, err.message);
    return true;
  };
}

/** Records what the store reports, to check that each committed change is told exactly once. */
export class Recorder {
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

export async function snapshot(r: Recorder) {
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
export async function mutation<T>(
  r: Recorder,
  fn: () => Promise<T>,
  expect: { action?: string; target?: string; change?: Partial<Change> } = {},
): Promise<T> {
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

/**
 * The last commit retired or rejected `component` and flagged exactly `stacks` ([stack, component
 * path]) in it: its audit entry lists a `version.component-flagged` step per stack, each stack's
 * history ends with a `component` event at that sequence, watchers of each stack's model are told,
 * and the tables still say what the log says.
 */
export function assertFlagged(r: Recorder, component: string, status: string, stacks: [string, string][]): void {
  const s = r.store;
  const entry = s.auditEntries(s.currentSeq(), 1)[0]!;
  assert.equal(entry.target, component);
  const steps = (entry.details.steps ?? []) as { action: string; target: string; details: Record<string, unknown> }[];
  assert.deepEqual(
    steps.map((st) => [st.action, st.target, st.details.component, st.details.ref, st.details.status]),
    stacks.map(([stack, path]) => ['version.component-flagged', stack, path, component, status]),
  );
  for (const [stack, path] of stacks) {
    const at = stack.indexOf('@v');
    const last = s.versionHistory(stack.slice(0, at), Number(stack.slice(at + 2))).at(-1)!;
    assert.equal(last.seq, entry.seq, `${stack}'s flag is in the commit that made ${component} ${status}`);
    assert.equal(last.action, 'component');
    assert.equal(last.comment, `component ${path} (${component}) is ${status}`);
  }
  const told = changeMessages(entry, s).filter((m) => m.action === 'version.component-flagged');
  assert.deepEqual(
    told.map((m) => [`${m.model}@v${m.version}`, m.component?.path, m.seq]),
    stacks.map(([stack, path]) => [stack, path, entry.seq]),
  );
  const verified = verifyAudit(s);
  assert.equal(verified.ok, true, JSON.stringify(verified.firstBad));
}

export async function assertNothingWritten(r: Recorder, before: Awaited<ReturnType<typeof snapshot>>): Promise<void> {
  const now = await snapshot(r);
  assert.deepEqual(now, before, 'nothing was written and nothing was told');
}

/** A refused mutation: the expected DomainError, and nothing written anywhere. */
export async function refused(r: Recorder, fn: () => Promise<unknown>, status: number, code: string): Promise<DomainError> {
  const before = await snapshot(r);
  let caught: DomainError | undefined;
  await assert.rejects(fn(), (err) => {
    apiError(status, code)(err);
    caught = err as DomainError;
    return true;
  });
  await assertNothingWritten(r, before);
  return caught!;
}

/** An idempotent repeat: succeeds and writes nothing. */
export async function noop<T>(r: Recorder, fn: () => Promise<T>): Promise<T> {
  const before = await snapshot(r);
  const out = await fn();
  await assertNothingWritten(r, before);
  return out;
}

export function move(name: string, alias: string, to: number | null, extra: Partial<AliasMove> = {}): AliasMove {
  return { name, alias, to, action: to === null ? 'delete' : 'set', ...extra };
}

/** A policy that asks for nothing, and one that asks for one approval of the current record. */
export const OPEN: AliasPolicy = { approvals: 0, separationOfDuties: false, requiredCardFields: [], metrics: [] };
export const ONE_APPROVAL: AliasPolicy = { ...OPEN, approvals: 1 };

export function token(id: string, extra: Partial<TokenRecord> = {}): TokenRecord {
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

export function webhookInput(
  id: string,
  secret: string,
): Omit<WebhookEndpoint, 'createdAt' | 'createdBy' | 'seq' | 'secrets'> & { secret: string } {
  return { id, url: 'https://hooks.example/receive', events: ['*'], scope: '*', description: '', secret };
}

// ---------------------------------------------------------------------------------------------
// The shared suite

export function controlStoreConformance(backend: Backend): void {
  describe(`ControlStore conformance: ${backend.name}`, () => {
    const fresh = async () => new Recorder(await backend.open());

    test('registerVersion numbers versions per model, creates the model, and is idempotent by digest', async () => {
      const r = await fresh();
      const s = r.store;
      assert.equal(s.currentSeq(), 0);
      const empty = verifyAuditChain(s);
      assert.deepEqual(
        { ok: empty.ok, entries: empty.entries, headSeq: empty.headSeq, headHash: empty.headHash },
        { ok: true, entries: 0, headSeq: 0, headHash: s.auditHead().hash },
      );

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

      const second = await mutation(r, () => s.registerVersion(newVersion('team/fraud', { 'model.bin': 'weights-2' }), alice), {
        target: 'team/fraud@v2',
      });
      assert.equal(second.version.version, 2);
      const other = await mutation(
        r,
        () => s.registerVersion(newVersion('churn', { 'model.bin': 'weights-1', 'config.json': '{}' }), alice),
        { target: 'churn@v1' },
      );
      assert.equal(other.version.version, 1, 'numbering is per model');
      assert.equal(s.getModel('team/fraud')?.latestVersion, 2);

      assert.deepEqual(
        s.listVersions('team/fraud', undefined, 10).items.map((v) => v.version),
        [1, 2],
      );
      assert.deepEqual(
        s.listVersions('team/fraud', 1, 10).items.map((v) => v.version),
        [2],
      );
      assert.deepEqual(
        [...s.allVersions()].map((v) => `${v.name}@${v.version}`),
        ['churn@1', 'team/fraud@1', 'team/fraud@2'],
      );
      assert.equal(s.isBlobReferenced(sha256('weights-1')), true);
      assert.equal(s.isBlobReferenced(sha256('nothing')), false);
      assert.deepEqual(
        s.blobReferences(sha256('weights-1')).sort((x, y) => x.name.localeCompare(y.name)),
        [
          { name: 'churn', version: 1 },
          { name: 'team/fraud', version: 1 },
        ],
      );
      assert.deepEqual(
        s.versionHistory('team/fraud', 1).map((e) => e.action),
        ['register'],
      );
      assert.deepEqual(
        s.listModels({ limit: 10 }).items.map((m) => m.name),
        ['churn', 'team/fraud'],
      );
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
      assert.deepEqual(
        history.map((e) => e.action),
        ['register', 'update'],
      );
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

    test('a version read on every turn while its edit commits reads as edited once the edit returns, and stays so', async () => {
      const r = await fresh();
      const s = r.store;
      await s.registerVersion(newVersion('m', { w: 'x' }), alice);
      const edits: [VersionPatch, (v: Version) => unknown, unknown][] = [
        [{ status: 'deprecated' }, (v) => v.status, 'deprecated'],
        [{ card: { intendedUse: 'scoring' } }, (v) => v.card, { intendedUse: 'scoring' }],
      ];
      for (const [patch, field, expected] of edits) {
        s.getVersion('m', 1);
        let returned = false;
        const edit = s.updateVersion('m', 1, patch, bob).finally(() => {
          returned = true;
        });
        // Reads between the edit's write and its commit (an asynchronous LMDB commit on the
        // embedded store) see the version as it was: what they read must not outlive the commit.
        while (!returned) {
          s.getVersion('m', 1);
          await new Promise((resolve) => setImmediate(resolve));
        }
        await edit;
        assert.deepEqual(field(s.getVersion('m', 1)!), expected);
        await new Promise((resolve) => setTimeout(resolve, 5));
        assert.deepEqual(field(s.getVersion('m', 1)!), expected);
      }
    });

    test('a version read is the same value for every reader: changing it in place is refused', async () => {
      const r = await fresh();
      const s = r.store;
      await s.registerVersion(newVersion('m', { w: 'x' }), alice);
      const read = s.getVersion('m', 1)!;
      assert.throws(() => {
        (read as { status: string }).status = 'approved';
      }, TypeError);
      assert.throws(() => read.files.push({ path: 'extra', size: 1, digest: read.digest }), TypeError);
      assert.equal(s.getVersion('m', 1)?.status, 'registered');
      assert.equal(s.getVersion('m', 1)?.files.length, 1);
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
          if (approvals.some((a) => a.approver.id === bob.id)) throw conflict('ALREADY_DECIDED', 'bob already decided');
        });
      await refused(r, refusal, 409, 'ALREADY_DECIDED');
      await refused(
        r,
        () =>
          s.recordApproval('credit', 1, 'approve', undefined, alice, (v) => {
            if (v.createdById === alice.id) throw forbidden('SEPARATION_OF_DUTIES', 'no');
          }),
        403,
        'SEPARATION_OF_DUTIES',
      );
      assert.equal(s.listApprovals('credit', 1).length, 1);

      const rejected = await mutation(r, () => s.recordApproval('credit', 1, 'reject', 'drift', carol, () => undefined), {
        action: 'version.reject',
      });
      assert.equal(rejected.version.status, 'rejected');
      assert.deepEqual(
        s.listApprovals('credit', 1).map((a) => [a.approver.id, a.decision]),
        [
          [bob.id, 'approve'],
          [carol.id, 'reject'],
        ],
      );
      const history = s.versionHistory('credit', 1);
      assert.deepEqual(
        history.map((e) => e.action),
        ['register', 'approve', 'reject'],
      );
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
          assert.ok(
            err instanceof Refusal,
            `expected the callback's own error, got ${err instanceof DomainError ? `DomainError ${statusOf(err)} ${err.code}: ${err.message}` : String(err)}`,
          );
          return true;
        },
      );
      await assert.rejects(
        s.updateVersion('cb', 1, { card: { intendedUse: 'x' } }, alice, () => {
          throw new Refusal('edit refused');
        }),
        (err: unknown) => {
          assert.ok(
            err instanceof Refusal,
            `expected the check's own error, got ${err instanceof DomainError ? `DomainError ${statusOf(err)} ${err.code}: ${err.message}` : String(err)}`,
          );
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
      assert.deepEqual(
        s.listAliases('risk').map((a) => [a.alias, a.version]),
        [
          ['canary', 1],
          ['staging', 3],
        ],
      );

      await refused(r, () => s.moveAlias(move('risk', 'staging', null, { expected: 2 }), bob), 409, 'ALIAS_CONFLICT');
      const deleted = await mutation(r, () => s.moveAlias(move('risk', 'staging', null, { expected: 3 }), bob), {
        action: 'alias.delete',
        change: { model: 'risk', kind: 'alias', alias: 'staging' },
      });
      assert.equal(deleted.result.version, null);
      assert.equal(deleted.result.previous, 3);
      assert.equal(s.getAlias('risk', 'staging'), undefined);
      assert.deepEqual(
        s.listAliases('risk').map((a) => a.alias),
        ['canary'],
      );
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

    test('pushManifest commits the version, the manifest and the alias move as one change, or nothing', async () => {
      const r = await fresh();
      const s = r.store;
      const manifest = (tag: string) => ({
        digest: sha256(`manifest ${tag}`),
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        size: 100,
        configDigest: sha256(`config ${tag}`),
      });
      // A protected alias refuses a version that has no approvals: no version, no manifest, no move.
      const gated = {
        version: newVersion('oci', { w: 'o1' }),
        manifest: manifest('1'),
        alias: { alias: 'production', action: 'set' as const, policy: ONE_APPROVAL },
      };
      await refused(r, () => s.pushManifest(gated, alice), 403, 'POLICY_UNMET');
      assert.equal(s.getModel('oci'), undefined);
      assert.equal(s.getManifest('oci', manifest('1').digest), undefined);

      const push = {
        version: newVersion('oci', { w: 'o1' }),
        manifest: manifest('1'),
        alias: { alias: 'staging', action: 'set' as const, reason: 'OCI push' },
      };
      const { result } = await mutation(r, () => s.pushManifest(push, alice), {
        action: 'manifest.push',
        target: 'oci@v1',
        change: { model: 'oci', kind: 'alias', alias: 'staging' },
      });
      assert.equal(result.created, true);
      assert.equal(s.getVersion('oci', 1)?.digest, push.version.digest);
      assert.equal(s.getManifest('oci', manifest('1').digest)?.version, 1);
      assert.equal(s.getAlias('oci', 'staging')?.version, 1);
      assert.deepEqual(
        s.blobReferences(manifest('1').configDigest),
        [{ name: 'oci', version: 1 }],
        'the config blob belongs to the version',
      );
      const entry = s.auditEntries(s.currentSeq(), 1)[0]!;
      assert.deepEqual(
        (entry.details.steps as { action: string }[]).map((step) => step.action),
        ['version.register', 'alias.set'],
      );
      // The tables the compound entry wrote agree with the log, step by step.
      const verified = verifyAudit(s);
      assert.equal(verified.ok, true, JSON.stringify(verified.firstBad));
      // Watchers get a message for each step they follow; an audit query by action finds the steps inside.
      assert.deepEqual(
        changeMessages(entry, s).map((m) => [m.action, m.version, m.alias ?? null]),
        [
          ['version.register', 1, null],
          ['alias.set', 1, 'staging'],
        ],
      );
      const byAction = new AuditLog(s).query({ fromSeq: entry.seq, toSeq: entry.seq, limit: 10, action: 'alias' });
      assert.deepEqual(
        byAction.entries.map((e) => e.seq),
        [entry.seq],
      );

      await noop(r, () => s.pushManifest(push, alice));
      // The same files under another manifest, to v1 by number: only the manifest is new.
      await mutation(r, () => s.pushManifest({ version: { ...push.version, number: 1 }, manifest: manifest('2') }, alice), {
        action: 'manifest.push',
        target: 'oci@v1',
      });
      await refused(
        r,
        () => s.pushManifest({ version: { ...push.version, number: 2 }, manifest: manifest('3') }, alice),
        400,
        'MANIFEST_INVALID',
      );
      await refused(
        r,
        () => s.pushManifest({ version: newVersion('oci', { w: 'o2' }), manifest: manifest('1') }, alice),
        409,
        'MANIFEST_CONFLICT',
      );
      assert.equal(s.getModel('oci')?.latestVersion, 1, 'the refused push registered nothing');
    });

    test('rollback bookkeeping: the alias history records each move with from, to, action, actor and reason', async () => {
      const r = await fresh();
      const s = r.store;
      for (let i = 1; i <= 3; i++) await mutation(r, () => s.registerVersion(newVersion('fraud', { w: `f${i}` }), alice));
      await mutation(r, () => s.moveAlias(move('fraud', 'production', 1), alice));
      await mutation(r, () => s.moveAlias(move('fraud', 'canary', 2), alice));
      await mutation(r, () => s.moveAlias(move('fraud', 'production', 2, { reason: 'release 2' }), alice));
      await mutation(r, () => s.moveAlias(move('fraud', 'production', 3), bob));
      const back = await mutation(
        r,
        () => s.moveAlias(move('fraud', 'production', 2, { action: 'rollback', expected: 3, reason: 'latency' }), carol),
        {
          action: 'alias.rollback',
          target: 'fraud@production',
        },
      );
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
      assert.deepEqual(
        history.map((e) => e.seq),
        [...history.map((e) => e.seq)].sort((a, b) => a - b),
        'in sequence order',
      );
      assert.ok(history.every((e) => e.name === 'fraud' && e.alias === 'production' && typeof e.at === 'string'));
      // The registry's next rollback target is computed from this history: back to v1, skipping the rollback.
      assert.equal(previousDeployment(history, 2), 1);
      assert.deepEqual(
        s.modelAliasEvents('fraud').map((e) => `${e.alias}:${e.to}`),
        ['canary:2', 'production:1', 'production:2', 'production:3', 'production:2'],
      );
      assert.deepEqual(s.aliasHistory('fraud', 'nothing'), []);
      // The gate's rollback rule reads the same events newest first, stopping where it likes.
      assert.deepEqual([...s.aliasEventsNewestFirst('fraud', 'production')], [...history].reverse());
      assert.deepEqual(
        [...s.aliasEventsNewestFirst('fraud', 'canary')].map((e) => e.to),
        [2],
      );
      assert.deepEqual([...s.aliasEventsNewestFirst('fraud', 'nothing')], []);
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

      await mutation(r, () => s.deleteVersion('del', 3, 'unused', bob), {
        action: 'version.delete',
        target: 'del@v3',
        change: { model: 'del', kind: 'version', version: 3 },
      });
      assert.equal(s.getVersion('del', 3), undefined);
      assert.equal(s.getVersionByDigest('del', v3.digest), undefined);
      assert.equal(s.isBlobReferenced(sha256('d3-unique')), false);
      assert.deepEqual(s.blobReferences(sha256('d3-extra')), []);
      assert.deepEqual(
        s.listVersions('del', undefined, 10).items.map((v) => v.version),
        [1, 2],
      );
      await refused(r, () => s.deleteVersion('del', 3, 'again', bob), 404, 'VERSION_NOT_FOUND');
      // Numbers are never reused: the same files come back as a new version.
      const again = await mutation(r, () => s.registerVersion(v3, alice));
      assert.equal(again.version.version, 4);
    });

    test('stacks: components pinned, indexed at commit, kept from deletion, and their state gates the stack', async () => {
      const r = await fresh();
      const s = r.store;
      const base = (await s.registerVersion(newVersion('llm/base', { w: 'base-1' }), alice)).version;
      const lora = (await s.registerVersion(newVersion('llm/lora', { a: 'lora-1' }), alice)).version;
      const inner = (await mutation(r, () => s.registerVersion(newStack('llm/tuned', {}, { base, adapter: lora }), alice))).version;
      assert.deepEqual(Object.keys(inner.components!).sort(), ['adapter', 'base']);
      assert.deepEqual(inner.files, []);
      const outer = (
        await mutation(
          r,
          () => s.registerVersion(newStack('app/assistant', { 'prompt.txt': 'You help.' }, { model: inner, base }), alice),
          {
            action: 'version.register',
          },
        )
      ).version;
      assert.equal(outer.components!.model!.digest, inner.digest);
      // The same stack registered again is the same version.
      await noop(r, () => s.registerVersion(newStack('app/assistant', { 'prompt.txt': 'You help.' }, { model: inner, base }), alice));
      // The reverse index, maintained at commit time.
      assert.deepEqual(
        s.stacksContaining('llm/base', 1).sort((a, b) => a.name.localeCompare(b.name)),
        [
          { name: 'app/assistant', version: 1, component: 'base' },
          { name: 'llm/tuned', version: 1, component: 'base' },
        ],
      );
      assert.deepEqual(s.stacksContaining('llm/tuned', 1), [{ name: 'app/assistant', version: 1, component: 'model' }]);
      assert.deepEqual(s.stacksContaining('app/assistant', 1), []);

      // A pin whose version is gone (or never was) is refused inside the commit, naming the component.
      const ghost = { ...base, version: 9 };
      const err = await refused(r, () => s.registerVersion(newStack('app/ghost', {}, { base: ghost }), alice), 400, 'COMPONENT_NOT_FOUND');
      assert.match(err.message, /component "base"/);
      assert.equal(s.getModel('app/ghost'), undefined);

      // A component of a stack cannot be deleted; the refusal names the stacks.
      const inUse = await refused(r, () => s.deleteVersion('llm/lora', 1, 'cleanup', bob), 409, 'VERSION_IN_USE');
      assert.match(inUse.message, /llm\/tuned@v1 \(as "adapter"\)/);
      // Deleting the outer stack releases its pins; then the inner one can go, then the components.
      await mutation(r, () => s.deleteVersion('app/assistant', 1, 'cleanup', bob));
      assert.deepEqual(s.stacksContaining('llm/tuned', 1), []);
      assert.deepEqual(s.stacksContaining('llm/base', 1), [{ name: 'llm/tuned', version: 1, component: 'base' }]);

      // The gate: a stack whose component is rejected cannot take a protected alias; with
      // requireComponents each component must meet the policy itself, named in the refusal.
      const strict = { ...ONE_APPROVAL, requireComponents: true };
      const noop2 = () => undefined;
      await s.recordApproval('llm/tuned', 1, 'approve', undefined, bob, noop2);
      const gate = await refused(r, () => s.moveAlias(move('llm/tuned', 'production', 1, { policy: strict }), carol), 403, 'POLICY_UNMET');
      const details = gate.details as { code: string; component?: string; cause?: string }[];
      assert.deepEqual(
        details.map((d) => [d.code, d.component, d.cause]),
        [
          ['COMPONENT', 'adapter', 'APPROVALS'],
          ['COMPONENT', 'base', 'APPROVALS'],
        ],
      );
      await s.recordApproval('llm/base', 1, 'approve', undefined, bob, noop2);
      await s.recordApproval('llm/lora', 1, 'approve', undefined, bob, noop2);
      await mutation(r, () => s.moveAlias(move('llm/tuned', 'production', 1, { policy: strict }), carol));
      await s.moveAlias(move('llm/tuned', 'production', null), carol);
      // The rejection flags the stack above in the same commit: one sequence number, one audit
      // entry whose steps include the flag on the stack, an event in the stack's history.
      await mutation(r, () => s.recordApproval('llm/lora', 1, 'reject', undefined, carol, noop2), {
        action: 'version.reject',
        target: 'llm/lora@v1',
        change: { model: 'llm/lora', kind: 'version', version: 1 },
      });
      assertFlagged(r, 'llm/lora@v1', 'rejected', [['llm/tuned@v1', 'adapter']]);
      const flagged = await refused(
        r,
        () => s.moveAlias(move('llm/tuned', 'production', 1, { policy: ONE_APPROVAL }), carol),
        403,
        'POLICY_UNMET',
      );
      assert.match(flagged.message, /component adapter \(llm\/lora@v1\): version is rejected/);
      // An unprotected alias still may.
      await mutation(r, () => s.moveAlias(move('llm/tuned', 'staging', 1), carol));

      // Retiring a component flags every stack above it, through nested stacks too, in the same commit.
      await mutation(r, () => s.registerVersion(newStack('app/outer', {}, { model: inner }), alice));
      await mutation(r, () => s.retireVersion('llm/base', 1, 'CVE', carol), {
        action: 'version.retire',
        target: 'llm/base@v1',
        change: { model: 'llm/base', kind: 'version', version: 1 },
      });
      assertFlagged(r, 'llm/base@v1', 'retired', [
        ['llm/tuned@v1', 'base'],
        ['app/outer@v1', 'model/base'],
      ]);
      // A retire repeated commits nothing and flags nothing again.
      await noop(r, () => s.retireVersion('llm/base', 1, 'CVE', carol));

      // A component retired after the registry looked is refused inside the commit.
      await refused(r, () => s.registerVersion(newStack('app/late', {}, { base }), alice), 400, 'COMPONENT_RETIRED');
    });

    test('lineage: the parent must exist, and parents and datasets are indexed at commit', async () => {
      const r = await fresh();
      const s = r.store;
      const dataset = { name: 'corpus', digest: sha256('corpus'), uri: 's3://data/corpus' };
      await refused(
        r,
        () => s.registerVersion(newVersion('lin/child', { w: 'c1' }, { lineage: { parent: 'lin/base@v1' } }), alice),
        400,
        'LINEAGE_PARENT_NOT_FOUND',
      );
      await s.registerVersion(newVersion('lin/base', { w: 'b1' }, { lineage: { datasets: [dataset] } }), alice);
      await mutation(r, () => s.registerVersion(newVersion('lin/child', { w: 'c1' }, { lineage: { parent: 'lin/base@v1' } }), alice));
      assert.deepEqual(s.lineageChildren('lin/base', 1), [{ name: 'lin/child', version: 1 }]);
      assert.deepEqual(s.datasetReferences(dataset.digest), [{ name: 'lin/base', version: 1 }]);
      assert.deepEqual(s.datasetReferences('s3://data/corpus'), [{ name: 'lin/base', version: 1 }]);
      // An edit moves the index entries with the record.
      await mutation(r, () => s.updateVersion('lin/base', 1, { lineage: { datasets: [{ uri: 's3://data/other' }] } }, alice));
      assert.deepEqual(s.datasetReferences(dataset.digest), []);
      assert.deepEqual(s.datasetReferences('s3://data/other'), [{ name: 'lin/base', version: 1 }]);
      await refused(
        r,
        () => s.updateVersion('lin/child', 1, { lineage: { parent: 'lin/base@v7' } }, alice),
        400,
        'LINEAGE_PARENT_NOT_FOUND',
      );
      await mutation(r, () => s.deleteVersion('lin/child', 1, 'cleanup', bob));
      assert.deepEqual(s.lineageChildren('lin/base', 1), []);
    });

    test('tokens: create, refuse a duplicate, revoke once', async () => {
      const r = await fresh();
      const s = r.store;
      const id = unique('tok');
      await mutation(r, () => s.createToken(token(id), alice), {
        action: 'token.create',
        target: `token:${id}`,
        change: { model: '', kind: 'token' },
      });
      assert.equal(s.getToken(id)?.revokedAt, null);
      assert.deepEqual(
        s.listTokens().map((t) => t.id),
        [id],
      );
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
      assert.deepEqual(
        s.auditEntries(2, 10).map((e) => e.seq),
        [2],
      );
    });

    test('checkpoint: nothing on an empty log; signs the head once; nothing again until the chain moves', async () => {
      const r = await fresh();
      const s = r.store;
      const { privateKey, publicKey } = generateKeyPairSync('ed25519');
      const keyId = keyIdOf(publicKey);
      const sign = (head: { seq: number; hash: string; at: string }) => signCheckpoint({ ...head, keyId }, privateKey);
      assert.deepEqual(await s.checkpoint(sign, alice), { checkpoint: null, created: false });
      await s.appendAudit('gc.run', 'blobs', {}, alice);
      const head = s.auditHead();
      const first = await mutation(r, () => s.checkpoint(sign, alice), {
        action: CHECKPOINT_ACTION,
        target: 'audit',
        change: { model: '', kind: 'audit' },
      });
      assert.equal(first.created, true);
      assert.equal(first.checkpoint!.seq, head.seq);
      assert.equal(first.checkpoint!.hash, head.hash);
      assert.ok(checkpointSignatureValid(first.checkpoint!, publicKey));
      assert.deepEqual(s.lastCheckpoint(), { entrySeq: head.seq + 1, checkpoint: first.checkpoint });
      // The checkpoint's own entry is not a move of the chain.
      const again = await s.checkpoint(sign, alice);
      assert.deepEqual(again, { checkpoint: first.checkpoint, created: false });
      assert.equal(s.currentSeq(), head.seq + 1);
      await s.appendAudit('gc.run', 'blobs', {}, alice);
      const second = await s.checkpoint(sign, alice);
      assert.equal(second.created, true);
      assert.equal(second.checkpoint!.seq, head.seq + 2);
      assert.equal(verifyAuditChain(s, { publicKey: (id) => (id === keyId ? publicKey : undefined) }).checkpoints!.verified, 2);
    });

    test('acquireLease: one caller of many gets a free lease; it is held until it expires, then free again; nothing audited', async () => {
      const r = await fresh();
      const s = r.store;
      const name = unique('lease');
      const won = await Promise.all([1, 2, 3, 4].map(() => s.acquireLease(name, 300)));
      assert.deepEqual(won.filter(Boolean).length, 1);
      assert.equal(await s.acquireLease(name, 300), false);
      assert.equal(await s.acquireLease(`${name}-other`, 300), true, 'leases are by name');
      await new Promise((resolve) => setTimeout(resolve, 400));
      assert.equal(await s.acquireLease(name, 60_000), true, 'an expired lease is free');
      assert.equal(await s.acquireLease(name, 60_000), false);
      assert.equal(s.currentSeq(), 0, 'a lease is not a registry mutation');
      if (r.opened.authority) assert.equal(await r.opened.authority.seq(), 0);
      assert.equal(r.changes.length, 0);
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

    test('webhook endpoints: create, rotate and delete are audited commits; no secret enters the audit log', async () => {
      const r = await fresh();
      const s = r.store;
      const id = unique('wh');
      const created = await mutation(r, () => s.createWebhook(webhookInput(id, 'whsec_first'), alice), {
        action: 'webhook.create',
        target: `webhook:${id}`,
        change: { model: '', kind: 'webhook' },
      });
      assert.deepEqual(
        created.secrets.map((x) => x.secret),
        ['whsec_first'],
      );
      assert.deepEqual(s.getWebhook(id), created);
      await refused(r, () => s.createWebhook(webhookInput(id, 'whsec_again'), alice), 409, 'WEBHOOK_EXISTS');
      const until = new Date(Date.now() + 60_000).toISOString();
      const rotated = await mutation(r, () => s.rotateWebhook(id, 'whsec_second', until, alice), { action: 'webhook.rotate' });
      assert.deepEqual(
        rotated.secrets.map((x) => [x.secret, x.expiresAt]),
        [
          ['whsec_first', until],
          ['whsec_second', null],
        ],
      );
      await refused(r, () => s.rotateWebhook('wh_none', 'whsec_x', until, alice), 404, 'WEBHOOK_NOT_FOUND');
      await mutation(r, () => s.deleteWebhook(id, alice), { action: 'webhook.delete' });
      assert.equal(s.getWebhook(id), undefined);
      assert.deepEqual(s.listWebhooks(), []);
      await refused(r, () => s.deleteWebhook(id, alice), 404, 'WEBHOOK_NOT_FOUND');
      const log = JSON.stringify(s.auditEntries(1, 100));
      assert.ok(!log.includes('whsec_'), 'no secret in the audit log');
    });

    test('the outbox entry of a change is written in its commit, naming the endpoints that want it; refusals write none', async () => {
      const r = await fresh();
      const s = r.store;
      await s.createWebhook({ ...webhookInput('wh_all', 'whsec_a'), events: ['*'] }, alice);
      await s.createWebhook({ ...webhookInput('wh_alias', 'whsec_b'), events: ['alias.*'], scope: 'risk/*' }, alice);
      assert.deepEqual(
        s.outboxEntries(0, 10).map((e) => [e.type, e.target, e.endpoints]),
        [['webhook.create', 'webhook:wh_alias', ['wh_all']]],
        "an endpoint's own creation is not sent to it; the next one's is",
      );
      const afterSetup = s.currentSeq();
      // What a listener reads while the change is emitted (answered from the change's own writes)
      // must be what the store holds: the webhook worker and the watch feed read these then.
      const duringEmit = new Map<number, { outbox: unknown; audit: unknown }>();
      s.onChange((c) => duringEmit.set(c.seq, { outbox: s.outboxEntryAt(c.seq), audit: s.auditEntries(c.seq, 1)[0] }));

      const v = await mutation(r, () => s.registerVersion(newVersion('risk/m', { w: 'o1' }), alice));
      const moved = await mutation(r, () => s.moveAlias(move('risk/m', 'staging', 1, { reason: 'why' }), bob));
      await mutation(r, () => s.registerVersion(newVersion('other', { w: 'o2' }), alice));
      await mutation(r, () => s.moveAlias(move('other', 'staging', 1), bob));
      await mutation(r, () => s.createToken(token(unique('t')), alice));
      await refused(r, () => s.moveAlias(move('risk/m', 'staging', 9), bob), 404, 'VERSION_NOT_FOUND');

      const outbox = s.outboxEntries(afterSetup, 100);
      assert.deepEqual(
        outbox.map((e) => [e.type, e.model, e.endpoints]),
        [
          ['version.register', 'risk/m', ['wh_all']],
          ['alias.set', 'risk/m', ['wh_alias', 'wh_all']],
          ['version.register', 'other', ['wh_all']],
          ['alias.set', 'other', ['wh_all']],
          ['token.create', '', ['wh_all']],
        ],
      );
      const aliasEntry = outbox[1]!;
      assert.equal(aliasEntry.seq, moved.result.seq);
      assert.deepEqual(aliasEntry.actor, bob);
      assert.deepEqual(aliasEntry.data, s.auditEntries(aliasEntry.seq, 1)[0]!.details, "the event's data is its audit entry's details");
      assert.deepEqual([aliasEntry.data.from, aliasEntry.data.to, aliasEntry.data.reason], [null, 1, 'why']);
      assert.equal(outbox[0]!.seq, v.version.seq);
      for (const e of outbox)
        assert.deepEqual(e, { ...e, at: s.auditEntries(e.seq, 1)[0]!.at, target: s.auditEntries(e.seq, 1)[0]!.target });
      assert.deepEqual(
        s.outboxEntries(outbox[2]!.seq, 2).map((e) => e.seq),
        [outbox[3]!.seq, outbox[4]!.seq],
      );
      for (const e of outbox) assert.deepEqual(s.outboxEntryAt(e.seq), e);
      assert.equal(s.outboxEntryAt(outbox[4]!.seq + 1), undefined, 'no change, no outbox entry');
      assert.equal(duringEmit.size, outbox.length, 'each committed change was emitted once');
      for (const [seq, seen] of duringEmit) {
        assert.deepEqual(seen.outbox, s.outboxEntryAt(seq), `outbox entry of ${seq} while emitted`);
        assert.deepEqual(seen.audit, s.auditEntries(seq, 1)[0], `audit entry of ${seq} while emitted`);
      }

      const reopened = await r.opened.reopen();
      assert.deepEqual(reopened.store.outboxEntries(afterSetup, 100), outbox, 'the outbox survives a restart');
    });

    test('attachSignature: an audited commit per new signature; the same id again writes nothing; kept across a reopen', async () => {
      const r = await fresh();
      const s = r.store;
      await s.registerVersion(newVersion('signed', { w: 'sg1' }), alice);
      const before = s.getVersion('signed', 1)!;
      const input = {
        id: `sha256:${'a'.repeat(64)}`,
        name: 'signed',
        version: 1,
        keyId: '0123456789abcdef',
        rootDigest: 'b'.repeat(64),
        modelName: 'm',
        bundle: { mediaType: 'x' },
      };
      const first = await mutation(r, () => s.attachSignature(input, bob), {
        action: 'version.sign',
        target: 'signed@v1',
        change: { model: 'signed', kind: 'version', version: 1 },
      });
      assert.equal(first.created, true);
      assert.equal(first.signature.addedBy, 'bob');
      const again = await noop(r, () => s.attachSignature(input, alice));
      assert.equal(again.created, false);
      assert.deepEqual(again.signature, first.signature);
      assert.deepEqual(s.getVersion('signed', 1), before, 'the version record (and its approvals) are untouched');
      await refused(r, () => s.attachSignature({ ...input, version: 7 }, bob), 404, 'VERSION_NOT_FOUND');
      const reopened = await r.opened.reopen();
      assert.deepEqual(reopened.store.listSignatures('signed', 1), [first.signature]);
    });

    test('shared table: create refuses an existing key; swap replaces only the row it expects; rows survive a reopen, writing nothing to the registry', async () => {
      const r = await fresh();
      const t = r.store.sharedTable<{ offset: number; parts: string[] }>('conformance');
      const before = await snapshot(r);
      const row = { offset: 0, parts: [] as string[] };
      assert.equal(await t.get('s1'), undefined);
      assert.equal(await t.create('s1', row), true);
      assert.equal(await t.create('s1', { offset: 9, parts: [] }), false, 'an existing key is not overwritten');
      assert.deepEqual(await t.get('s1'), row);
      const next = { offset: 5, parts: ['a'] };
      // Two writers that read the same row: exactly one swap wins, whichever is first.
      const results = await Promise.all([t.swap('s1', row, next), t.swap('s1', row, { offset: 7, parts: ['b'] })]);
      assert.deepEqual(results, [true, false]);
      assert.deepEqual(await t.get('s1'), next);
      assert.equal(await t.swap('s1', row, { offset: 1, parts: [] }), false, 'a stale expectation loses');
      assert.equal(await t.swap('gone', row, next), false, 'a missing row is not created by a swap');
      assert.equal(await t.get('gone'), undefined);
      await t.create('s2', { offset: 1, parts: [] });
      const seen: Record<string, unknown> = {};
      for await (const { key, value } of t.entries()) seen[key] = value;
      assert.deepEqual(seen, { s1: next, s2: { offset: 1, parts: [] } });
      await t.remove('s2');
      assert.equal(await t.get('s2'), undefined);
      await assertNothingWritten(r, before);
      const reopened = await r.opened.reopen();
      assert.deepEqual(await reopened.store.sharedTable('conformance').get('s1'), next);
    });

    test('delivery queue: enqueue is idempotent and the cursor only moves up; a claim hides a delivery until settled or its lease ends', async () => {
      const r = await fresh();
      const q = r.store.deliveryQueue();
      assert.equal(await q.cursor(), 0);
      const at = new Date(Date.now() - 1000).toISOString();
      const d1 = newDelivery({ seq: 5, at, type: 'alias.set' }, 'wh_a');
      const d2 = newDelivery({ seq: 7, at, type: 'version.register' }, 'wh_a');
      const d3 = newDelivery({ seq: 7, at, type: 'version.register' }, 'wh_b');
      await q.enqueue([d1, d2, d3], 7);
      assert.equal(await q.cursor(), 7);
      await q.enqueue([], 3);
      assert.equal(await q.cursor(), 7, 'the cursor never moves down');

      const now = Date.now();
      const [first, second] = await Promise.all([q.claimDue(now, 2, 60_000), q.claimDue(now, 2, 60_000)]);
      const claimed = [...first!, ...second!].map((d) => d.id).sort();
      assert.deepEqual(claimed, [d1.id, d2.id, d3.id].sort(), 'each due delivery claimed exactly once');
      assert.deepEqual(await q.claimDue(now, 10, 60_000), [], 'claimed deliveries are hidden');
      assert.deepEqual(
        (await q.claimDue(now + 61_000, 10, 60_000)).map((d) => d.id).sort(),
        claimed,
        'a lease that ran out makes them due again',
      );

      await q.settle({ ...d1, status: 'delivered', attempts: 1, lastResponseCode: 200, finishedAt: new Date().toISOString() });
      await q.settle({ ...d2, attempts: 1, lastResponseCode: 500, nextAttemptAt: now + 200_000 });
      // A repeat of the enqueue (another node behind the cursor) changes nothing.
      await q.enqueue([newDelivery({ seq: 5, at, type: 'alias.set' }, 'wh_a')], 5);
      assert.equal((await q.get(d1.id))?.status, 'delivered');
      assert.deepEqual(
        (await q.claimDue(now + 130_000, 10, 600_000)).map((d) => d.id),
        [d3.id],
        'delivered is never due; a retry waits for its time',
      );
      assert.deepEqual(
        (await q.claimDue(now + 200_000, 10, 60_000)).map((d) => d.id),
        [d2.id],
      );
      assert.deepEqual(
        (await q.listForEndpoint('wh_a', 10)).map((d) => [d.seq, d.status, d.attempts]),
        [
          [7, 'pending', 1],
          [5, 'delivered', 1],
        ],
      );
      assert.deepEqual(
        (await q.listForEndpoint('wh_a', 1)).map((d) => d.seq),
        [7],
      );
      assert.deepEqual(await q.listForEndpoint('wh_none', 10), []);
      assert.equal(await q.get('msg_404_wh_a'), undefined);
      assert.equal(r.store.currentSeq(), 0, 'the delivery log is not registry state');

      const reopened = await r.opened.reopen();
      const q2 = reopened.store.deliveryQueue();
      assert.equal(await q2.cursor(), 7, 'the cursor survives a restart');
      assert.equal((await q2.get(d1.id))?.status, 'delivered');
    });
  });
}
