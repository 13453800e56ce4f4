// Chunks served from a shared, read-only mapping of the blob's file (native/mapped-range.c), where
// the blob is a local file (BlobReader.fd): the socket copies straight from the page cache, with no
// pread copy into a buffer first. Under 32 ranged downloads of a cached 1 GiB file (A/B in turns
// against pread, bench/README.md) the server spent about a fifth less CPU per byte.
//
// Each slot is a fixed stretch of address space behind one ArrayBuffer made once and reused: a
// chunk is mapped into it on a libuv thread (MAP_FIXED over the slot; pages not in the page cache
// are read in there, so a cold cache stalls a thread, not the event loop) and emptied the moment
// the download ends or moves on. A fresh ArrayBuffer per mapping instead counted as external memory to V8 and set off
// a major garbage collection every few chunks (perf: a third of the server's CPU).
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { BlobReader } from '../blobs/blob-store.js';
import type { RangeSource, RangeSourceKind, Slot } from './range-source.js';

interface MappedRangeAddon {
  createSlot(size: number): ArrayBuffer;
  fill(slot: ArrayBuffer, fd: number, offset: number, length: number): Promise<void>;
  empty(slot: ArrayBuffer): void;
}

const PAGE = 4096;
/** Idle slots kept for the next downloads (address space only: an empty slot holds no memory). */
const KEEP_IDLE = 128;
export const MAPPED_RANGE_ADDON = fileURLToPath(new URL('../../native/mapped-range.node', import.meta.url));

interface MapSlot {
  readonly memory: ArrayBuffer;
  readonly view: Buffer;
}

class SlotPool {
  private readonly idle: MapSlot[] = [];

  constructor(
    private readonly addon: MappedRangeAddon,
    /** Bytes a slot maps at most: the largest chunk and a page, as a chunk starts anywhere in its first page. */
    readonly size: number,
  ) {}

  take(): MapSlot {
    const idle = this.idle.pop();
    if (idle) return idle;
    const memory = this.addon.createSlot(this.size);
    return { memory, view: Buffer.from(memory) };
  }

  give(slot: MapSlot): void {
    this.addon.empty(slot.memory);
    if (this.idle.length < KEEP_IDLE) this.idle.push(slot);
  }
}

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
 * Mapped sources, chunks of at most `maxChunk` bytes, each capped by `cap` (the download pool's
 * rule for many downloads in flight, so the mapped pages they hold stay what their buffers would),
 * or why the addon is not usable (not built, not loadable here).
 */
export function mappedSources(
  maxChunk: number,
  cap: (size: number) => number,
  path: string = MAPPED_RANGE_ADDON,
): RangeSourceKind | string {
  let addon: MappedRangeAddon;
  try {
    addon = createRequire(import.meta.url)(path) as MappedRangeAddon;
  } catch (err) {
    return `native addon not loaded (${(err as Error).message.split('\n')[0]})`;
  }
  const pool = new SlotPool(addon, maxChunk + PAGE);
  return {
    name: 'mmap',
    open: (reader: BlobReader, _start: number, end: number) =>
      reader.fd === undefined ? null : new MappedSource(addon, pool, reader.fd, end, cap),
  };
}
