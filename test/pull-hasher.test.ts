// The pull's in-order hash (PrefixHasher): bytes that arrive before the hashing thread runs are not
// queued in a receive ring (a full ring would stop the download until the thread is up); they are
// read back from the file, and the bytes after them are hashed from the ring, all in one digest.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { PrefixHasher } from '../src/cli/pull/prefix-hasher.js';
import type { ReceiveRing } from '../src/cli/pull/receive-ring.js';
import { scratchFolder } from './harness/cli.js';

const MiB = 1024 * 1024;
const scratch = scratchFolder('pull-hasher');

/** Copies `bytes` into the ring's next read region, as a socket read would; returns the view. */
function land(ring: ReceiveRing, bytes: Buffer): Buffer {
  const region = ring.next();
  bytes.copy(region);
  ring.filled(bytes.length);
  return region;
}

test('bytes received before the hashing thread runs are read back from the file; later ones are hashed from the ring', async () => {
  const dir = await scratch.fresh('early-bytes');
  const content = randomBytes(3 * MiB);
  const path = join(dir, 'partial');
  // The file holds every byte already: the bytes a connection wrote before handing them over.
  await writeFile(path, content);
  const hasher = new PrefixHasher();
  try {
    const ring = hasher.ring();
    const file = hasher.open(path, content.length);

    const first = content.subarray(0, MiB);
    assert.equal(file.receive(land(ring, first), 0, first.length), false, 'the thread cannot be running yet');
    file.grow(MiB);

    const second = content.subarray(MiB, 2 * MiB);
    const view = land(ring, second);
    await hasher.whenRunning;
    assert.equal(file.receive(view, 0, second.length), true, 'queued once the thread runs');

    file.grow(content.length);
    hasher.flush();
    assert.equal(await file.digest, createHash('sha256').update(content).digest('hex'));
  } finally {
    await hasher.close();
  }
});
