// Writing a file back to the disk while it is still being written: once WRITE_BACK_BYTES are dirty,
// an fdatasync runs in the background (on the threadpool) and the writes go on; bytes written
// meanwhile go in the next one. The final fsync then finds little left to do, instead of the disk
// writing a whole blob or chunk only after its last byte arrived (for 1 GiB on this machine's disk,
// about a second with nothing else happening). Blob writers and upload session appenders share it.
import type * as fsp from 'node:fs/promises';

/** Dirty bytes after which a background write-back starts. */
export const WRITE_BACK_BYTES = 64 << 20;

export class WriteBack {
  private dirty = 0;
  private running: Promise<void> | null = null;
  private stopped = false;
  /** The first write-back error: the file is not durable, and the next write or the commit must fail. */
  failure: unknown = null;

  constructor(
    private readonly handle: fsp.FileHandle,
    /** Called whenever a write-back ends (done or failed). */
    private readonly onEnded: () => void = () => undefined,
  ) {}

  /** True while a write-back is under way. */
  get active(): boolean {
    return this.running !== null;
  }

  /** Counts bytes written, and starts a write-back once enough are dirty. */
  wrote(length: number): void {
    this.dirty += length;
    if (this.dirty >= WRITE_BACK_BYTES && !this.running && !this.stopped) this.start();
  }

  throwIfFailed(): void {
    if (this.failure) throw this.failure;
  }

  /** Waits for a write-back under way (starting no more), so that the file may be synced, truncated or closed. */
  async settle(): Promise<void> {
    this.stopped = true;
    await this.running;
  }

  private start(): void {
    this.dirty = 0;
    this.running = this.handle.datasync().then(
      () => this.ended(null),
      (err: unknown) => this.ended(err),
    );
  }

  private ended(err: unknown): void {
    this.running = null;
    if (err) this.failure ??= err;
    // Bytes written meanwhile go next, so that the disk keeps working while the writes do.
    else if (this.dirty >= WRITE_BACK_BYTES && !this.stopped) this.start();
    this.onEnded();
  }
}
