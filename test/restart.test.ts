import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { api, registerFiles, sha256 } from './harness/http.js';
import { startServer, type TestServer } from './harness/server.js';

let server: TestServer;
before(async () => {
  server = await startServer();
});
after(async () => {
  await server.dispose();
});

test('blobs, versions, aliases, history and upload sessions survive a restart', async () => {
  const v1 = await registerFiles(server, 'persist/model', { 'w.bin': 'one' });
  const v2 = await registerFiles(server, 'persist/model', { 'w.bin': 'two' });
  await api(server, 'PUT', '/v1/models/persist/model/aliases/stable', { version: v1.version });
  await api(server, 'PUT', '/v1/models/persist/model/aliases/stable', { version: v2.version });

  const data = Buffer.from('0123456789'.repeat(1000));
  const session = await api(server, 'POST', '/v1/uploads');
  assert.equal(session.status, 201);
  const id = session.json.id as string;
  const first = await api(server, 'PATCH', `/v1/uploads/${id}`, data.subarray(0, 4000), {
    'Content-Range': 'bytes 0-3999/*',
    'Content-Type': 'application/octet-stream',
  });
  assert.equal(first.json.offset, 4000);

  await server.restart();

  const resolved = await api(server, 'GET', '/v1/resolve/persist/model@stable');
  assert.equal(resolved.json.version, 2);
  const history = await api(server, 'GET', '/v1/models/persist/model/aliases/stable/history');
  assert.equal(history.json.history.length, 2);
  const file = await fetch(`${server.url}/v1/models/persist/model@v1/files/w.bin`, {
    headers: { Authorization: `Bearer ${server.token}` },
  });
  assert.equal(await file.text(), 'one');

  const status = await api(server, 'GET', `/v1/uploads/${id}`);
  assert.equal(status.status, 200);
  assert.equal(status.json.offset, 4000);
  assert.equal(status.headers.get('range'), 'bytes=0-3999');
  const rest = await api(server, 'PATCH', `/v1/uploads/${id}`, data.subarray(4000), {
    'Content-Range': `bytes 4000-${data.length - 1}/*`,
    'Content-Type': 'application/octet-stream',
  });
  assert.equal(rest.json.offset, data.length);
  const committed = await api(server, 'PUT', `/v1/uploads/${id}?digest=${sha256(data)}`);
  assert.equal(committed.status, 201);
  assert.equal(committed.json.size, data.length);
  const blob = await fetch(`${server.url}/v1/blobs/${sha256(data)}`, { headers: { Authorization: `Bearer ${server.token}` } });
  assert.deepEqual(Buffer.from(await blob.arrayBuffer()), data);

  // The sequence keeps counting from where it was: nothing is renumbered by a restart.
  const next = await api(server, 'PUT', '/v1/models/persist/model/aliases/staging', { version: 1 });
  assert.ok(next.json.seq > history.json.history[1].seq);
});

test('abandoned upload sessions expire and their data is removed', async () => {
  const short = await startServer({ env: { MODELGATE_UPLOAD_TTL_SECONDS: '1', MODELGATE_UPLOAD_SWEEP_SECONDS: '1' } });
  try {
    const session = await api(short, 'POST', '/v1/uploads');
    const id = session.json.id as string;
    await api(short, 'PATCH', `/v1/uploads/${id}`, Buffer.alloc(1000, 7), { 'Content-Type': 'application/octet-stream' });
    assert.deepEqual(await readdir(join(short.dataDir, 'uploads')), [id]);
    await new Promise((r) => setTimeout(r, 2500));
    assert.equal((await api(short, 'GET', `/v1/uploads/${id}`)).status, 404);
    assert.deepEqual(await readdir(join(short.dataDir, 'uploads')), []);
  } finally {
    await short.dispose();
  }
});
