// Upload sessions behind a load balancer without stickiness (#14 item 10): three nodes sharing
// Redis and one bucket (s3rver), every request of a session on another node. A chunked /v1/uploads
// session and a real skopeo push (through a per-request round robin) complete; the session belongs
// to its opener on every node; nothing appears under a digest unless its bytes are that blob.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { sha256, waitFor } from './harness/http.js';
import { writeLayout } from './harness/oci-layout.js';
import { randomPrefix, startRedis, type TestRedis } from './harness/redis.js';
import { startRoundRobin } from './harness/round-robin.js';
import { startS3, type TestS3 } from './harness/s3.js';
import { startServer, type TestServer } from './harness/server.js';
import { blobObjectSize, chunkedUpload, fetchBlob, sessionCommits, sessionObjectCount } from './harness/sessions.js';
import { createToken } from './harness/tokens.js';

const MiB = 1024 * 1024;
let redis: TestRedis;
let s3: TestS3;
let nodes: TestServer[] = [];
let writer: { id: string; token: string };
let other: { id: string; token: string };
const prefix = `mn${randomBytes(3).toString('hex')}/`;

before(async () => {
  redis = await startRedis();
  s3 = await startS3();
  const env = {
    ...s3.serviceEnv(prefix),
    MODELGATE_CONTROL_BACKEND: 'redis',
    MODELGATE_REDIS_URL: redis.url,
    MODELGATE_REDIS_PREFIX: randomPrefix(),
    MODELGATE_ANTI_ENTROPY_MS: '200',
  };
  for (let i = 0; i < 3; i++) nodes.push(await startServer({ env }));
  writer = await createToken(nodes[0]!, 'mn-writer', 'writer');
  other = await createToken(nodes[0]!, 'mn-other', 'writer');
  // Every node knows both tokens before a session hops between them.
  for (const node of nodes) {
    for (const t of [writer, other]) {
      await waitFor(
        async () => (await fetch(`${node.url}/v1/whoami`, { headers: { Authorization: `Bearer ${t.token}` } })).status === 200,
        10_000,
        'the token on every node',
      );
    }
  }
});
after(async () => {
  await Promise.all(nodes.map((n) => n.dispose().catch(() => undefined)));
  nodes = [];
  await s3?.dispose();
  await redis?.dispose();
});

const hop = (i: number) => nodes[i % nodes.length]!;

async function totals(): Promise<{ onArrival: number; readBack: number }> {
  const all = await Promise.all(nodes.map(sessionCommits));
  return all.reduce((a, b) => ({ onArrival: a.onArrival + b.onArrival, readBack: a.readBack + b.readBack }));
}

describe('upload sessions across three nodes (Redis + S3)', () => {
  test('a chunked /v1/uploads session alternating between nodes commits on a third, hashed by reading back; every node serves it', async () => {
    for (const chunk of [6 * MiB, MiB]) {
      // 6 MiB chunks are joined inside the bucket; 1 MiB ones (under S3's part minimum) are sent once more.
      const data = randomBytes(2 * chunk + 12345);
      const before = await totals();
      const up = await chunkedUpload(data, chunk, hop, writer.token);
      assert.equal(up.status, 201, JSON.stringify(up.body));
      assert.deepEqual(await totals(), { onArrival: before.onArrival, readBack: before.readBack + 1 });
      assert.equal(await blobObjectSize(s3, prefix, up.digest), data.length);
      for (const node of nodes) assert.ok((await fetchBlob(node, writer.token, up.digest))?.equals(data), `${node.url} serves the blob`);
      assert.equal(await sessionObjectCount(s3, prefix, up.id), 0, 'the session parts are removed after the commit');
    }
  });

  test('chunks in order on one node of three: the commit there takes the digest hashed on arrival', async () => {
    const data = randomBytes(11 * MiB);
    const before = await totals();
    const up = await chunkedUpload(data, 5 * MiB, () => nodes[1]!, writer.token);
    assert.equal(up.status, 201, JSON.stringify(up.body));
    assert.deepEqual(await totals(), { onArrival: before.onArrival + 1, readBack: before.readBack });
    assert.ok((await fetchBlob(nodes[2]!, writer.token, up.digest))?.equals(data));
  });

  test('a wrong digest after hopping nodes is refused: nothing under either digest, the parts are gone', async () => {
    const data = randomBytes(3 * MiB);
    const wrong = sha256(Buffer.concat([data, Buffer.from('!')]));
    const up = await chunkedUpload(data, MiB, hop, writer.token, wrong);
    assert.equal(up.status, 400);
    assert.equal(up.body.error.code, 'DIGEST_MISMATCH');
    assert.equal(await blobObjectSize(s3, prefix, wrong), null);
    assert.equal(await blobObjectSize(s3, prefix, sha256(data)), null);
    assert.equal(await sessionObjectCount(s3, prefix, up.id), 0);
  });

  test('the session belongs to its opener on every node; an admin elsewhere may cancel it, not write to it', async () => {
    const open = await fetch(`${nodes[0]!.url}/v1/uploads`, { method: 'POST', headers: { Authorization: `Bearer ${writer.token}` } });
    const { id } = (await open.json()) as { id: string };
    const patch = (node: TestServer, token: string, at: number) =>
      fetch(`${node.url}/v1/uploads/${id}`, {
        method: 'PATCH',
        headers: { Authorization: `Bearer ${token}`, 'Content-Range': `bytes ${at}-${at + 9}/*` },
        body: Buffer.alloc(10, 7),
      });
    assert.equal((await patch(nodes[1]!, writer.token, 0)).status, 202);
    for (const node of nodes) {
      assert.equal((await patch(node, other.token, 10)).status, 404, 'another writer token');
      assert.equal((await patch(node, node.token, 10)).status, 404, 'an admin may not write');
      const status = await fetch(`${node.url}/v1/uploads/${id}`, { headers: { Authorization: `Bearer ${writer.token}` } });
      assert.equal(((await status.json()) as any).offset, 10, `${node.url} sees the offset`);
    }
    assert.equal(await sessionObjectCount(s3, prefix, id), 1);
    const cancel = await fetch(`${nodes[2]!.url}/v1/uploads/${id}`, {
      method: 'DELETE',
      headers: { Authorization: `Bearer ${nodes[2]!.token}` },
    });
    assert.equal(cancel.status, 204);
    const gone = await fetch(`${nodes[0]!.url}/v1/uploads/${id}`, { headers: { Authorization: `Bearer ${writer.token}` } });
    assert.equal(gone.status, 404);
    assert.equal(await sessionObjectCount(s3, prefix, id), 0);
  });

  test('two chunks racing from one offset on two nodes: one is kept, the other answered 416 with the offset', async () => {
    const open = await fetch(`${nodes[0]!.url}/v1/uploads`, { method: 'POST', headers: { Authorization: `Bearer ${writer.token}` } });
    const { id } = (await open.json()) as { id: string };
    const a = randomBytes(MiB);
    const b = randomBytes(MiB);
    const send = (node: TestServer, body: Buffer) =>
      fetch(`${node.url}/v1/uploads/${id}`, {
        method: 'PATCH',
        headers: { Authorization: `Bearer ${writer.token}`, 'Content-Range': `bytes 0-${MiB - 1}/*` },
        body,
      });
    const [ra, rb] = await Promise.all([send(nodes[1]!, a), send(nodes[2]!, b)]);
    const statuses = [ra.status, rb.status].sort();
    assert.deepEqual(statuses, [202, 416]);
    const kept = ra.status === 202 ? a : b;
    const done = await fetch(`${nodes[0]!.url}/v1/uploads/${id}?digest=${sha256(kept)}`, {
      method: 'PUT',
      headers: { Authorization: `Bearer ${writer.token}` },
    });
    assert.equal(done.status, 201, await done.text());
    assert.ok((await fetchBlob(nodes[0]!, writer.token, sha256(kept)))?.equals(kept));
  });

  test('skopeo pushes through a load balancer that sends every request to the next node', async () => {
    const lb = await startRoundRobin(() => nodes.map((n) => n.url));
    const work = await mkdtemp(join(tmpdir(), 'modelgate-mn-skopeo-'));
    try {
      const files = { 'model.safetensors': randomBytes(7 * MiB + 3), 'config.json': Buffer.from('{"hidden_size":8}') };
      const src = await writeLayout(join(work, 'src'), 'v1', files);
      const before = await totals();
      await new Promise<void>((resolve, reject) =>
        execFile(
          'skopeo',
          [
            'copy',
            '--preserve-digests',
            '--dest-creds',
            `skopeo:${writer.token}`,
            '--dest-tls-verify=false',
            `oci:${src.dir}:v1`,
            `docker://127.0.0.1:${lb.port}/team/lb:staging`,
          ],
          { timeout: 120_000 },
          (err, _stdout, stderr) => (err ? reject(new Error(`skopeo failed: ${stderr}`)) : resolve()),
        ),
      );
      assert.ok(lb.counts.every((n) => n > 0) && lb.counts.length === 3, `every node took requests: ${lb.counts}`);
      const after = await totals();
      assert.ok(after.onArrival + after.readBack > before.onArrival + before.readBack, 'the blobs went through upload sessions');
      for (const [path, bytes] of Object.entries(files)) {
        for (const node of nodes) {
          const res = await fetch(`${node.url}/v1/models/team/lb@staging/files/${path}`, {
            headers: { Authorization: `Bearer ${writer.token}` },
          });
          assert.equal(res.status, 200, `${node.url} ${path}`);
          assert.ok(Buffer.from(await res.arrayBuffer()).equals(bytes), `${path} from ${node.url}`);
        }
      }
      const head = await fetch(`${nodes[2]!.url}/v2/team/lb/manifests/staging`, {
        method: 'HEAD',
        headers: { Authorization: `Bearer ${writer.token}` },
      });
      assert.equal(head.headers.get('docker-content-digest'), src.manifestDigest);
    } finally {
      await lb.close();
      await rm(work, { recursive: true, force: true });
    }
  });
});
