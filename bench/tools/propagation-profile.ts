// Where a node's CPU goes per propagated change: starts Redis and the propagation scenario's nodes
// with `--cpu-prof`, runs unmeasured warm-up rounds, then the measured rounds, stops the nodes
// (each writes its profile on exit) and sums the samples of all nodes that fall inside the measured
// window: CPU ms per round, by self time and by inclusive time per function.
//   flock /work/.bench.lock node dist/bench/tools/propagation-profile.js [rounds] [warmup] [rows]
// Env: BENCH_PROPAGATION_NODES (8), BENCH_PROPAGATION_GAP_MS (20), BENCH_PROFILE_INTERVAL_US (1000; 0 runs the nodes without
// the profiler, for their CPU by /proc alone),
// MODELGATE_* passed through to the nodes (e.g. MODELGATE_WARM_UP_CHANGES=0).
import { frameLabel, type Profile } from '../lib/cpuprofile.js';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Api } from '../lib/api.js';
import { summarize, summaryText } from '../lib/latency.js';
import { ServerCpuMeters } from '../lib/cpu.js';
import { registerTwoVersions, runPropagation } from '../lib/propagation.js';
import { startRedis } from '../lib/redis.js';
import { startService, type RunningService } from '../lib/service.js';
import { WORK_DIR as BENCH_WORK_DIR } from '../lib/paths.js';

const NODES = Number(process.env.BENCH_PROPAGATION_NODES ?? 8);
const GAP_MS = Number(process.env.BENCH_PROPAGATION_GAP_MS ?? 20);
const INTERVAL_US = Number(process.env.BENCH_PROFILE_INTERVAL_US ?? 1000);
const IDLE_MS = 5000;
const MODEL = 'bench/propagation';
const ALIAS = 'production';

/** V8's profile clock and process.hrtime are both CLOCK_MONOTONIC: µs comparable across processes. */
const monotonicUs = () => Number(process.hrtime.bigint() / 1000n);

/** Adds the samples of `file` within [from, to] (µs, monotonic) to `self` and `inclusive`; returns the busy µs. */
function addProfile(file: string, from: number, to: number, self: Map<string, number>, inclusive: Map<string, number>): number {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  // Worker threads (the hash pool) wait in Atomics.wait, which samples as busy: main threads only.
  if (profile.nodes.some((n) => n.callFrame.functionName === 'atomicsWaitLoop')) return 0;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parentOf = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);
  let at = profile.startTime;
  let busy = 0;
  profile.samples.forEach((sample, i) => {
    const micros = profile.timeDeltas[i] ?? 0;
    at += micros;
    if (at < from || at > to) return;
    const stack: string[] = [];
    for (let id: number | undefined = sample; id !== undefined; id = parentOf.get(id)) stack.push(frameLabel(byId.get(id)!));
    if (stack[0]?.startsWith('(idle)')) return;
    busy += micros;
    self.set(stack[0]!, (self.get(stack[0]!) ?? 0) + micros);
    for (const frame of new Set(stack)) inclusive.set(frame, (inclusive.get(frame) ?? 0) + micros);
  });
  return busy;
}

/** Prints the nodes' main-thread samples within [from, to] as ms per round, by self and by inclusive time. */
function analyze(profDir: string, from: number, to: number, rounds: number, rows: number): void {
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let busy = 0;
  const files = readdirSync(profDir).filter((f) => f.endsWith('.cpuprofile'));
  for (const f of files) busy += addProfile(join(profDir, f), from, to, self, inclusive);
  const perRound = (us: number) => (us / 1000 / rounds).toFixed(3).padStart(8);
  process.stdout.write(`${files.length} profiles; main threads busy ${perRound(busy)} ms a round (all nodes)\n\nself ms/round\n`);
  for (const [frame, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, rows)) process.stdout.write(`${perRound(us)}  ${frame}\n`);
  process.stdout.write('\ninclusive ms/round\n');
  for (const [frame, us] of [...inclusive].sort((a, b) => b[1] - a[1]).slice(0, rows * 2))
    process.stdout.write(`${perRound(us)}  ${frame}\n`);
}

async function main(rounds: number, warmup: number, rows: number): Promise<void> {
  const workDir = join(BENCH_WORK_DIR, `propagation-profile-${process.pid}`);
  const profDir = join(workDir, 'prof');
  mkdirSync(profDir, { recursive: true });
  // BENCH_PROFILE_INTERVAL_US=0: no profiler, for the /proc figures (the profiler's own threads cost CPU).
  if (INTERVAL_US > 0) process.env.BENCH_SERVICE_NODE_ARGS = `--cpu-prof --cpu-prof-dir=${profDir} --cpu-prof-interval=${INTERVAL_US}`;
  const redis = await startRedis(workDir);
  const nodes: RunningService[] = [];
  try {
    const token = `mg_bench_${randomBytes(16).toString('hex')}`;
    const env = {
      MODELGATE_CONTROL_BACKEND: 'redis',
      MODELGATE_REDIS_URL: redis.url,
      MODELGATE_REDIS_PREFIX: `bench-propagation-profile-${process.pid}:`,
    };
    for (let i = 0; i < NODES; i++) nodes.push(await startService({ workDir, name: `profile-n${i}`, token, env, startTimeoutMs: 60_000 }));
    const apis = nodes.map((n) => new Api(n.port, n.token));
    const versions = await registerTwoVersions(apis, MODEL, ALIAS);
    const servers = Object.fromEntries(nodes.map((n, i) => [`node${i}`, n.pid]));
    const job = {
      ports: nodes.map((n) => n.port),
      token,
      model: MODEL,
      alias: ALIAS,
      versions,
      gapMs: GAP_MS,
      fallbackMs: 1000,
      timeoutMs: 5000,
    };
    await runPropagation({ ...job, startIndex: 1, warmupRounds: warmup, rounds: 1 }, servers);
    // The nodes' own background (timers, heartbeats, fleet flushes) with no rounds at all.
    const idle = new ServerCpuMeters(servers);
    idle.start();
    await sleep(IDLE_MS);
    const idlePercent = Object.values(idle.percent()).reduce((s, v) => s + v, 0);
    const from = monotonicUs();
    const report = await runPropagation({ ...job, startIndex: (1 + warmup + 1) % 2, warmupRounds: 0, rounds }, servers);
    const to = monotonicUs();
    const nodesPercent = Object.values(report.serverCpuPercent).reduce((s, v) => s + v, 0);
    process.stdout.write(
      `${rounds} rounds in ${report.seconds.toFixed(2)} s; from the 200 ${summaryText(summarize(report.rounds.map((r) => r.allFrom200Ms)))}; ` +
        `nodes ${((nodesPercent / 100) * ((report.seconds * 1000) / rounds)).toFixed(2)} ms CPU a round (/proc), ` +
        `of which idle background ${((idlePercent / 100) * ((report.seconds * 1000) / rounds)).toFixed(2)} ms (the nodes used ${idlePercent.toFixed(1)}% of a core over ${IDLE_MS / 1000} s without rounds)\n`,
    );
    for (const node of nodes) await node.stop();
    nodes.length = 0;
    if (INTERVAL_US <= 0) return;
    if (process.env.BENCH_KEEP_DATA === '1')
      process.stdout.write(`profiles kept: node dist/bench/tools/propagation-profile.js --analyze ${profDir} ${from} ${to} ${rounds}\n`);
    analyze(profDir, from, to, rounds, rows);
  } finally {
    for (const node of nodes) await node.stop().catch(() => undefined);
    await redis.stop();
    if (process.env.BENCH_KEEP_DATA !== '1') rmSync(workDir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--analyze') {
  const [dir, from, to, rounds, rows] = process.argv.slice(3);
  analyze(dir!, Number(from), Number(to), Number(rounds), Number(rows ?? 40));
} else {
  const [rounds, warmup, rows] = process.argv.slice(2).map(Number);
  await main(rounds || 200, warmup ?? 20, rows || 40);
}
