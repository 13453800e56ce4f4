// The BlobStore conformance suite (test/conformance/blob-store.ts) run against every implementation:
// the disk store, the S3 store (on a real s3rver), and the edge cache in front of the S3 store.
import { join } from 'node:path';
import { after, before } from 'node:test';
import { CachedBlobStore } from '../src/blobs/edge-cache.js';
import { FsBlobStore } from '../src/blobs/fs-blob-store.js';
import { S3BlobStore } from '../src/blobs/s3-blob-store.js';
import { blobStoreConformance, MiB, type Subject } from './conformance/blob-store.js';
import { startS3, type TestS3 } from './harness/s3.js';

let s3: TestS3;
const subjects: Subject[] = [
  { name: 'FsBlobStore', answersAtOnce: true, open: (dir) => FsBlobStore.open(dir) },
  { name: 'S3BlobStore', answersAtOnce: false, open: async () => new S3BlobStore(s3.storeOptions()) },
  {
    name: 'CachedBlobStore over S3BlobStore',
    answersAtOnce: true,
    open: (dir) => CachedBlobStore.open(new S3BlobStore(s3.storeOptions()), { dir: join(dir, 'cache'), maxBytes: 256 * MiB }),
  },
];

before(async () => {
  s3 = await startS3();
});
after(async () => {
  await s3?.dispose();
});

for (const subject of subjects) blobStoreConformance(subject);
