// Opens many downloads at once and reads each at a fixed slow rate, so the server has to hold
// them all open under backpressure at the same time. Runs in its own process.
import http from 'node:http';
import { ownCpuPercent } from './cpu.js';
import { sendToParent, serveOneJob } from './child-job.js';
import type { SlowReadJob, SlowReadOutcome } from './slow-reader-protocol.js';

interface Reader {
  res: http.IncomingMessage | null;
  bytes: number;
  ended: boolean;
}

async function main(job: SlowReadJob): Promise<SlowReadOutcome> {
  const agent = new http.Agent({ keepAlive: false, maxSockets: job.connections });
  const cpu = process.cpuUsage();
  const start = Date.now();
  const readers: Reader[] = [];
  const allowed = () => (job.bytesPerSecond * (Date.now() - start)) / 1000;
  let total = 0;

  await Promise.all(
    Array.from({ length: job.connections }, () => {
      const reader: Reader = { res: null, bytes: 0, ended: false };
      readers.push(reader);
      return new Promise<void>((resolve, reject) => {
        const req = http.get({ host: '127.0.0.1', port: job.port, path: job.path, headers: job.headers, agent }, (res) => {
          if (res.statusCode !== 200) {
            res.resume();
            reject(new Error(`GET ${job.path}: status ${res.statusCode}`));
            return;
          }
          reader.res = res;
          res.on('data', (chunk: Buffer) => {
            reader.bytes += chunk.length;
            total += chunk.length;
            if (reader.bytes > allowed()) res.pause();
          });
          const over = () => (reader.ended = true);
          res.once('end', over);
          res.once('close', over);
          res.once('error', over);
          resolve();
        });
        req.once('error', (err) => {
          reader.ended = true;
          reject(err);
        });
      });
    }),
  );
  await sendToParent({ type: 'all-open' });

  // Paused readers get going again once their allowance has caught up with what they have read.
  const pacer = setInterval(() => {
    const limit = allowed();
    for (const r of readers) if (r.res?.isPaused() && r.bytes <= limit) r.res.resume();
  }, 20);
  await new Promise((r) => setTimeout(r, job.holdSeconds * 1000));
  clearInterval(pacer);
  const openAtEnd = readers.filter((r) => !r.ended).length;
  const seconds = (Date.now() - start) / 1000;
  const loadCpuPercent = ownCpuPercent(cpu, seconds);
  for (const r of readers) r.res?.destroy();
  agent.destroy();
  return { opened: readers.length, openAtEnd, bytes: total, seconds, loadCpuPercent };
}

serveOneJob<SlowReadJob>(main);
