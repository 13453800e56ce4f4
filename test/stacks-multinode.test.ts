// Stacks on several nodes sharing Redis: a stack registered on one node right after its component
// was registered on another (references are frozen against the authority, not a lagging replica),
// the closure resolved on every node, a retirement on one node flagging the stack everywhere, the
// reverse index answering impact and refusing the component's deletion on another node; a nested
// stack registered across both nodes pulled through the CLI from either.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parseJson, runCli } from './harness/cli.js';
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
    // Retention of ~0.9 s, for the GC test; no grace period.
    MODELGATE_RETENTION_DAYS: '0.00001',
    MODELGATE_GC_GRACE_SECONDS: '0',
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
  // A learned B's commits only from B's notices (anti-entropy is off), each timed until A's replica held it.
  assert.match(await (await fetch(`${a.url}/metrics`)).text(), /^modelgate_replication_apply_seconds_count [1-9]/m);

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

test('gates, GC reachability and lineage across nodes', async () => {
  const [a, b] = nodes as [TestServer, TestServer];
  const approver = (await createToken(a, 'mn-gate-approver', 'approver')).token;
  await waitFor(async () => (await as(b, approver, 'GET', '/v1/whoami')).status === 200, 10_000, 'the token on B');
  const card = { intendedUse: 'x', limitations: 'y' };
  const upload = async (text: string) => {
    const data = Buffer.from(text);
    let digest = '';
    for (const node of nodes) digest = await uploadBlob(node, data);
    return { path: 'w.bin', size: data.length, digest };
  };
  // Parts on A: a pretrained model, a fine-tune of it (lineage), an orphan; the stack on B.
  assert.equal((await api(a, 'POST', '/v1/models/mg/pre/versions', { files: [await upload('mg pre')], card })).status, 201);
  const tuned = await api(a, 'POST', '/v1/models/mg/tuned/versions', {
    files: [await upload('mg tuned')],
    card,
    lineage: { parent: 'mg/pre@v1' },
  });
  assert.equal(tuned.status, 201, tuned.text);
  assert.equal((await api(a, 'POST', '/v1/models/mg/orphan/versions', { files: [await upload('mg orphan')] })).status, 201);
  const stack = await api(b, 'POST', '/v1/models/mg/app/versions', { components: { model: 'mg/tuned@v1' }, card });
  assert.equal(stack.status, 201, stack.text);
  assert.equal((await as(a, approver, 'POST', '/v1/models/mg/app/versions/1/approvals', { decision: 'approve' })).status, 201);
  // The default promotion path: a stay on staging (ended again, so retention's reasons below are production's).
  assert.equal((await api(b, 'PUT', '/v1/models/mg/app/aliases/staging', { version: 1 })).status, 200);
  assert.equal((await api(b, 'DELETE', '/v1/models/mg/app/aliases/staging')).status, 200);

  // The gate, asked on A about a stack registered on B: the component lacks its approval.
  const refused = await as(a, approver, 'PUT', '/v1/models/mg/app/aliases/production', { version: 1 });
  assert.equal(refused.status, 403);
  assert.deepEqual(
    refused.json.error.details.map((u: { component?: string; cause?: string }) => `${u.component}:${u.cause}`),
    ['model:APPROVALS'],
  );
  assert.equal((await as(b, approver, 'POST', '/v1/models/mg/tuned/versions/1/approvals', { decision: 'approve' })).status, 201);
  // A committed approval on B is what A's gate reads inside its commit, however far A's replica is behind.
  const moved = await as(a, approver, 'PUT', '/v1/models/mg/app/aliases/production', { version: 1 });
  assert.equal(moved.status, 200, JSON.stringify(moved.json));

  // GC on B, past retention: the stack's component and that component's lineage parent are kept, with reasons.
  await new Promise((r) => setTimeout(r, 1200)); // past the ~0.9 s retention
  await waitFor(async () => (await api(b, 'GET', '/v1/resolve/mg/app@production')).status === 200, 10_000, 'the move on B');
  const dry = await api(b, 'POST', '/v1/gc', { dryRun: true });
  assert.equal(dry.status, 200, dry.text);
  const reasons = Object.fromEntries(
    dry.json.keptVersions
      .filter((v: { name: string }) => v.name.startsWith('mg/'))
      .map((v: { name: string; version: number; reason: string }) => [`${v.name}@v${v.version}`, v.reason]),
  );
  assert.deepEqual(reasons, {
    'mg/app@v1': 'holds @production',
    'mg/tuned@v1': 'is component "model" of mg/app@v1, which holds @production',
    'mg/pre@v1': 'is the lineage parent of mg/tuned@v1, which is component "model" of mg/app@v1, which holds @production',
  });
  assert.deepEqual(
    dry.json.versions.filter((v: { name: string }) => v.name.startsWith('mg/')).map((v: { name: string }) => v.name),
    ['mg/orphan'],
  );

  // Lineage of the fine-tune, asked on B: parent below, stack above.
  const graph = await api(b, 'GET', '/v1/models/mg/tuned/lineage?ref=v1');
  assert.deepEqual(
    graph.json.edges.map((e: { from: string; to: string; relation: string }) => `${e.from} -${e.relation}-> ${e.to}`).sort(),
    ['mg/pre@v1 -parent-> mg/tuned@v1', 'mg/tuned@v1 -component-> mg/app@v1'],
  );
});

/** Every regular file under root, relative path → sha256 hex. */
async function tree(root: string, prefix = ''): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await readdir(join(root, prefix), { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) Object.assign(out, await tree(root, rel));
    else
      out[rel] = createHash('sha256')
        .update(await readFile(join(root, rel)))
        .digest('hex');
  }
  return out;
}

test('a nested stack registered across nodes is pulled from either, verified, a shared blob fetched once; impact says since when', async () => {
  const [a, b] = nodes as [TestServer, TestServer];
  const texts = {
    base: 'mnp base weights',
    embed: 'mnp embedding weights',
    index: 'mnp vectors',
    tokenizer: '{"vocab":["x"]}',
    prompt: 'Answer briefly.',
  };
  // Each node keeps its own blob directory here (the control store is what they share).
  const file = async (path: string, text: string) => {
    const data = Buffer.from(text);
    let digest = '';
    for (const node of nodes) digest = await uploadBlob(node, data);
    return { path, size: data.length, digest };
  };
  const register = async (node: TestServer, name: string, body: Record<string, unknown>) => {
    const res = await api(node, 'POST', `/v1/models/${name}/versions`, body);
    assert.equal(res.status, 201, res.text);
    return res.json;
  };
  const tokenizer = await file('tokenizer.json', texts.tokenizer);
  await register(a, 'mnp/base', { files: [await file('model.safetensors', texts.base), tokenizer] });
  await register(a, 'mnp/embed', { files: [await file('model.onnx', texts.embed), tokenizer] });
  await register(a, 'mnp/index', { files: [await file('index.faiss', texts.index)] });
  // The inner stack on A, the outer one on B at once (frozen against the authority), its alias moved on B.
  await register(a, 'mnp/retrieval', { components: { embedding: 'mnp/embed@v1', index: 'mnp/index@v1' } });
  const outer = await register(b, 'mnp/assistant', {
    files: [await file('prompt.txt', texts.prompt)],
    components: { base: 'mnp/base@v1', retrieval: 'mnp/retrieval@v1' },
  });
  assert.equal((await api(b, 'PUT', '/v1/models/mnp/assistant/aliases/live', { version: 1 })).status, 200);

  const scratch = await mkdtemp(join(tmpdir(), 'modelgate-stacks-mn-'));
  try {
    const sha = (text: string) => createHash('sha256').update(text).digest('hex');
    const expected = {
      'prompt.txt': sha(texts.prompt),
      'base/model.safetensors': sha(texts.base),
      'base/tokenizer.json': sha(texts.tokenizer),
      'retrieval/embedding/model.onnx': sha(texts.embed),
      'retrieval/embedding/tokenizer.json': sha(texts.tokenizer),
      'retrieval/index/index.faiss': sha(texts.index),
    };
    const distinctBytes = Object.values(texts).reduce((n, t) => n + Buffer.byteLength(t), 0);
    for (const node of [a, b]) {
      await waitFor(async () => (await api(node, 'GET', '/v1/resolve/mnp/assistant@live')).status === 200, 10_000, 'the stack on the node');
      const target = join(scratch, node === a ? 'from-a' : 'from-b');
      const run = await runCli(['pull', 'mnp/assistant@live', target, '--json'], { MODELGATE_URL: node.url, MODELGATE_TOKEN: node.token });
      assert.equal(run.code, 0, run.stderr);
      const pulled = parseJson(run);
      assert.equal(pulled.digest, outer.digest);
      assert.deepEqual(pulled.components, ['base', 'retrieval']);
      assert.deepEqual(await tree(target), expected);
      assert.equal(pulled.downloadedBytes, distinctBytes, 'the tokenizer shared by base and embedding crossed the network once');
    }

    // Impact on A of the inner component: the stacks above it, and the alias holding the outer one since its move on B.
    const impact = await api(a, 'GET', '/v1/impact?target=mnp/embed@v1');
    assert.equal(impact.status, 200, impact.text);
    assert.deepEqual(impact.json.versions.map((v: { name: string; relation: string }) => `${v.name}:${v.relation}`).sort(), [
      'mnp/assistant:component',
      'mnp/embed:self',
      'mnp/retrieval:component',
    ]);
    const history = await api(a, 'GET', '/v1/models/mnp/assistant/aliases/live/history');
    const moved = history.json.history.at(-1) as { seq: number; at: string };
    assert.deepEqual(impact.json.aliases, [{ name: 'mnp/assistant', alias: 'live', version: 1, since: moved.at, seq: moved.seq }]);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
});
