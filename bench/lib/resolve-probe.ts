// A light resolve prober: one keep-alive connection from the bench process, one GET every
// `intervalMs` (or as soon as the previous answer is in, when it took longer), each timed from
// the request written to the whole answer read. It measures what a resolve waits for while the
// server is busy with something else (the `download` scenario's ranged streams) without adding a
// load of its own: a load generator at full rate would take a core from the downloads it runs beside.
import { Agent, request } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { type LatencySummary, summarize } from './latency.js';

export interface ProbeTarget {
  port: number;
  path: string;
  headers: Record<string, string>;
}

export interface ProbeOutcome extends LatencySummary {
  /** Answers other than 200, and requests that failed outright. */
  failures: number;
}

function get(agent: Agent, target: ProbeTarget): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: target.port, path: target.path, headers: target.headers, agent }, (res) => {
      res.on('data', () => undefined);
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** Probes until `until` settles; latencies in ms. */
export async function probeResolve(target: ProbeTarget, intervalMs: number, until: Promise<unknown>): Promise<ProbeOutcome> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  let done = false;
  until.then(
    () => (done = true),
    () => (done = true),
  );
  const latencies: number[] = [];
  let failures = 0;
  try {
    while (!done) {
      const at = performance.now();
      try {
        if ((await get(agent, target)) !== 200) failures++;
        else latencies.push(performance.now() - at);
      } catch {
        failures++;
      }
      const rest = intervalMs - (performance.now() - at);
      if (rest > 0) await sleep(rest);
    }
  } finally {
    agent.destroy();
  }
  return { ...summarize(latencies), failures };
}
