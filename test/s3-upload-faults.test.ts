// Uploads into a bucket whose connections break mid-transfer. A real gateway on blobs.backend=s3
// talks to s3rver through the test proxy, which resets every connection that carries more than a
// set number of bytes towards the server (s3rver, unlike S3, keeps a PutObject whose body was cut
// short). Whatever fails, nothing may appear under a digest's final key unless it is exactly that
// blob; and an object under the key whose size differs from the registered one counts as missing.
import { HeadObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import assert from 'node:assert/strict';
import { randomBytes, randomInt } from 'node:crypto';
import { after, afterEach, before, test } from 'node:test';
import { api, auth, registerFiles, sha256 } from './harness/http.js';
import { startS3, type TestS3 } from './harness/s3.js';
import { startServer, type TestServer } from './harness/server.js';

const MiB = 1024 * 1024;
/** How many broken uploads the first test makes in a row (MODELGATE_FAULT_ROUNDS raises it). */
const ROUNDS = Number(process.env.MODELGATE_FAULT_ROUNDS ?? 15);
let s3: TestS3;
let server: TestServer;
const prefix = `fault${randomBytes(3).toString('hex')}/`;

before(async () => {
  s3 = await startS3();
  server = await startServer({ env: s3.serviceEnv(prefix) });
});
afterEach(() => s3.cutUploadsOver(null));
after(async () => {
  await server?.dispose();
  await s3?.dispose();
});

const keyOf = (digest: string) => `${prefix}blobs/sha256/${digest.slice(7, 9)}/${digest.slice(7)}`;

/** The size of the object under the digest's final key, or null when there is none. */
async function finalObjectSize(digest: string): Promise<number | null> {
  try {
    const head = await s3.client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: keyOf(digest) }));
    return head.ContentLength ?? 0;
  } catch (err) {
    if ((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return null;
    throw err;
  }
}

async function post(bytes: Buffer): Promise<{ status: number; json: any }> {
  const res = await fetch(`${server.url}/v1/blobs?digest=${sha256(bytes)}`, { method: 'POST', headers: auth(server), body: bytes });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null };
}

async function headBlob(digest: string): Promise<{ status: number; length: string | null }> {
  const res = await fetch(`${server.url}/v1/blobs/${digest}`, { method: 'HEAD', headers: auth(server) });
  return { status: res.status, length: res.headers.get('content-length') };
}

test(`${ROUNDS} single-PutObject uploads cut mid-transfer: each fails, none leaves an object under its digest`, {
  timeout: 600_000,
}, async () => {
  const failed: Buffer[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    // Under the service's 8 MiB part size: the path that stores a blob with one PutObject.
    const bytes = randomBytes(randomInt(64 * 1024, 7 * MiB));
    const digest = sha256(bytes);
    s3.cutUploadsOver(randomInt(1024, bytes.length - 1024));
    const res = await post(bytes);
    s3.cutUploadsOver(null);
    assert.ok(res.status >= 500, `round ${round}: the upload cannot have succeeded; got ${res.status}`);
    assert.equal(
      await finalObjectSize(digest),
      null,
      `round ${round}: an object of ${bytes.length} bytes was cut short, yet something is under its final key`,
    );
    assert.equal((await headBlob(digest)).status, 404, `round ${round}: HEAD must not report the blob`);
    failed.push(bytes);
  }
  // Nothing under the blob prefix at all: no partial object under any digest.
  const listed = await s3.client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: `${prefix}blobs/` }));
  assert.deepEqual(listed.Contents ?? [], []);

  // With the network healed, the same bytes upload and read back exactly.
  const bytes = failed[0]!;
  const digest = sha256(bytes);
  assert.equal((await post(bytes)).status, 201);
  assert.equal(await finalObjectSize(digest), bytes.length);
  assert.deepEqual(await headBlob(digest), { status: 200, length: String(bytes.length) });
  const got = Buffer.from(await (await fetch(`${server.url}/v1/blobs/${digest}`, { headers: auth(server) })).arrayBuffer());
  assert.ok(got.equals(bytes));
});

test('a short object under a registered digest counts as missing until the blob is pushed again', async () => {
  const bytes = randomBytes(3 * MiB);
  const digest = sha256(bytes);
  await registerFiles(server, 'faults/short', { 'weights.bin': bytes });
  // What an older release could leave behind: a truncated object under the final key.
  const short = bytes.subarray(0, MiB);
  await s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: keyOf(digest), Body: short, ContentLength: short.length }));

  assert.equal((await headBlob(digest)).status, 404, 'HEAD by digest: missing, so push uploads it again');
  const file = await api(server, 'HEAD', '/v1/models/faults/short@v1/files/weights.bin');
  assert.equal(file.status, 404, 'a file whose blob is short is not served');
  const oci = await fetch(`${server.url}/v2/faults/short/blobs/${digest}`, { method: 'HEAD', headers: auth(server) });
  assert.equal(oci.status, 404, 'nor through the OCI API');

  const again = await post(bytes);
  assert.equal(again.status, 201, 'the upload is taken, not answered "existed"');
  assert.equal(await finalObjectSize(digest), bytes.length);
  assert.deepEqual(await headBlob(digest), { status: 200, length: String(bytes.length) });
  const got = Buffer.from(
    await (await fetch(`${server.url}/v1/models/faults/short@v1/files/weights.bin`, { headers: auth(server) })).arrayBuffer(),
  );
  assert.ok(got.equals(bytes));
});

test('bucket failures say so: 503 BLOB_STORE_UNAVAILABLE (retry) when S3 is away, 502 BLOB_STORE_FAILED (do not) when it refuses', async () => {
  const bytes = randomBytes(1000);
  const digest = sha256(bytes);
  // A node whose credentials the bucket refuses (InvalidAccessKeyId, 403): retrying cannot help.
  const refused = await startServer({ env: { ...s3.serviceEnv(prefix), AWS_ACCESS_KEY_ID: 'NOT-A-KEY' } });
  try {
    for (const [method, path, body] of [
      ['HEAD', `/v1/blobs/${digest}`, undefined],
      ['GET', `/v1/blobs/${digest}`, undefined],
      ['POST', `/v1/blobs?digest=${digest}`, bytes],
    ] as const) {
      const res = await fetch(`${refused.url}${path}`, { method, headers: auth(refused), body });
      assert.equal(res.status, 502, `${method} ${path}`);
      assert.equal(res.headers.get('retry-after'), null);
      if (method !== 'HEAD') {
        const json = (await res.json()) as { error: { code: string; message: string; details: { retryable: boolean; reason: string } } };
        assert.equal(json.error.code, 'BLOB_STORE_FAILED');
        assert.equal(json.error.details.retryable, false);
        assert.match(json.error.details.reason, /InvalidAccessKeyId|AccessDenied|HTTP 403/);
      }
    }
    assert.ok(
      refused.output.some((l) => l.includes('"msg":"blob store failure"')),
      'the cause is logged',
    );
  } finally {
    await refused.dispose();
  }

  // S3 away: the same requests are 503 with Retry-After, on the v1 and the OCI routes.
  await s3.stop();
  try {
    const head = await fetch(`${server.url}/v1/blobs/${digest}`, { method: 'HEAD', headers: auth(server) });
    assert.equal(head.status, 503);
    assert.match(head.headers.get('retry-after') ?? '', /^\d+$/);
    const post = await fetch(`${server.url}/v1/blobs?digest=${digest}`, { method: 'POST', headers: auth(server), body: bytes });
    assert.equal(post.status, 503);
    const json = (await post.json()) as { error: { code: string; details: { retryable: boolean } } };
    assert.equal(json.error.code, 'BLOB_STORE_UNAVAILABLE');
    assert.equal(json.error.details.retryable, true);
    const oci = await fetch(`${server.url}/v2/faults/short/blobs/${digest}`, { headers: auth(server) });
    assert.equal(oci.status, 503);
    const ociJson = (await oci.json()) as { errors: { code: string; detail: { modelgate: string } }[] };
    assert.equal(ociJson.errors[0]!.detail.modelgate, 'BLOB_STORE_UNAVAILABLE');
  } finally {
    await s3.restart();
  }
  assert.equal((await post(bytes)).status, 201, 'serving again once S3 is back');
});
