// HTTP Range, conditional requests and caching headers on both byte-serving routes:
// GET/HEAD /v1/blobs/sha256:<hex> and GET/HEAD /v1/models/{name}@{ref}/files/{path}, where ref is
// an alias, v<N> and the version digest. Every body is compared byte for byte with its source.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { startServer, type TestServer } from './harness/server.js';
import { api, pathRequest, registerFiles, type PathResponse } from './harness/http.js';

const IMMUTABLE = 'public, max-age=31536000, immutable';
const MODEL = 'team/ranges';
const CHUNK = 256 * 1024;

type Resp = PathResponse;

/** A request as the server's admin, the path sent exactly as written. */
function request(server: TestServer, method: string, path: string, headers: Record<string, string> = {}): Promise<Resp> {
  return pathRequest(server.port, method, path, { Authorization: `Bearer ${server.token}`, ...headers });
}

function errorCode(r: Resp): string {
  const parsed = JSON.parse(r.body.toString('utf8')) as { error: { code: string; message: string } };
  assert.equal(typeof parsed.error.message, 'string');
  assert.ok(parsed.error.message.length > 0);
  return parsed.error.code;
}

/** Asserts a 206 carrying exactly source[start..end]. */
function assertPartial(r: Resp, source: Buffer, start: number, end: number): void {
  assert.equal(r.status, 206, `expected 206, got ${r.status}: ${r.body.toString('utf8').slice(0, 200)}`);
  assert.equal(r.headers['content-range'], `bytes ${start}-${end}/${source.length}`);
  assert.equal(r.headers['content-length'], String(end - start + 1));
  assert.equal(r.body.length, end - start + 1);
  assert.ok(r.body.equals(source.subarray(start, end + 1)), 'partial body differs from the source bytes');
}

/** Asserts a 200 carrying all of source, never a partial body. */
function assertFull(r: Resp, source: Buffer): void {
  assert.equal(r.status, 200, `expected 200, got ${r.status}: ${r.body.toString('utf8').slice(0, 200)}`);
  assert.equal(r.headers['content-range'], undefined);
  assert.equal(r.headers['content-length'], String(source.length));
  assert.equal(r.body.length, source.length);
  assert.ok(r.body.equals(source), 'full body differs from the source bytes');
}

function assertUnsatisfiable(r: Resp, size: number, codes = ['RANGE_NOT_SATISFIABLE', 'RANGE_INVALID']): void {
  assert.equal(r.status, 416, `expected 416, got ${r.status}`);
  assert.equal(r.headers['content-range'], `bytes */${size}`);
  assert.match(String(r.headers['content-type']), /application\/json/);
  assert.ok(codes.includes(errorCode(r)), `unexpected error code in ${r.body.toString('utf8')}`);
}

let server: TestServer;
const small = randomBytes(1000);
// Large enough for reads to grow from 256 KiB to 2 MiB (src/http/read-size.ts) within one response.
const big = randomBytes(9 * 1024 * 1024 + 12_345);
const empty = Buffer.alloc(0);
let versionDigest = '';
const digests: Record<string, string> = {};

interface Target {
  label: string;
  url(file: 'small.bin' | 'big.bin' | 'empty.bin'): string;
  cacheControl: string;
  isFile: boolean;
}

const targets: Target[] = [
  { label: 'GET /v1/blobs/{digest}', url: (f) => `/v1/blobs/${digests[f]}`, cacheControl: IMMUTABLE, isFile: false },
  { label: 'files by alias', url: (f) => `/v1/models/${MODEL}@live/files/${f}`, cacheControl: 'no-cache', isFile: true },
  { label: 'files by v1', url: (f) => `/v1/models/${MODEL}@v1/files/${f}`, cacheControl: IMMUTABLE, isFile: true },
  {
    label: 'files by version digest',
    url: (f) => `/v1/models/${MODEL}@${versionDigest}/files/${f}`,
    cacheControl: IMMUTABLE,
    isFile: true,
  },
];

before(async () => {
  server = await startServer();
  const version = await registerFiles(server, MODEL, { 'small.bin': small, 'big.bin': big, 'empty.bin': empty });
  assert.equal(version.version, 1);
  versionDigest = version.digest;
  for (const f of version.files as { path: string; digest: string }[]) digests[f.path] = f.digest;
  assert.equal(Object.keys(digests).length, 3);
  const alias = await api(server, 'PUT', `/v1/models/${MODEL}/aliases/live`, { version: 1 });
  assert.equal(alias.status, 200, alias.text);
});

after(async () => {
  await server?.dispose();
});

for (const t of targets) {
  describe(t.label, () => {
    const size = small.length;
    const etag = () => `"${digests['small.bin']!.slice('sha256:'.length)}"`;

    test('no Range: 200 with the whole body and the representation headers', async () => {
      const r = await request(server, 'GET', t.url('small.bin'));
      assertFull(r, small);
      assert.equal(r.headers['accept-ranges'], 'bytes');
      assert.equal(r.headers['etag'], etag());
      assert.equal(r.headers['content-type'], 'application/octet-stream');
      assert.equal(r.headers['cache-control'], t.cacheControl);
      if (t.isFile) {
        assert.equal(r.headers['x-model-version'], '1');
        assert.equal(r.headers['x-model-digest'], versionDigest);
      }
    });

    test('bytes=0-0: the first byte', async () => {
      assertPartial(await request(server, 'GET', t.url('small.bin'), { Range: 'bytes=0-0' }), small, 0, 0);
    });

    test('bytes=a-b: a closed range', async () => {
      const r = await request(server, 'GET', t.url('small.bin'), { Range: 'bytes=10-19' });
      assertPartial(r, small, 10, 19);
      assert.equal(r.headers['content-type'], 'application/octet-stream');
      assert.equal(r.headers['etag'], etag());
      assert.equal(r.headers['accept-ranges'], 'bytes');
    });

    test('bytes=a-: open-ended', async () => {
      assertPartial(await request(server, 'GET', t.url('small.bin'), { Range: 'bytes=990-' }), small, 990, size - 1);
    });

    test('bytes=-n: suffix', async () => {
      assertPartial(await request(server, 'GET', t.url('small.bin'), { Range: 'bytes=-7' }), small, size - 7, size - 1);
    });

    test('suffix larger than the file: the whole file as a 206', async () => {
      assertPartial(await request(server, 'GET', t.url('small.bin'), { Range: 'bytes=-5000' }), small, 0, size - 1);
    });

    test('end past EOF is clamped', async () => {
      assertPartial(await request(server, 'GET', t.url('small.bin'), { Range: 'bytes=500-5000' }), small, 500, size - 1);
      assertPartial(await request(server, 'GET', t.url('small.bin'), { Range: 'bytes=999-1000' }), small, 999, size - 1);
    });

    test('an end far past EOF (20 digits) is clamped too, not refused', async () => {
      // RFC 9110 14.1.1: a last-pos at or beyond the length means "to the end".
      assertPartial(await request(server, 'GET', t.url('small.bin'), { Range: 'bytes=990-99999999999999999999' }), small, 990, size - 1);
    });

    test('start == size: 416 with Content-Range bytes */size', async () => {
      assertUnsatisfiable(await request(server, 'GET', t.url('small.bin'), { Range: `bytes=${size}-` }), size);
      assertUnsatisfiable(await request(server, 'GET', t.url('small.bin'), { Range: `bytes=${size}-${size + 10}` }), size);
    });

    test('start > size: 416', async () => {
      assertUnsatisfiable(await request(server, 'GET', t.url('small.bin'), { Range: 'bytes=5000-6000' }), size);
      assertUnsatisfiable(await request(server, 'GET', t.url('small.bin'), { Range: 'bytes=-0' }), size);
    });

    test('bytes=5-2, bytes=abc and other garbage: 416 with a JSON error', async () => {
      for (const range of ['bytes=5-2', 'bytes=abc', 'bytes=', 'bytes=-', 'bytes=1-2-3', 'bytes=0-1,x', '0-1', '=0-1']) {
        const r = await request(server, 'GET', t.url('small.bin'), { Range: range });
        assert.equal(r.status, 416, `Range: ${range} gave ${r.status}`);
        assert.equal(r.headers['content-range'], `bytes */${size}`, `Range: ${range}`);
        assert.equal(errorCode(r), 'RANGE_INVALID', `Range: ${range}`);
      }
    });

    test('a range unit other than bytes (items=0-1): ignored, 200 with the whole body (RFC 9110 14.2)', async () => {
      for (const range of ['items=0-1', 'Items = 1-2', 'x-rows=0-0,2-3']) {
        assertFull(await request(server, 'GET', t.url('small.bin'), { Range: range }), small);
        const head = await request(server, 'HEAD', t.url('small.bin'), { Range: range });
        assert.equal(head.status, 200, `HEAD with Range: ${range}`);
        assert.equal(head.headers['content-length'], String(size));
        assert.equal(head.headers['content-range'], undefined);
      }
    });

    test('several ranges: 200 with the whole body, never a partial 200', async () => {
      assertFull(await request(server, 'GET', t.url('small.bin'), { Range: 'bytes=0-1,4-5' }), small);
      assertFull(await request(server, 'GET', t.url('small.bin'), { Range: 'bytes=-3, 0-0' }), small);
    });

    test('If-Range with the current ETag: 206', async () => {
      assertPartial(await request(server, 'GET', t.url('small.bin'), { Range: 'bytes=100-199', 'If-Range': etag() }), small, 100, 199);
    });

    test('If-Range with another ETag, a weak ETag or a date: 200 with the whole body', async () => {
      const others = [`"${'0'.repeat(64)}"`, `W/${etag()}`, new Date(Date.now() + 3600_000).toUTCString(), new Date(0).toUTCString()];
      for (const ifRange of others) {
        assertFull(await request(server, 'GET', t.url('small.bin'), { Range: 'bytes=100-199', 'If-Range': ifRange }), small);
      }
    });

    test('HEAD: same status and headers as GET, no body', async () => {
      const cases: Record<string, string>[] = [{}, { Range: 'bytes=10-19' }, { Range: 'bytes=-7' }, { Range: 'bytes=0-1,4-5' }];
      for (const headers of cases) {
        const get = await request(server, 'GET', t.url('small.bin'), headers);
        const head = await request(server, 'HEAD', t.url('small.bin'), headers);
        const label = JSON.stringify(headers);
        assert.equal(head.status, get.status, label);
        assert.equal(head.body.length, 0, label);
        for (const h of ['content-length', 'content-range', 'etag', 'accept-ranges', 'content-type', 'cache-control']) {
          assert.equal(head.headers[h], get.headers[h], `${h} for ${label}`);
        }
        if (t.isFile) {
          assert.equal(head.headers['x-model-version'], '1');
          assert.equal(head.headers['x-model-digest'], versionDigest);
        }
      }
    });

    test('HEAD with an unsatisfiable range: 416 with Content-Range bytes */size and no body', async () => {
      const r = await request(server, 'HEAD', t.url('small.bin'), { Range: `bytes=${size}-` });
      assert.equal(r.status, 416);
      assert.equal(r.headers['content-range'], `bytes */${size}`);
      assert.equal(r.body.length, 0);
    });

    test('If-None-Match with the ETag: 304 without a body; with another ETag: 200', async () => {
      for (const method of ['GET', 'HEAD']) {
        for (const inm of [etag(), `W/${etag()}`, `"nope", ${etag()}`, '*']) {
          const r = await request(server, method, t.url('small.bin'), { 'If-None-Match': inm });
          assert.equal(r.status, 304, `${method} If-None-Match: ${inm}`);
          assert.equal(r.body.length, 0);
          assert.equal(r.headers['etag'], etag());
          assert.equal(r.headers['cache-control'], t.cacheControl);
        }
      }
      // A conditional GET that also asks for a range still gets its 304 when nothing changed.
      const ranged = await request(server, 'GET', t.url('small.bin'), { 'If-None-Match': etag(), Range: 'bytes=0-9' });
      assert.equal(ranged.status, 304);
      assertFull(await request(server, 'GET', t.url('small.bin'), { 'If-None-Match': '"other"' }), small);
    });

    test('zero-length file: GET 200 empty, HEAD 200 Content-Length 0, any Range 416 bytes */0', async () => {
      const r = await request(server, 'GET', t.url('empty.bin'));
      assert.equal(r.status, 200);
      assert.equal(r.headers['content-length'], '0');
      assert.equal(r.body.length, 0);
      assert.equal(r.headers['etag'], `"${digests['empty.bin']!.slice('sha256:'.length)}"`);
      const head = await request(server, 'HEAD', t.url('empty.bin'));
      assert.equal(head.status, 200);
      assert.equal(head.headers['content-length'], '0');
      for (const range of ['bytes=0-', 'bytes=0-0', 'bytes=-1', 'bytes=-100']) {
        assertUnsatisfiable(await request(server, 'GET', t.url('empty.bin'), { Range: range }), 0);
        const h = await request(server, 'HEAD', t.url('empty.bin'), { Range: range });
        assert.equal(h.status, 416, `HEAD ${range}`);
        assert.equal(h.headers['content-range'], 'bytes */0');
      }
    });

    test('a multi-MiB file: whole body, and ranges across read chunks of every size (256 KiB to 2 MiB)', async () => {
      assertFull(await request(server, 'GET', t.url('big.bin')), big);
      const n = big.length;
      const ranges: [number, number][] = [
        [CHUNK - 1, CHUNK],
        [CHUNK - 10, 3 * CHUNK + 10],
        [0, CHUNK - 1],
        [CHUNK, 2 * CHUNK - 1],
        [12_345, 2_500_000],
        [n - CHUNK - 1, n - 1],
        [7, n - 8],
      ];
      for (const [a, b] of ranges) assertPartial(await request(server, 'GET', t.url('big.bin'), { Range: `bytes=${a}-${b}` }), big, a, b);
      assertPartial(await request(server, 'GET', t.url('big.bin'), { Range: `bytes=${2 * CHUNK + 1}-` }), big, 2 * CHUNK + 1, n - 1);
      assertPartial(await request(server, 'GET', t.url('big.bin'), { Range: `bytes=-${CHUNK + 3}` }), big, n - CHUNK - 3, n - 1);
      // Several clients at once, each on its own slice, reassemble to the source: a few (each
      // writes its chunks in large slices) and many (the smallest slices, see sliceSize).
      for (const parts of [7, 17]) {
        const step = Math.ceil(n / parts);
        const slices = await Promise.all(
          Array.from({ length: parts }, (_, i) =>
            request(server, 'GET', t.url('big.bin'), { Range: `bytes=${i * step}-${Math.min(n, (i + 1) * step) - 1}` }),
          ),
        );
        for (const [i, r] of slices.entries()) assertPartial(r, big, i * step, Math.min(n, (i + 1) * step) - 1);
        assert.ok(Buffer.concat(slices.map((r) => r.body)).equals(big));
      }
    });
  });
}

describe('cache and validator details', () => {
  test('blobs and files by v1/digest carry immutable caching; by alias no-cache', async () => {
    const blob = await request(server, 'HEAD', `/v1/blobs/${digests['big.bin']}`);
    assert.equal(blob.headers['cache-control'], IMMUTABLE);
    assert.equal(blob.headers['content-length'], String(big.length));
    const byAlias = await request(server, 'HEAD', `/v1/models/${MODEL}@live/files/big.bin`);
    assert.equal(byAlias.headers['cache-control'], 'no-cache');
    const byVersion = await request(server, 'HEAD', `/v1/models/${MODEL}@v1/files/big.bin`);
    assert.equal(byVersion.headers['cache-control'], IMMUTABLE);
    const byDigest = await request(server, 'HEAD', `/v1/models/${MODEL}@${versionDigest}/files/big.bin`);
    assert.equal(byDigest.headers['cache-control'], IMMUTABLE);
  });

  test('the file ETag names the blob, so If-Range with the version digest (resolve ETag) does not match', async () => {
    const r = await request(server, 'GET', `/v1/models/${MODEL}@v1/files/small.bin`, {
      Range: 'bytes=0-9',
      'If-Range': `"${versionDigest}"`,
    });
    assertFull(r, small);
  });

  test('a file missing from the version is a 404 JSON error, not bytes', async () => {
    const r = await request(server, 'GET', `/v1/models/${MODEL}@v1/files/nope.bin`, { Range: 'bytes=0-0' });
    assert.equal(r.status, 404);
    assert.equal(errorCode(r), 'FILE_NOT_FOUND');
  });
});

describe('the Hub and OCI routes', () => {
  const hub = `/${MODEL}/resolve/v1/small.bin`;
  const oci = () => `/v2/${MODEL}/blobs/${digests['small.bin']}`;

  test('a range unit other than bytes: ignored, 200 with the whole body', async () => {
    for (const path of [hub, oci()]) {
      for (const range of ['items=1-2', 'Items=0-0']) {
        assertFull(await request(server, 'GET', path, { Range: range }), small);
        const head = await request(server, 'HEAD', path, { Range: range });
        assert.equal(head.status, 200, `HEAD ${path} with Range: ${range}`);
        assert.equal(head.headers['content-length'], String(small.length));
      }
      // bytes ranges still apply there
      assertPartial(await request(server, 'GET', path, { Range: 'bytes=1-2' }), small, 1, 2);
    }
  });
});
