// Step seals (domain/audit-chain.ts): a compound entry's hash covers each step's digest, so a scoped
// reader's partial view (domain/audit-scope.ts) still recomputes; compound entries hashed whole
// before step seals existed keep verifying and are shown whole.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { auditHash, GENESIS_HASH, sealEntry } from '../src/domain/audit-chain.js';
import { scopedView } from '../src/domain/audit-scope.js';
import { auditSteps } from '../src/domain/audit-steps.js';
import { ChainWalk, type ChainLine } from '../src/domain/audit-verify.js';
import type { AuditEntry } from '../src/domain/types.js';

const actor = { id: 'a1', name: 'approver' };
const flag = (stack: string) => ({
  action: 'version.component-flagged',
  target: `${stack}@v1`,
  details: { component: 'base', ref: 'vendor/base@v1', status: 'retired' },
});
const unsealed = (seq: number, prevHash: string) => ({
  seq,
  at: '2026-12-06T10:00:00.000Z',
  actor,
  action: 'version.retire',
  target: 'vendor/base@v1',
  details: { reason: 'CVE-1', steps: [flag('app/one'), flag('other/two')] },
  prevHash,
});
const inApp = (model: string) => model.startsWith('app/');

function walk(lines: ChainLine[]) {
  const w = new ChainWalk();
  for (const line of lines) if (!w.push(line)) break;
  return w.result();
}

describe('step seals', () => {
  test('only an entry that lists other steps is sealed step by step', () => {
    const plain = sealEntry({ ...unsealed(1, GENESIS_HASH), details: { reason: 'x' } });
    assert.equal(plain.seal, undefined);
    const compound = sealEntry(unsealed(1, GENESIS_HASH));
    assert.equal(compound.seal, 'steps');
    assert.equal(walk([plain]).ok, true);
    assert.equal(walk([compound]).ok, true);
  });

  test("a scoped reader's partial view recomputes to the stored hash, and shows nothing of the hidden steps", () => {
    const entry = sealEntry(unsealed(1, GENESIS_HASH));
    const view = scopedView(entry, inApp) as AuditEntry & { partial: boolean; mainDigest: string };
    assert.equal(view.partial, true);
    assert.equal(view.hash, entry.hash);
    assert.equal(view.action, 'redacted');
    assert.ok(!JSON.stringify(view).includes('CVE-1') && !JSON.stringify(view).includes('other/two'));
    assert.deepEqual(
      auditSteps(view).map((s) => s.target),
      ['app/one@v1'],
    );
    const verdict = walk([view]);
    assert.deepEqual([verdict.ok, verdict.partial], [true, 1]);
    // Everything in scope: whole; nothing in scope: its place in the chain.
    assert.equal(
      scopedView(entry, () => true),
      entry,
    );
    assert.deepEqual(Object.keys(scopedView(entry, (m) => m === 'nobody')).sort(), ['hash', 'prevHash', 'redacted', 'seq']);
  });

  test('a compound entry hashed whole (before step seals) still verifies, is shown whole, and cannot be passed off as sealed', () => {
    const legacyFields = unsealed(1, GENESIS_HASH);
    const legacy: AuditEntry = { ...legacyFields, hash: auditHash(legacyFields) };
    assert.equal(walk([legacy]).ok, true);
    assert.equal(scopedView(legacy, inApp), legacy);
    const relabelled = { ...legacy, seal: 'steps' as const };
    assert.equal(walk([relabelled]).ok, false);
    // A partial view claimed for a whole-hashed entry is refused as such.
    const claimed = { ...legacy, partial: true };
    assert.match(walk([claimed]).firstBad?.reason ?? '', /not sealed step by step/);
  });

  test('a shown step changed, a digest swapped or a hidden step dropped fails at that entry', () => {
    const first = sealEntry(unsealed(1, GENESIS_HASH));
    const second = sealEntry(unsealed(2, first.hash));
    const view = scopedView(second, inApp) as AuditEntry & { mainDigest: string };
    const cases: ((v: any) => void)[] = [
      (v) => {
        v.details.steps[0].details.status = 'active';
      },
      (v) => {
        v.mainDigest = `sha256:${'0'.repeat(64)}`;
      },
      (v) => {
        v.details.steps.pop();
      },
    ];
    for (const change of cases) {
      const edited = structuredClone(view);
      change(edited);
      const verdict = walk([scopedView(first, inApp), edited]);
      assert.equal(verdict.ok, false);
      assert.equal(verdict.firstBad?.seq, 2);
    }
  });
});
