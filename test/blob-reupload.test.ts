// A second upload of a blob the store already holds, on every route that takes a monolithic body
// (v1 POST /v1/blobs and the OCI monolithic POST both go through blob-intake.ts): the body is
// received and hashed in full but not written again (nothing lands in the disk store's temporary
// folder while it streams), the answer says the blob existed, and the stored blob is marked
// freshly written; unless the caller may not know the blob is stored (a scoped token, another
// scope's blob), for whom it is written as if new. Other bytes under its digest are refused. Where
// the stored copy proves short, or goes away while the body streams, the body was not kept: 503
// BLOB_NOT_KEPT, retryable, and the next attempt stores it. Against the disk store and against S3
// behind the edge cache.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { describe, before, test } from 'node:test';
import { blobBackends } from './harness/blob-backends.js';
import { auth, registerFiles, sha256Hex, uploadBlob } from './harness/http.js';
import type { TestServer } from './harness/server.js';
import { createToken } from './harness/tokens.js';

const MiB = 1024 * 1024;
const backends = blobBackends('reupload');

interface Answer {
  status: number;
  retryAfter: string | undefined;
  json: { existed?: boolean; size?: number; error?: { code: string; message: string } } | null;
}

/**
 * Sends `body` to `path` in two parts, with a Content-Length or chunked, and runs `between` after
 * the first part has had time to arrive (the server is then receiving it).
 */
function send(
  server: TestServer,
  method: 'POST' | 'PUT',
  path: string,
  body: Buffer,
  options: { chunked: boolean; between?: () => Promise<void>; token?: string },
): Promise<Answer> {
  const { chunked, between, token = server.token } = options;
  return new Promise<Answer>((resolve, reject) => {
    const req = request(`${server.url}${path}`, {
      method,
      headers: { Authorization: `Bearer ${token}`, ...(chunked ? {} : { 'Content-Length': String(body.length) }) },
    });
    req.on('error', reject);
    req.on('response', (res) => {
      const parts: Buffer[] = [];
      res.on('data', (b: Buffer) => parts.push(b));
      res.on('end', () => {
        const text = Buffer.concat(parts).toString('utf8');
        resolve({ status: res.statusCode!, retryAfter: res.headers['retry-after'], json: text ? JSON.parse(text) : null });
      });
    });
    const half = Math.floor(body.length / 2);
    req.write(body.subarray(0, half));
    void (async () => {
      await new Promise((r) => setTimeout(r, 300));
      await between?.();
      req.end(body.subarray(half));
    })().catch(reject);
  });
}

/** The path of the LFS upload URL the Hub's batch API gives `token` for `bytes` in `model`. */
async function lfsUploadPath(server: TestServer, token: string, model: string, bytes: Buffer): Promise<string> {
  const res = await fetch(`${server.url}/${model}.git/info/lfs/objects/batch`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}`, Accept: 'application/vnd.git-lfs+json', 'Content-Type': 'application/vnd.git-lfs+json' },
    body: JSON.stringify({
      operation: 'upload',
      transfers: ['basic'],
      hash_algo: 'sha_256',
      objects: [{ oid: sha256Hex(bytes), size: bytes.length }],
    }),
  });
  assert.equal(res.status, 200);
  const body = (await res.json()) as { objects: { actions?: { upload: { href: string } } }[] };
  const href = body.objects[0]?.actions?.upload.href;
  assert.ok(href, `the batch asks for an upload: ${JSON.stringify(body)}`);
  return new URL(href).pathname;
}

async function download(server: TestServer, digest: string): Promise<Buffer> {
  const res = await fetch(`${server.url}/v1/blobs/${digest}`, { headers: auth(server) });
  assert.equal(res.status, 200, `GET ${digest}`);
  return Buffer.from(await res.arrayBuffer());
}

for (const b of backends) {
  describe(b.label, () => {
    let server: TestServer;
    before(async () => {
      server = await b.start();
    });

    test('a stored blob sent again is hashed, not written: existed, the blob marked fresh, on v1 and OCI, with a Content-Length or chunked', async () => {
      const bytes = randomBytes(6 * MiB);
      const digest = await uploadBlob(server, bytes);
      const routes = [
        { path: `/v1/blobs?digest=${digest}`, status: 200 },
        { path: `/v2/reupload/model/blobs/uploads/?digest=${digest}`, status: 201 },
      ];
      for (const route of routes) {
        for (const chunked of [false, true]) {
          const what = `${route.path.split('?')[0]} ${chunked ? 'chunked' : 'with a Content-Length'}`;
          await b.age(server, digest);
          const before = await b.writtenAt(server, digest);
          let writing: string[] | null = null;
          const answer = await send(server, 'POST', route.path, bytes, {
            chunked,
            between: async () => {
              writing = await b.beingWritten(server);
            },
          });
          assert.equal(answer.status, route.status, `${what}: ${JSON.stringify(answer.json)}`);
          if (route.status === 200) assert.deepEqual(answer.json, { digest, size: bytes.length, existed: true }, what);
          if (writing !== null) assert.deepEqual(writing, [], `${what}: nothing is written while the body streams`);
          assert.ok((await b.writtenAt(server, digest)) > before, `${what}: the stored blob is marked freshly written`);
          assert.ok((await download(server, digest)).equals(bytes), `${what}: the blob is intact`);
        }
      }
    });

    test("a token that may not know the blob is stored (another scope holds it) uploads as if it were new: written, on v1, OCI and the Hub's LFS PUT", async () => {
      const bytes = randomBytes(4 * MiB);
      const digest = await uploadBlob(server, bytes);
      await registerFiles(server, 'reupload-other/model', { 'w.bin': bytes });
      const { token } = await createToken(server, 'scoped-writer', 'writer', 'reupload-mine/*');
      // The Hub's LFS PUT goes to the capability URL the batch API hands this token: the blob is
      // not in its view, so the batch asks for an upload.
      await registerFiles(server, 'reupload-mine/model', { 'other.bin': randomBytes(100) });
      const routes = [
        { method: 'POST' as const, path: `/v1/blobs?digest=${digest}`, status: 201 },
        { method: 'POST' as const, path: `/v2/reupload-mine/model/blobs/uploads/?digest=${digest}`, status: 201 },
        { method: 'PUT' as const, path: await lfsUploadPath(server, token, 'reupload-mine/model', bytes), status: 200 },
      ];
      for (const route of routes) {
        let writing: string[] | null = null;
        const answer = await send(server, route.method, route.path, bytes, {
          chunked: true,
          between: async () => {
            writing = await b.beingWritten(server);
          },
          token,
        });
        const what = route.path.split('?')[0];
        assert.equal(answer.status, route.status, `${what}: ${JSON.stringify(answer.json)}`);
        assert.equal(answer.json?.existed, undefined, what);
        if (writing !== null) assert.equal((writing as string[]).length, 1, `${what}: the body is written like a new blob's`);
      }
      assert.ok((await download(server, digest)).equals(bytes));
    });

    test('other bytes under a stored digest: 400 DIGEST_MISMATCH on v1 and OCI, the blob intact', async () => {
      const bytes = randomBytes(2 * MiB);
      const digest = await uploadBlob(server, bytes);
      const forged = randomBytes(bytes.length);
      for (const path of [`/v1/blobs?digest=${digest}`, `/v2/reupload/model/blobs/uploads/?digest=${digest}`]) {
        for (const chunked of [false, true]) {
          const answer = await send(server, 'POST', path, forged, { chunked });
          assert.equal(answer.status, 400, `${path} ${chunked}`);
          if (path.startsWith('/v1/')) assert.equal(answer.json?.error?.code, 'DIGEST_MISMATCH');
        }
      }
      assert.ok((await download(server, digest)).equals(bytes));
    });

    test('a chunked body over a short stored copy: 503 BLOB_NOT_KEPT (retry), the copy moved aside, and the next attempt stores the blob', async () => {
      const bytes = randomBytes(3 * MiB);
      const digest = await uploadBlob(server, bytes);
      await download(server, digest); // the edge cache holds a copy too
      await b.replace(server, digest, bytes.subarray(0, MiB));
      const path = `/v1/blobs?digest=${digest}`;
      let answer = await send(server, 'POST', path, bytes, { chunked: true });
      // Behind the edge cache the first attempt may still meet the cache's whole copy and learn
      // only from the bucket that it is gone; the attempt after that finds the short object.
      if (answer.status === 503 && /went away/.test(answer.json?.error?.message ?? ''))
        answer = await send(server, 'POST', path, bytes, { chunked: true });
      assert.equal(answer.status, 503, JSON.stringify(answer.json));
      assert.equal(answer.json?.error?.code, 'BLOB_NOT_KEPT');
      assert.match(answer.json?.error?.message ?? '', /damaged \(1048576 bytes, not 3145728\)/);
      assert.equal(answer.retryAfter, '1');
      const again = await send(server, 'POST', path, bytes, { chunked: true });
      assert.equal(again.status, 201, JSON.stringify(again.json));
      assert.ok((await download(server, digest)).equals(bytes));
    });

    test('a stored copy removed while the body streams: 503 BLOB_NOT_KEPT, and the next attempt stores the blob', async () => {
      const bytes = randomBytes(3 * MiB);
      const digest = await uploadBlob(server, bytes);
      const path = `/v1/blobs?digest=${digest}`;
      const answer = await send(server, 'POST', path, bytes, { chunked: false, between: () => b.remove(server, digest) });
      assert.equal(answer.status, 503, JSON.stringify(answer.json));
      assert.equal(answer.json?.error?.code, 'BLOB_NOT_KEPT');
      assert.match(answer.json?.error?.message ?? '', /went away/);
      const again = await send(server, 'POST', path, bytes, { chunked: false });
      assert.equal(again.status, 201, JSON.stringify(again.json));
      assert.ok((await download(server, digest)).equals(bytes));
    });
  });
}
