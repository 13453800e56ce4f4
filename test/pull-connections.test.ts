// How many connections a pull opens: the controller fed made-up throughput samples (links that
// limit each connection, links that limit the total, short transfers, the --max-connections cap),
// the resizable pool and the run queue beneath it, and the whole CLI against a real socket server
// that paces its answers, per connection or in total, so the count it settles on is measured, not
// assumed, and the pull still verifies, resumes and stays under --max-connections.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startPool } from '../src/cli/parallel.js';
import { ConnectionController, initialConnections } from '../src/cli/pull/connection-controller.js';
import { readPartialState } from '../src/cli/pull/partial-state.js';
import { planPieces, RunQueue } from '../src/cli/pull/piece-plan.js';
import { partialPaths } from '../src/cli/pull/work-dir.js';
import { parseJson, runCli, scratchFolder } from './harness/cli.js';
import { startFakeRegistry, type FakeRegistry } from './harness/fake-registry.js';
import { sha256Hex } from './harness/http.js';
import { CLI } from './harness/server.js';

const MiB = 1024 * 1024;

/**
 * Drives a controller against a link whose aggregate rate (bytes/s) at n connections is
 * `rate(n)`, whose hashing thread is busy `hashShare(n)` of the time and whose machine's cores
 * (the controller's `cores`) are idle `cpu.idle` of theirs while the pull uses `cpu.own` cores,
 * sampling every 50 ms, until `size` bytes have arrived; returns the counts in force at each step.
 */
function drive(
  controller: ConnectionController,
  rate: (n: number) => number,
  size: number,
  hashShare: (n: number) => number = () => 0.5,
  cpu: { idle: number; own: number; cores: number } = { idle: 0.5, own: 0.5, cores: 1 },
): number[] {
  const stepMs = 50;
  const counts: number[] = [];
  let received = 0;
  let hashBusyMs = 0;
  const cpuTimes = { idleMs: 0, ownMs: 0 };
  for (let now = 0; received < size; now += stepMs) {
    const n = controller.sample(now, received, size - received, hashBusyMs, { ...cpuTimes });
    counts.push(n);
    received = Math.min(size, received + (rate(n) * stepMs) / 1000);
    hashBusyMs += hashShare(n) * stepMs;
    cpuTimes.idleMs += cpu.idle * stepMs * cpu.cores;
    cpuTimes.ownMs += cpu.own * stepMs;
  }
  return counts;
}

/** The counts in force, one entry per change. */
function steps(counts: number[]): number[] {
  return counts.filter((n, i) => i === 0 || n !== counts[i - 1]);
}

describe('connection controller', () => {
  test('a link that limits each connection: one more at a time while the total grows, back one when it stops', () => {
    // 10 MB/s per connection, 35 MB/s in all: 1 → 2 → 3 → 4 (+17%), a fifth adds nothing and is dropped.
    const controller = new ConnectionController({ initial: 1, max: 8 });
    const counts = drive(controller, (n) => Math.min(10e6 * n, 35e6), 2e9);
    assert.deepEqual(steps(counts), [1, 2, 3, 4, 5, 4]);
    assert.equal(counts.at(-1), 4);
    assert.equal(controller.peak, 5);
  });

  test('a link whose total does not grow with connections (loopback, few cores) stays at one after one probe', () => {
    const controller = new ConnectionController({ initial: 1, max: 8 });
    const counts = drive(controller, () => 100e6, 4e9);
    assert.deepEqual(steps(counts), [1, 2, 1]);
    assert.equal(counts.at(-1), 1);
  });

  test('a gain under the margin does not keep the connection', () => {
    const controller = new ConnectionController({ initial: 1, max: 8, minGain: 0.1 });
    const counts = drive(controller, (n) => (n === 1 ? 100e6 : 108e6), 4e9);
    assert.equal(counts.at(-1), 1);
  });

  test('--max-connections caps the count however much each connection adds', () => {
    const controller = new ConnectionController({ initial: 1, max: 3 });
    const counts = drive(controller, (n) => 10e6 * n, 4e9);
    assert.equal(Math.max(...counts), 3);
    assert.equal(counts.at(-1), 3);
    assert.equal(controller.peak, 3);
    // And the start never exceeds it either.
    assert.equal(new ConnectionController({ initial: 9, max: 2 }).target, 2);
  });

  test('a transfer that would end soon after the first measurement is not probed', () => {
    // 1 GiB at 1 GB/s: about 0.5 s left after the first window, too little for a probe to pay off.
    const fast = new ConnectionController({ initial: 1, max: 8 });
    assert.deepEqual(steps(drive(fast, (n) => 1e9 * n, 1024 * MiB)), [1]);
    // A small file is never probed, however slow the link.
    const small = new ConnectionController({ initial: 1, max: 8 });
    assert.deepEqual(steps(drive(small, (n) => 1e6 * n, 16 * MiB)), [1]);
  });

  test('while the hash sets the pace (its thread busy 90% of the window or more) no connection is tried', () => {
    const hashBound = new ConnectionController({ initial: 1, max: 8 });
    assert.deepEqual(
      steps(
        drive(
          hashBound,
          () => 100e6,
          4e9,
          () => 0.95,
        ),
      ),
      [1],
    );
    // The same link with a hashing thread that keeps up is probed.
    const keepsUp = new ConnectionController({ initial: 1, max: 8 });
    assert.deepEqual(
      steps(
        drive(
          keepsUp,
          () => 100e6,
          4e9,
          () => 0.6,
        ),
      ),
      [1, 2, 1],
    );
  });

  test('while no core has time to spare and the pull uses a fifth of a core or more, no connection is tried', () => {
    // A rate a probe would try to raise: a loaded machine pulling from a server on the same machine.
    const busy = new ConnectionController({ initial: 1, max: 8, cores: 2 });
    assert.deepEqual(
      steps(
        drive(
          busy,
          () => 300e6,
          4e9,
          () => 0.6,
          { idle: 0.05, own: 0.4, cores: 2 },
        ),
      ),
      [1],
    );
    assert.ok(busy.decided, 'the count is final after the first window');
    // A core idle a fifth of the time: probed.
    const spare = new ConnectionController({ initial: 1, max: 8, cores: 2 });
    assert.deepEqual(
      steps(
        drive(
          spare,
          () => 300e6,
          4e9,
          () => 0.6,
          { idle: 0.2, own: 0.4, cores: 2 },
        ),
      ),
      [1, 2, 1],
    );
    // Cores busy with other work while a slow link gives the pull little to do: probed, and kept.
    const slowLink = new ConnectionController({ initial: 1, max: 2, cores: 2 });
    assert.deepEqual(
      steps(
        drive(
          slowLink,
          (n) => 10e6 * n,
          4e9,
          () => 0.01,
          { idle: 0, own: 0.02, cores: 2 },
        ),
      ),
      [1, 2],
    );
  });

  test('nothing is decided before the warm-up and a full window have passed', () => {
    const controller = new ConnectionController({ initial: 1, max: 8, warmUpMs: 150, windowMs: 400 });
    assert.equal(controller.sample(0, 0, 4e9), 1);
    assert.equal(controller.sample(149, 1e6, 4e9), 1);
    assert.equal(controller.sample(150, 2e6, 4e9), 1);
    assert.equal(controller.sample(549, 5e6, 4e9), 1);
    assert.equal(controller.sample(550, 6e6, 4e9), 2);
  });

  test('the start: one connection, one per 8 files, within the cap and the piece count', () => {
    assert.equal(initialConnections(64, 1, 4), 1);
    assert.equal(initialConnections(100, 20, 4), 3);
    assert.equal(initialConnections(100, 100, 4), 4);
    assert.equal(initialConnections(2, 100, 4), 2);
    assert.equal(initialConnections(0, 0, 4), 1);
  });
});

describe('resizable pool', () => {
  test('grows and shrinks while it runs, never above the width asked for', async () => {
    let next = 0;
    let running = 0;
    let peak = 0;
    const peaks: number[] = [];
    const gates: (() => void)[] = [];
    const pool = startPool(
      () => (next < 12 ? next++ : undefined),
      1,
      async () => {
        peak = Math.max(peak, ++running);
        await new Promise<void>((r) => gates.push(r));
        running--;
      },
    );
    const release = async () => {
      gates.shift()!();
      await new Promise((r) => setImmediate(r));
    };
    assert.equal(pool.active, 1);
    pool.resize(3);
    assert.equal(pool.active, 3);
    await release();
    await release();
    peaks.push(peak);
    pool.resize(1);
    // Workers beyond the width finish their item and stop: after two more items, one is left.
    await release();
    await release();
    assert.equal(pool.active, 1);
    while (gates.length > 0) await release();
    await pool.done;
    assert.equal(next, 12);
    assert.deepEqual(peaks, [3]);
    assert.equal(peak, 3);
  });

  test('the first failure stops new work and is thrown once the others have settled', async () => {
    let next = 0;
    let settled = 0;
    const pool = startPool(
      () => (next < 10 ? next++ : undefined),
      3,
      async (i, signal) => {
        if (i === 1) throw new Error('boom');
        await new Promise<void>((r) => (signal.aborted ? r() : signal.addEventListener('abort', () => r())));
        settled++;
      },
    );
    await assert.rejects(pool.done, /boom/);
    assert.equal(settled, 2);
    assert.equal(next, 3);
  });

  test('an aborted signal starts nothing and settles with its reason', async () => {
    const stop = new AbortController();
    stop.abort(new Error('stopped'));
    const pool = startPool(
      () => 1,
      2,
      async () => assert.fail('no task may start'),
      stop.signal,
    );
    await assert.rejects(pool.done, /stopped/);
  });
});

describe('run queue', () => {
  test('hands out runs in file order, each run within one file, sized at each take', () => {
    const a = planPieces(1000, 100);
    const b = planPieces(250, 100);
    const queue = new RunQueue([
      { owner: 'a', missing: a.filter((p) => p.index !== 4) },
      { owner: 'b', missing: b },
    ]);
    const took = (max: number) => {
      const next = queue.take(max);
      return next && `${next.owner}:${next.run.map((p) => p.index).join(',')}`;
    };
    assert.equal(took(300), 'a:0,1,2');
    // A missing piece (done before) ends a run.
    assert.equal(took(1000), 'a:3');
    assert.equal(took(50), 'a:5');
    assert.equal(took(1000), 'a:6,7,8,9');
    assert.equal(took(1000), 'b:0,1,2');
    assert.equal(took(1000), undefined);
  });
});

describe('pull against a paced server', () => {
  const content = randomBytes(64 * MiB);
  const digest = `sha256:${sha256Hex(content)}`;
  const scratch = scratchFolder('modelgate-pull-connections-');
  /** Bytes per second: each answer's own pace, or one pace shared by all answers. */
  let pacing: { perConnection: number } | { total: number } = { perConnection: 8 * MiB };
  let shared = { start: 0, sent: 0 };
  let fake: FakeRegistry;
  let url: string;

  /** Writes `bytes` in 64 KiB steps, each no earlier than its pace allows. */
  async function paced(res: ServerResponse, bytes: Buffer): Promise<void> {
    const own = { start: Date.now(), sent: 0 };
    const step = 64 * 1024;
    for (let offset = 0; offset < bytes.length && !res.destroyed; offset += step) {
      const chunk = bytes.subarray(offset, offset + step);
      const [clock, rate] = 'total' in pacing ? [shared, pacing.total] : [own, pacing.perConnection];
      // The shared pace starts with the first answer, so no credit piles up before the pull starts.
      if (clock.start === 0) clock.start = Date.now();
      clock.sent += chunk.length;
      const due = clock.start + (clock.sent * 1000) / rate;
      if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
      if (!res.write(chunk)) await new Promise((r) => res.once('drain', r));
    }
    res.end();
  }

  before(async () => {
    fake = await startFakeRegistry({
      model: 'paced/model@v1',
      path: 'w.bin',
      content,
      digest,
      answerRange: (_req, res, start, end) => {
        res.statusCode = 206;
        res.setHeader('Content-Range', `bytes ${start}-${end}/${content.length}`);
        res.setHeader('Content-Length', String(end - start + 1));
        void paced(res, content.subarray(start, end + 1));
      },
    });
    url = fake.url;
  });
  after(() => fake.close());

  const pull = (dir: string, ...flags: string[]) =>
    runCli(['pull', 'paced/model@v1', dir, '--piece-size', '1MiB', '--json', ...flags], { MODELGATE_URL: url });

  test('each connection limited: more connections open, up to --max-connections, and the file verifies', async (t) => {
    pacing = { perConnection: 8 * MiB };
    fake.stats.peakOpen = 0;
    const dir = await scratch.fresh('per-connection');
    const result = parseJson(await pull(dir, '--max-connections', '3'));
    assert.equal(result.downloadedBytes, content.length);
    t.diagnostic(`${result.connections} connections, ${fake.stats.peakOpen} open at once, ${result.seconds} s`);
    assert.ok(result.connections >= 2 && result.connections <= 3, `opened ${result.connections} connections`);
    // The resolve has a connection of its own; the downloads share at most three.
    assert.ok(fake.stats.peakOpen <= 4, `at most 3 download connections and the resolve one, saw ${fake.stats.peakOpen} open at once`);
    assert.equal(sha256Hex(await readFile(join(dir, 'w.bin'))), sha256Hex(content));
  });

  test('the total limited: a second connection is tried and given up, a third never', async (t) => {
    pacing = { total: 16 * MiB };
    shared = { start: 0, sent: 0 };
    const dir = await scratch.fresh('total');
    const result = parseJson(await pull(dir, '--max-connections', '8'));
    assert.equal(result.downloadedBytes, content.length);
    t.diagnostic(`${result.connections} connections, ${result.seconds} s`);
    assert.ok(result.connections <= 2, `opened ${result.connections} connections on a link that more cannot speed up`);
    assert.equal(sha256Hex(await readFile(join(dir, 'w.bin'))), sha256Hex(content));
  });

  test('killed while several connections run, a pull resumes with the pieces they finished', async () => {
    pacing = { perConnection: 8 * MiB };
    const dir = await scratch.fresh('killed');
    const child = spawn(process.execPath, [CLI, 'pull', 'paced/model@v1', dir, '--piece-size', '1MiB', '--max-connections', '3'], {
      env: { ...process.env, MODELGATE_URL: url },
      stdio: 'ignore',
    });
    const exited = new Promise((r) => child.once('exit', r));
    const statePath = partialPaths(dir, sha256Hex(content)).state;
    const deadline = Date.now() + 20_000;
    while ((readPartialState(statePath)?.done.length ?? 0) === 0) {
      assert.ok(Date.now() < deadline, 'no piece was ever recorded as done');
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill('SIGKILL');
    await exited;
    const saved = readPartialState(statePath)!.done.length;
    const result = parseJson(await pull(dir, '--max-connections', '3'));
    assert.ok(result.resumedBytes >= saved * MiB, `resumed ${result.resumedBytes} bytes, ${saved} pieces were saved`);
    assert.equal(result.downloadedBytes + result.resumedBytes, content.length);
    assert.equal(sha256Hex(await readFile(join(dir, 'w.bin'))), sha256Hex(content));
  });
});
