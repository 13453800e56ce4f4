// Bytes by digest only. File names are registry metadata and never become storage paths.
import type { DirectFile } from './ingest.js';

export interface BlobInfo {
  digest: string;
  size: number;
  /** Last time the blob was written or re-uploaded (ms since the epoch). */
  modifiedAt?: number;
}

/** Positional reads from one blob; several readers may share a blob, each with its own handle. */
export interface BlobReader {
  readonly size: number;
  /** When the blob was last written (ms), where the store learnt it while opening the blob. */
  readonly modifiedAt?: number;
  /**
   * The open file's descriptor, where the blob is a local file whose bytes never change while it
   * is open (the disk store's): a download may map it instead of reading (http/mapped-source.ts).
   */
  readonly fd?: number;
  read(buffer: Buffer, offset: number, length: number, position: number): Promise<number>;
  /**
   * Resolves once the whole blob has been verified against its digest, rejects if it failed.
   * Only readers that can return bytes before that (the edge cache while it fills) have it;
   * a response waits on it before its last chunk, so no transfer completes with unverified bytes.
   */
  settled?(): Promise<void>;
  close(): Promise<void>;
}

/** A blob being written. Nothing is visible under the digest until `commit` returns. */
export interface BlobWriter {
  readonly bytesWritten: number;
  write(chunk: Buffer): Promise<void>;
  /** Present when the bytes land in a local file, which an upload then writes chunk by chunk as they arrive. */
  readonly direct?: DirectFile;
  /** Makes the bytes durable and visible under `digest` (the caller has verified them). */
  commit(digest: string): Promise<BlobInfo>;
  /** Removes everything written; safe to call more than once and after a failed commit. */
  abort(): Promise<void>;
}

export interface BlobStore {
  stat(digest: string): Promise<BlobInfo | null>;
  /**
   * `stat` answered at once, without waiting, where the store can tell from this node alone (the
   * local disk, the edge cache's index); undefined where only an asynchronous `stat` can tell.
   * It exists for half-closed requests: this uWS build drops a connection whose client has shut
   * its write side as soon as the request handler returns, so only a synchronous answer reaches it.
   */
  statNow?(digest: string): BlobInfo | null | undefined;
  open(digest: string): Promise<BlobReader | null>;
  /**
   * Starts writing the blob the client claims is `digest`. The caller verifies the bytes and then
   * commits under that digest or aborts; nothing is visible before the commit. (An S3 store keys
   * its multipart upload by it; the disk store writes a temporary file.)
   */
  createWriter(digest: string): Promise<BlobWriter>;
  /** Moves a verified local file (a finished resumable upload) into the store. */
  ingestFile(localPath: string, digest: string): Promise<BlobInfo>;
  /**
   * If the store holds the blob at `size` bytes, marks it freshly written (so that a concurrent
   * sweep spares it, as a commit of the same bytes would) and returns it; else null: missing, or
   * an object of another size under the digest, which is not the blob but a short write.
   */
  refresh(digest: string, size: number): Promise<BlobInfo | null>;
  /**
   * Removes a blob unless it was written or re-uploaded after `notModifiedSince` (ms): an upload
   * that found the blob present and reported it stored must not lose it to a concurrent sweep.
   */
  delete(digest: string, notModifiedSince?: number): Promise<boolean>;
  /**
   * Moves a blob whose bytes do not match its digest out of the digest's place (kept under
   * quarantine/ for inspection), so that it reads as missing and the next push uploads it again.
   * Like `delete`, leaves a blob written after `notModifiedSince` where it is. True if moved.
   */
  quarantine(digest: string, notModifiedSince: number): Promise<boolean>;
  list(): AsyncIterable<BlobInfo>;
  /** For a cache in front of another store: that store, which holds the bytes themselves. */
  readonly origin?: BlobStore;
  close(): Promise<void>;
}
