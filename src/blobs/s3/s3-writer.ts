// A blob streamed into S3 as a multipart upload to its final key.
// Bytes are copied into part buffers (the caller's chunks are handed to the hash worker right after
// `write` returns, so we may not keep them); a full part is uploaded in the background and `write`
// waits only when the configured number of parts is already in flight, which bounds memory at
// (partsInFlight + 1) × part size per writer. Nothing is visible under the key until
// CompleteMultipartUpload, which `commit` sends only after the caller verified the digest.
// A blob smaller than one part never starts a multipart upload: `commit` stores it through a
// staging key (see staged-put.ts), so a PutObject cut short never shows under the final key.
//
// If the blob already exists, `commit` still completes: the bytes are verified and identical, the
// parts are already in the bucket (completing costs no transfer), and the write moves the object's
// LastModified, which tells a concurrent garbage collection that the blob is wanted again (the disk
// store refreshes its mtime for the same reason). Checking first and aborting would need a second
// write (a self-copy) to refresh the time, and would still race with the sweep.
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  UploadPartCommand,
  type CompletedPart,
} from '@aws-sdk/client-s3';
import { logger } from '../../log.js';
import type { BlobInfo, BlobWriter } from '../blob-store.js';
import type { S3Target } from './s3-target.js';
import { asStoreFailure, statusOf, withS3Retries } from './errors.js';
import { partSize } from './part-plan.js';
import { objectSize, putChecked, putVerified } from './staged-put.js';

export class S3BlobWriter implements BlobWriter {
  bytesWritten = 0;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private partsStarted = 0;
  private uploadId: Promise<string> | null = null;
  private readonly inFlight: Promise<void>[] = [];
  private readonly parts: CompletedPart[] = [];
  private failure: unknown = null;
  private state: 'open' | 'committing' | 'committed' | 'aborted' = 'open';
  private readonly key: string;

  /**
   * `digest` names the blob and its key; with `key` instead (digest null) the writer stores an
   * object of a resumable session's data there (see session-parts.ts), finished by `commitObject`.
   */
  constructor(
    private readonly target: S3Target,
    private readonly digest: string | null,
    key?: string,
  ) {
    this.key = key ?? target.keyOf(digest!);
  }

  async write(chunk: Buffer): Promise<void> {
    try {
      await this.writeNow(chunk);
    } catch (err) {
      throw asStoreFailure('store a blob', err);
    }
  }

  private async writeNow(chunk: Buffer): Promise<void> {
    if (this.state !== 'open') throw new Error(`write to a blob writer that is ${this.state}`);
    if (this.failure) throw this.failure;
    if (chunk.length === 0) return;
    this.pending.push(Buffer.from(chunk)); // a copy: the caller transfers `chunk` away after this
    this.pendingBytes += chunk.length;
    this.bytesWritten += chunk.length;
    while (this.pendingBytes >= this.nextPartSize()) {
      this.startPart(this.takePending(this.nextPartSize()));
      // Backpressure: beyond the bound, wait for the oldest part before accepting more bytes.
      while (this.inFlight.length >= this.target.partsInFlight) await this.settleOldest();
    }
  }

  async commit(digest: string): Promise<BlobInfo> {
    if (digest !== this.digest) {
      throw new Error(`this writer was opened for ${this.digest} (its upload is keyed by it) and cannot commit ${digest}`);
    }
    await this.finishObject();
    return { digest, size: this.bytesWritten, modifiedAt: Date.now() };
  }

  /** Stores the bytes under the writer's key, checked for their size (and MD5 where one part). */
  async commitObject(): Promise<void> {
    if (this.digest !== null) throw new Error('a blob writer commits under its digest');
    await this.finishObject();
  }

  private async finishObject(): Promise<void> {
    if (this.state !== 'open') throw new Error(`commit of a blob writer that is ${this.state}`);
    if (this.failure) throw this.failure;
    this.state = 'committing';
    try {
      if (this.uploadId) await this.completeMultipart();
      else await this.putWhole();
      this.state = 'committed';
    } catch (err) {
      this.state = 'open'; // so that abort() still cleans up
      this.failure = err;
      throw asStoreFailure('store a blob', err);
    }
  }

  async abort(): Promise<void> {
    if (this.state === 'aborted' || this.state === 'committed') return;
    this.state = 'aborted';
    await this.dropUpload();
  }

  /** Forgets buffered bytes and aborts the multipart upload, if one was started. */
  private async dropUpload(): Promise<void> {
    this.pending = [];
    this.pendingBytes = 0;
    await Promise.allSettled(this.inFlight.splice(0));
    const uploadId = await this.uploadId?.catch(() => null);
    this.uploadId = null;
    if (!uploadId) return;
    try {
      await withS3Retries(() =>
        this.target.client.send(new AbortMultipartUploadCommand({ Bucket: this.target.bucket, Key: this.key, UploadId: uploadId })),
      );
    } catch (err) {
      // Nothing is visible either way; the parts cost storage until the bucket's lifecycle rule
      // (AbortIncompleteMultipartUpload) removes them. Some S3 look-alikes (s3rver) lack this call.
      const status = statusOf(err);
      const unsupported = status === 404 || status === 405 || status === 501;
      logger[unsupported ? 'debug' : 'warn'](
        { err, key: this.key },
        'could not abort a multipart upload; a lifecycle rule must clean it up',
      );
    }
  }

  /** A blob under one part: staged, checked, then copied to its final key. */
  private async putWhole(): Promise<void> {
    const body = this.takePending(this.pendingBytes);
    if (this.digest === null) await putChecked(this.target, this.key, body);
    else await putVerified(this.target, this.digest, body);
  }

  private async completeMultipart(): Promise<void> {
    if (this.pendingBytes > 0) this.startPart(this.takePending(this.pendingBytes));
    while (this.inFlight.length > 0) await this.settleOldest();
    if (this.failure) throw this.failure;
    const uploadId = await this.uploadId!;
    try {
      await withS3Retries(() =>
        this.target.client.send(
          new CompleteMultipartUploadCommand({
            Bucket: this.target.bucket,
            Key: this.key,
            UploadId: uploadId,
            MultipartUpload: { Parts: [...this.parts].sort((a, b) => a.PartNumber! - b.PartNumber!) },
          }),
        ),
      );
    } catch (err) {
      // A retried Complete whose first try succeeded answers NoSuchUpload: the object tells.
      const landed = await objectSize(this.target, this.key).catch(() => null);
      if (landed !== this.bytesWritten) throw err;
    }
    const size = await objectSize(this.target, this.key);
    if (size !== this.bytesWritten) {
      throw new Error(`multipart upload of ${this.key} completed with ${size ?? 'no'} bytes; ${this.bytesWritten} were written`);
    }
  }

  private nextPartSize(): number {
    return partSize(this.target.partSizeBytes, this.partsStarted + 1);
  }

  /** Removes exactly `n` bytes from the front of the pending chunks, as one Buffer. */
  private takePending(n: number): Buffer {
    const taken: Buffer[] = [];
    let need = n;
    while (need > 0) {
      const head = this.pending[0]!;
      if (head.length <= need) {
        taken.push(head);
        this.pending.shift();
        need -= head.length;
      } else {
        taken.push(head.subarray(0, need));
        this.pending[0] = head.subarray(need);
        need = 0;
      }
    }
    this.pendingBytes -= n;
    return taken.length === 1 ? taken[0]! : Buffer.concat(taken, n);
  }

  private startPart(body: Buffer): void {
    const number = ++this.partsStarted;
    this.uploadId ??= withS3Retries(() =>
      this.target.client.send(
        new CreateMultipartUploadCommand({ Bucket: this.target.bucket, Key: this.key, ContentType: 'application/octet-stream' }),
      ),
    ).then((res) => {
      if (!res.UploadId) throw new Error(`CreateMultipartUpload for ${this.key} returned no UploadId`);
      return res.UploadId;
    });
    const uploading = this.uploadPart(number, body).catch((err: unknown) => {
      this.failure ??= err;
    });
    this.inFlight.push(uploading);
  }

  private async uploadPart(number: number, body: Buffer): Promise<void> {
    const uploadId = await this.uploadId!;
    const res = await withS3Retries(() =>
      this.target.client.send(
        new UploadPartCommand({
          Bucket: this.target.bucket,
          Key: this.key,
          UploadId: uploadId,
          PartNumber: number,
          Body: body,
          ContentLength: body.length,
        }),
      ),
    );
    this.parts.push({ PartNumber: number, ETag: res.ETag });
  }

  private async settleOldest(): Promise<void> {
    await this.inFlight.shift();
    if (this.failure) throw this.failure;
  }
}
