// Parent side of the fleet pull: forks fleet-pull-child and measures the servers' CPU (the node,
// s3rver) over the pull.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { stopChild, track } from './children.js';
import { CpuMeter } from './cpu.js';
import type { FleetPullJob, FleetPullMessage, FleetPullOutcome } from './fleet-pull-protocol.js';

const CHILD = fileURLToPath(new URL('./fleet-pull-child.js', import.meta.url));

export interface FleetPullReport extends FleetPullOutcome {
  /** Percent of one core over the pull, per server process name. */
  serverCpuPercent: Record<string, number>;
}

export function runFleetPull(job: FleetPullJob, servers: Record<string, number>): Promise<FleetPullReport> {
  const child = track(fork(CHILD, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
  let meters: [string, CpuMeter][] = [];
  return new Promise<FleetPullReport>((resolve, reject) => {
    child.on('message', (message: FleetPullMessage) => {
      if (message.type === 'measuring') meters = Object.entries(servers).map(([name, pid]) => [name, new CpuMeter(pid)]);
      else if (message.type === 'done') resolve({ ...message.outcome, serverCpuPercent: Object.fromEntries(meters.map(([name, m]) => [name, m.percent()])) });
      else reject(new Error(`fleet pull failed: ${message.message}`));
    });
    child.once('exit', (code) => reject(new Error(`fleet pull client exited (${code}) without a result`)));
    child.send(job);
  }).finally(() => stopChild(child));
}
