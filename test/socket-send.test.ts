// Download bodies of 4 MiB or more sent from the blob's file with sendfile(2) on the connection
// taken from uWS (src/http/socket-send.ts, native/socket-send.cc): the bytes come out exactly,
// whole and in ranges across the 4 MiB a writable event sends; the connection is closed after the
// body and says so; the transfers run on one thread of the addon's own; smaller bodies and
// `server.downloadSource: mmap` keep the connection (the pump); a client that leaves mid-body or
// stops reading costs the server no descriptor and no service.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { pathRequest, uploadBlob, waitFor } from './harness/http.js';
import { startServer, type TestServer } from './harness/server.js';

const MiB = 1024 * 1024;
const large = randomBytes(24 * MiB + 777);
const small = randomBytes(3 * MiB);

async function openDescriptors(server: TestServer): Promise<number> {
  return (await readdir(`/proc/${server.child.pid}/fd`)).length;
}

/** The names of the server process's threads (Linux: /proc/<pid>/task/<tid>/comm). */
async function threadNames(server: TestServer): Promise<string[]> {
  const tasks = await readdir(`/proc/${server.child.pid}/task`);
  return Promise.all(tasks.map(async (tid) => (await readFile(`/proc/${server.child.pid}/task/${tid}/comm`, 'utf8')).trim()));
}

describe('downloads sent with sendfile', () => {
  let server: TestServer;
  let largeDigest: string;
  let smallDigest: string;

  before(async () => {
    server = await startServer();
    largeDigest = await uploadBlob(server, large);
    smallDigest = await uploadBlob(server, small);
  });
  after(() => server.dispose());

  const get = (digest: string, range?: string) =>
    pathRequest(server.port, 'GET', `/v1/blobs/${digest}`, {
      Authorization: `Bearer ${server.token}`,
      ...(range ? { Range: range } : {}),
    });

  test('the start log says large bodies go out with sendfile', () => {
    assert.match(server.output.join(''), /downloads send bodies of 4 MiB or more from local files with sendfile/);
  });

  test('a large blob, whole: byte for byte, then the connection closes', async () => {
    const r = await get(largeDigest);
    assert.equal(r.status, 200);
    assert.equal(r.headers.connection, 'close');
    assert.equal(r.headers['content-length'], String(large.length));
    assert.equal(r.headers['docker-content-digest'], largeDigest);
    assert.ok(r.headers.date, 'a Date header');
    assert.ok(r.body.equals(large), 'the body differs from the blob');
  });

  test('ranges across the 4 MiB a download sends each time its socket is writable', async () => {
    for (const [a, b] of [
      [0, 4 * MiB - 1],
      [1, 8 * MiB + 1],
      [4 * MiB - 3, 20 * MiB + 5],
      [large.length - 5 * MiB, large.length - 1],
    ] as const) {
      const r = await get(largeDigest, `bytes=${a}-${b}`);
      assert.equal(r.status, 206);
      assert.equal(r.headers.connection, 'close');
      assert.equal(r.headers['content-range'], `bytes ${a}-${b}/${large.length}`);
      assert.ok(r.body.equals(large.subarray(a, b + 1)), `bytes ${a}-${b} differ from the blob`);
    }
  });

  test('a body under 4 MiB keeps the connection', async () => {
    const whole = await get(smallDigest);
    assert.equal(whole.headers.connection, undefined);
    assert.ok(whole.body.equals(small));
    const range = await get(largeDigest, `bytes=100-${100 + 2 * MiB}`);
    assert.equal(range.status, 206);
    assert.equal(range.headers.connection, undefined);
    assert.ok(range.body.equals(large.subarray(100, 100 + 2 * MiB + 1)));
  });

  test('many at once, each byte for byte', async () => {
    const step = 6 * MiB;
    const parts = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        get(largeDigest, `bytes=${(i * step) % (large.length - step)}-${((i * step) % (large.length - step)) + step - 1}`),
      ),
    );
    parts.forEach((r, i) => {
      const a = (i * step) % (large.length - step);
      assert.ok(r.body.equals(large.subarray(a, a + step)), `part ${i} differs`);
    });
  });

  test("the bodies go out on one thread of the addon's own, off the event loop, however many run at once", async () => {
    const parts = await Promise.all(Array.from({ length: 4 }, () => get(largeDigest)));
    for (const r of parts) assert.ok(r.body.equals(large));
    const names = await threadNames(server);
    assert.equal(names.filter((n) => n === 'modelgate-send').length, 1, `threads: ${names.join(', ')}`);
  });

  test('a client that leaves mid-body: its descriptors are closed and the server goes on', async () => {
    const before = await openDescriptors(server);
    await new Promise<void>((resolve, reject) => {
      const socket = connect(server.port, '127.0.0.1');
      let received = 0;
      socket.on('data', (chunk) => {
        received += chunk.length;
        if (received > MiB) {
          socket.destroy();
          resolve();
        }
      });
      socket.on('error', reject);
      socket.write(`GET /v1/blobs/${largeDigest} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${server.token}\r\n\r\n`);
    });
    await waitFor(async () => (await openDescriptors(server)) <= before, 5000, 'the descriptors to be closed');
    const r = await get(largeDigest);
    assert.ok(r.body.equals(large));
  });

  test('a client that stops reading is disconnected after 10 s without progress, and the server goes on', { timeout: 40_000 }, async () => {
    // Larger than this machine's socket buffers can hold (tcp_rmem's maximum is 32 MiB here).
    const huge = randomBytes(96 * MiB);
    const hugeDigest = await uploadBlob(server, huge);
    const before = await openDescriptors(server);
    const received = await new Promise<number>((resolve, reject) => {
      const socket = connect(server.port, '127.0.0.1');
      let bytes = 0;
      // Reads nothing for 13 s: the buffers fill and the server's sends stop making progress.
      socket.pause();
      socket.on('data', (chunk) => {
        bytes += chunk.length;
      });
      socket.on('error', () => undefined);
      socket.on('close', () => resolve(bytes));
      socket.write(`GET /v1/blobs/${hugeDigest} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${server.token}\r\n\r\n`);
      setTimeout(() => socket.resume(), 13_000);
      setTimeout(() => reject(new Error('the server kept a connection that read nothing for 13 s')), 35_000);
    });
    assert.ok(received < huge.length, `received ${received} bytes: the server should have given up before the end`);
    await waitFor(async () => (await openDescriptors(server)) <= before, 5000, 'the descriptors to be closed');
    const r = await get(smallDigest);
    assert.ok(r.body.equals(small));
  });
});

describe('downloads with server.downloadSource mmap', () => {
  let server: TestServer;
  let digest: string;

  before(async () => {
    server = await startServer({ env: { MODELGATE_DOWNLOAD_SOURCE: 'mmap' } });
    digest = await uploadBlob(server, large);
  });
  after(() => server.dispose());

  test('a large body goes through the pump: same bytes, the connection kept', async () => {
    assert.match(server.output.join(''), /downloads do not use sendfile: server.downloadSource is mmap/);
    const r = await pathRequest(server.port, 'GET', `/v1/blobs/${digest}`, {
      Authorization: `Bearer ${server.token}`,
      Range: `bytes=3-${9 * MiB}`,
    });
    assert.equal(r.status, 206);
    assert.equal(r.headers.connection, undefined);
    assert.ok(r.body.equals(large.subarray(3, 9 * MiB + 1)));
  });
});
