// Server-side copies: marking an existing object as freshly written, and moving one aside.
// Marks an existing object as freshly written. S3 has no utime: copying an object onto itself with
// replaced metadata is the one way to move its LastModified, which is what garbage collection
// compares with its cutoff (a re-upload of a blob must not lose it to a concurrent sweep).
// CopyObject takes sources up to 5 GiB; larger objects are copied part by part (UploadPartCopy).
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  UploadPartCopyCommand,
  type CompletedPart,
  type S3Client,
} from '@aws-sdk/client-s3';
import { withS3Retries } from './errors.js';

const MAX_SINGLE_COPY = 5 * 1024 ** 3;
const COPY_PART = 1024 ** 3;

/** The metadata key (x-amz-meta-…) a refresh writes its time into; the store reads it back (s3rver keeps LastModified). */
export const REFRESHED_KEY = 'modelgate-refreshed';

export function touchObject(client: S3Client, bucket: string, key: string, size: number): Promise<void> {
  return copyObject(client, bucket, key, key, size, { [REFRESHED_KEY]: new Date().toISOString() });
}

/** Server-side copy of `from` to `to` (both keys in `bucket`), with new metadata. */
export async function copyObject(
  client: S3Client,
  bucket: string,
  from: string,
  key: string,
  size: number,
  Metadata: Record<string, string>,
): Promise<void> {
  const source = `${bucket}/${from}`; // keys are hex, dots and slashes only: nothing to escape
  if (size <= MAX_SINGLE_COPY) {
    await withS3Retries(() =>
      client.send(
        new CopyObjectCommand({
          Bucket: bucket,
          Key: key,
          CopySource: source,
          MetadataDirective: 'REPLACE',
          Metadata,
          ContentType: 'application/octet-stream',
        }),
      ),
    );
    return;
  }
  const { UploadId } = await withS3Retries(() =>
    client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, Metadata, ContentType: 'application/octet-stream' })),
  );
  try {
    const parts: CompletedPart[] = [];
    for (let start = 0, n = 1; start < size; start += COPY_PART, n++) {
      const end = Math.min(size, start + COPY_PART) - 1;
      const res = await withS3Retries(() =>
        client.send(
          new UploadPartCopyCommand({
            Bucket: bucket,
            Key: key,
            UploadId,
            PartNumber: n,
            CopySource: source,
            CopySourceRange: `bytes=${start}-${end}`,
          }),
        ),
      );
      parts.push({ PartNumber: n, ETag: res.CopyPartResult?.ETag });
    }
    await withS3Retries(() =>
      client.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId, MultipartUpload: { Parts: parts } })),
    );
  } catch (err) {
    await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId })).catch(() => undefined);
    throw err;
  }
}
