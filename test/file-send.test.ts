// Upload bodies sent from the file with sendfile(2) (src/client/file-send.ts, native/send-file.c),
// over real sockets: the exact bytes with a Content-Length and as chunked transfer coding, into
// a real server through ModelgateClient (and a push with the addon turned off reading the file as
// before), and the ways a send ends early: the peer stops reading (stall), the socket closes under
// it, the file is shorter than the range. And what must never use it: a TLS socket.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { type FileHandle, mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TLSSocket } from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { ModelgateClient } from '../src/client/index.js';
import { SENDFILE_CHUNK_BYTES } from '../src/client/body-chunks.js';
import { fileSender, plainSocketFd, sendFileBody } from '../src/client/file-send.js';
import { parseJson, runCli, writeTree } from './harness/cli.js';
import { startServer, type TestServer } from './harness/server.js';

const addon = fileSender();

function sha256Hex(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** A TCP server whose connections are handed to `onSocket`; closes them all on close(). */
async function rawServer(onSocket: (socket: Socket) => void): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    onSocket(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A connected client socket and its descriptor. */
async function connected(port: number): Promise<{ socket: Socket; fd: number }> {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  const fd = plainSocketFd(socket);
  assert.ok(fd !== null, 'a plain TCP socket has a descriptor');
  return { socket, fd };
}

/** Everything a server connection receives until the client ends. */
function collect(socket: Socket): Promise<Buffer> {
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  return new Promise((resolve) => socket.on('end', () => resolve(Buffer.concat(chunks))));
}

/** Decodes HTTP/1.1 chunked transfer coding, checking its framing; the body and the number of chunks. */
function unchunk(wire: Buffer): { body: Buffer; chunks: number } {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const eol = wire.indexOf('\r\n', at);
    assert.ok(eol > at, `a chunk size line at ${at}`);
    const size = Number.parseInt(wire.subarray(at, eol).toString('latin1'), 16);
    at = eol + 2;
    if (size === 0) {
      assert.equal(wire.subarray(at).toString('latin1'), '\r\n', 'the last chunk, then the end of the body');
      return { body: Buffer.concat(parts), chunks: parts.length };
    }
    parts.push(wire.subarray(at, at + size));
    at += size;
    assert.equal(wire.subarray(at, at + 2).toString('latin1'), '\r\n', 'each chunk ends with CRLF');
    at += 2;
  }
}

/** Runs `body` with the source file open and a raw server whose connections `onSocket` takes; closes both after. */
async function withPeer(path: string, onSocket: (socket: Socket) => void, body: (port: number, file: FileHandle) => Promise<void>) {
  const server = await rawServer(onSocket);
  const file = await open(path, 'r');
  try {
    await body(server.port, file);
  } finally {
    await file.close();
    await server.close();
  }
}

/** Sends bytes `start..start+length-1` of `file` on a new connection to `port`; the socket, once the send ended. */
async function sendRange(
  port: number,
  file: FileHandle,
  part: { start: number; length: number; chunked?: boolean; stallTimeoutMs?: number; onProgress?(n: number): void },
  whileSending: (socket: Socket) => void = () => undefined,
): Promise<{ socket: Socket; closed: Promise<Error | undefined> }> {
  const { socket, fd } = await connected(port);
  const closed = new Promise<Error | undefined>((resolve) => socket.once('close', () => resolve(socket.errored as Error | undefined)));
  const sending = sendFileBody(addon!, socket, fd, Promise.resolve(), {
    fd: file.fd,
    start: part.start,
    length: part.length,
    chunked: part.chunked ?? false,
    stallTimeoutMs: part.stallTimeoutMs ?? 5000,
    onProgress: part.onProgress,
  });
  whileSending(socket);
  await sending;
  return { socket, closed };
}

describe('upload bodies with sendfile', { skip: addon ? false : 'native/send-file.c is not built here' }, () => {
  let dir: string;
  let path: string;
  const bytes = randomBytes(20 * 1024 * 1024 + 4321);
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'modelgate-file-send-'));
    path = join(dir, 'source.bin');
    await writeFile(path, bytes);
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  test('the native addon is built and loads (npm run build)', () => {
    assert.equal(typeof addon?.send, 'function');
  });

  test('sends exactly the range, with a Content-Length body and as chunks ended by the last chunk', async () => {
    let received: Promise<Buffer> = Promise.resolve(Buffer.alloc(0));
    const receive = (socket: Socket) => {
      received = collect(socket);
    };
    await withPeer(path, receive, async (port, file) => {
      for (const chunked of [false, true]) {
        const start = 1234;
        const length = bytes.length - start - 99;
        let progress = 0;
        const onProgress = (n: number) => {
          progress += n;
        };
        (await sendRange(port, file, { start, length, chunked, onProgress })).socket.end();
        const wire = await received;
        const expected = bytes.subarray(start, start + length);
        if (chunked) {
          const { body, chunks } = unchunk(wire);
          assert.ok(body.equals(expected), 'the chunks carry the range');
          assert.equal(chunks, Math.ceil(length / SENDFILE_CHUNK_BYTES), 'one chunk per sendfile slice');
          assert.ok(chunks > 1, 'the range spans several slices');
        } else assert.ok(wire.equals(expected), 'the body is the range');
        assert.equal(progress, length);
      }
    });
  });

  test('a peer that stops reading fails the send after the stall time, with the socket destroyed', async () => {
    await withPeer(
      path,
      (socket) => socket.pause(),
      async (port, file) => {
        const started = Date.now();
        const { closed } = await sendRange(port, file, { start: 0, length: bytes.length, stallTimeoutMs: 300 });
        assert.match(String((await closed)?.message), /no upload progress for 0\.3s/);
        assert.ok(Date.now() - started < 5000, 'it gave up, not waited for the whole body');
      },
    );
  });

  test('a socket closed while a send waits for room stops it at once', async () => {
    await withPeer(
      path,
      (socket) => socket.pause(),
      async (port, file) => {
        let closedAt = 0;
        const closeSoon = (socket: Socket) =>
          setTimeout(() => {
            closedAt = Date.now();
            socket.destroy();
          }, 200);
        await sendRange(port, file, { start: 0, length: bytes.length, stallTimeoutMs: 60_000 }, closeSoon);
        assert.ok(closedAt > 0 && Date.now() - closedAt < 2000, 'the send noticed the close, not the 60 s stall time');
      },
    );
  });

  test('a file shorter than the range fails the send and says where the source ended', async () => {
    let received: Promise<Buffer> = Promise.resolve(Buffer.alloc(0));
    const receive = (socket: Socket) => {
      received = collect(socket);
    };
    await withPeer(path, receive, async (port, file) => {
      const { closed } = await sendRange(port, file, { start: bytes.length - 100, length: 1000 });
      assert.match(String((await closed)?.message), new RegExp(`the source ended before byte ${bytes.length + 900}`));
      assert.equal((await received).length, 100, 'what the file had was sent, nothing more');
    });
  });
});

test('a TLS socket never gives its descriptor to sendfile, though its handle has one', async () => {
  const server = await rawServer(() => undefined);
  try {
    const { socket: raw, fd } = await connected(server.port);
    const tls = new TLSSocket(raw);
    tls.on('error', () => undefined);
    // The TLS socket's handle wraps the connected descriptor: only the TLS check keeps it out.
    assert.equal((tls as unknown as { _handle: { fd: number } })._handle.fd, fd);
    assert.equal(plainSocketFd(tls), null);
    tls.destroy();
  } finally {
    await server.close();
  }
});

describe('uploads from a file into a real server', () => {
  let server: TestServer;
  let dir: string;
  before(async () => {
    server = await startServer();
    dir = await mkdtemp(join(tmpdir(), 'modelgate-file-send-server-'));
  });
  after(async () => {
    await server.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  test('the client sends a file by its descriptor: one streamed request and a session chunk store exactly its bytes', async () => {
    const client = new ModelgateClient({ baseUrl: server.url, token: server.token });
    const bytes = randomBytes(3 * 1024 * 1024 + 17);
    const path = join(dir, 'one.bin');
    await writeFile(path, bytes);
    const digest = `sha256:${sha256Hex(bytes)}`;
    const file = await open(path, 'r');
    // Reads that must not be called where the body goes from the descriptor.
    let reads = 0;
    const readFrom = (handle: typeof file) => async (buffer: Buffer, length: number, position: number) => {
      reads++;
      return (await handle.read(buffer, 0, length, position)).bytesRead;
    };
    try {
      assert.deepEqual(await client.uploadBlobFrom(digest, bytes.length, readFrom(file), { sourceFd: file.fd }), {
        digest,
        size: bytes.length,
      });
      const other = Buffer.concat([bytes, Buffer.from('x')]);
      const otherPath = join(dir, 'two.bin');
      await writeFile(otherPath, other);
      const second = await open(otherPath, 'r');
      try {
        const { id } = await client.openUpload();
        const offset = await client.appendUpload(id, 0, other.length, readFrom(second), { sourceFd: second.fd });
        assert.equal(offset, other.length);
        const stored = await client.commitUpload(id, `sha256:${sha256Hex(other)}`, other.length);
        assert.equal(stored.size, other.length);
      } finally {
        await second.close();
      }
      assert.equal(reads, addon ? 0 : 2, addon ? 'sendfile sent both bodies' : 'without the addon the bodies are read');
    } finally {
      await file.close();
    }
  });

  test('with MODELGATE_NO_SENDFILE=1 a push reads its files and stores the same blob', async () => {
    const root = await mkdtemp(join(dir, 'push-'));
    const data = randomBytes(17 * 1024 * 1024 + 5);
    await writeTree(root, { 'weights.bin': data });
    const env = { MODELGATE_URL: server.url, MODELGATE_TOKEN: server.token, MODELGATE_NO_SENDFILE: '1' };
    const pushed = parseJson(await runCli(['push', root, 'sendfile/off', '--json'], env)) as { version: number; uploaded: number };
    assert.equal(pushed.uploaded, 1);
    const shown = parseJson(await runCli(['show', `sendfile/off@v${pushed.version}`, '--json'], env)) as { files: { digest: string }[] };
    assert.equal(shown.files[0]?.digest, `sha256:${sha256Hex(data)}`);
  });
});
