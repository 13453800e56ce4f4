// Stacks on several nodes sharing Redis: a stack registered on one node right after its component
// was registered on another (references are frozen against the authority, not a lagging replica),
// the closure resolved on every node, a retirement on one node flagging the stack everywhere, the
// reverse index answering impact and refusing the component's deletion on another node.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { api, uploadBlob, waitFor } from './harness/http.js';
import { deletePrefix, randomPrefix, startRedis, type TestRedis } from './harness/redis.js';
import { startServer, type TestServer } from './harness/server.js';
import { as, createToken } from './harness/tokens.js';

let redis: TestRedis;
let nodes: TestServer[] = [];
let prefix: string;

before(async () => {
  redis = await startRedis();
  prefix = randomPrefix();
  // Anti-entropy off: a node learns of another's commits only through the change notices.
  const env = {
    MODELGATE_CONTROL_BACKEND: 'redis',
    MODELGATE_REDIS_URL: redis.url,
    MODELGATE_REDIS_PREFIX: prefix,
    MODELGATE_ANTI_ENTROPY_MS: '600000',
  };
  nodes = [await startServer({ env }), await startServer({ env })];
});
after(async () => {
  await Promise.all(nodes.map((n) => n.dispose().catch(() => undefined)));
  await deletePrefix(redis.client, prefix).catch(() => undefined);
  await redis.dispose();
});

test('a stack across nodes: frozen against the authority, closure everywhere, flags and the index shared', async () => {
  const [a, b] = nodes as [TestServer, TestServer];
  const content = Buffer.from('multinode base weights');
  let digest = '';
  for (const node of nodes) digest = await uploadBlob(node, content);
  const base = await api(a, 'POST', '/v1/models/mn/base/versions', { files: [{ path: 'w.bin', size: content.length, digest }] });
  assert.equal(base.status, 201, base.text);
  assert.equal((await api(a, 'PUT', '/v1/models/mn/base/aliases/stable', { version: 1 })).status, 200);

  // At once on the other node, by alias: B freezes against what Redis holds, whatever its replica has applied.
  const stack = await api(b, 'POST', '/v1/models/mn/app/versions', { components: { base: 'mn/base@stable' } });
  assert.equal(stack.status, 201, stack.text);
  assert.deepEqual(stack.json.components.base, { name: 'mn/base', version: 1, digest: base.json.digest, ref: 'mn/base@stable' });
  assert.equal((await api(b, 'PUT', '/v1/models/mn/app/aliases/live', { version: 1 })).status, 200);

  for (const node of nodes) {
    await waitFor(async () => (await api(node, 'GET', '/v1/resolve/mn/app@live')).status === 200, 10_000, 'the stack on every node');
    const resolved = await api(node, 'GET', '/v1/resolve/mn/app@live');
    assert.equal(resolved.json.digest, stack.json.digest);
    assert.equal(resolved.json.components.base.files[0].digest, digest);
  }

  // The component cannot be deleted from either node; impact on A finds the stack B registered.
  const refused = await api(a, 'DELETE', '/v1/models/mn/base/versions/1', { reason: 'cleanup' });
  assert.equal(refused.status, 409);
  assert.equal(refused.json.error.code, 'VERSION_IN_USE');
  const impact = await api(a, 'GET', `/v1/impact?target=${digest}`);
  assert.deepEqual(impact.json.aliases.map((x: { name: string; alias: string }) => `${x.name}@${x.alias}`).sort(), [
    'mn/app@live',
    'mn/base@stable',
  ]);

  // Retired through B (after its alias moves away): A's prepared closure shows the flag.
  const approver = (await createToken(a, 'mn-approver', 'approver')).token;
  await waitFor(async () => (await as(b, approver, 'GET', '/v1/whoami')).status === 200, 10_000, 'the token on B');
  assert.equal((await api(b, 'DELETE', '/v1/models/mn/base/aliases/stable')).status, 200);
  assert.equal((await as(b, approver, 'POST', '/v1/models/mn/base/versions/1/retire', { reason: 'CVE' })).status, 200);
  await waitFor(
    async () => (await api(a, 'GET', '/v1/resolve/mn/app@live')).json.flaggedComponents?.[0]?.status === 'retired',
    10_000,
    'the flag on node A',
  );
  for (const node of nodes) {
    const verified = await api(node, 'GET', '/v1/audit/verify');
    assert.equal(verified.json.ok, true, JSON.stringify(verified.json));
  }
});
