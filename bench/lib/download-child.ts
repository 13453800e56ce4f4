// The download client, in a process of its own so its CPU (and that of the curl processes it
// starts and reaps) is measured apart from the bench. curl is preferred: see clients/curl.ts.
import { existsSync } from 'node:fs';
import { curlFetcher } from './clients/curl.js';
import type { Fetcher } from './clients/fetcher.js';
import { nodeHttpFetcher } from './clients/node-http.js';
import { ownCpuPercent, reapedChildrenCpuSeconds } from './cpu.js';
import { sendToParent, serveOneJob } from './child-job.js';
import type { DownloadJob, DownloadOutcome } from './download-protocol.js';
import { median } from './stats.js';

type Measured = Pick<DownloadOutcome, 'bytes' | 'requests' | 'gbPerSecond' | 'roundGbPerSecond'>;

function pickFetcher(job: DownloadJob): Fetcher {
  const curl = ['/usr/bin/curl', '/usr/local/bin/curl', '/bin/curl'].find((p) => existsSync(p));
  if (job.client !== 'node' && curl) return curlFetcher(curl);
  return nodeHttpFetcher(job.streams);
}

async function whole(job: DownloadJob, fetcher: Fetcher): Promise<Measured> {
  const rounds: number[] = [];
  for (let i = 0; i < job.rounds; i++) {
    const { seconds } = await fetcher.fetch(job, null);
    rounds.push(job.size / 1e9 / seconds);
  }
  return { bytes: job.size * job.rounds, requests: job.rounds, gbPerSecond: median(rounds), roundGbPerSecond: rounds };
}

async function ranges(job: DownloadJob, fetcher: Fetcher): Promise<Measured> {
  const part = Math.ceil(job.size / job.streams);
  const deadline = Date.now() + job.durationSeconds * 1000;
  let bytes = 0;
  let requests = 0;
  const start = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: job.streams }, async (_, i) => {
      const from = i * part;
      const to = Math.min(job.size, from + part) - 1;
      // Each client keeps its own range going until the deadline, so all stay in flight throughout.
      do {
        const got = await fetcher.fetch(job, [from, to]);
        bytes += got.bytes;
        requests++;
      } while (Date.now() < deadline);
    }),
  );
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return { bytes, requests, gbPerSecond: bytes / 1e9 / seconds, roundGbPerSecond: [] };
}

async function main(job: DownloadJob): Promise<DownloadOutcome> {
  const fetcher = pickFetcher(job);
  const cpu = process.cpuUsage();
  const reaped = reapedChildrenCpuSeconds();
  const start = process.hrtime.bigint();
  const result = job.mode === 'whole' ? await whole(job, fetcher) : await ranges(job, fetcher);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  fetcher.close();
  const childrenPercent = ((reapedChildrenCpuSeconds() - reaped) / seconds) * 100;
  return { ...result, client: fetcher.description, seconds, loadCpuPercent: ownCpuPercent(cpu, seconds) + childrenPercent };
}

serveOneJob<DownloadJob>(async (job) => {
  await sendToParent({ type: 'measuring' });
  return main(job);
});
