// Storing a blob smaller than one part. A PutObject straight to the final key can leave a short
// object there when the connection breaks mid-body (S3 refuses such a request, but S3-compatible
// servers such as s3rver keep what arrived), and a later HEAD would then report the blob present.
// So the bytes go to a staging key first, with Content-MD5 (checked by S3 itself); the staged
// object's size and ETag are checked; only then a server-side copy makes it visible under the
// final key, whose size and ETag are checked again. The staging object is removed either way.
// Staging keys live under <prefix>staging/, outside the blob listing; a lifecycle rule that
// expires that prefix after a day removes what a crashed node leaves behind.
import { CopyObjectCommand, DeleteObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { createHash, randomUUID } from 'node:crypto';
import { logger } from '../../log.js';
import type { BlobInfo } from '../blob-store.js';
import { isNotFound, StoredObjectMismatchError, withS3Retries } from './errors.js';
import type { S3Target } from './s3-target.js';

export function stagingKeyOf(prefix: string, digest: string): string {
  return `${prefix}staging/${digest.slice('sha256:'.length)}.${randomUUID()}`;
}

export async function putVerified(target: S3Target, digest: string, body: Buffer): Promise<BlobInfo> {
  const md5 = createHash('md5').update(body).digest();
  const staging = stagingKeyOf(target.prefix, digest);
  const finalKey = target.keyOf(digest);
  const { client, bucket } = target;
  try {
    await withS3Retries(async () => {
      await client.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: staging,
          Body: body,
          ContentLength: body.length,
          ContentMD5: md5.toString('base64'),
          ContentType: 'application/octet-stream',
        }),
      );
      await expectObject(target, staging, body.length, md5);
    });
    await withS3Retries(async () => {
      // The staged object's metadata is copied as it is (MetadataDirective COPY, the default).
      await client.send(new CopyObjectCommand({ Bucket: bucket, Key: finalKey, CopySource: `${bucket}/${staging}` }));
      await expectObject(target, finalKey, body.length, md5);
    });
  } finally {
    await withS3Retries(() => client.send(new DeleteObjectCommand({ Bucket: bucket, Key: staging }))).catch((err: unknown) =>
      logger.warn({ err, key: staging }, 'could not remove a staging object; the staging lifecycle rule will'),
    );
  }
  return { digest, size: body.length, modifiedAt: Date.now() };
}

/** PutObject of `body` to `key` with Content-MD5, then its size and ETag checked (no staging: the key is not a digest's). */
export async function putChecked(target: S3Target, key: string, body: Buffer): Promise<void> {
  const md5 = createHash('md5').update(body).digest();
  await withS3Retries(async () => {
    await target.client.send(
      new PutObjectCommand({
        Bucket: target.bucket,
        Key: key,
        Body: body,
        ContentLength: body.length,
        ContentMD5: md5.toString('base64'),
        ContentType: 'application/octet-stream',
      }),
    );
    await expectObject(target, key, body.length, md5);
  });
}

/** The size of the object under `key`, or null if there is none. */
export async function objectSize(target: S3Target, key: string): Promise<number | null> {
  try {
    const head = await withS3Retries(() => target.client.send(new HeadObjectCommand({ Bucket: target.bucket, Key: key })));
    return head.ContentLength ?? 0;
  } catch (err) {
    if (isNotFound(err)) return null;
    throw err;
  }
}

/**
 * Checks an object's size and, where the ETag is an MD5 (single-part objects without SSE-KMS),
 * its content. Throws StoredObjectMismatchError otherwise.
 */
async function expectObject(target: S3Target, key: string, size: number, md5: Buffer): Promise<void> {
  const head = await target.client.send(new HeadObjectCommand({ Bucket: target.bucket, Key: key }));
  const etag = head.ETag?.replace(/"/g, '') ?? '';
  const etagIsMd5 = /^[0-9a-f]{32}$/.test(etag);
  if (head.ContentLength !== size || (etagIsMd5 && etag !== md5.toString('hex'))) {
    throw new StoredObjectMismatchError(
      `${key} holds ${head.ContentLength} bytes with ETag ${head.ETag}; ${size} bytes with MD5 ${md5.toString('hex')} were sent`,
    );
  }
}
