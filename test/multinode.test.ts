// Fault tests with real processes: one redis-server and three modelgate nodes sharing it (each
// with its own data directory, LMDB replica and blob folder). Rollbacks must reach every node,
// Redis may crash and come back, subscriber connections may be killed, nodes race on one alias;
// through all of it, every node converges to the same state and no write is silently lost.
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { api, uploadBlob, waitFor, registerFiles } from './harness/http.js';
import { deletePrefix, randomPrefix, startRedis, type TestRedis } from './harness/redis.js';
import { startServer, type TestServer } from './harness/server.js';
import { as, createToken, stage } from './harness/tokens.js';

let redis: TestRedis | undefined;
let running: TestServer[] = [];
const prefixes: string[] = [];

before(async () => {
  redis = await startRedis();
});

afterEach(async () => {
  const servers = running;
  running = [];
  await Promise.all(servers.map((s) => s.dispose().catch(() => undefined)));
  for (const p of prefixes.splice(0)) await deletePrefix(redis!.client, p).catch(() => undefined);
});

after(async () => {
  await Promise.all(running.map((s) => s.dispose().catch(() => undefined)));
  await redis?.dispose();
});

interface Cluster {
  prefix: string;
  nodes: TestServer[];
}

/**
 * Three nodes on one Redis prefix. Each node authenticates the bootstrap admin token it was started
 * with (a configured MODELGATE_ADMIN_TOKEN is per node), so each is called with its own `token`;
 * tokens created through the API live in Redis and work on every node.
 * `antiEntropyMs` high means a node learns of changes only through pub/sub and its resync.
 */
async function startCluster(antiEntropyMs: number, size = 3): Promise<Cluster> {
  const prefix = randomPrefix();
  prefixes.push(prefix);
  const env = {
    MODELGATE_CONTROL_BACKEND: 'redis',
    MODELGATE_REDIS_URL: redis!.url,
    MODELGATE_REDIS_PREFIX: prefix,
    MODELGATE_ANTI_ENTROPY_MS: String(antiEntropyMs),
  };
  const nodes = await Promise.all(
    Array.from({ length: size }, async () => {
      const node = await startServer({ env });
      running.push(node);
      return node;
    }),
  );
  return { prefix, nodes };
}

const NO_ANTI_ENTROPY = 600_000;

/** Uploads the files to every node (blobs are node-local on the fs backend) and registers them on `on`. */
async function register(
  cluster: Cluster,
  on: TestServer,
  name: string,
  files: Record<string, string>,
  extra: Record<string, unknown> = {},
): Promise<{ version: number; digest: string }> {
  const registered = await registerFiles(on, name, files, { uploadTo: cluster.nodes, extra });
  return { version: registered.version, digest: registered.digest };
}

async function resolveDigest(node: TestServer, ref: string): Promise<string | null> {
  const res = await api(node, 'GET', `/v1/resolve/${ref}`);
  return res.status === 200 ? (res.json.digest as string) : null;
}

async function verify(node: TestServer): Promise<{ status: number; ok: boolean; headSeq: number; headHash: string }> {
  const res = await api(node, 'GET', '/v1/audit/verify');
  return { status: res.status, ok: res.json?.ok, headSeq: res.json?.headSeq, headHash: res.json?.headHash };
}

async function authoritySeq(prefix: string): Promise<number> {
  return Number((await redis!.client.get(`${prefix}seq`)) ?? 0);
}

/** Every node at the authority's sequence, with a verifying audit chain and the same head. */
async function waitConverged(cluster: Cluster, timeoutMs: number, extra?: () => Promise<boolean>): Promise<void> {
  let last = '';
  try {
    await waitFor(
      async () => {
        const seq = await authoritySeq(cluster.prefix);
        const heads = await Promise.all(cluster.nodes.map(verify));
        last = `authority ${seq}; nodes ${JSON.stringify(heads)}`;
        if (!heads.every((h) => h.status === 200 && h.ok && h.headSeq === seq && h.headHash === heads[0]!.headHash)) return false;
        return extra ? extra() : true;
      },
      timeoutMs,
      'every node to converge',
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}: ${last}`);
  }
}

/** The 503 a node must answer with while the control plane is away: clear, never a 500. */
function assertUnavailable(res: { status: number; json: any }, what: string): void {
  assert.equal(res.status, 503, `${what}: expected 503, got ${res.status} ${JSON.stringify(res.json)}`);
  assert.equal(res.json?.error?.code, 'CONTROL_PLANE_UNAVAILABLE', `${what}: ${JSON.stringify(res.json)}`);
  assert.match(res.json.error.message, /Redis/, `${what}: the message names the control plane`);
}

describe('several nodes on one Redis', () => {
  test('a rollback on node 1 is served by all three nodes within about a second, with identical history', async () => {
    const cluster = await startCluster(NO_ANTI_ENTROPY);
    const [n1, n2, n3] = cluster.nodes as [TestServer, TestServer, TestServer];
    const card = { intendedUse: 'fraud scoring', limitations: 'EU cards only' };
    const v1 = await register(cluster, n1, 'team/fraud', { 'model.bin': 'fraud weights 1' }, { card });
    const v2 = await register(cluster, n2, 'team/fraud', { 'model.bin': 'fraud weights 2' }, { card });
    assert.deepEqual([v1.version, v2.version], [1, 2], 'numbering is shared across nodes');

    // An approver token made on node 2 is known on node 3 (tokens live in Redis).
    const approver = await createToken(n2, 'risk-officer', 'approver');
    await waitFor(async () => (await as(n3, approver.token, 'GET', '/v1/models/team/fraud')).status === 200, 2000, 'the token on node 3');
    for (const v of [1, 2]) {
      const res = await as(n3, approver.token, 'POST', `/v1/models/team/fraud/versions/${v}/approvals`, { decision: 'approve' });
      assert.equal(res.status, 201, JSON.stringify(res.json));
      // The default promotion path, staged on node 3 and read by the gate on nodes 1 and 2.
      await stage(n3, approver.token, 'team/fraud', v);
    }
    const p1 = await as(n1, approver.token, 'PUT', '/v1/models/team/fraud/aliases/production', { version: 1 });
    assert.equal(p1.status, 200, JSON.stringify(p1.json));
    const p2 = await as(n2, approver.token, 'PUT', '/v1/models/team/fraud/aliases/production', { version: 2, expectedVersion: 1 });
    assert.equal(p2.status, 200, JSON.stringify(p2.json));
    await waitFor(
      async () => (await Promise.all(cluster.nodes.map((n) => resolveDigest(n, 'team/fraud@production')))).every((d) => d === v2.digest),
      2000,
      'v2 live everywhere',
    );

    const rb = await api(n1, 'POST', '/v1/models/team/fraud/aliases/production/rollback', { reason: 'latency regression' });
    assert.equal(rb.status, 200, rb.text);
    assert.equal(rb.json.version, 1);
    // Nodes learn of it only through pub/sub here (anti-entropy is off): ~1 s is generous.
    await waitFor(
      async () => (await Promise.all(cluster.nodes.map((n) => resolveDigest(n, 'team/fraud@production')))).every((d) => d === v1.digest),
      1500,
      'the rollback on every node',
    );
    for (const node of cluster.nodes) {
      const res = await api(node, 'GET', '/v1/resolve/team/fraud@production');
      assert.equal(res.headers.get('x-model-version'), '1');
      assert.equal(res.headers.get('etag'), `"${v1.digest}"`);
    }
    const histories = await Promise.all(cluster.nodes.map((n) => api(n, 'GET', '/v1/models/team/fraud/aliases/production/history')));
    for (const h of histories) assert.equal(h.status, 200);
    assert.deepEqual(
      histories[0]!.json.history.map((e: any) => [e.action, e.from, e.to, e.reason ?? null]),
      [
        ['set', null, 1, null],
        ['set', 1, 2, null],
        ['rollback', 2, 1, 'latency regression'],
      ],
    );
    assert.deepEqual(histories[1]!.json, histories[0]!.json);
    assert.deepEqual(histories[2]!.json, histories[0]!.json);
    await waitConverged(cluster, 2000);
  });

  test('two nodes racing to move one alias with the same expectedVersion: exactly one 200, the other 409, every time', async () => {
    const cluster = await startCluster(NO_ANTI_ENTROPY);
    const [n1, n2, n3] = cluster.nodes as [TestServer, TestServer, TestServer];
    for (let i = 1; i <= 3; i++) await register(cluster, n1, 'race', { 'w.bin': `race ${i}` });
    const first = await api(n1, 'PUT', '/v1/models/race/aliases/live', { version: 1, expectedVersion: null });
    assert.equal(first.status, 200, first.text);
    let current = 1;
    const rounds = 40;
    const pairs: [TestServer, TestServer][] = [
      [n1, n2],
      [n2, n3],
      [n3, n1],
    ];
    for (let round = 0; round < rounds; round++) {
      const [x, y] = pairs[round % pairs.length]!;
      const toX = (current % 3) + 1;
      const toY = (toX % 3) + 1;
      const [rx, ry] = await Promise.all([
        api(x, 'PUT', '/v1/models/race/aliases/live', { version: toX, expectedVersion: current }),
        api(y, 'PUT', '/v1/models/race/aliases/live', { version: toY, expectedVersion: current }),
      ]);
      const statuses = [rx.status, ry.status].sort();
      assert.deepEqual(statuses, [200, 409], `round ${round}: ${rx.status} ${rx.text} / ${ry.status} ${ry.text}`);
      const loser = rx.status === 409 ? rx : ry;
      assert.equal(loser.json.error.code, 'ALIAS_CONFLICT', loser.text);
      current = rx.status === 200 ? toX : toY;
    }
    await waitFor(
      async () =>
        (await Promise.all(cluster.nodes.map((n) => api(n, 'GET', '/v1/models/race/aliases/live')))).every(
          (r) => r.json?.version === current,
        ),
      2000,
      'every node on the winner',
    );
    const histories = await Promise.all(cluster.nodes.map((n) => api(n, 'GET', '/v1/models/race/aliases/live/history')));
    const history = histories[0]!.json.history as { from: number | null; to: number }[];
    assert.equal(history.length, rounds + 1, 'one history entry per winner');
    for (let i = 1; i < history.length; i++) assert.equal(history[i]!.from, history[i - 1]!.to, 'no lost update');
    for (const h of histories) assert.deepEqual(h.json, histories[0]!.json);
    await waitConverged(cluster, 3000);
  });

  test('subscriber connections killed with CLIENT KILL mid-stream: later changes still reach every node, and all converge', async () => {
    const cluster = await startCluster(NO_ANTI_ENTROPY);
    const { nodes } = cluster;
    const digests: string[] = [];
    for (let i = 1; i <= 4; i++) digests.push((await register(cluster, nodes[0]!, 'stream', { 'w.bin': `stream ${i}` })).digest);
    const subscribers = async () => (await redis!.clients()).filter((c) => c.name === 'modelgate-sub').length;
    await waitFor(async () => (await subscribers()) === 3, 5000, 'one subscriber connection per node');

    // Kills mid-stream, and one just before the last moves: their notices are published while the
    // subscribers reconnect, so only the resync after resubscribing can bring them to the nodes.
    let version = 1;
    for (let i = 0; i < 90; i++) {
      if (i === 20 || i === 50 || i === 51 || i === 87) {
        // 51: again right away, while the connections killed at 50 may still be reconnecting.
        const killed = await redis!.killClients({ name: 'modelgate-sub' });
        if (i !== 51) assert.equal(killed, 3, "killed every node's subscriber connection");
      }
      version = (i % 4) + 1;
      const res = await api(nodes[i % 3]!, 'PUT', '/v1/models/stream/aliases/live', { version, reason: `move ${i}` });
      assert.equal(res.status, 200, `move ${i}: ${res.status} ${res.text}`);
    }
    const expected = digests[version - 1]!;
    await waitConverged(cluster, 5000, async () =>
      (await Promise.all(nodes.map((n) => resolveDigest(n, 'stream@live')))).every((d) => d === expected),
    );
    await waitFor(async () => (await subscribers()) === 3, 5000, 'every node subscribed again');

    // After the reconnects, a single change reaches every node through pub/sub alone.
    const final = await api(nodes[1]!, 'PUT', '/v1/models/stream/aliases/live', { version: version === 1 ? 2 : 1 });
    assert.equal(final.status, 200, final.text);
    const want = digests[final.json.version - 1]!;
    await waitFor(
      async () => (await Promise.all(nodes.map((n) => resolveDigest(n, 'stream@live')))).every((d) => d === want),
      2000,
      'the last change on every node',
    );
    const histories = await Promise.all(nodes.map((n) => api(n, 'GET', '/v1/models/stream/aliases/live/history')));
    assert.equal(histories[0]!.json.history.length, 91);
    for (const h of histories) assert.deepEqual(h.json, histories[0]!.json);
  });
});

describe('Redis down', () => {
  test('while Redis is down writes answer 503 CONTROL_PLANE_UNAVAILABLE on every node and reads keep serving 200; afterwards writes work again', async () => {
    const cluster = await startCluster(1000);
    const { nodes } = cluster;
    const v1 = await register(cluster, nodes[0]!, 'outage', { 'w.bin': 'outage 1' });
    const v2 = await register(cluster, nodes[0]!, 'outage', { 'w.bin': 'outage 2' });
    assert.equal((await api(nodes[0]!, 'PUT', '/v1/models/outage/aliases/live', { version: 1 })).status, 200);
    await waitConverged(cluster, 3000, async () =>
      (await Promise.all(nodes.map((n) => resolveDigest(n, 'outage@live')))).every((d) => d === v1.digest),
    );
    const writer = await createToken(nodes[0]!, 'ci', 'writer');
    await waitConverged(cluster, 3000);
    const before = await verify(nodes[0]!);

    await redis!.stop('SIGKILL');
    try {
      for (const node of nodes) {
        assertUnavailable(await api(node, 'PUT', '/v1/models/outage/aliases/live', { version: 2, expectedVersion: 1 }), 'alias move');
        assertUnavailable(await api(node, 'POST', '/v1/models/outage/aliases/live/rollback', { toVersion: 2 }), 'rollback');
        assertUnavailable(await api(node, 'PATCH', '/v1/models/outage/versions/1', { metadata: { framework: 'onnx' } }), 'version update');
        assertUnavailable(await api(node, 'POST', '/v1/models/outage/versions/1/approvals', { decision: 'approve' }), 'approval');
        const data = Buffer.from(`new during outage ${node.port}`);
        const digest = await uploadBlob(node, data); // blobs are node-local: still accepted
        assertUnavailable(
          await api(node, 'POST', '/v1/models/outage/versions', { files: [{ path: 'w.bin', size: data.length, digest }] }),
          'registration',
        );
        assertUnavailable(await api(node, 'POST', '/v1/tokens', { name: 'late', role: 'reader' }), 'token creation');
        assertUnavailable(
          await as(node, writer.token, 'PUT', '/v1/models/outage/aliases/canary', { version: 1 }),
          'alias move with an API token',
        );
      }
      for (const node of nodes) {
        const resolved = await api(node, 'GET', '/v1/resolve/outage@live');
        assert.equal(resolved.status, 200, resolved.text);
        assert.equal(resolved.json.digest, v1.digest);
        assert.equal((await api(node, 'GET', '/v1/resolve/outage@v2')).json.digest, v2.digest);
        assert.equal((await api(node, 'GET', '/v1/models/outage')).status, 200);
        assert.equal((await api(node, 'GET', '/v1/models/outage/versions')).status, 200);
        assert.equal((await api(node, 'GET', '/v1/models/outage/aliases/live/history')).status, 200);
        assert.equal(
          (await as(node, writer.token, 'GET', '/v1/resolve/outage@live')).status,
          200,
          'API tokens still authenticate from the replica',
        );
        assert.deepEqual(await verify(node), before);
        const blob = await fetch(`${node.url}/v1/models/outage@live/files/w.bin`, { headers: { Authorization: `Bearer ${node.token}` } });
        assert.equal(blob.status, 200);
        assert.equal(await blob.text(), 'outage 1');
        assert.equal((await fetch(`${node.url}/healthz`)).status, 200);
      }
    } finally {
      await redis!.restart();
    }
    // Each node recovers by itself.
    for (const [i, node] of nodes.entries()) {
      await waitFor(
        async () => {
          const res = await api(node, 'PUT', '/v1/models/outage/aliases/live', { version: i % 2 === 0 ? 2 : 1 });
          if (res.status === 200) return true;
          assertUnavailable(res, 'a write while reconnecting');
          return false;
        },
        10_000,
        `a write on node ${i + 1} after Redis returned`,
      );
    }
    const last = (await api(nodes[2]!, 'GET', '/v1/models/outage/aliases/live')).json.version as number;
    const want = last === 1 ? v1.digest : v2.digest;
    await waitConverged(cluster, 5000, async () =>
      (await Promise.all(nodes.map((n) => resolveDigest(n, 'outage@live')))).every((d) => d === want),
    );
    assert.equal((await verify(nodes[0]!)).headSeq, before.headSeq + 3, 'exactly the three later writes were added');
  });

  test('Redis killed and restarted while aliases keep moving through every node: only 200 or 503, then all nodes converge and no acknowledged write is lost', async () => {
    const cluster = await startCluster(1000);
    const { nodes } = cluster;
    const digests: string[] = [];
    for (let i = 1; i <= 4; i++) digests.push((await register(cluster, nodes[i % 3]!, 'churn', { 'w.bin': `churn ${i}` })).digest);
    const aliases = ['a1', 'a2', 'a3'];
    await waitConverged(cluster, 3000);

    // Per alias: the last acknowledged version, and the versions attempted after it whose outcome is
    // unknown (a 503 may come back for a write that Redis applied just before it died).
    const acked = new Map<string, number>();
    const uncertain = new Map<string, number[]>();
    const unexpected: string[] = [];
    let ok = 0;
    let unavailable = 0;
    let stop = false;
    const loop = (async () => {
      for (let i = 0; !stop; i++) {
        const alias = aliases[i % aliases.length]!;
        const node = nodes[(i + Math.floor(i / 3)) % nodes.length]!;
        const version = (i % 4) + 1;
        let res: Awaited<ReturnType<typeof api>>;
        try {
          res = await api(node, 'PUT', `/v1/models/churn/aliases/${alias}`, { version, reason: `loop ${i}` });
        } catch (err) {
          unexpected.push(`#${i} ${alias}: ${(err as Error).message}`);
          continue;
        }
        if (res.status === 200) {
          ok++;
          acked.set(alias, version);
          uncertain.set(alias, []);
        } else if (res.status === 503 && res.json?.error?.code === 'CONTROL_PLANE_UNAVAILABLE') {
          unavailable++;
          uncertain.set(alias, [...(uncertain.get(alias) ?? []), version]);
        } else {
          unexpected.push(`#${i} ${alias} on :${node.port}: ${res.status} ${res.text.slice(0, 300)}`);
        }
      }
    })();
    try {
      await waitFor(() => ok >= 30, 20_000, '30 moves before the crash');
      await redis!.stop('SIGKILL');
      const downAt = unavailable;
      await waitFor(() => unavailable >= downAt + 15, 20_000, 'refused moves while Redis is down');
      // Reads keep working meanwhile.
      for (const node of nodes) assert.equal((await api(node, 'GET', '/v1/resolve/churn@a1')).status, 200);
      await redis!.restart();
      const upAt = ok;
      await waitFor(() => ok >= upAt + 30, 20_000, '30 moves after Redis returned');
    } finally {
      stop = true;
      await loop;
    }
    assert.deepEqual(unexpected, [], 'every answer was 200 or 503 CONTROL_PLANE_UNAVAILABLE');

    await waitConverged(cluster, 5000, async () => {
      for (const alias of aliases) {
        const ds = await Promise.all(nodes.map((n) => resolveDigest(n, `churn@${alias}`)));
        if (!ds.every((d) => d !== null && d === ds[0])) return false;
      }
      return true;
    });
    for (const alias of aliases) {
      const shown = await api(nodes[0]!, 'GET', `/v1/models/churn/aliases/${alias}`);
      const allowed = [acked.get(alias), ...(uncertain.get(alias) ?? [])];
      assert.ok(
        allowed.includes(shown.json.version),
        `${alias} is v${shown.json.version}: the last acknowledged was v${acked.get(alias)}, unknown outcomes after it: ${JSON.stringify(uncertain.get(alias))}`,
      );
      const histories = await Promise.all(nodes.map((n) => api(n, 'GET', `/v1/models/churn/aliases/${alias}/history`)));
      for (const h of histories) assert.deepEqual(h.json, histories[0]!.json);
      const history = histories[0]!.json.history as { from: number | null; to: number }[];
      for (let i = 1; i < history.length; i++) assert.equal(history[i]!.from, history[i - 1]!.to, `${alias}: the history is a chain`);
    }
    assert.ok(ok >= 60 && unavailable >= 15, `ok ${ok}, unavailable ${unavailable}`);
  });
});
