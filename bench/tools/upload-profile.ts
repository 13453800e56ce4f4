// Where an upload's time goes, process by process: the same curl upload of one file into the bare
// uWS hash sink, the bare uWS hash + store sink (bench/baselines/uws-store-sink.ts) and modelgate (`POST /v1/blobs`, verified and stored), in turns, each server
// under `node --cpu-prof`. Prints, per process, wall time and CPU-seconds per GiB (modelgate split
// into its main thread and its other threads: hashing, fs, GC), curl's CPU, and the functions with
// the most self time in each profile. Profiles stay in bench/.work/prof/upload-*/.
// Sampled profiles count wall time (a preempted thread's samples stay on its frame), and the
// profiler costs CPU: for CPU-seconds, run with --no-prof, which also splits modelgate's CPU by
// thread name (node = main and worker threads, libuv-worker = fs, V8 … = GC and compiler).
//   node dist/bench/tools/upload-profile.js [rounds] [--no-prof]      (BENCH_UPLOAD_MIB, default 1024)
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { stopChild, track } from '../lib/children.js';
import { clockTicks, reapedChildrenCpuSeconds, threadCpuSeconds } from '../lib/cpu.js';
import { startService } from '../lib/service.js';
import { median } from '../lib/stats.js';
import { findCurl, uploadOnce } from '../lib/upload-client.js';
import { ensureRandomFile } from '../lib/workfile.js';

const MIB = Number(process.env.BENCH_UPLOAD_MIB ?? 1024);
const ROUNDS = Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? 3);
const PROFILE = !process.argv.includes('--no-prof');
const WORK = fileURLToPath(new URL('../../../bench/.work', import.meta.url));
const HASH_SINK = fileURLToPath(new URL('../baselines/uws-hash-sink.js', import.meta.url));
const STORE_SINK = fileURLToPath(new URL('../baselines/uws-store-sink.js', import.meta.url));
const GIB = 2 ** 30;

/** CPU seconds of each thread of a process by thread id, with its name. */
function threads(pid: number): Map<string, { name: string; seconds: number }> {
  const out = new Map<string, { name: string; seconds: number }>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const name = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
      out.set(tid, {
        name: tid === String(pid) ? 'main' : `${name}:${tid}`,
        seconds: (Number(fields[11]) + Number(fields[12])) / clockTicks(),
      });
    } catch {
      // the thread ended
    }
  }
  return out;
}

function byName(before: Map<string, { name: string; seconds: number }>, after: Map<string, { name: string; seconds: number }>) {
  const sums = new Map<string, number>();
  for (const [tid, t] of after) sums.set(t.name, (sums.get(t.name) ?? 0) + t.seconds - (before.get(tid)?.seconds ?? 0));
  return sums;
}

interface Round {
  threads: Map<string, number>;
  seconds: number;
  main: number;
  others: number;
  curl: number;
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

/** Self time per function of every .cpuprofile in `dir` (one per thread), largest first, in seconds. */
function selfTimes(dir: string): { file: string; total: number; top: [string, number][] }[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .map((file) => {
      const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as {
        nodes: ProfileNode[];
        samples: number[];
        timeDeltas: number[];
      };
      const byId = new Map(profile.nodes.map((n) => [n.id, n]));
      const self = new Map<string, number>();
      let total = 0;
      profile.samples.forEach((id, i) => {
        const node = byId.get(id)!;
        const url = node.callFrame.url.replace(/^.*\/(src|workers|node_modules|baselines)\//, '$1/');
        const name = `${node.callFrame.functionName || '(anonymous)'}${url ? ` ${url}:${node.callFrame.lineNumber + 1}` : ''}`;
        const us = profile.timeDeltas[i] ?? 0;
        // piscina's workers block in Atomics.wait between tasks: idle too.
        if (name === '(idle)' || name.startsWith('atomicsWaitLoop ')) return;
        total += us;
        self.set(name, (self.get(name) ?? 0) + us);
      });
      const top = [...self.entries()]
        .sort((a, b) => b[1] - a[1])
        .slice(0, 12)
        .map(([n, us]) => [n, us / 1e6] as [string, number]);
      return { file, total: total / 1e6, top };
    });
}

function describe(label: string, rounds: Round[], size: number): string {
  const perGiB = (v: number) => ((v / size) * GIB).toFixed(2);
  const pick = (f: (r: Round) => number) => median(rounds.map(f));
  const names = [...new Set(rounds.flatMap((r) => [...r.threads.keys()]))];
  const split = names
    .map((n) => `${n} ${perGiB(median(rounds.map((r) => r.threads.get(n) ?? 0)))}`)
    .filter((t) => !t.endsWith(' 0.00'))
    .join(', ');
  return (
    `${label}: wall ${pick((r) => r.seconds).toFixed(2)} s (rounds ${rounds.map((r) => r.seconds.toFixed(2)).join(', ')}); ` +
    `CPU-s per GiB: server main thread ${perGiB(pick((r) => r.main))}, server other threads ${perGiB(pick((r) => r.others))}, curl ${perGiB(pick((r) => r.curl))}; by thread name: ${split}`
  );
}

async function main(): Promise<void> {
  const curl = findCurl();
  if (!curl) throw new Error('needs curl');
  mkdirSync(WORK, { recursive: true });
  const file = ensureRandomFile(WORK, `download-${MIB}m.bin`, MIB, (m) => process.stderr.write(`${m}\n`));
  const prof = join(WORK, 'prof');
  const sinkDir = join(prof, 'upload-sink');
  const storeSinkDir = join(prof, 'upload-store-sink');
  const serviceDir = join(prof, 'upload-modelgate');
  for (const d of [sinkDir, storeSinkDir, serviceDir]) {
    rmSync(d, { recursive: true, force: true });
    mkdirSync(d, { recursive: true });
  }

  const startSink = async (script: string, profDir: string, env: Record<string, string>) => {
    const child = track(
      // The sink has no signal handler of its own; the profile is written only on a normal exit.
      spawn(
        process.execPath,
        [
          ...(PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : []),
          '--input-type=module',
          '-e',
          `process.on('SIGTERM', () => process.exit(0)); await import(${JSON.stringify(pathToFileURL(script).href)});`,
        ],
        { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } },
      ),
    );
    const port = await new Promise<number>((resolve) =>
      createInterface({ input: child.stdout! }).once('line', (line) => resolve((JSON.parse(line) as { port: number }).port)),
    );
    return { child, port };
  };
  const sink = await startSink(HASH_SINK, sinkDir, {});
  const storeSink = await startSink(STORE_SINK, storeSinkDir, { BENCH_SINK_DIR: join(WORK, 'data', 'upload-profile-store-sink') });
  if (PROFILE) process.env.BENCH_SERVICE_NODE_ARGS = `--cpu-prof --cpu-prof-dir=${serviceDir}`;
  const service = await startService({ workDir: WORK, name: 'upload-profile' });

  const sinkRounds: Round[] = [];
  const storeRounds: Round[] = [];
  const serviceRounds: Round[] = [];
  const measure = async (pid: number, port: number, token: string): Promise<Round> => {
    const before = threadCpuSeconds(pid);
    const tidsBefore = threads(pid);
    const reaped = reapedChildrenCpuSeconds();
    const result = await uploadOnce(curl, { port, token, path: file.path, size: file.size, sha256: file.sha256 });
    const after = threadCpuSeconds(pid);
    const tidsAfter = threads(pid);
    if (!result.body.includes(file.sha256)) throw new Error(`upload answered ${result.status}: ${result.body.slice(0, 200)}`);
    return {
      threads: byName(tidsBefore, tidsAfter),
      seconds: result.seconds,
      main: after.main - before.main,
      others: after.others - before.others,
      curl: reapedChildrenCpuSeconds() - reaped,
    };
  };
  try {
    for (let round = 0; round < ROUNDS; round++) {
      sinkRounds.push(await measure(sink.child.pid!, sink.port, 'none'));
      storeRounds.push(await measure(storeSink.child.pid!, storeSink.port, 'none'));
      serviceRounds.push(await measure(service.pid, service.port, service.token));
      process.stderr.write(
        `round ${round + 1}: sink ${sinkRounds.at(-1)!.seconds.toFixed(2)} s, store sink ${storeRounds.at(-1)!.seconds.toFixed(2)} s, modelgate ${serviceRounds.at(-1)!.seconds.toFixed(2)} s\n`,
      );
    }
  } finally {
    await stopChild(sink.child);
    await stopChild(storeSink.child);
    await service.stop();
  }
  const lines = [
    `upload of ${MIB} MiB with curl (chunked where Content-Length is refused), ${ROUNDS} rounds in turns, median:`,
    describe('bare uWS hash sink', sinkRounds, file.size),
    describe('bare uWS hash + store sink (write, fsync, rename)', storeRounds, file.size),
    describe('modelgate POST /v1/blobs', serviceRounds, file.size),
    `ratio (sink wall / modelgate wall, median): ${(median(sinkRounds.map((r) => r.seconds)) / median(serviceRounds.map((r) => r.seconds))).toFixed(2)}×`,
    `ratio (store sink wall / modelgate wall, median): ${(median(storeRounds.map((r) => r.seconds)) / median(serviceRounds.map((r) => r.seconds))).toFixed(2)}×`,
  ];
  for (const [label, dir] of [
    ['hash sink', sinkDir],
    ['store sink', storeSinkDir],
    ['modelgate', serviceDir],
  ] as const) {
    for (const p of selfTimes(dir)) {
      lines.push('', `${label} ${p.file}: ${p.total.toFixed(2)} s sampled busy (idle and piscina's wait left out), self time:`);
      for (const [name, s] of p.top) lines.push(`  ${s.toFixed(2)} s  ${name}`);
    }
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

await main();
