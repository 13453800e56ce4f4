// The pure parts of fleet telemetry: the deployment header, the merge rule, the in-memory tracker
// and its cap, and the views (grouping, silence, pending versus straggler by the clock).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { mergeObservations, parseDeploymentHeader, parseFleetReport } from '../src/domain/fleet.js';
import { stepModel } from '../src/domain/audit-steps.js';
import { fleetSummary, fleetView, movesPastWindow, observedHistory, STRAGGLERS_ACTION, type AliasState } from '../src/domain/fleet-view.js';
import type { DomainError } from '../src/domain/errors.js';
import { Fleet } from '../src/registry/fleet/fleet.js';
import type { Registry } from '../src/registry/registry.js';
import type { FleetStore } from '../src/store/fleet-store.js';
import { FleetTracker } from '../src/registry/fleet/tracker.js';
import { observation } from './conformance/fleet-store.js';

const V1 = `sha256:${'1'.repeat(64)}`;
const V2 = `sha256:${'2'.repeat(64)}`;
const MIN = 60_000;

describe('X-Modelgate-Deployment', () => {
  test('<deployment>/<instance> with names a pod, host or address can have', () => {
    assert.deepEqual(parseDeploymentHeader('fraud-scorer/fraud-scorer-7d9f-x2k4q'), {
      deployment: 'fraud-scorer',
      instance: 'fraud-scorer-7d9f-x2k4q',
    });
    assert.deepEqual(parseDeploymentHeader('edge/fe80::1'), { deployment: 'edge', instance: 'fe80::1' });
    assert.deepEqual(parseDeploymentHeader('svc.ns/10.0.0.7'), { deployment: 'svc.ns', instance: '10.0.0.7' });
  });

  test('malformed or oversized headers name their problem', () => {
    for (const bad of ['', 'nodelimiter', '/i', 'd/', 'd/i/j', 'd e/i', '-d/i', 'd/ü', `d/${'x'.repeat(129)}`, `${'d'.repeat(300)}/i`]) {
      const parsed = parseDeploymentHeader(bad);
      assert.ok('problem' in parsed, bad);
    }
  });
});

describe('the merge rule', () => {
  test('is commutative: nodes may flush in any order', () => {
    const a = observation({ firstSeen: 5, lastSeen: 10, resolves: 2, lastResolveAt: 10, ref: 'live', node: 'a' });
    const b = observation({
      firstSeen: 1,
      lastSeen: 20,
      resolves: 3,
      downloads: 1,
      bytes: 9,
      lastResolveAt: 8,
      ref: 'canary',
      lastDownloadAt: 20,
      node: 'b',
    });
    assert.deepEqual(mergeObservations(a, b), mergeObservations(b, a));
    const m = mergeObservations(a, b);
    assert.deepEqual([m.firstSeen, m.lastSeen, m.resolves, m.ref, m.node, m.bytes], [1, 20, 5, 'live', 'b', 9]);
  });
});

describe('reports', () => {
  test('a report body is checked whole; each refusal is a named 4xx', () => {
    const file = { path: 'w', digest: V1, size: 1 };
    assert.deepEqual(parseFleetReport({ deployment: 'd', instance: 'i', files: [file] }, 10).files, [file]);
    const refused = (body: unknown, max = 10) => {
      try {
        parseFleetReport(body, max);
      } catch (err) {
        return (err as DomainError).code;
      }
      return 'accepted';
    };
    assert.equal(refused(null), 'REPORT_INVALID');
    assert.equal(refused({ deployment: 'd', instance: 'i', files: [{ ...file, digest: V1.toUpperCase() }] }), 'DIGEST_INVALID');
    assert.equal(refused({ deployment: 'd', instance: 'i', files: [file, file] }, 1), 'REPORT_TOO_LARGE');
    assert.equal(refused({ deployment: 'd', instance: 'i/j', files: [file] }), 'IDENTITY_INVALID');
    assert.equal(refused({ deployment: 'd', instance: 'i', files: [{ ...file, size: 1.5 }] }), 'REPORT_INVALID');
  });
});

describe('the tracker', () => {
  const target = { model: 'm', ref: 'live', version: 1, digest: V1 };

  test('counts repeats on one entry; a drain empties the window', () => {
    const t = new FleetTracker(10);
    for (let i = 0; i < 5; i++) assert.equal(t.resolveByHeader(target, 'd/i'), null);
    t.download({ ...target, ref: '' }, { deployment: 'd', instance: 'i' }, 'header', 100);
    assert.equal(t.size, 2, 'a download (a target without a ref) is its own entry');
    const rows = t.drain('node-a');
    assert.equal(t.size, 0);
    const resolved = rows.find((r) => r.resolves > 0)!;
    assert.deepEqual([resolved.resolves, resolved.ref, resolved.node, resolved.via], [5, 'live', 'node-a', 'header']);
    assert.equal(rows.find((r) => r.downloads > 0)!.bytes, 100);
  });

  test('a bad header is refused with its problem and not counted', () => {
    const t = new FleetTracker(10);
    assert.match(t.resolveByHeader(target, 'no slash') ?? '', /deployment/);
    assert.equal(t.size, 0);
    assert.equal(t.malformed, 1);
  });

  test('a caller without a header is counted under the token name and its address', () => {
    const t = new FleetTracker(10);
    t.resolveFrom(target, 'lb', '10.0.0.1');
    t.resolveFrom(target, 'lb', '10.0.0.1');
    t.resolveFrom(target, 'lb', '10.0.0.2');
    t.resolveByHeader(target, 'lb/10.0.0.1');
    assert.equal(t.size, 3);
    const rows = t.drain('n');
    const fromToken = rows.filter((r) => r.via === 'token').map((r) => `${r.deployment}/${r.instance}:${r.resolves}`);
    assert.deepEqual(fromToken.sort(), ['lb/10.0.0.1:2', 'lb/10.0.0.2:1']);
    // The same name through a header is another row until the store merges them by key.
    assert.equal(rows.filter((r) => r.via === 'header').length, 1);
  });

  test('a fallback caller repeating itself is counted on its own entry, a new one after each drain', () => {
    const t = new FleetTracker(10);
    const other = { ...target, ref: 'canary' };
    for (const [tgt, address] of [
      [target, '10.0.0.1'],
      [target, '10.0.0.1'],
      [other, '10.0.0.1'],
      [target, '10.0.0.1'],
      [target, '10.0.0.2'],
      [target, '10.0.0.1'],
    ] as const)
      t.resolveFrom(tgt, 'lb', address);
    t.resolveFrom(target, 'other-token', '10.0.0.1');
    const counted = (rows: ReturnType<FleetTracker['drain']>) =>
      rows.map((r) => `${r.ref} ${r.deployment}/${r.instance}:${r.resolves}`).sort();
    const first = t.drain('n');
    assert.deepEqual(counted(first), ['canary lb/10.0.0.1:1', 'live lb/10.0.0.1:4', 'live lb/10.0.0.2:1', 'live other-token/10.0.0.1:1']);
    const before = Date.now();
    t.resolveFrom(target, 'other-token', '10.0.0.1');
    t.resolveFrom(target, 'other-token', '10.0.0.1');
    const second = t.drain('n');
    assert.deepEqual(counted(second), ['live other-token/10.0.0.1:2']);
    assert.ok(second[0]!.lastResolveAt >= before && second[0]!.lastResolveAt <= Date.now());
    assert.equal(first.find((r) => r.deployment === 'other-token')!.resolves, 1, 'a drained row is not counted again');
  });

  test('past the cap, new callers are dropped and counted; known ones still count', () => {
    const t = new FleetTracker(3);
    for (let i = 0; i < 10; i++) t.resolveByHeader(target, `d/i-${i}`);
    t.resolveByHeader(target, 'd/i-0');
    assert.equal(t.size, 3);
    assert.equal(t.dropped, 7);
    assert.equal(t.drain('n').find((r) => r.instance === 'i-0')!.resolves, 2);
  });
});

describe('views', () => {
  const now = 100 * MIN;
  const opts = { now, silenceMs: 30 * MIN, stragglerWindowMs: 2 * MIN };
  const alias = (updatedAt: number, digest = V1, version = 1): AliasState => ({
    alias: 'live',
    version,
    digest,
    updatedAt: new Date(updatedAt).toISOString(),
  });
  const resolvedAt = (instance: string, digest: string, at: number, version = digest === V1 ? 1 : 2) =>
    observation({ instance, digest, version, lastSeen: at, lastResolveAt: at, firstSeen: at - MIN, ref: 'live' });

  test('instances are grouped by the version of their latest activity; silent ones are left out', () => {
    const rows = [
      resolvedAt('a', V2, now - 10 * MIN),
      resolvedAt('a', V1, now - MIN),
      resolvedAt('b', V2, now - MIN),
      resolvedAt('gone', V2, now - 31 * MIN),
    ];
    const view = fleetView('m', rows, [], opts);
    assert.deepEqual(
      view.versions.map((g) => [g.version, g.instances]),
      [
        [2, 1],
        [1, 1],
      ].sort((x, y) => y[0]! - x[0]!),
    );
    assert.deepEqual(
      view.instances.map((i) => i.instance),
      ['a', 'b'],
    );
  });

  test('after an alias move: pending within the window, stragglers after it, current once re-resolved', () => {
    const rows = [resolvedAt('fresh', V1, now - MIN / 2), resolvedAt('old', V2, now - 5 * MIN)];
    const justMoved = fleetView('m', rows, [alias(now - MIN)], opts).aliases[0]!;
    assert.deepEqual([justMoved.current, justMoved.pending.map((p) => p.instance), justMoved.stragglers.length], [1, ['old'], 0]);
    const longAgo = fleetView('m', rows, [alias(now - 3 * MIN)], opts).aliases[0]!;
    assert.deepEqual([longAgo.pending.length, longAgo.stragglers.map((p) => p.instance), longAgo.converged], [0, ['old'], false]);
    const done = fleetView('m', [...rows, resolvedAt('old', V1, now - 10_000)], [alias(now - 3 * MIN)], opts).aliases[0]!;
    assert.equal(done.converged, true);
    assert.equal(done.current, 2);
  });

  test('an instance that never resolved the alias does not hold back its convergence', () => {
    const pinned = observation({ instance: 'pinned', digest: V2, version: 2, ref: 'v2', lastSeen: now, lastResolveAt: now });
    const view = fleetView('m', [pinned], [alias(now - 10 * MIN)], opts);
    assert.equal(view.aliases[0]!.converged, true);
    assert.equal(view.aliases[0]!.current, 0);
  });

  test('the watch summary counts the same, and lists at most maxListed stragglers', () => {
    const rows = Array.from({ length: 20 }, (_, i) => resolvedAt(`s${i}`, V2, now - 5 * MIN));
    const summary = fleetSummary(rows, [alias(now - 3 * MIN)], opts, 5);
    assert.deepEqual(summary.versions, [{ version: 2, instances: 20 }]);
    assert.equal(summary.stragglers[0]!.count, 20);
    assert.equal(summary.stragglers[0]!.instances.length, 5);
  });

  test('a straggler finding is due once the window (and the settle time) passed, and no longer after the lookback', () => {
    const at = (ago: number) => ({ ...alias(now - ago), alias: `moved-${ago / 1000}s-ago` });
    const moves = [at(MIN), at(2 * MIN + 500), at(2 * MIN + 2000), at(10 * MIN), at(40 * MIN)];
    assert.deepEqual(
      movesPastWindow(moves, opts, 1000, 15 * MIN).map((a) => a.alias),
      ['moved-122s-ago', 'moved-600s-ago'],
    );
    // A finding is about its alias's model, so audit and webhook scopes read it like an alias change.
    assert.equal(stepModel({ action: STRAGGLERS_ACTION, target: 'team/fraud@production' }), 'team/fraud');
    assert.equal(stepModel({ action: 'fleet.unregistered', target: 'svc/pod-1' }), null);
  });

  test('history: one span per instance and version, oldest version first', () => {
    const rows = [resolvedAt('a', V2, now), resolvedAt('a', V1, now - 50 * MIN), resolvedAt('b', V1, now - 40 * MIN)];
    assert.deepEqual(
      observedHistory(rows).map((s) => `${s.version}:${s.instance}`),
      ['1:a', '1:b', '2:a'],
    );
    assert.deepEqual(
      observedHistory(rows, 2).map((s) => s.instance),
      ['a'],
    );
  });
});

describe('caller identity', () => {
  // identify() reads neither the store nor the registry.
  const fleet = new Fleet({} as FleetStore, {} as Registry, {
    node: 'n1',
    flushIntervalMs: 1000,
    maxPendingEntries: 10,
    maxRecords: 10,
    instanceSilenceSeconds: 60,
    stragglerWindowSeconds: 60,
    retentionDays: 1,
    maxReportFiles: 10,
    trustedProxies: ['10.0.0.1'],
    watchIntervalMs: 1000,
  });

  test('the peer address is read only without a usable header (each read is a system call)', () => {
    const reads: number[] = [];
    const peer = (address: string) => () => {
      reads.push(1);
      return address;
    };
    assert.deepEqual(fleet.identify('fraud/pod-1', 'ci', peer('10.0.0.9'), ''), {
      identity: { deployment: 'fraud', instance: 'pod-1' },
      via: 'header',
    });
    assert.equal(reads.length, 0, 'a well-formed header needs no address');
    assert.deepEqual(fleet.identify('', 'ci', peer('10.0.0.9'), '').identity, { deployment: 'ci', instance: '10.0.0.9' });
    assert.equal(reads.length, 1);
    const bad = fleet.identify('no-slash', 'ci', peer('10.0.0.1'), '192.0.2.7, 10.0.0.1');
    assert.deepEqual([bad.identity, bad.via, typeof bad.ignored], [{ deployment: 'ci', instance: '192.0.2.7' }, 'token', 'string']);
    assert.equal(reads.length, 2);
  });
});
