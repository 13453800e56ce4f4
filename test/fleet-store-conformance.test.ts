// The FleetStore conformance suite (test/conformance/fleet-store.ts) on its LMDB and Redis
// implementations; Redis with two stores on their own connections, as two nodes would hold them.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before } from 'node:test';
import { logger } from '../src/log.js';
import type { FleetStore } from '../src/store/fleet-store.js';
import { LmdbFleetStore } from '../src/store/lmdb/lmdb-fleet-store.js';
import { RedisFleetStore } from '../src/store/redis/redis-fleet-store.js';
import { fleetStoreConformance } from './conformance/fleet-store.js';
import { randomPrefix, startRedis, type TestRedis } from './harness/redis.js';

logger.level = process.env.MODELGATE_TEST_LOG ?? 'fatal';

let redis: TestRedis | undefined;
const open: FleetStore[] = [];
const dirs: string[] = [];

before(async () => {
  redis = await startRedis();
});

afterEach(async () => {
  for (const store of open.splice(0)) await store.close().catch(() => undefined);
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

after(async () => {
  await redis?.dispose();
});

fleetStoreConformance({
  name: 'lmdb',
  async open() {
    const dir = await mkdtemp(join(tmpdir(), 'modelgate-fleet-'));
    dirs.push(dir);
    const store = new LmdbFleetStore(dir);
    open.push(store);
    return { a: store, b: store };
  },
});

fleetStoreConformance({
  name: 'redis',
  async open() {
    const prefix = randomPrefix();
    const a = await RedisFleetStore.open({ url: redis!.url, prefix });
    const b = await RedisFleetStore.open({ url: redis!.url, prefix });
    open.push(a, b);
    return { a, b };
  },
});
