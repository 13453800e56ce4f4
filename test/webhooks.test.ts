// Webhooks through the real service with real HTTP receivers: signed Standard Webhooks deliveries
// of registry changes, filters, retries with backoff, a receiver killed and restarted mid-delivery,
// a node killed between commit and delivery, replays, pings, rotation with two valid secrets, and
// the refusals (bad URLs, private addresses, bad filters) that store nothing.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { open as openLmdb } from 'lmdb';
import { after, before, describe, test } from 'node:test';
import { signature, verifySignature } from '../src/domain/webhooks.js';
import { parseJson, runCli } from './harness/cli.js';
import { api, registerFiles, waitFor } from './harness/http.js';
import { deletePrefix, randomPrefix, startRedis } from './harness/redis.js';
import { startServer, type TestServer } from './harness/server.js';
import { as, createToken } from './harness/tokens.js';
import { WebhookReceiver } from './harness/webhook-receiver.js';

const FAST = {
  MODELGATE_WEBHOOKS_ALLOW_PRIVATE: 'true',
  MODELGATE_WEBHOOKS_RETRY_BASE_MS: '100',
  MODELGATE_WEBHOOKS_RETRY_MAX_SECONDS: '1',
  MODELGATE_WEBHOOKS_POLL_MS: '100',
  // Long enough that a held request is still open when the commits made meanwhile return, even on a loaded machine.
  MODELGATE_WEBHOOKS_TIMEOUT_SECONDS: '10',
  MODELGATE_WEBHOOKS_LEASE_SECONDS: '20',
};
const WAIT = 30_000;

const receivers: WebhookReceiver[] = [];
async function receiver(): Promise<WebhookReceiver> {
  const r = await WebhookReceiver.start();
  receivers.push(r);
  return r;
}

async function addWebhook(server: TestServer, body: Record<string, unknown>): Promise<{ id: string; secret: string }> {
  const res = await api(server, 'POST', '/v1/webhooks', body);
  assert.equal(res.status, 201, res.text);
  assert.match(res.json.secret, /^whsec_[A-Za-z0-9+/=]{40,}$/);
  return res.json;
}

async function deliveries(server: TestServer, id: string): Promise<any[]> {
  const res = await api(server, 'GET', `/v1/webhooks/${id}/deliveries`);
  assert.equal(res.status, 200, res.text);
  return res.json.deliveries;
}

async function setAlias(server: TestServer, name: string, alias: string, version: number, reason?: string): Promise<void> {
  const res = await api(server, 'PUT', `/v1/models/${name}/aliases/${alias}`, { version, ...(reason ? { reason } : {}) });
  assert.equal(res.status, 200, res.text);
}

let server: TestServer;

before(async () => {
  server = await startServer({ env: { ...FAST, MODELGATE_WEBHOOKS_MAX_AGE_SECONDS: '8' } });
});

after(async () => {
  for (const r of receivers) await r.kill();
  await server?.dispose();
});

describe('webhooks: delivery', () => {
  test('registry changes arrive signed (Standard Webhooks), with alias from/to and reason; the log shows each delivery', async () => {
    const hook = await receiver();
    const { id, secret } = await addWebhook(server, { url: hook.url, events: ['*'], scope: 'wh/*' });
    await registerFiles(server, 'wh/fraud', { 'model.bin': 'weights-1' });
    await registerFiles(server, 'wh/fraud', { 'model.bin': 'weights-2' });
    await setAlias(server, 'wh/fraud', 'staging', 1);
    await setAlias(server, 'wh/fraud', 'staging', 2, 'better recall');
    await registerFiles(server, 'other/model', { 'model.bin': 'not in scope' });

    await waitFor(() => hook.ofType('alias.set').length === 2, WAIT, 'two alias.set deliveries');
    assert.equal(hook.ofType('version.register').length, 2);
    assert.ok(hook.allSignedBy(secret), 'every delivery verifies with the secret');
    assert.ok(
      hook.received.every((r) => r.json.data.model === 'wh/fraud'),
      'nothing outside the scope',
    );
    const moved = hook.ofType('alias.set').find((r) => r.json.data.to === 2)!;
    assert.equal(moved.json.data.from, 1);
    assert.equal(moved.json.data.reason, 'better recall');
    assert.equal(moved.json.data.target, 'wh/fraud@staging');
    assert.match(moved.id, /^msg_\d+_wh_[0-9a-f]{16}$/);
    assert.equal(new Set(hook.received.map((r) => r.id)).size, hook.received.length, 'one message id per event');

    await waitFor(async () => (await deliveries(server, id)).every((d) => d.status === 'delivered'), WAIT, 'log settles');
    const log = await deliveries(server, id);
    assert.equal(log.length, 4);
    for (const d of log) {
      assert.equal(d.attempts, 1);
      assert.equal(d.lastResponseCode, 204);
      assert.equal(typeof d.lastLatencyMs, 'number');
      assert.equal(d.lastError, null);
    }
    assert.deepEqual(
      log.map((d) => d.seq),
      [...log.map((d) => d.seq)].sort((a, b) => b - a),
      'newest first',
    );
  });

  test('record edits, rejections, rollbacks and retirements are events too, each naming its version', async () => {
    const hook = await receiver();
    await addWebhook(server, { url: hook.url, events: ['*'], scope: 'wh/life' });
    for (const w of ['a', 'b', 'c']) await registerFiles(server, 'wh/life', { 'model.bin': `life-${w}` });
    await setAlias(server, 'wh/life', 'staging', 1);
    await setAlias(server, 'wh/life', 'staging', 2);
    const edit = await api(server, 'PATCH', '/v1/models/wh/life/versions/2', { metadata: { note: 'edited' } });
    assert.equal(edit.status, 200, edit.text);
    const approver = await createToken(server, 'wh-life-approver', 'approver');
    const reject = await as(server, approver.token, 'POST', '/v1/models/wh/life/versions/3/approvals', {
      decision: 'reject',
      comment: 'no',
    });
    assert.equal(reject.status, 201, JSON.stringify(reject.json));
    const rollback = await api(server, 'POST', '/v1/models/wh/life/aliases/staging/rollback', { reason: 'regression' });
    assert.equal(rollback.status, 200, rollback.text);
    const retire = await api(server, 'POST', '/v1/models/wh/life/versions/2/retire', { reason: 'CVE' });
    assert.equal(retire.status, 200, retire.text);

    const types = ['version.update', 'version.reject', 'alias.rollback', 'version.retire'];
    await waitFor(() => types.every((t) => hook.ofType(t).length > 0), WAIT, types.join(', '));
    for (const t of types)
      assert.ok(
        hook.ofType(t).every((r) => r.json.data.model === 'wh/life'),
        t,
      );
    assert.equal(hook.ofType('alias.rollback')[0]!.json.data.target, 'wh/life@staging');
  });

  test('a GC run is an event (gc.run, with what it deleted) for endpoints scoped to every model', async () => {
    const hook = await receiver();
    await addWebhook(server, { url: hook.url, events: ['gc.*'], scope: '*' });
    const gc = await api(server, 'POST', '/v1/gc', {});
    assert.equal(gc.status, 200, gc.text);
    await waitFor(() => hook.ofType('gc.run').length === 1, WAIT, 'a gc.run delivery');
    const data = hook.ofType('gc.run')[0]!.json.data;
    assert.equal(typeof data.versionsDeleted, 'number', JSON.stringify(data));
    assert.equal(typeof data.blobsDeleted, 'number', JSON.stringify(data));
  });

  test('an unregistered model reported by the fleet is an event (fleet.unregistered) for endpoints scoped to every model only', async () => {
    const hook = await receiver();
    await addWebhook(server, { url: hook.url, events: ['fleet.*'], scope: '*' });
    // Scoped to a model glob that the report's deployment/instance would match if it were read as a
    // model name: a fleet finding concerns no model, so this endpoint is never in its outbox entry.
    const scoped = await addWebhook(server, { url: hook.url, events: ['*'], scope: 'edge-pods/*' });
    const digest = `sha256:${'e'.repeat(64)}`;
    const report = { deployment: 'edge-pods', instance: 'pod-1', files: [{ path: 'weights/w.bin', digest, size: 42 }] };
    assert.equal((await api(server, 'POST', '/v1/fleet/reports', report)).status, 202);
    await waitFor(() => hook.ofType('fleet.unregistered').length === 1, WAIT, 'a fleet.unregistered delivery');
    const event = hook.ofType('fleet.unregistered')[0]!.json;
    assert.equal(event.data.model, '');
    assert.equal(event.data.target, 'edge-pods/pod-1');
    assert.deepEqual(event.data.artifacts, [{ digest, path: 'weights/w.bin', size: 42 }]);
    assert.deepEqual(await deliveries(server, scoped.id), []);
    assert.equal(hook.received.length, 1);
  });

  test('event filters and globs: an endpoint gets only the types it asked for', async () => {
    const hook = await receiver();
    await addWebhook(server, { url: hook.url, events: ['alias.*', 'version.approve'], scope: 'filt/*' });
    const approver = await createToken(server, 'filter-approver', 'approver');
    await registerFiles(server, 'filt/m', { w: 'f1' });
    await setAlias(server, 'filt/m', 'canary', 1);
    const approved = await as(server, approver.token, 'POST', '/v1/models/filt/m/versions/1/approvals', { decision: 'approve' });
    assert.equal(approved.status, 201, JSON.stringify(approved.json));
    const deleted = await api(server, 'DELETE', '/v1/models/filt/m/aliases/canary');
    assert.equal(deleted.status, 200, deleted.text);
    await waitFor(() => hook.received.length === 3, WAIT, 'three deliveries');
    assert.deepEqual(hook.received.map((r) => r.json.type).sort(), ['alias.delete', 'alias.set', 'version.approve']);
  });

  test('a policy refusal is an event (denied.*): the refused move, its code and message reach the receiver', async () => {
    const hook = await receiver();
    await addWebhook(server, { url: hook.url, events: ['denied.*'], scope: 'gate/*' });
    await registerFiles(server, 'gate/m', { w: 'g1' });
    const refused = await api(server, 'PUT', '/v1/models/gate/m/aliases/production', { version: 1 });
    assert.equal(refused.status, 403, refused.text);
    await waitFor(() => hook.received.length === 1, WAIT, 'the refusal delivered');
    const event = hook.received[0]!.json;
    assert.match(event.type, /^denied\./);
    assert.equal(event.data.model, 'gate/m');
    assert.equal(event.data.code, 'POLICY_UNMET');
    assert.equal(event.data.status, 403);
  });

  test("the README's receiver example verifies a real delivery and refuses a tampered one", async () => {
    const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
    const example = /A receiver verifies a delivery[\s\S]*?```js\n([\s\S]*?)```/.exec(readme)?.[1];
    assert.ok(example, 'the README has the example');
    const dir = await mkdtemp(join(tmpdir(), 'modelgate-readme-'));
    const file = join(dir, 'verify.mjs');
    await writeFile(file, `${example}\nexport { verify };\n`);
    const { verify } = (await import(pathToFileURL(file).href)) as {
      verify: (secret: string, headers: Record<string, string>, body: string) => boolean;
    };
    await rm(dir, { recursive: true, force: true });
    const hook = await receiver();
    const { secret } = await addWebhook(server, { url: hook.url, events: ['version.register'], scope: 'readme/*' });
    await registerFiles(server, 'readme/m', { w: 'e1' });
    await waitFor(() => hook.received.length === 1, WAIT, 'a delivery');
    const got = hook.received[0]!;
    const headers = { 'webhook-id': got.id, 'webhook-timestamp': got.timestamp, 'webhook-signature': got.signature };
    assert.equal(verify(secret, headers, got.body), true);
    assert.equal(verify(secret, headers, got.body.replace('readme/m', 'readme/x')), false);
    assert.equal(verify(secret, { ...headers, 'webhook-timestamp': String(Number(got.timestamp) - 3600) }, got.body), false);
  });

  test('a receiver answering 500 is retried with backoff until it answers 2xx; the log counts the attempts', async () => {
    const hook = await receiver();
    hook.behaviour = 'fail';
    const { id } = await addWebhook(server, { url: hook.url, events: ['version.register'], scope: 'retry/*' });
    await registerFiles(server, 'retry/m', { w: 'r1' });
    await waitFor(() => hook.received.length >= 2, WAIT, 'two failed attempts');
    const failing = (await deliveries(server, id))[0];
    assert.equal(failing.status, 'pending');
    assert.equal(failing.lastResponseCode, 500);
    assert.equal(failing.lastError, 'HTTP 500');
    hook.behaviour = 'ok';
    await waitFor(async () => (await deliveries(server, id))[0].status === 'delivered', WAIT, 'delivered after recovery');
    const done = (await deliveries(server, id))[0];
    assert.ok(done.attempts >= 3, `attempts ${done.attempts}`);
    assert.equal(done.lastResponseCode, 204);
    assert.equal(new Set(hook.received.map((r) => r.id)).size, 1, 'every attempt carries the same webhook-id');
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    const count = (outcome: string) =>
      Number(new RegExp(`modelgate_webhook_attempts_total\\{outcome="${outcome}"\\} (\\d+)`).exec(metrics)?.[1] ?? 0);
    assert.ok(count('retry') >= 2, 'failed attempts are counted as retries');
    assert.ok(count('delivered') >= 1);
    assert.match(metrics, /modelgate_webhook_attempt_duration_seconds_count \d+/);
  });

  test('a receiver killed mid-delivery and restarted on the same port gets the event on a retry', async () => {
    const hook = await receiver();
    hook.behaviour = 'hang';
    const { id, secret } = await addWebhook(server, { url: hook.url, events: ['alias.set'], scope: 'crash/*' });
    await registerFiles(server, 'crash/m', { w: 'c1' });
    await setAlias(server, 'crash/m', 'staging', 1);
    await waitFor(() => hook.hanging.size === 1, WAIT, 'the delivery in flight');
    const port = hook.port;
    await hook.kill();
    hook.behaviour = 'ok';
    await hook.listen(port);
    await waitFor(() => hook.received.some((r) => r.answered === 204), WAIT, 'delivery after the restart');
    assert.equal(new Set(hook.received.map((r) => r.id)).size, 1);
    assert.ok(hook.allSignedBy(secret));
    await waitFor(async () => (await deliveries(server, id))[0].status === 'delivered', WAIT, 'log says delivered');
    assert.ok((await deliveries(server, id))[0].attempts >= 2);
  });

  test('a hanging receiver does not hold up commits, and its attempts end in a recorded timeout', async () => {
    const hook = await receiver();
    hook.behaviour = 'hang';
    const { id } = await addWebhook(server, { url: hook.url, events: ['*'], scope: 'slow/*' });
    await registerFiles(server, 'slow/m', { w: 's1' });
    await waitFor(() => hook.hanging.size >= 1, WAIT, 'a request held open');
    const held = [...hook.hanging][0]!;
    // While the receiver holds that request, commits go through (their responses come back).
    for (let i = 0; i < 5; i++) {
      const res = await api(server, 'PATCH', '/v1/models/slow/m/versions/1', { metadata: { round: i } });
      assert.equal(res.status, 200, res.text);
    }
    const resolved = await api(server, 'GET', '/v1/resolve/slow/m@v1');
    assert.equal(resolved.status, 200);
    assert.ok(hook.hanging.has(held) && !held.writableEnded, 'the held request was still open when the commits returned');
    await waitFor(
      async () => (await deliveries(server, id)).some((d) => d.attempts >= 1 && /no response within/.test(d.lastError ?? '')),
      WAIT,
      'a timed-out attempt recorded',
    );
    hook.behaviour = 'ok';
  });

  test('a receiver that redirects: the redirect is not followed; after the maximum age the delivery is failed', async () => {
    const hook = await receiver();
    hook.behaviour = 'redirect';
    const { id } = await addWebhook(server, { url: hook.url, events: ['version.register'], scope: 'redir/*' });
    await registerFiles(server, 'redir/m', { w: 'd1' });
    await waitFor(async () => (await deliveries(server, id))[0]?.status === 'failed', WAIT, 'failed after the maximum age');
    const failed = (await deliveries(server, id))[0];
    assert.equal(failed.lastResponseCode, 302);
    assert.match(failed.lastError, /redirect to http:\/\/127\.0\.0\.1:1\/elsewhere not followed/);
    assert.ok(failed.attempts >= 2);
    assert.equal(typeof failed.finishedAt, 'string');
  });

  test('redeliver replays a delivery with the same webhook-id; test sends a ping; both through the CLI', async () => {
    const hook = await receiver();
    const env = { MODELGATE_URL: server.url, MODELGATE_TOKEN: server.token };
    const created = parseJson(await runCli(['webhook', 'add', hook.url, '--events', 'version.*', '--scope', 'replay/*', '--json'], env));
    assert.match(created.secret, /^whsec_/);
    await registerFiles(server, 'replay/m', { w: 'p1' });
    await waitFor(() => hook.received.length === 1, WAIT, 'first delivery');
    const [first] = parseJson(await runCli(['webhook', 'deliveries', created.id, '--json'], env)).deliveries;
    await waitFor(async () => (await deliveries(server, created.id))[0].status === 'delivered', WAIT, 'delivered');
    const replayed = await runCli(['webhook', 'redeliver', created.id, first.id], env);
    assert.equal(replayed.code, 0, replayed.stderr);
    assert.match(replayed.stdout, /queued to be sent again/);
    await waitFor(() => hook.received.length === 2, WAIT, 'the replay');
    assert.equal(hook.received[1]!.id, hook.received[0]!.id);
    assert.equal(hook.received[1]!.body, hook.received[0]!.body);
    assert.ok(hook.allSignedBy(created.secret));

    const ping = await runCli(['webhook', 'test', created.id], env);
    assert.equal(ping.code, 0, ping.stderr);
    assert.match(ping.stdout, /ping delivered: HTTP 204/);
    assert.equal(hook.ofType('webhook.ping').length, 1);
    assert.ok(hook.allSignedBy(created.secret));

    const listed = await runCli(['webhook', 'list'], env);
    assert.match(listed.stdout, new RegExp(created.id));
    const table = await runCli(['webhook', 'deliveries', created.id], env);
    assert.match(table.stdout, /version\.register\s+delivered\s+2\s+204/);

    hook.behaviour = 'fail';
    const failedPing = await runCli(['webhook', 'test', created.id], env);
    assert.equal(failedPing.code, 1);
    assert.match(failedPing.stdout, /ping failed: HTTP 500/);

    const removed = await runCli(['webhook', 'remove', created.id], env);
    assert.equal(removed.code, 0, removed.stderr);
    assert.equal((await api(server, 'GET', `/v1/webhooks/${created.id}`)).status, 404);
  });

  test('rotation: during the grace period both secrets sign; the new secret alone after a rotation without grace', async () => {
    const hook = await receiver();
    const { id, secret: oldSecret } = await addWebhook(server, { url: hook.url, events: ['version.register'], scope: 'rot/*' });
    const rotated = await api(server, 'POST', `/v1/webhooks/${id}/rotate`, { graceSeconds: 3600 });
    assert.equal(rotated.status, 200, rotated.text);
    const newSecret = rotated.json.secret as string;
    assert.notEqual(newSecret, oldSecret);
    assert.equal(rotated.json.activeSecrets, 2);
    assert.equal(typeof rotated.json.rotationEndsAt, 'string');
    await registerFiles(server, 'rot/m', { w: 'o1' });
    await waitFor(() => hook.received.length === 1, WAIT, 'delivery during the rotation');
    const during = hook.received[0]!;
    assert.equal(during.signature.split(' ').length, 2);
    assert.ok(verifySignature(oldSecret, during, during.body), 'the old secret still verifies');
    assert.ok(verifySignature(newSecret, during, during.body), 'the new secret verifies');

    const env = { MODELGATE_URL: server.url, MODELGATE_TOKEN: server.token };
    const last = parseJson(await runCli(['webhook', 'rotate', id, '--grace', '0', '--json'], env));
    assert.equal(last.activeSecrets, 1);
    assert.equal(last.rotationEndsAt, null);
    await registerFiles(server, 'rot/m', { w: 'o2' });
    await waitFor(() => hook.received.length === 2, WAIT, 'delivery after the rotation without grace');
    const after = hook.received[1]!;
    assert.equal(after.signature.split(' ').length, 1);
    assert.ok(verifySignature(last.secret, after, after.body), 'the newest secret verifies');
    assert.equal(verifySignature(newSecret, after, after.body), false, 'the replaced secret no longer signs');
    assert.equal(verifySignature(oldSecret, after, after.body), false, 'nor the first one');
  });
});

describe('webhooks: receivers reject forged and replayed messages', () => {
  test('a wrong secret, an altered body, another id and an old timestamp all fail verification', () => {
    const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
    const now = Date.now();
    const ts = Math.floor(now / 1000);
    const body = '{"type":"alias.set"}';
    const headers = { id: 'msg_1_wh_x', timestamp: String(ts), signature: signature(secret, 'msg_1_wh_x', ts, body) };
    assert.ok(verifySignature(secret, headers, body, now));
    assert.equal(verifySignature('whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', headers, body, now), false, 'forged with another key');
    assert.equal(verifySignature(secret, headers, '{"type":"alias.delete"}', now), false, 'altered body');
    assert.equal(verifySignature(secret, { ...headers, id: 'msg_2_wh_x' }, body, now), false, 'another message id');
    assert.equal(verifySignature(secret, headers, body, now + 3600_000), false, 'replayed an hour later');
    assert.equal(verifySignature(secret, { ...headers, signature: 'v1,' }, body, now), false, 'empty signature');
    assert.equal(verifySignature(secret, { ...headers, timestamp: 'soon' }, body, now), false, 'timestamp not a number');
  });
});

describe('webhooks: bad input is refused and stores nothing', () => {
  let strict: TestServer;
  before(async () => {
    strict = await startServer();
  });
  after(async () => {
    await strict?.dispose();
  });

  const refusedUrls: [string, RegExp][] = [
    ['ftp://example.com/hook', /scheme "ftp" is not http or https/],
    ['not a url', /not a valid URL/],
    ['http://127.0.0.1:9/hook', /loopback/],
    ['http://localhost:9/hook', /loopback/],
    ['http://[::1]:9/hook', /loopback/],
    ['http://10.1.2.3/hook', /private/],
    ['http://192.168.1.10/hook', /private/],
    ['http://172.20.0.1/hook', /private/],
    ['http://169.254.169.254/latest/meta-data/', /link-local \(cloud metadata\)/],
    ['http://metadata.google.internal/computeMetadata/v1/', /cloud metadata service/],
    ['http://[::ffff:127.0.0.1]/hook', /loopback/],
    ['http://[fd00:ec2::254]/hook', /private/],
    ['http://user:pw@example.com/hook', /credentials/],
  ];
  for (const [url, why] of refusedUrls) {
    test(`URL ${url} is refused with 400 WEBHOOK_URL_REFUSED`, async () => {
      const res = await api(strict, 'POST', '/v1/webhooks', { url, events: ['*'] });
      assert.equal(res.status, 400, res.text);
      assert.equal(res.json.error.code, 'WEBHOOK_URL_REFUSED');
      assert.match(res.json.error.message, why);
    });
  }

  test('a host name that resolves to loopback is refused too', async () => {
    const res = await api(strict, 'POST', '/v1/webhooks', { url: 'http://localtest.me/hook', events: ['*'] });
    // localtest.me resolves to 127.0.0.1 where DNS works; without DNS the name does not resolve: refused either way.
    assert.equal(res.status, 400, res.text);
    assert.equal(res.json.error.code, 'WEBHOOK_URL_REFUSED');
  });

  test('bad events, scope and bodies are refused; nothing was stored; the server keeps serving', async () => {
    const cases: [unknown, string][] = [
      [{ url: 'https://example.com/h', events: [] }, 'VALIDATION_FAILED'],
      [{ url: 'https://example.com/h', events: ['Alias Set'] }, 'WEBHOOK_EVENTS_INVALID'],
      [{ url: 'https://example.com/h', events: ['*'], scope: 'Bad Scope' }, 'SCOPE_INVALID'],
      [{ url: 'https://example.com/h', events: ['*'], secret: 'mine' }, 'VALIDATION_FAILED'],
      [{ events: ['*'] }, 'VALIDATION_FAILED'],
    ];
    for (const [body, code] of cases) {
      const res = await api(strict, 'POST', '/v1/webhooks', body);
      assert.equal(res.status, 400, `${JSON.stringify(body)}: ${res.text}`);
      assert.equal(res.json.error.code, code, JSON.stringify(body));
    }
    const raw = await api(strict, 'POST', '/v1/webhooks', '{not json');
    assert.equal(raw.status, 400);
    assert.equal((await api(strict, 'GET', '/v1/webhooks')).json.webhooks.length, 0, 'nothing stored');
    assert.equal((await api(strict, 'GET', '/healthz')).status, 200);
  });

  test('unknown ids are 404; rotation with a bad body is 400; non-admins get 403', async () => {
    assert.equal((await api(strict, 'GET', '/v1/webhooks/wh_nope')).json.error.code, 'WEBHOOK_NOT_FOUND');
    assert.equal((await api(strict, 'DELETE', '/v1/webhooks/wh_nope')).status, 404);
    assert.equal((await api(strict, 'GET', '/v1/webhooks/wh_nope/deliveries')).status, 404);
    assert.equal((await api(strict, 'POST', '/v1/webhooks/wh_nope/deliveries/msg_1_wh_nope/redeliver')).status, 404);
    assert.equal((await api(strict, 'POST', '/v1/webhooks/wh_nope/test')).status, 404);
    assert.equal((await api(strict, 'POST', '/v1/webhooks/wh_nope/rotate', { graceSeconds: -1 })).status, 400);
    assert.equal((await api(strict, 'GET', '/v1/webhooks/wh_nope/other')).status, 404);
    const writer = await createToken(strict, 'hook-writer', 'writer');
    const denied = await as(strict, writer.token, 'POST', '/v1/webhooks', { url: 'https://example.com/h', events: ['*'] });
    assert.equal(denied.status, 403);
    assert.equal((await as(strict, writer.token, 'GET', '/v1/webhooks')).status, 403);
  });
});

describe('webhooks: durability', () => {
  test('a node killed between commit and delivery delivers after its restart; nothing is lost', async () => {
    const node = await startServer({ env: FAST });
    try {
      const hook = await receiver();
      const port = hook.port;
      await hook.kill();
      const { id, secret } = await addWebhook(node, { url: `http://127.0.0.1:${port}/hook`, events: ['alias.set'] });
      await registerFiles(node, 'durable/m', { w: 'k1' });
      await setAlias(node, 'durable/m', 'staging', 1, 'before the crash');
      await node.stop('SIGKILL');
      await hook.listen(port);
      await node.restart();
      await waitFor(() => hook.received.length >= 1, WAIT, 'delivery after the restart');
      assert.equal(hook.received[0]!.json.data.reason, 'before the crash');
      assert.ok(hook.allSignedBy(secret));
      await waitFor(async () => (await deliveries(node, id))[0]?.status === 'delivered', WAIT, 'delivered');
    } finally {
      await node.dispose();
    }
  });
});

describe('webhooks: audit verify holds the endpoints to the log', () => {
  test('an endpoint whose URL or secret was edited in LMDB behind the service fails verify, naming the webhook', async () => {
    const node = await startServer({ env: FAST });
    try {
      const { id } = await addWebhook(node, { url: 'http://127.0.0.1:9/original', events: ['*'] });
      assert.equal((await api(node, 'POST', `/v1/webhooks/${id}/rotate`, { graceSeconds: 60 })).status, 200);
      const intact = await api(node, 'GET', '/v1/audit/verify');
      assert.equal(intact.json.ok, true, JSON.stringify(intact.json));
      const log = JSON.stringify((await api(node, 'GET', '/v1/audit?action=webhook')).json.entries);
      assert.ok(!log.includes('whsec_'), 'the log holds digests of the secrets, never the secrets');

      const edit = async (change: (row: any) => any) => {
        await node.stop();
        const env = openLmdb({ path: join(node.dataDir, 'index') });
        try {
          const db = env.openDB({ name: 'webhooks' });
          await db.put(id, change(db.get(id)));
        } finally {
          await env.close();
        }
        await node.restart();
      };
      await edit((row) => ({ ...row, url: 'http://attacker.example/collect' }));
      const redirected = await api(node, 'GET', '/v1/audit/verify');
      assert.equal(redirected.status, 409);
      const m = redirected.json.tables.mismatches.find((x: any) => x.table === 'webhooks');
      assert.match(
        m.reason,
        /url is "http:\/\/attacker\.example\/collect" in the table but "http:\/\/127\.0\.0\.1:9\/original" in the log/,
      );

      await edit((row) => ({
        ...row,
        url: 'http://127.0.0.1:9/original',
        secrets: [{ secret: 'whsec_Zm9yZ2Vk', createdAt: row.createdAt, expiresAt: null }],
      }));
      const forged = await api(node, 'GET', '/v1/audit/verify');
      assert.equal(forged.status, 409);
      assert.match(
        forged.json.tables.mismatches.find((x: any) => x.table === 'webhooks').reason,
        /signs with a secret the log never issued/,
      );
    } finally {
      await node.dispose();
    }
  });
});

describe('webhooks: several nodes on one Redis', () => {
  test('each event is delivered once although every node runs a worker; a node killed after its commit is covered by another', async () => {
    const redis = await startRedis();
    const prefix = randomPrefix();
    const env = {
      ...FAST,
      MODELGATE_WEBHOOKS_TIMEOUT_SECONDS: '5',
      MODELGATE_WEBHOOKS_LEASE_SECONDS: '6',
      MODELGATE_CONTROL_BACKEND: 'redis',
      MODELGATE_REDIS_URL: redis.url,
      MODELGATE_REDIS_PREFIX: prefix,
      MODELGATE_ANTI_ENTROPY_MS: '200',
    };
    const nodes = await Promise.all([startServer({ env }), startServer({ env })]);
    const [a, b] = nodes as [TestServer, TestServer];
    try {
      const hook = await receiver();
      const { id, secret } = await addWebhook(a, { url: hook.url, events: ['version.register', 'alias.set'], scope: 'multi/*' });
      for (let i = 0; i < 6; i++) await registerFiles(i % 2 === 0 ? a : b, 'multi/m', { w: `n${i}` });
      await waitFor(() => hook.received.length >= 6, WAIT, 'six deliveries');
      await waitFor(async () => (await deliveries(b, id)).filter((d) => d.status === 'delivered').length === 6, WAIT, 'log on B');
      assert.equal(hook.received.length, 6, 'no event was sent twice');
      assert.equal(new Set(hook.received.map((r) => r.id)).size, 6);
      assert.ok(hook.allSignedBy(secret));

      // The receiver is down; A commits and is killed before it can deliver; B delivers it.
      const port = hook.port;
      await hook.kill();
      await setAlias(a, 'multi/m', 'staging', 3, 'committed on A');
      await a.stop('SIGKILL');
      await hook.listen(port);
      await waitFor(() => hook.ofType('alias.set').length >= 1, WAIT, 'B delivers what A committed');
      const moved = hook.ofType('alias.set');
      assert.equal(moved.length, 1);
      assert.equal(moved[0]!.json.data.reason, 'committed on A');
      assert.ok(hook.allSignedBy(secret));
    } finally {
      await Promise.all(nodes.map((n) => n.dispose()));
      await deletePrefix(redis.client, prefix).catch(() => undefined);
      await redis.dispose();
    }
  });
});
