// The edge cache in front of a real S3 server (s3rver behind a proxy that counts, slows and cuts):
// one bucket read for many concurrent readers, ranged reads before the fill ends, corrupt objects
// never served, broken connections resumed, a stopped origin failing loudly, LRU by bytes.
import { PutObjectCommand } from '@aws-sdk/client-s3';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, test } from 'node:test';
import type { BlobReader } from '../src/blobs/blob-store.js';
import { CachedBlobStore } from '../src/blobs/edge-cache.js';
import { S3BlobStore, type S3BlobStoreOptions } from '../src/blobs/s3-blob-store.js';
import { sha256 } from './harness/http.js';
import { startS3, type TestS3 } from './harness/s3.js';

const MiB = 1024 * 1024;

let s3: TestS3;
let workDir: string;
const toClose: { close(): Promise<void> }[] = [];

before(async () => {
  s3 = await startS3();
  workDir = await mkdtemp(join(tmpdir(), 'modelgate-edge-'));
});
afterEach(async () => {
  s3.throttle(null);
  s3.throttleUploads(null);
  for (const c of toClose.splice(0)) await c.close().catch(() => undefined);
});
after(async () => {
  await s3?.dispose();
  await rm(workDir, { recursive: true, force: true });
});

/** A fresh S3 store (own key prefix) and a cold cache in front of it. */
async function coldCache(maxBytes = 512 * MiB, s3Overrides: Partial<S3BlobStoreOptions> = {}) {
  const origin = new S3BlobStore(s3.storeOptions(s3Overrides));
  const dir = await mkdtemp(join(workDir, 'cache-'));
  const cache = await CachedBlobStore.open(origin, { dir, maxBytes });
  toClose.push(cache);
  return { origin, cache, dir };
}

async function upload(origin: S3BlobStore, bytes: Buffer): Promise<string> {
  const digest = sha256(bytes);
  const writer = await origin.createWriter(digest);
  for (let at = 0; at < bytes.length; at += 4 * MiB) await writer.write(bytes.subarray(at, at + 4 * MiB));
  await writer.commit(digest);
  return digest;
}

/** Reads a whole blob the way the HTTP layer does (256 KiB positional reads), hashing it. */
async function drain(reader: BlobReader, onChunk?: (sent: number) => void): Promise<{ digest: string; bytes: number }> {
  const hash = createHash('sha256');
  const buf = Buffer.allocUnsafe(256 * 1024);
  let sent = 0;
  try {
    while (sent < reader.size) {
      const n = await reader.read(buf, 0, Math.min(buf.length, reader.size - sent), sent);
      assert.ok(n > 0);
      hash.update(buf.subarray(0, n));
      sent += n;
      onChunk?.(sent);
    }
  } finally {
    await reader.close();
  }
  return { digest: `sha256:${hash.digest('hex')}`, bytes: sent };
}

/** Every file under a directory, recursively (the cache must hold none after a failed fill). */
async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await filesUnder(path)));
    else out.push(path);
  }
  return out;
}

async function bytesOnDisk(dir: string): Promise<number> {
  let total = 0;
  for (const file of await filesUnder(dir)) total += (await stat(file)).size;
  return total;
}

test('32 concurrent readers of one cold 64 MiB blob read the bucket once', async () => {
  const { origin, cache } = await coldCache();
  const bytes = randomBytes(64 * MiB);
  const digest = await upload(origin, bytes);
  const wireBefore = s3.bytesSent();
  const bodyBefore = origin.bytesRead;

  const readers = await Promise.all(Array.from({ length: 32 }, () => cache.open(digest)));
  const results = await Promise.all(readers.map((r) => drain(r!)));
  for (const r of results) assert.deepEqual(r, { digest, bytes: bytes.length });

  assert.equal(cache.fillsStarted, 1, 'one fill for 32 readers');
  assert.equal(cache.misses, 32);
  assert.equal(cache.originBytesRead, bytes.length);
  assert.equal(origin.bytesRead - bodyBefore, bytes.length, 'GetObject bodies carried the blob exactly once');
  const wire = s3.bytesSent() - wireBefore;
  assert.ok(wire >= bytes.length && wire < bytes.length + 64 * 1024, `the server sent ${wire} bytes for a ${bytes.length}-byte blob`);

  // Warm now: another reader costs the bucket nothing.
  const again = await drain((await cache.open(digest))!);
  assert.equal(again.digest, digest);
  assert.equal(cache.hits, 1);
  assert.equal(cache.fillsStarted, 1);
  assert.ok(s3.bytesSent() - wireBefore - wire < 4096, 'a warm read touches the bucket at most for a HEAD');
});

test('ranged reads of a cold blob return before the fill completes; the final byte waits for verification', async () => {
  const { origin, cache } = await coldCache();
  const bytes = randomBytes(16 * MiB);
  const digest = await upload(origin, bytes);
  s3.throttle(4 * MiB); // the fill takes ~4 s

  const started = Date.now();
  const reader = (await cache.open(digest))!;
  const first = Buffer.alloc(MiB);
  assert.equal(await reader.read(first, 0, MiB, 0), MiB);
  const firstMs = Date.now() - started;
  assert.ok(first.equals(bytes.subarray(0, MiB)));
  assert.ok(!cache.isCached(digest), 'the first MiB arrived while the fill was still running');
  assert.ok(firstMs < 2000, `the first MiB took ${firstMs} ms`);

  // The last byte is held back until the whole blob hashed to its digest.
  let lastAt = 0;
  const last = Buffer.alloc(1);
  const lastRead = reader.read(last, 0, 1, bytes.length - 1).then((n) => {
    lastAt = Date.now();
    assert.ok(cache.isCached(digest), 'the final byte was released only after verification');
    return n;
  });
  const secondReader = (await cache.open(digest))!;
  const middle = Buffer.alloc(MiB);
  assert.equal(await secondReader.read(middle, 0, MiB, 2 * MiB), MiB);
  assert.ok(middle.equals(bytes.subarray(2 * MiB, 3 * MiB)));
  assert.equal(lastAt, 0, 'the final byte is not out yet while the fill runs');
  assert.equal(await lastRead, 1);
  assert.equal(last[0], bytes[bytes.length - 1]);
  assert.ok(lastAt - started > 2000, `the fill ran long enough to matter (${lastAt - started} ms)`);
  await reader.close();
  await secondReader.close();
  assert.equal(cache.fillsStarted, 1);
});

test('a corrupt object in the bucket is never served: readers get an error, and nothing is cached', async () => {
  const { origin, cache, dir } = await coldCache();
  const bytes = randomBytes(6 * MiB);
  const digest = await upload(origin, bytes);
  // Same size, a few wrong bytes in the middle, written straight into the bucket.
  const corrupt = Buffer.from(bytes);
  corrupt.write('not the bytes you uploaded', 3 * MiB);
  await s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: origin.keyOf(digest), Body: corrupt }));

  for (let attempt = 1; attempt <= 2; attempt++) {
    const readers = await Promise.all([cache.open(digest), cache.open(digest)]);
    const delivered = [0, 0];
    const outcomes = await Promise.allSettled(readers.map((r, i) => drain(r!, (sent) => (delivered[i] = sent))));
    for (const [i, outcome] of outcomes.entries()) {
      assert.equal(outcome.status, 'rejected', 'the transfer failed instead of completing');
      assert.match(String((outcome as PromiseRejectedResult).reason), /hash to|DIGEST_MISMATCH/);
      assert.ok(delivered[i]! < bytes.length, `reader ${i} got ${delivered[i]} of ${bytes.length} bytes`);
    }
    assert.equal(cache.fillsStarted, attempt, 'each open after a failure tries the origin again');
    assert.equal(cache.verifyFailures, attempt);
    assert.ok(!cache.isCached(digest));
    await new Promise((r) => setTimeout(r, 50)); // file removal is fire-and-forget
    assert.deepEqual(await filesUnder(dir), [], 'no cache file is left behind');
    assert.equal(cache.usedBytes, 0);
  }

  // Repaired at the origin: served again.
  await s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: origin.keyOf(digest), Body: bytes }));
  assert.equal((await drain((await cache.open(digest))!)).digest, digest);
  assert.ok(cache.isCached(digest));
});

test('connections reset mid-fill are resumed: the blob completes correctly with one fill', async () => {
  const { origin, cache } = await coldCache();
  const bytes = randomBytes(24 * MiB);
  const digest = await upload(origin, bytes);
  const cutsBefore = s3.cuts();
  s3.cutAfter(5 * MiB + 777);

  const readers = await Promise.all(Array.from({ length: 4 }, () => cache.open(digest)));
  const results = await Promise.all(readers.map((r) => drain(r!)));
  for (const r of results) assert.equal(r.digest, digest);
  assert.ok(s3.cuts() > cutsBefore, 'the proxy did reset a connection mid-stream');
  assert.equal(cache.fillsStarted, 1);
  assert.equal(cache.fillsFailed, 0);
  assert.equal(cache.originBytesRead, bytes.length);
  assert.ok(cache.isCached(digest));
});

test('an origin that goes down mid-fill fails the reads and leaves nothing cached; the next open after it returns succeeds', async () => {
  const { origin, cache, dir } = await coldCache(512 * MiB, {
    retry: { attempts: 3, baseDelayMs: 50 },
    sdkMaxAttempts: 2,
    connectTimeoutMs: 1000,
  });
  const bytes = randomBytes(16 * MiB);
  const digest = await upload(origin, bytes);
  s3.throttle(4 * MiB);

  const reader = (await cache.open(digest))!;
  const head = Buffer.alloc(MiB);
  assert.equal(await reader.read(head, 0, MiB, 0), MiB);
  await s3.stop();
  s3.cutAll();
  let delivered = MiB;
  await assert.rejects(
    (async () => {
      const buf = Buffer.alloc(256 * 1024);
      while (delivered < bytes.length) delivered += await reader.read(buf, 0, Math.min(buf.length, bytes.length - delivered), delivered);
    })(),
    'reads fail once the origin is gone',
  );
  assert.ok(delivered < bytes.length);
  await reader.close();
  assert.equal(cache.fillsFailed, 1);
  assert.ok(!cache.isCached(digest));
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(await filesUnder(dir), []);
  await assert.rejects(cache.open(digest), 'a cold open with the origin down fails (it is not a 404)');

  s3.throttle(null);
  await s3.restart();
  const after = await drain((await cache.open(digest))!);
  assert.equal(after.digest, digest);
  assert.ok(cache.isCached(digest));
});

test('LRU eviction by bytes keeps the cache under its limit and never takes an entry in use', async () => {
  const limit = 10 * MiB;
  const { origin, cache, dir } = await coldCache(limit);
  const blobs = await Promise.all(['A', 'B', 'C', 'D'].map(async () => randomBytes(4 * MiB)));
  const [a, b, c, d] = await Promise.all(blobs.map((bytes) => upload(origin, bytes)));
  const read = async (digest: string) => assert.equal((await drain((await cache.open(digest))!)).digest, digest);

  await read(a!);
  await read(b!);
  await read(a!); // A is now more recent than B
  await read(c!); // 12 MiB would not fit: B, the least recently used, goes
  assert.ok(cache.isCached(a!) && cache.isCached(c!));
  assert.ok(!cache.isCached(b!));
  assert.ok(cache.usedBytes <= limit);
  assert.ok((await bytesOnDisk(dir)) <= limit);

  // A is the coldest now, but a reader holds it: C goes instead.
  const holding = (await cache.open(a!))!;
  await read(d!);
  assert.ok(cache.isCached(a!), 'an entry being read is not evicted');
  assert.ok(!cache.isCached(c!));
  assert.ok(cache.isCached(d!));
  await holding.close();
  assert.ok(cache.usedBytes <= limit);
  assert.equal(await bytesOnDisk(dir), cache.usedBytes);

  // A blob larger than the whole cache is still served (verified) and then let go.
  const huge = randomBytes(12 * MiB);
  const hugeDigest = await upload(origin, huge);
  await read(hugeDigest);
  assert.ok(cache.usedBytes <= limit, `after the reader left the cache holds ${cache.usedBytes} bytes`);
  assert.ok(!cache.isCached(hugeDigest), 'the blob larger than the cache was let go');
  assert.ok(cache.isCached(a!) && cache.isCached(d!), 'and the warm entries were not evicted on its account');
  await new Promise((r) => setTimeout(r, 50));
  assert.ok((await bytesOnDisk(dir)) <= limit);
  assert.ok(cache.evictions >= 3);

  // A restarted cache finds its verified entries and serves them without the bucket.
  await cache.close();
  const reopened = await CachedBlobStore.open(new S3BlobStore(s3.storeOptions({ prefix: origin.prefix })), { dir, maxBytes: limit });
  toClose.push(reopened);
  const cached = [a!, b!, c!, d!, hugeDigest].filter((x) => reopened.isCached(x));
  assert.deepEqual(cached, [a!, d!]);
  const wire = s3.bytesSent();
  assert.equal((await drain((await reopened.open(cached[0]!))!)).digest, cached[0]);
  assert.equal(reopened.hits, 1);
  assert.equal(reopened.originBytesRead, 0);
  assert.ok(s3.bytesSent() - wire < 4096);
});

test('an S3 writer holds a bounded number of parts: write() waits while the bucket is slow to take them', async () => {
  const partSizeBytes = 5 * MiB;
  const origin = new S3BlobStore(s3.storeOptions({ partSizeBytes, partsInFlight: 2 }));
  toClose.push(origin);
  const bytes = randomBytes(64 * MiB);
  const digest = sha256(bytes);
  s3.throttleUploads(16 * MiB); // ~4 s for the whole blob
  const before = s3.bytesReceived();
  const writer = await origin.createWriter(digest);
  let maxAhead = 0;
  for (let at = 0; at < bytes.length; at += MiB) {
    await writer.write(bytes.subarray(at, at + MiB));
    maxAhead = Math.max(maxAhead, writer.bytesWritten - (s3.bytesReceived() - before));
  }
  // Two parts in flight and one filling, plus what the sockets between us and the server buffer.
  const bound = 3 * partSizeBytes + 10 * MiB;
  assert.ok(maxAhead <= bound, `write() ran ${maxAhead} bytes ahead of the server (bound ${bound})`);
  await writer.commit(digest);
  s3.throttleUploads(null);
  assert.equal((await drain((await origin.open(digest))!)).digest, digest);
});
