// Where a download's bytes come from between the blob and the socket: the pump (download.ts) asks
// for the next chunk while the socket takes the one before, so a source holds two chunks, "slots"
// 0 and 1, one being sent while the other fills. Two implementations: pread into pooled buffers
// (every store; pread-source.ts) and a shared mapping of the blob's file (a blob on local disk,
// when the native addon is built; mapped-source.ts), which hands the socket the page cache's own
// pages instead of a copy. test/conformance/range-source.ts holds both to the same contract.
import type { BlobReader } from '../blobs/blob-store.js';

export type Slot = 0 | 1;

export interface RangeSource {
  /**
   * The blob's bytes from `position`, at most `size` of them (a power of two; fewer at the end of
   * the range, or where the source holds less: the pool's budget, a window's end, a window's pages
   * not yet read in), in `slot`. They stay valid until that slot is fetched again or the source is
   * closed; one fetch per slot at a time.
   */
  fetch(slot: Slot, position: number, size: number): Promise<Buffer>;
  /**
   * The size to fetch whatever the download's read size, for a source whose chunks hold no
   * memory of their own (views of a shared window, mapped-windows.ts): fewer, larger chunks cost
   * the pump less per byte. Unset: the read size (read-size.ts) decides.
   */
  readonly chunkSize?: number;
  /** Frees what the source holds, at once; call it with no fetch in flight. */
  close(): void;
}

export interface RangeSourceKind {
  /** For the start log: pread or mmap. */
  readonly name: string;
  /** A source of bytes [start, end) of `reader`, or null where this kind cannot serve it (the mapping needs a local file). */
  open(reader: BlobReader, start: number, end: number): RangeSource | null;
}
