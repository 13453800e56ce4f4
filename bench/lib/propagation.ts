// Parent side of the propagation detector and of the Redis fan-out baseline: forks each client
// and measures the servers' CPU (the nodes, Redis) over its measured rounds.
import { fileURLToPath } from 'node:url';
import { runChildJob } from './child-job.js';
import { ServerCpuMeters, type ServerCpu } from './cpu.js';
import type { FanoutJob, FanoutOutcome, PropagationJob, PropagationOutcome } from './propagation-protocol.js';

const DETECTOR = fileURLToPath(new URL('./propagation-child.js', import.meta.url));
const FANOUT = fileURLToPath(new URL('./fanout-child.js', import.meta.url));

export type PropagationReport = PropagationOutcome & { serverCpuPercent: ServerCpu };
export type FanoutReport = FanoutOutcome & { serverCpuPercent: ServerCpu };

function runMetered<O>(
  script: string,
  what: string,
  job: object,
  servers: Record<string, number>,
): Promise<O & { serverCpuPercent: ServerCpu }> {
  const meters = new ServerCpuMeters(servers);
  return runChildJob(
    script,
    what,
    job,
    () => meters.start(),
    (outcome: O) => ({ ...outcome, serverCpuPercent: meters.percent() }),
  );
}

export function runPropagation(job: PropagationJob, servers: Record<string, number>): Promise<PropagationReport> {
  return runMetered<PropagationOutcome>(DETECTOR, 'propagation detector', job, servers);
}

export function runFanout(job: FanoutJob, servers: Record<string, number>): Promise<FanoutReport> {
  return runMetered<FanoutOutcome>(FANOUT, 'Redis fan-out baseline', job, servers);
}
