// How `modelgate push` moves bytes, against a real server through a recording (and, where asked,
// delaying or cutting) TCP proxy: large files sent into an upload session while a worker hashes
// them, a stored blob's early upload dropped, a broken stream resumed in its session, and the
// --max-connections and --limit-rate limits.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { connect, createServer as createNetServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ModelgateClient } from '../src/client/index.js';
import { readPlacement, READ_SLACK } from '../src/lib/read-placement.js';
import { parseJson, runCli, writeTree } from './harness/cli.js';
import { startServer, type TestServer } from './harness/server.js';

const MIB = 1024 * 1024;
/** Above push's threshold for sending while hashing (16 MiB). */
const LARGE = 17 * MIB + 123;

function sha256Hex(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

interface ProxyOptions {
  /** Cut the connection of the first request whose line matches, after this many bytes of it. */
  cut?: { line: RegExp; afterBytes: number };
  /** Hold each connection whose first request line matches for this long before forwarding it. */
  hold?: { line: RegExp; ms: number };
}

/** A TCP proxy to the server that records every request line it forwards and the upload connections open at once. */
async function startProxy(port: number, options: ProxyOptions = {}) {
  const lines: string[] = [];
  /** Each request's head (request line and headers), in order. */
  const heads: string[] = [];
  let open = 0;
  let peakOpen = 0;
  let cuts = 0;
  const uploadLine = /^(?:POST \/v1\/blobs\?|PATCH \/v1\/uploads\/)/;
  const server: Server = createNetServer((downstream) => {
    const upstream = connect(port, '127.0.0.1');
    let first: string | null = null;
    let cutting = false;
    let counted = false;
    let forwarded = 0;
    const held: Buffer[] = [];
    let holding = false;
    downstream.on('data', (chunk: Buffer) => {
      const text = chunk.toString('latin1');
      for (const m of text.matchAll(/(?:GET|HEAD|POST|PUT|PATCH|DELETE) \/v1\/\S+ HTTP\/1\.1\r\n/g)) {
        lines.push(m[0].trimEnd());
        heads.push(text.slice(m.index, text.indexOf('\r\n\r\n', m.index)));
      }
      if (first === null) {
        first = text.slice(0, text.indexOf('\r\n'));
        if (uploadLine.test(first)) {
          counted = true;
          peakOpen = Math.max(peakOpen, ++open);
        }
        if (options.cut && cuts === 0 && options.cut.line.test(first)) {
          cutting = true;
          cuts++;
        }
        if (options.hold?.line.test(first)) {
          holding = true;
          setTimeout(() => {
            holding = false;
            for (const c of held.splice(0)) upstream.write(c);
          }, options.hold.ms);
        }
      }
      forwarded += chunk.length;
      if (cutting && forwarded > options.cut!.afterBytes) {
        downstream.destroy();
        upstream.destroy();
        return;
      }
      if (holding) held.push(chunk);
      else upstream.write(chunk);
    });
    upstream.pipe(downstream);
    downstream.on('error', () => upstream.destroy());
    upstream.on('error', () => downstream.destroy());
    downstream.on('close', () => {
      if (counted) open--;
      counted = false;
      upstream.destroy();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    lines,
    heads,
    get peakOpen() {
      return peakOpen;
    },
    get cuts() {
      return cuts;
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

describe('push transfers', () => {
  let server: TestServer;
  let env: Record<string, string>;
  let scratch: string;
  before(async () => {
    server = await startServer();
    env = { MODELGATE_URL: server.url, MODELGATE_TOKEN: server.token };
    scratch = await mkdtemp(join(tmpdir(), 'modelgate-push-test-'));
  });
  after(async () => {
    await server.dispose();
    await rm(scratch, { recursive: true, force: true });
  });

  const freshDir = (name: string) => mkdtemp(join(scratch, `${name}-`));

  test('an upload reads each step of its source at the place in its buffer that the placement names', async () => {
    const client = new ModelgateClient({ baseUrl: server.url, token: server.token });
    const blob = randomBytes(5 * 64 * 1024 + 777);
    const digest = `sha256:${sha256Hex(blob)}`;
    const reads: { position: number; at: number }[] = [];
    const read = async (buffer: Buffer, length: number, position: number) => {
      // The buffers are allocated whole (not pooled): a view's byteOffset is where the read lands.
      reads.push({ position, at: buffer.byteOffset });
      return blob.copy(buffer, 0, position, Math.min(blob.length, position + length));
    };
    const placement = { slack: READ_SLACK, offset: readPlacement };
    const stored = await client.uploadBlobFrom(digest, blob.length, read, { chunkSize: 64 * 1024, placement });
    assert.deepEqual(stored, { digest, size: blob.length });
    assert.equal(reads.length, 6);
    for (const { position, at } of reads) assert.equal(at, readPlacement(position), `read at ${position}`);
    // The placement is not always the start of the buffer (or this test would prove nothing).
    assert.ok(reads.some(({ at }) => at !== 0));
  });

  test('a large file goes up in one session chunk while it is hashed, and a second push drops that upload', async () => {
    const proxy = await startProxy(server.port);
    try {
      const blob = randomBytes(LARGE);
      const src = await freshDir('large');
      await writeTree(src, { 'w.bin': blob, 'small.json': '{"a":1}' });
      const first = parseJson(await runCli(['push', src, 'push/large', '--json'], { ...env, MODELGATE_URL: proxy.url }));
      assert.equal(first.uploaded, 2);
      assert.equal(first.uploadedBytes, LARGE + 7);
      const patches = proxy.lines.filter((l) => l.startsWith('PATCH /v1/uploads/'));
      const commits = proxy.lines.filter((l) => l.startsWith('PUT /v1/uploads/'));
      assert.equal(patches.length, 1, `one streamed chunk for the large file: ${proxy.lines.join(', ')}`);
      assert.equal(commits.length, 1);
      assert.match(commits[0]!, new RegExp(`digest=sha256%3A${sha256Hex(blob)}`));
      // The small file went the other way: hashed first, then one POST with its digest.
      assert.equal(proxy.lines.filter((l) => l.startsWith(`POST /v1/blobs?digest=sha256%3A${sha256Hex('{"a":1}')}`)).length, 1);

      const dest = await freshDir('large-dest');
      parseJson(await runCli(['pull', 'push/large@v1', dest, '--json'], env));
      assert.equal(sha256Hex(await readFile(join(dest, 'w.bin'))), sha256Hex(blob));

      // Again: the server has both blobs. The large file's early upload is dropped and its session cancelled.
      proxy.lines.length = 0;
      const second = parseJson(await runCli(['push', src, 'push/large', '--json'], { ...env, MODELGATE_URL: proxy.url }));
      assert.equal(second.uploaded, 0);
      assert.equal(second.skipped, 2);
      assert.equal(second.created, false);
      assert.equal(proxy.lines.filter((l) => l.startsWith('PUT /v1/uploads/')).length, 0);
      const opened = proxy.lines.filter((l) => l.startsWith('PATCH /v1/uploads/')).map((l) => l.split(' ')[1]!);
      // A DELETE that finds the dropped stream still running on the server is refused (busy) and sent again.
      const cancelled = [...new Set(proxy.lines.filter((l) => l.startsWith('DELETE /v1/uploads/')).map((l) => l.split(' ')[1]!))];
      assert.equal(opened.length, 1);
      assert.deepEqual(cancelled, opened, `the session that was opened is cancelled: ${proxy.lines.join(', ')}`);
      for (const path of cancelled) {
        const res = await fetch(`${server.url}${path}`, { headers: { Authorization: `Bearer ${server.token}` } });
        assert.equal(res.status, 404, `${path} is gone`);
      }
    } finally {
      await proxy.close();
    }
  });

  test('two copies of a large file share one upload', async () => {
    const proxy = await startProxy(server.port);
    try {
      const blob = randomBytes(LARGE);
      const src = await freshDir('twins');
      await writeTree(src, { 'a.bin': blob, 'b.bin': blob });
      const pushed = parseJson(await runCli(['push', src, 'push/twins', '--json'], { ...env, MODELGATE_URL: proxy.url }));
      assert.equal(pushed.uploaded, 1);
      assert.equal(pushed.uploadedBytes, LARGE);
      assert.equal(proxy.lines.filter((l) => l.startsWith('PUT /v1/uploads/')).length, 1);
    } finally {
      await proxy.close();
    }
  });

  test('a large file whose stream breaks continues in the same session from the offset the server kept', async () => {
    const proxy = await startProxy(server.port, { cut: { line: /^PATCH \/v1\/uploads\//, afterBytes: 5 * MIB } });
    try {
      const blob = randomBytes(LARGE);
      const src = await freshDir('cut');
      await writeTree(src, { 'w.bin': blob });
      const pushed = await runCli(['push', src, 'push/cut', '--json'], { ...env, MODELGATE_URL: proxy.url });
      const result = parseJson(pushed);
      assert.equal(proxy.cuts, 1);
      assert.match(pushed.stderr, /continuing through its upload session/);
      assert.equal(result.uploadedBytes, LARGE);
      const sessions = new Set(
        proxy.lines.filter((l) => /^(PATCH|PUT) \/v1\/uploads\//.test(l)).map((l) => l.split(' ')[1]!.split('?')[0]),
      );
      assert.equal(sessions.size, 1, `one session throughout: ${proxy.lines.join(', ')}`);
      assert.equal(proxy.lines.filter((l) => l.startsWith('POST /v1/uploads')).length, 1);
      // The first chunk streamed from 0; the next one starts where the server's offset said.
      const starts = proxy.heads.filter((h) => h.startsWith('PATCH ')).map((h) => Number(/\r\ncontent-range: bytes (\d+)-/i.exec(h)?.[1]));
      assert.equal(starts[0], 0);
      assert.ok(starts.length >= 2 && starts[1]! > 0, `resumed after the cut, not from 0: ${starts.join(', ')}`);
      const dest = await freshDir('cut-dest');
      parseJson(await runCli(['pull', 'push/cut@v1', dest, '--json'], env));
      assert.equal(sha256Hex(await readFile(join(dest, 'w.bin'))), sha256Hex(blob));
    } finally {
      await proxy.close();
    }
  });

  test('--max-connections bounds the uploads open at once', async () => {
    // Each upload is held 300 ms before it reaches the server, so uploads that may overlap do.
    const proxy = await startProxy(server.port, { hold: { line: /^(?:POST \/v1\/blobs\?|PATCH \/v1\/uploads\/)/, ms: 300 } });
    try {
      const files: Record<string, Buffer> = {};
      for (let i = 0; i < 6; i++) files[`f${i}.bin`] = randomBytes(200_000);
      const src = await freshDir('conns');
      await writeTree(src, files);
      const two = parseJson(
        await runCli(['push', src, 'push/conns', '--max-connections', '2', '--json'], { ...env, MODELGATE_URL: proxy.url }),
      );
      assert.equal(two.uploaded, 6);
      assert.equal(proxy.peakOpen, 2, 'two uploads at once, never more');

      const proxyWide = await startProxy(server.port, { hold: { line: /^(?:POST \/v1\/blobs\?|PATCH \/v1\/uploads\/)/, ms: 300 } });
      try {
        for (let i = 0; i < 6; i++) files[`f${i}.bin`] = randomBytes(200_000);
        await writeTree(src, files);
        const five = parseJson(
          await runCli(['push', src, 'push/conns', '--max-connections', '5', '--json'], { ...env, MODELGATE_URL: proxyWide.url }),
        );
        assert.equal(five.uploaded, 6);
        assert.ok(proxyWide.peakOpen > 2 && proxyWide.peakOpen <= 5, `with 5 allowed, ${proxyWide.peakOpen} were open at once`);
      } finally {
        await proxyWide.close();
      }
      const bad = await runCli(['push', src, 'push/conns', '--max-connections', '0'], env);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /--max-connections/);
    } finally {
      await proxy.close();
    }
  });

  test('--limit-rate caps the bytes per second of every upload together', async () => {
    // 18 MiB at 8 MiB/s: the limiter's quarter second of credit lets 2 MiB through at once, the
    // rest takes at least 2 s. A lower bound only: a loaded machine can make it slower, never faster.
    const src = await freshDir('rate');
    const large = randomBytes(LARGE);
    const small = randomBytes(MIB - 123);
    await writeTree(src, { 'large.bin': large, 'small.bin': small });
    const started = performance.now();
    const pushed = parseJson(await runCli(['push', src, 'push/rate', '--limit-rate', '8MiB', '--json'], env));
    const seconds = (performance.now() - started) / 1000;
    assert.equal(pushed.uploadedBytes, LARGE + small.length);
    assert.ok(seconds >= 1.9, `18 MiB at 8 MiB/s took ${seconds.toFixed(2)} s`);

    const bad = await runCli(['push', src, 'push/rate', '--limit-rate', 'fast'], env);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--limit-rate must be a positive byte count/);
  });
});
