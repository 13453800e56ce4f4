// Parent side of the propagation detector and of the Redis fan-out baseline: forks each client
// and measures the servers' CPU (the nodes, Redis) over its measured rounds.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { stopChild, track } from './children.js';
import { CpuMeter } from './cpu.js';
import type { FanoutJob, FanoutOutcome, PropagationJob, PropagationOutcome } from './propagation-protocol.js';

const DETECTOR = fileURLToPath(new URL('./propagation-child.js', import.meta.url));
const FANOUT = fileURLToPath(new URL('./fanout-child.js', import.meta.url));

export interface ServerCpu {
  /** Percent of one core over the measured rounds, per process name. */
  [name: string]: number;
}

type Message<O> = { type: 'measuring' } | { type: 'done'; outcome: O } | { type: 'failed'; message: string };

function runChild<J, O>(script: string, what: string, job: J, servers: Record<string, number>): Promise<O & { serverCpuPercent: ServerCpu }> {
  const child = track(fork(script, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
  let meters: [string, CpuMeter][] = [];
  return new Promise<O & { serverCpuPercent: ServerCpu }>((resolve, reject) => {
    child.on('message', (message: Message<O>) => {
      if (message.type === 'measuring') meters = Object.entries(servers).map(([name, pid]) => [name, new CpuMeter(pid)]);
      else if (message.type === 'done') resolve({ ...message.outcome, serverCpuPercent: Object.fromEntries(meters.map(([name, m]) => [name, m.percent()])) });
      else reject(new Error(`${what} failed: ${message.message}`));
    });
    child.once('exit', (code) => reject(new Error(`${what} exited (${code}) without a result`)));
    child.send(job as object);
  }).finally(() => stopChild(child));
}

export type PropagationReport = PropagationOutcome & { serverCpuPercent: ServerCpu };
export type FanoutReport = FanoutOutcome & { serverCpuPercent: ServerCpu };

export function runPropagation(job: PropagationJob, servers: Record<string, number>): Promise<PropagationReport> {
  return runChild<PropagationJob, PropagationOutcome>(DETECTOR, 'propagation detector', job, servers);
}

export function runFanout(job: FanoutJob, servers: Record<string, number>): Promise<FanoutReport> {
  return runChild<FanoutJob, FanoutOutcome>(FANOUT, 'Redis fan-out baseline', job, servers);
}
