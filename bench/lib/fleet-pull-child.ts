// The fleet: `clients` GETs of one object started at once, each on its own connection (as many
// pods would), every byte hashed with node:crypto sha256 and checked against the expected digest
// and length. In a process of its own so its CPU (mostly sha256) is its own.
import { createHash } from 'node:crypto';
import http from 'node:http';
import { ownCpuPercent } from './cpu.js';
import { sendToParent, serveOneJob } from './child-job.js';
import type { ClientResult, FleetPullJob, FleetPullOutcome } from './fleet-pull-protocol.js';

function pull(job: FleetPullJob, start: bigint): Promise<ClientResult> {
  const since = () => Number(process.hrtime.bigint() - start) / 1e9;
  return new Promise((resolve) => {
    let headersSeconds = 0;
    let status = 0;
    let bytes = 0;
    const hash = createHash('sha256');
    let finished = false;
    const finish = (error?: string) => {
      if (finished) return;
      finished = true;
      const sha256 = hash.digest('hex');
      const ok = !error && status === 200 && bytes === job.size && sha256 === job.sha256;
      resolve({ status, bytes, sha256, ok, headersSeconds, seconds: since(), ...(error ? { error } : {}) });
    };
    const req = http.get({ host: '127.0.0.1', port: job.port, path: job.path, headers: job.headers, agent: false }, (res) => {
      headersSeconds = since();
      status = res.statusCode ?? 0;
      res.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        hash.update(chunk);
      });
      res.once('end', () => finish(res.complete ? undefined : 'the response ended before its Content-Length'));
      res.once('error', (err) => finish(err.message));
      res.once('aborted', () => finish('aborted'));
    });
    req.once('error', (err) => finish(err.message));
  });
}

async function main(job: FleetPullJob): Promise<FleetPullOutcome> {
  const cpu = process.cpuUsage();
  const start = process.hrtime.bigint();
  const results = await Promise.all(Array.from({ length: job.clients }, () => pull(job, start)));
  const wallSeconds = Number(process.hrtime.bigint() - start) / 1e9;
  const verified = results.filter((r) => r.ok).length;
  return {
    client: 'node:http, one connection per client, sha256 (node:crypto) of every byte',
    wallSeconds,
    aggregateGbPerSecond: (job.clients * job.size) / 1e9 / wallSeconds,
    verified,
    results,
    loadCpuPercent: ownCpuPercent(cpu, wallSeconds),
  };
}

serveOneJob<FleetPullJob>(async (job) => {
  await sendToParent({ type: 'measuring' });
  return main(job);
});
