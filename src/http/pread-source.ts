// Chunks read with pread (BlobReader.read) into two buffers from the download pool, placed in each
// buffer where the kernel's copy out of the page cache runs fast (read-placement.ts).
import type { BlobReader } from '../blobs/blob-store.js';
import { readPlacement } from '../lib/read-placement.js';
import type { BufferPool } from './buffer-pool.js';
import type { RangeSource, RangeSourceKind, Slot } from './range-source.js';

class PreadSource implements RangeSource {
  private readonly buffers: [Buffer, Buffer];
  /** The size each buffer was last asked for (the pool may have given less: budget, crowd). */
  private readonly asked: [number, number];

  constructor(
    private readonly reader: BlobReader,
    private readonly end: number,
    private readonly pool: BufferPool,
  ) {
    this.buffers = [pool.take(), pool.take()];
    this.asked = [pool.min, pool.min];
  }

  async fetch(slot: Slot, position: number, size: number): Promise<Buffer> {
    // A chunk of another size: this slot's buffer is free (its chunk went out), so swap it.
    if (this.asked[slot] !== size) {
      this.pool.give(this.buffers[slot]);
      this.buffers[slot] = this.pool.take(size);
      this.asked[slot] = size;
    }
    const buffer = this.buffers[slot];
    const at = readPlacement(position);
    const n = await this.reader.read(buffer, at, Math.min(this.pool.sizeOf(buffer), this.end - position), position);
    return buffer.subarray(at, at + n);
  }

  close(): void {
    this.pool.give(this.buffers[0]);
    this.pool.give(this.buffers[1]);
  }
}

export function preadSources(pool: BufferPool): RangeSourceKind {
  return { name: 'pread', open: (reader, _start, end) => new PreadSource(reader, end, pool) };
}
