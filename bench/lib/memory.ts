// Resident memory of a process (tree), sampled from /proc while a load runs.
import { readFileSync } from 'node:fs';
import { childPids } from './cpu.js';

/** VmRSS and VmHWM of one process in bytes; zeros once it has gone. */
export function residentBytes(pid: number): { rss: number; hwm: number } {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024;
    return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
  } catch {
    return { rss: 0, hwm: 0 };
  }
}

/** VmRSS summed over a process and its live descendants (nginx master and workers). */
export function treeResidentBytes(pid: number): number {
  return residentBytes(pid).rss + childPids(pid).reduce((sum, child) => sum + treeResidentBytes(child), 0);
}

/** Samples a process tree's RSS every `intervalMs` until stopped; keeps the peak and the series. */
export class RssSampler {
  peak = 0;
  readonly samples: number[] = [];
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly pid: number,
    intervalMs = 100,
  ) {
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
  }

  private sample(): void {
    const rss = treeResidentBytes(this.pid);
    this.samples.push(rss);
    if (rss > this.peak) this.peak = rss;
  }

  stop(): { peak: number; last: number; samples: number } {
    clearInterval(this.timer);
    this.sample();
    return { peak: this.peak, last: this.samples[this.samples.length - 1] ?? 0, samples: this.samples.length };
  }
}
