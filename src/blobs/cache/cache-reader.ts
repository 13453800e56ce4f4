// A reader of one cache entry. Reads of bytes already on disk return at once; reads further ahead
// wait for the fill to get there, so a ranged request of a cold blob waits only for its range.
import type { BlobReader } from '../blob-store.js';
import type { CacheEntry } from './cache-entry.js';
import { readFully } from './fd-io.js';

export class CachedReader implements BlobReader {
  readonly size: number;
  private closed = false;

  constructor(
    private readonly entry: CacheEntry,
    // Not `fd` (BlobReader.fd): the entry may still be filling, so it must not be mapped.
    private readonly file: number,
    private readonly onClose: (entry: CacheEntry) => void,
  ) {
    this.size = entry.size;
  }

  async read(buffer: Buffer, offset: number, length: number, position: number): Promise<number> {
    if (this.closed) throw new Error('read from a closed cache reader');
    const want = Math.max(0, Math.min(length, this.size - position));
    if (want === 0) return 0;
    const entry = this.entry;
    if (entry.state === 'failed') throw entry.error!;
    if (entry.readable < position + want) await entry.waitFor(position + want);
    await readFully(this.file, buffer, offset, want, position);
    return want;
  }

  settled(): Promise<void> {
    // Readers see at most size - 1 bytes of a filling entry, so this waits for verification.
    return this.entry.waitFor(this.size);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.onClose(this.entry);
  }
}
