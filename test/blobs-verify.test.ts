// `modelgate blobs verify [--repair]` (and POST /v1/blobs/verify under it) on a disk store and on
// an S3 bucket (s3rver behind the test proxy): a blob whose stored bytes were damaged (same size,
// so nothing else notices) is reported; --repair moves it aside so it reads as missing, and the move
// is audited; the next upload stores it whole again; only admins may run it.
import { HeadObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runCli } from './harness/cli.js';
import { api, auth, registerFiles, sha256, uploadBlob } from './harness/http.js';
import { startS3, type TestS3 } from './harness/s3.js';
import { startServer, type TestServer } from './harness/server.js';
import { createToken } from './harness/tokens.js';

let s3: TestS3;
const prefix = `verify${randomBytes(3).toString('hex')}/`;
const servers: TestServer[] = [];

before(async () => {
  s3 = await startS3();
});
after(async () => {
  for (const s of servers) await s.dispose();
  await s3?.dispose();
});

interface Backend {
  label: string;
  start(): Promise<TestServer>;
  /** Replaces the stored bytes of `digest` behind the server's back. */
  damage(server: TestServer, digest: string, bytes: Buffer): Promise<void>;
  /** How many objects or files were moved aside. */
  quarantined(server: TestServer): Promise<number>;
}

const hexOf = (digest: string) => digest.slice('sha256:'.length);

const backends: Backend[] = [
  {
    label: 'disk store',
    start: () => startServer(),
    damage: (server, digest, bytes) => writeFile(join(server.dataDir, 'blobs', 'sha256', hexOf(digest).slice(0, 2), hexOf(digest)), bytes),
    quarantined: async (server) => (await readdir(join(server.dataDir, 'blobs', 'quarantine')).catch(() => [])).length,
  },
  {
    label: 'S3 bucket behind the edge cache',
    start: () => startServer({ env: s3.serviceEnv(prefix) }),
    damage: async (_server, digest, bytes) => {
      const Key = `${prefix}blobs/sha256/${hexOf(digest).slice(0, 2)}/${hexOf(digest)}`;
      await s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key, Body: bytes, ContentLength: bytes.length }));
      // The store moves aside only an object last written over a second before the run looked at
      // it (S3 keeps LastModified in whole seconds, and a newer object may be a fresh re-upload).
      // Damage found in production is older than that: let this write age past it, or a fast
      // machine runs --repair within the second and (rightly) moves nothing.
      const head = await s3.client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key }));
      const aged = (head.LastModified?.getTime() ?? Date.now()) + 1_500;
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, aged - Date.now())));
    },
    quarantined: async () =>
      (await s3.client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: `${prefix}quarantine/` }))).Contents?.length ?? 0,
  },
];

for (const b of backends) {
  describe(b.label, () => {
    test('a damaged blob is reported, moved aside with --repair, and uploaded again by the next push', async () => {
      const server = await b.start();
      servers.push(server);
      const good = Buffer.from('a small file that stays intact');
      const weights = randomBytes(3 * 1024 * 1024);
      await registerFiles(server, 'verify/model', { 'config.json': good, 'weights.bin': weights });
      const digest = sha256(weights);
      const env = { MODELGATE_URL: server.url, MODELGATE_TOKEN: server.token };

      const clean = await runCli(['blobs', 'verify'], env);
      assert.equal(clean.code, 0, clean.stderr);
      assert.match(clean.stdout, /checked 2 blobs .*\nevery blob matches its digest/);

      // Same length, other bytes: HEAD and the registered size still agree; only a re-hash tells.
      const damaged = randomBytes(weights.length);
      await b.damage(server, digest, damaged);

      const found = await runCli(['blobs', 'verify', '--json'], env);
      assert.equal(found.code, 1, 'a damaged blob left in place is a failure');
      const report = JSON.parse(found.stdout);
      assert.equal(report.checked, 2);
      assert.deepEqual(report.mismatched, [{ digest, size: weights.length, actual: sha256(damaged), movedAside: false }]);
      assert.equal(await b.quarantined(server), 0, 'without --repair nothing moves');

      const writer = await createToken(server, 'verify-writer', 'writer');
      const refused = await runCli(['blobs', 'verify', '--repair'], { MODELGATE_URL: server.url, MODELGATE_TOKEN: writer.token });
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /HTTP 403/);
      assert.equal(await b.quarantined(server), 0, 'a refused run moves nothing');

      const repaired = await runCli(['blobs', 'verify', '--repair'], env);
      assert.equal(repaired.code, 0, repaired.stdout + repaired.stderr);
      assert.match(repaired.stdout, new RegExp(`DAMAGED ${digest}: .*moved aside`));
      assert.equal(await b.quarantined(server), 1);
      // The move is audited, attributed to the caller, and the chain still verifies.
      const audit = await api(server, 'GET', '/v1/audit?action=blob.quarantine');
      assert.equal(audit.status, 200);
      assert.equal(audit.json.entries.length, 1, 'one move, one entry (the refused run and the reports moved nothing)');
      const [entry] = audit.json.entries;
      assert.equal(entry.target, digest);
      assert.equal(entry.actor.id, 'admin');
      assert.equal(entry.details.actual, sha256(damaged));
      assert.equal(entry.details.size, weights.length);
      assert.equal((await api(server, 'GET', '/v1/audit/verify')).status, 200);
      const head = await fetch(`${server.url}/v1/blobs/${digest}`, { method: 'HEAD', headers: auth(server) });
      assert.equal(head.status, 404, 'moved aside: it reads as missing, so a push uploads it again');

      assert.equal(await uploadBlob(server, weights), digest);
      const after = await runCli(['blobs', 'verify', '--json'], env);
      assert.equal(after.code, 0, after.stderr);
      assert.deepEqual(JSON.parse(after.stdout).mismatched, []);
      const body = Buffer.from(
        await (await fetch(`${server.url}/v1/models/verify/model@v1/files/weights.bin`, { headers: auth(server) })).arrayBuffer(),
      );
      assert.ok(body.equals(weights), 'the file is served whole again');
    });
  });
}
