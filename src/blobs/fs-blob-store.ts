// Blob store on the local disk. Layout (as CNCF distribution): blobs/sha256/<2 hex>/<64 hex>.
// Writes go to blobs/tmp/ and are renamed into place after fsync; the rename is the commit.
// Blobs found corrupt by `blobs verify --repair` are moved to blobs/quarantine/<hex>.<ms>.
import { WriteBack } from './write-back.js';
import { randomUUID } from 'node:crypto';
import { close as fsClose, closeSync, constants, fstatSync, openSync, promises as fsp, read as fsRead, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { BlobInfo, BlobReader, BlobStore, BlobWriter } from './blob-store.js';
import { writeFullySync } from './cache/fd-io.js';
import type { DirectFile } from './ingest.js';

/** Where the store in `dataDir` keeps the blob `digest` (`sha256:<hex>`): blobs/sha256/<2 hex>/<64 hex>. */
export function fsBlobPath(dataDir: string, digest: string): string {
  const hex = digest.slice('sha256:'.length);
  return join(dataDir, 'blobs', 'sha256', hex.slice(0, 2), hex);
}

export class FsBlobStore implements BlobStore {
  readonly root: string;
  private readonly tmpDir: string;

  private constructor(private readonly dataDir: string) {
    this.root = join(dataDir, 'blobs');
    this.tmpDir = join(this.root, 'tmp');
  }

  /** Opens the store and deletes temporary files left by a previous process (no write survives it). */
  static async open(dataDir: string): Promise<FsBlobStore> {
    const store = new FsBlobStore(dataDir);
    await fsp.rm(store.tmpDir, { recursive: true, force: true });
    await fsp.mkdir(store.tmpDir, { recursive: true });
    await fsp.mkdir(join(store.root, 'sha256'), { recursive: true });
    return store;
  }

  pathOf(digest: string): string {
    return fsBlobPath(this.dataDir, digest);
  }

  async stat(digest: string): Promise<BlobInfo | null> {
    try {
      const st = await fsp.stat(this.pathOf(digest));
      return { digest, size: st.size, modifiedAt: st.mtimeMs };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }

  /** A stat of a local file: microseconds, so it may hold the event loop (see BlobStore.statNow). */
  statNow(digest: string): BlobInfo | null {
    const st = statSync(this.pathOf(digest), { throwIfNoEntry: false });
    return st ? { digest, size: st.size, modifiedAt: st.mtimeMs } : null;
  }

  /**
   * Opens the blob on the event loop, as statNow stats it: open and fstat of a local file are
   * metadata calls of microseconds, where the promise API took a thread-pool round trip and a
   * FileHandle for each (with close, 70% of the loop's time per request in a 1-byte range load,
   * which ran at 0.15x nginx's rate).
   */
  async open(digest: string): Promise<BlobReader | null> {
    let fd: number;
    try {
      fd = openSync(this.pathOf(digest), constants.O_RDONLY);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    try {
      return new FsBlobReader(fd, fstatSync(fd).size);
    } catch (err) {
      fsClose(fd, () => undefined);
      throw err;
    }
  }

  async createWriter(_digest: string): Promise<BlobWriter> {
    const path = join(this.tmpDir, randomUUID());
    const handle = await fsp.open(path, 'wx');
    return new FsBlobWriter(this, path, handle);
  }

  async ingestFile(localPath: string, digest: string): Promise<BlobInfo> {
    const handle = await fsp.open(localPath, 'r+');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
    return this.place(localPath, digest);
  }

  async refresh(digest: string, size: number): Promise<BlobInfo | null> {
    const existing = await this.stat(digest);
    // A file of another size under the digest is not the blob (damaged on disk).
    if (!existing || existing.size !== size) return null;
    // Refreshing the time tells a concurrent sweep the blob is wanted; if the sweep already moved
    // it away, the blob is not here.
    const now = new Date();
    const touched = await fsp.utimes(this.pathOf(digest), now, now).then(
      () => true,
      () => false,
    );
    return touched ? { ...existing, modifiedAt: now.getTime() } : null;
  }

  /** Renames a durable file into its content address; if the blob already exists the copy is dropped. */
  async place(path: string, digest: string): Promise<BlobInfo> {
    const target = this.pathOf(digest);
    // A damaged file under the digest, or none (a sweep moved it away meanwhile): this copy goes in its place.
    const existing = await this.refresh(digest, (await fsp.stat(path)).size);
    if (existing) {
      await fsp.rm(path, { force: true });
      return existing;
    }
    await fsp.mkdir(dirname(target), { recursive: true });
    await fsp.rename(path, target);
    await syncDir(dirname(target));
    const st = await fsp.stat(target);
    return { digest, size: st.size, modifiedAt: st.mtimeMs };
  }

  async delete(digest: string, notModifiedSince?: number): Promise<boolean> {
    const aside = join(this.tmpDir, `gc-${randomUUID()}`);
    const moved = await this.moveAside(digest, aside, notModifiedSince);
    if (moved) await fsp.rm(aside, { force: true });
    return moved;
  }

  async quarantine(digest: string, notModifiedSince: number): Promise<boolean> {
    const dir = join(this.root, 'quarantine');
    await fsp.mkdir(dir, { recursive: true });
    return this.moveAside(digest, join(dir, `${digest.slice('sha256:'.length)}.${Date.now()}`), notModifiedSince);
  }

  /**
   * Moves the blob to `aside` (atomic), then looks at it: one touched after `notModifiedSince`
   * (a re-upload in the meantime) goes back; one that arrives after the move writes a fresh copy.
   */
  private async moveAside(digest: string, aside: string, notModifiedSince?: number): Promise<boolean> {
    const target = this.pathOf(digest);
    try {
      await fsp.rename(target, aside);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
    const st = await fsp.stat(aside);
    if (notModifiedSince !== undefined && st.mtimeMs > notModifiedSince) {
      await fsp.link(aside, target).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'EEXIST') throw err;
      });
      await fsp.rm(aside, { force: true });
      return false;
    }
    return true;
  }

  async *list(): AsyncIterable<BlobInfo> {
    const base = join(this.root, 'sha256');
    for (const prefix of (await fsp.readdir(base)).sort()) {
      for (const hex of (await fsp.readdir(join(base, prefix))).sort()) {
        const st = await fsp.stat(join(base, prefix, hex)).catch(() => null);
        if (st) yield { digest: `sha256:${hex}`, size: st.size, modifiedAt: st.mtimeMs };
      }
    }
  }

  async close(): Promise<void> {
    // Nothing is held open between calls.
  }
}

class FsBlobReader implements BlobReader {
  private closing: Promise<void> | null = null;

  constructor(
    readonly fd: number,
    readonly size: number,
  ) {}

  read(buffer: Buffer, offset: number, length: number, position: number): Promise<number> {
    // The callback form on the raw fd skips the FileHandle promise machinery on the download path.
    return new Promise((resolve, reject) => {
      fsRead(this.fd, buffer, offset, length, position, (err, n) => (err ? reject(err) : resolve(n)));
    });
  }

  /**
   * Closes at once, as it opened. Except where the blob was deleted since (a collection, a
   * quarantine): the last descriptor of an unlinked file frees its blocks, which for a large file
   * takes the filesystem milliseconds, so that close runs on the thread pool. Handing every close
   * to the pool cost more than the close itself: waking a pool thread on two busy cores often
   * preempted the event loop (a 1-byte range load spent a third of the loop's time there). Once only.
   */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    let unlinked = true;
    try {
      unlinked = fstatSync(this.fd).nlink === 0;
    } catch {
      // Cannot tell: the thread pool is the safe side.
    }
    if (unlinked) {
      this.closing = new Promise((resolve, reject) => fsClose(this.fd, (err) => (err ? reject(err) : resolve())));
    } else {
      try {
        closeSync(this.fd);
        this.closing = Promise.resolve();
      } catch (err) {
        this.closing = Promise.reject(err as Error);
      }
    }
    return this.closing;
  }
}

class FsBlobWriter implements BlobWriter {
  bytesWritten = 0;
  private closed = false;
  private readonly writeBack: WriteBack;
  readonly direct: DirectFile;

  constructor(
    private readonly store: FsBlobStore,
    private readonly path: string,
    private readonly handle: fsp.FileHandle,
  ) {
    const writeBack = new WriteBack(handle, () => this.direct.onWrittenBack?.());
    this.writeBack = writeBack;
    this.direct = {
      path,
      start: 0,
      writeNow: (bytes) => this.writeNow(bytes),
      get writingBack() {
        return writeBack.active;
      },
      onWrittenBack: null,
    };
  }

  /** A direct write (see DirectFile): the file is only ever appended to, at its end. */
  private writeNow(bytes: Uint8Array): void {
    this.writeBack.throwIfFailed();
    // At the file's offset, like the threadpool writes of `write`, which may come before or after.
    writeFullySync(this.handle.fd, bytes, null);
    this.wrote(bytes.length);
  }

  async write(chunk: Buffer): Promise<void> {
    this.writeBack.throwIfFailed();
    let done = 0;
    while (done < chunk.length) {
      const { bytesWritten } = await this.handle.write(chunk, done, chunk.length - done);
      done += bytesWritten;
    }
    this.wrote(chunk.length);
  }

  /** Counts bytes written either way (see write-back.ts for what follows from them). */
  private wrote(length: number): void {
    this.bytesWritten += length;
    this.writeBack.wrote(length);
  }

  async commit(digest: string): Promise<BlobInfo> {
    await this.writeBack.settle();
    this.writeBack.throwIfFailed();
    await this.handle.sync();
    await this.closeHandle();
    return this.store.place(this.path, digest);
  }

  async abort(): Promise<void> {
    await this.closeHandle();
    await fsp.rm(this.path, { force: true });
  }

  private async closeHandle(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.writeBack.settle();
    await this.handle.close();
  }
}

export async function syncDir(path: string): Promise<void> {
  const dir = await fsp.open(path, 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}
