// What a writer needs from its store: the client, where keys go, and a HEAD.
import type { S3Client } from '@aws-sdk/client-s3';
import type { BlobInfo } from '../blob-store.js';

export interface S3Target {
  readonly client: S3Client;
  readonly bucket: string;
  /** Put in front of every key (blobs and staging objects). */
  readonly prefix: string;
  readonly partSizeBytes: number;
  readonly partsInFlight: number;
  keyOf(digest: string): string;
  stat(digest: string): Promise<BlobInfo | null>;
}
