// Resumable uploads on one node: chunks that arrive in order are hashed as they arrive, and the
// commit takes that digest without reading the blob back; a session whose hash broke off (a
// refused chunk, a client gone mid-chunk) is hashed at commit by reading its bytes back (both seen
// in the bytes the server process reads during the commit, not only its own counters). Either
// way nothing is stored under a digest unless the bytes are exactly that blob.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { auth, sha256 } from './harness/http.js';
import { startServer, type TestServer } from './harness/server.js';
import { chunkedUpload, sessionCommits } from './harness/sessions.js';

const MiB = 1024 * 1024;
let server: TestServer;

before(async () => {
  server = await startServer();
});
after(async () => {
  await server?.dispose();
});

/**
 * Bytes the server process has read through system calls so far (all its threads: sockets, files,
 * the hashing threads' reads; /proc/<pid>/io rchar). A commit that hashes by reading the blob back
 * adds at least its size; the server's own counters are not what is asked here.
 */
function bytesReadByServer(): number {
  const io = readFileSync(`/proc/${server.child.pid}/io`, 'utf8');
  return Number(/^rchar: (\d+)$/m.exec(io)![1]);
}

async function blob(digest: string): Promise<Buffer | null> {
  const res = await fetch(`${server.url}/v1/blobs/${digest}`, { headers: auth(server) });
  return res.status === 200 ? Buffer.from(await res.arrayBuffer()) : null;
}

describe('resumable upload commits', () => {
  test('chunks in order on one node: the commit takes the digest hashed on arrival, with no read back', async () => {
    const data = randomBytes(5 * MiB + 123);
    const before = await sessionCommits(server);
    let readBefore = 0;
    const up = await chunkedUpload(
      data,
      1 * MiB + 7,
      () => server,
      server.token,
      undefined,
      () => (readBefore = bytesReadByServer()),
    );
    const readByCommit = bytesReadByServer() - readBefore;
    assert.equal(up.status, 201, JSON.stringify(up.body));
    assert.ok(readByCommit < MiB, `the commit read ${readByCommit} bytes: not the ${data.length}-byte blob`);
    const after = await sessionCommits(server);
    assert.deepEqual(after, { onArrival: before.onArrival + 1, readBack: before.readBack });
    assert.ok((await blob(up.digest))?.equals(data));
  });

  test('a wrong digest on the fast path is refused and stores nothing', async () => {
    const data = randomBytes(2 * MiB);
    const wrong = sha256(Buffer.concat([data, Buffer.from('x')]));
    const before = await sessionCommits(server);
    const up = await chunkedUpload(data, MiB, () => server, server.token, wrong);
    assert.equal(up.status, 400);
    assert.equal(up.body.error.code, 'DIGEST_MISMATCH');
    assert.equal((await sessionCommits(server)).onArrival, before.onArrival + 1, 'the digest came from the running hash');
    assert.equal(await blob(wrong), null);
    assert.equal(await blob(sha256(data)), null);
  });

  test('a chunk refused after it was hashed ends the fast path: the commit reads the bytes back and is right', async () => {
    const data = randomBytes(3 * MiB);
    const headers = auth(server);
    const opened = (await (await fetch(`${server.url}/v1/uploads`, { method: 'POST', headers })).json()) as { id: string };
    const patch = (from: number, body: Buffer, range = `bytes ${from}-${from + body.length - 1}/*`) =>
      fetch(`${server.url}/v1/uploads/${opened.id}`, { method: 'PATCH', headers: { ...headers, 'Content-Range': range }, body });
    assert.equal((await patch(0, data.subarray(0, MiB))).status, 202);
    // Announces more bytes than it sends: refused after the body (and the hash) went through.
    const refused = await patch(MiB, data.subarray(MiB, 2 * MiB), `bytes ${MiB}-${3 * MiB}/*`);
    assert.equal(refused.status, 400);
    assert.equal(((await refused.json()) as any).error.code, 'CONTENT_RANGE_MISMATCH');
    assert.equal((await patch(MiB, data.subarray(MiB))).status, 202);
    const before = await sessionCommits(server);
    const digest = sha256(data);
    const readBefore = bytesReadByServer();
    const done = await fetch(`${server.url}/v1/uploads/${opened.id}?digest=${digest}`, { method: 'PUT', headers });
    assert.equal(done.status, 201, await done.text());
    const readByCommit = bytesReadByServer() - readBefore;
    assert.ok(readByCommit >= data.length, `the commit read ${readByCommit} bytes: the whole blob back`);
    assert.deepEqual(await sessionCommits(server), { onArrival: before.onArrival, readBack: before.readBack + 1 });
    assert.ok((await blob(digest))?.equals(data));
  });
});
