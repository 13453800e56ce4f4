// An edge disk cache in front of any BlobStore (in practice the S3 one): a node serves blobs from
// its local disk, and a cold blob is fetched from the origin once however many clients ask for it
// at the same time (single flight). Readers are served from the growing cache file while the fill
// runs, so a ranged request gets its bytes as they arrive; the blob's final byte is held back until
// the blob hashed to its digest, and each response holds its own last chunk until then (through
// the reader's `settled`). A blob that fails verification is deleted, never served.
// The cache is bounded by bytes and evicts the least recently used complete entries that nobody
// is reading. Writes, listing and deletion go to the origin; deletion also drops the local copy.
//
// Layout under the cache directory: sha256/<2 hex>/<64 hex> for verified entries (trusted at
// start: they were fsynced before being renamed into place) and fill/ for fills in progress
// (cleared at start).
import { randomUUID } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { dirname, join } from 'node:path';
import { logger } from '../log.js';
import type { BlobInfo, BlobReader, BlobStore, BlobWriter } from './blob-store.js';
import { CacheEntry } from './cache/cache-entry.js';
import { cacheMetrics } from './cache/cache-metrics.js';
import { CachedReader } from './cache/cache-reader.js';
import { openFd } from './cache/fd-io.js';
import { copyAndVerify, DigestMismatchError } from './cache/fill.js';
import { LruIndex } from './cache/lru-index.js';

export interface EdgeCacheOptions {
  /** Directory of the cache (created if missing); nothing else should live there. */
  dir: string;
  /** Bytes the cache may hold. A fill may pass it while every entry is in use; it is restored as readers finish. */
  maxBytes: number;
  /**
   * How long a cached blob is served on the cache's word alone (ms). After that, `stat` asks the
   * origin again (a blob deleted from the bucket by another node's GC then disappears here too);
   * when the origin cannot be reached, the cached copy is still served.
   */
  recheckAfterMs?: number;
}

export class CachedBlobStore implements BlobStore {
  private readonly index = new LruIndex();
  /** Cold opens waiting for a fill to be set up, so that concurrent opens share it. */
  private readonly starting = new Map<string, Promise<CacheEntry | null>>();
  /** Fills in progress and the origin readers they copy from (closed to interrupt them). */
  private readonly fills = new Map<Promise<void>, BlobReader>();
  private readonly sha256Dir: string;
  private readonly fillDir: string;
  private readonly recheckAfterMs: number;
  private closing = false;

  // Plain counters for tests and bench (also exported as Prometheus metrics).
  hits = 0;
  misses = 0;
  fillsStarted = 0;
  fillsFailed = 0;
  verifyFailures = 0;
  evictions = 0;
  originBytesRead = 0;

  private constructor(
    readonly origin: BlobStore,
    private readonly opts: EdgeCacheOptions,
  ) {
    this.sha256Dir = join(opts.dir, 'sha256');
    this.fillDir = join(opts.dir, 'fill');
    this.recheckAfterMs = opts.recheckAfterMs ?? 60_000;
  }

  /** Opens the cache, dropping unfinished fills and indexing the verified entries a previous run left. */
  static async open(origin: BlobStore, opts: EdgeCacheOptions): Promise<CachedBlobStore> {
    if (!(opts.maxBytes > 0)) throw new Error(`edge cache maxBytes must be positive; got ${opts.maxBytes}`);
    const cache = new CachedBlobStore(origin, opts);
    await fsp.rm(cache.fillDir, { recursive: true, force: true });
    await fsp.mkdir(cache.fillDir, { recursive: true });
    await fsp.mkdir(cache.sha256Dir, { recursive: true });
    await cache.loadExisting();
    cache.makeRoom(0);
    return cache;
  }

  get usedBytes(): number {
    return this.index.usedBytes;
  }

  get maxBytes(): number {
    return this.opts.maxBytes;
  }

  /** Whether a verified copy of the blob is on this node's disk. */
  isCached(digest: string): boolean {
    return this.index.get(digest)?.state === 'ready';
  }

  async stat(digest: string): Promise<BlobInfo | null> {
    const entry = this.index.get(digest);
    if (!entry || entry.state === 'failed') return this.origin.stat(digest);
    const answer = this.localAnswer(entry);
    if (answer) return answer;
    let remote: BlobInfo | null;
    try {
      remote = await this.origin.stat(digest);
    } catch (err) {
      logger.debug({ err, digest }, 'origin unreachable; answering from the edge cache');
      return { digest, size: entry.size, ...(entry.modifiedAt !== undefined ? { modifiedAt: entry.modifiedAt } : {}) };
    }
    if (!remote) {
      this.drop(entry);
      return null;
    }
    entry.confirmedAt = Date.now();
    entry.modifiedAt = remote.modifiedAt;
    return remote;
  }

  /** What `stat` would answer from the cache alone, or undefined when it would ask the origin. */
  statNow(digest: string): BlobInfo | undefined {
    const entry = this.index.get(digest);
    return entry && entry.state !== 'failed' ? this.localAnswer(entry) : undefined;
  }

  /** The cache's own answer for an entry, while it may be given without asking the origin. */
  private localAnswer(entry: CacheEntry): BlobInfo | undefined {
    if (entry.modifiedAt === undefined) return undefined;
    const fresh = Date.now() - entry.confirmedAt < this.recheckAfterMs;
    if (entry.state !== 'filling' && !fresh) return undefined;
    return { digest: entry.digest, size: entry.size, modifiedAt: entry.modifiedAt };
  }

  async open(digest: string): Promise<BlobReader | null> {
    if (this.closing) throw new Error('the edge cache is closed');
    const entry = this.index.get(digest);
    if (entry && entry.state !== 'failed') {
      const reader = await this.readerFor(entry).catch((err: NodeJS.ErrnoException) => {
        // The file vanished under us (someone cleaned the directory): forget it and fetch again.
        if (err.code !== 'ENOENT') throw err;
        this.drop(entry);
        return null;
      });
      if (reader) {
        this.count(entry.state === 'ready' ? 'hit' : 'miss');
        return reader;
      }
    }
    let starting = this.starting.get(digest);
    if (!starting) {
      starting = this.startFill(digest).finally(() => this.starting.delete(digest));
      this.starting.set(digest, starting);
    }
    const started = await starting;
    if (!started) return null;
    if (started.state === 'failed') throw started.error!;
    this.count('miss');
    return this.readerFor(started);
  }

  createWriter(digest: string): Promise<BlobWriter> {
    return this.origin.createWriter(digest);
  }

  ingestFile(localPath: string, digest: string): Promise<BlobInfo> {
    return this.origin.ingestFile(localPath, digest);
  }

  /**
   * The origin's answer. The cache's own copy may outlive the origin's object until rechecked:
   * where the origin has no such blob, the copy is dropped, so the next stat asks the origin.
   */
  async refresh(digest: string, size: number): Promise<BlobInfo | null> {
    const refreshed = await this.origin.refresh(digest, size);
    const entry = this.index.get(digest);
    if (!refreshed && entry) this.drop(entry);
    return refreshed;
  }

  async delete(digest: string, notModifiedSince?: number): Promise<boolean> {
    const deleted = await this.origin.delete(digest, notModifiedSince);
    const entry = this.index.get(digest);
    if (deleted && entry) this.drop(entry);
    return deleted;
  }

  async quarantine(digest: string, notModifiedSince: number): Promise<boolean> {
    const moved = await this.origin.quarantine(digest, notModifiedSince);
    const entry = this.index.get(digest);
    if (moved && entry) this.drop(entry);
    return moved;
  }

  list(): AsyncIterable<BlobInfo> {
    return this.origin.list();
  }

  /** Stops fills in progress (their readers get an error) and closes the origin. */
  async close(): Promise<void> {
    this.closing = true;
    for (const source of this.fills.values()) void source.close().catch(() => undefined);
    await Promise.allSettled([...this.fills.keys()]);
    await this.origin.close();
  }

  private async readerFor(entry: CacheEntry): Promise<BlobReader> {
    const fd = await entry.acquire();
    this.index.touch(entry);
    return new CachedReader(entry, fd, (e) => this.release(e));
  }

  private release(entry: CacheEntry): void {
    if (entry.release()) this.makeRoom(0);
  }

  /** Sets up one fill: opens the origin, reserves room, creates the file, then copies in the background. */
  private async startFill(digest: string): Promise<CacheEntry | null> {
    const source = await this.origin.open(digest);
    if (!source) return null;
    let entry: CacheEntry;
    try {
      this.makeRoom(source.size);
      const path = join(this.fillDir, `${digest.slice('sha256:'.length)}.${randomUUID()}`);
      const fd = await openFd(path, 'wx+');
      // The origin said the blob exists just now: the entry starts confirmed, with its write time.
      entry = CacheEntry.filling(digest, source.size, path, fd, source.modifiedAt);
    } catch (err) {
      await source.close();
      throw err;
    }
    this.index.add(entry);
    cacheMetrics.bytes.inc(entry.size);
    this.fillsStarted++;
    cacheMetrics.fills.inc();
    const fill = this.runFill(entry, source);
    this.fills.set(fill, source);
    void fill.finally(() => this.fills.delete(fill));
    return entry;
  }

  private async runFill(entry: CacheEntry, source: BlobReader): Promise<void> {
    try {
      await copyAndVerify(
        entry,
        source,
        (n) => {
          this.originBytesRead += n;
          cacheMetrics.originBytes.inc(n);
        },
        () => this.closing,
      );
      const target = this.pathOf(entry.digest);
      if (!entry.dropped) {
        await fsp.mkdir(dirname(target), { recursive: true });
        await fsp.rename(entry.path, target);
      }
      entry.verified(target);
    } catch (err) {
      this.fillsFailed++;
      const reason = err instanceof DigestMismatchError ? 'verify' : this.closing ? 'closing' : 'origin';
      if (reason === 'verify') this.verifyFailures++;
      cacheMetrics.fillFailures.labels(reason).inc();
      logger.warn({ err, digest: entry.digest, filled: entry.filled, size: entry.size }, 'edge cache fill failed; nothing was cached');
      entry.fail(err as Error);
      this.drop(entry);
    } finally {
      await source.close().catch(() => undefined);
      this.release(entry);
    }
  }

  /** Takes an entry out of the cache and removes its file; readers holding it keep their descriptor. */
  private drop(entry: CacheEntry): void {
    if (entry.dropped) return;
    entry.dropped = true;
    if (this.index.get(entry.digest) === entry) {
      this.index.remove(entry.digest);
      cacheMetrics.bytes.dec(entry.size);
    }
    void fsp
      .rm(entry.path, { force: true })
      .catch((err: unknown) => logger.warn({ err, path: entry.path }, 'could not remove a cache file'));
  }

  /**
   * Evicts unused complete entries until `incoming` more bytes fit under the limit (or nothing
   * more can go). Entries larger than the whole cache go first: they cannot be kept anyway, and
   * evicting warm small entries on their account would only cost more origin reads. For the same
   * reason an incoming blob larger than the cache makes no room: it is served, then let go.
   */
  private makeRoom(incoming: number): void {
    const max = this.opts.maxBytes;
    const want = incoming > max ? 0 : incoming;
    const victims = new Set<CacheEntry>();
    let used = this.index.usedBytes;
    for (const pass of ['oversized', 'lru'] as const) {
      for (const entry of this.index.evictable()) {
        if (used + want <= max) break;
        if (victims.has(entry) || (pass === 'oversized' && entry.size <= max)) continue;
        victims.add(entry);
        used -= entry.size;
      }
    }
    for (const entry of victims) {
      this.drop(entry);
      this.evictions++;
      cacheMetrics.evictions.inc();
    }
  }

  private count(kind: 'hit' | 'miss'): void {
    if (kind === 'hit') {
      this.hits++;
      cacheMetrics.hits.inc();
    } else {
      this.misses++;
      cacheMetrics.misses.inc();
    }
  }

  private pathOf(digest: string): string {
    const hex = digest.slice('sha256:'.length);
    return join(this.sha256Dir, hex.slice(0, 2), hex);
  }

  private async loadExisting(): Promise<void> {
    const found: { entry: CacheEntry; mtime: number }[] = [];
    for (const fan of await fsp.readdir(this.sha256Dir)) {
      for (const hex of await fsp.readdir(join(this.sha256Dir, fan)).catch(() => [] as string[])) {
        if (!/^[0-9a-f]{64}$/.test(hex) || hex.slice(0, 2) !== fan) continue;
        const path = join(this.sha256Dir, fan, hex);
        const st = await fsp.stat(path).catch(() => null);
        if (!st?.isFile()) continue;
        // confirmedAt 0: the first stat asks the origin whether the blob still exists.
        const entry = new CacheEntry(`sha256:${hex}`, st.size, path, 0);
        entry.verified(path);
        found.push({ entry, mtime: st.mtimeMs });
      }
    }
    // Without access times, the order entries were filled in is the best guess at recency.
    found.sort((a, b) => a.mtime - b.mtime);
    for (const { entry } of found) {
      this.index.add(entry);
      cacheMetrics.bytes.inc(entry.size);
    }
  }
}
