// A lost or diverged Redis under three nodes, and the way back: every node reports itself in a
// heartbeat, `modelgate control-plane status` shows each node's sequence and head against Redis,
// and `modelgate control-plane restore --from-replica` sent to one healthy node rebuilds Redis
// from that node's replica. Real redis-server (AOF, fsync always), real nodes, the real CLI.
import assert from 'node:assert/strict';
import { cp, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import { runCli } from './harness/cli.js';
import { api, registerFiles, uploadBlob, waitFor } from './harness/http.js';
import { deletePrefix, randomPrefix, startRedis, type TestRedis } from './harness/redis.js';
import { startServer, type TestServer } from './harness/server.js';
import { createToken } from './harness/tokens.js';

let redis: TestRedis;
let running: TestServer[] = [];

before(async () => {
  redis = await startRedis();
});
afterEach(async () => {
  const nodes = running;
  running = [];
  await Promise.all(nodes.map((n) => n.dispose().catch(() => undefined)));
});
after(async () => {
  await redis?.dispose();
});

async function startCluster(
  extraEnv: Record<string, string> = {},
): Promise<{ prefix: string; env: Record<string, string>; nodes: TestServer[] }> {
  const prefix = randomPrefix();
  const env = {
    MODELGATE_CONTROL_BACKEND: 'redis',
    MODELGATE_REDIS_URL: redis.url,
    MODELGATE_REDIS_PREFIX: prefix,
    MODELGATE_ANTI_ENTROPY_MS: '200',
    ...extraEnv,
  };
  const nodes: TestServer[] = [];
  for (let i = 0; i < 3; i++) {
    const node = await startServer({ env });
    running.push(node);
    nodes.push(node);
  }
  return { prefix, env, nodes };
}

const cli = (node: TestServer, args: string[]) =>
  runCli(['control-plane', ...args], { MODELGATE_URL: node.url, MODELGATE_TOKEN: node.token });

async function status(node: TestServer): Promise<any> {
  const res = await api(node, 'GET', '/v1/control-plane');
  assert.equal(res.status, 200, res.text);
  return res.json;
}

/** Moves `name@staging` to `version` on `node`; the status code (200 when the node accepts writes). */
async function move(node: TestServer, name: string, version: number): Promise<{ status: number; code?: string }> {
  const res = await api(node, 'PUT', `/v1/models/${name}/aliases/staging`, { version });
  return { status: res.status, code: res.json?.error?.code };
}

/** Registers two versions of `name` (blobs on every node: the fs backend is node-local) with staging on v1. */
async function seed(nodes: TestServer[], name: string): Promise<void> {
  for (const content of ['one', 'two']) for (const n of nodes) await uploadBlob(n, Buffer.from(`${name} ${content}`));
  await registerFiles(nodes[0]!, name, { 'w.bin': `${name} one` });
  await registerFiles(nodes[0]!, name, { 'w.bin': `${name} two` });
  assert.equal((await move(nodes[0]!, name, 1)).status, 200);
}

async function waitAgreeing(node: TestServer, count: number, what: string): Promise<any> {
  let last: any = null;
  try {
    await waitFor(
      async () => {
        last = await status(node);
        return last.agree === true && last.nodes.filter((n: any) => n.live).length === count;
      },
      30_000,
      what,
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}: ${JSON.stringify(last)}`);
  }
  return last;
}

/** Every node refuses writes with CONTROL_PLANE_DIVERGED (polled: each finds out on its next pass). */
async function waitAllDiverged(nodes: TestServer[], name: string): Promise<void> {
  for (const node of nodes) {
    await waitFor(
      async () => (await move(node, name, 2)).code === 'CONTROL_PLANE_DIVERGED',
      30_000,
      `${node.url} to refuse writes as diverged`,
    );
  }
}

/** After a restore: every node takes a write, serves everything written before, and verifies the same chain. */
async function assertRecovered(nodes: TestServer[], names: string[], tokenSecret: string): Promise<void> {
  for (const [i, node] of nodes.entries()) {
    await waitFor(async () => (await move(node, names[0]!, (i % 2) + 1)).status === 200, 30_000, `${node.url} to accept writes again`);
  }
  for (const node of nodes) {
    for (const name of names) {
      const res = await api(node, 'GET', `/v1/models/${name}/versions/2`);
      assert.equal(res.status, 200, `${node.url}: ${name} v2 is still there`);
    }
    const whoami = await fetch(`${node.url}/v1/whoami`, { headers: { Authorization: `Bearer ${tokenSecret}` } });
    assert.equal(whoami.status, 200, 'a token created before the loss still works');
  }
  const final = await waitAgreeing(nodes[0]!, 3, 'every node to agree after the restore');
  const heads = await Promise.all(nodes.map(async (n) => (await api(n, 'GET', '/v1/audit/verify')).json));
  for (const h of heads) {
    assert.equal(h.ok, true);
    assert.equal(h.headHash, heads[0].headHash);
  }
  assert.equal(final.authority.headHash, heads[0].headHash);
  const audit = await api(nodes[0]!, 'GET', '/v1/audit?action=control-plane.restore');
  assert.equal(audit.json.entries.length, 1, 'the restore is audited once');
}

describe('control plane status and restore from a replica', () => {
  test('status lists every node with its sequence, head and heartbeat; the CLI prints it and exits 0 when all agree', async () => {
    const { nodes } = await startCluster();
    await seed(nodes, 'cp/status');
    const s = await waitAgreeing(nodes[1]!, 3, 'three agreeing nodes');
    assert.equal(s.backend, 'redis');
    assert.deepEqual(s.nodes.map((n: any) => n.address).sort(), nodes.map((n) => n.url).sort());
    for (const n of s.nodes) {
      assert.equal(n.appliedSeq, s.authority.seq);
      assert.equal(n.headHash, s.authority.headHash);
      assert.equal(n.lag, 0);
      assert.equal(n.diverged, null);
    }
    const printed = await cli(nodes[2]!, ['status']);
    assert.equal(printed.code, 0, printed.stderr);
    assert.match(printed.stdout, /every live node agrees/);
    const reader = await createToken(nodes[0]!, 'cp-reader', 'reader');
    const refused = await fetch(`${nodes[0]!.url}/v1/control-plane`, { headers: { Authorization: `Bearer ${reader.token}` } });
    assert.equal(refused.status, 403);
    const healthy = await cli(nodes[0]!, ['restore', '--from-replica']);
    assert.equal(healthy.code, 1, 'nothing to restore while Redis holds everything');
    assert.match(healthy.stderr, /CONTROL_PLANE_HEALTHY|nothing to restore/);
  });

  test('a crashed node is dropped from status once silent past redis.nodeExpirySeconds; a live one stays', async () => {
    // Two minutes instead of the default hour: the setting, not the default, decides.
    const { prefix, nodes } = await startCluster({ MODELGATE_NODE_EXPIRY_SECONDS: '120' });
    const before = await waitAgreeing(nodes[0]!, 3, 'three agreeing nodes');
    const crashed = before.nodes.find((n: any) => n.address === nodes[2]!.url);
    assert.ok(crashed, 'the node to crash is listed');
    await nodes[2]!.stop('SIGKILL');
    // Still listed right after the crash (a crash says no goodbye)...
    const after = await status(nodes[0]!);
    assert.ok(
      after.nodes.some((n: any) => n.id === crashed.id),
      'a node that just went silent is still shown',
    );
    // ...listed as not live while silent for less than the expiry (its heartbeat moved back one
    // minute in Redis, as if that time had passed)...
    const key = `${prefix}nodes`;
    const beat = JSON.parse((await redis.client.hget(key, crashed.id))!);
    await redis.client.hset(key, crashed.id, JSON.stringify({ ...beat, at: Date.now() - 60_000 }));
    const silent = (await status(nodes[0]!)).nodes.find((n: any) => n.id === crashed.id);
    assert.ok(silent, 'silent for a minute of a two-minute expiry: still listed');
    assert.equal(silent.live, false);
    // ...and dropped once its last heartbeat is older than the expiry (three minutes back).
    await redis.client.hset(key, crashed.id, JSON.stringify({ ...beat, at: Date.now() - 180_000 }));
    const pruned = await status(nodes[0]!);
    assert.deepEqual(pruned.nodes.map((n: any) => n.address).sort(), [nodes[0]!.url, nodes[1]!.url].sort());
    assert.equal(await redis.client.hget(key, crashed.id), null, 'its heartbeat is gone from Redis');
    assert.ok(pruned.nodes.every((n: any) => n.live));
  });

  test('Redis flushed under three nodes: writes stop as diverged; restore on one node brings every node back with nothing lost', async () => {
    const { prefix, env, nodes } = await startCluster();
    await seed(nodes, 'cp/flushed');
    const token = await createToken(nodes[0]!, 'cp-writer', 'writer');
    await waitAgreeing(nodes[0]!, 3, 'three agreeing nodes');

    await deletePrefix(redis.client, prefix);
    await waitAllDiverged(nodes, 'cp/flushed');
    const broken = await cli(nodes[0]!, ['status']);
    assert.equal(broken.code, 1, 'status exits 1 while the nodes do not agree');
    assert.match(broken.stdout, /DIVERGED|DISAGREES/);

    const restored = await cli(nodes[1]!, ['restore', '--from-replica', '--json']);
    assert.equal(restored.code, 0, restored.stderr);
    const report = JSON.parse(restored.stdout);
    assert.equal(report.previous, null, 'Redis was empty');
    assert.ok(report.rows.versions >= 2);
    await assertRecovered(nodes, ['cp/flushed'], token.token);

    // A node that joins now is behind the start of the restored log: it copies the tables, then follows.
    const late = await startServer({ env });
    running.push(late);
    await waitFor(
      async () => (await api(late, 'GET', '/v1/models/cp/flushed/versions/2')).status === 200,
      30_000,
      'the late node to copy the tables',
    );
    assert.ok(
      late.output.some((line) => line.includes('replica re-seeded')),
      'it copied the tables (the log starts after the restore)',
    );
    assert.equal((await move(late, 'cp/flushed', 2)).status, 200);
    await waitAgreeing(nodes[0]!, 4, 'four agreeing nodes');
  });

  test('Redis restarted from an older AOF: writes stop as diverged; restore from a replica keeps the writes the AOF lost', async () => {
    const { nodes } = await startCluster();
    await seed(nodes, 'cp/older');
    const token = await createToken(nodes[0]!, 'cp-older-writer', 'writer');
    await waitAgreeing(nodes[0]!, 3, 'three agreeing nodes');
    const backup = `${redis.dir}-backup`;
    await redis.stop('SHUTDOWN');
    await rm(backup, { recursive: true, force: true });
    await cp(join(redis.dir, 'appendonlydir'), backup, { recursive: true });
    await redis.restart();
    // Written after the backup: the older AOF does not have these.
    await waitFor(async () => (await move(nodes[2]!, 'cp/older', 2)).status === 200, 30_000, 'writes after Redis restarted');
    await seed(nodes, 'cp/newer');
    await waitAgreeing(nodes[0]!, 3, 'three agreeing nodes after the newer writes');

    await redis.stop('SHUTDOWN');
    await rm(join(redis.dir, 'appendonlydir'), { recursive: true, force: true });
    await cp(backup, join(redis.dir, 'appendonlydir'), { recursive: true });
    await rm(backup, { recursive: true, force: true });
    await redis.restart();
    await waitAllDiverged(nodes, 'cp/older');

    const restored = await cli(nodes[2]!, ['restore', '--from-replica', '--json']);
    assert.equal(restored.code, 0, restored.stderr);
    const report = JSON.parse(restored.stdout);
    assert.ok(report.previous && report.previous.seq < report.restoredSeq, `Redis was behind: ${JSON.stringify(report.previous)}`);
    await assertRecovered(nodes, ['cp/older', 'cp/newer'], token.token);
  });

  test('restored from a node that is behind: the nodes with a longer history refuse to follow and say so; re-seeded, they follow again', async () => {
    const { prefix, nodes } = await startCluster();
    const [a, b, c] = nodes as [TestServer, TestServer, TestServer];
    await seed(nodes, 'cp/behind');
    await waitAgreeing(a, 3, 'three agreeing nodes');
    await c.stop();
    // Written while c is down: a and b have it, c does not.
    assert.equal((await move(a, 'cp/behind', 2)).status, 200);
    await waitFor(async () => (await api(b, 'GET', '/v1/models/cp/behind/aliases/staging')).json?.version === 2, 30_000, 'b to follow');
    await deletePrefix(redis.client, prefix);
    await c.restart();
    await waitAllDiverged([a, b, c], 'cp/behind');

    const restored = await cli(c, ['restore', '--from-replica']);
    assert.equal(restored.code, 0, restored.stderr);
    await waitFor(async () => (await move(c, 'cp/behind', 1)).status === 200, 30_000, 'c to accept writes');
    let last: any = null;
    await waitFor(
      async () => {
        last = await status(c);
        const longer = last.nodes.filter((n: any) => n.address === a.url || n.address === b.url);
        return longer.length === 2 && longer.every((n: any) => n.diverged && !n.agrees);
      },
      30_000,
      'a and b to report that they refuse to follow',
    ).catch((err: Error) => {
      throw new Error(`${err.message}: ${JSON.stringify(last)}`);
    });
    assert.equal(last.agree, false);
    for (const n of [a, b]) {
      const res = await move(n, 'cp/behind', 1);
      assert.equal(res.code, 'CONTROL_PLANE_DIVERGED', `${n.url} refuses writes`);
    }
    const printed = await cli(c, ['status']);
    assert.equal(printed.code, 1);
    assert.match(printed.stdout, /DIVERGED/);

    // As the README says: stop it, move its index aside, start it; it copies the restored state.
    for (const n of [a, b]) {
      await n.stop();
      await rename(join(n.dataDir, 'index'), join(n.dataDir, 'index.diverged'));
      await n.restart();
    }
    await waitAgreeing(c, 3, 'all three nodes to agree after re-seeding');
    for (const n of [a, b]) assert.equal((await move(n, 'cp/behind', 2)).status, 200);
  });
});
