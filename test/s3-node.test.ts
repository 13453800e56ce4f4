// A real gateway process on blobs.backend=s3 (s3rver behind the counting proxy): uploads go to the
// bucket, 32 concurrent cold pulls read it once, ranges work, and S3 going away or serving corrupt
// bytes cuts the download instead of ending it as if complete.
import { PutObjectCommand } from '@aws-sdk/client-s3';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { auth, sha256, uploadBlob } from './harness/http.js';
import { startS3, type TestS3 } from './harness/s3.js';
import { startServer, type TestServer } from './harness/server.js';

const MiB = 1024 * 1024;
let s3: TestS3;
let server: TestServer;
const prefix = `node${randomBytes(3).toString('hex')}/`;

before(async () => {
  s3 = await startS3();
  server = await startServer({ env: s3.serviceEnv(prefix) });
});
after(async () => {
  await server?.dispose();
  await s3?.dispose();
});

/** Downloads a blob; resolves with what arrived, and whether the body ended cleanly. */
async function pull(digest: string, headers: Record<string, string> = {}): Promise<{ status: number; bytes: Buffer; complete: boolean }> {
  const res = await fetch(`${server.url}/v1/blobs/${digest}`, { headers: auth(server, headers) });
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) chunks.push(Buffer.from(chunk));
    return { status: res.status, bytes: Buffer.concat(chunks), complete: true };
  } catch {
    return { status: res.status, bytes: Buffer.concat(chunks), complete: false };
  }
}

/**
 * Downloads a blob and hashes it as it arrives, keeping none of it: 32 clients holding 40 MiB
 * each in one test process (which also runs s3rver) stalled that process for longer than the
 * server's 10 s send timeout under load, and the server rightly dropped clients that read nothing.
 */
async function pullDigest(digest: string): Promise<{ status: number; digest: string; complete: boolean }> {
  const res = await fetch(`${server.url}/v1/blobs/${digest}`, { headers: auth(server) });
  const hash = createHash('sha256');
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) hash.update(chunk);
    return { status: res.status, digest: `sha256:${hash.digest('hex')}`, complete: true };
  } catch {
    return { status: res.status, digest: '', complete: false };
  }
}

test('uploads land in the bucket; 32 concurrent cold pulls read it once; ranges work', async () => {
  const bytes = randomBytes(40 * MiB);
  const digest = await uploadBlob(server, bytes);
  const head = await s3.client.send(
    new (await import('@aws-sdk/client-s3')).HeadObjectCommand({
      Bucket: s3.bucket,
      Key: `${prefix}blobs/sha256/${digest.slice(7, 9)}/${digest.slice(7)}`,
    }),
  );
  assert.equal(head.ContentLength, bytes.length, 'stored byte-exact (no aws-chunked framing)');

  const before = s3.bytesSent();
  const pulls = await Promise.all(Array.from({ length: 32 }, () => pullDigest(digest)));
  for (const p of pulls) {
    assert.equal(p.status, 200);
    assert.ok(p.complete);
    assert.equal(p.digest, digest);
  }
  const wire = s3.bytesSent() - before;
  assert.ok(wire >= bytes.length && wire < bytes.length + 64 * 1024, `the bucket sent ${wire} bytes for 32 pulls of ${bytes.length}`);

  const ranged = await pull(digest, { Range: 'bytes=1000-2999' });
  assert.equal(ranged.status, 206);
  assert.ok(ranged.bytes.equals(bytes.subarray(1000, 3000)));
});

test('a corrupt object in the bucket is never served as a complete download', async () => {
  const bytes = randomBytes(3 * MiB);
  const digest = await uploadBlob(server, bytes);
  const corrupt = Buffer.from(bytes);
  corrupt.write('corrupted', MiB);
  await s3.client.send(
    new PutObjectCommand({ Bucket: s3.bucket, Key: `${prefix}blobs/sha256/${digest.slice(7, 9)}/${digest.slice(7)}`, Body: corrupt }),
  );
  const p = await pull(digest);
  assert.ok(!p.complete || p.status >= 500, `status ${p.status}, ${p.bytes.length} bytes, complete=${p.complete}`);
  assert.ok(p.bytes.length < bytes.length);
  // The failed fill rejects the read the download started ahead; that must not end the process.
  assert.equal((await fetch(`${server.url}/healthz`)).status, 200, 'the server keeps serving');
});

test('a range of a corrupt cold blob is not completed either, though its own bytes arrived intact', async () => {
  const bytes = randomBytes(3 * MiB);
  const digest = await uploadBlob(server, bytes);
  const corrupt = Buffer.from(bytes);
  corrupt.write('corrupted', 2 * MiB);
  await s3.client.send(
    new PutObjectCommand({ Bucket: s3.bucket, Key: `${prefix}blobs/sha256/${digest.slice(7, 9)}/${digest.slice(7)}`, Body: corrupt }),
  );
  const p = await pull(digest, { Range: 'bytes=0-65535' });
  assert.ok(!p.complete || p.status >= 500, `status ${p.status}, ${p.bytes.length} bytes, complete=${p.complete}`);
  assert.ok(p.bytes.length < 65536, `${p.bytes.length} bytes arrived`);
  assert.equal((await fetch(`${server.url}/healthz`)).status, 200, 'the server keeps serving');
});

test('S3 stopped mid-download: the transfer is cut, not ended as if complete', async () => {
  const bytes = randomBytes(16 * MiB);
  const digest = await uploadBlob(server, bytes);
  s3.throttle(4 * MiB);
  const res = await fetch(`${server.url}/v1/blobs/${digest}`, { headers: auth(server) });
  assert.equal(res.status, 200);
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  let got = 0;
  while (got < MiB) got += (await reader.read()).value!.length;
  await s3.stop();
  s3.cutAll();
  const hash = createHash('sha256');
  await assert.rejects(
    (async () => {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        got += value.length;
        hash.update(value);
      }
    })(),
  );
  assert.ok(got < bytes.length);
  s3.throttle(null);
  await s3.restart();
  const again = await pull(digest);
  assert.ok(again.complete);
  assert.equal(sha256(again.bytes), digest);
});
