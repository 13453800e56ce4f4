// A multi-GiB blob through the real service: streamed up (chunked: this uWS build refuses a
// Content-Length of 10 digits), streamed down, checked by digest, without holding it in memory.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { request } from 'node:http';
import { after, before, test } from 'node:test';
import { startServer, type TestServer } from './harness/server.js';

const SIZE = 2 * 1024 ** 3 + 12_345; // a little over 2 GiB, not a multiple of any buffer size
const BLOCK = 1 << 20;

let server: TestServer;
before(async () => {
  server = await startServer();
});
after(async () => {
  await server.dispose();
});

/** Deterministic pseudo-random bytes: block i is sha256-chained from i, so any block can be recomputed. */
function* blocks(size: number): Generator<Buffer> {
  const seed = createHash('sha256').update('modelgate-large-test').digest();
  const block = Buffer.allocUnsafe(BLOCK);
  for (let i = 0; i < BLOCK; i += 32) {
    seed.copy(block, i, 0, Math.min(32, BLOCK - i));
    seed.writeUInt32LE(i, 0);
  }
  let sent = 0;
  let counter = 0;
  while (sent < size) {
    const n = Math.min(BLOCK, size - sent);
    const out = Buffer.from(block.subarray(0, n));
    out.writeUInt32LE(counter++, 0);
    sent += n;
    yield out;
  }
}

function digestOf(size: number): string {
  const h = createHash('sha256');
  for (const b of blocks(size)) h.update(b);
  return `sha256:${h.digest('hex')}`;
}

function upload(url: string, token: string, digest: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}/v1/blobs?digest=${digest}`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Transfer-Encoding': 'chunked' },
    });
    req.on('response', (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
    const source = blocks(SIZE);
    const pump = () => {
      for (;;) {
        const next = source.next();
        if (next.done) return req.end();
        if (!req.write(next.value)) return req.once('drain', pump);
      }
    };
    pump();
  });
}

function download(
  url: string,
  token: string,
  range?: string,
): Promise<{ status: number; size: number; digest: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { Authorization: `Bearer ${token}`, ...(range ? { Range: range } : {}) } });
    req.on('response', (res) => {
      const h = createHash('sha256');
      let size = 0;
      res.on('data', (c: Buffer) => {
        h.update(c);
        size += c.length;
      });
      res.on('end', () => resolve({ status: res.statusCode!, size, digest: `sha256:${h.digest('hex')}`, headers: res.headers }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

test('a 2 GiB blob uploads, registers and downloads intact, whole and by range', { timeout: 600_000 }, async () => {
  const digest = digestOf(SIZE);
  const up = await upload(server.url, server.token, digest);
  assert.equal(up.status, 201, up.body);
  assert.deepEqual(JSON.parse(up.body), { digest, size: SIZE });

  const reg = await fetch(`${server.url}/v1/models/big/model/versions`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${server.token}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ files: [{ path: 'weights.bin', size: SIZE, digest }] }),
  });
  assert.equal(reg.status, 201);

  const whole = await download(`${server.url}/v1/models/big/model@v1/files/weights.bin`, server.token);
  assert.equal(whole.status, 200);
  assert.equal(whole.size, SIZE);
  assert.equal(whole.digest, digest);

  // The last 3 MiB + 12,345 bytes, across the 2 GiB boundary, compared with the generator's bytes.
  const tailStart = SIZE - 3 * BLOCK - 12_345;
  const expectedTail = createHash('sha256');
  let at = 0;
  for (const b of blocks(SIZE)) {
    const end = at + b.length;
    if (end > tailStart) expectedTail.update(b.subarray(Math.max(0, tailStart - at)));
    at = end;
  }
  const tail = await download(`${server.url}/v1/blobs/${digest}`, server.token, `bytes=${tailStart}-`);
  assert.equal(tail.status, 206);
  assert.equal(tail.headers['content-range'], `bytes ${tailStart}-${SIZE - 1}/${SIZE}`);
  assert.equal(tail.digest, `sha256:${expectedTail.digest('hex')}`);
});
