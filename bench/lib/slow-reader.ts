// Parent side of the slow readers: forks the client and samples the server's RSS meanwhile.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { stopChild, track } from './children.js';
import { RssSampler } from './memory.js';
import type { SlowReadJob, SlowReadMessage, SlowReadOutcome } from './slow-reader-protocol.js';

const CHILD = fileURLToPath(new URL('./slow-reader-child.js', import.meta.url));

export interface SlowReadReport extends SlowReadOutcome {
  /** Highest sampled RSS of the server (process tree) from the first request to the last byte. */
  peakRssBytes: number;
  /** Same, only while all connections were open. */
  peakRssAllOpenBytes: number;
  samples: number;
}

export function runSlowReaders(job: SlowReadJob, serverPid: number): Promise<SlowReadReport> {
  const child = track(fork(CHILD, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
  const whole = new RssSampler(serverPid);
  let allOpen: RssSampler | null = null;
  return new Promise<SlowReadReport>((resolve, reject) => {
    child.on('message', (message: SlowReadMessage) => {
      if (message.type === 'all-open') allOpen = new RssSampler(serverPid);
      else if (message.type === 'done') {
        const open = allOpen?.stop();
        const all = whole.stop();
        resolve({ ...message.outcome, peakRssBytes: all.peak, peakRssAllOpenBytes: open?.peak ?? 0, samples: all.samples });
      } else reject(new Error(`slow readers failed: ${message.message}`));
    });
    child.once('exit', (code) => reject(new Error(`slow readers exited (${code}) without a result`)));
    child.send(job);
  }).finally(() => {
    whole.stop();
    (allOpen as RssSampler | null)?.stop();
    return stopChild(child);
  });
}
