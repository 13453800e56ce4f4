// CPU times for the connection controller: in a window in which no core idled while the pull used
// a good part of one, the CPU sets the pace, and another connection would only compete for the cores.
import { cpus } from 'node:os';
import type { CpuTimes } from './connection-controller.js';

/** Cores the idle time is summed over. */
export function coreCount(): number {
  return Math.max(1, cpus().length);
}

/** The cores' idle time since boot (summed over the cores) and this process's CPU time, in ms. */
export function cpuTimes(): CpuTimes {
  const own = process.cpuUsage();
  return { idleMs: cpus().reduce((sum, cpu) => sum + cpu.times.idle, 0), ownMs: (own.user + own.system) / 1000 };
}
