// Windows (src/http/mapped-windows.ts): downloads of one file share its windows, whichever
// descriptor they opened it with, and a window nobody uses is emptied once its linger is over.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { MAPPED_RANGE_ADDON } from '../src/http/mapped-source.js';
import type { MappedRangeAddon } from '../src/http/mapped-slots.js';
import { Windows } from '../src/http/mapped-windows.js';

const MiB = 1024 * 1024;
let addon: MappedRangeAddon | null = null;
try {
  addon = createRequire(import.meta.url)(MAPPED_RANGE_ADDON) as MappedRangeAddon;
} catch {
  // test/range-source.test.ts fails when the addon is not built; here its tests are skipped by name.
}

describe('mapped windows', { skip: addon ? false : 'the native addon is not built' }, () => {
  let dir: string;
  let path: string;
  const bytes = randomBytes(3 * MiB + 5000);

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'mapped-windows-'));
    path = join(dir, 'blob');
    writeFileSync(path, bytes);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('two downloads of one file share its windows; unused windows are emptied after the linger', async () => {
    const windows = new Windows(addon!, { size: 1 * MiB, lingerMs: 0, chunk: 1 * MiB, coldChunk: 256 * 1024 });
    const first = await open(path, 'r');
    const second = await open(path, 'r');
    try {
      const a = windows.source(first.fd, bytes.length, bytes.length);
      const b = windows.source(second.fd, bytes.length, bytes.length);
      const chunkA = await a.fetch(0, 100, 64 * 1024);
      const chunkB = await b.fetch(0, 200_000, 64 * 1024);
      assert.equal(windows.mapped, 1, 'both chunks lie in the first window, mapped once');
      assert.ok(chunkA.equals(bytes.subarray(100, 100 + 64 * 1024)));
      assert.ok(chunkB.equals(bytes.subarray(200_000, 200_000 + 64 * 1024)));
      const last = await b.fetch(1, 3 * MiB + 10, 1 * MiB);
      assert.equal(last.length, 4990, 'the last chunk ends at the end of the file');
      assert.ok(last.equals(bytes.subarray(3 * MiB + 10)));
      assert.equal(windows.mapped, 2);
      a.close();
      b.close();
      await sleep(20);
      assert.equal(windows.mapped, 0, 'no window is kept once nobody uses it and the linger is over');
      const again = windows.source(first.fd, bytes.length, bytes.length);
      assert.ok((await again.fetch(0, 2 * MiB, 1 * MiB)).equals(bytes.subarray(2 * MiB, 3 * MiB)));
      again.close();
    } finally {
      await first.close();
      await second.close();
    }
  });

  test('a window still in use is not emptied by another download ending', async () => {
    const windows = new Windows(addon!, { size: 1 * MiB, lingerMs: 0, chunk: 1 * MiB, coldChunk: 256 * 1024 });
    const handle = await open(path, 'r');
    try {
      const staying = windows.source(handle.fd, bytes.length, bytes.length);
      const leaving = windows.source(handle.fd, bytes.length, bytes.length);
      const kept = await staying.fetch(0, 0, 1 * MiB);
      await leaving.fetch(0, 0, 1 * MiB);
      leaving.close();
      await sleep(20);
      assert.equal(windows.mapped, 1);
      assert.ok(kept.equals(bytes.subarray(0, 1 * MiB)), 'the chunk still reads as the file');
      staying.close();
    } finally {
      await handle.close();
    }
  });
  test('a chunk whose pages are all cached is a whole chunk; one with a page not cached is cut to coldChunk and read in first', async () => {
    // Node cannot evict pages, so the cold disk is the real addon answering "not all cached" (the
    // one fault a real file cannot be made to show here); what is served is still the file's bytes.
    let cold = false;
    const populated: number[] = [];
    // The addon's exports are read-only and not enumerable: the wrapper inherits them and defines its two own.
    const reporting = Object.create(addon!, {
      cached: { value: (fd: number, offset: number, length: number) => !cold && addon!.cached(fd, offset, length) },
      populate: {
        value: (slot: ArrayBuffer, offset: number, length: number) => {
          populated.push(length);
          return addon!.populate(slot, offset, length);
        },
      },
    }) as MappedRangeAddon;
    const windows = new Windows(reporting, { size: 2 * MiB, lingerMs: 0, chunk: 1 * MiB, coldChunk: 256 * 1024 });
    const handle = await open(path, 'r');
    try {
      const source = windows.source(handle.fd, bytes.length, bytes.length);
      assert.equal(source.chunkSize, 1 * MiB);
      const warm = await source.fetch(0, 0, 1 * MiB);
      assert.equal(warm.length, 1 * MiB, 'cached pages: the whole chunk');
      assert.ok(warm.equals(bytes.subarray(0, 1 * MiB)));
      assert.deepEqual(populated, [], 'nothing read in for cached pages');
      cold = true;
      const cut = await source.fetch(1, 1 * MiB, 1 * MiB);
      assert.equal(cut.length, 256 * 1024, 'a page not cached: only coldChunk bytes');
      assert.ok(cut.equals(bytes.subarray(1 * MiB, 1 * MiB + 256 * 1024)));
      assert.deepEqual(populated, [256 * 1024], 'read in before it is handed out, no more than the cut chunk');
      source.close();
    } finally {
      await handle.close();
    }
  });
});
