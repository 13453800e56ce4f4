// Fleet telemetry through the real service on one node (LMDB): a simulated fleet of pod processes
// resolving and pulling, a rollback with --wait, the fleet view converging and the stragglers
// listed, the observed history, runtime reports of registered and unregistered weights, and every
// piece of bad input (malformed deployment headers, bad reports, a flood of instance names).
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { ok, parseJson, runCli, writeTree } from './harness/cli.js';
import { api, pathRequest, registerFiles, sha256, waitFor } from './harness/http.js';
import { startServer, stopChild, type TestServer } from './harness/server.js';
import { as, createToken } from './harness/tokens.js';

const POD = fileURLToPath(new URL('./harness/fleet-pod.js', import.meta.url));

let server: TestServer;
let reader: string;
let scopedReader: string;
const pods: ChildProcess[] = [];
let tmp: string;

before(async () => {
  server = await startServer({
    env: {
      MODELGATE_FLEET_FLUSH_MS: '100',
      MODELGATE_FLEET_STRAGGLER_SECONDS: '0',
      MODELGATE_FLEET_MAX_REPORT_FILES: '50',
      MODELGATE_FLEET_MAX_RECORDS: '400',
      MODELGATE_FLEET_TRUSTED_PROXIES: '127.0.0.1,::1',
      MODELGATE_FLEET_WATCH_SECONDS: '0',
    },
  });
  tmp = await mkdtemp(join(tmpdir(), 'modelgate-fleet-test-'));
  reader = (await createToken(server, 'lb', 'reader')).token;
  scopedReader = (await createToken(server, 'scoped', 'reader', 'fraud')).token;
});

after(async () => {
  await Promise.all(pods.map((p) => stopChild(p, 'SIGKILL')));
  await server.dispose();
  await rm(tmp, { recursive: true, force: true });
});

function startPod(model: string, identity: string, mode: 'poll' | 'once' = 'poll'): ChildProcess {
  const child = spawn(process.execPath, [POD, server.url, server.token, model, 'live', identity, '200', mode], { stdio: 'ignore' });
  pods.push(child);
  return child;
}

const cli = (args: string[], env: Record<string, string> = {}) =>
  runCli([...args, '--server', server.url], { MODELGATE_TOKEN: server.token, ...env });

async function fleetOf(model: string): Promise<any> {
  const res = await api(server, 'GET', `/v1/fleet?model=${model}`);
  assert.equal(res.status, 200, res.text);
  return res.json;
}

const countsOf = (view: any) => Object.fromEntries(view.versions.map((g: any) => [`v${g.version}`, g.instances]));

describe('a fleet of pods, a rollback, convergence and stragglers', () => {
  test('the fleet view groups instances by version; rollback --wait names the pods that never follow', async () => {
    await registerFiles(server, 'fraud', { 'weights.bin': 'fraud weights one', 'config.json': '{"v":1}' });
    await registerFiles(server, 'fraud', { 'weights.bin': 'fraud weights two', 'config.json': '{"v":2}' });
    assert.equal((await api(server, 'PUT', '/v1/models/fraud/aliases/live', { version: 2 })).status, 200);
    for (let i = 0; i < 4; i++) startPod('fraud', `scorer/pod-${i}`);
    startPod('fraud', 'scorer/stuck-0', 'once');
    startPod('fraud', 'batch/stuck-1', 'once');
    // Each pod resolves, then downloads: wait until all six have done both.
    await waitFor(
      async () => {
        const view = await fleetOf('fraud');
        return countsOf(view).v2 === 6 && view.instances.every((i: any) => i.downloaded?.version === 2);
      },
      60_000,
      'six pods on v2, files downloaded',
    );

    const before = await fleetOf('fraud');
    const pod0 = before.instances.find((i: any) => i.instance === 'pod-0');
    assert.equal(pod0.deployment, 'scorer');
    assert.equal(pod0.via, 'header');
    assert.equal(pod0.resolved.ref, 'live');
    assert.equal(pod0.resolved.version, 2);
    assert.equal(pod0.downloaded.version, 2, 'the files downloaded by digest are counted under their version');
    assert.ok(pod0.downloaded.bytes > 0);
    assert.match(pod0.node, /:[0-9]+$/);
    assert.equal(before.aliases[0].converged, true);

    // Roll back and wait: the four polling pods follow, the two stuck ones never re-resolve.
    const run = await cli(['rollback', 'fraud@live', '--to', '1', '--wait', '--timeout', '15']);
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stdout, /fraud@live -> v1/);
    assert.match(run.stderr, /waiting for fraud@live -> v1/);
    assert.match(run.stderr, /deadline passed; not converged/);
    assert.match(run.stderr, /straggler: batch\/stuck-1 on v2/);
    assert.match(run.stderr, /straggler: scorer\/stuck-0 on v2/);
    assert.doesNotMatch(run.stderr, /pod-[0-3] on v2/);

    const view = await fleetOf('fraud');
    assert.deepEqual(countsOf(view), { v1: 4, v2: 2 });
    const live = view.aliases.find((a: any) => a.alias === 'live');
    assert.equal(live.version, 1);
    assert.equal(live.current, 4);
    assert.equal(live.converged, false);
    assert.deepEqual(
      live.stragglers.map((s: any) => `${s.deployment}/${s.instance}@v${s.version}`),
      ['batch/stuck-1@v2', 'scorer/stuck-0@v2'],
    );
    assert.ok(live.stragglers.every((s: any) => !Number.isNaN(Date.parse(s.lastSeen))));

    // The CLI view reads the same.
    const text = ok(await cli(['fleet', 'fraud'])).stdout;
    assert.match(text, /fraud: v1: 4 instances, v2: 2 instances/);
    assert.match(text, /@live -> v1: 4 instances current, 2 behind/);
  });

  test('rollback --wait returns once every pod has re-resolved', async () => {
    await registerFiles(server, 'churn', { 'w.bin': 'churn one' });
    await registerFiles(server, 'churn', { 'w.bin': 'churn two' });
    await api(server, 'PUT', '/v1/models/churn/aliases/live', { version: 2 });
    for (let i = 0; i < 3; i++) startPod('churn', `churn-api/pod-${i}`);
    await waitFor(async () => countsOf(await fleetOf('churn')).v2 === 3, 60_000, 'three pods on v2');
    const run = ok(await cli(['rollback', 'churn@live', '--to', '1', '--wait', '--timeout', '120', '--json']));
    const lines = run.stdout.trim().split('\n');
    assert.equal(JSON.parse(lines[lines.length - 1]!).converged, true);
    assert.match(run.stderr, /fleet converged: 3 instance\(s\) on v1/);
    assert.deepEqual(countsOf(await fleetOf('churn')), { v1: 3 });
  });

  test('observed history: which instances ran each version, from when to when; exportable', async () => {
    const history = await api(server, 'GET', '/v1/fleet/history?model=fraud&version=2');
    assert.equal(history.status, 200);
    const names = history.json.spans.map((s: any) => `${s.deployment}/${s.instance}`).sort();
    assert.deepEqual(names, ['batch/stuck-1', 'scorer/pod-0', 'scorer/pod-1', 'scorer/pod-2', 'scorer/pod-3', 'scorer/stuck-0']);
    for (const s of history.json.spans) {
      assert.equal(s.version, 2);
      assert.ok(Date.parse(s.from) <= Date.parse(s.until));
    }
    const jsonl = ok(await cli(['fleet', 'history', 'fraud', '--jsonl']))
      .stdout.trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.ok(jsonl.some((s) => s.version === 1 && s.instance === 'pod-0'));
    assert.ok(jsonl.every((s) => s.model === 'fraud'));
    const table = ok(await cli(['fleet', 'history', 'fraud', '--version', '1'])).stdout;
    assert.match(table, /v1\s+scorer\s+pod-0/);
    assert.doesNotMatch(table, /stuck/);
    // The alias-derived view is still its own thing.
    assert.equal((await api(server, 'GET', '/v1/models/fraud/deployments')).status, 200);
  });

  test('the overview lists observed models in the token scope only', async () => {
    const all = (await api(server, 'GET', '/v1/fleet')).json.models.map((m: any) => m.model);
    assert.ok(all.includes('fraud') && all.includes('churn'));
    const scoped = await as(server, scopedReader, 'GET', '/v1/fleet');
    assert.deepEqual(
      scoped.json.models.map((m: any) => m.model),
      ['fraud'],
    );
    assert.equal((await as(server, scopedReader, 'GET', '/v1/fleet?model=churn')).status, 403);
    assert.equal((await as(server, scopedReader, 'GET', '/v1/fleet/history?model=churn')).status, 403);
  });
});

describe('identity without the header, and every path that counts', () => {
  test('no header: the token name and the peer, or the first X-Forwarded-For hop from a trusted proxy', async () => {
    await registerFiles(server, 'ident', { 'w.bin': 'ident' });
    await api(server, 'PUT', '/v1/models/ident/aliases/live', { version: 1 });
    const before = Date.now();
    const plain = await pathRequest(server.port, 'GET', '/v1/resolve/ident@live', { Authorization: `Bearer ${reader}` });
    assert.equal(plain.status, 200);
    const proxied = await pathRequest(server.port, 'GET', '/v1/resolve/ident@live', {
      Authorization: `Bearer ${reader}`,
      'X-Forwarded-For': '10.1.2.3, 192.168.0.9',
    });
    assert.equal(proxied.status, 200);
    const after = Date.now();
    await waitFor(async () => (await fleetOf('ident')).instances.length === 2, 20_000, 'two callers');
    const instances = (await fleetOf('ident')).instances;
    assert.deepEqual(instances.map((i: any) => `${i.deployment}/${i.instance}/${i.via}`).sort(), [
      'lb/10.1.2.3/token',
      'lb/127.0.0.1/token',
    ]);
    // The resolve route stamps the count with the time of day of its request's performance.now()
    // (lib/wall-clock.ts): the same clock as Date.now() here, to the millisecond.
    for (const i of instances) {
      for (const at of [i.firstSeen, i.lastSeen, i.resolved.at]) {
        const ms = Date.parse(at);
        assert.ok(ms >= before - 1 && ms <= after + 1, `${at} within ${new Date(before).toISOString()}..${new Date(after).toISOString()}`);
      }
    }
  });

  test('callers without the header on many connections from several addresses: each counted under its own', async () => {
    // The address comes from what accept saw (native/peer-address.cc), kept per connection: the
    // waves below close every connection before the next opens, so descriptors and sockets are reused.
    assert.ok(
      server.output.some((line) => line.includes('peer addresses are read from what accept saw')),
      'the service reads peer addresses from accept',
    );
    const models = ['peer0', 'peer1', 'peer2', 'peer3', 'peer4'];
    for (const model of models) {
      await registerFiles(server, model, { 'w.bin': model });
      await api(server, 'PUT', `/v1/models/${model}/aliases/live`, { version: 1 });
    }
    const resolveFrom = (localAddress: string, model: string) =>
      new Promise<number>((resolve, reject) => {
        httpRequest(
          {
            host: '127.0.0.1',
            port: server.port,
            path: `/v1/resolve/${model}@live`,
            agent: false,
            localAddress,
            headers: { Authorization: `Bearer ${reader}` },
          },
          (res) => res.resume().on('end', () => resolve(res.statusCode!)),
        )
          .on('error', reject)
          .end();
      });
    for (let wave = 0; wave < 12; wave++) {
      const statuses = await Promise.all(models.map((_, i) => resolveFrom(`127.0.0.${20 + ((i + wave) % 5)}`, models[(i + wave) % 5]!)));
      assert.deepEqual(statuses, [200, 200, 200, 200, 200]);
    }
    for (const [i, model] of models.entries()) {
      await waitFor(async () => (await fleetOf(model)).instances.length >= 1, 20_000, `${model} counted`);
      const instances = (await fleetOf(model)).instances.map((x: any) => `${x.deployment}/${x.instance}/${x.via}`);
      assert.deepEqual(instances, [`lb/127.0.0.${20 + i}/token`], `${model} is resolved from 127.0.0.${20 + i} only`);
    }
  });

  test('OCI manifest by tag or by digest, OCI blob, Hub file and /v1/blobs downloads are counted', async () => {
    const v = await registerFiles(server, 'paths', { 'w.bin': 'paths weights' });
    await api(server, 'PUT', '/v1/models/paths/aliases/live', { version: v.version });
    const digest = sha256('paths weights');
    const h = (instance: string) => ({ Authorization: `Bearer ${server.token}`, 'X-Modelgate-Deployment': `paths/${instance}` });
    const byTag = await pathRequest(server.port, 'HEAD', '/v2/paths/manifests/live', h('oci'));
    assert.equal(byTag.status, 200);
    // A runtime pinned to the manifest digest (image@sha256:…) never names a tag; it still runs the version.
    const manifestDigest = String(byTag.headers['docker-content-digest']);
    assert.equal((await pathRequest(server.port, 'GET', `/v2/paths/manifests/${manifestDigest}`, h('pinned'))).status, 200);
    assert.equal((await pathRequest(server.port, 'GET', `/v2/paths/blobs/${digest}`, h('oci'))).status, 200);
    assert.equal((await pathRequest(server.port, 'GET', '/paths/resolve/live/w.bin', h('hub'))).status, 200);
    assert.equal((await pathRequest(server.port, 'GET', `/v1/blobs/${digest}`, h('blob'))).status, 200);
    await waitFor(async () => (await fleetOf('paths')).instances.length === 4, 20_000, 'four callers');
    const byName = Object.fromEntries((await fleetOf('paths')).instances.map((i: any) => [i.instance, i]));
    assert.equal(byName.oci.resolved.ref, 'live', 'a manifest fetched by tag is the runtime resolve');
    assert.deepEqual(
      [byName.pinned.resolved.ref, byName.pinned.resolved.version, byName.pinned.version],
      [manifestDigest, v.version, v.version],
      'a manifest fetched by digest is a resolve of its version',
    );
    assert.equal(byName.oci.downloaded.bytes, 'paths weights'.length);
    assert.equal(byName.hub.downloaded.version, v.version);
    assert.equal(byName.blob.downloaded.bytes, 'paths weights'.length);

    // An OCI runtime sends no such header: the token's name and its address identify it.
    assert.equal((await pathRequest(server.port, 'HEAD', '/v2/paths/manifests/live', { Authorization: `Bearer ${reader}` })).status, 200);
    await waitFor(
      async () => (await fleetOf('paths')).instances.some((i: any) => i.deployment === 'lb'),
      20_000,
      'the runtime without a header',
    );
    const runtime = (await fleetOf('paths')).instances.find((i: any) => i.deployment === 'lb');
    assert.deepEqual([runtime.instance, runtime.via, runtime.resolved.ref], ['127.0.0.1', 'token', 'live']);
  });

  test('modelgate pull with MODELGATE_DEPLOYMENT sends the header on the resolve and every blob range', async () => {
    const dir = join(tmp, 'pulled');
    ok(await cli(['pull', 'paths@live', dir], { MODELGATE_DEPLOYMENT: 'cli/puller-1' }));
    await waitFor(
      async () => (await fleetOf('paths')).instances.some((i: any) => i.instance === 'puller-1' && i.downloaded),
      20_000,
      'the pull counted',
    );
    const puller = (await fleetOf('paths')).instances.find((i: any) => i.instance === 'puller-1');
    assert.deepEqual([puller.deployment, puller.via, puller.resolved.ref], ['cli', 'header', 'live']);
    assert.equal(puller.downloaded.bytes, 'paths weights'.length);
  });
});

describe('telemetry is observation, not registry state', () => {
  test('resolves and downloads, with and without the header, move neither the registry sequence nor the audit chain', async () => {
    const v = await registerFiles(server, 'observed', { 'w.bin': 'observed weights' });
    await api(server, 'PUT', '/v1/models/observed/aliases/live', { version: v.version });
    const head = async () => {
      const verified = await api(server, 'GET', '/v1/audit/verify');
      assert.equal(verified.status, 200, verified.text);
      return { seq: verified.json.headSeq, hash: verified.json.headHash, entries: verified.json.entries };
    };
    const pod = (i: number | string) => ({ Authorization: `Bearer ${server.token}`, 'X-Modelgate-Deployment': `observer/pod-${i}` });
    const resolved = async () =>
      JSON.parse((await pathRequest(server.port, 'GET', '/v1/resolve/observed@live', pod(0))).body.toString()).seq;
    const before = { chain: await head(), resolveSeq: await resolved() };
    const digest = sha256('observed weights');
    for (let i = 0; i < 3; i++) {
      assert.equal((await pathRequest(server.port, 'GET', '/v1/resolve/observed@live', pod(i))).status, 200);
      assert.equal((await pathRequest(server.port, 'GET', `/v1/blobs/${digest}`, pod(i))).status, 200);
    }
    assert.equal((await pathRequest(server.port, 'GET', '/v1/resolve/observed@live', { Authorization: `Bearer ${reader}` })).status, 200);
    await waitFor(async () => (await fleetOf('observed')).instances.length === 4, 20_000, 'four observed instances');
    assert.deepEqual({ chain: await head(), resolveSeq: await resolved() }, before);
  });
});

describe('bounded by silence', () => {
  test('an instance silent for fleet.instanceSilenceSeconds leaves the fleet view; its history stays', async () => {
    const quiet = await startServer({ env: { MODELGATE_FLEET_FLUSH_MS: '100', MODELGATE_FLEET_SILENCE_SECONDS: '2' } });
    try {
      await registerFiles(quiet, 'brief', { 'w.bin': 'brief weights' });
      await api(quiet, 'PUT', '/v1/models/brief/aliases/live', { version: 1 });
      const h = { Authorization: `Bearer ${quiet.token}`, 'X-Modelgate-Deployment': 'batch/once' };
      assert.equal((await pathRequest(quiet.port, 'GET', '/v1/resolve/brief@live', h)).status, 200);
      const view = async () => (await api(quiet, 'GET', '/v1/fleet?model=brief')).json;
      await waitFor(async () => (await view()).instances.length === 1, 20_000, 'the instance seen');
      // With the default silence (a day) it would stay listed.
      await waitFor(async () => (await view()).instances.length === 0, 20_000, 'the silent instance gone');
      assert.deepEqual((await view()).versions, []);
      const spans = (await api(quiet, 'GET', '/v1/fleet/history?model=brief')).json.spans;
      assert.deepEqual(
        spans.map((s: any) => `${s.deployment}/${s.instance} v${s.version}`),
        ['batch/once v1'],
      );
    } finally {
      await quiet.dispose();
    }
  });
});

describe('runtime reports and unregistered models', () => {
  test('report <dir>: registered weights link the instance to their version; unknown ones are listed, audited and counted', async () => {
    const dir = join(tmp, 'loaded');
    await writeTree(dir, { 'weights.bin': 'fraud weights one', 'config.json': '{"v":1}', 'extra/lora.bin': 'a private adapter' });
    const run = ok(await cli(['report', dir, '--deployment', 'shadow/pod-x']));
    assert.match(run.stdout, /reported 3 file\(s\) as shadow\/pod-x/);

    const pod = (await fleetOf('fraud')).instances.find((i: any) => i.instance === 'pod-x');
    assert.equal(pod.deployment, 'shadow');
    assert.equal(pod.via, 'report');
    assert.equal(pod.version, 1, 'every file of v1 was loaded');
    assert.equal(pod.resolved, null, 'it never pulled through the gateway');

    const listed = parseJson(await cli(['fleet', '--unregistered', '--json'])).artifacts;
    assert.equal(listed.length, 1);
    assert.equal(listed[0].digest, sha256('a private adapter'));
    assert.deepEqual(
      [listed[0].deployment, listed[0].instance, listed[0].paths[0], listed[0].size],
      ['shadow', 'pod-x', 'extra/lora.bin', 17],
    );

    const audit = await api(server, 'GET', '/v1/audit?action=fleet.unregistered');
    assert.equal(audit.json.entries.length, 1);
    assert.equal(audit.json.entries[0].target, 'shadow/pod-x');
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    assert.match(metrics, /modelgate_fleet_unregistered_total 1/);
    assert.match(metrics, /modelgate_fleet_reports_total 1/);

    // Reported again: still one artifact, no second audit entry.
    ok(await cli(['report', dir, '--deployment', 'shadow/pod-x']));
    assert.equal((await api(server, 'GET', '/v1/fleet/unregistered')).json.artifacts[0].reports, 2);
    assert.equal((await api(server, 'GET', '/v1/audit?action=fleet.unregistered')).json.entries.length, 1);
  });

  test('readers may report (202, revealing nothing); only an admin reads the unregistered list', async () => {
    const body = {
      deployment: 'other',
      instance: 'x',
      files: [
        { path: 'a', digest: sha256('fraud weights two'), size: 17 },
        { path: 'b', digest: sha256('unknown'), size: 7 },
      ],
    };
    const res = await as(server, scopedReader, 'POST', '/v1/fleet/reports', body);
    assert.equal(res.status, 202);
    assert.deepEqual(res.json, { accepted: true, files: 2 });
    assert.equal((await as(server, reader, 'GET', '/v1/fleet/unregistered')).status, 403);
    assert.equal((await as(server, scopedReader, 'GET', '/v1/fleet/unregistered')).status, 403);
    // Auditors read it (scoped to "*": the digests belong to no model), and read fleet views as readers do.
    const auditor = (await createToken(server, 'auditor', 'auditor')).token;
    const scopedAuditor = (await createToken(server, 'risk-auditor', 'auditor', 'fraud')).token;
    const listed = await as(server, auditor, 'GET', '/v1/fleet/unregistered');
    assert.equal(listed.status, 200);
    assert.ok(listed.json.artifacts.some((a: any) => a.digest === sha256('unknown')));
    assert.equal((await as(server, scopedAuditor, 'GET', '/v1/fleet/unregistered')).status, 403);
    assert.equal((await as(server, scopedAuditor, 'GET', '/v1/fleet?model=fraud')).status, 200);
    // The fraud digest a reader scoped elsewhere reported links its instance to fraud, shown to fraud's readers only.
    const churnOnly = (await createToken(server, 'churn-reporter', 'reader', 'churn')).token;
    const linked = {
      deployment: 'elsewhere',
      instance: 'y',
      files: [
        { path: 'w', digest: sha256('fraud weights two'), size: 17 },
        { path: 'c', digest: sha256('{"v":2}'), size: 7 },
      ],
    };
    const answer = await as(server, churnOnly, 'POST', '/v1/fleet/reports', linked);
    assert.deepEqual([answer.status, answer.json], [202, { accepted: true, files: 2 }]);
    assert.equal((await as(server, churnOnly, 'GET', '/v1/fleet?model=fraud')).status, 403);
    const seen = (await as(server, scopedReader, 'GET', '/v1/fleet?model=fraud')).json.instances.find(
      (i: any) => i.deployment === 'elsewhere',
    );
    assert.deepEqual([seen.version, seen.via], [2, 'report']);
  });
});

function watch(query: string, token: string): Promise<{ ws: WebSocket; messages: any[] }> {
  const ws = new WebSocket(`${server.url.replace('http', 'ws')}/v1/watch${query}`, { headers: { Authorization: `Bearer ${token}` } });
  const messages: any[] = [];
  ws.on('message', (data) => messages.push(JSON.parse(data.toString())));
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve({ ws, messages }));
    ws.once('error', reject);
  });
}

describe('watch summaries', () => {
  test('model watchers get fleet summaries; only admins get newly found unregistered artifacts', async () => {
    // The pods have polled through many flushes with nobody watching: nothing was summarized
    // (a summary reads the model's whole fleet from the store).
    const summaries = async () =>
      Number(/^modelgate_fleet_summaries_total (\d+)/m.exec(await (await fetch(`${server.url}/metrics`)).text())?.[1] ?? 'NaN');
    await api(server, 'GET', '/v1/fleet?model=fraud');
    assert.equal(await summaries(), 0);
    const admin = await watch('?models=fraud', server.token);
    const scoped = await watch('?models=fraud', scopedReader);
    try {
      // The fraud pods keep polling, so summaries keep coming (rate limit 0 s in this test).
      await waitFor(() => admin.messages.some((m) => m.type === 'fleet' && m.model === 'fraud'), 20_000, 'a fleet summary');
      const summary = admin.messages.find((m) => m.type === 'fleet');
      assert.ok(summary.versions.some((v: any) => v.version === 1 && v.instances >= 4));
      assert.deepEqual(summary.stragglers[0].instances.map((i: any) => i.instance).sort(), ['stuck-0', 'stuck-1']);
      await waitFor(() => scoped.messages.some((m) => m.type === 'fleet'), 20_000, 'a summary for the scoped reader');
      assert.ok((await summaries()) > 0);

      const report = { deployment: 'edge', instance: 'e1', files: [{ path: 'w.bin', digest: sha256('found by watch'), size: 14 }] };
      assert.equal((await api(server, 'POST', '/v1/fleet/reports', report)).status, 202);
      const announced = () => admin.messages.filter((m) => m.type === 'fleet.unregistered').flatMap((m) => m.artifacts);
      await waitFor(() => announced().some((a: any) => a.digest === sha256('found by watch')), 20_000, 'the unregistered artifact');
      const found = announced().find((a: any) => a.digest === sha256('found by watch'));
      assert.deepEqual([found.deployment, found.instance, found.paths], ['edge', 'e1', ['w.bin']]);
      // A change both see, after which the scoped reader has still not been told about the artifact.
      await api(server, 'PUT', '/v1/models/fraud/aliases/marker', { version: 1 });
      await waitFor(() => scoped.messages.some((m) => m.type === 'change' && m.alias === 'marker'), 20_000, 'the marker change');
      assert.ok(scoped.messages.every((m) => m.type !== 'fleet.unregistered'));
    } finally {
      admin.ws.close();
      scoped.ws.close();
    }
  });
});

describe('bad input', () => {
  test('a malformed or oversized deployment header: the resolve is served, the header ignored and named', async () => {
    for (const header of ['no-slash', '/pod', 'dep/', 'dep/pod with space', `dep/${'x'.repeat(300)}`, 'dep/pod/extra']) {
      const res = await pathRequest(server.port, 'GET', '/v1/resolve/ident@live', {
        Authorization: `Bearer ${reader}`,
        'X-Modelgate-Deployment': header,
      });
      assert.equal(res.status, 200, header);
      assert.ok(res.headers['x-modelgate-deployment-ignored'], `a reason for "${header.slice(0, 20)}"`);
    }
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    assert.match(metrics, /modelgate_fleet_malformed_headers_total [6-9]/);
    // Counted under the fallback identity instead; no instance named after a bad header.
    const names = (await fleetOf('ident')).instances.map((i: any) => i.instance);
    assert.ok(names.every((n: string) => !n.includes(' ') && !n.startsWith('x')));
  });

  test('bad reports are refused with a clear 4xx and store nothing', async () => {
    const before = (await api(server, 'GET', '/v1/fleet/unregistered')).json.artifacts.length;
    const file = { path: 'w', digest: sha256('never seen'), size: 1 };
    const cases: [unknown, number, string][] = [
      [[1, 2], 400, 'REPORT_INVALID'],
      [{ deployment: 'd', instance: 'i', files: [{ ...file, digest: 'sha256:nothex' }] }, 400, 'DIGEST_INVALID'],
      [{ deployment: 'd', instance: 'i', files: [{ ...file, digest: 'md5:abc' }] }, 400, 'DIGEST_INVALID'],
      [
        { deployment: 'd', instance: 'i', files: Array.from({ length: 51 }, (_, i) => ({ ...file, path: `f${i}` })) },
        413,
        'REPORT_TOO_LARGE',
      ],
      [{ deployment: 'd e', instance: 'i', files: [file] }, 400, 'IDENTITY_INVALID'],
      [{ deployment: 'd', files: [file] }, 400, 'IDENTITY_INVALID'],
      [{ deployment: 'd', instance: 'i', files: [] }, 400, 'REPORT_INVALID'],
      [{ deployment: 'd', instance: 'i', files: [{ ...file, size: -1 }] }, 400, 'REPORT_INVALID'],
      [{ deployment: 'd', instance: 'i', files: [file], extra: 1 }, 400, 'REPORT_INVALID'],
    ];
    for (const [body, status, code] of cases) {
      const res = await api(server, 'POST', '/v1/fleet/reports', body);
      assert.equal(res.status, status, JSON.stringify(body).slice(0, 80));
      assert.equal(res.json.error.code, code);
    }
    const outside = await as(server, scopedReader, 'POST', '/v1/fleet/reports', {
      deployment: 'd',
      instance: 'i',
      model: 'churn',
      files: [file],
    });
    assert.equal(outside.status, 403, 'a report about a model outside the token scope');
    assert.equal((await api(server, 'GET', '/v1/fleet/unregistered')).json.artifacts.length, before);
    assert.equal((await api(server, 'GET', '/healthz')).status, 200);
  });

  test('a flood of distinct instance names is capped and counted; every resolve is still served', async () => {
    await registerFiles(server, 'flood', { 'w.bin': 'flood' });
    await api(server, 'PUT', '/v1/models/flood/aliases/live', { version: 1 });
    const statuses = new Set<number>();
    for (let batch = 0; batch < 12; batch++) {
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          fetch(`${server.url}/v1/resolve/flood@live`, {
            headers: { Authorization: `Bearer ${reader}`, 'X-Modelgate-Deployment': `flood/i-${batch}-${i}` },
          }),
        ),
      );
      for (const r of results) {
        statuses.add(r.status);
        await r.arrayBuffer();
      }
    }
    assert.deepEqual([...statuses], [200]);
    await waitFor(
      async () => /modelgate_fleet_store_dropped_total [1-9]/.test(await (await fetch(`${server.url}/metrics`)).text()),
      20_000,
      'rows refused at the cap',
    );
    const stored = (await api(server, 'GET', '/v1/fleet/history?model=flood')).json.spans.length;
    assert.ok(stored < 600 && stored > 0, `${stored} rows stored of 600 instances (cap 400 rows in all)`);
  });
});
