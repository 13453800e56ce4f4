// The HTTP load generator: wrk (C, one thread), a process of its own, so its CPU is its alone.
// wrk rather than autocannon: on two cores autocannon spent a whole core on 35,000 resolves a
// second while the server idled up to 40% of its own, so its req/s measured autocannon; and how
// well autocannon batched depended on the server (a server slower per request answered in larger
// bursts and got more req/s out of the same client). wrk spent 0.38–0.65× autocannon's CPU per
// request in turns on the same servers: it still uses most of a core here (each side's CPU
// includes the loopback's work for the other), but the servers under test run at 84% or more of
// theirs, so req/s follows the server.
// bench/results/20261207T2040Z-load-generator.md.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { track } from './children.js';
import { clockTicks, CpuMeter } from './cpu.js';
import { findTool } from './cli-transfer.js';
import type { LoadJob, LoadOutcome } from './load-protocol.js';

export interface LoadReport extends LoadOutcome {
  /** The server's CPU (its whole process tree) over the measured phase, percent of one core. */
  serverCpuPercent: number | null;
}

/** Warm-up before every measured phase, in seconds (env BENCH_WARMUP, default 2). */
export const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP ?? 2);

export const WRK_MISSING = 'wrk not installed: apt-get install wrk';

/** `wrk -v`'s first line ("wrk debian/4.1.0-3+b2 [epoll]"), or null without wrk. */
export function wrkVersion(): string | null {
  const bin = findTool('wrk');
  if (!bin) return null;
  // wrk -v prints its version and its usage, and exits 1.
  const run = spawnSync(bin, ['-v'], { encoding: 'utf8' });
  return (
    run.stdout
      ?.split('\n')[0]
      ?.replace(/ Copyright.*/, '')
      .trim() || null
  );
}

export async function runLoad(job: LoadJob, serverPid: number | null): Promise<LoadReport> {
  const bin = findTool('wrk');
  if (!bin) throw new Error(WRK_MISSING);
  const dir = mkdtempSync(join(tmpdir(), 'modelgate-wrk-'));
  try {
    const script = join(dir, 'load.lua');
    writeFileSync(script, luaScript(job));
    if (job.warmupSeconds > 0) await runWrk(bin, job, script, job.warmupSeconds);
    const meter = serverPid === null ? null : new CpuMeter(serverPid);
    const outcome = await runWrk(bin, job, script, job.durationSeconds);
    return { ...outcome, serverCpuPercent: meter?.percent() ?? null };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function runWrk(bin: string, job: LoadJob, script: string, seconds: number): Promise<LoadOutcome> {
  // One thread: the server under test gets the other core. --timeout well above any answer here,
  // so a slow answer counts as latency, not as an error.
  const args = ['-t1', `-c${job.connections}`, `-d${seconds}s`, '--timeout', '10s', '-s', script, job.url];
  return new Promise<LoadOutcome>((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = track(spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      const wallSeconds = Number(process.hrtime.bigint() - started) / 1e9;
      const line = stdout.split('\n').find((l) => l.startsWith('{"wrk"'));
      if (code !== 0 || !line) {
        reject(new Error(`wrk ${args.join(' ')}: ${signal ?? `exit ${code}`}: ${(stderr || stdout).trim().slice(-400)}`));
        return;
      }
      resolve(outcomeOf(JSON.parse(line) as WrkSummary, wallSeconds));
    });
  });
}

/** What the script's done() prints: wrk's summary, its latency percentiles (µs) and its own CPU. */
interface WrkSummary {
  wrk: { durationUs: number; requests: number; connect: number; read: number; write: number; status: number; timeout: number };
  latencyUs: { p50: number; p99: number; max: number };
  cpuTicks: number;
}

function outcomeOf(s: WrkSummary, wallSeconds: number): LoadOutcome {
  const seconds = s.wrk.durationUs / 1e6;
  // wrk counts every answer as a request; `status` is those with a status of 400 or more.
  const ok = s.wrk.requests - s.wrk.status;
  return {
    requestsPerSecond: ok / seconds,
    p50Ms: s.latencyUs.p50 / 1000,
    p99Ms: s.latencyUs.p99 / 1000,
    maxMs: s.latencyUs.max / 1000,
    total2xx: ok,
    non2xx: s.wrk.status,
    errors: s.wrk.connect + s.wrk.read + s.wrk.write,
    timeouts: s.wrk.timeout,
    wallSeconds,
    // wrk's whole process (its start-up and connections included), over the whole run.
    loadCpuPercent: (s.cpuTicks / clockTicks() / wallSeconds) * 100,
  };
}

const lua = (text: string) => JSON.stringify(text); // a JSON string is a valid Lua string literal here (ASCII)

/**
 * The job as a wrk script: its headers; with several paths, every request prebuilt in init() and
 * handed out in turn (no per-request formatting); and done() printing one JSON line.
 */
function luaScript(job: LoadJob): string {
  const headers = Object.entries(job.headers)
    .map(([name, value]) => `wrk.headers[${lua(name)}] = ${lua(value)}`)
    .join('\n');
  const paths = job.paths && job.paths.length > 0 ? job.paths : null;
  const requests = paths
    ? `local paths = { ${paths.map(lua).join(', ')} }
local prebuilt = {}
local next_index = 0
function init(args)
  for i, path in ipairs(paths) do prebuilt[i] = wrk.format("GET", path) end
end
function request()
  next_index = next_index % #prebuilt + 1
  return prebuilt[next_index]
end`
    : '';
  return `${headers}
${requests}
function done(summary, latency, requests)
  local stat = io.open("/proc/self/stat"):read("*l")
  local fields = {}
  for field in stat:sub(stat:find(")", 1, true) + 2):gmatch("%S+") do fields[#fields + 1] = field end
  local ticks = tonumber(fields[12]) + tonumber(fields[13])
  local e = summary.errors
  io.write(string.format('{"wrk":{"durationUs":%d,"requests":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},"latencyUs":{"p50":%d,"p99":%d,"max":%d},"cpuTicks":%d}\\n',
    summary.duration, summary.requests, e.connect, e.read, e.write, e.status, e.timeout,
    math.floor(latency:percentile(50)), math.floor(latency:percentile(99)), latency.max, ticks))
end
`;
}
