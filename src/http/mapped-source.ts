// Chunks served from a shared, read-only mapping of the blob's file (native/mapped-range.c), where
// the blob is a local file (BlobReader.fd): the socket copies straight from the page cache, with no
// pread copy into a buffer first. Under 32 ranged downloads of a cached 1 GiB file (A/B in turns
// against pread, bench/README.md) the server spent about a fifth less CPU per byte.
//
// Large blobs come from windows shared by their downloads (mapped-windows.ts). Smaller ones a
// chunk at a time: each download holds two slots (mapped-slots.ts), a chunk is mapped into one on
// a libuv thread (MAP_FIXED over the slot; pages not in the page cache are read in there, so a
// cold cache stalls a thread, not the event loop) and emptied the moment the download ends or
// moves on.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { BlobReader } from '../blobs/blob-store.js';
import { type MappedRangeAddon, type MapSlot, PAGE, SlotPool } from './mapped-slots.js';
import { type WindowSettings, Windows } from './mapped-windows.js';
import type { RangeSource, RangeSourceKind, Slot } from './range-source.js';

/** Idle chunk slots kept for the next downloads. */
const KEEP_IDLE = 128;
export const MAPPED_RANGE_ADDON = fileURLToPath(new URL('../../native/mapped-range.node', import.meta.url));

class MappedSource implements RangeSource {
  private readonly slots: [MapSlot, MapSlot];

  constructor(
    private readonly addon: MappedRangeAddon,
    private readonly pool: SlotPool,
    private readonly fd: number,
    private readonly end: number,
    private readonly cap: (size: number) => number,
  ) {
    this.slots = [pool.take(), pool.take()];
  }

  async fetch(slot: Slot, position: number, size: number): Promise<Buffer> {
    const skip = position % PAGE;
    const length = Math.min(this.cap(size), this.end - position);
    if (length <= 0) return Buffer.alloc(0);
    const { memory, view } = this.slots[slot];
    await this.addon.fill(memory, this.fd, position - skip, skip + length);
    return view.subarray(skip, skip + length);
  }

  close(): void {
    this.pool.give(this.slots[0]);
    this.pool.give(this.slots[1]);
  }
}

/**
 * Blobs from `from` bytes up are served from shared windows (mapped-windows.ts) of `size` bytes,
 * the rest a chunk mapping at a time. Under 32 ranged streams of a cached 1 GiB blob (A/B in turns
 * against a mapping per chunk, a loaded machine) the server spent 0.66-0.69 CPU-s/GB against
 * 0.88-1.07; a small blob would hold a window's address space for a chunk or two.
 */
export interface Windowing extends WindowSettings {
  from: number;
}

const MIB = 1024 * 1024;
export const DEFAULT_WINDOWING: Windowing = { size: 256 * MIB, from: 32 * MIB, lingerMs: 2000, chunk: 16 * MIB, coldChunk: 2 * MIB };

/**
 * Mapped sources, chunks of at most `maxChunk` bytes, each capped by `cap` where a chunk is mapped
 * for its download alone (the download pool's rule for many downloads in flight, so the mapped
 * pages they hold stay what their buffers would; a window's pages are shared, whatever the chunks),
 * or why the addon is not usable (not built, not loadable here).
 */
export function mappedSources(
  maxChunk: number,
  cap: (size: number) => number,
  path: string = MAPPED_RANGE_ADDON,
  windowing: Windowing = DEFAULT_WINDOWING,
): RangeSourceKind | string {
  let addon: MappedRangeAddon;
  try {
    addon = createRequire(import.meta.url)(path) as MappedRangeAddon;
  } catch (err) {
    return `native addon not loaded (${(err as Error).message.split('\n')[0]})`;
  }
  // A chunk starts anywhere in its first page: a chunk slot holds the largest chunk and a page.
  const pool = new SlotPool(addon, maxChunk + PAGE, KEEP_IDLE);
  const windows = new Windows(addon, windowing);
  return {
    name: 'mmap',
    open: (reader: BlobReader, _start: number, end: number) => {
      if (reader.fd === undefined) return null;
      if (reader.size >= windowing.from) return windows.source(reader.fd, reader.size, end);
      return new MappedSource(addon, pool, reader.fd, end, cap);
    },
  };
}
