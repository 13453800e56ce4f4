import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, test } from 'node:test';
import { api, registerFiles } from './harness/http.js';
import { startServer, type TestServer } from './harness/server.js';

let server: TestServer;
before(async () => {
  server = await startServer();
});
after(async () => {
  await server.dispose();
});

test('health, readiness and metrics need no token', async () => {
  assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
  assert.deepEqual(await (await fetch(`${server.url}/readyz`)).json(), { status: 'ready' });
  await registerFiles(server, 'ops/model', { 'w.bin': 'x'.repeat(1000) });
  await api(server, 'PUT', '/v1/models/ops/model/aliases/stable', { version: 1 });
  await api(server, 'GET', '/v1/resolve/ops/model@stable');
  await fetch(`${server.url}/v1/models/ops/model@v1/files/w.bin`, { headers: { Authorization: `Bearer ${server.token}` } }).then((r) =>
    r.arrayBuffer(),
  );
  const text = await (await fetch(`${server.url}/metrics`)).text();
  assert.match(text, /modelgate_http_requests_total\{route="resolve",method="GET",status="200"\} 1/);
  assert.match(text, /modelgate_http_request_duration_seconds_bucket\{le="0.0001",route="resolve"\}/);
  assert.match(text, /modelgate_bytes_served_total 1000/);
  assert.match(text, /modelgate_bytes_received_total \d+/);
  assert.match(text, /modelgate_hash_task_seconds_count [1-9]/);
  assert.match(text, /modelgate_hash_queue_size 0/);
  assert.match(text, /modelgate_upload_share_pauses_total \d+/);
  assert.match(text, /modelgate_upload_share_paused_seconds_total \d/);
  assert.match(text, /modelgate_process_resident_memory_bytes/);
});

test('SIGTERM stops accepting but lets a download in flight finish', async () => {
  const size = 48 * 1024 * 1024;
  await registerFiles(server, 'ops/big', { 'w.bin': Buffer.alloc(size, 9) });
  const received = new Promise<number>((resolve, reject) => {
    const req = request(`${server.url}/v1/models/ops/big@v1/files/w.bin`, { headers: { Authorization: `Bearer ${server.token}` } });
    req.on('response', (res) => {
      let n = 0;
      res.once('data', () => {
        res.pause();
        // Shut down while the body is still streaming, then keep reading.
        server.child.kill('SIGTERM');
        setTimeout(() => res.resume(), 300);
      });
      res.on('data', (c: Buffer) => (n += c.length));
      res.on('end', () => resolve(n));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
  const got = await received;
  const exitCode = await new Promise<number | null>((resolve) => {
    if (server.child.exitCode !== null) resolve(server.child.exitCode);
    else server.child.once('exit', (code) => resolve(code));
  });
  assert.equal(got, size, 'the whole body arrived');
  assert.equal(exitCode, 0);
  assert.match(server.output.join('\n'), /"msg":"stopped"/);
  await assert.rejects(fetch(`${server.url}/healthz`), 'no longer accepting');
  await server.restart();
});
