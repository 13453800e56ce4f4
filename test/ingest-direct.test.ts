// The upload path on a sink backed by a local file (the disk blob store): chunks are written
// straight into the file as they arrive and the hashing thread reads them back from it, so no
// shared buffer is held once the file is open; the file and the digest are the bytes in order,
// including the ones that arrived before the file was open. While the file is written back to the
// disk (every 64 MiB), chunks go through the shared buffers instead, and straight again after. A file that lost bytes before the
// hash read them gives no digest: nothing can be committed under a digest of bytes it never saw.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { FsBlobStore } from '../src/blobs/fs-blob-store.js';
import { HashPool } from '../src/blobs/hash-pool.js';
import { Ingest, ingestBuffers } from '../src/blobs/ingest.js';
import { waitFor } from './harness/http.js';

const MiB = 1024 * 1024;
let dir = '';
let pool: HashPool;
let store: FsBlobStore;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mg-ingest-direct-'));
  pool = new HashPool(1);
  store = await FsBlobStore.open(dir);
});
after(async () => {
  await pool.close();
  rmSync(dir, { recursive: true, force: true });
});

function arrayBufferOf(bytes: Buffer): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length) as ArrayBuffer;
}

test('a sink with a local file takes the chunks straight: no shared buffer held, the file and the hash are the bytes in order', async () => {
  const body = Buffer.from(Array.from({ length: 13 * MiB + 4321 }, (_, i) => (i * 31 + (i >> 16)) % 256));
  const writer = store.createWriter('sha256:unknown');
  const ingest = new Ingest(writer, pool.startStream(), () => undefined);
  // The first piece arrives before the file is open: it waits in a shared buffer.
  ingest.push(arrayBufferOf(body.subarray(0, 300_000)));
  const w = await writer;
  assert.ok(w.direct, 'the disk store offers its file');
  // The ingest saw the file open before this line (its callback was registered first).
  await Promise.resolve();
  assert.equal(ingestBuffers().inUse, 0, 'the waiting piece was written to the file and its buffer given back');
  for (let at = 300_000; at < body.length; at += 65_531) {
    ingest.push(arrayBufferOf(body.subarray(at, at + 65_531)));
    assert.equal(ingestBuffers().inUse, 0, 'no chunk is copied into a shared buffer');
  }
  const done = await ingest.finish();
  const expected = createHash('sha256').update(body).digest('hex');
  assert.equal(done.size, body.length);
  assert.equal(done.hash?.hex, expected, 'the hashing thread read the bytes back in order');
  assert.ok(readFileSync(w.direct.path).equals(body), 'the file holds the bytes in order');
  const info = await w.commit(`sha256:${expected}`);
  assert.equal(info.size, body.length);
  assert.ok(readFileSync(store.pathOf(`sha256:${expected}`)).equals(body));
});

test('bytes gone from the file before the hash read them: no digest, and the upload fails', async () => {
  const writer = store.createWriter('sha256:unknown');
  const ingest = new Ingest(writer, pool.startStream(), () => undefined);
  const w = await writer;
  await Promise.resolve();
  ingest.push(new ArrayBuffer(2 * MiB));
  // Under the hash's step: nothing was handed to the hash yet. The file loses its second MiB.
  truncateSync(w.direct!.path, MiB);
  await assert.rejects(ingest.finish(), /ends at byte 1048576/);
  await w.abort();
});

test('while the file is written back, chunks take the shared buffers; then straight again; the bytes stay in order', async () => {
  const body = Buffer.from(Array.from({ length: 70 * MiB + 77 }, (_, i) => (i * 13 + (i >> 18)) % 256));
  const writer = store.createWriter('sha256:unknown');
  const ingest = new Ingest(writer, pool.startStream(), () => undefined);
  const w = await writer;
  await Promise.resolve();
  const step = 65_536;
  let at = 0;
  // Past 64 MiB written the store starts a write-back (fdatasync on the threadpool): still under
  // way during these synchronous pushes.
  for (; at < 66 * MiB; at += step) ingest.push(arrayBufferOf(body.subarray(at, at + step)));
  assert.ok(w.direct!.writingBack, 'a write-back is under way');
  assert.ok(ingestBuffers().inUse > 0, 'chunks during the write-back went to shared buffers');
  await waitFor(() => ingestBuffers().inUse === 0 && !w.direct!.writingBack, 30_000, 'write-back done and the buffered chunks written');
  ingest.push(arrayBufferOf(body.subarray(at, at + step)));
  at += step;
  assert.equal(ingestBuffers().inUse, 0, 'straight into the file again');
  for (; at < body.length; at += step) ingest.push(arrayBufferOf(body.subarray(at, at + step)));
  const done = await ingest.finish();
  const expected = createHash('sha256').update(body).digest('hex');
  assert.equal(done.hash?.hex, expected);
  assert.ok(readFileSync(w.direct!.path).equals(body));
  await w.abort();
});
