// One blob on its way to disk: positioned writes into the partial file, the hash fed in order from
// byte 0 (bytes arriving at the front of the hashed prefix straight from the receive buffers, the
// rest read back once the pieces before them are finished), and durability paid per file instead
// of per piece: the data is synced and the resume state written at checkpoints (every few
// seconds, and when the pull fails or is interrupted), and synced once more before the verified
// file is moved into place.
import { closeSync, fdatasync, openSync, writeSync } from 'node:fs';
import { promisify } from 'node:util';
import { CliError } from '../cli-error.js';
import type { PartialDownload } from './partial-download.js';
import type { Piece } from './piece-plan.js';
import { placeFile } from './place-file.js';
import type { HashedFile, PrefixHasher } from './prefix-hasher.js';

const datasync = promisify(fdatasync);

/** The hasher is told about a longer prefix in steps of at least this much (or at the end). */
const GROW_STEP = 4 * 1024 * 1024;

export class FileDownload {
  private readonly fd: number;
  private readonly hashed: HashedFile;
  private readonly complete: boolean[];
  private firstIncomplete = 0;
  /**
   * Bytes 0..hashSent-1 are handed to the hasher; they are on disk and are never written again,
   * so the hash is of the bytes the file holds.
   */
  private hashSent = 0;
  private toFetch: number;
  /** Pieces finished since the last checkpoint. */
  private unsaved = false;
  private closed = false;

  constructor(
    readonly partial: PartialDownload,
    private readonly hasher: PrefixHasher,
  ) {
    // Opened once for the whole file; every piece writes through it at its own offsets.
    this.fd = openSync(partial.paths.data, 'r+');
    this.hashed = hasher.open(partial.paths.data, partial.size);
    this.complete = partial.pieces.map((p) => partial.state.has(p.index));
    this.toFetch = partial.missing.length;
    this.advancePrefix();
  }

  /** Pieces still to fetch; zero means only verification is left. */
  get remaining(): number {
    return this.toFetch;
  }

  /**
   * Writes bytes of a piece at their place. Synchronous on purpose: the bytes live in the
   * connection's receive buffer, which a later read overwrites; a write to the page cache is a
   * memory copy. Bytes at the front of the hashed prefix are hashed from that buffer; bytes
   * already hashed (a retried piece's first part) are not written again.
   */
  write(buffer: Buffer, offset: number, length: number, position: number): void {
    const skip = Math.min(length, Math.max(0, this.hashSent - position));
    offset += skip;
    position += skip;
    length -= skip;
    if (length === 0) return;
    for (let done = 0; done < length; ) done += writeSync(this.fd, buffer, offset + done, length - done, position + done);
    // The finished pieces up to this one are read back first, so these bytes can follow them.
    if (position > this.hashSent && this.prefixEnd() >= position) this.handOver(position);
    if (position === this.hashSent && this.hashed.receive(buffer, offset, length)) this.hashSent += length;
  }

  /** Returns true when this was the last piece. */
  pieceDone(piece: Piece): boolean {
    this.complete[piece.index] = true;
    this.partial.state.markDone(piece.index);
    this.unsaved = true;
    this.toFetch--;
    this.advancePrefix();
    return this.toFetch === 0;
  }

  /** Makes the finished pieces durable: data first, then the record that claims them. */
  async checkpoint(): Promise<void> {
    if (!this.unsaved || this.closed) return;
    this.unsaved = false;
    await datasync(this.fd);
    await this.partial.state.save();
  }

  /**
   * Waits for the hash of every byte, then syncs and moves the file to every target. On a
   * mismatch the partial and its state are deleted (their bytes cannot be trusted piecewise).
   */
  async finish(root: string, targets: readonly string[], relativePaths: readonly string[]): Promise<void> {
    const hex = await this.hashed.digest;
    const { partial } = this;
    if (hex !== partial.hex) {
      this.close();
      await partial.discard();
      throw new CliError(
        `digest mismatch for ${relativePaths.join(', ')}: expected ${partial.digest}, downloaded bytes hash to sha256:${hex}; ` +
          'the partial download was deleted, run pull again',
      );
    }
    await datasync(this.fd);
    this.close();
    await placeFile(root, partial.paths.data, targets, 'move');
    await partial.state.remove();
  }

  /** After a failure: keep what is finished for the next pull, stop hashing. */
  async abandon(): Promise<void> {
    if (this.closed) return;
    this.hashed.drop();
    await this.checkpoint().catch(() => undefined);
    this.close();
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
  }

  private advancePrefix(): void {
    const { pieces, size } = this.partial;
    while (this.firstIncomplete < pieces.length && this.complete[this.firstIncomplete]) this.firstIncomplete++;
    const prefix = this.prefixEnd();
    if (prefix === size) {
      this.handOver(size);
      // The last bytes may still be queued in a receive ring.
      this.hasher.flush();
    } else if (prefix - this.hashSent >= GROW_STEP) this.handOver(prefix);
  }

  /** Finished bytes up to `upTo` that were not hashed from a receive buffer are read back from the file. */
  private handOver(upTo: number): void {
    if (upTo <= this.hashSent) return;
    this.hashSent = upTo;
    this.hashed.grow(upTo);
  }

  private prefixEnd(): number {
    const piece = this.partial.pieces[this.firstIncomplete];
    return piece ? piece.start : this.partial.size;
  }
}
