// Pure functions on which the routes rely: names, references, file paths, ranges.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decideRange, etagMatches } from '../src/http/range.js';
import { filePathProblem, isAlias, isModelName, parseRef } from '../src/domain/names.js';
import { previousDeployment } from '../src/registry/registry.js';
import { evidenceReason, lastServed } from '../src/domain/retention.js';
import type { AliasEvent, VersionEvent } from '../src/domain/types.js';

test('model names', () => {
  for (const ok of ['fraud', 'team/fraud', 'a.b_c-d/e1', 'x'.repeat(128)]) assert.ok(isModelName(ok), ok);
  for (const bad of ['', 'Fraud', 'a//b', 'a/b/c', 'a-', '-a', 'a..b', 'team/versions', 'x'.repeat(129), 'a@b', 'a b'])
    assert.ok(!isModelName(bad), bad);
});

test('aliases and refs', () => {
  assert.ok(isAlias('production'));
  assert.ok(!isAlias('v7'));
  assert.ok(!isAlias('Prod'));
  assert.deepEqual(parseRef('v7'), { kind: 'version', version: 7 });
  assert.deepEqual(parseRef('canary'), { kind: 'alias', alias: 'canary' });
  assert.equal(parseRef(`sha256:${'a'.repeat(64)}`).kind, 'digest');
  for (const bad of ['v0', 'V1', 'sha256:xyz', `sha256:${'A'.repeat(64)}`, '', '-x']) assert.throws(() => parseRef(bad), bad);
});

test('file paths never escape', () => {
  for (const ok of ['a', 'a/b.c', 'weights/model-00001-of-00002.safetensors', '.hidden']) assert.equal(filePathProblem(ok), null, ok);
  for (const bad of ['', '/etc/passwd', '../x', 'a/../b', 'a/./b', 'a//b', 'a\\b', 'a\u0000b', 'a/', '..'])
    assert.notEqual(filePathProblem(bad), null, bad);
});

test('ranges', () => {
  assert.deepEqual(decideRange('', 10), { kind: 'full' });
  assert.deepEqual(decideRange('bytes=0-0', 10), { kind: 'partial', start: 0, end: 0 });
  assert.deepEqual(decideRange('bytes=2-', 10), { kind: 'partial', start: 2, end: 9 });
  assert.deepEqual(decideRange('bytes=-3', 10), { kind: 'partial', start: 7, end: 9 });
  assert.deepEqual(decideRange('bytes=-30', 10), { kind: 'partial', start: 0, end: 9 });
  assert.deepEqual(decideRange('bytes=5-100', 10), { kind: 'partial', start: 5, end: 9 });
  assert.deepEqual(decideRange('bytes=10-', 10), { kind: 'unsatisfiable' });
  assert.deepEqual(decideRange('bytes=0-0', 0), { kind: 'unsatisfiable' });
  assert.deepEqual(decideRange('bytes=-0', 10), { kind: 'unsatisfiable' });
  assert.deepEqual(decideRange('bytes=0-1,4-5', 10), { kind: 'full' });
  assert.equal(decideRange('bytes=5-2', 10).kind, 'invalid');
  assert.equal(decideRange('bytes=abc', 10).kind, 'invalid');
  assert.deepEqual(decideRange('items=0-1', 10), { kind: 'full' }, 'an unknown unit is ignored (RFC 9110 14.2)');
  assert.equal(decideRange('0-1', 10).kind, 'invalid');
  assert.equal(decideRange('bytes=-', 10).kind, 'invalid');
  assert.ok(etagMatches('"a", W/"b"', '"b"'));
  assert.ok(etagMatches('*', '"x"'));
  assert.ok(!etagMatches('"a"', '"b"'));
});

test('rollback target skips earlier rollbacks', () => {
  const actor = { id: 'a', name: 'a' };
  const ev = (action: 'set' | 'rollback', from: number | null, to: number, seq: number) => ({
    seq,
    name: 'm',
    alias: 'p',
    action,
    from,
    to,
    actor,
    at: '',
  });
  const history = [ev('set', null, 1, 1), ev('set', 1, 2, 2), ev('set', 2, 3, 3), ev('rollback', 3, 2, 4)];
  assert.equal(previousDeployment(history, 2), 1);
  assert.equal(previousDeployment(history.slice(0, 3), 3), 2);
  assert.equal(previousDeployment(history.slice(0, 1), 1), null);
});

test('evidence retention counts from when a version last served, not from its registration', () => {
  assert.equal(evidenceReason({ status: 'approved', protectedAliases: [] }), null);
  assert.equal(evidenceReason({ status: 'retired', protectedAliases: [] }), 'is retired');
  assert.equal(evidenceReason({ status: 'deprecated', protectedAliases: ['production'] }), 'once held protected @production');
  assert.equal(evidenceReason({ status: 'retired', protectedAliases: ['production'] }), 'is retired and once held protected @production');
  const move = (to: number | null, from: number | null, at: string) => ({ to, from, at }) as AliasEvent;
  const v = { version: 2, createdAt: '2026-01-01T00:00:00.000Z' };
  assert.equal(lastServed(v, [], []), Date.parse('2026-01-01T00:00:00.000Z'));
  const events = [
    move(2, 1, '2026-02-01T00:00:00.000Z'), // onto v2
    move(3, 2, '2026-03-01T00:00:00.000Z'), // off v2: it last served then
    move(4, 3, '2026-04-01T00:00:00.000Z'), // another version's move
  ];
  assert.equal(lastServed(v, events, []), Date.parse('2026-03-01T00:00:00.000Z'));
  const retired = [{ at: '2026-05-01T00:00:00.000Z' } as VersionEvent];
  assert.equal(lastServed(v, events, retired), Date.parse('2026-05-01T00:00:00.000Z'), 'its retirement counts too');
});
