// The Hub's multipart LFS transfer, for files larger than uploads.hubPartBytes (64 KiB here): the
// real @huggingface/hub client (five parts in parallel), parts sent in reverse order by hand, and
// every refusal of a part or a completion, each checked to store nothing. One multipart upload is
// one upload session whose parts are appended in order and hashed as they arrive, so the
// completion commits without reading the blob back (the on_arrival commit counter says so). The
// client and the reverse-order flows run against both session stores: node-local (fs) and shared (S3).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createRepo, uploadFiles } from '@huggingface/hub';
import { startS3, type TestS3 } from './harness/s3.js';
import { startServer, type TestServer } from './harness/server.js';
import { api, pathRequest, sha256, sha256Hex } from './harness/http.js';
import { createToken } from './harness/tokens.js';

const MODEL = 'team/hf-parts';
const PART = 65536;

let server: TestServer;
let token: string;

interface Upload {
  href: string;
  header?: Record<string, string>;
}

/** The stored blob's bytes, read as the admin (a blob no version names yet is in no writer's view). */
async function blobBytes(digest: string): Promise<Buffer> {
  const res = await pathRequest(server.port, 'GET', `/v1/blobs/${digest}`, { Authorization: `Bearer ${server.token}` });
  assert.equal(res.status, 200);
  return res.body;
}

async function stored(digest: string): Promise<boolean> {
  return (await api(server, 'HEAD', `/v1/blobs/${digest}`)).status === 200;
}

/** Commits that took the digest from the running hash, from /metrics. */
async function commitsHashedOnArrival(): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('modelgate_upload_session_commits_total{hashed="on_arrival"}'));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

async function batch(bytes: Buffer, transfers = ['basic', 'multipart'], as = token) {
  return fetch(`${server.url}/${MODEL}.git/info/lfs/objects/batch`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${as}`, 'Content-Type': 'application/vnd.git-lfs+json' },
    body: JSON.stringify({
      operation: 'upload',
      transfers,
      hash_algo: 'sha_256',
      objects: [{ oid: sha256Hex(bytes), size: bytes.length }],
    }),
  });
}

/** The batch's upload action for `bytes` (multipart offered). */
async function uploadFor(bytes: Buffer, as = token): Promise<Upload> {
  const res = await batch(bytes, ['basic', 'multipart'], as);
  assert.equal(res.status, 200);
  const body = (await res.json()) as { transfer: string; objects: { actions?: { upload: Upload } }[] };
  assert.equal(body.transfer, 'multipart');
  return body.objects[0]!.actions!.upload;
}

/** The part URLs, in part order. */
function partUrls(upload: Upload): string[] {
  return Object.entries(upload.header!)
    .filter(([k]) => /^[0-9]+$/.test(k))
    .sort(([a], [b]) => Number(a) - Number(b))
    .map(([, url]) => url);
}

const partOf = (bytes: Buffer, n: number) => bytes.subarray((n - 1) * PART, n * PART);

function putPart(url: string, body: Buffer, signal?: AbortSignal) {
  return fetch(url, { method: 'PUT', body, signal });
}

function complete(upload: Upload, oid: string, etags: string[]) {
  return fetch(upload.href, {
    method: 'POST',
    headers: { 'Content-Type': 'application/vnd.git-lfs+json' },
    body: JSON.stringify({ oid, parts: etags.map((etag, i) => ({ partNumber: i + 1, etag })) }),
  });
}

async function errorOf(res: Response): Promise<string> {
  return ((await res.json()) as { error: string }).error;
}

async function hubClientUploadsInParts(): Promise<void> {
  const weights = randomBytes(5 * PART + 4321);
  const before = await commitsHashedOnArrival();
  await uploadFiles({
    repo: MODEL,
    accessToken: token,
    hubUrl: server.url,
    useWebWorkers: false,
    files: [
      { path: 'config.json', content: new Blob(['{"layers":2}']) },
      { path: 'model.safetensors', content: new Blob([weights]) },
    ],
  });
  const v1 = await api(server, 'GET', `/v1/models/${MODEL}/versions/1`);
  assert.equal(v1.status, 200);
  const file = v1.json.files.find((f: { path: string }) => f.path === 'model.safetensors');
  assert.deepEqual([file.digest, file.size], [sha256(weights), weights.length]);
  const viaHub = await pathRequest(server.port, 'GET', `/${MODEL}/resolve/main/model.safetensors`, { Authorization: `Bearer ${token}` });
  assert.ok(viaHub.body.equals(weights));
  assert.equal(await commitsHashedOnArrival(), before + 1, 'the parts were hashed as they arrived, not read back');
}

async function reverseOrderParts(): Promise<void> {
  const bytes = randomBytes(3 * PART + 10);
  const upload = await uploadFor(bytes);
  assert.equal(upload.header!.chunk_size, String(PART));
  const urls = partUrls(upload);
  assert.equal(urls.length, 4);
  const answers = await Promise.all([4, 3, 2, 1].map((n) => putPart(urls[n - 1]!, partOf(bytes, n))));
  assert.deepEqual(
    answers.map((r) => r.status),
    [200, 200, 200, 200],
  );
  const etags = [4, 3, 2, 1].map((_, i) => answers[3 - i]!.headers.get('etag')!);
  assert.equal(await stored(sha256(bytes)), false, 'nothing is visible before the completion');
  const done = await complete(upload, sha256Hex(bytes), etags);
  assert.equal(done.status, 200);
  assert.equal(await stored(sha256(bytes)), true);
  assert.ok((await blobBytes(sha256(bytes))).equals(bytes));
  // A completion sent again (its answer lost) is answered the same.
  assert.equal((await complete(upload, sha256Hex(bytes), etags)).status, 200);
}

describe('Hub multipart LFS transfer (fs blobs, node-local sessions)', () => {
  before(async () => {
    server = await startServer({ env: { MODELGATE_HUB_PART_BYTES: String(PART), MODELGATE_MAX_BLOB_BYTES: String(8 * 1024 * 1024) } });
    token = `hf_${(await createToken(server, 'hub-parts', 'writer', 'team/*')).token}`;
    await createRepo({ repo: MODEL, accessToken: token, hubUrl: server.url });
  });
  after(async () => {
    await server.dispose();
  });

  test(
    '@huggingface/hub uploads a file larger than a part in parts (sent in parallel); the version holds exactly its bytes',
    hubClientUploadsInParts,
  );

  test('parts sent in reverse order all at once wait for their turn; the completion stores the blob', reverseOrderParts);

  test('a part sent again after it was kept is answered with its ETag; one that disconnects while waiting leaves nothing behind', async () => {
    const bytes = randomBytes(2 * PART + 1);
    const upload = await uploadFor(bytes);
    const urls = partUrls(upload);
    // Part 2 waits for part 1; its client gives up meanwhile.
    const gaveUp = new AbortController();
    const waiting = putPart(urls[1]!, partOf(bytes, 2), gaveUp.signal);
    await new Promise((r) => setTimeout(r, 300));
    gaveUp.abort();
    await assert.rejects(waiting);
    const first = await putPart(urls[0]!, partOf(bytes, 1));
    assert.equal(first.status, 200);
    const again = await putPart(urls[0]!, partOf(bytes, 1));
    assert.equal(again.status, 200);
    assert.equal(again.headers.get('etag'), first.headers.get('etag'));
    const etags = [first.headers.get('etag')!];
    for (const n of [2, 3]) {
      const res = await putPart(urls[n - 1]!, partOf(bytes, n));
      assert.equal(res.status, 200);
      etags.push(res.headers.get('etag')!);
    }
    assert.equal((await complete(upload, sha256Hex(bytes), etags)).status, 200);
    assert.ok((await blobBytes(sha256(bytes))).equals(bytes));
  });

  test('refusals: wrong part lengths and numbers, forged and basic grants, a revoked token, incomplete or misnamed completions, wrong bytes', async () => {
    const bytes = randomBytes(2 * PART + 5);
    const digest = sha256(bytes);
    const upload = await uploadFor(bytes);
    const urls = partUrls(upload);

    // Parts: the wrong length, a number outside the upload, GET, a forged grant.
    const short = await putPart(urls[0]!, partOf(bytes, 1).subarray(1));
    assert.equal(short.status, 400);
    assert.match(await errorOf(short), /Content-Length/);
    for (const n of ['0', '4', 'x']) {
      const res = await putPart(upload.href + '/' + n, partOf(bytes, 1));
      assert.equal(res.status, 400, n);
    }
    assert.equal((await fetch(urls[0]!)).status, 405);
    const dot = urls[0]!.lastIndexOf('.');
    const forged = `${urls[0]!.slice(0, dot + 1)}${urls[0]![dot + 1] === 'A' ? 'B' : 'A'}${urls[0]!.slice(dot + 2)}`;
    assert.equal((await putPart(forged, partOf(bytes, 1))).status, 401);
    // A basic upload's URL is no multipart URL.
    const basic = (await (await batch(bytes, ['basic'])).json()) as { transfer: string; objects: { actions: { upload: Upload } }[] };
    assert.equal(basic.transfer, 'basic');
    assert.equal(basic.objects[0]!.actions.upload.header, undefined);
    assert.equal((await putPart(`${basic.objects[0]!.actions.upload.href}/1`, partOf(bytes, 1))).status, 401);

    // Completion before every part is in, then with a wrong ETag, another oid, no JSON.
    const one = await putPart(urls[0]!, partOf(bytes, 1));
    assert.equal(one.status, 200);
    const etagOne = one.headers.get('etag')!;
    const early = await complete(
      upload,
      sha256Hex(bytes),
      [1, 2, 3].map((n) => etagOne.replace(/-1"$/, `-${n}"`)),
    );
    assert.equal(early.status, 400);
    assert.match(await errorOf(early), /hold 65536 of the file's/);
    const two = await putPart(urls[1]!, partOf(bytes, 2));
    const three = await putPart(urls[2]!, partOf(bytes, 3));
    const etags = [one, two, three].map((r) => r.headers.get('etag')!);
    const misnamed = await complete(upload, sha256Hex(bytes), [etags[0]!, etags[2]!, etags[1]!]);
    assert.equal(misnamed.status, 400);
    assert.match(await errorOf(misnamed), /part 2/);
    assert.equal((await complete(upload, sha256Hex(randomBytes(8)), etags)).status, 400);
    assert.equal((await fetch(upload.href, { method: 'POST', body: 'nope' })).status, 400);
    assert.equal(await stored(digest), false);

    // Parts holding other bytes than the file's: the completion finds the digest wrong, stores nothing.
    const other = randomBytes(bytes.length);
    const wrongUpload = await uploadFor(bytes);
    const wrongEtags: string[] = [];
    for (const [i, url] of partUrls(wrongUpload).entries())
      wrongEtags.push((await putPart(url, partOf(other, i + 1))).headers.get('etag')!);
    const mismatch = await complete(wrongUpload, sha256Hex(bytes), wrongEtags);
    assert.equal(mismatch.status, 400);
    assert.match(await errorOf(mismatch), /digest/);
    assert.equal(await stored(digest), false);
    assert.equal(await stored(sha256(other)), false);

    // A revoked token's URLs stop working at once.
    const temp = await createToken(server, 'hub-parts-temp', 'writer', 'team/*');
    const tempUpload = await uploadFor(bytes, temp.token);
    assert.equal((await api(server, 'DELETE', `/v1/tokens/${temp.id}`)).status, 200);
    const revoked = await putPart(partUrls(tempUpload)[0]!, partOf(bytes, 1));
    assert.equal(revoked.status, 401);
    assert.match(await errorOf(revoked), /revoked/);

    // An object larger than the server takes gets an error, not an upload.
    const huge = await fetch(`${server.url}/${MODEL}.git/info/lfs/objects/batch`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/vnd.git-lfs+json' },
      body: JSON.stringify({
        operation: 'upload',
        transfers: ['basic', 'multipart'],
        objects: [{ oid: '0'.repeat(64), size: 9 * 1024 * 1024 }],
      }),
    });
    const hugeBody = (await huge.json()) as { objects: { actions?: unknown; error?: { code: number } }[] };
    assert.equal(hugeBody.objects[0]!.error?.code, 422);
    assert.equal(hugeBody.objects[0]!.actions, undefined);

    // The upload that was refused along the way still completes with the right parts.
    assert.equal((await complete(upload, sha256Hex(bytes), etags)).status, 200);
    assert.equal(await stored(digest), true);
    assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
  });
});

describe('Hub multipart LFS transfer (S3 blobs, shared sessions)', () => {
  let s3: TestS3;
  before(async () => {
    s3 = await startS3();
    server = await startServer({ env: { ...s3.serviceEnv('hf-parts'), MODELGATE_HUB_PART_BYTES: String(PART) } });
    token = `hf_${(await createToken(server, 'hub-parts', 'writer', 'team/*')).token}`;
    await createRepo({ repo: MODEL, accessToken: token, hubUrl: server.url });
  });
  after(async () => {
    await server.dispose();
    await s3.dispose();
  });

  test(
    '@huggingface/hub uploads a file larger than a part in parts (sent in parallel); the version holds exactly its bytes',
    hubClientUploadsInParts,
  );

  test('parts sent in reverse order all at once wait for their turn; the completion stores the blob', reverseOrderParts);
});
