// `fleet`: what fleet telemetry costs. Resolve under 64 connections with an X-Modelgate-Deployment
// header against the same server without one (the caller is then the token name and the address),
// in turns in one run; then the service's memory while 100,000 distinct instances resolve, against
// the same number of resolves by one instance, each on a fresh service.
import http from 'node:http';
import { Api } from '../lib/api.js';
import { byCapacity, capacityFigure, loadProblem, p99Figure, requestsFigure } from '../lib/figures.js';
import { registerWithAlias, uploadRandomFiles } from '../lib/fixtures.js';
import { runLoad, WARMUP_SECONDS, type LoadReport } from '../lib/load.js';
import type { LoadJob } from '../lib/load-protocol.js';
import { residentBytes, RssSampler } from '../lib/memory.js';
import { alternate, medianBy } from '../lib/rounds.js';
import { startService, type RunningService } from '../lib/service.js';
import { ratioOf, type Comparison, type Figure, type Scenario, type ScenarioContext } from './scenario.js';

const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 64);
const INSTANCES = Number(process.env.BENCH_FLEET_INSTANCES ?? 100_000);
const IN_FLIGHT = 32;
const MEMORY_LIMIT_BYTES = 300e6;
const MODEL = 'bench/fraud';
const PATH = `/v1/resolve/${MODEL}@production`;
const byRps = (r: LoadReport) => r.requestsPerSecond;

function job(port: number, headers: Record<string, string>, ctx: ScenarioContext): LoadJob {
  return {
    url: `http://127.0.0.1:${port}${PATH}`,
    connections: CONNECTIONS,
    durationSeconds: ctx.durationSeconds,
    warmupSeconds: WARMUP_SECONDS,
    headers,
  };
}

async function setUp(service: RunningService): Promise<Api> {
  const api = new Api(service.port, service.token);
  const files = await uploadRandomFiles(api, [
    { path: 'config.json', size: 512 },
    { path: 'model.safetensors', size: 65_536 },
  ]);
  await registerWithAlias(api, MODEL, files, 'production');
  return api;
}

/** `count` resolves, `IN_FLIGHT` at a time over keep-alive connections, the n-th naming `identity(n)`. */
async function resolveMany(port: number, token: string, count: number, identity: (n: number) => string): Promise<number> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: IN_FLIGHT });
  let next = 0;
  let failed = 0;
  const one = (n: number) =>
    new Promise<void>((resolve, reject) => {
      const req = http.request(
        {
          host: '127.0.0.1',
          port,
          path: PATH,
          agent,
          headers: { authorization: `Bearer ${token}`, 'x-modelgate-deployment': identity(n) },
        },
        (res) => {
          if (res.statusCode !== 200) failed++;
          res.resume();
          res.once('end', resolve);
        },
      );
      req.once('error', reject);
      req.end();
    });
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < count) await one(next++);
    }),
  );
  agent.destroy();
  return failed;
}

interface MemoryRun {
  peakRss: number;
  afterRss: number;
  startRss: number;
  seconds: number;
  failed: number;
}

async function memoryRun(ctx: ScenarioContext, name: string, identity: (n: number) => string): Promise<MemoryRun> {
  const service = await startService({ workDir: ctx.workDir, name });
  try {
    (await setUp(service)).close();
    const startRss = residentBytes(service.pid).rss;
    const sampler = new RssSampler(service.pid);
    const started = performance.now();
    const failed = await resolveMany(service.port, service.token, INSTANCES, identity);
    const seconds = (performance.now() - started) / 1000;
    // Two flush intervals: what stays resident once the counts have gone to the store.
    await new Promise((r) => setTimeout(r, 2500));
    const { peak, last } = sampler.stop();
    return { peakRss: peak, afterRss: last, startRss, seconds, failed };
  } finally {
    await service.stop();
  }
}

function memoryFigure(run: MemoryRun): Figure {
  return {
    value: run.peakRss / 1e6,
    unit: 'MB peak RSS',
    loadCpuPercent: null,
    detail: {
      peakRssBytes: run.peakRss,
      afterRssBytes: run.afterRss,
      startRssBytes: run.startRss,
      seconds: run.seconds,
      failed: run.failed,
    },
  };
}

async function run(ctx: ScenarioContext): Promise<Comparison[]> {
  const service = await startService({ workDir: ctx.workDir, name: 'fleet' });
  // The same registry on a service with fleet telemetry turned off: what counting costs at all.
  const off = await startService({ workDir: ctx.workDir, name: 'fleet-off', env: { MODELGATE_FLEET_ENABLED: 'false' } });
  let withHeader: LoadReport;
  let without: LoadReport;
  let disabled: LoadReport;
  let withHeaderC: LoadReport;
  let withoutC: LoadReport;
  let disabledC: LoadReport;
  try {
    const api = await setUp(service);
    const offApi = await setUp(off);
    const auth = { authorization: api.authHeader };
    const offAuth = { authorization: offApi.authHeader };
    ctx.log(
      `  wrk ${CONNECTIONS} connections, ${ctx.durationSeconds} s (+${WARMUP_SECONDS} s warm-up), in turns: with and without X-Modelgate-Deployment, and on a service with fleet.enabled false`,
    );
    const [withRuns, withoutRuns, offRuns] = await alternate([
      () => runLoad(job(service.port, { ...auth, 'x-modelgate-deployment': 'fraud-scorer/fraud-scorer-7d9f-x2k4q' }, ctx), service.pid),
      () => runLoad(job(service.port, auth, ctx), service.pid),
      () => runLoad(job(off.port, offAuth, ctx), off.pid),
    ]);
    withHeader = medianBy(withRuns!, byRps);
    without = medianBy(withoutRuns!, byRps);
    disabled = medianBy(offRuns!, byRps);
    // The efficiency rows take each load's median round by requests per CPU-second.
    withHeaderC = medianBy(withRuns!, byCapacity);
    withoutC = medianBy(withoutRuns!, byCapacity);
    disabledC = medianBy(offRuns!, byCapacity);
    ctx.log(
      `  with the header ${Math.round(withHeader.requestsPerSecond)} req/s, without ${Math.round(without.requestsPerSecond)} req/s, fleet off ${Math.round(disabled.requestsPerSecond)} req/s`,
    );
    api.close();
    offApi.close();
  } finally {
    await service.stop();
    await off.stop();
  }

  ctx.log(
    `  ${INSTANCES} resolves by ${INSTANCES} distinct instances, then by one instance, each on a fresh service (${IN_FLIGHT} in flight)`,
  );
  const distinct = await memoryRun(ctx, 'fleet-distinct', (n) => `bench/instance-${n}`);
  const one = await memoryRun(ctx, 'fleet-one', () => 'bench/instance-0');
  ctx.log(
    `  distinct: peak ${(distinct.peakRss / 1e6).toFixed(0)} MB (after flush ${(distinct.afterRss / 1e6).toFixed(0)} MB); one: peak ${(one.peakRss / 1e6).toFixed(0)} MB`,
  );

  const problems = [loadProblem(withHeader), loadProblem(without)].filter(Boolean).join('; ');
  const ratio = ratioOf(requestsFigure(withHeader), requestsFigure(without));
  const capacity = ratioOf(capacityFigure(withHeaderC), capacityFigure(withoutC));
  const costWith = ratioOf(capacityFigure(withHeaderC), capacityFigure(disabledC));
  const costWithout = ratioOf(capacityFigure(withoutC), capacityFigure(disabledC));
  return [
    {
      name: `fleet: resolve with X-Modelgate-Deployment, ${CONNECTIONS} conn`,
      subject: requestsFigure(withHeader),
      baselineName: 'same server, no header (token name + address)',
      baseline: requestsFigure(without),
      ratio,
      target: '≥ 0.95×',
      pass: ratio === null ? null : !problems && ratio >= 0.95,
      note: [`p99 ${withHeader.p99Ms.toFixed(3)} ms vs ${without.p99Ms.toFixed(3)} ms`, problems ? `invalid: ${problems}` : '']
        .filter(Boolean)
        .join('; '),
    },
    {
      name: 'fleet: resolve with the header, server efficiency',
      subject: capacityFigure(withHeaderC),
      baselineName: 'same server, no header',
      baseline: capacityFigure(withoutC),
      ratio: capacity,
      target: '≥ 0.95×',
      pass: capacity === null ? null : capacity >= 0.95,
      note: 'requests per second of server CPU',
    },
    {
      name: 'fleet: cost of counting, with the header (server efficiency)',
      subject: capacityFigure(withHeaderC),
      baselineName: 'fleet.enabled false',
      baseline: capacityFigure(disabledC),
      ratio: costWith,
      target: 'informational',
      pass: null,
      note: 'requests per second of server CPU, against the same registry on a service that counts nothing',
    },
    {
      name: 'fleet: cost of counting, no header (server efficiency)',
      subject: capacityFigure(withoutC),
      baselineName: 'fleet.enabled false',
      baseline: capacityFigure(disabledC),
      ratio: costWithout,
      target: 'informational',
      pass: null,
      note: 'the caller is the token name and the peer address, read on every request (from what accept saw, where the addon is built)',
    },
    {
      name: 'fleet: resolve with the header, latency',
      subject: p99Figure(withHeader),
      baselineName: 'same server, no header',
      baseline: p99Figure(without),
      ratio: null,
      target: 'p99 ≤ 2 ms',
      pass: !problems && withHeader.p99Ms <= 2,
    },
    {
      name: `fleet: memory with ${INSTANCES} distinct instances`,
      subject: memoryFigure(distinct),
      baselineName: `${INSTANCES} resolves by one instance`,
      baseline: memoryFigure(one),
      ratio: null,
      target: '< 300 MB, bounded',
      pass: distinct.failed === 0 && distinct.peakRss < MEMORY_LIMIT_BYTES,
      note: `RSS ${(distinct.startRss / 1e6).toFixed(0)} MB before, ${(distinct.afterRss / 1e6).toFixed(0)} MB after the last flush (one instance: ${(one.startRss / 1e6).toFixed(0)} → ${(one.afterRss / 1e6).toFixed(0)} MB); ${distinct.seconds.toFixed(1)} s for the distinct run; ${distinct.failed} failed resolves; counts flush every second to the fleet store (its own LMDB environment), so memory holds about one second of distinct callers`,
    },
  ];
}

export const fleetScenario: Scenario = {
  name: 'fleet',
  description: `fleet telemetry: resolve with vs without X-Modelgate-Deployment (${CONNECTIONS} connections, same server, in turns); service RSS while ${INSTANCES} distinct instances resolve vs one`,
  notes:
    "The with/without rows alternate the two loads on one server (BENCH_ROUNDS turns each, median). Without the header the caller is the token name plus the peer address, which costs a little more than the header path (the address is read from the socket and a key built per request). wrk drives the load from one thread; it uses most of the other core, and the server runs near a full core of its own, so req/s follows the server; the efficiency row divides it by the server's CPU. The memory rows each start a fresh service: 100,000 resolves, each with its own instance name, against the same count from one instance; RSS is sampled every 100 ms and includes the fleet store's LMDB pages.",
  run,
};
