// The behaviours every BlobStore passes, as a function a new store's test calls with a way to
// open it: exact bytes under exactly their digest, streamed writes that commit completely or
// leave nothing, positional reads, listing and removal.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { BlobReader, BlobStore } from '../../src/blobs/blob-store.js';
import { sha256 } from '../harness/http.js';

export const MiB = 1024 * 1024;
/** Parts are 5 MiB in the S3 subjects, so this blob spans three parts with an odd tail. */
const LARGE = 12 * MiB + 12_345;

export interface Subject {
  name: string;
  /** Whether the store knows a blob it holds without waiting (BlobStore.statNow): bytes on this node. */
  answersAtOnce: boolean;
  open(dir: string): Promise<BlobStore>;
}

/** Writes like the upload path does: fixed-size chunks whose buffers are reused (here: wiped) once `write` returns. */
async function put(store: BlobStore, bytes: Buffer, chunk = MiB): Promise<string> {
  const digest = sha256(bytes);
  const writer = await store.createWriter(digest);
  for (let at = 0; at < bytes.length; at += chunk) {
    const piece = Buffer.from(bytes.subarray(at, at + chunk));
    await writer.write(piece);
    piece.fill(0xee);
  }
  assert.equal(writer.bytesWritten, bytes.length);
  const info = await writer.commit(digest);
  assert.equal(info.digest, digest);
  assert.equal(info.size, bytes.length);
  return digest;
}

async function readRange(reader: BlobReader, position: number, length: number, chunk = 256 * 1024): Promise<Buffer> {
  const out = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const n = await reader.read(out, done, Math.min(chunk, length - done), position + done);
    assert.ok(n > 0, `read at ${position + done} returned ${n}`);
    done += n;
  }
  return out;
}

async function readAll(store: BlobStore, digest: string): Promise<Buffer> {
  const reader = await store.open(digest);
  assert.ok(reader, `open(${digest}) returned null`);
  try {
    return await readRange(reader, 0, reader.size);
  } finally {
    await reader.close();
  }
}

async function listed(store: BlobStore): Promise<Map<string, number>> {
  const found = new Map<string, number>();
  for await (const info of store.list()) found.set(info.digest, info.size);
  return found;
}

export function blobStoreConformance(subject: Subject): void {
  describe(`BlobStore conformance: ${subject.name}`, () => {
    let dir: string;
    let store: BlobStore;
    const committed = new Map<string, number>();
    let aborted = '';

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'modelgate-conformance-'));
      store = await subject.open(dir);
    });
    after(async () => {
      await store?.close();
      await rm(dir, { recursive: true, force: true });
    });

    test('a small blob round-trips: commit, stat, open, ranged reads byte-exact', async () => {
      const bytes = randomBytes(100_000);
      const digest = await put(store, bytes, 30_000);
      committed.set(digest, bytes.length);
      const info = await store.stat(digest);
      assert.equal(info?.size, bytes.length);
      assert.equal(typeof info?.modifiedAt, 'number');
      assert.ok(Math.abs(info!.modifiedAt! - Date.now()) < 60_000, 'modifiedAt is a recent time in ms');
      const reader = await store.open(digest);
      assert.ok(reader);
      try {
        assert.equal(reader.size, bytes.length);
        // Out of order on purpose: a reader is positional, not a stream.
        for (const [start, length] of [
          [50_000, 10_000],
          [0, 1],
          [99_999, 1],
          [0, 100_000],
          [12_345, 54_321],
        ] as const) {
          assert.deepEqual(await readRange(reader, start, length), bytes.subarray(start, start + length), `bytes ${start}+${length}`);
        }
        const buf = Buffer.alloc(10);
        assert.equal(await reader.read(buf, 0, 10, bytes.length), 0, 'a read at the end returns 0');
        assert.equal(await reader.read(buf, 0, 10, bytes.length - 4), 4, 'a read past the end is clamped');
        assert.deepEqual(buf.subarray(0, 4), bytes.subarray(bytes.length - 4));
      } finally {
        await reader.close();
      }
    });

    test('an empty blob round-trips', async () => {
      const digest = await put(store, Buffer.alloc(0));
      committed.set(digest, 0);
      assert.equal((await store.stat(digest))?.size, 0);
      const reader = await store.open(digest);
      assert.ok(reader);
      assert.equal(reader.size, 0);
      assert.equal(await reader.read(Buffer.alloc(8), 0, 8, 0), 0);
      await reader.close();
    });

    test('a few-MiB blob across part boundaries reads back byte-exact, whole and in ranges', async () => {
      const bytes = randomBytes(LARGE);
      const digest = await put(store, bytes);
      committed.set(digest, bytes.length);
      assert.equal((await store.stat(digest))?.size, LARGE);
      assert.ok((await readAll(store, digest)).equals(bytes), 'whole blob');
      const reader = (await store.open(digest))!;
      try {
        const boundary = 5 * MiB;
        for (const [start, length] of [
          [boundary - 100, 200],
          [2 * boundary - 1, 2],
          [LARGE - 1000, 1000],
          [3 * MiB, 4 * MiB],
          [0, 10],
        ] as const) {
          assert.ok(
            (await readRange(reader, start, length, 64 * 1024)).equals(bytes.subarray(start, start + length)),
            `bytes ${start}+${length}`,
          );
        }
      } finally {
        await reader.close();
      }
    });

    test('abort leaves nothing behind (after a multipart upload started, too), and is safe to repeat', async () => {
      const bytes = randomBytes(6 * MiB);
      aborted = sha256(bytes);
      const writer = await store.createWriter(aborted);
      for (let at = 0; at < bytes.length; at += MiB) await writer.write(bytes.subarray(at, at + MiB));
      await writer.abort();
      await writer.abort();
      assert.equal(await store.stat(aborted), null);
      assert.equal(await store.open(aborted), null);
      assert.ok(!(await listed(store)).has(aborted));
      const small = await store.createWriter(sha256(Buffer.from('never committed')));
      await small.write(Buffer.from('never committed'));
      await small.abort();
      assert.equal(await store.stat(sha256(Buffer.from('never committed'))), null);
    });

    test('committing a blob that already exists keeps one copy and marks it freshly written', async () => {
      const bytes = randomBytes(3000);
      const digest = await put(store, bytes);
      committed.set(digest, bytes.length);
      const first = (await store.stat(digest))!.modifiedAt!;
      await new Promise((r) => setTimeout(r, 1100)); // S3 keeps LastModified in whole seconds
      const again = await put(store, bytes);
      assert.equal(again, digest);
      const info = await store.stat(digest);
      assert.equal(info?.size, bytes.length);
      assert.ok(info!.modifiedAt! > first, `modifiedAt moved on (${first} → ${info!.modifiedAt})`);
      assert.ok((await readAll(store, digest)).equals(bytes));
      const big = randomBytes(LARGE);
      const bigDigest = await put(store, big);
      committed.set(bigDigest, LARGE);
      assert.equal(await put(store, big), bigDigest, 'a multipart re-upload of an existing blob commits too');
      assert.ok((await readAll(store, bigDigest)).equals(big));
    });

    test('refresh marks a stored blob freshly written at its own size only, and finds nothing where there is nothing', async () => {
      const bytes = randomBytes(4000);
      const digest = await put(store, bytes);
      committed.set(digest, bytes.length);
      const first = (await store.stat(digest))!.modifiedAt!;
      await new Promise((r) => setTimeout(r, 1100)); // S3 keeps LastModified in whole seconds
      const refreshed = await store.refresh(digest, bytes.length);
      assert.equal(refreshed?.digest, digest);
      assert.equal(refreshed?.size, bytes.length);
      const info = await store.stat(digest);
      assert.ok(info!.modifiedAt! > first, `modifiedAt moved on (${first} → ${info!.modifiedAt})`);
      assert.equal(await store.refresh(digest, bytes.length + 1), null, 'another size is not this blob');
      assert.ok((await readAll(store, digest)).equals(bytes), 'a refresh changes no byte, whatever the size asked');
      assert.equal(await store.refresh(sha256(Buffer.from('never stored, never refreshed')), 10), null);
      const gone = await put(store, randomBytes(100));
      assert.equal(await store.delete(gone), true);
      assert.equal(await store.refresh(gone, 100), null, 'a deleted blob is not brought back');
      assert.equal(await store.stat(gone), null);
    });

    test('ingestFile moves a verified local file in (small and multi-part) and removes the local copy', async () => {
      for (const size of [5000, LARGE]) {
        const bytes = randomBytes(size);
        const digest = sha256(bytes);
        const path = join(dir, `ingest-${size}`);
        await writeFile(path, bytes);
        const info = await store.ingestFile(path, digest);
        committed.set(digest, size);
        assert.equal(info.digest, digest);
        assert.equal(info.size, size);
        await assert.rejects(stat(path), { code: 'ENOENT' });
        assert.equal((await store.stat(digest))?.size, size);
        assert.ok((await readAll(store, digest)).equals(bytes));
        // Ingesting bytes the store already has is fine too.
        await writeFile(path, bytes);
        assert.equal((await store.ingestFile(path, digest)).size, size);
        await assert.rejects(stat(path), { code: 'ENOENT' });
      }
    });

    test('list yields every committed blob with its size and nothing else', async () => {
      const found = await listed(store);
      assert.deepEqual(new Map([...found].sort()), new Map([...committed].sort()));
      assert.ok(!found.has(aborted));
    });

    test('statNow, where a store has it, agrees with stat: present, missing, after delete', async () => {
      const bytes = randomBytes(5000);
      const digest = await put(store, bytes);
      assert.ok((await readAll(store, digest)).equals(bytes)); // a cache now holds a copy too
      if (!subject.answersAtOnce) {
        assert.equal(store.statNow?.(digest), undefined, 'a store that must ask a remote cannot answer at once');
        return;
      }
      assert.ok(store.statNow, 'a store that holds blobs on this node answers at once');
      const now = store.statNow(digest);
      assert.ok(now, 'a blob this node holds is known at once');
      assert.equal(now.size, bytes.length);
      assert.equal(now.modifiedAt, (await store.stat(digest))!.modifiedAt);
      const missing = sha256(Buffer.from('never stored, never asked'));
      assert.ok(store.statNow(missing) === null || store.statNow(missing) === undefined, 'a missing blob is never reported present');
      assert.equal(await store.delete(digest), true);
      assert.ok(!store.statNow(digest), 'a deleted blob is not reported present');
    });

    test('a missing blob: stat and open return null, delete returns false', async () => {
      const missing = sha256(Buffer.from('not stored anywhere'));
      assert.equal(await store.stat(missing), null);
      assert.equal(await store.open(missing), null);
      assert.equal(await store.delete(missing), false);
    });

    test('delete removes a blob; with notModifiedSince it spares a blob written after that time', async () => {
      const bytes = randomBytes(2000);
      const digest = await put(store, bytes);
      assert.ok((await readAll(store, digest)).equals(bytes)); // a cache now holds a copy too
      const modifiedAt = (await store.stat(digest))!.modifiedAt!;
      assert.equal(await store.delete(digest, modifiedAt - 10_000), false, 'written after the cutoff: kept');
      assert.ok((await readAll(store, digest)).equals(bytes));
      assert.equal(await store.delete(digest, Date.now() + 10_000), true);
      assert.equal(await store.stat(digest), null);
      assert.equal(await store.open(digest), null);
      assert.equal(await store.delete(digest), false);

      const plain = await put(store, randomBytes(10));
      assert.equal(await store.delete(plain), true);
      assert.equal(await store.stat(plain), null);
      assert.ok(!(await listed(store)).has(plain));
    });

    test('a reader holding a local file reads the blob whole after a delete, and closes', async () => {
      const bytes = randomBytes(300_000);
      const digest = await put(store, bytes);
      const reader = await store.open(digest);
      assert.ok(reader);
      if (reader.fd === undefined) {
        // A remote store's reader fetches on demand; only a local file's descriptor keeps the bytes.
        await reader.close();
        assert.equal(await store.delete(digest), true);
        return;
      }
      try {
        assert.equal(await store.delete(digest), true);
        assert.equal(await store.open(digest), null, 'gone for new readers');
        assert.deepEqual(await readRange(reader, 0, bytes.length), bytes, 'the open reader still has every byte');
      } finally {
        await reader.close();
      }
      const again = await put(store, bytes);
      const fresh = await store.open(again);
      assert.ok(fresh);
      assert.deepEqual(await readRange(fresh, 0, bytes.length), bytes);
      await fresh.close();
      assert.equal(await store.delete(again), true);
    });

    test('quarantine moves a blob out of its place (it reads as missing) and spares one written after the cutoff', async () => {
      const bytes = randomBytes(3000);
      const digest = await put(store, bytes);
      assert.ok((await readAll(store, digest)).equals(bytes)); // a cache now holds a copy too
      const modifiedAt = (await store.stat(digest))!.modifiedAt!;
      assert.equal(await store.quarantine(digest, modifiedAt - 10_000), false, 'written after the cutoff: kept');
      assert.ok((await readAll(store, digest)).equals(bytes));
      assert.equal(await store.quarantine(digest, Date.now() + 10_000), true);
      assert.equal(await store.stat(digest), null);
      assert.equal(await store.open(digest), null);
      assert.ok(!(await listed(store)).has(digest), 'a quarantined blob is not listed as a blob');
      assert.equal(await store.quarantine(digest, Date.now() + 10_000), false, 'nothing left to move');
      // The next upload stores it again.
      assert.equal(await put(store, bytes), digest);
      assert.ok((await readAll(store, digest)).equals(bytes));
    });

    test('concurrent writers of the same digest both commit and leave one intact blob', async () => {
      const bytes = randomBytes(LARGE);
      const digest = sha256(bytes);
      const writers = await Promise.all([store.createWriter(digest), store.createWriter(digest)]);
      for (let at = 0; at < bytes.length; at += MiB) {
        await Promise.all(writers.map((w) => w.write(bytes.subarray(at, at + MiB))));
      }
      const infos = await Promise.all(writers.map((w) => w.commit(digest)));
      for (const info of infos) assert.equal(info.size, LARGE);
      assert.equal((await store.stat(digest))?.size, LARGE);
      assert.ok((await readAll(store, digest)).equals(bytes));
      const found = await listed(store);
      assert.equal(found.get(digest), LARGE);
      await store.delete(digest);
    });
  });
}
