// Shared by the `pull` and `push` scenarios: whole-process timing of a command (start-up
// included, as a user who types it sees it), rounds in turn so a drift of the shared machine hits
// every contender alike, and the sha256 check of what a download wrote. Wall time is compared;
// the load generators are whole commands, so their CPU is the machine's, not a separate figure.
// Each run still records its CPU (the pull scenario builds its floor from the parts' CPU).
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, openSync, readSync, closeSync } from 'node:fs';
import { track } from './children.js';
import { reapedChildrenCpuSeconds } from './cpu.js';
import { median } from './stats.js';
import type { Figure } from '../scenarios/scenario.js';

export interface TimedRun {
  seconds: number;
  /** User + system CPU of the command and of every process it waited for (a pipeline's members). */
  cpuSeconds: number;
  stdout: string;
}

/** Runs `command` to completion; wall time from spawn to exit, CPU from the kernel's accounting of the child. */
export function timeCommand(command: string, args: string[], env: Record<string, string> = {}): Promise<TimedRun> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    // The kernel adds a child's CPU (and its own reaped children's) to ours once it is reaped; nothing else of ours exits meanwhile.
    const cpuBefore = reapedChildrenCpuSeconds();
    const child = track(spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } }));
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      if (code !== 0) reject(new Error(`${command} ${args.join(' ')}: ${signal ?? `exit ${code}`}: ${stderr.trim().slice(-400)}`));
      else resolve({ seconds, cpuSeconds: reapedChildrenCpuSeconds() - cpuBefore, stdout });
    });
  });
}

export function findTool(name: string): string | null {
  return ['/usr/bin/', '/usr/local/bin/', '/bin/'].map((dir) => `${dir}${name}`).find((p) => existsSync(p)) ?? null;
}

/** sha256 hex of a file, read in 4 MiB steps. */
export function sha256OfFile(path: string): string {
  const hash = createHash('sha256');
  const buffer = Buffer.allocUnsafe(4 << 20);
  const fd = openSync(path, 'r');
  try {
    for (let n = readSync(fd, buffer, 0, buffer.length, null); n > 0; n = readSync(fd, buffer, 0, buffer.length, null))
      hash.update(buffer.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return hash.digest('hex');
}

/** Median throughput of timed rounds of `bytes` each, in GB/s, with every round kept in the detail. */
export function throughputFigure(bytes: number, rounds: TimedRun[], detail: Record<string, unknown> = {}): Figure | null {
  if (rounds.length === 0) return null;
  const rates = rounds.map((r) => bytes / 1e9 / r.seconds);
  return {
    value: median(rates),
    unit: 'GB/s',
    loadCpuPercent: null,
    detail: { seconds: rounds.map((r) => Number(r.seconds.toFixed(3))), ...detail },
  };
}
