// The pure mutation plans (src/domain/plans.ts) on their own: what each one writes, what it
// refuses, and that a refusal writes nothing. The state they read is the real LMDB replica
// (src/index/lmdb-state.ts) in a temporary directory; a plan's writes are applied to it the way
// the LMDB control store applies them, in one transaction.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { GENESIS_HASH } from '../src/domain/audit-chain.js';
import { verifyAuditChain } from '../src/domain/audit-verify.js';
import { auditSteps } from '../src/domain/audit-steps.js';
import { DomainError, forbidden } from '../src/domain/errors.js';
import type { NewVersion } from '../src/domain/mutations.js';
import type { AliasPolicy } from '../src/domain/policy.js';
import { recordDigest } from '../src/domain/record-digest.js';
import * as plans from '../src/domain/plans.js';
import { planCreateWebhook } from '../src/domain/webhook-plans.js';
import type { Actor, FileEntry, Version } from '../src/domain/types.js';
import { stackDigest } from '../src/domain/stack.js';
import { sortFiles, versionDigest } from '../src/domain/version-digest.js';
import type { Plan } from '../src/domain/writes.js';
import { LmdbState } from '../src/index/lmdb-state.js';
import { token } from './conformance/control-store.js';

const alice: Actor = { id: 'tok-alice', name: 'alice' };
const bob: Actor = { id: 'tok-bob', name: 'bob' };
const record = { metadata: {}, lineage: {}, metrics: {}, card: {} };

let dir: string;
let state: LmdbState;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'modelgate-plans-'));
  state = new LmdbState(dir);
});
after(async () => {
  await state.close();
  rmSync(dir, { recursive: true, force: true });
});

async function commit<R>(plan: Plan<R>): Promise<Plan<R>> {
  await state.transaction(() => state.apply(plan.writes));
  return plan;
}

function newVersion(name: string, content: string, extra: Partial<NewVersion> = {}): NewVersion {
  const files: FileEntry[] = sortFiles([
    { path: 'w.bin', size: content.length, digest: `sha256:${Buffer.from(content).toString('hex').padEnd(64, '0').slice(0, 64)}` },
  ]);
  return { name, files, digest: versionDigest(files), size: content.length, record, ...extra };
}

/** A stack of `components` with no files of its own, pinned as the registry freezes them. */
function newStack(name: string, components: Record<string, Version>): NewVersion {
  const pins = Object.fromEntries(
    Object.entries(components).map(([c, v]) => [c, { name: v.name, version: v.version, digest: v.digest, ref: `${v.name}@v${v.version}` }]),
  );
  return { name, files: [], digest: stackDigest([], pins), size: 0, record, components: pins };
}

/** Runs `fn`, expects it to throw a DomainError with `code`, and checks the state did not move. */
function refuses(fn: () => unknown, code: string): void {
  const before = state.auditHead();
  assert.throws(fn, (err: unknown) => err instanceof DomainError && err.code === code);
  assert.deepEqual(state.auditHead(), before, 'a refused plan changes nothing');
}

describe('domain plans', () => {
  test('every plan bumps the sequence by one and chains one audit entry to the previous', async () => {
    const plan = await commit(plans.planCreateModel(state, 'team/a', { description: 'd', owner: 'o', tags: ['t'] }, alice));
    assert.equal(plan.result.seq, 1);
    assert.deepEqual(plan.change, { seq: 1, model: 'team/a', kind: 'model' });
    const [entry] = state.auditEntries(1, 1);
    assert.equal(entry?.prevHash, GENESIS_HASH);
    assert.equal(entry?.action, 'model.create');
    assert.equal(state.currentSeq(), 1);

    const update = await commit(plans.planUpdateModel(state, 'team/a', { description: 'e' }, bob));
    assert.equal(update.result.seq, 2);
    assert.equal(state.auditEntries(2, 1)[0]?.prevHash, entry?.hash);
    assert.equal(state.getModel('team/a')?.description, 'e');
    assert.deepEqual(verifyAuditChain(state).ok, true);
  });

  test('a model is created once', () => {
    refuses(() => plans.planCreateModel(state, 'team/a', { description: '', owner: '', tags: [] }, alice), 'MODEL_EXISTS');
    refuses(() => plans.planUpdateModel(state, 'team/missing', { description: '' }, alice), 'MODEL_NOT_FOUND');
  });

  test('registering numbers versions, references blobs, and returns an identical file list unchanged', async () => {
    const first = await commit(plans.planRegisterVersion(state, newVersion('team/a', 'one'), alice));
    assert.equal(first.result.created, true);
    assert.equal(first.result.version.version, 1);
    assert.equal(first.result.version.createdById, alice.id);
    assert.deepEqual(state.blobReferences(first.result.version.files[0]!.digest), [{ name: 'team/a', version: 1 }]);

    const again = plans.planRegisterVersion(state, newVersion('team/a', 'one'), bob);
    assert.equal(again.result.created, false);
    assert.equal(again.result.version.version, 1);
    assert.deepEqual(again.writes, [], 'an idempotent repeat writes nothing');
    assert.equal(again.change, undefined);

    const second = await commit(plans.planRegisterVersion(state, newVersion('team/a', 'two', { number: 2 }), alice));
    assert.equal(second.result.version.version, 2);
    refuses(() => plans.planRegisterVersion(state, newVersion('team/a', 'three', { number: 2 }), alice), 'VERSION_NUMBER_TAKEN');
  });

  test('registering into a new model creates it, owned by the registrant', async () => {
    const plan = await commit(plans.planRegisterVersion(state, newVersion('team/fresh', 'x'), bob));
    assert.equal(plan.result.version.version, 1);
    assert.equal(state.getModel('team/fresh')?.owner, 'bob');
    assert.equal(state.getModel('team/fresh')?.latestVersion, 1);
  });

  test("approvals run the caller's check first and move the status", async () => {
    refuses(
      () =>
        plans.planApproval(state, 'team/a', 1, 'approve', undefined, alice, () => {
          throw forbidden('SEPARATION_OF_DUTIES', 'no');
        }),
      'SEPARATION_OF_DUTIES',
    );
    const approved = await commit(plans.planApproval(state, 'team/a', 1, 'approve', 'ok', bob, () => undefined));
    assert.equal(approved.result.version.status, 'approved');
    assert.equal(state.listApprovals('team/a', 1).length, 1);
    const rejected = await commit(plans.planApproval(state, 'team/a', 2, 'reject', undefined, bob, () => undefined));
    assert.equal(rejected.result.version.status, 'rejected');
    refuses(() => plans.planApproval(state, 'team/a', 9, 'approve', undefined, bob, () => undefined), 'VERSION_NOT_FOUND');
  });

  test('alias moves: compare-and-set, gates, no-op repeats and protected aliases', async () => {
    const OPEN: AliasPolicy = { approvals: 0, separationOfDuties: false, requiredCardFields: [], metrics: [] };
    const set = await commit(
      plans.planMoveAlias(state, { name: 'team/a', alias: 'prod', to: 1, action: 'set', expected: null, policy: OPEN }, alice),
    );
    assert.equal(set.result.changed, true);
    assert.equal(set.result.previous, null);
    assert.deepEqual(state.getVersion('team/a', 1)?.protectedAliases, ['prod'], 'a protected alias marks the version it held');

    refuses(
      () => plans.planMoveAlias(state, { name: 'team/a', alias: 'prod', to: 2, action: 'set', expected: null, policy: OPEN }, alice),
      'ALIAS_CONFLICT',
    );
    // v2 was rejected: the plan runs the gate itself, so any policy refuses it.
    refuses(() => plans.planMoveAlias(state, { name: 'team/a', alias: 'prod', to: 2, action: 'set', policy: OPEN }, alice), 'POLICY_UNMET');
    refuses(
      () => plans.planMoveAlias(state, { name: 'team/a', alias: 'prod', to: 7, action: 'set', policy: OPEN }, alice),
      'VERSION_NOT_FOUND',
    );
    refuses(() => plans.planMoveAlias(state, { name: 'team/a', alias: 'gone', to: null, action: 'delete' }, alice), 'ALIAS_NOT_FOUND');

    const same = plans.planMoveAlias(state, { name: 'team/a', alias: 'prod', to: 1, action: 'set', policy: OPEN }, alice);
    assert.equal(same.result.changed, false);
    assert.deepEqual(same.writes, []);

    const moved = await commit(
      plans.planMoveAlias(state, { name: 'team/a', alias: 'prod', to: 2, action: 'set', expected: 1, reason: 'r' }, alice),
    );
    assert.deepEqual(moved.change, { seq: moved.result.seq, model: 'team/a', kind: 'alias', alias: 'prod' });
    const history = state.aliasHistory('team/a', 'prod');
    assert.deepEqual(
      history.map((e) => [e.from, e.to, e.reason]),
      [
        [null, 1, undefined],
        [1, 2, 'r'],
      ],
    );
  });

  test('an edit voids the approvals of the old record; rejection and retirement are final', async () => {
    const before = state.getVersion('team/a', 1)!;
    assert.equal(before.status, 'approved');
    assert.equal(state.listApprovals('team/a', 1)[0]?.recordDigest, recordDigest(before));
    let seen: [string, string] | undefined;
    const edited = await commit(
      plans.planUpdateVersion(state, 'team/a', 1, { card: { intendedUse: 'changed' } }, alice, (b, a) => {
        seen = [b.status, a.status];
        return undefined;
      }),
    );
    assert.deepEqual(seen, ['approved', 'registered']);
    assert.equal(edited.result.status, 'registered');
    assert.equal(edited.result.recordDigest, recordDigest(edited.result));
    const entry = state.auditEntries(edited.change!.seq, 1)[0]!;
    assert.deepEqual(entry.details.recordDigest, { before: recordDigest(before), after: recordDigest(edited.result) });
    assert.deepEqual(entry.details.approvalsVoided, [state.listApprovals('team/a', 1)[0]!.seq]);

    const rejectedEdit = await commit(plans.planUpdateVersion(state, 'team/a', 2, { metrics: { auc: { value: 0.9 } } }, alice));
    assert.equal(rejectedEdit.result.status, 'rejected', 'an edit never undoes a rejection');
    refuses(() => plans.planApproval(state, 'team/a', 2, 'approve', undefined, bob, () => undefined), 'VERSION_REJECTED');

    refuses(() => plans.planRetireVersion(state, 'team/a', 2, 'r', alice), 'VERSION_IN_USE');
    const retired = await commit(plans.planRetireVersion(state, 'team/a', 1, 'superseded', alice));
    assert.equal(retired.result.status, 'retired');
    assert.deepEqual(plans.planRetireVersion(state, 'team/a', 1, 'again', alice).writes, [], 'retiring twice writes nothing');
    refuses(() => plans.planMoveAlias(state, { name: 'team/a', alias: 'dev', to: 1, action: 'set' }, alice), 'POLICY_UNMET');
    refuses(() => plans.planUpdateVersion(state, 'team/a', 1, { card: {} }, alice), 'VERSION_RETIRED');
  });

  test('a version is deleted only when no alias holds it and none protected ever did', async () => {
    refuses(() => plans.planDeleteVersion(state, 'team/a', 2, 'r', alice), 'VERSION_IN_USE');
    refuses(() => plans.planDeleteVersion(state, 'team/a', 1, 'r', alice), 'VERSION_RETAINED');
    const v = state.getVersion('team/fresh', 1)!;
    await commit(plans.planDeleteVersion(state, 'team/fresh', 1, 'retention', alice));
    assert.equal(state.getVersion('team/fresh', 1), undefined);
    assert.equal(state.getVersionByDigest('team/fresh', v.digest), undefined);
    assert.equal(state.isBlobReferenced(v.files[0]!.digest), false, 'its blobs lose the reference');
  });

  test('manifests belong to one version and keep their blobs referenced', async () => {
    const digest = `sha256:${'d'.repeat(64)}`;
    const configDigest = `sha256:${'c'.repeat(64)}`;
    const manifest = { digest, mediaType: 'application/vnd.oci.image.manifest.v1+json', size: 10, configDigest };
    const v2 = state.getVersion('team/a', 2)!;
    const asV2: NewVersion = { name: 'team/a', files: v2.files, digest: v2.digest, size: v2.size, record };
    const pushed = await commit(plans.planPushManifest(state, { version: asV2, manifest }, alice));
    assert.equal(pushed.result.created, false, 'these files already were v2');
    assert.equal(state.auditEntries(pushed.change!.seq, 1)[0]!.action, 'manifest.push', 'a single step is logged as it is');
    assert.deepEqual(state.blobReferences(configDigest), [{ name: 'team/a', version: 2 }]);
    assert.deepEqual(
      plans.planPushManifest(state, { version: asV2, manifest }, alice).writes,
      [],
      'the same manifest again writes nothing',
    );
    const v1 = state.getVersion('team/a', 1)!;
    const asV1: NewVersion = { name: 'team/a', files: v1.files, digest: v1.digest, size: v1.size, record };
    refuses(() => plans.planPushManifest(state, { version: asV1, manifest }, alice), 'MANIFEST_CONFLICT');
    refuses(() => plans.planPushManifest(state, { version: { ...asV2, number: 1 }, manifest }, alice), 'MANIFEST_INVALID');
  });

  test('a manifest push is one commit: new version, manifest and alias move under one sequence number, or nothing', async () => {
    const manifest = {
      digest: `sha256:${'e'.repeat(64)}`,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      size: 10,
      configDigest: `sha256:${'f'.repeat(64)}`,
    };
    const gated: AliasPolicy = { approvals: 1, separationOfDuties: false, requiredCardFields: [], metrics: [] };
    const files = newVersion('team/oci', 'oci weights');
    // An endpoint that follows alias moves only: the push's alias step reaches it.
    await commit(
      planCreateWebhook(
        state,
        { id: 'wh_alias', url: 'https://hooks.example/a', events: ['alias.*'], scope: 'team/*', description: '', secret: 'whsec_x' },
        alice,
      ),
    );
    // A new version has no approvals: the gated alias refuses it, and nothing of the push is written.
    refuses(
      () => plans.planPushManifest(state, { version: files, manifest, alias: { alias: 'prod', action: 'set', policy: gated } }, alice),
      'POLICY_UNMET',
    );
    assert.equal(state.getModel('team/oci'), undefined);
    const before = state.currentSeq();
    const pushed = await commit(
      plans.planPushManifest(state, { version: files, manifest, alias: { alias: 'candidate', action: 'set', reason: 'OCI push' } }, alice),
    );
    assert.equal(state.currentSeq(), before + 1, 'one sequence number for the whole push');
    assert.equal(pushed.result.created, true);
    assert.equal(state.getAlias('team/oci', 'candidate')?.version, pushed.result.version.version);
    assert.equal(state.getManifest('team/oci', manifest.digest)?.version, pushed.result.version.version);
    assert.deepEqual(pushed.change, { seq: before + 1, model: 'team/oci', kind: 'alias', alias: 'candidate' });
    const entry = state.auditEntries(before + 1, 1)[0]!;
    assert.equal(entry.action, 'manifest.push');
    assert.deepEqual(
      auditSteps(entry).map((s) => [s.action, s.target, s.seq]),
      [
        ['manifest.push', 'team/oci@v1', before + 1],
        ['version.register', 'team/oci@v1', before + 1],
        ['alias.set', 'team/oci@candidate', before + 1],
      ],
    );
    assert.equal(auditSteps(entry)[0]!.details.steps, undefined, 'the main step is the entry without its list');
    const outbox = state.outboxEntries(before, 10);
    assert.deepEqual(
      outbox.map((o) => [o.seq, o.type, o.endpoints]),
      [[before + 1, 'manifest.push', ['wh_alias']]],
      'one event for the one commit, sent to the endpoint that wants its alias step',
    );
  });

  test("retiring a component flags the stacks above it in its own commit, and their models' webhooks hear of it", async () => {
    await commit(
      planCreateWebhook(
        state,
        {
          id: 'wh_apps',
          url: 'https://hooks.example/apps',
          events: ['version.component-flagged'],
          scope: 'apps/*',
          description: '',
          secret: 'whsec_y',
        },
        alice,
      ),
    );
    const base = (await commit(plans.planRegisterVersion(state, newVersion('vendor/base', 'flag-base'), alice))).result.version;
    const stack = newStack('apps/chat', { base });
    await commit(plans.planRegisterVersion(state, stack, alice));
    const before = state.currentSeq();
    await commit(plans.planRetireVersion(state, 'vendor/base', base.version, 'CVE', bob));
    assert.equal(state.currentSeq(), before + 1, 'one sequence number for the retire and its flag');
    const entry = state.auditEntries(before + 1, 1)[0]!;
    assert.deepEqual(
      auditSteps(entry).map((st) => [st.action, st.target, st.seq]),
      [
        ['version.retire', `vendor/base@v${base.version}`, before + 1],
        ['version.component-flagged', 'apps/chat@v1', before + 1],
      ],
    );
    assert.equal(state.versionHistory('apps/chat', 1).at(-1)!.seq, before + 1);
    // The endpoint is scoped to apps/* and wants only the flag: it gets the retire of a vendor/ model for its step.
    assert.deepEqual(
      state.outboxEntries(before, 10).map((o) => [o.seq, o.type, o.endpoints]),
      [[before + 1, 'version.retire', ['wh_apps']]],
    );
  });

  test('an approval flags no stack; rejecting a component flags the stacks above it in the same commit', async () => {
    const base = (await commit(plans.planRegisterVersion(state, newVersion('vendor/judged', 'judged-base'), alice))).result.version;
    const stack = (await commit(plans.planRegisterVersion(state, newStack('apps/judge', { base }), alice))).result.version;
    const history = () => state.versionHistory(stack.name, stack.version).map((e) => [e.action, e.seq]);
    const approvedAt = (await commit(plans.planApproval(state, base.name, base.version, 'approve', undefined, bob, () => undefined)))
      .change!.seq;
    assert.equal(state.auditEntries(approvedAt, 1)[0]!.details.steps, undefined, 'an approval lists no steps');
    assert.deepEqual(history(), [['register', stack.seq]], 'an approval of a component leaves the stack alone');

    const before = state.currentSeq();
    const rejected = await commit(plans.planApproval(state, base.name, base.version, 'reject', 'leaks', bob, () => undefined));
    assert.equal(rejected.result.version.status, 'rejected');
    assert.equal(state.currentSeq(), before + 1, 'one sequence number for the rejection and its flag');
    const entry = state.auditEntries(before + 1, 1)[0]!;
    assert.deepEqual(
      auditSteps(entry).map((st) => [st.action, st.target, st.seq]),
      [
        ['version.reject', `${base.name}@v${base.version}`, before + 1],
        ['version.component-flagged', `${stack.name}@v${stack.version}`, before + 1],
      ],
    );
    assert.deepEqual(history(), [
      ['register', stack.seq],
      ['component', before + 1],
    ]);
    assert.equal(
      state.versionHistory(stack.name, stack.version).at(-1)!.comment,
      `component base (${base.name}@v${base.version}) is rejected`,
    );
  });

  test('tokens: created once, revoked once', async () => {
    const ci = token('tok-1');
    await commit(plans.planCreateToken(state, ci, alice));
    refuses(() => plans.planCreateToken(state, ci, alice), 'TOKEN_EXISTS');
    const revoked = await commit(plans.planRevokeToken(state, 'tok-1', alice));
    assert.ok(revoked.result.revokedAt);
    assert.deepEqual(plans.planRevokeToken(state, 'tok-1', alice).writes, [], 'a second revocation writes nothing');
    refuses(() => plans.planRevokeToken(state, 'tok-404', alice), 'TOKEN_NOT_FOUND');
  });

  test('after all of it the audit chain verifies and has one entry per sequence number', () => {
    const result = verifyAuditChain(state);
    assert.equal(result.ok, true);
    assert.equal(result.entries, state.currentSeq());
  });
});
