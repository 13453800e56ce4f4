// Parent side of the download client: forks download-child and measures the server's CPU meanwhile.
import { fileURLToPath } from 'node:url';
import { runChildJob } from './child-job.js';
import { CpuMeter } from './cpu.js';
import type { DownloadJob, DownloadOutcome } from './download-protocol.js';

const CHILD = fileURLToPath(new URL('./download-child.js', import.meta.url));

export interface DownloadReport extends DownloadOutcome {
  serverCpuPercent: number;
}

export function runDownload(job: DownloadJob, serverPid: number): Promise<DownloadReport> {
  let meter: CpuMeter | null = null;
  return runChildJob(
    CHILD,
    'download client',
    job,
    () => (meter = new CpuMeter(serverPid)),
    (outcome: DownloadOutcome) => ({ ...outcome, serverCpuPercent: meter?.percent() ?? 0 }),
  );
}
