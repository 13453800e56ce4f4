// Joining an upload session's chunks inside the bucket (#14 item 10): a commit copies the parts,
// in order, under the digest's key with UploadPartCopy, so no byte travels to the bucket twice.
// s3rver has no UploadPartCopy, so this runs against moto's S3 server, which has it and, like S3,
// refuses parts under 5 MiB other than the last. Two nodes share Redis and the bucket; the proxy in
// front of the bucket counts what the nodes send it, which tells a join in place (a few requests)
// from the bytes sent once more.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { waitFor } from './harness/http.js';
import { randomPrefix, startRedis, type TestRedis } from './harness/redis.js';
import { startS3, type TestS3 } from './harness/s3.js';
import { startServer, type TestServer } from './harness/server.js';
import { blobObjectSize, chunkedUpload, fetchBlob, sessionCommits, sessionObjectCount } from './harness/sessions.js';
import { createToken } from './harness/tokens.js';

const MiB = 1024 * 1024;
let redis: TestRedis;
let s3: TestS3;
let nodes: TestServer[] = [];
let writer: { id: string; token: string };
const prefix = `join${randomBytes(3).toString('hex')}/`;

before(async () => {
  redis = await startRedis();
  s3 = await startS3({ server: 'moto' });
  const env = {
    ...s3.serviceEnv(prefix),
    MODELGATE_CONTROL_BACKEND: 'redis',
    MODELGATE_REDIS_URL: redis.url,
    MODELGATE_REDIS_PREFIX: randomPrefix(),
    MODELGATE_ANTI_ENTROPY_MS: '200',
  };
  for (let i = 0; i < 2; i++) nodes.push(await startServer({ env }));
  writer = await createToken(nodes[0]!, 'join-writer', 'writer');
  for (const node of nodes) {
    await waitFor(
      async () => (await fetch(`${node.url}/v1/whoami`, { headers: { Authorization: `Bearer ${writer.token}` } })).status === 200,
      10_000,
      'the token on every node',
    );
  }
});
after(async () => {
  await Promise.all(nodes.map((n) => n.dispose().catch(() => undefined)));
  nodes = [];
  await s3?.dispose();
  await redis?.dispose();
});

/** Sends `data` as a session in `chunk` pieces (node by `pick`); what the nodes sent the bucket during the commit. */
async function uploadAndMeasureCommit(data: Buffer, chunk: number, pick: (i: number) => TestServer) {
  let atCommit = 0;
  const up = await chunkedUpload(data, chunk, pick, writer.token, undefined, () => {
    atCommit = s3.bytesReceived();
  });
  return { up, sentDuringCommit: s3.bytesReceived() - atCommit };
}

describe('upload sessions joined inside the bucket (moto: UploadPartCopy)', () => {
  test('a session that moved between nodes: hashed by reading back, then joined in place from three parts', async () => {
    const data = randomBytes(2 * 6 * MiB + 54321);
    const before = await Promise.all(nodes.map(sessionCommits));
    const { up, sentDuringCommit } = await uploadAndMeasureCommit(data, 6 * MiB, (i) => nodes[i % 2]!);
    assert.equal(up.status, 201, JSON.stringify(up.body));
    const after = await Promise.all(nodes.map(sessionCommits));
    assert.equal(
      after.reduce((n, c) => n + c.readBack, 0),
      before.reduce((n, c) => n + c.readBack, 0) + 1,
      'hashed by reading back',
    );
    assert.ok(sentDuringCommit < MiB, `the commit sent the bucket ${sentDuringCommit} bytes: joined in place, not sent again`);
    assert.equal(await blobObjectSize(s3, prefix, up.digest), data.length);
    for (const node of nodes)
      assert.ok((await fetchBlob(node, writer.token, up.digest))?.equals(data), `${node.url} serves the joined blob`);
    assert.equal(await sessionObjectCount(s3, prefix, up.id), 0, 'the parts are removed after the commit');
  });

  test('chunks in order on one node: the digest hashed on arrival, the parts joined in place', async () => {
    const data = randomBytes(5 * MiB + 5 * MiB + 7);
    const before = await sessionCommits(nodes[1]!);
    const { up, sentDuringCommit } = await uploadAndMeasureCommit(data, 5 * MiB, () => nodes[1]!);
    assert.equal(up.status, 201, JSON.stringify(up.body));
    assert.equal((await sessionCommits(nodes[1]!)).onArrival, before.onArrival + 1);
    assert.ok(sentDuringCommit < MiB, `the commit sent the bucket ${sentDuringCommit} bytes`);
    assert.ok((await fetchBlob(nodes[0]!, writer.token, up.digest))?.equals(data));
    assert.equal(await sessionObjectCount(s3, prefix, up.id), 0);
  });

  test('chunks under the 5 MiB part minimum cannot be joined: the verified bytes are sent once more, whole', async () => {
    const data = randomBytes(3 * MiB + 99);
    const { up, sentDuringCommit } = await uploadAndMeasureCommit(data, MiB, (i) => nodes[i % 2]!);
    assert.equal(up.status, 201, JSON.stringify(up.body));
    assert.ok(sentDuringCommit >= data.length, `the commit sent ${sentDuringCommit} bytes for ${data.length}`);
    assert.equal(await blobObjectSize(s3, prefix, up.digest), data.length);
    assert.ok((await fetchBlob(nodes[1]!, writer.token, up.digest))?.equals(data));
    assert.equal(await sessionObjectCount(s3, prefix, up.id), 0);
  });
});
