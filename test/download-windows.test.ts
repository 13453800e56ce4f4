// Downloads of a blob large enough to be served from shared windows (src/http/mapped-windows.ts,
// from 32 MiB up where the native addon is built): its chunks are up to 16 MiB views of the
// window and go to the socket in writes of at most 2 MiB while other requests arrive, as large as
// the socket takes when none do (src/http/download.ts, turn-budget.ts), so the body must come out
// byte for byte across write, chunk and read-size boundaries, for one client and for many at once
// sharing the turn budget. Bodies this large go out with sendfile by default (socket-send.test.ts),
// so this server keeps them in the pump with server.downloadSource mmap.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { pathRequest, uploadBlob } from './harness/http.js';
import { startServer, type TestServer } from './harness/server.js';

const MiB = 1024 * 1024;
// Past DEFAULT_WINDOWING.from (32 MiB), and not a whole number of 2 MiB writes or 16 MiB chunks.
const bytes = randomBytes(40 * MiB + 4321);

describe('downloads from shared windows', () => {
  let server: TestServer;
  let digest: string;

  before(async () => {
    server = await startServer({ env: { MODELGATE_DOWNLOAD_SOURCE: 'mmap' } });
    digest = await uploadBlob(server, bytes);
  });
  after(() => server.stop());

  const get = (range?: string) =>
    pathRequest(server.port, 'GET', `/v1/blobs/${digest}`, {
      Authorization: `Bearer ${server.token}`,
      ...(range ? { Range: range } : {}),
    });

  test('the whole blob, byte for byte', async () => {
    const r = await get();
    assert.equal(r.status, 200);
    assert.equal(r.body.length, bytes.length);
    assert.ok(r.body.equals(bytes), 'the body differs from the blob');
  });

  test('ranges across 2 MiB writes and 16 MiB chunks', async () => {
    for (const [a, b] of [
      [1, 16 * MiB],
      [2 * MiB - 1, 2 * MiB],
      [16 * MiB - 3, 33 * MiB + 5],
      [7, bytes.length - 8],
      [bytes.length - 3 * MiB, bytes.length - 1],
    ] as const) {
      const r = await get(`bytes=${a}-${b}`);
      assert.equal(r.status, 206);
      assert.equal(r.headers['content-range'], `bytes ${a}-${b}/${bytes.length}`);
      assert.ok(r.body.equals(bytes.subarray(a, b + 1)), `bytes ${a}-${b} differ from the blob`);
    }
  });

  async function slicesReassemble(): Promise<void> {
    const parts = 24;
    const step = Math.ceil(bytes.length / parts);
    const slices = await Promise.all(
      Array.from({ length: parts }, (_, i) => get(`bytes=${i * step}-${Math.min(bytes.length, (i + 1) * step) - 1}`)),
    );
    for (const r of slices) assert.equal(r.status, 206);
    assert.ok(Buffer.concat(slices.map((r) => r.body)).equals(bytes), 'the slices do not reassemble to the blob');
  }

  test('many clients at once, each on its own slice, reassemble to the blob', slicesReassemble);

  test('the same while other requests arrive (turns keep the busy budget and its smaller writes)', async () => {
    let answered = 0;
    let done = false;
    const others = (async () => {
      while (!done) {
        const r = await pathRequest(server.port, 'GET', '/healthz');
        assert.equal(r.status, 200);
        answered++;
      }
    })();
    try {
      await slicesReassemble();
    } finally {
      done = true;
      await others;
    }
    assert.ok(answered > 0, 'no other request was answered while the slices went out');
  });
});
