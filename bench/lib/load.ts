// Parent side of the HTTP load generator: forks autocannon-child, measures the target server's
// CPU over exactly the measured phase, and returns both.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { stopChild, track } from './children.js';
import { CpuMeter } from './cpu.js';
import type { ChildMessage, LoadJob, LoadOutcome } from './load-protocol.js';

const CHILD = fileURLToPath(new URL('./autocannon-child.js', import.meta.url));

export interface LoadReport extends LoadOutcome {
  /** The server's CPU (its whole process tree) over the measured phase, percent of one core. */
  serverCpuPercent: number | null;
}

/** Warm-up before every measured phase, in seconds (env BENCH_WARMUP, default 2). */
export const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP ?? 2);

export function runLoad(job: LoadJob, serverPid: number | null): Promise<LoadReport> {
  const child = track(fork(CHILD, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
  let meter: CpuMeter | null = null;
  return new Promise<LoadReport>((resolve, reject) => {
    child.on('message', (message: ChildMessage) => {
      if (message.type === 'measuring') meter = serverPid === null ? null : new CpuMeter(serverPid);
      else if (message.type === 'done') resolve({ ...message.outcome, serverCpuPercent: meter?.percent() ?? null });
      else reject(new Error(`load generator failed: ${message.message}`));
    });
    child.once('exit', (code) => reject(new Error(`load generator exited (${code}) without a result`)));
    child.send(job);
  }).finally(() => stopChild(child));
}
