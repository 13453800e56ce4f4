// The RangeSource contract (src/http/range-source.ts), run against every implementation by
// test/range-source.test.ts: the bytes of any range, in chunks alternating between two slots that
// stay valid side by side, never past the range's end, and slots reusable once a source is closed.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { BlobReader } from '../../src/blobs/blob-store.js';
import type { RangeSourceKind, Slot } from '../../src/http/range-source.js';

export interface RangeSourceSubject {
  name: string;
  kind(): RangeSourceKind;
}

const KiB = 1024;
const MiB = 1024 * KiB;

/** A reader over a local file, the way the disk store's is (with its fd). */
async function fileReader(path: string, size: number): Promise<BlobReader & { handle: FileHandle }> {
  const handle = await open(path, 'r');
  return {
    handle,
    size,
    fd: handle.fd,
    read: async (buffer, offset, length, position) => (await handle.read(buffer, offset, length, position)).bytesRead,
    close: () => handle.close(),
  };
}

export function rangeSourceConformance(subject: RangeSourceSubject): void {
  describe(`RangeSource conformance: ${subject.name}`, () => {
    let dir: string;
    // Not a whole number of pages, so the last chunk ends inside a page.
    const bytes = randomBytes(5 * MiB + 12_345);
    const other = randomBytes(3 * MiB + 7);
    let path: string;
    let otherPath: string;

    before(() => {
      dir = mkdtempSync(join(tmpdir(), 'range-source-'));
      path = join(dir, 'blob');
      otherPath = join(dir, 'other');
      writeFileSync(path, bytes);
      writeFileSync(otherPath, other);
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    /** Fetches [start, end) in chunks of `size`, alternating slots, and returns them joined. */
    async function collect(
      source: { fetch(slot: Slot, position: number, size: number): Promise<Buffer> },
      start: number,
      end: number,
      size: number,
    ): Promise<Buffer> {
      const parts: Buffer[] = [];
      let slot: Slot = 0;
      for (let at = start; at < end; ) {
        const chunk = await source.fetch(slot, at, size);
        assert.ok(chunk.length > 0, `an empty chunk at ${at} before the end ${end}`);
        assert.ok(chunk.length <= size, `a chunk of ${chunk.length} bytes for a size of ${size}`);
        parts.push(Buffer.from(chunk));
        at += chunk.length;
        assert.ok(at <= end, `a chunk ran past the range's end (${at} > ${end})`);
        slot = slot === 0 ? 1 : 0;
      }
      return Buffer.concat(parts);
    }

    for (const [label, start, end, size] of [
      ['the whole blob in 256 KiB chunks', 0, 5 * MiB + 12_345, 256 * KiB],
      ['the whole blob in 2 MiB chunks', 0, 5 * MiB + 12_345, 2 * MiB],
      ['a range from inside a page to inside another', 4097, 3 * MiB + 100, 1 * MiB],
      ['one byte at the end', 5 * MiB + 12_344, 5 * MiB + 12_345, 256 * KiB],
      ['one byte at the start', 0, 1, 256 * KiB],
    ] as const) {
      test(`serves ${label}`, async () => {
        const reader = await fileReader(path, bytes.length);
        const source = subject.kind().open(reader, start, end);
        assert.ok(source, 'the source serves a local file');
        try {
          const got = await collect(source, start, end, size);
          assert.ok(got.equals(bytes.subarray(start, end)), 'the bytes differ from the file');
        } finally {
          source.close();
          await reader.close();
        }
      });
    }

    test("keeps one slot's chunk intact while the other slot is fetched", async () => {
      const reader = await fileReader(path, bytes.length);
      const source = subject.kind().open(reader, 0, bytes.length)!;
      try {
        const first = await source.fetch(0, 0, 1 * MiB);
        const second = await source.fetch(1, first.length, 1 * MiB);
        assert.ok(first.equals(bytes.subarray(0, first.length)), 'slot 0 changed when slot 1 was fetched');
        assert.ok(second.equals(bytes.subarray(first.length, first.length + second.length)));
        // Slot 0 again, elsewhere: slot 1 is still as it was.
        const third = await source.fetch(0, 4 * MiB, 1 * MiB);
        assert.ok(third.equals(bytes.subarray(4 * MiB, 4 * MiB + third.length)));
        assert.ok(second.equals(bytes.subarray(first.length, first.length + second.length)), 'slot 1 changed when slot 0 was fetched');
      } finally {
        source.close();
        await reader.close();
      }
    });

    test('serves another file right after a source over the first is closed (slots reused)', async () => {
      const kind = subject.kind();
      for (let round = 0; round < 3; round++) {
        for (const [p, b] of [
          [path, bytes],
          [otherPath, other],
        ] as const) {
          const reader = await fileReader(p, b.length);
          const source = kind.open(reader, 0, b.length)!;
          try {
            assert.ok((await collect(source, 0, b.length, 2 * MiB)).equals(b), `round ${round}: the bytes differ`);
          } finally {
            source.close();
            await reader.close();
          }
        }
      }
    });
  });
}
