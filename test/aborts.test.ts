// Clients that go away mid-transfer. An upload cut short stores nothing and leaves blobs/tmp empty;
// an abandoned download releases its file and its in-flight count; a resumable upload cut mid-PATCH
// keeps a consistent offset from which the client can finish. The server keeps serving throughout.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readdir, readlink, stat } from 'node:fs/promises';
import http from 'node:http';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { startServer, type TestServer } from './harness/server.js';
import { api, auth, registerFiles, sha256, uploadBlob, waitFor } from './harness/http.js';

const MiB = 1024 * 1024;
const MODEL = 'team/aborts';

let server: TestServer;
let resolveDigest = '';

before(async () => {
  server = await startServer();
  const v = await registerFiles(server, MODEL, { 'a.txt': 'alpha' });
  resolveDigest = v.digest;
  assert.equal((await api(server, 'PUT', `/v1/models/${MODEL}/aliases/live`, { version: 1 })).status, 200);
});

after(async () => {
  await server?.dispose();
});

// ---------------------------------------------------------------------------------------------

async function listFiles(dir: string): Promise<{ name: string; size: number }[]> {
  const out: { name: string; size: number }[] = [];
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const st = await stat(join(dir, name)).catch(() => null);
    if (st) out.push({ name, size: st.size });
  }
  return out;
}

const tmpDir = () => join(server.dataDir, 'blobs', 'tmp');

async function storedBlobs(): Promise<string[]> {
  return (await readdir(join(server.dataDir, 'blobs', 'sha256'), { recursive: true }))
    .map(String)
    .filter((p) => p.includes('/'))
    .sort();
}

async function gauge(direction: 'upload' | 'download'): Promise<number> {
  const res = await fetch(`${server.url}/metrics`);
  assert.equal(res.status, 200);
  const text = await res.text();
  const m = new RegExp(`^modelgate_transfers_in_flight\\{direction="${direction}"\\} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

/** The server is alive and answering: a resolve works and a small upload round-trips. */
async function assertServing(): Promise<void> {
  const r = await api(server, 'GET', `/v1/resolve/${MODEL}@live`);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.digest, resolveDigest);
  const data = randomBytes(3 * MiB + 17);
  const digest = await uploadBlob(server, data);
  const back = Buffer.from(await (await fetch(`${server.url}/v1/blobs/${digest}`, { headers: auth(server) })).arrayBuffer());
  assert.ok(back.equals(data), 'a blob uploaded after the abort does not round-trip');
}

function openSocket(): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(server.port, '127.0.0.1', () => resolve(socket));
    socket.on('error', (err) => {
      if ((err as NodeJS.ErrnoException).code !== 'ECONNRESET' && (err as NodeJS.ErrnoException).code !== 'EPIPE') reject(err);
    });
  });
}

function write(socket: Socket, data: string | Buffer): Promise<void> {
  return new Promise((resolve, reject) => socket.write(data, (err) => (err ? reject(err) : resolve())));
}

/** Open file descriptors of the server process that point at `fragment`. */
async function openFdsTo(fragment: string): Promise<number> {
  const dir = `/proc/${server.child.pid}/fd`;
  let count = 0;
  for (const fd of await readdir(dir).catch(() => [] as string[])) {
    const target = await readlink(join(dir, fd)).catch(() => '');
    if (target.includes(fragment)) count++;
  }
  return count;
}

// ---------------------------------------------------------------------------------------------

describe('monolithic uploads cut short', () => {
  test('half a body with a larger Content-Length, then the socket is destroyed: nothing stored', async () => {
    const before = await storedBlobs();
    const data = randomBytes(8 * MiB);
    const digest = sha256(data);
    const socket = await openSocket();
    await write(
      socket,
      `POST /v1/blobs?digest=${digest} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${server.token}\r\nContent-Length: ${data.length}\r\n\r\n`,
    );
    await write(socket, data.subarray(0, 3 * MiB + 1234));
    // Make sure the abort lands mid-stream: bytes have reached the temporary file.
    await waitFor(async () => (await listFiles(tmpDir())).some((f) => f.size >= MiB), 5000, 'bytes in blobs/tmp');
    assert.equal(await gauge('upload'), 1);
    socket.destroy();

    await waitFor(async () => (await listFiles(tmpDir())).length === 0, 5000, 'blobs/tmp to empty');
    await waitFor(async () => (await gauge('upload')) === 0, 5000, 'uploads in flight to return to 0');
    assert.deepEqual(await storedBlobs(), before);
    assert.equal((await fetch(`${server.url}/v1/blobs/${digest}`, { method: 'HEAD', headers: auth(server) })).status, 404);
    await assertServing();
    assert.deepEqual(await listFiles(tmpDir()), []);
  });

  test('a chunked body cut off mid-chunk: nothing stored', async () => {
    const before = await storedBlobs();
    const data = randomBytes(6 * MiB);
    const digest = sha256(data);
    const socket = await openSocket();
    await write(
      socket,
      `POST /v1/blobs?digest=${digest} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${server.token}\r\nTransfer-Encoding: chunked\r\n\r\n`,
    );
    const piece = 512 * 1024;
    for (let at = 0; at < 3 * MiB; at += piece) {
      await write(socket, `${piece.toString(16)}\r\n`);
      await write(socket, data.subarray(at, at + piece));
      await write(socket, '\r\n');
    }
    // A chunk that announces 512 KiB and delivers 100 KiB.
    await write(socket, `${piece.toString(16)}\r\n`);
    await write(socket, data.subarray(3 * MiB, 3 * MiB + 100 * 1024));
    await waitFor(async () => (await listFiles(tmpDir())).some((f) => f.size >= MiB), 5000, 'bytes in blobs/tmp');
    socket.destroy();

    await waitFor(async () => (await listFiles(tmpDir())).length === 0, 5000, 'blobs/tmp to empty');
    await waitFor(async () => (await gauge('upload')) === 0, 5000, 'uploads in flight to return to 0');
    assert.deepEqual(await storedBlobs(), before);
    assert.equal((await fetch(`${server.url}/v1/blobs/${digest}`, { method: 'HEAD', headers: auth(server) })).status, 404);
    await assertServing();
  });

  test('a body cut off before the first byte, and several aborted at once: nothing stored, no stuck hash workers', async () => {
    const before = await storedBlobs();
    const sockets: Socket[] = [];
    for (let i = 0; i < 6; i++) {
      const socket = await openSocket();
      const withBody = i % 2 === 0;
      await write(
        socket,
        `POST /v1/blobs?digest=${sha256(String(i))} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${server.token}\r\nContent-Length: ${4 * MiB}\r\n\r\n`,
      );
      if (withBody) await write(socket, randomBytes(MiB + 5));
      sockets.push(socket);
    }
    await waitFor(async () => (await gauge('upload')) === 6, 5000, 'six uploads in flight');
    for (const s of sockets) s.destroy();
    await waitFor(async () => (await listFiles(tmpDir())).length === 0, 5000, 'blobs/tmp to empty');
    await waitFor(async () => (await gauge('upload')) === 0, 5000, 'uploads in flight to return to 0');
    assert.deepEqual(await storedBlobs(), before);
    // Hashing still works for several uploads at once afterwards.
    const blobs = [randomBytes(2 * MiB), randomBytes(2 * MiB + 1), randomBytes(MiB)];
    const digests = await Promise.all(blobs.map((b) => uploadBlob(server, b)));
    for (const [i, d] of digests.entries()) assert.equal(d, sha256(blobs[i]!));
    await assertServing();
  });
});

describe('many aborted uploads at once', () => {
  /** Sends 2 MiB of a declared 64 MiB body and disconnects; resolves once the socket is gone. */
  function abortedUpload(chunk: Buffer): Promise<void> {
    return new Promise((resolve) => {
      const socket = connect(server.port, '127.0.0.1');
      socket.on('error', () => resolve());
      socket.on('close', () => resolve());
      socket.write(
        `POST /v1/blobs?digest=sha256:${randomBytes(32).toString('hex')} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${server.token}\r\nContent-Length: ${64 * MiB}\r\n\r\n`,
      );
      let sent = 0;
      const pump = (): void => {
        while (sent < 2 * MiB) {
          sent += chunk.length;
          if (!socket.write(chunk)) {
            socket.once('drain', pump);
            return;
          }
        }
        socket.destroy();
      };
      pump();
    });
  }

  async function ingestBuffers(): Promise<Record<string, number>> {
    const text = await (await fetch(`${server.url}/metrics`)).text();
    const out: Record<string, number> = {};
    for (const m of text.matchAll(/^modelgate_ingest_buffers\{state="(\w+)"\} (\S+)$/gm)) out[m[1]!] = Number(m[2]);
    return out;
  }

  test('2000 uploads, 64 clients at a time, each leaving after 2 MiB: every one ends, at most 128 upload buffers, nothing stored', async () => {
    // The bench's aborts campaign (which stalled for good: uploads paused by buffers held in hash
    // tasks queued behind theirs, see hash-pool.ts), with the buffer bound read from /metrics.
    const before = await storedBlobs();
    const chunk = randomBytes(256 * 1024);
    let next = 0;
    await Promise.all(
      Array.from({ length: 64 }, async () => {
        while (next < 2000) {
          next++;
          await abortedUpload(chunk);
        }
      }),
    );
    await waitFor(async () => (await gauge('upload')) === 0, 120_000, 'every aborted upload to end (uploads in flight back to 0)');
    const buffers = await ingestBuffers();
    assert.ok(buffers.allocated! <= 128, `at most 128 upload buffers allocated, ${JSON.stringify(buffers)}`);
    await waitFor(async () => (await ingestBuffers()).in_use === 0, 30_000, 'every upload buffer back in the pool');
    assert.deepEqual(await storedBlobs(), before);
    await waitFor(async () => (await listFiles(tmpDir())).length === 0, 30_000, 'blobs/tmp to empty');
    await assertServing();
  });
});

describe('downloads abandoned mid-way', () => {
  const big = randomBytes(64 * MiB);
  let digest = '';
  let hex = '';

  before(async () => {
    digest = await uploadBlob(server, big);
    hex = digest.slice('sha256:'.length);
  });

  /** GETs `path`, reads `chunks` data events (optionally pausing first), then destroys the socket. */
  function abandon(path: string, opts: { chunks?: number; pauseMs?: number; headers?: Record<string, string> } = {}): Promise<number> {
    return new Promise((resolve, reject) => {
      let received = 0;
      let events = 0;
      const req = http.get(
        { host: '127.0.0.1', port: server.port, path, agent: false, headers: { ...auth(server), ...opts.headers } },
        (res) => {
          if (res.statusCode !== 200 && res.statusCode !== 206) {
            reject(new Error(`unexpected status ${res.statusCode}`));
            return;
          }
          res.on('data', (c: Buffer) => {
            received += c.length;
            events++;
            if (events === (opts.chunks ?? 3)) {
              if (opts.pauseMs) {
                res.pause();
                setTimeout(() => {
                  req.destroy();
                  resolve(received);
                }, opts.pauseMs);
              } else {
                req.destroy();
                resolve(received);
              }
            }
          });
        },
      );
      req.on('error', () => undefined);
    });
  }

  async function afterAbandon(): Promise<void> {
    await waitFor(async () => (await gauge('download')) === 0, 5000, 'downloads in flight to return to 0');
    await waitFor(async () => (await openFdsTo(hex)) === 0, 5000, 'the blob file to be closed');
  }

  test('read a few chunks then destroy: in-flight downloads return to 0, the file is closed, the server serves', async () => {
    const got = await abandon(`/v1/blobs/${digest}`);
    assert.ok(got < big.length);
    await afterAbandon();
    await assertServing();
  });

  test('a client that stops reading (server waiting on backpressure) then leaves', async () => {
    const pending = abandon(`/v1/blobs/${digest}`, { chunks: 2, pauseMs: 400 });
    // While the client sits on its socket, the transfer is in flight.
    await waitFor(async () => (await gauge('download')) === 1, 5000, 'one download in flight');
    await pending;
    await afterAbandon();
  });

  test('ranged downloads abandoned in parallel', async () => {
    const starts = [0, 7 * MiB + 3, 20 * MiB, 33 * MiB - 1, 50 * MiB];
    const results = await Promise.all(
      starts.map((s, i) => abandon(`/v1/blobs/${digest}`, { headers: { Range: `bytes=${s}-` }, chunks: 2, pauseMs: i % 2 ? 200 : 0 })),
    );
    for (const n of results) assert.ok(n > 0);
    await afterAbandon();
  });

  test('after the aborts, the whole blob and a range still come back intact', async () => {
    const res = await fetch(`${server.url}/v1/blobs/${digest}`, { headers: auth(server) });
    assert.equal(res.status, 200);
    const hash = createHash('sha256');
    let size = 0;
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      hash.update(chunk);
      size += chunk.length;
    }
    assert.equal(size, big.length);
    assert.equal(`sha256:${hash.digest('hex')}`, digest);
    const ranged = await fetch(`${server.url}/v1/blobs/${digest}`, {
      headers: auth(server, { Range: `bytes=${40 * MiB}-${41 * MiB + 10}` }),
    });
    assert.equal(ranged.status, 206);
    assert.ok(Buffer.from(await ranged.arrayBuffer()).equals(big.subarray(40 * MiB, 41 * MiB + 11)));
    assert.equal(await gauge('download'), 0);
  });
});

describe('resumable upload cut mid-PATCH', () => {
  async function offsetOf(id: string): Promise<number> {
    const r = await api(server, 'GET', `/v1/uploads/${id}`);
    assert.equal(r.status, 200, r.text);
    assert.ok(Number.isSafeInteger(r.json.offset) && r.json.offset >= 0, `offset ${r.json.offset}`);
    assert.equal(r.headers.get('upload-offset'), String(r.json.offset));
    return r.json.offset as number;
  }

  /** PATCH that retries while the server still holds the aborted request's lock (409 UPLOAD_BUSY). */
  async function patchFrom(id: string, data: Buffer, offset: number) {
    let last: Awaited<ReturnType<typeof api>> | null = null;
    await waitFor(
      async () => {
        last = await api(server, 'PATCH', `/v1/uploads/${id}`, data.subarray(offset), {
          'Content-Range': `bytes ${offset}-${data.length - 1}/*`,
          'Content-Type': 'application/octet-stream',
        });
        return last.status !== 409;
      },
      5000,
      'the session to be free',
    );
    return last!;
  }

  for (const framing of ['content-length', 'chunked'] as const) {
    test(`${framing}: the offset is consistent and the upload can be finished from it`, async () => {
      const created = await api(server, 'POST', '/v1/uploads');
      assert.equal(created.status, 201, created.text);
      const id = created.json.id as string;
      const data = randomBytes(10 * MiB + 333);
      const sent = 4 * MiB + 777;

      // Start with a clean first chunk so the cut happens at a non-zero session offset.
      const head = 123_457;
      const first = await api(server, 'PATCH', `/v1/uploads/${id}`, data.subarray(0, head), { 'Content-Type': 'application/octet-stream' });
      assert.equal(first.status, 202, first.text);
      assert.equal(first.json.offset, head);

      const socket = await openSocket();
      const headers = framing === 'content-length' ? `Content-Length: ${data.length - head}\r\n` : 'Transfer-Encoding: chunked\r\n';
      await write(
        socket,
        `PATCH /v1/uploads/${id} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${server.token}\r\nContent-Range: bytes ${head}-${data.length - 1}/*\r\n${headers}\r\n`,
      );
      const body = data.subarray(head, head + sent);
      if (framing === 'content-length') await write(socket, body);
      else {
        await write(socket, `${body.length.toString(16)}\r\n`);
        await write(socket, body);
        await write(socket, '\r\n');
        await write(socket, `${(MiB).toString(16)}\r\n`);
        await write(socket, data.subarray(head + sent, head + sent + 1000));
      }
      const uploadFile = join(server.dataDir, 'uploads', id);
      await waitFor(async () => ((await stat(uploadFile).catch(() => null))?.size ?? 0) >= head + MiB, 5000, 'bytes in the session file');
      socket.destroy();

      await waitFor(async () => (await gauge('upload')) === 0, 5000, 'uploads in flight to return to 0');
      // Settled: two reads a little apart agree.
      let offset = await offsetOf(id);
      await waitFor(
        async () => {
          await new Promise((r) => setTimeout(r, 100));
          const again = await offsetOf(id);
          const stable = again === offset;
          offset = again;
          return stable;
        },
        5000,
        'the offset to settle',
      );
      const bytesSent = head + sent + (framing === 'chunked' ? 1000 : 0);
      assert.ok(offset >= head, `offset ${offset} lost the first, acknowledged chunk (${head} bytes)`);
      assert.ok(offset <= bytesSent, `offset ${offset} is past the ${bytesSent} bytes sent`);

      const rest = await patchFrom(id, data, offset);
      assert.equal(rest.status, 202, rest.text);
      assert.equal(rest.json.offset, data.length);
      const digest = sha256(data);
      const commit = await api(server, 'PUT', `/v1/uploads/${id}?digest=${digest}`);
      assert.equal(commit.status, 201, commit.text);
      assert.equal(commit.json.size, data.length);
      const back = Buffer.from(await (await fetch(`${server.url}/v1/blobs/${digest}`, { headers: auth(server) })).arrayBuffer());
      assert.ok(back.equals(data), 'the resumed upload does not reproduce the source bytes');
      assert.equal((await api(server, 'GET', `/v1/uploads/${id}`)).status, 404);
    });
  }

  test('after the aborted PATCHes the server still serves', async () => {
    await assertServing();
    assert.deepEqual(await listFiles(tmpDir()), []);
    assert.equal(await gauge('upload'), 0);
    assert.equal(await gauge('download'), 0);
  });
});
