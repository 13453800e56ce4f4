// The EventBus conformance suite (test/conformance/event-bus.ts) run on each bus (in-process, and
// Redis pub/sub between two bus instances on their own connections), then what only Redis can do:
// lose its subscriber connection, come back, and ask its users to resync once the subscription is
// live again.
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import type { EventBus } from '../src/events/event-bus.js';
import { LocalEventBus } from '../src/events/local-bus.js';
import { RedisEventBus } from '../src/events/redis-bus.js';
import { logger } from '../src/log.js';
import type { ChangeNotice } from '../src/domain/types.js';
import { change, eventBusConformance, type Implementation } from './conformance/event-bus.js';
import { waitFor } from './harness/http.js';
import { randomPrefix, startRedis, type TestRedis } from './harness/redis.js';

logger.level = process.env.MODELGATE_TEST_LOG ?? 'fatal';

let redis: TestRedis | undefined;
const buses: EventBus[] = [];

before(async () => {
  redis = await startRedis();
});

// Each test's buses are closed after it, so the connections a test sees in CLIENT LIST are its own.
afterEach(async () => {
  for (const bus of buses.splice(0)) await bus.close().catch(() => undefined);
});

after(async () => {
  for (const bus of buses.splice(0)) await bus.close().catch(() => undefined);
  await redis?.dispose();
});

const local: Implementation = {
  name: 'local',
  async open() {
    const bus = new LocalEventBus();
    buses.push(bus);
    return { publisher: bus, receivers: [bus] };
  },
};

async function openRedisBus(prefix: string): Promise<RedisEventBus> {
  const bus = await RedisEventBus.open(redis!.url, prefix);
  buses.push(bus);
  return bus;
}

const redisImpl: Implementation = {
  name: 'redis',
  async open() {
    const prefix = randomPrefix();
    const a = await openRedisBus(prefix);
    const b = await openRedisBus(prefix);
    return { publisher: a, receivers: [a, b] };
  },
};

for (const impl of [local, redisImpl]) eventBusConformance(impl);

describe('RedisEventBus: lost subscriber connection', () => {
  test('after CLIENT KILL of the subscriber connection it calls onResync once the subscription is back, then receives again', async () => {
    const prefix = randomPrefix();
    const publisher = await openRedisBus(prefix);
    const subscriber = await openRedisBus(prefix);
    const got: ChangeNotice[] = [];
    subscriber.subscribe((c) => got.push(c));
    publisher.publish(change(1));
    await waitFor(() => got.length === 1, 5000, 'the first change');

    // The test publishes through its own connection, at the very moment resync is called: if the
    // bus called it before the subscription was confirmed, this marker could be lost.
    const resyncs: number[] = [];
    subscriber.onResync(() => {
      resyncs.push(Date.now());
      void redis!.client.publish(`${prefix}changes`, JSON.stringify(change(1000 + resyncs.length)));
    });
    let publisherResyncs = 0;
    publisher.onResync(() => publisherResyncs++);

    // Earlier tests' buses are closed; their connections leave the list once Redis has seen the close.
    await waitFor(
      async () => (await redis!.clients()).filter((c) => c.name === 'modelgate-sub').length === 2,
      5000,
      'two subscriber connections named modelgate-sub',
    );
    const subs = (await redis!.clients()).filter((c) => c.name === 'modelgate-sub');
    const killed = await redis!.killClients((c) => c.name === 'modelgate-sub');
    assert.equal(killed, 2);

    await waitFor(() => resyncs.length >= 1 && publisherResyncs >= 1, 10_000, 'onResync on both buses after the kill');
    await waitFor(() => got.some((c) => c.change.seq === 1001), 5000, 'the change published from inside onResync');

    // Later publishes arrive, in order.
    for (let seq = 2; seq <= 50; seq++) publisher.publish(change(seq));
    await waitFor(() => got.filter((c) => c.change.seq < 1000).length === 50, 10_000, 'the changes after the resubscription');
    assert.deepEqual(
      got.filter((c) => c.change.seq < 1000).map((c) => c.change.seq),
      Array.from({ length: 50 }, (_, i) => i + 1),
    );
    assert.equal(resyncs.length, 1, 'one reconnect, one resync');
    assert.equal(publisherResyncs, 1);
    assert.equal(got.filter((c) => c.change.seq === 1001).length, 1, 'subscribed once: no duplicate delivery');

    // The connection is back under the same name, subscribed once to the channel.
    const after = (await redis!.clients()).filter((c) => c.name === 'modelgate-sub');
    assert.equal(after.length, 2);
    assert.ok(
      after.every((c) => !subs.some((s) => s.id === c.id)),
      'new connections',
    );
    const numsub = (await redis!.client.call('PUBSUB', 'NUMSUB', `${prefix}changes`)) as [string, number];
    assert.equal(Number(numsub[1]), 2);

    // A second kill: a second resync.
    await redis!.killClients({ name: 'modelgate-sub' });
    await waitFor(() => resyncs.length === 2, 10_000, 'a second resync');
    publisher.publish(change(51));
    await waitFor(() => got.some((c) => c.change.seq === 51), 5000, 'a change after the second reconnect');
  });

  test('after CLIENT KILL of the publisher connection, later publishes get through again', async () => {
    const prefix = randomPrefix();
    const publisher = await openRedisBus(prefix);
    const subscriber = await openRedisBus(prefix);
    const got: ChangeNotice[] = [];
    subscriber.subscribe((c) => got.push(c));
    await redis!.killClients({ name: 'modelgate-pub' });
    // Publishing is fire-and-forget (at most once): some may be dropped while it reconnects, none may throw.
    let seq = 0;
    await waitFor(
      () => {
        publisher.publish(change(++seq));
        return got.length > 0;
      },
      10_000,
      'a publish after the publisher reconnected',
    );
    const received = got.map((c) => c.change.seq);
    assert.deepEqual(
      received,
      [...received].sort((a, b) => a - b),
    );
  });

  test('a bus opened while Redis is down starts, and delivers (after a resync) once Redis is up', async () => {
    const own = await startRedis();
    try {
      const prefix = randomPrefix();
      await own.stop();
      const a = await RedisEventBus.open(own.url, prefix);
      const b = await RedisEventBus.open(own.url, prefix);
      buses.push(a, b);
      let resynced = 0;
      b.onResync(() => resynced++);
      const got: ChangeNotice[] = [];
      b.subscribe((c) => got.push(c));
      a.publish(change(1)); // dropped, never thrown
      await own.restart();
      await waitFor(() => resynced >= 1, 10_000, 'a resync once Redis is reachable');
      let seq = 1;
      await waitFor(
        () => {
          a.publish(change(++seq));
          return got.length > 0;
        },
        10_000,
        'delivery once Redis is up',
      );
    } finally {
      await own.dispose();
    }
  });
});
