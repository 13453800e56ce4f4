// Stragglers as evidence, through the real service on one node: an alias move that instances did
// not follow within fleet.stragglerWindowSeconds is recorded once as a `fleet.stragglers` audit
// finding, delivered as a webhook event to endpoints whose scope covers the model (and to no other),
// shown to auditors of that scope only, and held to the chain by audit verify. A move every
// instance followed records nothing. (Several nodes claiming one move: fleet-multinode.test.ts.)
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, test } from 'node:test';
import { api, pathRequest, registerFiles, waitFor } from './harness/http.js';
import { startServer, type TestServer } from './harness/server.js';
import { as, createToken } from './harness/tokens.js';
import { WebhookReceiver } from './harness/webhook-receiver.js';

const WINDOW_SECONDS = 2;
let server: TestServer;
const receivers: WebhookReceiver[] = [];

before(async () => {
  server = await startServer({
    env: {
      MODELGATE_FLEET_FLUSH_MS: '100',
      MODELGATE_FLEET_STRAGGLER_SECONDS: String(WINDOW_SECONDS),
      MODELGATE_WEBHOOKS_ALLOW_PRIVATE: 'true',
      MODELGATE_WEBHOOKS_POLL_MS: '100',
    },
  });
});

after(async () => {
  for (const r of receivers) await r.kill();
  await server.dispose();
});

async function webhook(events: string[], scope: string): Promise<WebhookReceiver> {
  const receiver = await WebhookReceiver.start();
  receivers.push(receiver);
  const res = await api(server, 'POST', '/v1/webhooks', { url: receiver.url, events, scope });
  assert.equal(res.status, 201, res.text);
  return receiver;
}

/** A pod asking which version `lagging@live` is, as `svc/<instance>`; returns the version it got. */
async function resolveAs(instance: string): Promise<number> {
  const res = await pathRequest(server.port, 'GET', '/v1/resolve/lagging@live', {
    Authorization: `Bearer ${server.token}`,
    'X-Modelgate-Deployment': `svc/${instance}`,
  });
  assert.equal(res.status, 200, res.body.toString());
  return JSON.parse(res.body.toString()).version;
}

async function moveLive(version: number): Promise<void> {
  const res = await api(server, 'PUT', '/v1/models/lagging/aliases/live', { version });
  assert.equal(res.status, 200, res.text);
}

const findings = async (token = server.token) => {
  const res = await as(server, token, 'GET', '/v1/audit?action=fleet.stragglers');
  assert.equal(res.status, 200, JSON.stringify(res.json));
  return res.json.entries as any[];
};

test('a move that an instance did not follow within the window is one finding: audited, sent to the scope’s webhooks, verified', async () => {
  const inScope = await webhook(['fleet.stragglers'], 'lagging');
  const elsewhere = await webhook(['*'], 'other/*');
  const scopedAuditor = (await createToken(server, 'lagging-auditor', 'auditor', 'lagging')).token;
  const otherAuditor = (await createToken(server, 'other-auditor', 'auditor', 'other/*')).token;
  await registerFiles(server, 'lagging', { 'w.bin': 'lagging one' });
  await registerFiles(server, 'lagging', { 'w.bin': 'lagging two' });
  await moveLive(1);
  assert.deepEqual([await resolveAs('a'), await resolveAs('b')], [1, 1]);
  await waitFor(
    async () => (await api(server, 'GET', '/v1/fleet?model=lagging')).json.instances.length === 2,
    10_000,
    'both instances observed',
  );

  // Moved to v2; a follows at once, b never asks again.
  await moveLive(2);
  assert.equal(await resolveAs('a'), 2);
  await waitFor(async () => (await findings()).length === 1, 20_000, 'the finding');
  const [entry] = await findings();
  assert.equal(entry.target, 'lagging@live');
  assert.equal(entry.actor.name, 'fleet');
  assert.equal(entry.details.alias, 'live');
  assert.equal(entry.details.version, 2);
  assert.equal(entry.details.windowSeconds, WINDOW_SECONDS);
  assert.equal(entry.details.count, 1);
  assert.deepEqual(
    entry.details.instances.map((i: any) => [i.deployment, i.instance, i.version]),
    [['svc', 'b', 1]],
  );
  const view = (await api(server, 'GET', '/v1/fleet?model=lagging')).json;
  const live = view.aliases.find((a: any) => a.alias === 'live');
  assert.equal(entry.details.movedAt, live.movedAt, 'the finding names the move it is about');
  assert.deepEqual(
    live.stragglers.map((s: any) => s.instance),
    ['b'],
    'the fleet view says the same',
  );
  assert.ok(Date.parse(entry.at) - Date.parse(entry.details.movedAt) >= WINDOW_SECONDS * 1000, 'recorded only after the window');

  // Delivered to the endpoint whose scope covers the model, with the finding as its data.
  await waitFor(() => inScope.ofType('fleet.stragglers').length === 1, 20_000, 'the webhook delivery');
  const delivered = inScope.ofType('fleet.stragglers')[0]!.json.data;
  assert.deepEqual([delivered.model, delivered.target, delivered.count, delivered.seq], ['lagging', 'lagging@live', 1, entry.seq]);

  // Auditors see it by the model's scope; the chain verifies with it.
  assert.equal((await findings(scopedAuditor)).length, 1);
  assert.equal((await findings(otherAuditor)).length, 0);
  const verified = await api(server, 'GET', '/v1/audit/verify');
  assert.equal(verified.status, 200, verified.text);
  assert.equal(verified.json.ok, true, verified.text);

  // Each move is checked once: b stays behind, and no second finding follows. A move both
  // instances follow within the window records nothing.
  await moveLive(1);
  assert.deepEqual([await resolveAs('a'), await resolveAs('b')], [1, 1]);
  await sleep(WINDOW_SECONDS * 1000 + 2000);
  assert.equal((await findings()).length, 1);
  assert.equal(inScope.ofType('fleet.stragglers').length, 1);
  assert.equal(elsewhere.received.length, 0, 'an endpoint scoped to other models hears nothing');
});
