// Large blobs served from windows: long-lived mappings of a blob file, `size` bytes each at fixed
// offsets, shared by every download of that file (mapped-source.ts picks them for large blobs).
// Mapping each 2 MiB chunk afresh cost every chunk an mmap and a munmap with its TLB flush, and
// the socket's copy faulted every page in again; a window is mapped once and its pages stay
// mapped, so serving a cached blob costs about what serving it from memory does.
//
// A window is mapped without reading anything in; before a chunk is handed out, the page cache is
// asked (cachestat, on the event loop) whether all its pages are there, and only where one is
// missing is the chunk populated on a libuv thread, so a cold disk stalls that thread, not the
// loop. A window nobody uses stays mapped for `lingerMs` (a client looping over ranges opens a new
// download right after the last ends), then is emptied at once: it holds no memory after that.
import { fstatSync } from 'node:fs';
import { type MappedRangeAddon, type MapSlot, SlotPool } from './mapped-slots.js';
import type { RangeSource, Slot } from './range-source.js';

export interface WindowSettings {
  /** Bytes a window maps (a multiple of the page size). */
  size: number;
  /**
   * Bytes a download asks a window for at once (RangeSource.chunkSize). Where all of them are in
   * the page cache the chunk is a view of pages already there, holding nothing of its own; where
   * one is missing, only `coldChunk` bytes are read in for that chunk, so a cold disk sends its
   * first bytes after a read of that size, not of this one.
   */
  chunk: number;
  coldChunk: number;
  /** How long a window no download uses stays mapped. */
  lingerMs: number;
}

/** Idle window slots kept for the next windows (address space only). */
const KEEP_IDLE_WINDOWS = 8;

interface Window {
  readonly key: string;
  readonly slot: MapSlot;
  /** Where in the file the window starts, and how many of the file's bytes it maps. */
  readonly start: number;
  readonly length: number;
  users: number;
  linger: NodeJS.Timeout | null;
}

export class Windows {
  private readonly open = new Map<string, Window>();
  private readonly slots: SlotPool;

  constructor(
    private readonly addon: MappedRangeAddon,
    readonly settings: WindowSettings,
  ) {
    this.slots = new SlotPool(addon, settings.size, KEEP_IDLE_WINDOWS);
  }

  /** A source of bytes [start, end) of the file open as `fd` (`size` bytes long; its bytes never change). */
  source(fd: number, size: number, end: number): RangeSource {
    const { dev, ino } = fstatSync(fd);
    return new WindowSource(this, this.addon, fd, `${dev}:${ino}:${size}`, size, end);
  }

  /** The window of the file holding `position`, mapped (with `fd`) if it is not yet. */
  acquire(file: string, fd: number, fileSize: number, position: number): Window {
    const start = position - (position % this.settings.size);
    const key = `${file}@${start}`;
    let window = this.open.get(key);
    if (!window) {
      const slot = this.slots.take();
      const length = Math.min(this.settings.size, fileSize - start);
      try {
        this.addon.attach(slot.memory, fd, start, length);
      } catch (err) {
        this.slots.give(slot);
        throw err;
      }
      window = { key, slot, start, length, users: 0, linger: null };
      this.open.set(key, window);
    }
    if (window.linger) {
      clearTimeout(window.linger);
      window.linger = null;
    }
    window.users++;
    return window;
  }

  release(window: Window): void {
    if (--window.users > 0) return;
    window.linger = setTimeout(() => this.drop(window), this.settings.lingerMs);
    window.linger.unref();
  }

  private drop(window: Window): void {
    if (window.users > 0 || this.open.get(window.key) !== window) return;
    this.open.delete(window.key);
    this.slots.give(window.slot);
  }

  /** Windows mapped now, in use or lingering (for tests). */
  get mapped(): number {
    return this.open.size;
  }
}

class WindowSource implements RangeSource {
  /** The window each slot's chunk lies in: held until the slot is fetched again or the source closes. */
  private readonly held: [Window | null, Window | null] = [null, null];
  readonly chunkSize: number;

  constructor(
    private readonly windows: Windows,
    private readonly addon: MappedRangeAddon,
    private readonly fd: number,
    private readonly file: string,
    private readonly fileSize: number,
    private readonly end: number,
  ) {
    this.chunkSize = windows.settings.chunk;
  }

  async fetch(slot: Slot, position: number, size: number): Promise<Buffer> {
    if (position >= this.end) return Buffer.alloc(0);
    const window = this.windows.acquire(this.file, this.fd, this.fileSize, position);
    const before = this.held[slot];
    this.held[slot] = window;
    if (before) this.windows.release(before);
    const at = position - window.start;
    // A chunk ends where its window does: the next one starts the next window.
    let length = Math.min(size, this.end - position, window.length - at);
    if (!this.addon.cached(this.fd, position, length)) {
      length = Math.min(length, this.windows.settings.coldChunk);
      await this.addon.populate(window.slot.memory, at, length);
    }
    return window.slot.view.subarray(at, at + length);
  }

  close(): void {
    for (const slot of [0, 1] as const) {
      const window = this.held[slot];
      this.held[slot] = null;
      if (window) this.windows.release(window);
    }
  }
}
