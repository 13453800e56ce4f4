// Parent side of the slow readers: forks the client and samples the server's RSS meanwhile.
import { fileURLToPath } from 'node:url';
import { runChildJob } from './child-job.js';
import { RssSampler } from './memory.js';
import type { SlowReadJob, SlowReadOutcome } from './slow-reader-protocol.js';

const CHILD = fileURLToPath(new URL('./slow-reader-child.js', import.meta.url));

export interface SlowReadReport extends SlowReadOutcome {
  /** Highest sampled RSS of the server (process tree) from the first request to the last byte. */
  peakRssBytes: number;
  /** Same, only while all connections were open. */
  peakRssAllOpenBytes: number;
  samples: number;
}

export function runSlowReaders(job: SlowReadJob, serverPid: number): Promise<SlowReadReport> {
  const whole = new RssSampler(serverPid);
  let allOpen: RssSampler | null = null;
  return runChildJob(
    CHILD,
    'slow readers',
    job,
    () => (allOpen = new RssSampler(serverPid)),
    (outcome: SlowReadOutcome) => {
      const open = allOpen?.stop();
      const all = whole.stop();
      return { ...outcome, peakRssBytes: all.peak, peakRssAllOpenBytes: open?.peak ?? 0, samples: all.samples };
    },
  ).finally(() => {
    whole.stop();
    (allOpen as RssSampler | null)?.stop();
  });
}
