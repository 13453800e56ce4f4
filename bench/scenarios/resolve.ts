// `resolve`: requests/s and latency of GET /v1/resolve/{name}@production under 64 connections,
// against a bare uWebSockets.js app sending the same bytes, and nginx serving them as a static
// file; then again with 10,000 models in the index.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Api } from '../lib/api.js';
import { byCapacity, capacityFigure, loadProblem, p99Figure, requestsFigure } from '../lib/figures.js';
import { modelName, registerMany, registerWithAlias, uploadRandomFiles } from '../lib/fixtures.js';
import { runLoad, WARMUP_SECONDS, type LoadReport } from '../lib/load.js';
import type { LoadJob } from '../lib/load-protocol.js';
import { findNginx, NGINX_MISSING, NGINX_WORKERS, startNginx, type NginxServer } from '../lib/nginx.js';
import { alternate, medianBy } from '../lib/rounds.js';
import { startService } from '../lib/service.js';
import { constantResponseFrom, startUwsBaseline } from '../lib/uws-baseline.js';
import { ratioOf, type Comparison, type Scenario, type ScenarioContext } from './scenario.js';

const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 64);
const MODELS = Number(process.env.BENCH_MODELS ?? 10_000);
/**
 * Distinct names the large-index phase cycles through, spread evenly over the index (wrk's script
 * prebuilds each request once, before its clock starts).
 */
const CYCLED_NAMES = Number(process.env.BENCH_MODEL_PATHS ?? 100);
/** Registering the index is setup, not the measurement: give up (and say so) past this. */
const REGISTER_SECONDS = Number(process.env.BENCH_REGISTER_SECONDS ?? 300);
const P99_TARGET_MS = 2;
/** DESIGN.md's resolve target: this share of a bare uWS handler's rate, returning the same bytes. */
const RESOLVE_TARGET = 0.9;
const MODEL = 'bench/fraud';
const PATH = `/v1/resolve/${MODEL}@production`;

/** A load generator this busy is the bottleneck: its one core is full. */
const SATURATED_PERCENT = 90;

const byRps = (r: LoadReport) => r.requestsPerSecond;

function job(port: number, path: string, headers: Record<string, string>, ctx: ScenarioContext, paths?: string[]): LoadJob {
  return {
    url: `http://127.0.0.1:${port}${path}`,
    connections: CONNECTIONS,
    durationSeconds: ctx.durationSeconds,
    warmupSeconds: WARMUP_SECONDS,
    headers,
    ...(paths ? { paths } : {}),
  };
}

function throughputRow(
  name: string,
  subject: LoadReport,
  baselineName: string,
  baseline: LoadReport | null,
  target: string,
  pass: (ratio: number) => boolean,
  note?: string,
): Comparison {
  const s = requestsFigure(subject);
  const b = baseline ? requestsFigure(baseline) : null;
  const ratio = ratioOf(s, b);
  const problems = [loadProblem(subject), baseline ? loadProblem(baseline) : null].filter(Boolean).join('; ');
  const saturated = [subject, baseline].some((r) => r && r.loadCpuPercent >= SATURATED_PERCENT);
  const notes = [
    note,
    saturated
      ? `wrk used ≥ ${SATURATED_PERCENT}% of a core: req/s shows the client's ceiling as much as the server's; the efficiency row does not`
      : '',
    problems ? `invalid: ${problems}` : '',
  ]
    .filter(Boolean)
    .join('; ');
  return {
    name,
    subject: s,
    baselineName,
    baseline: b,
    ratio,
    target,
    pass: ratio === null ? null : !problems && pass(ratio),
    ...(notes ? { note: notes } : {}),
  };
}

function capacityRow(
  name: string,
  subject: LoadReport,
  baselineName: string,
  baseline: LoadReport | null,
  target: string,
  pass: (ratio: number) => boolean,
  note?: string,
): Comparison {
  const s = capacityFigure(subject);
  const b = baseline ? capacityFigure(baseline) : null;
  const ratio = ratioOf(s, b);
  return {
    name,
    subject: s,
    baselineName,
    baseline: b,
    ratio,
    target,
    pass: ratio === null ? null : pass(ratio),
    note: `${note ? `${note}; ` : ''}server CPU ${Math.round(subject.serverCpuPercent ?? 0)}% vs ${Math.round(baseline?.serverCpuPercent ?? 0)}% of a core; requests per second of server CPU, a comparison the load generator's own ceiling cannot flatten`,
  };
}

/**
 * modelgate's efficiency against the bare app that also reads each request's peer address, as
 * counting a caller without a deployment header needs (src/http/peer-address.ts: from what accept
 * saw, where the addon is built); the note says what that read costs the bare app itself.
 */
function peerReadingRow(name: string, subject: LoadReport, peerReading: LoadReport, bare: LoadReport): Comparison {
  const cost = `the bare app pays for that read: ${Math.round(byCapacity(peerReading))} against ${Math.round(byCapacity(bare))} req/CPU-s without it (${(byCapacity(peerReading) / byCapacity(bare)).toFixed(2)}×)`;
  return capacityRow(
    name,
    subject,
    'bare uWS, same bytes, reading each peer address',
    peerReading,
    `≥ ${RESOLVE_TARGET}×`,
    (r) => r >= RESOLVE_TARGET,
    cost,
  );
}

function latencyRow(name: string, subject: LoadReport, baselineName: string, baseline: LoadReport): Comparison {
  return {
    name,
    subject: p99Figure(subject),
    baselineName,
    baseline: p99Figure(baseline),
    ratio: null,
    target: `p99 ≤ ${P99_TARGET_MS} ms`,
    pass: !loadProblem(subject) && subject.p99Ms <= P99_TARGET_MS,
    note: `p50 ${subject.p50Ms.toFixed(3)} ms vs ${baseline.p50Ms.toFixed(3)} ms (wrk's histogram, µs resolution)`,
  };
}

async function run(ctx: ScenarioContext): Promise<Comparison[]> {
  const service = await startService({ workDir: ctx.workDir, name: 'resolve' });
  const stops: (() => Promise<void>)[] = [() => service.stop()];
  const api = new Api(service.port, service.token);
  try {
    const files = await uploadRandomFiles(api, [
      { path: 'config.json', size: 512 },
      { path: 'tokenizer.json', size: 4096 },
      { path: 'model.safetensors', size: 65_536 },
    ]);
    await registerWithAlias(api, MODEL, files, 'production');
    const sample = await api.request('GET', PATH);
    if (sample.status !== 200) throw new Error(`GET ${PATH}: ${sample.status} ${sample.body.toString('utf8').slice(0, 200)}`);
    ctx.log(`  modelgate answers ${PATH} with ${sample.body.length} bytes and ${sample.rawHeaders.length / 2} headers`);

    const answer = constantResponseFrom(sample.status, sample.rawHeaders, sample.body);
    const uws = await startUwsBaseline(answer);
    stops.push(() => uws.stop());
    // The same app reading each request's peer address as modelgate must to count a caller that
    // sends no deployment header: what that read costs a uWS server on this machine.
    const uwsPeer = await startUwsBaseline(answer, { readPeer: true });
    stops.push(() => uwsPeer.stop());
    let nginx: NginxServer | null = null;
    if (findNginx()) {
      const root = join(ctx.workDir, 'www-resolve');
      mkdirSync(root, { recursive: true });
      writeFileSync(join(root, 'resolve.json'), sample.body);
      nginx = await startNginx({ name: 'resolve', root, workDir: ctx.workDir, probePath: '/resolve.json' });
      stops.push(() => nginx!.stop());
    } else {
      ctx.log(`  ${NGINX_MISSING}`);
    }

    // The same request bytes (path length, auth header) go to every server.
    const headers = { authorization: api.authHeader };
    ctx.log(
      `  wrk ${CONNECTIONS} connections, ${ctx.durationSeconds} s (+${WARMUP_SECONDS} s warm-up) each: modelgate, bare uWS, bare uWS reading the peer address${nginx ? ', nginx' : ''}`,
    );
    const phases = [
      () => runLoad(job(service.port, PATH, headers, ctx), service.pid),
      () => runLoad(job(uws.port, PATH, headers, ctx), uws.pid),
      () => runLoad(job(uwsPeer.port, PATH, headers, ctx), uwsPeer.pid),
      ...(nginx ? [() => runLoad(job(nginx!.port, '/resolve.json', headers, ctx), nginx!.pid)] : []),
    ];
    const [mgRuns, uwsRuns, peerRuns, nginxRuns] = await alternate(phases);
    const mg = medianBy(mgRuns!, byRps);
    const bare = medianBy(uwsRuns!, byRps);
    const ng = nginxRuns ? medianBy(nginxRuns, byRps) : null;
    // The efficiency rows take each server's median round by requests per CPU-second.
    const mgC = medianBy(mgRuns!, byCapacity);
    const bareC = medianBy(uwsRuns!, byCapacity);
    const peerC = medianBy(peerRuns!, byCapacity);
    const ngC = nginxRuns ? medianBy(nginxRuns, byCapacity) : null;
    ctx.log(
      `  modelgate ${Math.round(mg.requestsPerSecond)} req/s, bare uWS ${Math.round(bare.requestsPerSecond)}${ng ? `, nginx ${Math.round(ng.requestsPerSecond)}` : ''}`,
    );

    ctx.log(`  registering ${MODELS} models through the API (32 calls in flight)`);
    const reg = await registerMany(api, MODELS, files, 'production', 32, Date.now() + REGISTER_SECONDS * 1000);
    ctx.log(
      `  registered ${reg.registered} in ${reg.seconds.toFixed(1)} s (${Math.round(reg.registered / reg.seconds)} models/s, each a version and an alias move)`,
    );
    const count = Math.min(CYCLED_NAMES, reg.registered);
    const paths = Array.from(
      { length: count },
      (_, i) => `/v1/resolve/${modelName(Math.floor(((i + 0.5) * reg.registered) / count) + 1)}@production`,
    );
    // The baseline gets the same request list, so wrk does the same work against both.
    const [bigRuns, bigBaseRuns, bigPeerRuns] = await alternate([
      () => runLoad(job(service.port, paths[0]!, headers, ctx, paths), service.pid),
      () => runLoad(job(uws.port, paths[0]!, headers, ctx, paths), uws.pid),
      () => runLoad(job(uwsPeer.port, paths[0]!, headers, ctx, paths), uwsPeer.pid),
    ]);
    const big = medianBy(bigRuns!, byRps);
    const bigBase = medianBy(bigBaseRuns!, byRps);
    const bigC = medianBy(bigRuns!, byCapacity);
    const bigBaseC = medianBy(bigBaseRuns!, byCapacity);
    const bigPeerC = medianBy(bigPeerRuns!, byCapacity);
    ctx.log(
      `  modelgate with ${reg.registered} models: ${Math.round(big.requestsPerSecond)} req/s, bare uWS ${Math.round(bigBase.requestsPerSecond)}`,
    );

    const regNote = `${reg.registered} models registered through the API in ${reg.seconds.toFixed(1)} s${reg.registered < MODELS ? ` (stopped at ${REGISTER_SECONDS} s: registration too slow)` : ''}; requests cycle through ${count} names spread over the index, the same list for both`;
    const target = `≥ ${RESOLVE_TARGET}×, p99 ≤ ${P99_TARGET_MS} ms`;
    const rows: Comparison[] = [
      throughputRow(
        `resolve: ${CONNECTIONS} conn`,
        mg,
        'bare uWS, same bytes',
        bare,
        target,
        (r) => r >= RESOLVE_TARGET && mg.p99Ms <= P99_TARGET_MS,
      ),
      latencyRow(`resolve: ${CONNECTIONS} conn latency`, mg, 'bare uWS, same bytes', bare),
      capacityRow('resolve: server efficiency', mgC, 'bare uWS, same bytes', bareC, `≥ ${RESOLVE_TARGET}×`, (r) => r >= RESOLVE_TARGET),
      peerReadingRow('resolve: server efficiency vs a peer-reading app', mgC, peerC, bareC),
    ];
    if (ng && ngC) {
      const nginxName = `nginx static file (${NGINX_WORKERS} worker)`;
      rows.push(
        throughputRow(`resolve vs nginx: ${CONNECTIONS} conn`, mg, nginxName, ng, 'ahead (> 1×)', (r) => r > 1),
        capacityRow('resolve vs nginx: server efficiency', mgC, nginxName, ngC, 'ahead (> 1×)', (r) => r > 1),
      );
    } else {
      rows.push({
        name: `resolve vs nginx: ${CONNECTIONS} conn`,
        subject: requestsFigure(mg),
        baselineName: 'nginx static file',
        baseline: null,
        ratio: null,
        target: 'ahead (> 1×)',
        pass: null,
        note: NGINX_MISSING,
      });
    }
    rows.push(
      throughputRow(
        `resolve, ${reg.registered} models: ${CONNECTIONS} conn`,
        big,
        'bare uWS, same bytes',
        bigBase,
        target,
        (r) => r >= RESOLVE_TARGET && big.p99Ms <= P99_TARGET_MS,
        regNote,
      ),
      latencyRow(`resolve, ${reg.registered} models: latency`, big, 'bare uWS, same bytes', bigBase),
      capacityRow(
        `resolve, ${reg.registered} models: server efficiency`,
        bigC,
        'bare uWS, same bytes',
        bigBaseC,
        `≥ ${RESOLVE_TARGET}×`,
        (r) => r >= RESOLVE_TARGET,
      ),
      peerReadingRow(`resolve, ${reg.registered} models: server efficiency vs a peer-reading app`, bigC, bigPeerC, bigBaseC),
    );
    return rows;
  } finally {
    api.close();
    for (const stop of stops.reverse()) await stop();
  }
}

export const resolveScenario: Scenario = {
  name: 'resolve',
  description: `GET /v1/resolve/{name}@production, wrk ${CONNECTIONS} connections, vs bare uWebSockets.js (same bytes) and nginx (static file); then with ${MODELS} models indexed`,
  run,
};
