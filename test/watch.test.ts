import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import WebSocket from 'ws';
import { api, registerFiles, waitFor } from './harness/http.js';
import { startServer, type TestServer } from './harness/server.js';
import { createToken } from './harness/tokens.js';

let server: TestServer;
before(async () => {
  server = await startServer();
  for (const name of ['watch/a', 'watch/b', 'other/c']) {
    await registerFiles(server, name, { f: `${name} 1` });
    await registerFiles(server, name, { f: `${name} 2` });
    await api(server, 'PUT', `/v1/models/${name}/aliases/live`, { version: 1 });
  }
});
after(async () => {
  await server.dispose();
});

interface Watcher {
  ws: WebSocket;
  messages: any[];
  closed: Promise<{ code: number; reason: string }>;
}

/** How `w` was closed, or 'still open' after `ms`: a socket the server forgets to close fails rather than hangs. */
function closedWithin(w: Watcher, ms: number): Promise<{ code: number; reason: string } | 'still open'> {
  return Promise.race([w.closed, new Promise<'still open'>((r) => setTimeout(() => r('still open'), ms).unref())]);
}

function watch(query: string, token = server.token): Promise<Watcher> {
  const ws = new WebSocket(`${server.url.replace('http', 'ws')}/v1/watch${query}`, { headers: { Authorization: `Bearer ${token}` } });
  const messages: any[] = [];
  ws.on('message', (data) => messages.push(JSON.parse(data.toString())));
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve({ ws, messages, closed }));
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    ws.once('error', reject);
  });
}

test('current aliases first, then every change with its sequence number', async () => {
  const w = await watch('?models=watch/a');
  await waitFor(() => w.messages.length === 1, 2000, 'snapshot');
  const [snapshot] = w.messages;
  assert.equal(snapshot.type, 'snapshot');
  assert.equal(snapshot.models['watch/a'].live.version, 1);
  assert.match(snapshot.models['watch/a'].live.digest, /^sha256:/);
  assert.deepEqual(Object.keys(snapshot.models), ['watch/a']);

  const moved = await api(server, 'PUT', '/v1/models/watch/a/aliases/live', { version: 2 });
  await api(server, 'PUT', '/v1/models/watch/b/aliases/live', { version: 2 });
  const rolled = await api(server, 'POST', '/v1/models/watch/a/aliases/live/rollback');
  await waitFor(() => w.messages.length === 3, 2000, 'two changes');
  assert.deepEqual(
    w.messages.slice(1).map((m) => [m.type, m.seq, m.action, m.alias, m.previous, m.version]),
    [
      ['change', moved.json.seq, 'alias.set', 'live', 1, 2],
      ['change', rolled.json.seq, 'alias.rollback', 'live', 2, 1],
    ],
    'watch/b is not watched',
  );
  assert.equal(w.messages[2].digest, snapshot.models['watch/a'].live.digest);
  w.ws.close();
});

test('reconnecting with the last sequence replays what was missed', async () => {
  const first = await watch('?models=watch/b');
  await waitFor(() => first.messages.length === 1, 2000, 'snapshot');
  const last = first.messages[0].seq as number;
  first.ws.close();
  await first.closed;
  await api(server, 'PUT', '/v1/models/watch/b/aliases/live', { version: 1 });
  await api(server, 'PUT', '/v1/models/watch/a/aliases/canary', { version: 1 });
  await api(server, 'PUT', '/v1/models/watch/b/aliases/canary', { version: 2 });
  const again = await watch(`?models=watch/b&since=${last}`);
  await waitFor(() => again.messages.some((m) => m.type === 'ready'), 2000, 'replay');
  const changes = again.messages.filter((m) => m.type === 'change');
  assert.deepEqual(
    changes.map((m) => [m.model, m.alias, m.version]),
    [
      ['watch/b', 'live', 1],
      ['watch/b', 'canary', 2],
    ],
  );
  assert.ok(changes.every((m) => m.seq > last));
  again.ws.close();
});

test('without a model list a scoped token sees exactly the models in its scope, including new ones', async () => {
  const reader = await createToken(server, 'watch-reader', 'reader', 'watch/*');
  const w = await watch('', reader.token);
  await waitFor(() => w.messages.length === 1, 2000, 'snapshot');
  assert.deepEqual(Object.keys(w.messages[0].models).sort(), ['watch/a', 'watch/b']);
  await api(server, 'PUT', '/v1/models/other/c/aliases/live', { version: 2 });
  await registerFiles(server, 'watch/new', { f: 'brand new' });
  await api(server, 'PUT', '/v1/models/watch/new/aliases/live', { version: 1 });
  await waitFor(() => w.messages.some((m) => m.model === 'watch/new' && m.alias === 'live'), 2000, 'the new model');
  assert.ok(!w.messages.some((m) => m.model === 'other/c'), 'nothing outside the scope');
  w.ws.close();
});

test('bad credentials and out-of-scope models are refused before the upgrade', async () => {
  await assert.rejects(watch('', 'mgt_000000000000_' + 'x'.repeat(43)), /HTTP 401/);
  const reader = await createToken(server, 'watch-narrow', 'reader', 'watch/a');
  await assert.rejects(watch('?models=watch/b', reader.token), /HTTP 403/);
  await assert.rejects(watch('?models=Not..Valid'), /HTTP 400/);
  await assert.rejects(watch('?since=abc'), /HTTP 400/);
});

test('modelgate watch prints the state, then changes as they are committed', async () => {
  const { spawn } = await import('node:child_process');
  const { CLI } = await import('./harness/server.js');
  const child = spawn(process.execPath, [CLI, 'watch', 'watch/b', '--json'], {
    env: { ...process.env, MODELGATE_URL: server.url, MODELGATE_TOKEN: server.token },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: any[] = [];
  let buffered = '';
  child.stdout.on('data', (c: Buffer) => {
    buffered += c.toString();
    const parts = buffered.split('\n');
    buffered = parts.pop()!;
    for (const p of parts) if (p) lines.push(JSON.parse(p));
  });
  try {
    await waitFor(() => lines.length >= 1, 5000, 'the snapshot line');
    assert.equal(lines[0].type, 'snapshot');
    const moved = await api(server, 'PUT', '/v1/models/watch/b/aliases/shadow', { version: 1 });
    await waitFor(() => lines.some((l) => l.type === 'change' && l.alias === 'shadow'), 5000, 'the change line');
    assert.equal(lines.find((l) => l.alias === 'shadow').seq, moved.json.seq);
  } finally {
    child.kill('SIGTERM');
  }
});

test('revoking a token closes its watch sockets with 4401; other sockets keep streaming', async () => {
  const doomed = await createToken(server, 'watch-doomed', 'reader', 'watch/*');
  const kept = await createToken(server, 'watch-kept', 'reader', 'watch/*');
  const a = await watch('?models=watch/a', doomed.token);
  const b = await watch('?models=watch/a', doomed.token);
  const other = await watch('?models=watch/a', kept.token);
  const admin = await watch('?models=watch/a');
  await waitFor(() => [a, b, other, admin].every((w) => w.messages.length === 1), 2000, 'snapshots');

  const revoked = await api(server, 'DELETE', `/v1/tokens/${doomed.id}`);
  assert.equal(revoked.status, 200);
  const closed = { code: 4401, reason: 'token revoked' };
  assert.deepEqual(await Promise.all([closedWithin(a, 5000), closedWithin(b, 5000)]), [closed, closed]);

  const moved = await api(server, 'PUT', '/v1/models/watch/a/aliases/revoke-check', { version: 1 });
  for (const w of [other, admin]) {
    await waitFor(() => w.messages.some((m) => m.seq === moved.json.seq), 2000, 'the change after the revocation');
    assert.equal(w.ws.readyState, WebSocket.OPEN);
  }
  await assert.rejects(watch('?models=watch/a', doomed.token), /HTTP 401/);
  other.ws.close();
  admin.ws.close();
});

test('a watch socket is closed with 4401 when its token expires', async () => {
  const brief = await createToken(server, 'watch-brief', 'reader', 'watch/*', { ttlSeconds: 2 });
  const w = await watch('?models=watch/a', brief.token);
  await waitFor(() => w.messages.length === 1, 2000, 'snapshot');
  // Well past the 2 s TTL; the automatic pings would keep the socket open for ever.
  assert.deepEqual(await closedWithin(w, 15_000), { code: 4401, reason: 'token expired' });
});
