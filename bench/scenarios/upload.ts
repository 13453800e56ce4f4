// `upload`: one 1 GiB streamed upload (verified against its sha256 by the server) against raw
// node:crypto sha256 over the same bytes, a bare uWS app that only hashes, one that hashes and stores
// durably, and the disk, in the same run; then resolve p99 while two uploads run, beside a bare uWS
// resolve app's p99 while two uploads run into the bare store sink (the machine's own tail).
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { Api } from '../lib/api.js';
import { reapedChildrenCpuSeconds, threadCpuSeconds } from '../lib/cpu.js';
import { loadProblem, p99Figure } from '../lib/figures.js';
import { registerWithAlias, uploadRandomFiles } from '../lib/fixtures.js';
import { nodeCryptoSha256 } from '../lib/hashers.js';
import { runLoad, WARMUP_SECONDS } from '../lib/load.js';
import { startService } from '../lib/service.js';
import { makePushDirs, pushLoop } from '../lib/push-loop.js';
import { inTurns, medianBy } from '../lib/rounds.js';
import { median } from '../lib/stats.js';
import { findCurl, startUpload, uploadOnce, type UploadTarget } from '../lib/upload-client.js';
import { constantResponseFrom, startUwsBaseline, startUwsHashSink, startUwsStoreSink } from '../lib/uws-baseline.js';
import { ensureRandomFile, type WorkFile } from '../lib/workfile.js';
import { ratioOf, type Comparison, type Figure, type Scenario, type ScenarioContext } from './scenario.js';

const MIB = Number(process.env.BENCH_UPLOAD_MIB ?? 1024);
const CONNECTIONS = Number(process.env.BENCH_UPLOAD_CONNECTIONS ?? 16);
const CONCURRENT_UPLOADS = 2;
const P99_TARGET_MS = 5;
const HASH_ROUNDS = 3;
/** Uploads into modelgate and each sink, in turns (BENCH_UPLOAD_ROUNDS); the median of each is reported. */
const UPLOAD_ROUNDS = Math.max(1, Number(process.env.BENCH_UPLOAD_ROUNDS ?? 3));
const TMPFS = process.env.BENCH_TMPFS ?? '/dev/shm';
/** The multi-file push phase: directories of PUSH_FILES files of PUSH_FILE_MIB each, pushed with --max-connections PUSH_CONNECTIONS. */
const PUSH_DIRS = 8;
const PUSH_FILES = 4;
const PUSH_FILE_MIB = 64;
const PUSH_CONNECTIONS = 4;

function chunksOf(whole: Buffer): Buffer[] {
  const chunks: Buffer[] = [];
  for (let at = 0; at < whole.length; at += 1 << 20) chunks.push(whole.subarray(at, at + (1 << 20)));
  return chunks;
}

/** node:crypto sha256 on this thread over the file's bytes, already in memory: the upload's target. */
async function hashBaseline(file: WorkFile, chunks: Buffer[]): Promise<Figure> {
  const rounds: number[] = [];
  for (let i = 0; i < HASH_ROUNDS; i++) {
    const start = process.hrtime.bigint();
    const hex = await nodeCryptoSha256.digest(chunks);
    rounds.push(file.size / 1e9 / (Number(process.hrtime.bigint() - start) / 1e9));
    if (hex !== file.sha256) throw new Error(`sha256 of ${file.path} is ${hex}, not ${file.sha256}: delete it and rerun`);
  }
  return { value: median(rounds), unit: 'GB/s', loadCpuPercent: null, detail: { rounds } };
}

/**
 * Writing the same bytes to a new file on the service's disk and fsyncing it, as a blob commit
 * must: the ceiling no upload can pass, whatever the hashing does.
 */
function diskBaseline(workDir: string, chunks: Buffer[], size: number): Figure {
  const dir = join(workDir, 'data');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `disk-probe-${process.pid}`);
  const start = process.hrtime.bigint();
  const fd = openSync(path, 'w');
  try {
    for (const chunk of chunks) writeSync(fd, chunk);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  unlinkSync(path);
  return { value: size / 1e9 / seconds, unit: 'GB/s', loadCpuPercent: null, detail: { seconds } };
}

/** How long stopping a loop waits for its upload in flight to finish before killing it. */
const STOP_WAIT_MS = 120_000;

interface LoopUpload {
  startedAt: number;
  endedAt: number;
  /** curl's time_total */
  seconds: number;
}

/**
 * Keeps one upload after another going until stopped. Stopping lets the upload in flight finish
 * (a 1 GiB upload under load can outlast a whole load phase: killing it would leave nothing to
 * show whether the uploads progressed), and reports every completed upload with its times.
 */
function uploadLoop(
  curl: string,
  target: UploadTarget,
  chunked: boolean,
  options: { beforeEach?: () => Promise<void>; accept?: number[] } = {},
) {
  const accept = options.accept ?? [200, 201];
  let stopped = false;
  let current: ReturnType<typeof startUpload> | null = null;
  const completed: LoopUpload[] = [];
  const failures: string[] = [];
  const loop = (async () => {
    while (!stopped) {
      try {
        await options.beforeEach?.();
        const startedAt = performance.now();
        current = startUpload(curl, target, chunked);
        const result = await current.done;
        if (accept.includes(result.status)) completed.push({ startedAt, endedAt: performance.now(), seconds: result.seconds });
        else failures.push(`status ${result.status}: ${result.body.slice(0, 200)}`);
      } catch (err) {
        failures.push((err as Error).message);
      }
    }
  })();
  return {
    async stop(): Promise<{ completed: LoopUpload[]; failures: string[] }> {
      stopped = true;
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          failures.push(`upload still running ${STOP_WAIT_MS / 1000} s after the phase: killed`);
          current?.child.kill('SIGTERM');
          resolve();
        }, STOP_WAIT_MS);
      });
      await Promise.race([loop, late]);
      clearTimeout(timer);
      await loop;
      return { completed, failures };
    },
  };
}

/** `count` more files of MIB random bytes for the upload loops (written once, reused by later runs). */
function loopFiles(ctx: ScenarioContext, count: number): WorkFile[] {
  return Array.from({ length: count }, (_, i) => ensureRandomFile(ctx.workDir, `upload-loop-${i + 1}-${MIB}m.bin`, MIB, ctx.log));
}

/** What the uploads running beside the load phase did, for the note. */
function describeLoopUploads(uploads: LoopUpload[], phaseStart: number, phaseEnd: number, mib: number): string {
  const overlapping = uploads.filter((u) => u.startedAt < phaseEnd && u.endedAt > phaseStart);
  if (overlapping.length === 0) return `no upload of ${mib} MiB completed`;
  const within = overlapping.filter((u) => u.endedAt <= phaseEnd).length;
  const seconds = overlapping.map((u) => u.seconds);
  const perUpload = (mib * 2 ** 20) / 1e9 / median(seconds);
  return `${overlapping.length} uploads of ${mib} MiB ran during the ${((phaseEnd - phaseStart) / 1000).toFixed(0)} s phase (${within} finished within it, the rest after it), median ${median(seconds).toFixed(1)} s each (${perUpload.toFixed(2)} GB/s per upload)`;
}

/** Every round's GB/s, in the order they ran. */
function gbps(rounds: Figure[]): string {
  return rounds.map((f) => f.value.toFixed(2)).join(' / ');
}

/** The median round's figure, with every round's GB/s beside it. */
function rounded(middle: Figure, all: Figure[]): Figure {
  return { ...middle, detail: { ...middle.detail, roundsGBps: all.map((f) => f.value) } };
}

async function run(ctx: ScenarioContext): Promise<Comparison[]> {
  const curl = findCurl();
  if (!curl) throw new Error('curl not installed (the upload client): apt-get install curl');
  const file = ensureRandomFile(ctx.workDir, `download-${MIB}m.bin`, MIB, ctx.log);
  ctx.log('  node:crypto sha256 over the same bytes in memory, and writing them to disk with fsync (baselines)');
  let chunks: Buffer[] | null = chunksOf(readFileSync(file.path));
  const hash = await hashBaseline(file, chunks);
  const disk = diskBaseline(ctx.workDir, chunks, file.size);
  chunks = null;
  ctx.log(`  node:crypto sha256: ${hash.value.toFixed(2)} GB/s; disk write + fsync: ${disk.value.toFixed(2)} GB/s`);

  /** One curl upload of the file into a bare uWS baseline app, which must answer with its digest. */
  const uploadInto = async (app: { port: number }, name: string): Promise<Figure> => {
    const result = await uploadOnce(curl, { port: app.port, token: 'none', path: file.path, size: file.size, sha256: file.sha256 });
    if (!result.body.includes(file.sha256)) throw new Error(`uWS ${name} answered ${result.status} ${result.body.slice(0, 200)}`);
    return {
      value: file.size / 1e9 / result.seconds,
      unit: 'GB/s',
      loadCpuPercent: null,
      detail: { seconds: result.seconds, chunked: result.chunked },
    };
  };
  const sinkDir = join(ctx.workDir, 'data', 'store-sink');
  // No grace period: each round's garbage collection removes the blob the round before stored.
  const service = await startService({ workDir: ctx.workDir, name: 'upload', env: { MODELGATE_GC_GRACE_SECONDS: '0' } });
  const api = new Api(service.port, service.token);
  try {
    const target: UploadTarget = { port: service.port, token: service.token, path: file.path, size: file.size, sha256: file.sha256 };
    let chunked = false;
    /**
     * One upload into modelgate, with the CPU of its threads and of curl: of a blob it does not hold
     * (the last round's is swept first), or `again` of the blob it holds (received and hashed, not written).
     */
    const uploadIntoService = async (again = false): Promise<Figure> => {
      if (again) await api.expect(200, 'HEAD', `/v1/blobs/sha256:${file.sha256}`);
      else await api.expect(200, 'POST', '/v1/gc', { json: {} });
      const reaped = reapedChildrenCpuSeconds();
      const serverBefore = threadCpuSeconds(service.pid);
      const single = await uploadOnce(curl, target);
      const serverAfter = threadCpuSeconds(service.pid);
      if (single.status !== (again ? 200 : 201)) throw new Error(`upload: status ${single.status}: ${single.body.slice(0, 300)}`);
      chunked = single.chunked;
      // Which threads worked: a main thread far from 100% means the upload waits, not computes.
      const serverCpu = {
        mainThreadPercent: ((serverAfter.main - serverBefore.main) / single.seconds) * 100,
        otherThreadsPercent: ((serverAfter.others - serverBefore.others) / single.seconds) * 100,
      };
      return {
        value: file.size / 1e9 / single.seconds,
        unit: 'GB/s',
        loadCpuPercent: ((reapedChildrenCpuSeconds() - reaped) / single.seconds) * 100,
        detail: { seconds: single.seconds, chunked: single.chunked, contentLengthError: single.contentLengthError ?? null, serverCpu },
      };
    };
    ctx.log(
      `  ${UPLOAD_ROUNDS} uploads each into modelgate, a bare uWS app that only hashes, and one that hashes and stores, in turns (median)`,
    );
    let serviceRuns: Figure[];
    let againRuns: Figure[];
    let hashRuns: Figure[];
    let storeRuns: Figure[];
    const sinks: { stop(): Promise<void> }[] = [];
    try {
      const hashSink = await startUwsHashSink();
      sinks.push(hashSink);
      const storeSink = await startUwsStoreSink(sinkDir);
      sinks.push(storeSink);
      // Modelgate's first upload stores the blob; from then on it is there for `again` (swept only
      // right before an upload of a new blob, which stores it once more).
      await uploadIntoService();
      [serviceRuns = [], againRuns = [], hashRuns = [], storeRuns = []] = await inTurns(
        [
          () => uploadIntoService(),
          () => uploadIntoService(true),
          () => uploadInto(hashSink, 'hash sink'),
          () => uploadInto(storeSink, 'store sink'),
        ],
        UPLOAD_ROUNDS,
      );
    } finally {
      for (const sink of sinks) await sink.stop();
    }
    const byRate = (f: Figure) => f.value;
    const uploadFigure = rounded(medianBy(serviceRuns, byRate), serviceRuns);
    const againFigure = rounded(medianBy(againRuns, byRate), againRuns);
    const overHttp = rounded(medianBy(hashRuns, byRate), hashRuns);
    const stored = rounded(medianBy(storeRuns, byRate), storeRuns);
    const serverCpu = (uploadFigure.detail as { serverCpu: { mainThreadPercent: number; otherThreadsPercent: number } }).serverCpu;
    const contentLengthError = (uploadFigure.detail as { contentLengthError: string | null }).contentLengthError;
    ctx.log(
      `  upload: ${uploadFigure.value.toFixed(2)} GB/s${chunked ? ' (chunked)' : ''}; bare uWS hashing the body on its main thread: ${overHttp.value.toFixed(2)} GB/s; hashing and storing it (write, fsync, rename): ${stored.value.toFixed(2)} GB/s`,
    );

    const files = await uploadRandomFiles(api, [
      { path: 'config.json', size: 512 },
      { path: 'tokenizer.json', size: 4096 },
      { path: 'model.safetensors', size: 65_536 },
    ]);
    await registerWithAlias(api, 'bench/fraud', files, 'production');
    const job = {
      url: `http://127.0.0.1:${service.port}/v1/resolve/bench/fraud@production`,
      connections: CONNECTIONS,
      durationSeconds: ctx.durationSeconds,
      warmupSeconds: WARMUP_SECONDS,
      headers: { authorization: api.authHeader },
    };
    ctx.log(`  resolve, ${CONNECTIONS} connections, idle service`);
    const idle = await runLoad(job, service.pid);
    ctx.log(`  resolve, ${CONNECTIONS} connections, while ${CONCURRENT_UPLOADS} uploads of ${MIB} MiB run back to back`);
    // Each loop sends a file of its own and sweeps the blob it stored before each upload, so that
    // every upload stores a blob the server does not hold: one it holds is only hashed, which is
    // not the load this phase is for.
    const loopTargets = [target, ...loopFiles(ctx, CONCURRENT_UPLOADS - 1).map((f) => ({ ...target, ...f }))];
    // One collection runs at a time (409 GC_RUNNING meanwhile): the other loop's may have started
    // before this loop's blob was stored, so this one waits its turn and runs its own.
    const sweep = async () => {
      for (;;) {
        const res = await api.request('POST', '/v1/gc', { json: {} });
        if (res.status === 200) return;
        if (res.status !== 409) throw new Error(`POST /v1/gc: ${res.status}: ${res.body.toString('utf8').slice(0, 300)}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    };
    const loops = loopTargets.map((t) => uploadLoop(curl, t, chunked, { beforeEach: sweep, accept: [201] }));
    const phaseStart = performance.now();
    const busy = await runLoad(job, service.pid);
    const phaseEnd = performance.now();
    const uploads = await Promise.all(loops.map((l) => l.stop()));
    const uploadsNote = describeLoopUploads(
      uploads.flatMap((u) => u.completed),
      phaseStart,
      phaseEnd,
      MIB,
    );
    const failures = uploads.flatMap((u) => u.failures);
    ctx.log(`  p99 idle ${idle.p99Ms.toFixed(2)} ms, during uploads ${busy.p99Ms.toFixed(2)} ms; ${uploadsNote}`);

    // The machine's own tail for this load: a bare uWS app answering modelgate's resolve bytes,
    // under the same wrk load, while the same two curl uploads go back to back into the bare
    // store sink (hash, write, fsync: the same work for the disk and the cores, with no registry).
    const sample = await api.request('GET', '/v1/resolve/bench/fraud@production');
    const bare = await startUwsBaseline(constantResponseFrom(sample.status, sample.rawHeaders, sample.body));
    const bareSink = await startUwsStoreSink(sinkDir);
    let bareBusy: Awaited<ReturnType<typeof runLoad>>;
    let bareNote: string;
    let bareFailures: string[];
    try {
      ctx.log(`  bare uWS resolve app, ${CONNECTIONS} connections, while ${CONCURRENT_UPLOADS} uploads run into the bare store sink`);
      const bareLoops = loopTargets.map((t) => uploadLoop(curl, { ...t, port: bareSink.port, token: 'none' }, chunked));
      const bareStart = performance.now();
      bareBusy = await runLoad({ ...job, url: `http://127.0.0.1:${bare.port}/v1/resolve/bench/fraud@production` }, bare.pid);
      const bareEnd = performance.now();
      const bareUploads = await Promise.all(bareLoops.map((l) => l.stop()));
      bareFailures = bareUploads.flatMap((u) => u.failures);
      bareNote = describeLoopUploads(
        bareUploads.flatMap((u) => u.completed),
        bareStart,
        bareEnd,
        MIB,
      );
    } finally {
      await bare.stop();
      await bareSink.stop();
    }
    ctx.log(`  bare uWS p99 during uploads into the store sink ${bareBusy.p99Ms.toFixed(2)} ms; ${bareNote}`);

    // A CI pipeline's push: many files at once (HEAD checks, streamed uploads, registrations) with
    // the CLI, one directory after another, while the same resolve load runs.
    ctx.log(
      `  resolve, ${CONNECTIONS} connections, while modelgate push sends directories of ${PUSH_FILES} × ${PUSH_FILE_MIB} MiB (--max-connections ${PUSH_CONNECTIONS})`,
    );
    const pushDirs = makePushDirs(
      join(TMPFS, `modelgate-bench-pushload-${process.pid}`),
      PUSH_DIRS,
      PUSH_FILES,
      PUSH_FILE_MIB * 1024 * 1024,
    );
    let pushBusy: Awaited<ReturnType<typeof runLoad>>;
    let pushNote: string;
    let pushFailures: string[];
    try {
      const pushes = pushLoop(pushDirs, { baseUrl: service.baseUrl, token: service.token }, 'bench/pushload', PUSH_CONNECTIONS);
      const pushStart = performance.now();
      pushBusy = await runLoad(job, service.pid);
      const pushEnd = performance.now();
      const pushed = await pushes.stop();
      pushFailures = pushed.failures;
      const during = pushed.completed.filter((p) => p.startedAt < pushEnd && p.endedAt > pushStart);
      const seconds = pushed.completed.map((p) => p.seconds);
      pushNote = `${during.length} pushes of ${PUSH_FILES} × ${PUSH_FILE_MIB} MiB ran during the ${((pushEnd - pushStart) / 1000).toFixed(0)} s phase, median ${seconds.length ? median(seconds).toFixed(2) : '—'} s each (${seconds.length ? ((PUSH_FILES * PUSH_FILE_MIB * 1024 * 1024) / 1e9 / median(seconds)).toFixed(2) : '—'} GB/s per push, start-up included)`;
    } finally {
      pushDirs.remove();
    }
    ctx.log(`  p99 during pushes ${pushBusy.p99Ms.toFixed(2)} ms; ${pushNote}`);

    const ratio = ratioOf(uploadFigure, hash);
    const storedRatio = ratioOf(uploadFigure, stored);
    const againRatio = ratioOf(againFigure, overHttp);
    const problems = [loadProblem(busy), failures.length ? `${failures.length} failed uploads: ${failures[0]}` : '']
      .filter(Boolean)
      .join('; ');
    return [
      {
        name: `upload: 1 stream, ${MIB} MiB`,
        subject: uploadFigure,
        baselineName: 'node:crypto sha256, 1 core',
        baseline: hash,
        ratio,
        target: '≥ 0.8×',
        pass: ratio === null ? null : ratio >= 0.8,
        note: [
          'curl --upload-file, timed by curl (time_total), response after the digest is verified and the blob committed',
          `median of ${serviceRuns.length} rounds in turns with the sinks: ${gbps(serviceRuns)} GB/s`,
          `server CPU: main thread ${Math.round(serverCpu.mainThreadPercent)}%, other threads (hash worker, fs) ${Math.round(serverCpu.otherThreadsPercent)}% of a core`,
          contentLengthError
            ? `with Content-Length the server reset the connection (${contentLengthError.split('\n')[0]}): uWS reads at most 9 digits of Content-Length, so this was measured chunked`
            : '',
        ]
          .filter(Boolean)
          .join('; '),
      },
      {
        name: 'upload: vs bare uWS hashing the body',
        subject: uploadFigure,
        baselineName: 'bare uWS, sha256 on main thread, no disk',
        baseline: overHttp,
        ratio: ratioOf(uploadFigure, overHttp),
        target: 'for scale',
        pass: null,
        note: `the same curl upload into a uWS app that only hashes (node:crypto, main thread) and stores nothing; rounds ${gbps(hashRuns)} GB/s`,
      },
      {
        name: 'upload: a blob already stored, vs bare uWS hashing the body',
        subject: againFigure,
        baselineName: 'bare uWS, sha256 on main thread, no disk',
        baseline: overHttp,
        ratio: againRatio,
        target: '≥ 0.9×',
        pass: againRatio === null ? null : againRatio >= 0.9,
        note: `the same upload of the blob modelgate holds already: received and hashed in full, not written (the stored blob refreshed), answered 200 existed, which is the hash sink's work; rounds ${gbps(againRuns)} GB/s against ${gbps(hashRuns)}`,
      },
      {
        name: 'upload: vs bare uWS hashing and storing',
        subject: uploadFigure,
        baselineName: 'bare uWS, sha256 + write + fsync + rename',
        baseline: stored,
        ratio: storedRatio,
        target: '≥ 0.9×',
        pass: storedRatio === null ? null : storedRatio >= 0.9,
        note: `the same curl upload into a uWS app that hashes on its main thread and writes each chunk to a new file (background fdatasync every 64 MiB, fsync, rename, directory fsync) before answering: this machine's floor for receive, hash and store durably, which the hash sink's ratio cannot reach when the disk is slower than the hash; rounds ${gbps(storeRuns)} GB/s`,
      },
      {
        name: `upload: vs disk write ceiling`,
        subject: uploadFigure,
        baselineName: 'write + fsync, same disk',
        baseline: disk,
        ratio: ratioOf(uploadFigure, disk),
        target: 'for scale',
        pass: null,
        note: 'the same bytes written sequentially in 1 MiB writes to a new file beside the data directory, then fsynced',
      },
      {
        name: `upload: resolve p99, ${CONNECTIONS} conn, ${CONCURRENT_UPLOADS} uploads`,
        subject: p99Figure(busy),
        baselineName: 'same, no uploads',
        baseline: p99Figure(idle),
        ratio: null,
        target: `p99 ≤ ${P99_TARGET_MS} ms`,
        pass: !problems && busy.p99Ms <= P99_TARGET_MS,
        note: [
          `${Math.round(busy.requestsPerSecond)} vs ${Math.round(idle.requestsPerSecond)} req/s; ${uploadsNote}`,
          problems ? `invalid: ${problems}` : '',
        ]
          .filter(Boolean)
          .join('; '),
      },
      {
        name: `upload: resolve p99 vs bare uWS, same uploads`,
        subject: p99Figure(busy),
        baselineName: 'bare uWS resolve, 2 uploads into bare store sink',
        baseline: p99Figure(bareBusy),
        ratio: null,
        target: 'for scale',
        pass: null,
        note: [
          `the machine's own tail for this load: a bare uWS app answering modelgate's resolve bytes under the same wrk load while ${CONCURRENT_UPLOADS} curl uploads run back to back into the bare store sink (hash, write, fsync); ${Math.round(bareBusy.requestsPerSecond)} req/s; ${bareNote}`,
          bareFailures.length ? `invalid: ${bareFailures.length} failed uploads: ${bareFailures[0]}` : '',
          loadProblem(bareBusy) ? `invalid: ${loadProblem(bareBusy)}` : '',
        ]
          .filter(Boolean)
          .join('; '),
      },
      {
        name: `upload: resolve p99, ${CONNECTIONS} conn, modelgate push of ${PUSH_FILES} files`,
        subject: p99Figure(pushBusy),
        baselineName: 'same, no uploads',
        baseline: p99Figure(idle),
        ratio: null,
        target: 'record',
        pass: null,
        note: [
          `modelgate push --max-connections ${PUSH_CONNECTIONS} of one directory after another (fresh random files on tmpfs, so every file is sent): HEAD checks, ${PUSH_FILES} streamed uploads at once and a registration each; ${Math.round(pushBusy.requestsPerSecond)} req/s; ${pushNote}; the CLI runs on the same 2 cores`,
          pushFailures.length ? `invalid: ${pushFailures.length} failed pushes: ${pushFailures[0]}` : '',
          loadProblem(pushBusy) ? `invalid: ${loadProblem(pushBusy)}` : '',
        ]
          .filter(Boolean)
          .join('; '),
      },
    ];
  } finally {
    api.close();
    await service.stop();
  }
}

export const uploadScenario: Scenario = {
  name: 'upload',
  description: `one ${MIB} MiB streamed POST /v1/blobs (verified) vs node:crypto sha256 over the same bytes, bare uWS hash and hash+store sinks and the disk; resolve p99 at ${CONNECTIONS} connections while ${CONCURRENT_UPLOADS} uploads run, beside a bare uWS app's, and while modelgate push sends many-file directories`,
  run,
};
