// The upload path's shared buffers after aborted uploads, with the real hashing threads: every
// buffer comes back to the pool (the aborted hash acknowledges what it took), the pool stays
// bounded, and later aborted uploads reuse it instead of allocating (a buffer left to the
// garbage collector stays pinned by the hashing thread's heap: that was RSS growing by about
// 1 MiB per aborted upload). The RSS figure itself is in the bench (`npm run bench -- aborts`).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { HashPool } from '../src/blobs/hash-pool.js';
import { type ChunkSink, Ingest, ingestBuffers } from '../src/blobs/ingest.js';
import { waitFor } from './harness/http.js';

const MiB = 1024 * 1024;
let pool: HashPool;

before(() => {
  pool = new HashPool(2);
});
after(async () => {
  await pool.close();
});

function sink(): ChunkSink {
  return {
    bytesWritten: 0,
    async write(chunk: Buffer) {
      (this as { bytesWritten: number }).bytesWritten += chunk.length;
    },
  };
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
    await Promise.all(batch.map((i) => i.stop()));
    // As the server's uploads are paced by backpressure, the next batch starts once the hashing
    // threads have let go of this one's buffers.
    await waitFor(() => ingestBuffers().inUse === 0, 30_000, 'every buffer back in the pool');
  }
}

test('aborted uploads give every buffer back; the pool stays bounded and is reused, not reallocated', async () => {
  // Many at once: more buffers than the pool keeps.
  await abortedUploads(300, 300, 2.5 * MiB);
  const first = ingestBuffers();
  assert.ok(first.idle <= 128, `the pool keeps at most 128 idle buffers, has ${first.idle}`);
  // A thousand more aborted uploads, a few at a time: served from the pool, nothing allocated.
  await abortedUploads(1000, 16, 2.5 * MiB);
  const second = ingestBuffers();
  assert.equal(second.inUse, 0);
  assert.equal(second.allocated, first.allocated, 'no new buffers for uploads the pool can serve');
});

test('a completed upload after the aborted ones hashes correctly from reused buffers', async () => {
  const bytes = Buffer.alloc(3 * MiB + 123, 7);
  const target = sink();
  const ingest = new Ingest(Promise.resolve(target), pool.startStream(), () => undefined);
  ingest.push(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
  const done = await ingest.finish();
  const { createHash } = await import('node:crypto');
  assert.equal(done.hash?.hex, createHash('sha256').update(bytes).digest('hex'));
  assert.equal(done.size, bytes.length);
});
