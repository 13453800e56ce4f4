// How much CPU processes outside this bench used while a scenario ran. On a shared 2-core machine
// a busy neighbour (a test suite, a build) skews figures silently; the report says when it did.
import { readFileSync } from 'node:fs';
import { clockTicks, reapedChildrenCpuSeconds, treeCpuSeconds } from './cpu.js';

/** Busy seconds of the whole machine, summed over cores, from the first line of /proc/stat. */
function machineBusySeconds(): number {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = fields;
  return (user + nice + system + irq + softirq + steal) / clockTicks();
}

/** This process, its live descendants, and the children it has already reaped (cutime + cstime). */
function benchTreeSeconds(): number {
  return treeCpuSeconds(process.pid) + reapedChildrenCpuSeconds();
}

export class ForeignCpuMeter {
  private readonly machine = machineBusySeconds();
  private readonly bench = benchTreeSeconds();
  private readonly wall = process.hrtime.bigint();

  /** Percent of one core used by other processes since construction (never below 0). */
  percent(): number {
    const seconds = Number(process.hrtime.bigint() - this.wall) / 1e9;
    const foreign = machineBusySeconds() - this.machine - (benchTreeSeconds() - this.bench);
    return seconds > 0 ? Math.max(0, (foreign / seconds) * 100) : 0;
  }
}
