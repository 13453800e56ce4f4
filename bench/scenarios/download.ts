// `download`: GB/s for one stream of a whole 1 GiB file and for 32 concurrent ranged streams,
// modelgate's file route against nginx with sendfile serving the same bytes from the same disk, and
// beside both bare uWS apps that copy the same bytes into the socket (from memory, from a mapping
// of the file): what a uWS edge without sendfile reaches here.
import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fsBlobPath } from '../../src/blobs/fs-blob-store.js';
import { Api } from '../lib/api.js';
import { runDownload, type DownloadReport } from '../lib/download.js';
import type { DownloadJob } from '../lib/download-protocol.js';
import { capacityFigure, requestsFigure, throughputFigure } from '../lib/figures.js';
import { runLoad, WARMUP_SECONDS, type LoadReport } from '../lib/load.js';
import { registerWithAlias } from '../lib/fixtures.js';
import { findNginx, NGINX_MISSING, NGINX_WORKERS, startNginx, type NginxServer } from '../lib/nginx.js';
import { recache } from '../lib/page-cache.js';
import { alternate, inTurns, medianBy } from '../lib/rounds.js';
import { startService } from '../lib/service.js';
import { constantResponseFrom, startUwsFileFromMemory, startUwsFileMapped } from '../lib/uws-baseline.js';
import { ensureRandomFile, linkInto } from '../lib/workfile.js';
import { probeResolve, type ProbeOutcome } from '../lib/resolve-probe.js';
import { ratioOf, type Comparison, type Figure, type Scenario, type ScenarioContext } from './scenario.js';

const MAPPED_ADDON = fileURLToPath(new URL('../../native/mapped-range.node', import.meta.url));
const MIB = Number(process.env.BENCH_DOWNLOAD_MIB ?? 1024);
/**
 * One whole-file round takes half a second here, and the same server's rounds in one run ranged
 * from 1.88 to 2.75 GB/s (15 rounds each, 09:41 UTC 2026-12-07): five rounds' medians put one
 * stream at 0.84× nginx in one full run and 1.10× in the one before; fifteen cost ten seconds more.
 */
const WHOLE_ROUNDS = Number(process.env.BENCH_DOWNLOAD_ROUNDS ?? 15);
/**
 * The ranged phases' rounds, each server in turns. With BENCH_ROUNDS' three, the median round put
 * the 32 streams at 0.94× nginx in one full run (15:50 UTC 2026-12-07) and at 1.01–1.06× in the
 * five download runs before it, on the same build; five rounds cost 80 seconds more.
 */
const RANGE_ROUNDS = Math.max(1, Number(process.env.BENCH_RANGE_ROUNDS ?? 5));
/**
 * Small ranged reads of the file, as a loader reading a safetensors header does before the
 * tensors: wrk, this many connections, each request one range of SMALL_RANGE_BYTES.
 */
const SMALL_RANGE_BYTES = 4096;
const SMALL_RANGE_CONNECTIONS = 16;
/** A client this busy is at its core's limit: it, not the server, sets the rate. */
const CLIENT_FULL_PERCENT = 90;
const STREAMS = Number(process.env.BENCH_STREAMS ?? 32);
const CLIENT = process.env.BENCH_DOWNLOAD_CLIENT === 'node' ? 'node' : 'curl';
const MODEL = 'bench/download';
const FILE = 'model.safetensors';
const RESOLVE_PATH = `/v1/resolve/${MODEL}@production`;
/** DESIGN.md's download target, one stream and 32 ranges alike: at least nginx sendfile on the same file. */
const DOWNLOAD_TARGET = 1.0;
/** A resolve while the ranged streams run: the uploads row's target (resolve p99 ≤ 5 ms while two uploads run). */
const RESOLVE_P99_TARGET_MS = 5;
/** How often the probe asks (one connection): light enough not to take CPU from the downloads. */
const PROBE_INTERVAL_MS = 2;

/** Server CPU-seconds per GB (10^9 bytes) sent: what decides the figure when clients and server share 2 cores. */
function cpuPerGb(r: DownloadReport): number {
  return r.gbPerSecond > 0 ? r.serverCpuPercent / 100 / r.gbPerSecond : 0;
}

function cpuNote(r: DownloadReport): string {
  return `${Math.round(r.serverCpuPercent)}% of a core, ${cpuPerGb(r).toFixed(2)} CPU-s/GB`;
}

function row(name: string, subject: DownloadReport, baseline: DownloadReport | null, ceiling: DownloadReport | null): Comparison {
  const s = throughputFigure(subject);
  const b = baseline ? throughputFigure(baseline) : null;
  const ratio = ratioOf(s, b);
  const cpu = `server CPU ${cpuNote(subject)}${baseline ? ` vs nginx ${cpuNote(baseline)}` : ''}`;
  const client = subject.roundLoadCpuPercent && baseline?.roundLoadCpuPercent ? clientNote(subject, baseline) : '';
  const toCeiling = ceiling
    ? `; ${(subject.gbPerSecond / ceiling.gbPerSecond).toFixed(2)}× a bare uWS app copying from memory (${ceiling.gbPerSecond.toFixed(2)} GB/s, ${cpuNote(ceiling)})`
    : '';
  return {
    name,
    subject: s,
    baselineName: `nginx sendfile (${NGINX_WORKERS} worker)`,
    baseline: b,
    ratio,
    target: `≥ ${DOWNLOAD_TARGET}×`,
    pass: ratio === null ? null : ratio >= DOWNLOAD_TARGET,
    note: `${baseline ? '' : `${NGINX_MISSING}; `}${subject.client}; ${cpu}${toCeiling}${client}`,
  };
}

/** The client's CPU in every round against each server: at a full core it sets the rate for both. */
function clientNote(subject: DownloadReport, nginx: DownloadReport): string {
  const middle = (values: number[]) => medianBy(values, (v) => v);
  const range = (values: number[]) => `${Math.round(Math.min(...values))}–${Math.round(Math.max(...values))}%`;
  const mine = subject.roundLoadCpuPercent!;
  const theirs = nginx.roundLoadCpuPercent!;
  const full = middle(mine) >= CLIENT_FULL_PERCENT && middle(theirs) >= CLIENT_FULL_PERCENT;
  return `; the client's CPU a round: ${range(mine)} of a core (median ${Math.round(middle(mine))}%) against modelgate, ${range(theirs)} (median ${Math.round(middle(theirs))}%) against nginx${full ? ': at a full core either way, the client sets the rate' : ''}`;
}

/** A small-range row: modelgate against nginx on the same ranges, no target (DESIGN.md sets none). */
function smallRangeRow(
  name: string,
  subject: LoadReport | null,
  nginx: LoadReport | null,
  figure: (report: LoadReport) => Figure | null,
): Comparison {
  const s = subject ? figure(subject) : null;
  const b = nginx ? figure(nginx) : null;
  return {
    name,
    subject: s,
    baselineName: `nginx (${NGINX_WORKERS} worker), same ranges`,
    baseline: b,
    ratio: ratioOf(s, b),
    target: 'recorded',
    pass: null,
    note: `wrk, ${SMALL_RANGE_CONNECTIONS} connections, each request \`Range: bytes=0-${SMALL_RANGE_BYTES - 1}\` of the 1 GiB file; the median round, the servers in turns${
      subject && nginx
        ? `; server CPU ${subject.serverCpuPercent?.toFixed(0)}% vs nginx ${nginx.serverCpuPercent?.toFixed(0)}% of a core, wrk ${subject.loadCpuPercent.toFixed(0)}% vs ${nginx.loadCpuPercent.toFixed(0)}%`
        : ''
    }`,
  };
}

/**
 * A bare uWS app against nginx: what a uWS edge that copies each byte into the socket reaches here
 * (modelgate's way before it sent with sendfile). Informational (no target).
 */
function ceilingRow(
  name: string,
  ceiling: DownloadReport,
  nginx: DownloadReport | null,
  what = 'bare uWS copying the file from memory into the socket (bench/baselines/uws-file-memory.ts), not modelgate',
): Comparison {
  const s = throughputFigure(ceiling);
  const b = nginx ? throughputFigure(nginx) : null;
  return {
    name,
    subject: s,
    baselineName: `nginx sendfile (${NGINX_WORKERS} worker)`,
    baseline: b,
    ratio: ratioOf(s, b),
    target: 'informational',
    pass: null,
    note: `${what}; server CPU ${cpuNote(ceiling)}${nginx ? ` vs nginx ${cpuNote(nginx)}` : ''}`,
  };
}

function probeFigure(p: ProbeOutcome): Figure {
  return { value: p.p99, unit: 'ms p99', loadCpuPercent: null, detail: { ...p } };
}

/**
 * Resolve p99 while the ranged streams run: what a download's slices make a resolve wait for.
 * `machine`: an idle process's p99 under the same streams (from nginx), where measured; above the
 * target, the target is beyond this machine under this load and the row says so.
 */
function resolveRow(busy: ProbeOutcome, idle: ProbeOutcome, downloads: DownloadReport, machine: ProbeOutcome | null): Comparison {
  const problems = busy.failures + idle.failures;
  return {
    name: `download: resolve p99 during ${STREAMS} ranged streams`,
    subject: probeFigure(busy),
    baselineName: 'same, no downloads',
    baseline: probeFigure(idle),
    ratio: null,
    target: `p99 ≤ ${RESOLVE_P99_TARGET_MS} ms`,
    pass: problems === 0 && busy.p99 <= RESOLVE_P99_TARGET_MS,
    note: [
      `one resolve every ${PROBE_INTERVAL_MS} ms on one connection; ${busy.count} answers, p50 ${busy.p50.toFixed(2)} ms, max ${busy.max.toFixed(1)} ms (idle: ${idle.count}, p50 ${idle.p50.toFixed(2)} ms)`,
      `the downloads meanwhile ${downloads.gbPerSecond.toFixed(2)} GB/s, server CPU ${cpuNote(downloads)}`,
      machine && machine.p99 > RESOLVE_P99_TARGET_MS
        ? `beyond this machine under this load: an idle bare uWS app answering the same resolve while nginx serves the same streams has p99 ${machine.p99.toFixed(2)} ms`
        : '',
      problems > 0 ? `invalid: ${problems} failed resolves` : '',
    ]
      .filter(Boolean)
      .join('; '),
  };
}

/** The machine's tail for the same load: the bare uWS app from memory answering resolves while it serves the streams. */
function resolveBareRow(busy: ProbeOutcome, bare: ProbeOutcome, bareDownloads: DownloadReport): Comparison {
  return {
    name: `download: resolve p99 during ${STREAMS} ranged streams vs bare uWS`,
    subject: probeFigure(busy),
    baselineName: 'bare uWS from memory, same streams',
    baseline: probeFigure(bare),
    ratio: null,
    target: 'for scale',
    pass: null,
    note: `bench/baselines/uws-file-memory.ts answering modelgate's resolve bytes in the loop that serves the ${STREAMS} streams (one tryEnd of the rest of the range per writable socket); ${bare.count} answers, p50 ${bare.p50.toFixed(2)} ms, max ${bare.max.toFixed(1)} ms; its downloads meanwhile ${bareDownloads.gbPerSecond.toFixed(2)} GB/s, server CPU ${cpuNote(bareDownloads)}${bare.failures > 0 ? `; invalid: ${bare.failures} failed resolves` : ''}`,
  };
}

async function run(ctx: ScenarioContext): Promise<Comparison[]> {
  const file = ensureRandomFile(ctx.workDir, `download-${MIB}m.bin`, MIB, ctx.log);
  const service = await startService({ workDir: ctx.workDir, name: 'download' });
  const stops: (() => Promise<void>)[] = [() => service.stop()];
  const api = new Api(service.port, service.token);
  try {
    ctx.log(`  uploading ${MIB} MiB to modelgate and registering ${MODEL}`);
    await api.uploadFile(file.path, file.size, file.sha256);
    await registerWithAlias(api, MODEL, [{ path: FILE, size: file.size, digest: `sha256:${file.sha256}` }], 'production');

    let nginx: NginxServer | null = null;
    if (findNginx()) {
      const root = join(ctx.workDir, 'www-download');
      linkInto(root, file);
      nginx = await startNginx({ name: 'download', root, workDir: ctx.workDir, probePath: `/${basename(file.path)}.none` });
      stops.push(() => nginx!.stop());
    } else {
      ctx.log(`  ${NGINX_MISSING}`);
    }

    // The uWS ceiling reads the whole file into its memory once, before anything is timed. It also
    // answers resolves with modelgate's bytes, for the resolve row's machine tail.
    const sample = await api.request('GET', RESOLVE_PATH);
    const uws = await startUwsFileFromMemory(file.path, constantResponseFrom(sample.status, sample.rawHeaders, sample.body));
    stops.push(() => uws.stop());
    // The file-backed floor: a bare uWS app mapping each request's whole range with modelgate's addon.
    const mappedFloor = existsSync(MAPPED_ADDON) ? await startUwsFileMapped(file.path) : null;
    if (mappedFloor) stops.push(() => mappedFloor.stop());
    else ctx.log('  no dist/native/mapped-range.node: the file-backed uWS floor is left out');

    const headers = { authorization: api.authHeader };
    const mgTarget = { port: service.port, path: `/v1/models/${MODEL}@production/files/${FILE}`, headers, size: file.size };
    const ngTarget = nginx ? { port: nginx.port, path: `/${basename(file.path)}`, headers, size: file.size } : null;
    const uwsTarget = { port: uws.port, path: `/${basename(file.path)}`, headers, size: file.size };
    const floorTarget = mappedFloor ? { ...uwsTarget, port: mappedFloor.port } : null;
    const job = (target: typeof mgTarget, mode: DownloadJob['mode'], rounds: number): DownloadJob => ({
      ...target,
      client: CLIENT,
      mode,
      rounds,
      streams: mode === 'whole' ? 1 : STREAMS,
      durationSeconds: ctx.durationSeconds,
    });

    // modelgate's copy of the file and the one nginx and the mapped floor serve, in the same
    // page-cache state (bench/lib/page-cache.ts): how each was written must not be what is measured.
    const storedCopy = fsBlobPath(service.dataDir, `sha256:${file.sha256}`);
    ctx.log(`  ${recache([storedCopy, file.path])}`);
    // One unmeasured pass each, so both files sit in the page cache before anything is timed.
    await runDownload(job(mgTarget, 'whole', 1), service.pid);
    if (ngTarget) await runDownload(job(ngTarget, 'whole', 1), nginx!.pid);
    await runDownload(job(uwsTarget, 'whole', 1), uws.pid);
    if (floorTarget) await runDownload(job(floorTarget, 'whole', 1), mappedFloor!.pid);

    ctx.log(`  one stream, whole file, ${WHOLE_ROUNDS} rounds each in turns (median)`);
    // One round of each server per turn, each turn starting with the next: five rounds of one
    // server in a row all met whatever the machine was doing then (in a full run, the memory the
    // previous scenario had just freed), and the others did not.
    const wholeTurns = await inTurns(
      [
        () => runDownload(job(mgTarget, 'whole', 1), service.pid),
        () => runDownload(job(uwsTarget, 'whole', 1), uws.pid),
        ...(ngTarget ? [() => runDownload(job(ngTarget, 'whole', 1), nginx!.pid)] : []),
      ],
      WHOLE_ROUNDS,
    );
    const [mgWhole, uwsWhole, ngWhole] = wholeTurns.map(roundsAsOne);
    ctx.log(`  ${STREAMS} concurrent ranged streams, ${ctx.durationSeconds} s each, ${RANGE_ROUNDS} rounds in turns (median)`);
    const rangePhases = await inTurns(
      [
        () => runDownload(job(mgTarget, 'ranges', 0), service.pid),
        () => runDownload(job(uwsTarget, 'ranges', 0), uws.pid),
        ...(ngTarget ? [() => runDownload(job(ngTarget, 'ranges', 0), nginx!.pid)] : []),
        ...(floorTarget ? [() => runDownload(job(floorTarget, 'ranges', 0), mappedFloor!.pid)] : []),
      ],
      RANGE_ROUNDS,
    );
    const [mgRanges, uwsRanges] = rangePhases;
    const ngRanges = ngTarget ? rangePhases[2] : undefined;
    const floorRanges = floorTarget ? rangePhases[ngTarget ? 3 : 2] : undefined;
    // Small ranges: what each request costs the server, beside nginx answering the same ranges.
    ctx.log(`  ${SMALL_RANGE_BYTES}-byte ranges, ${SMALL_RANGE_CONNECTIONS} connections, ${ctx.durationSeconds} s each in turns`);
    const smallRange = (target: typeof mgTarget) => ({
      url: `http://127.0.0.1:${target.port}${target.path}`,
      connections: SMALL_RANGE_CONNECTIONS,
      durationSeconds: ctx.durationSeconds,
      warmupSeconds: WARMUP_SECONDS,
      headers: { ...target.headers, range: `bytes=0-${SMALL_RANGE_BYTES - 1}` },
    });
    const smallPhases = await alternate([
      () => runLoad(smallRange(mgTarget), service.pid),
      ...(ngTarget ? [() => runLoad(smallRange(ngTarget), nginx!.pid)] : []),
    ]);
    const byRate = (reports: LoadReport[] | undefined) => (reports ? medianBy(reports, (r) => r.requestsPerSecond) : null);
    const byCapacity = (reports: LoadReport[] | undefined) => (reports ? medianBy(reports, (r) => capacityFigure(r)?.value ?? 0) : null);
    // Last, apart from the throughput phases (the probe's own CPU is not in their figures): resolve
    // latency with the service idle, while the ranged streams run against it, and the same for the
    // bare uWS app from memory answering the same resolve bytes in the loop that serves the streams.
    const probe = async (target: typeof mgTarget, pid: number): Promise<[ProbeOutcome, DownloadReport]> => {
      const downloads = runDownload(job(target, 'ranges', 0), pid);
      return [await probeResolve({ port: target.port, path: RESOLVE_PATH, headers }, PROBE_INTERVAL_MS, downloads), await downloads];
    };
    ctx.log(`  resolve every ${PROBE_INTERVAL_MS} ms: idle, then while ${STREAMS} ranged streams run (${ctx.durationSeconds} s each)`);
    const idleProbe = await probeResolve(
      { port: service.port, path: RESOLVE_PATH, headers },
      PROBE_INTERVAL_MS,
      sleep(ctx.durationSeconds * 1000),
    );
    const [busyProbe, probed] = await probe(mgTarget, service.pid);
    const [bareProbe, bareProbed] = await probe(uwsTarget, uws.pid);
    // The machine's own tail under the same load: the bare uWS app, serving nothing, answers the
    // same resolve while nginx (another process) serves the streams. No server answering in the
    // loop that serves them can wait less than an idle process beside them.
    const machine = ngTarget
      ? await probeResolve(
          { port: uws.port, path: RESOLVE_PATH, headers },
          PROBE_INTERVAL_MS,
          runDownload(job(ngTarget, 'ranges', 0), nginx!.pid),
        )
      : null;
    ctx.log(
      `  resolve p99 idle ${idleProbe.p99.toFixed(2)} ms, during downloads ${busyProbe.p99.toFixed(2)} ms, bare uWS app ${bareProbe.p99.toFixed(2)} ms` +
        (machine ? `, an idle bare uWS app while nginx serves the streams ${machine.p99.toFixed(2)} ms` : ''),
    );
    const gb = (r: DownloadReport) => r.gbPerSecond;
    // The median round, carrying every round's GB/s so the results show the spread.
    const median = (reports: DownloadReport[] | undefined) =>
      reports ? { ...medianBy(reports, gb), roundGbPerSecond: reports.map(gb) } : null;
    return [
      row(`download: 1 stream, ${MIB} MiB`, mgWhole!, ngWhole ?? null, uwsWhole ?? null),
      row(`download: ${STREAMS} ranged streams`, median(mgRanges)!, median(ngRanges), median(uwsRanges)),
      smallRangeRow(`download: ${SMALL_RANGE_BYTES}-byte ranges`, byRate(smallPhases[0]), byRate(smallPhases[1]), requestsFigure),
      smallRangeRow(
        `download: ${SMALL_RANGE_BYTES}-byte ranges, server CPU efficiency`,
        byCapacity(smallPhases[0]),
        byCapacity(smallPhases[1]),
        capacityFigure,
      ),
      ceilingRow(`download: ${STREAMS} ranged streams, uWS copying from memory`, median(uwsRanges)!, median(ngRanges)),
      ...(floorRanges
        ? [
            ceilingRow(
              `download: ${STREAMS} ranged streams, uWS copying from the mapped file`,
              median(floorRanges)!,
              median(ngRanges),
              'bare uWS copying each range into the socket from a mapping of the file (bench/baselines/uws-file-mapped.ts, with native/mapped-range.c), not modelgate',
            ),
          ]
        : []),
      resolveRow(busyProbe, idleProbe, probed, machine),
      resolveBareRow(busyProbe, bareProbe, bareProbed),
      ...(machine ? [resolveMachineRow(busyProbe, machine)] : []),
    ];
  } finally {
    api.close();
    for (const stop of stops.reverse()) await stop();
  }
}

/** The machine's tail under the same streams: an idle bare uWS process answering while nginx serves them. */
function resolveMachineRow(busy: ProbeOutcome, machine: ProbeOutcome): Comparison {
  return {
    name: `download: resolve p99 during ${STREAMS} ranged streams, the machine's floor`,
    subject: probeFigure(busy),
    baselineName: 'idle bare uWS app, streams from nginx',
    baseline: probeFigure(machine),
    ratio: null,
    target: 'informational',
    pass: null,
    note: `bench/baselines/uws-file-memory.ts serving nothing, answering modelgate's resolve bytes while nginx serves the ${STREAMS} streams: what a resolve waits for on this machine under this load in a process with nothing else to do; ${machine.count} answers, p50 ${machine.p50.toFixed(2)} ms, max ${machine.max.toFixed(1)} ms${machine.failures > 0 ? `; invalid: ${machine.failures} failed resolves` : ''}`,
  };
}

/** One report for a server's single-round whole-file reports: its median round, with every round's figure. */
function roundsAsOne(rounds: DownloadReport[]): DownloadReport {
  const middle = medianBy(rounds, (r) => r.gbPerSecond);
  return { ...middle, roundGbPerSecond: rounds.map((r) => r.gbPerSecond), roundLoadCpuPercent: rounds.map((r) => r.loadCpuPercent) };
}

export const downloadScenario: Scenario = {
  name: 'download',
  description: `GB/s (10^9 bytes/s) fetching a ${MIB} MiB file: one whole-file stream and ${STREAMS} concurrent ranged streams, vs nginx sendfile on the same bytes, beside a bare uWS app serving them from memory; requests per second of ${SMALL_RANGE_BYTES}-byte ranges vs nginx; resolve p99 while the ranged streams run`,
  notes:
    "modelgate sends bodies of 4 MiB or more (every request of the throughput phases; not the 4 KiB ranges) with sendfile(2) on the connection it takes from uWS (src/http/socket-send.ts), as nginx does: no byte is copied into user space or from it. The uWS rows are bare uWebSockets.js apps that copy each byte into the socket, the only way out of a uWS app without that: from memory (bench/baselines/uws-file-memory.ts, no reads, the fastest a copying uWS edge can be here) and from a mapping of the file (bench/baselines/uws-file-mapped.ts, how modelgate served these bodies before, and serves smaller ones and TLS now). With the curl processes on the same two cores, the server CPU per byte (each row's note: CPU-s per GB of every server, same turns) sets the figure. Before anything is timed, modelgate's stored copy and the file nginx serves are dropped from the page cache and read back the same way (bench/lib/page-cache.ts), so that both sit in folios of the same sizes: how each was written moved 32 ranged streams by up to a fifth.",
  run,
};
