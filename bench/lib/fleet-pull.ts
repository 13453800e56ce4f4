// Parent side of the fleet pull: forks fleet-pull-child and measures the servers' CPU (the node,
// s3rver) over the pull.
import { fileURLToPath } from 'node:url';
import { runChildJob } from './child-job.js';
import { ServerCpuMeters, type ServerCpu } from './cpu.js';
import type { FleetPullJob, FleetPullOutcome } from './fleet-pull-protocol.js';

const CHILD = fileURLToPath(new URL('./fleet-pull-child.js', import.meta.url));

export interface FleetPullReport extends FleetPullOutcome {
  /** Percent of one core over the pull, per server process name. */
  serverCpuPercent: ServerCpu;
}

export function runFleetPull(job: FleetPullJob, servers: Record<string, number>): Promise<FleetPullReport> {
  const meters = new ServerCpuMeters(servers);
  return runChildJob(
    CHILD,
    'fleet pull client',
    job,
    () => meters.start(),
    (outcome: FleetPullOutcome) => ({ ...outcome, serverCpuPercent: meters.percent() }),
  );
}
