// The client CLI (push, pull, resolve, alias, rollback) run as a child process against a real
// server, plus unit tests of the pieces whose failure modes a real server never shows: piece
// planning, path safety, state files, and a deliberately misbehaving server for Range handling.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { lstat, mkdir, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { connect, createServer as createNetServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  MAX_DECLARED_CONTENT_LENGTH,
  ModelgateApiError,
  ModelgateClient,
  ModelgateTransferError,
  parseContentRange,
  RateLimiter,
} from '../src/client/index.js';
import { parseByteSize } from '../src/cli/args.js';
import { mapLimited } from '../src/cli/parallel.js';
import { startProgress } from '../src/cli/progress.js';
import { ensureParentDirs, targetPath } from '../src/cli/pull/local-target.js';
import { openPartialDownload } from '../src/cli/pull/partial-download.js';
import { PartialStateFile, readPartialState, type PartialState } from '../src/cli/pull/partial-state.js';
import { maxRunBytes, type Piece, planPieces, RunQueue } from '../src/cli/pull/piece-plan.js';
import { PrefixHasher } from '../src/cli/pull/prefix-hasher.js';
import { RING_SIZE } from '../src/cli/pull/receive-ring.js';
import { partialPaths } from '../src/cli/pull/work-dir.js';
import { ok, parseJson, runCli, scratchFolder, treeDigests, writeTree, type CliRun } from './harness/cli.js';
import { startFakeRegistry, type FakeRegistry } from './harness/fake-registry.js';
import { sha256Hex } from './harness/http.js';
import { CLI, startServer, type TestServer } from './harness/server.js';

async function exists(path: string): Promise<boolean> {
  return lstat(path).then(
    () => true,
    () => false,
  );
}

const scratch = scratchFolder('modelgate-cli-test-');
const freshDir = scratch.fresh;

/** Every run the queue hands out for one file's missing pieces, in order (what a pull's connections take). */
function planRuns(pieces: readonly Piece[], maxBytes: number): Piece[][] {
  const queue = new RunQueue([{ owner: null, missing: pieces }]);
  const runs: Piece[][] = [];
  for (let next = queue.take(maxBytes); next; next = queue.take(maxBytes)) runs.push(next.run);
  return runs;
}

describe('command line', () => {
  test('--version prints the package version', async () => {
    const { version } = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    const run = await runCli(['--version']);
    assert.equal(run.code, 0);
    assert.equal(run.stdout, `modelgate ${version}\n`);
  });
});

describe('piece planning', () => {
  test('covers every byte exactly once, in order', () => {
    for (const [size, pieceSize] of [
      [1, 1],
      [10, 3],
      [12, 3],
      [5, 100],
      [16 * 1024 * 1024 + 1, 16 * 1024 * 1024],
    ] as const) {
      const pieces = planPieces(size, pieceSize);
      assert.equal(pieces.length, Math.ceil(size / pieceSize));
      let next = 0;
      pieces.forEach((p, i) => {
        assert.equal(p.index, i);
        assert.equal(p.start, next);
        assert.ok(p.end >= p.start && p.end - p.start + 1 <= pieceSize);
        next = p.end + 1;
      });
      assert.equal(next, size);
    }
  });

  test('runs: consecutive pieces up to the byte limit, split at gaps, one piece at least', () => {
    const pieces = planPieces(10 * 100, 100);
    const indexes = (runs: { index: number }[][]) => runs.map((r) => r.map((p) => p.index));
    assert.deepEqual(indexes(planRuns(pieces, 300)), [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]);
    // After a resume only the missing pieces are asked for: a finished piece ends a run.
    const missing = pieces.filter((p) => ![2, 3, 7].includes(p.index));
    assert.deepEqual(indexes(planRuns(missing, 1000)), [
      [0, 1],
      [4, 5, 6],
      [8, 9],
    ]);
    assert.deepEqual(indexes(planRuns(pieces.slice(0, 3), 50)), [[0], [1], [2]]);
    assert.deepEqual(planRuns([], 100), []);
    const MiB = 1024 * 1024;
    assert.equal(maxRunBytes(1024 * MiB, 1), 256 * MiB);
    assert.equal(maxRunBytes(4096 * MiB, 1), 256 * MiB);
    assert.equal(maxRunBytes(100 * MiB, 1), 25 * MiB);
    assert.equal(maxRunBytes(4096 * MiB, 4), 32 * MiB);
  });

  test('an empty blob has no pieces; nonsense sizes are refused', () => {
    assert.deepEqual(planPieces(0, 1024), []);
    assert.throws(() => planPieces(-1, 1024), RangeError);
    assert.throws(() => planPieces(10, 0), RangeError);
  });

  test('piece sizes accept units', () => {
    assert.equal(parseByteSize('64KiB', 'piece-size', 1), 65536);
    assert.equal(parseByteSize('16M', 'piece-size', 1), 16 * 1024 * 1024);
    assert.equal(parseByteSize(undefined, 'piece-size', 7), 7);
    assert.throws(() => parseByteSize('0', 'piece-size', 1), /piece-size/);
    assert.throws(() => parseByteSize('12 parsecs', 'piece-size', 1), /piece-size/);
  });
});

describe('local path safety', () => {
  test('paths that could leave the target directory are refused', () => {
    const root = join(tmpdir(), 'modelgate-root');
    for (const bad of ['../x', '/etc/passwd', 'a/../../x', 'a/./b', 'a//b', 'a\\..\\b', '', 'a/\u0000b', '.modelgate/partial/x']) {
      assert.throws(() => targetPath(root, bad), /refusing file path/, `accepted ${JSON.stringify(bad)}`);
    }
    assert.equal(targetPath(root, 'weights/model.bin'), join(root, 'weights', 'model.bin'));
    assert.equal(targetPath(root, '..hidden/x..y'), join(root, '..hidden', 'x..y'));
  });

  test('a symlinked directory is never written through', async () => {
    const root = await freshDir('symlink-root');
    const elsewhere = await freshDir('symlink-elsewhere');
    await symlink(elsewhere, join(root, 'sub'));
    await assert.rejects(ensureParentDirs(root, join(root, 'sub', 'deeper', 'file.bin')), /symlink/);
    assert.deepEqual(await readdir(elsewhere), []);
    await ensureParentDirs(root, join(root, 'a', 'b', 'file.bin'));
    assert.ok((await stat(join(root, 'a', 'b'))).isDirectory());
  });
});

describe('partial state file', () => {
  test('concurrent updates all reach the file', async () => {
    const dir = await freshDir('state');
    const path = join(dir, 'blob.state.json');
    const state = new PartialStateFile(path, { digest: `sha256:${'a'.repeat(64)}`, size: 1000, pieceSize: 10 }, [3]);
    for (let i = 0; i < 50; i++) state.markDone(i + 10);
    await Promise.all([state.save(), state.save()]);
    const saved = readPartialState(path);
    assert.ok(saved);
    assert.deepEqual(saved.done, [3, ...Array.from({ length: 50 }, (_, i) => i + 10)]);
    state.markDone(99);
    await state.save();
    assert.ok(readPartialState(path)!.done.includes(99));
  });

  test('a fresh start leaves no state that claims pieces of the new data file', async () => {
    // The state survives, the data does not: the next pull starts over. Stopped before its first
    // checkpoint, that pull must not leave the old record beside its new, empty data file.
    const root = await freshDir('state-stale');
    const digest = `sha256:${'b'.repeat(64)}`;
    const paths = partialPaths(root, 'b'.repeat(64));
    await mkdir(dirname(paths.state), { recursive: true });
    await writeFile(paths.state, JSON.stringify({ digest, size: 4096, pieceSize: 1024, done: [0, 1, 2] }));
    const fresh = openPartialDownload(root, digest, 4096, 1024);
    assert.equal(fresh.missing.length, 4);
    assert.equal(readPartialState(paths.state), null);
    assert.equal((await stat(paths.data)).size, 4096);
    const again = openPartialDownload(root, digest, 4096, 1024);
    assert.equal(again.resumedBytes, 0);
    assert.equal(again.missing.length, 4);
  });

  test('an unreadable or malformed state counts as no state', async () => {
    const dir = await freshDir('state-bad');
    assert.equal(readPartialState(join(dir, 'missing.json')), null);
    await writeFile(join(dir, 'torn.json'), '{"digest":"sha256:');
    assert.equal(readPartialState(join(dir, 'torn.json')), null);
    await writeFile(join(dir, 'wrong.json'), JSON.stringify({ digest: 'x', size: 10, pieceSize: 0, done: [] }));
    assert.equal(readPartialState(join(dir, 'wrong.json')), null);
  });
});

describe('helpers', () => {
  test('Content-Range parsing accepts only a satisfied single range', () => {
    assert.deepEqual(parseContentRange('bytes 0-9/10'), { start: 0, end: 9, size: 10 });
    for (const bad of [null, 'bytes */10', 'bytes 5-4/10', 'bytes 0-10/10', 'items 0-1/2', 'bytes 0-1/*']) {
      assert.equal(parseContentRange(bad), null, String(bad));
    }
  });

  test('mapLimited respects its limit and stops launching after a failure', async () => {
    let running = 0;
    let peak = 0;
    const started: number[] = [];
    await assert.rejects(
      mapLimited(
        Array.from({ length: 20 }, (_, i) => i),
        3,
        async (i, signal) => {
          started.push(i);
          running++;
          peak = Math.max(peak, running);
          try {
            await new Promise((r) => setTimeout(r, 5));
            if (i === 4) throw new Error('boom');
            assert.equal(signal.aborted, false);
          } finally {
            running--;
          }
        },
      ),
      /boom/,
    );
    assert.equal(peak, 3);
    assert.ok(started.length < 20, `all ${started.length} tasks started despite the failure`);
  });

  test('progress draws on a terminal and stays silent otherwise', () => {
    const pipe: string[] = [];
    const quiet = startProgress('downloading', 2048, { stream: { isTTY: false, write: (t: string) => pipe.push(t) } });
    quiet.advance(1024);
    quiet.finish();
    assert.deepEqual(pipe, []);

    const screen: string[] = [];
    let now = 0;
    const meter = startProgress('downloading', 2048, {
      stream: { isTTY: true, columns: 120, write: (t: string) => screen.push(t) },
      now: () => now,
    });
    now = 1000;
    meter.advance(1024);
    meter.finish();
    const last = screen.filter((t) => t.includes('downloading')).pop()!;
    assert.match(last, /downloading 1\.0 KiB \/ 2\.0 KiB 50% 1\.0 KiB\/s/);
    assert.equal(screen.at(-1), '\n');
  });
});

describe('Range downloads against a misbehaving server', () => {
  const content = randomBytes(300_000);
  const digest = `sha256:${sha256Hex(content)}`;
  type Misbehaviour =
    | 'honest'
    | 'cut-first-attempt'
    | 'cut-first-request-mid-run'
    | 'short-body'
    | 'wrong-content-range'
    | 'ignore-range'
    | 'hang-after-two-pieces';
  let fake: FakeRegistry;
  let url: string;
  let mode: Misbehaviour = 'honest';
  const attempts = new Map<string, number>();
  /** Range headers of the blob requests, in arrival order. */
  const requested: string[] = [];

  before(async () => {
    fake = await startFakeRegistry({
      model: 'fake/model@v1',
      path: 'w.bin',
      content,
      digest,
      answerRange: (req, res, start, end) => {
        const seen = (attempts.get(req.headers.range!) ?? 0) + 1;
        attempts.set(req.headers.range!, seen);
        requested.push(req.headers.range!);
        // Pieces past the first two get no answer at all, so a pull can be killed at a known point.
        if (mode === 'hang-after-two-pieces' && start >= 2 * 65536) return;
        if (mode === 'ignore-range') {
          res.end(content);
          return;
        }
        res.statusCode = 206;
        const claimed =
          mode === 'wrong-content-range' ? `bytes ${start + 1}-${end}/${content.length}` : `bytes ${start}-${end}/${content.length}`;
        res.setHeader('Content-Range', claimed);
        if (mode === 'short-body') {
          // A complete, well-formed answer one byte short of the range asked for.
          res.end(content.subarray(start, end));
          return;
        }
        res.setHeader('Content-Length', String(end - start + 1));
        if (mode === 'cut-first-request-mid-run' && requested.length === 1) {
          // Two 16 KiB pieces and 7000 bytes of the third, then the connection drops.
          res.write(content.subarray(start, start + 2 * 16384 + 7000), () => res.socket?.destroy());
          return;
        }
        if (mode === 'cut-first-attempt' && seen === 1) {
          // Half the bytes, then the connection drops: a short body that must not count as the piece.
          res.write(content.subarray(start, start + Math.floor((end - start + 1) / 2)), () => res.socket?.destroy());
          return;
        }
        res.end(content.subarray(start, end + 1));
      },
    });
    url = fake.url;
  });
  after(() => fake.close());

  test('the range reader refuses a 206 for other bytes, a 200, a short body and a cut one', async () => {
    const client = new ModelgateClient({ baseUrl: url });
    const reader = client.rangeReader();
    const range = { start: 10, end: 99, size: content.length };
    const drain = async () => {
      const parts: Buffer[] = [];
      await reader.read(digest, range, (buffer, offset, length) => parts.push(Buffer.from(buffer.subarray(offset, offset + length))));
      return Buffer.concat(parts);
    };
    mode = 'wrong-content-range';
    await assert.rejects(drain(), (err) => err instanceof ModelgateTransferError && /Content-Range "bytes 11-99/.test(err.message));
    mode = 'ignore-range';
    await assert.rejects(drain(), (err) => err instanceof ModelgateTransferError && /got HTTP 200/.test(err.message));
    mode = 'short-body';
    await assert.rejects(drain(), (err) => err instanceof ModelgateTransferError && /got a 89-byte body/.test(err.message));
    mode = 'cut-first-attempt';
    attempts.clear();
    await assert.rejects(drain(), (err) => err instanceof ModelgateTransferError && /closed mid-response/.test(err.message));
    mode = 'honest';
    assert.deepEqual(await drain(), content.subarray(10, 100));
    await assert.rejects(
      reader.read(`sha256:${'0'.repeat(64)}`, range, () => assert.fail('no bytes of an error answer reach the sink')),
      (err) => err instanceof ModelgateApiError && err.status === 404 && err.code === 'NOT_FOUND',
    );
    reader.close();
  });

  test('a range reader keeps one connection alive across requests', async () => {
    mode = 'honest';
    const before = fake.stats.connections;
    const reader = new ModelgateClient({ baseUrl: url }).rangeReader();
    for (let start = 0; start < 3000; start += 1000) {
      let got = 0;
      await reader.read(digest, { start, end: start + 999, size: content.length }, (_b, _o, length) => (got += length));
      assert.equal(got, 1000);
    }
    reader.close();
    assert.equal(fake.stats.connections - before, 1);
  });

  test('pull opens no more than --max-connections and honours --limit-rate', async () => {
    mode = 'honest';
    fake.stats.peakOpen = 0;
    const dir = await freshDir('fake-limits');
    const run = await runCli(
      ['pull', 'fake/model@v1', dir, '--piece-size', '16KiB', '--max-connections', '2', '--limit-rate', '4MiB', '--json'],
      { MODELGATE_URL: url },
    );
    const result = parseJson(run);
    assert.equal(result.downloadedBytes, content.length);
    assert.ok(result.connections >= 1 && result.connections <= 2, `reported ${result.connections} connections`);
    assert.equal(sha256Hex(await readFile(join(dir, 'w.bin'))), sha256Hex(content));
    // The resolve request has its own (fetch) connection; the pieces share at most two.
    assert.ok(fake.stats.peakOpen <= 3, `at most 2 piece connections plus the resolve one, saw ${fake.stats.peakOpen} open at once`);
    const bad = await runCli(['pull', 'fake/model@v1', dir, '--limit-rate', 'fast'], { MODELGATE_URL: url });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--limit-rate must be a positive byte count/);
  });

  test('pull retries a piece whose connection broke and still verifies the whole file', async () => {
    mode = 'cut-first-attempt';
    attempts.clear();
    const dir = await freshDir('fake-retry');
    const run = await runCli(['pull', 'fake/model@v1', dir, '--piece-size', '64KiB', '--json'], { MODELGATE_URL: url });
    const result = parseJson(run);
    assert.equal(result.downloadedBytes, content.length);
    assert.match(run.stderr, /retry 1/);
    assert.ok(
      [...attempts.values()].every((n) => n === 2),
      'every piece took exactly two attempts',
    );
    assert.equal(sha256Hex(await readFile(join(dir, 'w.bin'))), sha256Hex(content));
  });

  test('one Range request per run of pieces; a run cut mid-way resumes from its first unfinished piece', async () => {
    mode = 'cut-first-request-mid-run';
    requested.length = 0;
    const dir = await freshDir('fake-runs');
    const run = await runCli(['pull', 'fake/model@v1', dir, '--piece-size', '16KiB', '--json'], { MODELGATE_URL: url });
    assert.equal(parseJson(run).downloadedBytes, content.length);
    assert.match(run.stderr, /retry 1/);
    // 19 pieces of 16 KiB on one connection: runs of about a quarter of the file (4 pieces), the
    // first cut after 2.4 pieces and asked again from the third piece's first byte.
    assert.deepEqual(requested, [
      'bytes=0-65535',
      'bytes=32768-65535',
      'bytes=65536-131071',
      'bytes=131072-196607',
      'bytes=196608-262143',
      'bytes=262144-299999',
    ]);
    assert.equal(sha256Hex(await readFile(join(dir, 'w.bin'))), sha256Hex(content));
  });

  test('a pull killed mid-way resumes with the pieces it had finished', async () => {
    mode = 'hang-after-two-pieces';
    const dir = await freshDir('fake-killed');
    const child = spawn(process.execPath, [CLI, 'pull', 'fake/model@v1', dir, '--piece-size', '64KiB'], {
      env: { ...process.env, MODELGATE_URL: url },
      stdio: 'ignore',
    });
    const exited = new Promise((r) => child.once('exit', r));
    const statePath = partialPaths(dir, sha256Hex(content)).state;
    const deadline = Date.now() + 10_000;
    while (readPartialState(statePath)?.done.length !== 2) {
      assert.ok(Date.now() < deadline, 'the first two pieces were never recorded as done');
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill('SIGKILL');
    await exited;
    assert.equal(await exists(join(dir, 'w.bin')), false);

    mode = 'honest';
    const result = parseJson(await runCli(['pull', 'fake/model@v1', dir, '--piece-size', '64KiB', '--json'], { MODELGATE_URL: url }));
    assert.equal(result.resumedBytes, 2 * 65536);
    assert.equal(result.downloadedBytes, content.length - 2 * 65536);
    assert.equal(sha256Hex(await readFile(join(dir, 'w.bin'))), sha256Hex(content));
  });

  test('pull fails when every answer covers the wrong bytes, and writes no final file', async () => {
    mode = 'wrong-content-range';
    const dir = await freshDir('fake-wrong');
    const run = await runCli(['pull', 'fake/model@v1', dir, '--piece-size', '64KiB'], { MODELGATE_URL: url });
    assert.notEqual(run.code, 0);
    assert.match(run.stderr, /Content-Range/);
    assert.equal(await exists(join(dir, 'w.bin')), false);
  });
});

describe('the resolve request', () => {
  test('goes over the lean connection, and through node:http when the answer has no Content-Length', async () => {
    const resolution = { name: 'lean/model', ref: 'v1', version: 1, files: [] };
    let chunked = false;
    const seen: string[] = [];
    const server = createServer((req, res) => {
      seen.push(`${req.url} ${req.headers.authorization ?? ''} ${req.headers['x-modelgate-deployment'] ?? ''}`);
      res.setHeader('Content-Type', 'application/json');
      if (req.url !== '/v1/resolve/lean/model@v1') {
        res.statusCode = 404;
        res.end(JSON.stringify({ error: { code: 'MODEL_NOT_FOUND', message: 'no such model' } }));
      } else if (chunked) {
        // Written in two parts without a length: chunked transfer encoding.
        const text = JSON.stringify(resolution);
        res.write(text.slice(0, 10));
        res.end(text.slice(10));
      } else res.end(JSON.stringify(resolution));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const client = new ModelgateClient({
        baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        token: 't0k',
        deployment: 'fleet/pod-1',
      });
      assert.deepEqual(await client.resolve('lean/model', 'v1'), resolution);
      assert.deepEqual(seen, ['/v1/resolve/lean/model@v1 Bearer t0k fleet/pod-1'], 'one request, with the token and the deployment');
      chunked = true;
      seen.length = 0;
      assert.deepEqual(await client.resolve('lean/model', 'v1'), resolution);
      assert.equal(seen.length, 2, 'the lean request, refused for want of a length, then the one through node:http');
      await assert.rejects(
        client.resolve('lean/other', 'v1'),
        (err) => err instanceof ModelgateApiError && err.status === 404 && err.code === 'MODEL_NOT_FOUND',
      );
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});

describe('hashing from the receive buffers', () => {
  test('bytes read into a shared ring hash to the blob across wraps and pauses, over a real socket', async () => {
    // Three times the ring: the socket must wait for the hashing thread and wrap around twice.
    const content = randomBytes(3 * RING_SIZE + 12_345);
    const digest = `sha256:${sha256Hex(content)}`;
    const server = createServer((req, res) => {
      const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '')!;
      const [start, end] = [Number(m[1]), Number(m[2])];
      res.writeHead(206, { 'Content-Range': `bytes ${start}-${end}/${content.length}`, 'Content-Length': String(end - start + 1) });
      res.end(content.subarray(start, end + 1));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const dir = await freshDir('ring');
    // The hasher reads back what does not come through a ring; here every byte does, so the file stays empty.
    const path = join(dir, 'partial');
    await writeFile(path, '');
    const hasher = new PrefixHasher();
    try {
      const reader = new ModelgateClient({ baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }).rangeReader({
        receiveBuffers: hasher.ring(),
      });
      const hashed = hasher.open(path, content.length);
      // Until the thread runs, received bytes are left to be read back from the file (pull-hasher.test.ts).
      await hasher.whenRunning;
      let received = 0;
      // Two requests on the same connection, so the second starts mid-ring.
      const half = Math.floor(content.length / 2);
      for (const [start, end] of [
        [0, half - 1],
        [half, content.length - 1],
      ] as const) {
        await reader.read(digest, { start, end, size: content.length }, (buffer, offset, length) => {
          assert.ok(hashed.receive(buffer, offset, length), 'every chunk lands in the ring');
          received += length;
        });
      }
      hasher.flush();
      assert.equal(received, content.length);
      assert.equal(await hashed.digest, sha256Hex(content));
      reader.close();
    } finally {
      await hasher.close();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});

describe('hashing from several receive rings', () => {
  test("a file's bytes arriving on a second connection right after the first one's are hashed after them", async () => {
    // Connection A brings the first 100 KiB (they wait in A's ring: less than a hand-over), then
    // connection B the next 2 MiB (B hands its first MiB to the thread while A's still wait).
    const content = randomBytes(100 * 1024 + 2 * 1024 * 1024);
    const dir = await freshDir('two-rings');
    const path = join(dir, 'partial');
    await writeFile(path, '');
    const hasher = new PrefixHasher();
    try {
      const [a, b] = [hasher.ring(), hasher.ring()];
      const hashed = hasher.open(path, content.length);
      await hasher.whenRunning;
      const land = (ring: ReturnType<PrefixHasher['ring']>, from: number, to: number) => {
        const view = ring.next();
        const n = content.copy(view, 0, from, to);
        ring.filled(n);
        assert.ok(hashed.receive(view, 0, n), 'the chunk lands in a ring of this hasher');
        return from + n;
      };
      let at = land(a, 0, 100 * 1024);
      while (at < content.length) at = land(b, at, Math.min(at + 256 * 1024, content.length));
      hasher.flush();
      assert.equal(await hashed.digest, sha256Hex(content));
    } finally {
      await hasher.close();
    }
  });
});

describe('blob upload requests', () => {
  test('one streamed request: Content-Length up to the limit, chunked above it, the stored size checked', async () => {
    const seen: { length?: string; encoding?: string; bytes: number }[] = [];
    const claimed = new Map<string, number>();
    const server = createServer((req, res) => {
      const digest = new URL(req.url!, 'http://x').searchParams.get('digest')!;
      const answer = () => {
        res.setHeader('Content-Type', 'application/json');
        res.statusCode = 201;
        res.end(JSON.stringify({ digest, size: claimed.get(digest) }));
      };
      let bytes = 0;
      if (req.headers['transfer-encoding'] === 'chunked') {
        // A gigabyte is not worth sending in a test: answer as soon as the first chunk is in.
        req.once('data', (c: Buffer) => {
          seen.push({ length: req.headers['content-length'], encoding: req.headers['transfer-encoding'], bytes: c.length });
          answer();
        });
        return;
      }
      req.on('data', (c: Buffer) => (bytes += c.length));
      req.on('end', () => {
        seen.push({ length: req.headers['content-length'], encoding: req.headers['transfer-encoding'], bytes });
        answer();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const client = new ModelgateClient({ baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, token: 't' });
      const source = Buffer.from('abc'.repeat(100_000));
      const read = async (buffer: Buffer, length: number, position: number) =>
        source.copy(buffer, 0, position, Math.min(source.length, position + length));
      const endless = async (buffer: Buffer, length: number, position: number) => read(buffer, length, position % source.length);
      const small = `sha256:${'1'.repeat(64)}`;
      const huge = `sha256:${'2'.repeat(64)}`;
      claimed.set(small, source.length).set(huge, MAX_DECLARED_CONTENT_LENGTH + 1);
      let sent = 0;
      await client.uploadBlobFrom(small, source.length, read, { chunkSize: 65536, onProgress: (n) => (sent += n) });
      assert.equal(sent, source.length);
      await client.uploadBlobFrom(huge, MAX_DECLARED_CONTENT_LENGTH + 1, endless);
      assert.equal(seen[0]!.length, String(source.length));
      assert.equal(seen[0]!.bytes, source.length);
      assert.equal(seen[1]!.length, undefined);
      assert.equal(seen[1]!.encoding, 'chunked');
      // The server's answer must confirm the size that was hashed.
      claimed.set(small, 4);
      await assert.rejects(client.uploadBlobFrom(small, source.length, read), /stored 4 bytes/);
      // A source that ends early fails the upload instead of sending a short body.
      claimed.set(small, source.length);
      await assert.rejects(client.uploadBlobFrom(small, source.length + 10, read), /source ended after 300000 of 300010 bytes/);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });

  test('the rate limiter lets the rate through and asks to wait beyond it', () => {
    let now = 0;
    const limiter = new RateLimiter(1000, () => now);
    // A quarter second of credit to start with, then nothing until time passes.
    assert.equal(limiter.take(250), 0);
    assert.equal(limiter.take(100), 100);
    now += 100;
    assert.equal(limiter.take(0), 0);
    now += 1000;
    assert.equal(limiter.take(250), 0, 'credit is capped at a quarter second');
    assert.equal(limiter.take(10), 10);
  });
});

describe('against a real server', () => {
  let server: TestServer;
  let env: Record<string, string>;
  before(async () => {
    server = await startServer();
    env = { MODELGATE_URL: server.url, MODELGATE_TOKEN: server.token };
  });
  after(async () => {
    await server.dispose();
  });

  const cli = (...args: string[]) => runCli(args, env);

  const model = {
    'config.json': '{"layers":4}',
    'weights/model.bin': randomBytes(700_000),
    'weights/shards/part-0001.bin': randomBytes(123_457),
    'tokenizer/vocab.txt': 'hello\nworld\n',
    'tokenizer/copy-of-vocab.txt': 'hello\nworld\n',
    'empty.txt': '',
  };
  const distinctBlobs = new Set(Object.values(model).map((c) => sha256Hex(c))).size;

  test('push then pull round-trips nested directories and an empty file', async () => {
    const src = await freshDir('push-src');
    await writeTree(src, model);
    await symlink(join(src, 'config.json'), join(src, 'link-to-config'));

    const pushed = await cli('push', src, 'cli/roundtrip', '--alias', 'staging');
    assert.equal(pushed.code, 0, pushed.stderr);
    const line = /^cli\/roundtrip@v1 (sha256:[0-9a-f]{64})\n$/.exec(pushed.stdout);
    assert.ok(line, `unexpected push output ${JSON.stringify(pushed.stdout)}`);
    assert.match(pushed.stderr, /skipping link-to-config \(symlink\)/);

    const resolved = parseJson(await cli('resolve', 'cli/roundtrip@staging', '--json'));
    assert.equal(resolved.version, 1);
    assert.equal(resolved.digest, line[1]);
    assert.deepEqual(resolved.files.map((f: { path: string }) => f.path).sort(), Object.keys(model).sort());
    const readable = await cli('resolve', 'cli/roundtrip@staging');
    assert.equal(readable.code, 0);
    assert.match(readable.stdout, /version\s+v1/);
    assert.match(readable.stdout, /weights\/shards\/part-0001\.bin/);

    const dest = join(await freshDir('pull-dest'), 'out');
    const pulled = parseJson(await cli('pull', 'cli/roundtrip@staging', dest, '--piece-size', '64KiB', '--json'));
    assert.equal(pulled.version, 1);
    assert.equal(pulled.digest, line[1]);
    assert.equal(pulled.files, Object.keys(model).length);
    assert.deepEqual(await treeDigests(dest, { regularOnly: true }), await treeDigests(src, { regularOnly: true }));
    assert.equal((await stat(join(dest, 'empty.txt'))).size, 0);
    assert.equal(await exists(join(dest, '.modelgate')), false, 'the work directory is removed after a clean pull');

    const again = parseJson(await cli('pull', 'cli/roundtrip@v1', dest, '--json'));
    assert.equal(again.downloaded, 0);
    assert.equal(again.skipped, Object.keys(model).length);
  });

  test('resolve, push and pull do their JSON calls without loading undici (fetch), resolve and pull without node:http', async () => {
    // fetch's first use loads undici and compiles its WebAssembly parser: tens of milliseconds of start-up.
    const dir = await freshDir('no-undici');
    const probe = join(dir, 'probe.mjs');
    await writeFile(
      probe,
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the probe's own source, whose template literal runs in the probed process
      "process.on('exit', () => process.stderr.write(`undici loaded: ${process.moduleLoadList.some((m) => m.includes('undici'))}\\n`));\n" +
        // biome-ignore lint/suspicious/noTemplateCurlyInString: as above
        "process.on('exit', () => process.stderr.write(`node:http loaded: ${process.moduleLoadList.includes('NativeModule http')}\\n`));\n",
    );
    const withProbe = { ...env, NODE_OPTIONS: `--import=${probe}` };
    await writeTree(join(dir, 'src'), { 'a.txt': 'probe' });
    const runs = [
      await runCli(['push', join(dir, 'src'), 'probe/model', '--alias', 'dev'], withProbe),
      await runCli(['resolve', 'probe/model@dev'], withProbe),
      await runCli(['pull', 'probe/model@dev', join(dir, 'out')], withProbe),
    ];
    for (const run of runs) {
      ok(run);
      assert.match(run.stderr, /undici loaded: false/);
    }
    // resolve and pull send their one JSON request (the resolve) over the lean connection; push uses node:http.
    assert.match(runs[0]!.stderr, /node:http loaded: true/);
    assert.match(runs[1]!.stderr, /node:http loaded: false/);
    assert.match(runs[2]!.stderr, /node:http loaded: false/);
    // The probe can tell: a process that calls fetch reports it.
    const control = spawnSync(process.execPath, [`--import=${probe}`, '-e', "fetch('http://127.0.0.1:1').catch(() => {})"], {
      encoding: 'utf8',
    });
    assert.match(control.stderr, /undici loaded: true/);
  });

  test('pull defaults to ./<last part of the name>', async () => {
    const src = await freshDir('default-dir-src');
    await writeTree(src, { 'a.txt': 'a' });
    assert.equal((await cli('push', src, 'cli/default-dir')).code, 0);
    const cwd = await freshDir('default-dir-cwd');
    const run = await new Promise<CliRun>((resolve, reject) => {
      const child = spawn(process.execPath, [CLI, 'pull', 'cli/default-dir@v1'], {
        cwd,
        env: { ...process.env, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stdout: '', stderr }));
    });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(await readFile(join(cwd, 'default-dir', 'a.txt'), 'utf8'), 'a');
  });

  test('a second push uploads nothing, and a changed file uploads only itself', async () => {
    const src = await freshDir('dedupe-src');
    await writeTree(src, model);
    const first = parseJson(await cli('push', src, 'cli/dedupe', '--json'));
    assert.equal(first.created, true);
    assert.equal(first.uploaded + first.skipped, distinctBlobs);

    const second = parseJson(await cli('push', src, 'cli/dedupe', '--json'));
    assert.equal(second.uploaded, 0);
    assert.equal(second.uploadedBytes, 0);
    assert.equal(second.skipped, distinctBlobs);
    assert.equal(second.created, false);
    assert.equal(second.version, first.version);
    assert.equal(second.digest, first.digest);

    await writeFile(join(src, 'config.json'), '{"layers":8}');
    const third = parseJson(await cli('push', src, 'cli/dedupe', '--json'));
    assert.equal(third.uploaded, 1);
    assert.equal(third.uploadedBytes, Buffer.byteLength('{"layers":8}'));
    assert.equal(third.version, first.version + 1);
  });

  test('a push whose one-request upload breaks mid-body continues through a resumable session', async () => {
    // A fault proxy: the first blob upload's connection is cut after 200 kB; everything else passes.
    let cuts = 0;
    const proxy = createNetServer((downstream) => {
      const upstream = connect(server.port, '127.0.0.1');
      let cutting: boolean | null = null;
      let forwarded = 0;
      downstream.on('data', (chunk: Buffer) => {
        if (cutting === null) {
          cutting = cuts === 0 && chunk.toString('latin1', 0, 15) === 'POST /v1/blobs?';
          if (cutting) cuts++;
        }
        forwarded += chunk.length;
        if (cutting && forwarded > 200_000) {
          downstream.destroy();
          upstream.destroy();
          return;
        }
        upstream.write(chunk);
      });
      upstream.pipe(downstream);
      downstream.on('error', () => upstream.destroy());
      upstream.on('error', () => downstream.destroy());
      downstream.on('close', () => upstream.destroy());
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    try {
      const blob = randomBytes(1_500_000);
      const src = await freshDir('session-src');
      await writeTree(src, { 'w.bin': blob });
      const viaProxy = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
      const pushed = await runCli(['push', src, 'cli/session-fallback', '--json'], { ...env, MODELGATE_URL: viaProxy });
      const result = parseJson(pushed);
      assert.equal(cuts, 1);
      assert.match(pushed.stderr, /continuing through a resumable upload session/);
      assert.equal(result.uploadedBytes, blob.length);
      const dest = await freshDir('session-dest');
      parseJson(await cli('pull', 'cli/session-fallback@v1', dest, '--json'));
      assert.equal(sha256Hex(await readFile(join(dest, 'w.bin'))), sha256Hex(blob));
    } finally {
      proxy.close();
    }
  });

  test('pull resumes from a partial download, keeping finished pieces and refetching the rest', async () => {
    const blob = randomBytes(16 * 65536 + 4321);
    const src = await freshDir('resume-src');
    await writeTree(src, { 'big.bin': blob });
    assert.equal((await cli('push', src, 'cli/resume')).code, 0);

    const dest = await freshDir('resume-dest');
    const pieceSize = 65536;
    const hex = sha256Hex(blob);
    const paths = partialPaths(dest, hex);
    await mkdir(dirname(paths.data), { recursive: true });
    // Pieces 0-5 and 9 are done; the rest of the file is garbage, as after a kill mid-write.
    const partial = randomBytes(blob.length);
    const done = [0, 1, 2, 3, 4, 5, 9];
    for (const i of done) blob.copy(partial, i * pieceSize, i * pieceSize, (i + 1) * pieceSize);
    await writeFile(paths.data, partial);
    const state: PartialState = { digest: `sha256:${hex}`, size: blob.length, pieceSize, done };
    await writeFile(paths.state, JSON.stringify(state));

    // A different --piece-size must not matter: the partial keeps the piece size it started with.
    const result = parseJson(await cli('pull', 'cli/resume@v1', dest, '--piece-size', '100KiB', '--json'));
    assert.equal(result.resumedBytes, done.length * pieceSize);
    assert.equal(result.downloadedBytes, blob.length - done.length * pieceSize);
    assert.equal(sha256Hex(await readFile(join(dest, 'big.bin'))), hex);
    assert.equal(await exists(paths.data), false);
    assert.equal(await exists(paths.state), false);
  });

  test('a partial whose finished piece holds wrong bytes fails the digest check and leaves no file', async () => {
    const blob = randomBytes(4 * 65536);
    const src = await freshDir('tamper-src');
    await writeTree(src, { 'w.bin': blob });
    assert.equal((await cli('push', src, 'cli/tamper')).code, 0);

    const dest = await freshDir('tamper-dest');
    const hex = sha256Hex(blob);
    const paths = partialPaths(dest, hex);
    await mkdir(dirname(paths.data), { recursive: true });
    const tampered = Buffer.from(blob);
    const flipAt = 2 * 65536 + 17;
    tampered.writeUInt8(tampered.readUInt8(flipAt) ^ 0xff, flipAt);
    await writeFile(paths.data, tampered);
    await writeFile(paths.state, JSON.stringify({ digest: `sha256:${hex}`, size: blob.length, pieceSize: 65536, done: [0, 2] }));

    const failed = await cli('pull', 'cli/tamper@v1', dest);
    assert.notEqual(failed.code, 0);
    assert.match(failed.stderr, /digest mismatch for w\.bin/);
    assert.equal(await exists(join(dest, 'w.bin')), false);
    assert.equal(await exists(paths.data), false, 'the untrustworthy partial is deleted');
    assert.equal(await exists(paths.state), false);

    const retried = parseJson(await cli('pull', 'cli/tamper@v1', dest, '--json'));
    assert.equal(retried.downloadedBytes, blob.length);
    assert.equal(sha256Hex(await readFile(join(dest, 'w.bin'))), hex);
  });

  test('pull replaces files with wrong content and keeps the right ones', async () => {
    const src = await freshDir('replace-src');
    await writeTree(src, model);
    assert.equal((await cli('push', src, 'cli/replace')).code, 0);

    const dest = await freshDir('replace-dest');
    await writeTree(dest, model);
    const sameSizeWrong = Buffer.from(model['weights/model.bin']);
    sameSizeWrong.writeUInt8(sameSizeWrong.readUInt8(0) ^ 1, 0);
    await writeFile(join(dest, 'weights', 'model.bin'), sameSizeWrong);
    await writeFile(join(dest, 'config.json'), 'not the config');
    await rm(join(dest, 'tokenizer', 'copy-of-vocab.txt'));

    const result = parseJson(await cli('pull', 'cli/replace@v1', dest, '--json'));
    assert.equal(result.downloaded, 2);
    assert.equal(result.copied, 1, 'a missing file whose content is already in place is copied, not downloaded');
    assert.equal(result.skipped, Object.keys(model).length - 3);
    assert.deepEqual(await treeDigests(dest, { regularOnly: true }), await treeDigests(src, { regularOnly: true }));
  });

  test('alias set with a stale --expect is refused and changes nothing', async () => {
    const src = await freshDir('alias-src');
    await writeTree(src, { 'a.txt': 'one' });
    assert.equal((await cli('push', src, 'cli/alias')).code, 0);
    await writeTree(src, { 'a.txt': 'two' });
    assert.equal((await cli('push', src, 'cli/alias')).code, 0);

    const created = parseJson(await cli('alias', 'set', 'cli/alias@staging', '1', '--expect', 'none', '--json'));
    assert.deepEqual([created.version, created.previous], [1, null]);

    const conflict = await cli('alias', 'set', 'cli/alias@staging', '2', '--expect', '7');
    assert.notEqual(conflict.code, 0);
    assert.match(conflict.stderr, /ALIAS_CONFLICT/);
    assert.equal(parseJson(await cli('resolve', 'cli/alias@staging', '--json')).version, 1);

    const again = await cli('alias', 'set', 'cli/alias@staging', '2', '--expect', 'none');
    assert.notEqual(again.code, 0);
    assert.match(again.stderr, /ALIAS_CONFLICT/);

    const moved = await cli('alias', 'set', 'cli/alias@staging', 'v2', '--expect', '1', '--reason', 'better');
    assert.equal(moved.code, 0, moved.stderr);
    assert.match(moved.stdout, /cli\/alias@staging -> v2 \(was v1/);
  });

  test('rollback returns an alias to its previous version, or to --to', async () => {
    const src = await freshDir('rollback-src');
    for (const text of ['one', 'two', 'three']) {
      await writeTree(src, { 'a.txt': text });
      assert.equal((await cli('push', src, 'cli/rollback', '--alias', 'staging')).code, 0);
    }
    assert.equal(parseJson(await cli('resolve', 'cli/rollback@staging', '--json')).version, 3);

    const back = parseJson(await cli('rollback', 'cli/rollback@staging', '--reason', 'bad metrics', '--json'));
    assert.deepEqual([back.version, back.previous], [2, 3]);
    assert.equal(parseJson(await cli('resolve', 'cli/rollback@staging', '--json')).version, 2);

    const to = await cli('rollback', 'cli/rollback@staging', '--to', '1');
    assert.equal(to.code, 0, to.stderr);
    assert.match(to.stdout, /-> v1 \(was v2/);
    const pulled = await freshDir('rollback-pull');
    assert.equal((await cli('pull', 'cli/rollback@staging', pulled)).code, 0);
    assert.equal(await readFile(join(pulled, 'a.txt'), 'utf8'), 'one');
  });

  test('errors exit non-zero with the server message', async () => {
    const badToken = await runCli(['resolve', 'cli/roundtrip@staging'], { ...env, MODELGATE_TOKEN: 'wrong-token' });
    assert.notEqual(badToken.code, 0);
    assert.match(badToken.stderr, /UNAUTHORIZED/);
    assert.doesNotMatch(badToken.stderr, /\n\s+at /, 'no stack trace for a server error');

    const missing = await cli('pull', 'cli/roundtrip@no-such-alias', await freshDir('missing'));
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /NOT_FOUND/);

    const empty = await freshDir('empty');
    const emptyPush = await cli('push', empty, 'cli/empty');
    assert.notEqual(emptyPush.code, 0);
    assert.match(emptyPush.stderr, /no files to push/);

    const usage = await cli('alias', 'set', 'cli/alias@staging');
    assert.equal(usage.code, 2);

    const unreachable = await runCli(['resolve', 'cli/x@v1', '--server', 'http://127.0.0.1:9']);
    assert.notEqual(unreachable.code, 0);
    assert.match(unreachable.stderr, /cannot reach/);
  });
});
