// `download`: GB/s for one stream of a whole 1 GiB file and for 32 concurrent ranged streams,
// modelgate's file route against nginx with sendfile serving the same bytes from the same disk.
import { basename, join } from 'node:path';
import { Api } from '../lib/api.js';
import { runDownload, type DownloadReport } from '../lib/download.js';
import type { DownloadJob } from '../lib/download-protocol.js';
import { throughputFigure } from '../lib/figures.js';
import { registerWithAlias } from '../lib/fixtures.js';
import { findNginx, NGINX_MISSING, NGINX_WORKERS, startNginx, type NginxServer } from '../lib/nginx.js';
import { alternate, medianBy } from '../lib/rounds.js';
import { startService } from '../lib/service.js';
import { ensureRandomFile, linkInto } from '../lib/workfile.js';
import { ratioOf, type Comparison, type Scenario, type ScenarioContext } from './scenario.js';

const MIB = Number(process.env.BENCH_DOWNLOAD_MIB ?? 1024);
const WHOLE_ROUNDS = Number(process.env.BENCH_DOWNLOAD_ROUNDS ?? 5);
const STREAMS = Number(process.env.BENCH_STREAMS ?? 32);
const CLIENT = process.env.BENCH_DOWNLOAD_CLIENT === 'node' ? 'node' : 'curl';
const MODEL = 'bench/download';
const FILE = 'model.safetensors';
/** DESIGN.md's download target, one stream and 32 ranges alike: at least nginx sendfile on the same file. */
const DOWNLOAD_TARGET = 1.0;

function row(name: string, subject: DownloadReport, baseline: DownloadReport | null): Comparison {
  const s = throughputFigure(subject);
  const b = baseline ? throughputFigure(baseline) : null;
  const ratio = ratioOf(s, b);
  const cpu = `server CPU ${Math.round(subject.serverCpuPercent)}%${baseline ? ` vs ${Math.round(baseline.serverCpuPercent)}%` : ''} of a core`;
  return {
    name,
    subject: s,
    baselineName: `nginx sendfile (${NGINX_WORKERS} worker)`,
    baseline: b,
    ratio,
    target: `≥ ${DOWNLOAD_TARGET}×`,
    pass: ratio === null ? null : ratio >= DOWNLOAD_TARGET,
    note: baseline ? `${subject.client}; ${cpu}` : `${NGINX_MISSING}; ${subject.client}; ${cpu}`,
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

    const headers = { authorization: api.authHeader };
    const mgTarget = { port: service.port, path: `/v1/models/${MODEL}@production/files/${FILE}`, headers, size: file.size };
    const ngTarget = nginx ? { port: nginx.port, path: `/${basename(file.path)}`, headers, size: file.size } : null;
    const job = (target: typeof mgTarget, mode: DownloadJob['mode'], rounds: number): DownloadJob => ({
      ...target,
      client: CLIENT,
      mode,
      rounds,
      streams: mode === 'whole' ? 1 : STREAMS,
      durationSeconds: ctx.durationSeconds,
    });

    // One unmeasured pass each, so both files sit in the page cache before anything is timed.
    await runDownload(job(mgTarget, 'whole', 1), service.pid);
    if (ngTarget) await runDownload(job(ngTarget, 'whole', 1), nginx!.pid);

    ctx.log(`  one stream, whole file, ${WHOLE_ROUNDS} rounds each (median)`);
    const [mgWhole, ngWhole] = await alternate([
      () => runDownload(job(mgTarget, 'whole', WHOLE_ROUNDS), service.pid),
      ...(ngTarget ? [() => runDownload(job(ngTarget, 'whole', WHOLE_ROUNDS), nginx!.pid)] : []),
    ]);
    ctx.log(`  ${STREAMS} concurrent ranged streams, ${ctx.durationSeconds} s each`);
    const [mgRanges, ngRanges] = await alternate([
      () => runDownload(job(mgTarget, 'ranges', 0), service.pid),
      ...(ngTarget ? [() => runDownload(job(ngTarget, 'ranges', 0), nginx!.pid)] : []),
    ]);
    const gb = (r: DownloadReport) => r.gbPerSecond;
    return [
      row(`download: 1 stream, ${MIB} MiB`, medianBy(mgWhole!, gb), ngWhole ? medianBy(ngWhole, gb) : null),
      row(`download: ${STREAMS} ranged streams`, medianBy(mgRanges!, gb), ngRanges ? medianBy(ngRanges, gb) : null),
    ];
  } finally {
    api.close();
    for (const stop of stops.reverse()) await stop();
  }
}

export const downloadScenario: Scenario = {
  name: 'download',
  description: `GB/s (10^9 bytes/s) fetching a ${MIB} MiB file: one whole-file stream and ${STREAMS} concurrent ranged streams, vs nginx sendfile on the same bytes`,
  run,
};
