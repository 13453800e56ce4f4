// `memory`: the service's peak resident memory while 200 clients download a multi-GiB file at
// once, each reading slowly so all 200 stay open under backpressure for the whole phase.
import { basename, join } from 'node:path';
import { Api } from '../lib/api.js';
import { registerWithAlias } from '../lib/fixtures.js';
import { residentBytes } from '../lib/memory.js';
import { findNginx, NGINX_MISSING, NGINX_WORKERS, startNginx, type NginxServer } from '../lib/nginx.js';
import { startService } from '../lib/service.js';
import { runSlowReaders, type SlowReadReport } from '../lib/slow-reader.js';
import type { SlowReadJob } from '../lib/slow-reader-protocol.js';
import { ensureRandomFile, linkInto } from '../lib/workfile.js';
import type { Comparison, Figure, Scenario, ScenarioContext } from './scenario.js';

const MIB = Number(process.env.BENCH_MEMORY_MIB ?? 2048);
const CONNECTIONS = Number(process.env.BENCH_MEMORY_CONNECTIONS ?? 200);
/** Per connection; 200 × 2 MB/s keeps the client light and every download far from its end. */
const BYTES_PER_SECOND = Number(process.env.BENCH_MEMORY_RATE ?? 2_000_000);
const LIMIT_BYTES = 300e6;
const MODEL = 'bench/big';
const FILE = 'model.safetensors';

function figure(report: SlowReadReport, extra: Record<string, unknown> = {}): Figure {
  return {
    value: report.peakRssBytes / 1e6,
    unit: 'MB peak RSS',
    loadCpuPercent: report.loadCpuPercent,
    detail: {
      peakRssBytes: report.peakRssBytes,
      peakRssAllOpenBytes: report.peakRssAllOpenBytes,
      opened: report.opened,
      openAtEnd: report.openAtEnd,
      bytesRead: report.bytes,
      seconds: report.seconds,
      samples: report.samples,
      ...extra,
    },
  };
}

async function run(ctx: ScenarioContext): Promise<Comparison[]> {
  const file = ensureRandomFile(ctx.workDir, `memory-${MIB}m.bin`, MIB, ctx.log);

  // Setup (upload, register) in one service process, then measure a fresh one on the same data,
  // so its VmHWM covers the downloads and not the upload.
  const setup = await startService({ workDir: ctx.workDir, name: 'memory' });
  try {
    const api = new Api(setup.port, setup.token);
    ctx.log(`  uploading ${MIB} MiB and registering ${MODEL}`);
    await api.uploadFile(file.path, file.size, file.sha256);
    await registerWithAlias(api, MODEL, [{ path: FILE, size: file.size, digest: `sha256:${file.sha256}` }], 'production');
    api.close();
  } catch (err) {
    await setup.stop();
    throw err;
  }
  await setup.stop({ keepData: true });
  const service = await startService({ workDir: ctx.workDir, name: 'memory', reuse: { dataDir: setup.dataDir, token: setup.token } });
  let nginx: NginxServer | null = null;
  try {
    const job = (port: number, path: string): SlowReadJob => ({
      port,
      path,
      headers: { authorization: `Bearer ${service.token}` },
      size: file.size,
      connections: CONNECTIONS,
      bytesPerSecond: BYTES_PER_SECOND,
      holdSeconds: ctx.durationSeconds,
    });
    ctx.log(`  ${CONNECTIONS} downloads at ${BYTES_PER_SECOND / 1e6} MB/s each, held ${ctx.durationSeconds} s; RSS sampled every 100 ms`);
    const startRss = residentBytes(service.pid).rss;
    const mg = await runSlowReaders(job(service.port, `/v1/models/${MODEL}@production/files/${FILE}`), service.pid);
    const hwm = residentBytes(service.pid).hwm;
    ctx.log(
      `  modelgate: peak RSS ${(mg.peakRssBytes / 1e6).toFixed(0)} MB (VmHWM ${(hwm / 1e6).toFixed(0)} MB), ${mg.openAtEnd}/${mg.opened} open at the end`,
    );

    let ng: SlowReadReport | null = null;
    if (findNginx()) {
      const root = join(ctx.workDir, 'www-memory');
      linkInto(root, file);
      nginx = await startNginx({ name: 'memory', root, workDir: ctx.workDir, probePath: '/none' });
      ng = await runSlowReaders(job(nginx.port, `/${basename(file.path)}`), nginx.pid);
      ctx.log(
        `  nginx: peak RSS ${(ng.peakRssBytes / 1e6).toFixed(0)} MB (master and workers), ${ng.openAtEnd}/${ng.opened} open at the end`,
      );
    } else {
      ctx.log(`  ${NGINX_MISSING}`);
    }

    const allHeld = mg.openAtEnd === CONNECTIONS;
    return [
      {
        name: `memory: ${CONNECTIONS} downloads of ${MIB} MiB`,
        subject: figure(mg, { vmHwmBytes: hwm, rssBeforeBytes: startRss }),
        baselineName: ng ? `nginx sendfile (${NGINX_WORKERS} worker), for scale` : 'nginx',
        baseline: ng ? figure(ng) : null,
        ratio: null,
        target: '< 300 MB',
        pass: allHeld && mg.peakRssBytes < LIMIT_BYTES && hwm < LIMIT_BYTES,
        note: [
          `RSS ${(startRss / 1e6).toFixed(0)} MB before the downloads, VmHWM ${(hwm / 1e6).toFixed(0)} MB after; ${mg.openAtEnd}/${CONNECTIONS} downloads still open at the end; node:http readers paced with pause()/resume()`,
          allHeld ? '' : 'the service closed some downloads early',
          ng ? '' : NGINX_MISSING,
        ]
          .filter(Boolean)
          .join('; '),
      },
    ];
  } finally {
    await nginx?.stop();
    await service.stop();
  }
}

export const memoryScenario: Scenario = {
  name: 'memory',
  description: `peak RSS of the service (VmRSS sampled, VmHWM) with ${CONNECTIONS} concurrent slow downloads of a ${MIB} MiB file`,
  run,
};
