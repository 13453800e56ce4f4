// `stacks`: (1) GET /v1/resolve of a stack of 8 components (its whole closure in one prepared
// answer) against the resolve of a flat version, same service, same run, alternating, and against
// a flat version whose answer has the stack's size in bytes (its file list is the stack's closure
// as pull lays it out): what the stack costs beyond the bytes it sends; and against a bare
// uWebSockets.js app answering the stack's exact response (status, headers, body), the resolve
// target's own yardstick applied to the stack's bytes (and the flat answer's against its own
// bare app, for comparison in the same run); (2) the
// impact query answered from the commit-time indexes, with a few versions registered and again
// with 10,000 more: its latency must not grow with the registry.
import { Api, type FileEntry } from '../lib/api.js';
import { byCapacity, capacityFigure, loadProblem, p99Figure, requestsFigure } from '../lib/figures.js';
import { registerMany, registerWithAlias, uploadRandomFiles } from '../lib/fixtures.js';
import { runLoad, WARMUP_SECONDS, type LoadReport } from '../lib/load.js';
import type { LoadJob } from '../lib/load-protocol.js';
import { alternate, medianBy } from '../lib/rounds.js';
import { startService } from '../lib/service.js';
import { median } from '../lib/stats.js';
import { constantResponseFrom, startUwsBaseline } from '../lib/uws-baseline.js';
import { ratioOf, type Comparison, type Figure, type Scenario, type ScenarioContext } from './scenario.js';

const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 64);
const COMPONENTS = 8;
const VERSIONS = Number(process.env.BENCH_IMPACT_VERSIONS ?? 10_000);
const IMPACT_QUERIES = Number(process.env.BENCH_IMPACT_QUERIES ?? 2000);
const REGISTER_SECONDS = Number(process.env.BENCH_REGISTER_SECONDS ?? 300);
const FLAT = '/v1/resolve/bench/flat@live';
const WIDE = '/v1/resolve/bench/wide@live';
const STACK = '/v1/resolve/bench/stack@live';
const IMPACT_P99_TARGET_MS = 5;
/** DESIGN.md's resolve target against a bare uWS handler returning the same bytes. */
const RESOLVE_TARGET = 0.9;

const byRps = (r: LoadReport) => r.requestsPerSecond;

function job(port: number, path: string, headers: Record<string, string>, ctx: ScenarioContext): LoadJob {
  return {
    url: `http://127.0.0.1:${port}${path}`,
    connections: CONNECTIONS,
    durationSeconds: ctx.durationSeconds,
    warmupSeconds: WARMUP_SECONDS,
    headers,
  };
}

/** Latency of `count` impact queries one after another on a keep-alive connection (p50/p99 in ms). */
async function impactLatency(api: Api, target: string, count: number): Promise<Figure & { answer: number }> {
  const path = `/v1/impact?target=${encodeURIComponent(target)}`;
  const times: number[] = [];
  let answer = 0;
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    const res = await api.request('GET', path);
    times.push(performance.now() - started);
    if (res.status !== 200) throw new Error(`GET ${path}: ${res.status} ${res.body.toString('utf8').slice(0, 200)}`);
    if (i === 0) answer = (JSON.parse(res.body.toString('utf8')) as { versions: unknown[] }).versions.length;
  }
  times.sort((a, b) => a - b);
  const p99 = times[Math.min(times.length - 1, Math.floor(times.length * 0.99))]!;
  return {
    value: p99,
    unit: 'ms p99',
    loadCpuPercent: null,
    detail: { p50Ms: median(times), p99Ms: p99, maxMs: times.at(-1), queries: count },
    answer,
  };
}

async function run(ctx: ScenarioContext): Promise<Comparison[]> {
  const service = await startService({ workDir: ctx.workDir, name: 'stacks' });
  const api = new Api(service.port, service.token);
  const stops: (() => Promise<void>)[] = [];
  try {
    const layout = [
      { path: 'config.json', size: 512 },
      { path: 'tokenizer.json', size: 4096 },
      { path: 'model.safetensors', size: 65_536 },
    ];
    await registerWithAlias(api, 'bench/flat', await uploadRandomFiles(api, layout), 'live');
    const components: Record<string, string> = {};
    for (let i = 1; i <= COMPONENTS; i++) {
      await registerWithAlias(api, `bench/c${i}`, await uploadRandomFiles(api, layout), 'live');
      components[`c${i}`] = `bench/c${i}@v1`;
    }
    const prompt = await uploadRandomFiles(api, [{ path: 'prompt.txt', size: 1024 }]);
    const stack = await api.request('POST', '/v1/models/bench/stack/versions', { json: { files: prompt, components } });
    if (stack.status !== 201) throw new Error(`stack registration: ${stack.status} ${stack.body.toString('utf8').slice(0, 200)}`);
    await api.setAlias('bench/stack', 'live', 1);
    const flatSample = await api.request('GET', FLAT);
    const stackSample = await api.request('GET', STACK);
    for (const [path, sample] of [
      [FLAT, flatSample],
      [STACK, stackSample],
    ] as const) {
      if (sample.status !== 200) throw new Error(`GET ${path}: ${sample.status} ${sample.body.toString('utf8').slice(0, 200)}`);
    }
    const flatBody = flatSample.body.length;
    const stackAnswer = stackSample.body;
    const stackBody = stackAnswer.length;
    // Bare uWS apps answering every GET with the service's exact response (status line, headers, body).
    const bareStack = await startUwsBaseline(constantResponseFrom(stackSample.status, stackSample.rawHeaders, stackAnswer));
    stops.push(() => bareStack.stop());
    // The same, reading each request's peer address as counting a caller without a deployment header needs.
    const peerStack = await startUwsBaseline(constantResponseFrom(stackSample.status, stackSample.rawHeaders, stackAnswer), {
      readPeer: true,
    });
    stops.push(() => peerStack.stop());
    const bareFlat = await startUwsBaseline(constantResponseFrom(flatSample.status, flatSample.rawHeaders, flatSample.body));
    stops.push(() => bareFlat.stop());
    const wideBody = await registerEqualBytes(api, stackAnswer);
    ctx.log(
      `  flat resolve answers ${flatBody} bytes; the stack of ${COMPONENTS} answers ${stackBody} bytes (its closure); the wide flat version ${wideBody} bytes`,
    );

    const headers = { authorization: api.authHeader };
    ctx.log(
      `  wrk ${CONNECTIONS} connections, ${ctx.durationSeconds} s (+${WARMUP_SECONDS} s warm-up) each: stack, flat, wide flat, bare uWS with the stack's answer (also reading the peer address), bare uWS with the flat answer`,
    );
    // The bare apps get the same request bytes (path, auth header) as the service.
    const [stackRuns, flatRuns, wideRuns, bareStackRuns, bareFlatRuns, peerStackRuns] = await alternate([
      () => runLoad(job(service.port, STACK, headers, ctx), service.pid),
      () => runLoad(job(service.port, FLAT, headers, ctx), service.pid),
      () => runLoad(job(service.port, WIDE, headers, ctx), service.pid),
      () => runLoad(job(bareStack.port, STACK, headers, ctx), bareStack.pid),
      () => runLoad(job(bareFlat.port, FLAT, headers, ctx), bareFlat.pid),
      () => runLoad(job(peerStack.port, STACK, headers, ctx), peerStack.pid),
    ]);
    const s = medianBy(stackRuns!, byRps);
    const f = medianBy(flatRuns!, byRps);
    const w = medianBy(wideRuns!, byRps);
    const bs = medianBy(bareStackRuns!, byRps);
    const bf = medianBy(bareFlatRuns!, byRps);
    // The efficiency rows take each server's median round by requests per CPU-second.
    const sC = medianBy(stackRuns!, byCapacity);
    const fC = medianBy(flatRuns!, byCapacity);
    const wC = medianBy(wideRuns!, byCapacity);
    const bsC = medianBy(bareStackRuns!, byCapacity);
    const bfC = medianBy(bareFlatRuns!, byCapacity);
    const psC = medianBy(peerStackRuns!, byCapacity);
    ctx.log(
      `  stack ${Math.round(s.requestsPerSecond)} req/s, flat ${Math.round(f.requestsPerSecond)} req/s, wide flat ${Math.round(w.requestsPerSecond)} req/s, bare uWS stack bytes ${Math.round(bs.requestsPerSecond)} req/s, bare uWS flat bytes ${Math.round(bf.requestsPerSecond)} req/s`,
    );

    // Impact: a component two steps below nothing else, and the blob of one of its files.
    const target = 'bench/c1@v1';
    const small = await impactLatency(api, target, IMPACT_QUERIES);
    ctx.log(
      `  impact of ${target} (${small.answer} versions) with ${COMPONENTS + 2} versions registered: p99 ${small.value.toFixed(3)} ms`,
    );
    ctx.log(`  registering ${VERSIONS} more versions through the API (32 calls in flight)`);
    const filler = await uploadRandomFiles(api, layout);
    const reg = await registerMany(api, VERSIONS, filler, 'production', 32, Date.now() + REGISTER_SECONDS * 1000);
    ctx.log(`  registered ${reg.registered} in ${reg.seconds.toFixed(1)} s`);
    const big = await impactLatency(api, target, IMPACT_QUERIES);
    ctx.log(`  impact of ${target} with ${reg.registered + COMPONENTS + 2} versions: p99 ${big.value.toFixed(3)} ms`);

    const problems = [loadProblem(s), loadProblem(f)].filter(Boolean).join('; ');
    const wideProblems = [loadProblem(s), loadProblem(w)].filter(Boolean).join('; ');
    const wideFigure = requestsFigure(w);
    const wideRatio = ratioOf(requestsFigure(s), wideFigure);
    const wideCapRatio = ratioOf(capacityFigure(sC), capacityFigure(wC));
    const stackFigure = requestsFigure(s);
    const flatFigure = requestsFigure(f);
    const ratio = ratioOf(stackFigure, flatFigure);
    const sCap = capacityFigure(sC);
    const fCap = capacityFigure(fC);
    const capRatio = ratioOf(sCap, fCap);
    const impactRatio = big.value > 0 ? small.value / big.value : null;
    const bareProblems = [loadProblem(s), loadProblem(bs)].filter(Boolean).join('; ');
    const bareRatio = ratioOf(stackFigure, requestsFigure(bs));
    const bareCap = capacityFigure(bsC);
    const bareCapRatio = ratioOf(sCap, bareCap);
    const peerCap = capacityFigure(psC);
    const peerCapRatio = ratioOf(sCap, peerCap);
    const flatBareRatio = ratioOf(flatFigure, requestsFigure(bf));
    const flatBareCapRatio = ratioOf(fCap, capacityFigure(bfC));
    const cpu = (r: LoadReport) => `${Math.round(r.serverCpuPercent ?? 0)}%`;
    const x = (r: number | null) => (r === null ? 'n/a' : `${r.toFixed(2)}×`);
    return [
      {
        name: `stacks: resolve of a stack of ${COMPONENTS} vs bare uWS, same bytes`,
        subject: stackFigure,
        baselineName: `bare uWS, the stack's ${stackBody}-byte answer`,
        baseline: requestsFigure(bs),
        ratio: bareRatio,
        target: `≥ ${RESOLVE_TARGET}×`,
        pass: bareRatio === null ? null : !bareProblems && bareRatio >= RESOLVE_TARGET,
        note: `the resolve target's yardstick with the stack's own status line, headers and body; the flat answer against its own bare app in the same run: ${x(flatBareRatio)} (per CPU-second ${x(flatBareCapRatio)}); p99 ${s.p99Ms.toFixed(3)} vs ${bs.p99Ms.toFixed(3)} ms${bareProblems ? `; invalid: ${bareProblems}` : ''}`,
      },
      {
        name: `stacks: resolve of a stack of ${COMPONENTS} vs bare uWS, server efficiency`,
        subject: sCap,
        baselineName: `bare uWS, the stack's ${stackBody}-byte answer`,
        baseline: bareCap,
        ratio: bareCapRatio,
        target: `≥ ${RESOLVE_TARGET}×`,
        pass: bareCapRatio === null ? null : bareCapRatio >= RESOLVE_TARGET,
        note: `server CPU ${cpu(sC)} vs ${cpu(bsC)} of a core; the flat answer against its bare app: ${x(flatBareCapRatio)}`,
      },
      {
        name: `stacks: resolve of a stack of ${COMPONENTS} vs a peer-reading bare uWS, server efficiency`,
        subject: sCap,
        baselineName: `bare uWS, the stack's ${stackBody}-byte answer, reading each peer address`,
        baseline: peerCap,
        ratio: peerCapRatio,
        target: `≥ ${RESOLVE_TARGET}×`,
        pass: peerCapRatio === null ? null : peerCapRatio >= RESOLVE_TARGET,
        note: `counting a caller without a deployment header reads the peer address (src/http/peer-address.ts); the bare app pays for that read ${x(ratioOf(peerCap, bareCap))} of its efficiency without it; server CPU ${cpu(sC)} vs ${cpu(psC)} of a core`,
      },
      {
        name: `stacks: resolve of a stack of ${COMPONENTS}, ${CONNECTIONS} conn`,
        subject: stackFigure,
        baselineName: 'flat version, same service',
        baseline: flatFigure,
        ratio,
        target: '≥ 0.9×',
        pass: ratio === null ? null : !problems && ratio >= 0.9,
        note: `answers ${stackBody} vs ${flatBody} bytes; p99 ${s.p99Ms.toFixed(3)} vs ${f.p99Ms.toFixed(3)} ms${problems ? `; invalid: ${problems}` : ''}`,
      },
      {
        name: `stacks: resolve of a stack of ${COMPONENTS} vs the same bytes flat`,
        subject: requestsFigure(s),
        baselineName: `flat version of ${stackFiles(stackAnswer)} files, same service`,
        baseline: wideFigure,
        ratio: wideRatio,
        target: 'record',
        pass: null,
        note: `answers ${stackBody} vs ${wideBody} bytes (the flat version's files are the stack's closure as pull lays it out, paths padded to the same answer size): near 1× means the stack costs what its bytes cost; per second of server CPU ${wideCapRatio === null ? 'n/a' : `${wideCapRatio.toFixed(2)}×`}; p99 ${s.p99Ms.toFixed(3)} vs ${w.p99Ms.toFixed(3)} ms${wideProblems ? `; invalid: ${wideProblems}` : ''}`,
      },
      {
        name: `stacks: resolve of a stack of ${COMPONENTS}, latency`,
        subject: p99Figure(s),
        baselineName: 'flat version, same service',
        baseline: p99Figure(f),
        ratio: null,
        target: 'p99 ≤ 2 ms',
        pass: !problems && s.p99Ms <= 2,
      },
      {
        name: `stacks: resolve of a stack of ${COMPONENTS}, server efficiency`,
        subject: sCap,
        baselineName: 'flat version, same service',
        baseline: fCap,
        ratio: capRatio,
        target: '≥ 0.9×',
        pass: capRatio === null ? null : capRatio >= 0.9,
      },
      {
        name: `stacks: impact query, ${reg.registered + COMPONENTS + 2} versions`,
        subject: big,
        baselineName: `same query, ${COMPONENTS + 2} versions`,
        baseline: small,
        ratio: impactRatio,
        target: `p99 ≤ ${IMPACT_P99_TARGET_MS} ms`,
        pass: big.value <= IMPACT_P99_TARGET_MS,
        note: `GET /v1/impact?target=${target} answered ${big.answer} versions; ${IMPACT_QUERIES} queries one after another on one keep-alive connection, p50 ${(big.detail!.p50Ms as number).toFixed(3)} vs ${(small.detail!.p50Ms as number).toFixed(3)} ms${reg.registered < VERSIONS ? `; registration stopped at ${REGISTER_SECONDS} s` : ''}`,
      },
    ];
  } finally {
    api.close();
    for (const stop of stops.reverse()) await stop();
    await service.stop();
  }
}

interface Answer {
  files: FileEntry[];
  components?: Record<string, Answer>;
}

/** A stack answer's files as pull lays them out: its own, then `<component>/<path>`, nested alike. */
function closureOf(answer: Answer, prefix = ''): FileEntry[] {
  const out = answer.files.map((f) => ({ ...f, path: `${prefix}${f.path}` }));
  for (const [slot, inner] of Object.entries(answer.components ?? {})) out.push(...closureOf(inner, `${prefix}${slot}/`));
  return out;
}

function stackFiles(stackAnswer: Buffer): number {
  return closureOf(JSON.parse(stackAnswer.toString('utf8')) as Answer).length;
}

/**
 * Registers `bench/wide`, a flat version whose files are the stack's closure (the same blobs,
 * paths as pull lays them out), behind alias `live`, with its paths padded so that its resolve
 * answer is as long as the stack's: v1 is measured, and v2 pads the difference over its paths
 * (the answer differs from v1 only in path lengths and the version number, of equal length).
 * Returns the answer's length.
 */
async function registerEqualBytes(api: Api, stackAnswer: Buffer): Promise<number> {
  const files = closureOf(JSON.parse(stackAnswer.toString('utf8')) as Answer);
  await registerWithAlias(api, 'bench/wide', files, 'live');
  const first = (await api.request('GET', WIDE)).body.length;
  const missing = stackAnswer.length - first;
  if (missing <= 0) return first;
  // `<pad>/` before each path: (pad + 1) more characters each, spread so the total is `missing`.
  const extra = files.map((_, i) => Math.floor(missing / files.length) + (i < missing % files.length ? 1 : 0));
  const padded = files.map((f, i) => (extra[i]! > 1 ? { ...f, path: `${'p'.repeat(extra[i]! - 1)}/${f.path}` } : f));
  const short = extra.reduce((sum, e) => sum + (e === 1 ? 1 : 0), 0);
  if (short > 0) padded[0] = { ...padded[0]!, path: `${'p'.repeat(extra[0]! - 1 + short)}/${files[0]!.path}` };
  await registerWithAlias(api, 'bench/wide', padded, 'live');
  return (await api.request('GET', WIDE)).body.length;
}

export const stacksScenario: Scenario = {
  name: 'stacks',
  description: `GET /v1/resolve of a stack of ${COMPONENTS} components vs a flat version and vs bare uWebSockets.js answering the same bytes (same run); impact query latency with ${VERSIONS} versions registered`,
  notes:
    'The stack answer carries its whole closure (every component with its files) and is rendered once after the model last changed, like a flat one; the ratio is of the same service answering both paths, alternating. The bare uWS rows hold the stack to the resolve target with its own bytes: a bare app answering its exact response, in the same alternation. The impact query reads the component → stacks and alias indexes kept at commit time, so its latency should not grow with the number of versions.',
  run,
};
