// The native addon downloads map blob files with (native/mapped-range.c), and its slots: fixed
// stretches of address space, each behind one ArrayBuffer made once and reused, into which ranges
// of a file are mapped in turn. A fresh ArrayBuffer per mapping instead counted as external memory
// to V8 and set off a major garbage collection every few chunks (perf: a third of the server's CPU).
export interface MappedRangeAddon {
  createSlot(size: number): ArrayBuffer;
  /** Maps a range at the slot's start on a libuv thread, reading in its pages unless all are cached. */
  fill(slot: ArrayBuffer, fd: number, offset: number, length: number): Promise<void>;
  /** Drops whatever the slot maps, at once (an empty slot reads as zeros and holds no memory). */
  empty(slot: ArrayBuffer): void;
  /** Maps a range at the slot's start now, reading nothing in. */
  attach(slot: ArrayBuffer, fd: number, offset: number, length: number): void;
  /** Whether every page of the file's range is in the page cache (false where the kernel cannot tell cheaply). */
  cached(fd: number, offset: number, length: number): boolean;
  /** Reads the pages of the slot's range in from its file, on a libuv thread. */
  populate(slot: ArrayBuffer, offset: number, length: number): Promise<void>;
}

export const PAGE = 4096;

export interface MapSlot {
  readonly memory: ArrayBuffer;
  readonly view: Buffer;
}

export class SlotPool {
  private readonly idle: MapSlot[] = [];

  constructor(
    private readonly addon: MappedRangeAddon,
    /** Bytes a slot maps at most. */
    readonly size: number,
    /** Idle slots kept for the next downloads (address space only: an empty slot holds no memory). */
    private readonly keepIdle: number,
  ) {}

  take(): MapSlot {
    const idle = this.idle.pop();
    if (idle) return idle;
    const memory = this.addon.createSlot(this.size);
    return { memory, view: Buffer.from(memory) };
  }

  give(slot: MapSlot): void {
    this.addon.empty(slot.memory);
    if (this.idle.length < this.keepIdle) this.idle.push(slot);
  }
}
