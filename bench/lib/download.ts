// Parent side of the download client: forks download-child and measures the server's CPU meanwhile.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { stopChild, track } from './children.js';
import { CpuMeter } from './cpu.js';
import type { DownloadJob, DownloadMessage, DownloadOutcome } from './download-protocol.js';

const CHILD = fileURLToPath(new URL('./download-child.js', import.meta.url));

export interface DownloadReport extends DownloadOutcome {
  serverCpuPercent: number;
}

export function runDownload(job: DownloadJob, serverPid: number): Promise<DownloadReport> {
  const child = track(fork(CHILD, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
  let meter: CpuMeter | null = null;
  return new Promise<DownloadReport>((resolve, reject) => {
    child.on('message', (message: DownloadMessage) => {
      if (message.type === 'measuring') meter = new CpuMeter(serverPid);
      else if (message.type === 'done') resolve({ ...message.outcome, serverCpuPercent: meter?.percent() ?? 0 });
      else reject(new Error(`download client failed: ${message.message}`));
    });
    child.once('exit', (code) => reject(new Error(`download client exited (${code}) without a result`)));
    child.send(job);
  }).finally(() => stopChild(child));
}
