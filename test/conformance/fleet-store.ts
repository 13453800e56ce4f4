// The FleetStore conformance suite: every implementation (LMDB, Redis) must merge batches by the
// domain's rule, keep models apart, enforce the row cap without losing updates to existing rows,
// add up concurrent merges from several nodes, record unregistered artifacts once, grant a claim to
// exactly one of several nodes, and prune by age.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { FleetObservation, UnregisteredArtifact } from '../../src/domain/fleet.js';
import type { FleetStore } from '../../src/store/fleet-store.js';

export interface FleetStoreImplementation {
  name: string;
  /** Two handles on one store: on Redis two connections (two nodes), on LMDB the same store twice. */
  open(): Promise<{ a: FleetStore; b: FleetStore }>;
}

const DIGEST_A = `sha256:${'a'.repeat(64)}`;
const DIGEST_B = `sha256:${'b'.repeat(64)}`;

export function observation(overrides: Partial<FleetObservation> = {}): FleetObservation {
  return {
    model: 'fraud',
    version: 7,
    digest: DIGEST_A,
    deployment: 'scorer',
    instance: 'pod-1',
    firstSeen: 1_000,
    lastSeen: 2_000,
    resolves: 1,
    downloads: 0,
    bytes: 0,
    lastResolveAt: 2_000,
    ref: 'production',
    lastDownloadAt: 0,
    lastReportAt: 0,
    node: 'node-a',
    via: 'header',
    ...overrides,
  };
}

export function artifact(overrides: Partial<UnregisteredArtifact> = {}): UnregisteredArtifact {
  return {
    digest: DIGEST_B,
    deployment: 'scorer',
    instance: 'pod-1',
    paths: ['model.safetensors'],
    size: 10,
    firstSeen: 1_000,
    lastSeen: 1_000,
    reports: 1,
    ...overrides,
  };
}

export function fleetStoreConformance(impl: FleetStoreImplementation): void {
  describe(`FleetStore conformance: ${impl.name}`, () => {
    test('a merge folds into the stored row: sums, earliest first seen, latest last seen and its node', async () => {
      const { a } = await impl.open();
      assert.deepEqual(await a.mergeObservations([observation()], 100), { dropped: 0, created: 1 });
      const later = observation({
        firstSeen: 3_000,
        lastSeen: 5_000,
        resolves: 0,
        downloads: 2,
        bytes: 300,
        lastResolveAt: 0,
        lastDownloadAt: 5_000,
        node: 'node-b',
      });
      assert.deepEqual(await a.mergeObservations([later], 100), { dropped: 0, created: 0 });
      const [row, ...rest] = await a.observations('fraud');
      assert.equal(rest.length, 0);
      assert.equal(row!.firstSeen, 1_000);
      assert.equal(row!.lastSeen, 5_000);
      assert.equal(row!.resolves, 1);
      assert.equal(row!.downloads, 2);
      assert.equal(row!.bytes, 300);
      assert.equal(row!.lastResolveAt, 2_000);
      assert.equal(row!.ref, 'production', 'the ref stays with the last resolve, not the last download');
      assert.equal(row!.lastDownloadAt, 5_000);
      assert.equal(row!.node, 'node-b');
    });

    test('models are kept apart and listed', async () => {
      const { a } = await impl.open();
      await a.mergeObservations([observation(), observation({ model: 'team/churn', digest: DIGEST_B })], 100);
      assert.deepEqual(await a.models(), ['fraud', 'team/churn']);
      assert.equal((await a.observations('team/churn')).length, 1);
      assert.equal((await a.observations('nothing')).length, 0);
    });

    test('past the cap new rows are dropped and counted; existing rows still update', async () => {
      const { a } = await impl.open();
      const batch = Array.from({ length: 5 }, (_, i) => observation({ instance: `pod-${i}` }));
      assert.deepEqual(await a.mergeObservations(batch, 3), { dropped: 2, created: 3 });
      const again = await a.mergeObservations([observation({ instance: 'pod-0', resolves: 4 }), observation({ instance: 'pod-9' })], 3);
      assert.deepEqual(again, { dropped: 1, created: 0 });
      const rows = await a.observations('fraud');
      assert.equal(rows.length, 3);
      assert.equal(rows.find((r) => r.instance === 'pod-0')!.resolves, 5);
    });

    test('concurrent merges from two nodes add up', async () => {
      const { a, b } = await impl.open();
      await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          (i % 2 ? a : b).mergeObservations([observation({ node: i % 2 ? 'a' : 'b' }), observation({ instance: `pod-${i}` })], 1000),
        ),
      );
      const rows = await a.observations('fraud');
      assert.equal(rows.find((r) => r.instance === 'pod-1')!.resolves, 20 + 1);
      assert.equal(rows.length, 20, 'pod-1 shared, plus 19 more distinct instances');
    });

    test("a model's change count moves with each merge that writes its rows, whichever node merged", async () => {
      const { a, b } = await impl.open();
      const start = (await b.changeCounts()).get('fraud');
      await a.mergeObservations([observation()], 100);
      const afterA = (await b.changeCounts()).get('fraud');
      assert.notEqual(afterA, undefined);
      assert.notEqual(afterA, start);
      await b.mergeObservations([observation({ lastSeen: 3_000 })], 100);
      const afterB = await a.changeCounts();
      assert.notEqual(afterB.get('fraud'), afterA, "the other node's merge moved it");
      assert.equal(afterB.get('team/churn'), undefined, 'a model nobody merged has no count');
      // A merge refused by the cap writes nothing, so it moves nothing.
      await a.mergeObservations([observation({ model: 'team/churn', instance: 'over-cap' })], 1);
      assert.equal((await b.changeCounts()).get('team/churn'), undefined);
    });

    test('an unregistered artifact is created once, then merged (paths, reports)', async () => {
      const { a, b } = await impl.open();
      const first = await a.mergeArtifacts([artifact()], 100);
      assert.equal(first.created.length, 1);
      const second = await b.mergeArtifacts([artifact({ paths: ['copy/model.safetensors'], lastSeen: 4_000 })], 100);
      assert.equal(second.created.length, 0);
      const [row, ...rest] = await a.unregistered();
      assert.equal(rest.length, 0);
      assert.deepEqual(row!.paths, ['model.safetensors', 'copy/model.safetensors']);
      assert.equal(row!.reports, 2);
      assert.equal(row!.lastSeen, 4_000);
      const capped = await a.mergeArtifacts([artifact({ instance: 'pod-2' }), artifact({ instance: 'pod-3' })], 2);
      assert.equal(capped.created.length, 1);
      assert.equal(capped.dropped, 1);
    });

    test('prune removes rows last seen before the cutoff, and models left empty', async () => {
      const { a } = await impl.open();
      await a.mergeObservations([observation({ lastSeen: 1_000 }), observation({ model: 'kept', lastSeen: 9_000 })], 100);
      await a.mergeArtifacts([artifact({ lastSeen: 1_000 })], 100);
      assert.equal(await a.prune(5_000), 2);
      assert.deepEqual(await a.models(), ['kept']);
      assert.equal((await a.unregistered()).length, 0);
      // The cap counts what is left: a new row fits again.
      assert.equal((await a.mergeObservations([observation({ instance: 'new' })], 2)).created, 1);
    });

    test('a claim goes to exactly one of several concurrent claimants, and is free again once pruned', async () => {
      const { a, b } = await impl.open();
      const key = 'stragglers\tfraud\tproduction\t1000';
      const won = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).claim(key, 2_000)));
      assert.equal(won.filter(Boolean).length, 1);
      assert.equal(await a.claim(key, 9_000), false, 'a later claim of the same key');
      assert.equal(await b.claim('another', 9_000), true, 'another key is claimed on its own');
      assert.equal(await a.prune(5_000), 0, 'claims are not rows');
      assert.equal(await b.claim(key, 9_500), true, 'pruned before the cutoff, so it can be claimed again');
      assert.equal(await a.claim('another', 9_500), false, 'made after the cutoff, so kept');
    });
  });
}
