// The blob sink failing while the upload is paused. A gateway on blobs.backend=s3 (real s3rver
// behind the test proxy) receives a large streamed body; uploads to the bucket are slowed, so the
// writer's part queue fills and the request is paused (the client's socket stops draining). Then
// S3 goes away, the part uploads fail, and the upload must settle at once with a 503 JSON error,
// keep nothing, and leave the server serving: not sit paused until the client gives up.
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { auth, sha256, uploadBlob, waitFor } from './harness/http.js';
import { startS3, type TestS3 } from './harness/s3.js';
import { startServer, type TestServer } from './harness/server.js';

const MiB = 1024 * 1024;
let s3: TestS3;
let server: TestServer;
const prefix = `sink${randomBytes(3).toString('hex')}/`;
const sockets: Socket[] = [];

before(async () => {
  s3 = await startS3();
  server = await startServer({ env: s3.serviceEnv(prefix) });
});
after(async () => {
  for (const socket of sockets) socket.destroy();
  await server?.dispose();
  await s3?.dispose();
});

async function uploadsInFlight(): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const m = /^modelgate_transfers_in_flight\{direction="upload"\} (\S+)$/m.exec(text);
  return m ? Number(m[1]) : 0;
}

/** What came back on a raw socket: the bytes, and whether (and how) the connection ended. */
interface Reply {
  bytes: Buffer;
  closed: boolean;
  closedAt: number;
}

test('S3 stopped while the upload is paused: a prompt 503 BLOB_STORE_UNAVAILABLE, nothing stored, the server keeps serving', {
  timeout: 180_000,
}, async () => {
  // 256 MiB announced; the client streams as fast as the server takes it, and never gets near the end.
  const block = randomBytes(4 * MiB);
  const total = 256 * MiB;
  const hash = createHash('sha256');
  for (let at = 0; at < total; at += block.length) hash.update(block);
  const digest = `sha256:${hash.digest('hex')}`;

  s3.throttleUploads(MiB); // a slow bucket: the writer's parts queue up and the request is paused
  const socket = connect(server.port, '127.0.0.1');
  sockets.push(socket);
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const reply: Reply = { bytes: Buffer.alloc(0), closed: false, closedAt: 0 };
  const replied = new Promise<void>((resolve) => {
    socket.on('data', (chunk: Buffer) => {
      reply.bytes = Buffer.concat([reply.bytes, chunk]);
      const text = reply.bytes.toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      const length = /\r\nContent-Length: (\d+)\r\n/i.exec(text)?.[1];
      if (end >= 0 && length !== undefined && text.length >= end + 4 + Number(length)) resolve();
    });
    socket.on('error', () => undefined); // reset / EPIPE once the server closes: seen as 'close'
    socket.on('close', () => {
      reply.closed = true;
      reply.closedAt = Date.now();
      resolve();
    });
  });
  socket.write(
    `POST /v1/blobs?digest=${digest} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${server.token}\r\nContent-Length: ${total}\r\n\r\n`,
  );
  let stopWriting = false;
  void (async () => {
    for (let sent = 0; sent < total && !stopWriting && !socket.destroyed; sent += block.length) {
      if (!socket.write(block)) {
        await new Promise<void>((resolve) => {
          const done = () => {
            socket.off('drain', done).off('close', done);
            resolve();
          };
          socket.on('drain', done).on('close', done);
        });
      }
    }
  })();

  // Paused: what the client hands the kernel stops moving for a while, with more waiting to go.
  let last = -1;
  let stillSince = Date.now();
  await waitFor(
    () => {
      const now = socket.bytesWritten;
      if (now !== last) {
        last = now;
        stillSince = Date.now();
        return false;
      }
      return now > 32 * MiB && socket.writableLength > 0 && Date.now() - stillSince > 1500;
    },
    30_000,
    'the upload to be paused (the client socket to stop draining)',
  );
  assert.ok(socket.bytesWritten < total / 2, `the server took ${socket.bytesWritten} bytes: it never paused`);
  assert.equal(await uploadsInFlight(), 1);

  // S3 goes away: the parts in flight and every retry fail.
  const stoppedAt = Date.now();
  await s3.stop();
  s3.cutAll();

  const deadline = 20_000;
  const timer = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), deadline).unref());
  const outcome = await Promise.race([replied.then(() => 'replied' as const), timer]);
  stopWriting = true;
  const elapsed = Date.now() - stoppedAt;
  assert.equal(outcome, 'replied', `no answer and no close within ${deadline / 1000} s of S3 stopping: the paused upload hangs`);

  const text = reply.bytes.toString('latin1');
  console.log(`# answered ${elapsed} ms after S3 stopped: ${JSON.stringify(text.slice(0, 200))}`);
  assert.ok(text.length > 0, `the connection was closed after ${elapsed} ms without an answer`);
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1]);
  assert.ok(status >= 500 && status < 600, `expected a 5xx, got: ${text.slice(0, 300)}`);
  assert.equal(status, 503, 'the bucket failing is a 503: retrying later may help');
  assert.match(text, /\r\nRetry-After: \d+\r\n/i);
  const body = JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)) as { error: { code: string; details: { retryable: boolean } } };
  assert.equal(body.error.code, 'BLOB_STORE_UNAVAILABLE');
  assert.equal(body.error.details.retryable, true);
  assert.ok(
    server.output.some((l) => l.includes('"msg":"blob store failure"')),
    'the cause is logged',
  );
  if (/\r\nConnection: close\r\n/i.test(text)) {
    // The answer went out with the body still arriving: the rest is not read, the connection closes.
    await waitFor(() => reply.closed, 10_000, 'the server to close the connection after the error');
  } else {
    // The server read (and dropped) the body to its end before answering: framing is intact.
    assert.ok(socket.bytesWritten >= total, `the connection was kept open with ${socket.bytesWritten} of ${total} body bytes sent`);
  }
  socket.destroy();

  // The request is over on the server too, and it keeps serving.
  await waitFor(async () => (await uploadsInFlight()) === 0, 10_000, 'uploads in flight to return to 0');
  s3.throttleUploads(null);
  await s3.restart();
  assert.equal((await fetch(`${server.url}/v1/blobs/${digest}`, { method: 'HEAD', headers: auth(server) })).status, 404);
  await assert.rejects(
    s3.client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: `${prefix}blobs/sha256/${digest.slice(7, 9)}/${digest.slice(7)}` })),
    (err: { name?: string }) => err.name === 'NotFound',
  );
  const small = randomBytes(3 * MiB + 5);
  const smallDigest = await uploadBlob(server, small);
  assert.equal(smallDigest, sha256(small));
  const back = Buffer.from(await (await fetch(`${server.url}/v1/blobs/${smallDigest}`, { headers: auth(server) })).arrayBuffer());
  assert.ok(back.equals(small), 'a blob uploaded after the failure does not round-trip');
});
