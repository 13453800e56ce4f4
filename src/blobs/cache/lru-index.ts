// The cache's entries in least-recently-used order, and the bytes they take.
// A Map keeps insertion order, so "use" is delete + set and the first key is the coldest.
import type { CacheEntry } from './cache-entry.js';

export class LruIndex {
  private readonly entries = new Map<string, CacheEntry>();
  private bytes = 0;

  get usedBytes(): number {
    return this.bytes;
  }

  get count(): number {
    return this.entries.size;
  }

  get(digest: string): CacheEntry | undefined {
    return this.entries.get(digest);
  }

  /** Adds an entry as the most recently used one; its bytes count from now (a fill reserves them). */
  add(entry: CacheEntry): void {
    this.remove(entry.digest);
    this.entries.set(entry.digest, entry);
    this.bytes += entry.size;
  }

  touch(entry: CacheEntry): void {
    if (this.entries.get(entry.digest) !== entry) return;
    this.entries.delete(entry.digest);
    this.entries.set(entry.digest, entry);
  }

  remove(digest: string): CacheEntry | undefined {
    const entry = this.entries.get(digest);
    if (!entry) return undefined;
    this.entries.delete(digest);
    this.bytes -= entry.size;
    return entry;
  }

  /** Complete entries nobody is using, coldest first: what eviction may take. */
  *evictable(): Iterable<CacheEntry> {
    for (const entry of this.entries.values()) if (entry.state === 'ready' && !entry.inUse) yield entry;
  }
}
