// The push's hashing thread (FileHasher): blocking reads on the thread that hashes them, in slices
// between which it looks at its messages. The digest must be the file's whatever its size against
// the read and slice sizes, progress must add up to the size, and a cancel must reach a hash in
// the middle of a large file and leave the thread usable.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { FileHasher } from '../src/cli/push/file-hasher.js';
import { sha256FileBlocking } from '../src/cli/push/sha256-file-blocking.js';
import { scratchFolder } from './harness/cli.js';

const MiB = 1024 * 1024;
const scratch = scratchFolder('push-hasher');

async function fileOf(dir: string, name: string, bytes: Buffer): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, bytes);
  return path;
}

test('the digest and size of files smaller than one read, of none, and past several slices with a ragged end', async () => {
  const dir = await scratch.fresh('digests');
  const hasher = new FileHasher();
  try {
    for (const size of [0, 1, 512 * 1024 - 1, 512 * 1024 + 1, 70 * MiB + 12345]) {
      const bytes = randomBytes(size);
      const path = await fileOf(dir, `f${size}`, bytes);
      let reported = 0;
      const hash = await hasher.hash(path, (n) => {
        reported += n;
      });
      assert.equal(hash.hex, createHash('sha256').update(bytes).digest('hex'), `digest of ${size} bytes`);
      assert.equal(hash.size, size);
      assert.equal(reported, size, `progress of ${size} bytes adds up`);
    }
  } finally {
    await hasher.close();
  }
});

test('a cancelled hash stops part way through a large file; the thread then hashes the next file', async () => {
  const dir = await scratch.fresh('cancel');
  const size = 256 * MiB;
  const large = await fileOf(dir, 'large', randomBytes(size));
  // The loop the thread runs: it must see the cancel between slices, not only at the end.
  const stop = new AbortController();
  let reported = 0;
  const hashing = sha256FileBlocking(
    large,
    (n) => {
      reported += n;
      stop.abort(new Error('stopped by the test'));
    },
    stop.signal,
  );
  await assert.rejects(hashing, /stopped by the test/);
  assert.ok(reported > 0 && reported < size, `stopped after ${reported} of ${size} bytes`);

  // Through the thread: the cancelled hash is answered at once, and the next one is right.
  const small = randomBytes(3 * MiB);
  const smallPath = await fileOf(dir, 'small', small);
  const hasher = new FileHasher();
  try {
    const cancel = new AbortController();
    const cancelled = hasher.hash(large, () => cancel.abort(new Error('cancelled')), cancel.signal);
    await assert.rejects(cancelled, /cancelled/);
    const next = await hasher.hash(smallPath);
    assert.equal(next.hex, createHash('sha256').update(small).digest('hex'));
  } finally {
    await hasher.close();
  }
});
