// The behaviours every EventBus passes, as a function a new bus's test calls with a way to open
// it: every subscriber receives every notice in publish order, intact, until it unsubscribes.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Change, ChangeNotice } from '../../src/domain/types.js';
import type { EventBus } from '../../src/events/event-bus.js';
import { waitFor } from '../harness/http.js';

export interface Pair {
  /** The bus changes are published on. */
  publisher: EventBus;
  /** Every bus whose subscribers must receive them (for Redis, also one on other connections). */
  receivers: EventBus[];
}

export interface Implementation {
  name: string;
  open(): Promise<Pair>;
}

export function change(seq: number, model = 'm', kind: Change['kind'] = 'alias'): ChangeNotice {
  return { change: kind === 'alias' ? { seq, model, kind, alias: 'production' } : { seq, model, kind } };
}

export function eventBusConformance(impl: Implementation): void {
  describe(`EventBus conformance: ${impl.name}`, () => {
    test('every subscriber receives every notice, in publish order, intact (replication payload included)', async () => {
      const { publisher, receivers } = await impl.open();
      const got: ChangeNotice[][] = [];
      for (const bus of receivers) {
        for (let i = 0; i < 2; i++) {
          const list: ChangeNotice[] = [];
          got.push(list);
          bus.subscribe((c) => list.push(c));
        }
      }
      const sent: ChangeNotice[] = [];
      for (let seq = 1; seq <= 200; seq++) {
        const c =
          seq % 7 === 0
            ? change(seq, '', 'token')
            : seq % 5 === 0
              ? {
                  change: { seq, model: 'team/x', kind: 'version' as const, version: seq },
                  replication:
                    seq % 10 === 0
                      ? { seq, writes: [{ note: 'opaque to the bus, ✓', nested: [1, null, { deep: true }] }] }
                      : JSON.stringify({ seq, writes: [{ note: 'opaque to the bus, ✓' }] }),
                }
              : change(seq, `m${seq % 3}`);
        sent.push(c);
        publisher.publish(c);
      }
      await waitFor(() => got.every((l) => l.length >= sent.length), 10_000, 'every subscriber to receive 200 changes');
      for (const list of got) assert.deepEqual(list, sent);
    });

    test('unsubscribe stops delivery to that listener only', async () => {
      const { publisher, receivers } = await impl.open();
      const gone: ChangeNotice[] = [];
      const kept: ChangeNotice[] = [];
      const offs = receivers.map((bus) => bus.subscribe((c) => gone.push(c)));
      for (const bus of receivers) bus.subscribe((c) => kept.push(c));
      publisher.publish(change(1));
      await waitFor(() => kept.length === receivers.length, 5000, 'the first change');
      assert.equal(gone.length, receivers.length);
      for (const off of offs) off();
      publisher.publish(change(2));
      publisher.publish(change(3)); // a marker: once it is in, change 2 would have been too
      await waitFor(() => kept.length === receivers.length * 3, 5000, 'the later changes');
      assert.deepEqual(
        gone.map((c) => c.change.seq),
        receivers.map(() => 1),
      );
    });

    test('onResync returns an unsubscribe function and does not fire while nothing is lost', async () => {
      const { publisher, receivers } = await impl.open();
      let resyncs = 0;
      const offs = receivers.map((bus) => bus.onResync(() => resyncs++));
      const got: ChangeNotice[] = [];
      receivers[receivers.length - 1]!.subscribe((c) => got.push(c));
      for (let seq = 1; seq <= 20; seq++) publisher.publish(change(seq));
      await waitFor(() => got.length === 20, 5000, 'the changes');
      assert.equal(resyncs, 0);
      for (const off of offs) assert.equal(typeof off, 'function');
      for (const off of offs) off();
    });

    test('close stops delivery', async () => {
      const { publisher, receivers } = await impl.open();
      const last = receivers[receivers.length - 1]!;
      const got: ChangeNotice[] = [];
      last.subscribe((c) => got.push(c));
      publisher.publish(change(1));
      await waitFor(() => got.length === 1, 5000, 'the first change');
      await last.close();
      if (last !== publisher) {
        // A third listener proves the publish went out.
        const witness: ChangeNotice[] = [];
        publisher.subscribe((c) => witness.push(c));
        publisher.publish(change(2));
        await waitFor(() => witness.length === 1, 5000, 'the witness');
      } else publisher.publish(change(2));
      assert.deepEqual(
        got.map((c) => c.change.seq),
        [1],
      );
    });
  });
}
