// The upload path's shared buffers after aborted uploads, with the real hashing threads: every
// buffer comes back to the pool (the aborted hash acknowledges what it took), no more than
// MAX_SHARED_BUFFERS are ever allocated however many uploads arrive at once, and later aborted
// uploads reuse them instead of allocating (a shared buffer left to the garbage collector stays
// pinned by the hashing thread's heap: that was RSS growing by about 1 MiB per aborted upload,
// and, from buffers the pool dropped after peaks, 457 MB of array buffers under load). The RSS
// figure itself is in the bench (`node dist/bench/run.js aborts`).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, test } from 'node:test';
import { HashPool } from '../src/blobs/hash-pool.js';
import { type ChunkSink, Ingest, ingestBuffers } from '../src/blobs/ingest.js';
import { waitFor } from './harness/http.js';

const MiB = 1024 * 1024;
/** The pool's bound (ingest.ts MAX_SHARED_BUFFERS), written out so that a change to it is seen here. */
const MAX_SHARED = 128;
let pool: HashPool;

before(() => {
  pool = new HashPool(2);
});
after(async () => {
  await pool.close();
});

/** A sink that keeps a hash of what it was given (and nothing else). */
function sink(): ChunkSink & { sha: ReturnType<typeof createHash> } {
  return {
    bytesWritten: 0,
    sha: createHash('sha256'),
    async write(chunk: Buffer) {
      this.sha.update(chunk);
      (this as { bytesWritten: number }).bytesWritten += chunk.length;
    },
  };
}

function arrayBufferOf(bytes: Buffer): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length) as ArrayBuffer;
}

/** `count` uploads that each receive `bytes` and are then aborted, `parallel` at a time. */
async function abortedUploads(count: number, parallel: number, bytes: number): Promise<void> {
  const body = new ArrayBuffer(bytes);
  for (let at = 0; at < count; at += parallel) {
    const batch = Array.from({ length: Math.min(parallel, count - at) }, () => {
      const ingest = new Ingest(Promise.resolve(sink()), pool.startStream(), () => undefined);
      ingest.push(body);
      return ingest;
    });
    assert.ok(ingestBuffers().allocated <= MAX_SHARED, `at most ${MAX_SHARED} shared buffers, ${ingestBuffers().allocated} allocated`);
    await Promise.all(batch.map((i) => i.stop()));
    assert.equal(ingestBuffers().waitingBytes, 0, 'a stopped upload drops the bytes it had waiting');
    // As the server's uploads are paced by backpressure, the next batch starts once the hashing
    // threads have let go of this one's buffers.
    await waitFor(() => ingestBuffers().inUse === 0, 30_000, 'every buffer back in the pool');
  }
}

test('aborted uploads give every buffer back; at most 128 shared buffers are ever allocated, and reused', async () => {
  // Many at once, far more than the pool holds (each takes three buffers): before the bound, the
  // pool allocated one for each and dropped what it could not keep.
  await abortedUploads(300, 300, 2.5 * MiB);
  const first = ingestBuffers();
  assert.ok(first.allocated <= MAX_SHARED, `at most ${MAX_SHARED} shared buffers, ${first.allocated} allocated`);
  assert.equal(first.idle, first.allocated, 'every allocated buffer is back in the pool');
  // A thousand more aborted uploads: served from the pool, nothing allocated.
  await abortedUploads(1000, 16, 2.5 * MiB);
  await abortedUploads(200, 200, 2.5 * MiB);
  const second = ingestBuffers();
  assert.equal(second.inUse, 0);
  assert.equal(second.allocated, first.allocated, 'no new buffers for uploads the pool can serve');
});

test('uploads that arrive while every shared buffer is out wait, paused, and complete with the right bytes and hash', async () => {
  // 100 uploads of 2.5 MiB at once need about 300 buffers: most of their bytes wait in ordinary memory.
  const bodies = Array.from({ length: 100 }, (_, i) => Buffer.alloc(2.5 * MiB + i * 4099, (i * 37) % 251));
  const paused: boolean[] = [];
  const targets = bodies.map(() => sink());
  const ingests = bodies.map((body, i) => {
    const ingest = new Ingest(Promise.resolve(targets[i]!), pool.startStream(), (p) => (paused[i] = p));
    ingest.push(arrayBufferOf(body));
    return ingest;
  });
  const during = ingestBuffers();
  assert.ok(during.allocated <= MAX_SHARED, `at most ${MAX_SHARED} shared buffers, ${during.allocated} allocated`);
  assert.ok(during.waitingBytes > 0, 'bytes beyond the pool wait');
  const waitingUploads = paused.filter((p) => p).length;
  assert.ok(waitingUploads > 0, 'uploads with bytes waiting are paused');
  const done = await Promise.all(ingests.map((i) => i.finish()));
  for (const [i, body] of bodies.entries()) {
    const expected = createHash('sha256').update(body).digest('hex');
    assert.equal(done[i]!.size, body.length);
    assert.equal(done[i]!.hash?.hex, expected, `upload ${i}: the hashing thread saw the bytes in order`);
    assert.equal(targets[i]!.sha.digest('hex'), expected, `upload ${i}: the sink got the bytes in order`);
  }
  await waitFor(() => ingestBuffers().inUse === 0, 30_000, 'every buffer back in the pool');
  const settled = ingestBuffers();
  assert.equal(settled.waitingBytes, 0);
  assert.ok(settled.allocated <= MAX_SHARED);
});

test('bytes pushed after some already wait keep their order behind them', async () => {
  // Hold every shared buffer with uploads that are not finished, then feed one more upload in
  // several pieces: all of it waits, and it comes out in order once the others let go.
  const holders = Array.from({ length: 60 }, () => new Ingest(Promise.resolve(sink()), pool.startStream(), () => undefined));
  for (const h of holders) h.push(new ArrayBuffer(3 * MiB));
  const body = Buffer.from(Array.from({ length: 3 * MiB + 5 }, (_, i) => (i * 7 + (i >> 20)) % 256));
  const target = sink();
  const late = new Ingest(Promise.resolve(target), pool.startStream(), () => undefined);
  for (let at = 0; at < body.length; at += 700 * 1024) late.push(arrayBufferOf(body.subarray(at, at + 700 * 1024)));
  await Promise.all(holders.map((h) => h.stop()));
  const done = await late.finish();
  const expected = createHash('sha256').update(body).digest('hex');
  assert.equal(done.hash?.hex, expected);
  assert.equal(target.sha.digest('hex'), expected);
  await waitFor(() => ingestBuffers().inUse === 0, 30_000, 'every buffer back in the pool');
});

test('a completed upload after the aborted ones hashes correctly from reused buffers', async () => {
  const bytes = Buffer.alloc(3 * MiB + 123, 7);
  const target = sink();
  const ingest = new Ingest(Promise.resolve(target), pool.startStream(), () => undefined);
  ingest.push(arrayBufferOf(bytes));
  const done = await ingest.finish();
  assert.equal(done.hash?.hex, createHash('sha256').update(bytes).digest('hex'));
  assert.equal(done.size, bytes.length);
});

test('aborted hashes whose tasks the pool ends at close raise no unhandled rejection', async () => {
  // Nobody awaits an aborted hash's task; when the pool closed under it (shutdown, or a test's
  // after hook under load), its rejection went unhandled (20 of 20 here before).
  let unhandled = 0;
  const count = () => unhandled++;
  process.on('unhandledRejection', count);
  try {
    const own = new HashPool(1);
    const buffer = Buffer.from(new SharedArrayBuffer(MiB));
    for (let i = 0; i < 20; i++) {
      const hash = own.startStream();
      hash.update(buffer, () => undefined);
      hash.abort();
    }
    await own.close();
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(unhandled, 0);
  } finally {
    process.off('unhandledRejection', count);
  }
});
