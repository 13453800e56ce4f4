// Blob store in an S3 bucket (or an S3-compatible server), keyed like the disk store:
// <prefix>blobs/sha256/<2 hex>/<64 hex>. Uploads stream into multipart uploads to the final key
// (see s3/s3-writer.ts); downloads are ranged GetObject reads that resume after a broken body
// (see s3/s3-reader.ts). A blob under one part is staged and copied (see s3/staged-put.ts), so a
// write cut short never shows under a digest's key. Checksums: the SDK's default "when supported" request checksums send
// streamed bodies with aws-chunked framing, which some S3 look-alikes store verbatim; we send
// Buffers with checksums only where S3 requires them, and verify digests ourselves (the edge cache
// hashes every blob before serving it).
import { DeleteObjectCommand, HeadObjectCommand, ListObjectsV2Command, S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { promises as fsp } from 'node:fs';
import type { BlobInfo, BlobReader, BlobStore, BlobWriter } from './blob-store.js';
import { asStoreFailure, DEFAULT_RETRY, isNotFound, withS3Retries, type RetryPolicy } from './s3/errors.js';
import { blobsPrefix, digestOfKey, keyOf } from './s3/keys.js';
import { MIN_PART_BYTES } from './s3/part-plan.js';
import { S3BlobReader } from './s3/s3-reader.js';
import type { S3Target } from './s3/s3-target.js';
import { S3BlobWriter } from './s3/s3-writer.js';
import { copyObject, REFRESHED_KEY, touchObject } from './s3/touch.js';

export interface S3BlobStoreOptions {
  bucket: string;
  region: string;
  /** For S3-compatible servers (MinIO, s3rver…); AWS itself needs none. */
  endpoint?: string;
  /** Put in front of every key, e.g. "modelgate/"; may be empty. */
  prefix: string;
  /** Path-style URLs (endpoint/bucket/key), which most S3-compatible servers need. */
  forcePathStyle: boolean;
  /** Static credentials; without them the SDK's default chain applies (env, profile, instance role). */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** First multipart part size (≥ 5 MiB); a blob smaller than this is one PutObject. Default 8 MiB. */
  partSizeBytes?: number;
  /** Parts uploaded at once per writer; `write` waits beyond this. Default 2. */
  partsInFlight?: number;
  /** First ranged GET of a reader. Default 4 MiB. */
  readAheadBytes?: number;
  /** Ranged GETs grow to this while reads are sequential. Default 64 MiB. */
  maxWindowBytes?: number;
  /** Our retries of body reads and chained calls, on top of the SDK's own request retries. */
  retry?: RetryPolicy;
  /** Tries per request inside the SDK. Default 3. */
  sdkMaxAttempts?: number;
  connectTimeoutMs?: number;
  /** A connection silent this long (no response bytes) is dropped and the read resumed elsewhere. */
  idleTimeoutMs?: number;
}

const MiB = 1024 * 1024;

export class S3BlobStore implements BlobStore, S3Target {
  readonly client: S3Client;
  readonly bucket: string;
  readonly prefix: string;
  readonly partSizeBytes: number;
  readonly partsInFlight: number;
  private readonly readAheadBytes: number;
  private readonly maxWindowBytes: number;
  private readonly retry: RetryPolicy;
  /** Response body bytes received by GetObject reads (for tests, bench and metrics). */
  bytesRead = 0;

  constructor(opts: S3BlobStoreOptions) {
    this.bucket = opts.bucket;
    this.prefix = opts.prefix;
    this.partSizeBytes = opts.partSizeBytes ?? 8 * MiB;
    if (this.partSizeBytes < MIN_PART_BYTES)
      throw new Error(`S3 part size must be at least 5 MiB (S3 refuses smaller parts); got ${this.partSizeBytes}`);
    this.partsInFlight = Math.max(1, opts.partsInFlight ?? 2);
    this.readAheadBytes = opts.readAheadBytes ?? 4 * MiB;
    this.maxWindowBytes = Math.max(this.readAheadBytes, opts.maxWindowBytes ?? 64 * MiB);
    this.retry = opts.retry ?? DEFAULT_RETRY;
    const config: S3ClientConfig = {
      region: opts.region,
      forcePathStyle: opts.forcePathStyle,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      maxAttempts: opts.sdkMaxAttempts ?? 3,
      requestHandler: {
        connectionTimeout: opts.connectTimeoutMs ?? 5_000,
        socketTimeout: opts.idleTimeoutMs ?? 30_000,
      },
    };
    if (opts.endpoint) config.endpoint = opts.endpoint;
    if (opts.credentials) config.credentials = opts.credentials;
    this.client = new S3Client(config);
  }

  keyOf(digest: string): string {
    return keyOf(this.prefix, digest);
  }

  async stat(digest: string): Promise<BlobInfo | null> {
    try {
      const head = await withS3Retries(
        () => this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.keyOf(digest) })),
        this.retry,
      );
      const modifiedAt = writtenAt(head.LastModified, head.Metadata);
      return { digest, size: head.ContentLength ?? 0, ...(modifiedAt !== undefined ? { modifiedAt } : {}) };
    } catch (err) {
      if (isNotFound(err)) return null;
      throw asStoreFailure('look up a blob', err);
    }
  }

  /**
   * A server-side self-copy moves LastModified on S3, without sending the bytes again. An object
   * of another size (a short write an older release let through) is not the blob: null, and
   * ingestFile overwrites it.
   */
  async refresh(digest: string, size: number): Promise<BlobInfo | null> {
    const existing = await this.stat(digest);
    if (!existing || existing.size !== size) return null;
    try {
      await touchObject(this.client, this.bucket, this.keyOf(digest), existing.size);
    } catch (err) {
      // Deleted between the HEAD and the copy (a sweep won): the caller writes its own copy.
      if (isNotFound(err)) return null;
      throw asStoreFailure('refresh a blob', err);
    }
    return { ...existing, modifiedAt: Date.now() };
  }

  async open(digest: string): Promise<BlobReader | null> {
    const info = await this.stat(digest);
    if (!info) return null;
    return new S3BlobReader({
      client: this.client,
      bucket: this.bucket,
      key: this.keyOf(digest),
      size: info.size,
      ...(info.modifiedAt !== undefined ? { modifiedAt: info.modifiedAt } : {}),
      retry: this.retry,
      readAheadBytes: this.readAheadBytes,
      maxWindowBytes: this.maxWindowBytes,
      onBytes: (n) => (this.bytesRead += n),
    });
  }

  async createWriter(digest: string): Promise<BlobWriter> {
    this.keyOf(digest); // refuses a malformed digest before any byte is accepted
    return new S3BlobWriter(this, digest);
  }

  async ingestFile(localPath: string, digest: string): Promise<BlobInfo> {
    const { size } = await fsp.stat(localPath);
    let info: BlobInfo;
    try {
      info = (await this.refresh(digest, size)) ?? (await this.uploadFile(localPath, digest));
    } catch (err) {
      throw asStoreFailure('store a blob', err);
    }
    await fsp.rm(localPath, { force: true });
    return info;
  }

  /**
   * Removes the blob unless S3 says it was written after `notModifiedSince`.
   * S3 has neither rename nor a conditional delete on LastModified, so a re-upload that lands
   * between our HEAD and our DELETE is lost (the disk store closes that window with a rename).
   * The window is one round trip; garbage collection keeps it harmless by sweeping only blobs
   * older than its grace period and pinning blobs a registration on this node is checking.
   * LastModified has one-second resolution, so a blob counts as modified up to 999 ms after the
   * second S3 reports: we keep, rather than lose, a blob touched in the same second as the cutoff.
   */
  async delete(digest: string, notModifiedSince?: number): Promise<boolean> {
    const info = await this.stat(digest);
    if (!info) return false;
    if (notModifiedSince !== undefined && (info.modifiedAt ?? Infinity) + 999 > notModifiedSince) return false;
    await withS3Retries(
      () => this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.keyOf(digest) })),
      this.retry,
    ).catch((err: unknown) => {
      throw asStoreFailure('delete a blob', err);
    });
    return true;
  }

  /**
   * Copies the object to <prefix>quarantine/<hex>.<ms> and deletes it from the digest's key
   * (unless S3 says it was written after `notModifiedSince`; the window between HEAD and DELETE
   * is the one `delete` describes).
   */
  async quarantine(digest: string, notModifiedSince: number): Promise<boolean> {
    const info = await this.stat(digest);
    if (!info || (info.modifiedAt ?? Infinity) + 999 > notModifiedSince) return false;
    const aside = `${this.prefix}quarantine/${digest.slice('sha256:'.length)}.${Date.now()}`;
    try {
      await copyObject(this.client, this.bucket, this.keyOf(digest), aside, info.size, {
        'modelgate-quarantined': new Date().toISOString(),
      });
      await withS3Retries(() => this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.keyOf(digest) })), this.retry);
    } catch (err) {
      throw asStoreFailure('move a damaged blob aside', err);
    }
    return true;
  }

  async *list(): AsyncIterable<BlobInfo> {
    let token: string | undefined;
    do {
      const page = await withS3Retries(
        () =>
          this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: blobsPrefix(this.prefix), ContinuationToken: token })),
        this.retry,
      ).catch((err: unknown) => {
        throw asStoreFailure('list blobs', err);
      });
      for (const item of page.Contents ?? []) {
        const digest = item.Key ? digestOfKey(this.prefix, item.Key) : null;
        if (digest) yield { digest, size: item.Size ?? 0, ...(item.LastModified ? { modifiedAt: item.LastModified.getTime() } : {}) };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  async close(): Promise<void> {
    this.client.destroy();
  }

  /** A local file through the same writer an HTTP upload uses (staged PutObject or multipart). */
  private async uploadFile(localPath: string, digest: string): Promise<BlobInfo> {
    const writer = new S3BlobWriter(this, digest);
    const file = await fsp.open(localPath, 'r');
    try {
      const buffer = Buffer.allocUnsafe(4 * MiB);
      for (;;) {
        const { bytesRead } = await file.read(buffer, 0, buffer.length, null);
        if (bytesRead === 0) break;
        await writer.write(buffer.subarray(0, bytesRead));
      }
      return await writer.commit(digest);
    } catch (err) {
      await writer.abort();
      throw err;
    } finally {
      await file.close();
    }
  }
}

/**
 * When an object was last written or refreshed: the later of its LastModified and the time a
 * refresh (touchObject) wrote into its metadata. S3 moves LastModified on that self-copy; s3rver
 * copies an object onto itself without touching its file, and so keeps the old time.
 */
function writtenAt(lastModified: Date | undefined, metadata: Record<string, string> | undefined): number | undefined {
  const refreshed = Date.parse(metadata?.[REFRESHED_KEY] ?? '');
  const modified = lastModified?.getTime();
  if (Number.isNaN(refreshed)) return modified;
  return modified === undefined ? refreshed : Math.max(modified, refreshed);
}
