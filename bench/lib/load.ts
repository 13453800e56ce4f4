// Parent side of the HTTP load generator: forks autocannon-child, measures the target server's
// CPU over exactly the measured phase, and returns both.
import { fileURLToPath } from 'node:url';
import { runChildJob } from './child-job.js';
import { CpuMeter } from './cpu.js';
import type { LoadJob, LoadOutcome } from './load-protocol.js';

const CHILD = fileURLToPath(new URL('./autocannon-child.js', import.meta.url));

export interface LoadReport extends LoadOutcome {
  /** The server's CPU (its whole process tree) over the measured phase, percent of one core. */
  serverCpuPercent: number | null;
}

/** Warm-up before every measured phase, in seconds (env BENCH_WARMUP, default 2). */
export const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP ?? 2);

export function runLoad(job: LoadJob, serverPid: number | null): Promise<LoadReport> {
  let meter: CpuMeter | null = null;
  return runChildJob(
    CHILD,
    'load generator',
    job,
    () => (meter = serverPid === null ? null : new CpuMeter(serverPid)),
    (outcome: LoadOutcome) => ({ ...outcome, serverCpuPercent: meter?.percent() ?? null }),
  );
}
