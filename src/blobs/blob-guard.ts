/**
 * Keeps garbage collection and registration apart on one node: a registration pins the blobs it
 * is checking until its version is committed, and the collector never removes a pinned blob;
 * while the collector is removing a blob, a registration treats it as missing.
 */
export class BlobGuard {
  private readonly pins = new Map<string, number>();
  private readonly removing = new Set<string>();

  pin(digests: Iterable<string>): () => void {
    const list = [...new Set(digests)];
    for (const d of list) this.pins.set(d, (this.pins.get(d) ?? 0) + 1);
    return () => {
      for (const d of list) {
        const n = (this.pins.get(d) ?? 1) - 1;
        if (n <= 0) this.pins.delete(d);
        else this.pins.set(d, n);
      }
    };
  }

  isPinned(digest: string): boolean {
    return this.pins.has(digest);
  }

  /** Claims a blob for removal; false if a registration holds it. */
  beginRemoval(digest: string): boolean {
    if (this.pins.has(digest)) return false;
    this.removing.add(digest);
    return true;
  }

  endRemoval(digest: string): void {
    this.removing.delete(digest);
  }

  isBeingRemoved(digest: string): boolean {
    return this.removing.has(digest);
  }
}
