// The two places a node keeps blobs, for test files that hold one rule against both: the disk
// store, and an S3 bucket (a real s3rver) behind the edge cache; with what a test does to a
// stored blob behind the server's back. blobBackends() registers the file's before/after hooks:
// one s3rver for the file, and every server a backend starts is disposed after it.
import { DeleteObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { startS3, type TestS3 } from './s3.js';
import { startServer, type TestServer } from './server.js';

export interface BlobBackend {
  label: string;
  /** A server on this backend, disposed after the file. */
  start(): Promise<TestServer>;
  /** When the stored blob was last written or refreshed, in ms. */
  writtenAt(server: TestServer, digest: string): Promise<number>;
  /** Makes the stored blob look old: an hour back on disk; S3 cannot be told, so its second passes. */
  age(server: TestServer, digest: string): Promise<void>;
  /** Replaces the stored bytes, aged as `age` does: damage found in production is older than the run that finds it. */
  replace(server: TestServer, digest: string, bytes: Buffer): Promise<void>;
  remove(server: TestServer, digest: string): Promise<void>;
  /** How many objects or files were moved aside (quarantine/). */
  quarantined(server: TestServer): Promise<number>;
  /** Names of what the disk store is writing (its temporary folder); null where the store is not a disk. */
  beingWritten(server: TestServer): Promise<string[] | null>;
}

const hexOf = (digest: string) => digest.slice('sha256:'.length);
const diskPath = (server: TestServer, digest: string) => join(server.dataDir, 'blobs', 'sha256', hexOf(digest).slice(0, 2), hexOf(digest));
/** S3 keeps LastModified in whole seconds; the stores spare an object written within the second of a cutoff. */
const pastTheSecond = () => new Promise<void>((resolve) => setTimeout(resolve, 1_500));
const anHourAgo = () => new Date(Date.now() - 3_600_000);

/** The disk store and S3 behind the edge cache, for the test file named `name` (its bucket prefix). */
export function blobBackends(name: string): BlobBackend[] {
  let s3: TestS3;
  const prefix = `${name}${randomBytes(3).toString('hex')}/`;
  const servers: TestServer[] = [];
  before(async () => {
    s3 = await startS3();
  });
  after(async () => {
    for (const s of servers) await s.dispose();
    await s3?.dispose();
  });
  const tracked = async (server: Promise<TestServer>) => {
    servers.push(await server);
    return servers[servers.length - 1]!;
  };
  const key = (digest: string) => `${prefix}blobs/sha256/${hexOf(digest).slice(0, 2)}/${hexOf(digest)}`;
  return [
    {
      label: 'disk store',
      start: () => tracked(startServer()),
      writtenAt: async (server, digest) => (await stat(diskPath(server, digest))).mtimeMs,
      age: (server, digest) => utimes(diskPath(server, digest), anHourAgo(), anHourAgo()),
      replace: async (server, digest, bytes) => {
        await writeFile(diskPath(server, digest), bytes);
        await utimes(diskPath(server, digest), anHourAgo(), anHourAgo());
      },
      remove: (server, digest) => rm(diskPath(server, digest)),
      quarantined: async (server) => (await readdir(join(server.dataDir, 'blobs', 'quarantine')).catch(() => [])).length,
      beingWritten: (server) => readdir(join(server.dataDir, 'blobs', 'tmp')).catch(() => []),
    },
    {
      label: 'S3 bucket behind the edge cache',
      start: () => tracked(startServer({ env: s3.serviceEnv(prefix) })),
      // LastModified, or the refresh's time in the object's metadata where later (s3rver keeps
      // LastModified on a self-copy; the store reads both, see s3-blob-store.ts).
      writtenAt: async (_server, digest) => {
        const head = await s3.client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: key(digest) }));
        const refreshed = Date.parse(head.Metadata?.['modelgate-refreshed'] ?? '');
        return Math.max(head.LastModified!.getTime(), Number.isNaN(refreshed) ? 0 : refreshed);
      },
      age: pastTheSecond,
      // The store moves aside only an object last written over a second before the run that looks
      // at it (a newer one may be a fresh re-upload): without the wait, a fast machine would find
      // the damage within the second and (rightly) move nothing.
      replace: async (_server, digest, bytes) => {
        await s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: key(digest), Body: bytes, ContentLength: bytes.length }));
        await pastTheSecond();
      },
      remove: async (_server, digest) => {
        await s3.client.send(new DeleteObjectCommand({ Bucket: s3.bucket, Key: key(digest) }));
      },
      quarantined: async () =>
        (await s3.client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: `${prefix}quarantine/` }))).Contents?.length ?? 0,
      beingWritten: async () => null,
    },
  ];
}
