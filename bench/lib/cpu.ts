// CPU time of processes, read from /proc, so each figure can say how much CPU its load
// generator and its server used: on a 2-core machine a saturated client caps the server.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

let ticksPerSecond: number | null = null;

export function clockTicks(): number {
  if (ticksPerSecond === null) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

function statFields(pid: number, tid?: number): string[] | null {
  try {
    const stat = readFileSync(tid === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${tid}/stat`, 'utf8');
    // The command name in field 2 may hold spaces; the numeric fields start after its ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/** utime + stime of one process in seconds (all its threads); 0 once it has gone. */
export function processCpuSeconds(pid: number): number {
  const fields = statFields(pid);
  return fields ? (Number(fields[11]) + Number(fields[12])) / clockTicks() : 0;
}

/** cutime + cstime of this process: CPU of the children it has already waited for (curl processes). */
export function reapedChildrenCpuSeconds(): number {
  const fields = statFields(process.pid);
  return fields ? (Number(fields[13]) + Number(fields[14])) / clockTicks() : 0;
}

/** CPU seconds of a process's main thread (its tid is its pid) and of all its other threads. */
export function threadCpuSeconds(pid: number): { main: number; others: number } {
  const all = processCpuSeconds(pid);
  const fields = statFields(pid, pid);
  const main = fields ? (Number(fields[11]) + Number(fields[12])) / clockTicks() : 0;
  return { main, others: Math.max(0, all - main) };
}

/** Live children of a process (nginx workers under their master). */
export function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** CPU seconds of a process and all its live descendants. */
export function treeCpuSeconds(pid: number): number {
  return processCpuSeconds(pid) + childPids(pid).reduce((sum, child) => sum + treeCpuSeconds(child), 0);
}

/** Measures a process tree's CPU over an interval, as percent of one core. */
export class CpuMeter {
  private readonly startCpu: number;
  private readonly startWall = process.hrtime.bigint();

  constructor(private readonly pid: number) {
    this.startCpu = treeCpuSeconds(pid);
  }

  percent(): number {
    const wall = Number(process.hrtime.bigint() - this.startWall) / 1e9;
    return wall > 0 ? ((treeCpuSeconds(this.pid) - this.startCpu) / wall) * 100 : 0;
  }
}

/** process.cpuUsage of this process over an interval, as percent of one core. */
export function ownCpuPercent(start: NodeJS.CpuUsage, wallSeconds: number): number {
  const used = process.cpuUsage(start);
  return wallSeconds > 0 ? ((used.user + used.system) / 1e6 / wallSeconds) * 100 : 0;
}

/** Percent of one core per named server process. */
export type ServerCpu = Record<string, number>;

/** CpuMeters for several named server processes, started together when the measured phase begins. */
export class ServerCpuMeters {
  private meters: [string, CpuMeter][] = [];

  constructor(private readonly servers: Record<string, number>) {}

  start(): void {
    this.meters = Object.entries(this.servers).map(([name, pid]) => [name, new CpuMeter(pid)]);
  }

  percent(): ServerCpu {
    return Object.fromEntries(this.meters.map(([name, meter]) => [name, meter.percent()]));
  }
}
