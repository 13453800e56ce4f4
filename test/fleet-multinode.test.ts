// Fleet telemetry across three gateway nodes sharing one Redis: a simulated fleet of pod processes,
// each pulling through its own node, a rollback through one node that pods on the others follow,
// the fleet view converging from every node's counts, stragglers listed (and recorded once as a
// finding, whichever node claims the move), and an unregistered digest reported through one node
// and listed through another.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import WebSocket from 'ws';
import { ok, parseJson, runCli } from './harness/cli.js';
import { api, sha256, waitFor, registerFiles } from './harness/http.js';
import { deletePrefix, randomPrefix, startRedis, type TestRedis } from './harness/redis.js';
import { startServer, stopChild, type TestServer } from './harness/server.js';

const POD = fileURLToPath(new URL('./harness/fleet-pod.js', import.meta.url));

let redis: TestRedis;
let nodes: TestServer[] = [];
const pods: ChildProcess[] = [];
const prefix = randomPrefix();

before(async () => {
  redis = await startRedis();
  const env = {
    MODELGATE_CONTROL_BACKEND: 'redis',
    MODELGATE_REDIS_URL: redis.url,
    MODELGATE_REDIS_PREFIX: prefix,
    MODELGATE_FLEET_FLUSH_MS: '200',
    MODELGATE_FLEET_STRAGGLER_SECONDS: '0',
  };
  nodes = await Promise.all([0, 1, 2].map(() => startServer({ env })));
});

after(async () => {
  await Promise.all(pods.map((p) => stopChild(p, 'SIGKILL')));
  await Promise.all(nodes.map((n) => n.dispose().catch(() => undefined)));
  await deletePrefix(redis.client, prefix).catch(() => undefined);
  await redis.dispose();
});

/** Blobs are node-local on the fs backend: every node gets them; the version is registered once. */
async function register(name: string, files: Record<string, string>): Promise<number> {
  return (await registerFiles(nodes[0]!, name, files, { uploadTo: nodes })).version;
}

function startPod(node: TestServer, identity: string, mode: 'poll' | 'once' = 'poll'): void {
  pods.push(spawn(process.execPath, [POD, node.url, node.token, 'fraud', 'live', identity, '200', mode], { stdio: 'ignore' }));
}

const countsOf = (view: any) => Object.fromEntries(view.versions.map((g: any) => [`v${g.version}`, g.instances]));
const fleetOn = async (node: TestServer) => (await api(node, 'GET', '/v1/fleet?model=fraud')).json;

test('three nodes: the fleet view sums every node, converges after a rollback, lists stragglers and unregistered digests', async () => {
  await register('fraud', { 'w.bin': 'multinode one' });
  await register('fraud', { 'w.bin': 'multinode two' });
  assert.equal((await api(nodes[0]!, 'PUT', '/v1/models/fraud/aliases/live', { version: 2 })).status, 200);
  // Two polling pods per node, and one pod on node 2 that never asks again.
  nodes.forEach((node, n) => {
    startPod(node, `scorer/n${n}-a`);
    startPod(node, `scorer/n${n}-b`);
  });
  startPod(nodes[2]!, 'scorer/stuck', 'once');
  await waitFor(async () => countsOf(await fleetOn(nodes[1]!)).v2 === 7, 60_000, 'seven pods on v2, seen from node 1');

  const before = await fleetOn(nodes[0]!);
  const servedBy = new Set(before.instances.map((i: any) => i.node));
  assert.equal(servedBy.size, 3, 'observations from every node');

  // Rolled back through node 1; the pods on nodes 0 and 2 learn of it through Redis.
  const run = await runCli(['rollback', 'fraud@live', '--to', '1', '--wait', '--timeout', '15', '--server', nodes[1]!.url], {
    MODELGATE_TOKEN: nodes[1]!.token,
  });
  assert.equal(run.code, 1, run.stderr);
  assert.match(run.stderr, /straggler: scorer\/stuck on v2/);
  assert.doesNotMatch(run.stderr, /n[0-2]-[ab] on v2/);

  for (const node of nodes) {
    const view = await fleetOn(node);
    assert.deepEqual(countsOf(view), { v1: 6, v2: 1 });
    const live = view.aliases.find((a: any) => a.alias === 'live');
    assert.equal(live.current, 6);
    assert.deepEqual(
      live.stragglers.map((s: any) => s.instance),
      ['stuck'],
    );
    assert.match(live.stragglers[0].node, new RegExp(`:${nodes[2]!.port}$`), 'the straggler was last seen by node 2');
  }

  // The rollback left a straggler: each of the three nodes checks the move (within about a second
  // of it, since the window is 0 here, while rollback --wait above waited 15 s), and one records it.
  await waitFor(
    async () => (await api(nodes[0]!, 'GET', '/v1/audit?action=fleet.stragglers')).json.entries.length > 0,
    20_000,
    'the straggler finding',
  );
  const findings = (await api(nodes[1]!, 'GET', '/v1/audit?action=fleet.stragglers')).json.entries;
  assert.equal(findings.length, 1, 'one finding for the move, whichever nodes checked it');
  assert.equal(findings[0].target, 'fraud@live');
  assert.ok(findings[0].details.instances.some((i: any) => i.instance === 'stuck'));

  // Observed history, from any node: the six pollers ran both versions.
  const history = (await api(nodes[2]!, 'GET', '/v1/fleet/history?model=fraud&version=1')).json.spans;
  assert.equal(history.length, 6);

  // An unregistered digest reported through node 2, listed through node 0.
  const report = { deployment: 'shadow', instance: 'gpu-7', files: [{ path: 'm.bin', digest: sha256('never pushed'), size: 12 }] };
  assert.equal((await api(nodes[2]!, 'POST', '/v1/fleet/reports', report)).status, 202);
  const listed = parseJson(
    await runCli(['fleet', '--unregistered', '--json', '--server', nodes[0]!.url], { MODELGATE_TOKEN: nodes[0]!.token }),
  );
  assert.deepEqual(
    listed.artifacts.map((a: any) => [a.digest, a.deployment, a.instance]),
    [[sha256('never pushed'), 'shadow', 'gpu-7']],
  );
  // The audit entry is in the shared chain, visible from every node once replicated.
  await waitFor(
    async () => (await api(nodes[1]!, 'GET', '/v1/audit?action=fleet.unregistered')).json.entries.length === 1,
    20_000,
    'the audit entry on node 1',
  );
  ok(await runCli(['audit', 'verify', '--server', nodes[1]!.url], { MODELGATE_TOKEN: nodes[1]!.token }));
});

test("a socket watching a model on one node gets its summaries while the model's traffic goes only to another", async () => {
  await registerFiles(nodes[0]!, 'remote', { 'w.bin': 'remote one' }, { uploadTo: nodes });
  assert.equal((await api(nodes[0]!, 'PUT', '/v1/models/remote/aliases/live', { version: 1 })).status, 200);
  const ws = new WebSocket(`${nodes[0]!.url.replace('http', 'ws')}/v1/watch?models=remote`, {
    headers: { Authorization: `Bearer ${nodes[0]!.token}` },
  });
  const summaries: any[] = [];
  ws.on('message', (data) => {
    const msg = JSON.parse(String(data));
    if (msg.type === 'fleet' && msg.model === 'remote') summaries.push(msg);
  });
  await once(ws, 'open');
  try {
    // The only pod of `remote` asks node 2; node 0 counts none of its traffic.
    pods.push(
      spawn(process.execPath, [POD, nodes[2]!.url, nodes[2]!.token, 'remote', 'live', 'remote/pod-1', '200', 'poll'], { stdio: 'ignore' }),
    );
    await waitFor(
      () => summaries.some((s) => s.versions.some((v: any) => v.version === 1 && v.instances === 1)),
      30_000,
      'a summary on node 0',
    );
  } finally {
    ws.close();
  }
});

test('watch summaries are rate-limited: at most one per model per fleet.watchIntervalSeconds (5 s by default) from a node', async () => {
  const node = nodes[0]!;
  const ws = new WebSocket(`${node.url.replace('http', 'ws')}/v1/watch?models=fraud`, {
    headers: { Authorization: `Bearer ${node.token}` },
  });
  const arrivals: number[] = [];
  ws.on('message', (data) => {
    const msg = JSON.parse(String(data));
    if (msg.type === 'fleet' && msg.model === 'fraud') arrivals.push(Date.now());
  });
  await once(ws, 'open');
  const opened = Date.now();
  try {
    // Pods resolve through this node every 200 ms and it flushes every 200 ms: unlimited, a summary
    // would follow nearly every flush. Summaries sent after the socket opened lie at least 5 s apart.
    await waitFor(() => arrivals.length >= 2, 30_000, 'two summaries');
    const elapsed = Date.now() - opened;
    assert.ok(arrivals.length <= 1 + Math.floor(elapsed / 5000), `${arrivals.length} summaries in ${elapsed} ms`);
  } finally {
    ws.close();
  }
});

test('with Redis away, pods are still served; lost flushes are counted, views answer 503, and counting resumes', async () => {
  const resolveAs = (identity: string) =>
    fetch(`${nodes[0]!.url}/v1/resolve/fraud@live`, {
      headers: { Authorization: `Bearer ${nodes[0]!.token}`, 'X-Modelgate-Deployment': identity },
    });
  await redis.stop('SIGKILL');
  try {
    for (let i = 0; i < 5; i++) {
      const res = await resolveAs('outage/pod-1');
      assert.equal(res.status, 200, 'telemetry never fails a request');
      await res.arrayBuffer();
    }
    await waitFor(
      async () => /modelgate_fleet_flush_failures_total [1-9]/.test(await (await fetch(`${nodes[0]!.url}/metrics`)).text()),
      20_000,
      'a failed flush counted',
    );
    const view = await api(nodes[0]!, 'GET', '/v1/fleet?model=fraud');
    assert.equal(view.status, 503);
    assert.equal(view.json.error.code, 'FLEET_STORE_UNAVAILABLE');
  } finally {
    await redis.restart();
  }
  // What was counted while Redis was away is lost (telemetry, not state); counting resumes.
  await waitFor(
    async () => {
      await (await resolveAs('outage/pod-2')).arrayBuffer();
      const view = await api(nodes[0]!, 'GET', '/v1/fleet?model=fraud');
      return view.status === 200 && view.json.instances.some((i: any) => i.instance === 'pod-2');
    },
    60_000,
    'counting after Redis is back',
  );
});
