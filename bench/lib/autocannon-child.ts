// Runs autocannon in a process of its own, so its CPU time is its alone (process.cpuUsage) and it
// never shares an event loop with the bench's other work. Receives one LoadJob, answers once.
import { createHistogram } from 'node:perf_hooks';
import autocannon, { type Options, type Result } from 'autocannon';
import { ownCpuPercent } from './cpu.js';
import { sendToParent, serveOneJob } from './child-job.js';
import type { LoadJob, LoadOutcome } from './load-protocol.js';

function options(job: LoadJob, durationSeconds: number): Options {
  return {
    url: job.url,
    connections: job.connections,
    duration: durationSeconds,
    headers: job.headers,
    ...(job.paths ? { requests: job.paths.map((path) => ({ method: 'GET', path })) } : {}),
  };
}

function run(opts: Options, onResponse?: (ms: number) => void): Promise<Result> {
  return new Promise((resolve, reject) => {
    const instance = autocannon(opts, (err, result) => (err ? reject(err) : resolve(result)));
    if (onResponse) {
      instance.on('response', (_client: unknown, _status: number, _bytes: number, responseTimeMs: number) => onResponse(responseTimeMs));
    }
  });
}

async function main(job: LoadJob): Promise<LoadOutcome> {
  if (job.warmupSeconds > 0) await run(options(job, job.warmupSeconds));
  // Microseconds: resolves take well under a millisecond, which autocannon's histogram rounds away.
  const latency = createHistogram({ lowest: 1, highest: 60_000_000, figures: 3 });
  await sendToParent({ type: 'measuring' });
  const cpuStart = process.cpuUsage();
  const wallStart = process.hrtime.bigint();
  const result = await run(options(job, job.durationSeconds), (ms) => latency.record(Math.max(1, Math.round(ms * 1000))));
  const wallSeconds = Number(process.hrtime.bigint() - wallStart) / 1e9;
  const loadCpuPercent = ownCpuPercent(cpuStart, wallSeconds);
  return {
    requestsPerSecond: result['2xx'] / result.duration,
    p50Ms: latency.percentile(50) / 1000,
    p99Ms: latency.percentile(99) / 1000,
    maxMs: latency.max / 1000,
    autocannonP50Ms: result.latency.p50,
    autocannonP99Ms: result.latency.p99,
    total2xx: result['2xx'],
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    wallSeconds,
    loadCpuPercent,
  };
}

serveOneJob<LoadJob>(main);
