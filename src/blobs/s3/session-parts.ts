// The data of resumable upload sessions on S3: each chunk a session accepts is one object under
// <prefix>uploads/<session>/<offset>.<uuid>, so that any node can append to, read back and
// commit any session (its state lives in the control store's shared table). A commit whose
// digest is verified copies the parts to the blob's key inside the bucket (CopyObject for one
// part, UploadPartCopy for several that S3 accepts as parts), so no byte travels twice.
// A lifecycle rule that expires <prefix>uploads/ after a few days removes what a crashed node
// leaves behind; the session sweep removes the parts of expired sessions.
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  UploadPartCopyCommand,
  type CompletedPart,
} from '@aws-sdk/client-s3';
import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { logger } from '../../log.js';
import { asStoreFailure, statusOf, withS3Retries } from './errors.js';
import { MAX_PARTS, MIN_PART_BYTES } from './part-plan.js';
import { objectSize } from './staged-put.js';
import type { S3Target } from './s3-target.js';
import { copyObject } from './touch.js';
import { S3BlobWriter } from './s3-writer.js';

/** One stored chunk of a session. */
export interface SessionPart {
  key: string;
  size: number;
}

/** UploadPartCopy takes sources up to 5 GiB. */
const MAX_COPY_PART = 5 * 1024 ** 3;

export class S3SessionParts {
  constructor(private readonly target: S3Target) {}

  keyFor(session: string, offset: number): string {
    return `${this.target.prefix}uploads/${session}/${offset}.${randomUUID()}`;
  }

  /** A writer for one chunk (multipart beyond one part size, else one checked PutObject). */
  writer(key: string): S3BlobWriter {
    return new S3BlobWriter(this.target, null, key);
  }

  /** Appends the parts, in order, to the local file `path` (a commit that must read the bytes back). */
  async download(parts: SessionPart[], path: string): Promise<void> {
    const { client, bucket } = this.target;
    for (const part of parts) {
      try {
        const res = await withS3Retries(() => client.send(new GetObjectCommand({ Bucket: bucket, Key: part.key })));
        await pipeline(res.Body as Readable, createWriteStream(path, { flags: 'a' }));
      } catch (err) {
        throw asStoreFailure('read back an upload session', err);
      }
    }
  }

  /**
   * Copies the parts, in order, to the blob's key inside the bucket; false (nothing written) when
   * S3 cannot join them there (a part other than the last under 5 MiB): the caller sends the bytes.
   */
  async assemble(parts: SessionPart[], digest: string): Promise<boolean> {
    const { client, bucket } = this.target;
    const key = this.target.keyOf(digest);
    const total = parts.reduce((n, p) => n + p.size, 0);
    const joinable =
      parts.length >= 1 &&
      parts.length <= MAX_PARTS &&
      parts.every((p, i) => p.size <= MAX_COPY_PART && (i === parts.length - 1 || p.size >= MIN_PART_BYTES));
    if (!joinable) return false;
    try {
      if (parts.length === 1) {
        await copyObject(client, bucket, parts[0]!.key, key, total, { 'modelgate-upload': 'session' });
      } else {
        const { UploadId } = await withS3Retries(() =>
          client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, ContentType: 'application/octet-stream' })),
        );
        try {
          const done: CompletedPart[] = [];
          for (const [i, part] of parts.entries()) {
            const res = await withS3Retries(() =>
              client.send(
                new UploadPartCopyCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: i + 1, CopySource: `${bucket}/${part.key}` }),
              ),
            );
            done.push({ PartNumber: i + 1, ETag: res.CopyPartResult?.ETag });
          }
          await withS3Retries(() =>
            client.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId, MultipartUpload: { Parts: done } })),
          );
        } catch (err) {
          await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId })).catch(() => undefined);
          if (isUnsupported(err)) {
            // Some S3 look-alikes (s3rver) lack UploadPartCopy: the bytes are sent instead.
            logger.debug({ err, key }, 'the bucket cannot copy parts; sending the session bytes instead');
            return false;
          }
          throw err;
        }
      }
      const size = await objectSize(this.target, key);
      if (size !== total) throw new Error(`joining an upload session's parts left ${size ?? 'no'} bytes under ${key}; ${total} expected`);
    } catch (err) {
      throw asStoreFailure('store a blob', err);
    }
    return true;
  }

  /** Removes the parts (a failure is logged: the lifecycle rule on uploads/ removes what is left). */
  async delete(parts: SessionPart[]): Promise<void> {
    const { client, bucket } = this.target;
    for (const part of parts) {
      await withS3Retries(() => client.send(new DeleteObjectCommand({ Bucket: bucket, Key: part.key }))).catch((err: unknown) =>
        logger.warn({ err, key: part.key }, 'could not remove an upload session part; a lifecycle rule on uploads/ must'),
      );
    }
  }
}

function isUnsupported(err: unknown): boolean {
  const status = statusOf(err);
  return status === 501 || status === 405;
}
