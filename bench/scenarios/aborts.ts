// `aborts`: the service's resident memory after thousands of aborted uploads. Clients declare a
// 64 MiB body on POST /v1/blobs, send 2 MiB of it and disconnect, BENCH_ABORTS_PARALLEL at a time.
// The figure is the RSS once the service has settled (no upload in flight, then a few idle
// seconds), beside its RSS before the campaign in the same run: what aborted uploads leave behind.
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { residentBytes } from '../lib/memory.js';
import { startService } from '../lib/service.js';
import type { Comparison, Scenario, ScenarioContext } from './scenario.js';

const COUNT = Number(process.env.BENCH_ABORTS ?? 2000);
const PARALLEL = Number(process.env.BENCH_ABORTS_PARALLEL ?? 16);
const SEND_MIB = Number(process.env.BENCH_ABORTS_SEND_MIB ?? 2);
/** What aborted uploads may leave behind: the upload buffer pool (128 MiB) and some slack. */
const LIMIT_GROWTH_BYTES = 256e6;

/** One upload that sends SEND_MIB of a declared 64 MiB and disconnects; resolves when the socket is gone. */
function abortedUpload(port: number, token: string, chunk: Buffer): Promise<void> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => resolve());
    socket.on('close', () => resolve());
    const digest = `sha256:${randomBytes(32).toString('hex')}`;
    socket.write(
      `POST /v1/blobs?digest=${digest} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer ${token}\r\nContent-Length: ${64 * 1024 * 1024}\r\n\r\n`,
    );
    let sent = 0;
    const pump = (): void => {
      while (sent < SEND_MIB * 1024 * 1024) {
        sent += chunk.length;
        if (!socket.write(chunk)) {
          socket.once('drain', pump);
          return;
        }
      }
      socket.destroy();
    };
    pump();
  });
}

async function uploadsInFlight(baseUrl: string): Promise<number> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  return Number(/^modelgate_transfers_in_flight\{direction="upload"\} (\d+)/m.exec(text)?.[1] ?? 0);
}

/** The service's memory by kind and its upload buffer pool, from /metrics (MB and buffer counts). */
async function memoryBreakdown(baseUrl: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^modelgate_memory_bytes\{kind="(\w+)"\} (\S+)$/gm)) out[`${m[1]}MB`] = Math.round(Number(m[2]) / 1e6);
  for (const m of text.matchAll(/^modelgate_ingest_buffers\{state="(\w+)"\} (\S+)$/gm)) out[`buffers_${m[1]}`] = Number(m[2]);
  return out;
}

async function run(ctx: ScenarioContext): Promise<Comparison[]> {
  const service = await startService({ workDir: ctx.workDir, name: 'aborts' });
  try {
    const before = residentBytes(service.pid).rss;
    const memoryBefore = await memoryBreakdown(service.baseUrl);
    const chunk = randomBytes(256 * 1024);
    ctx.log(`  ${COUNT} uploads sending ${SEND_MIB} MiB of 64 MiB then disconnecting, ${PARALLEL} at a time`);
    const started = performance.now();
    let next = 0;
    let peak = before;
    const worker = async (): Promise<void> => {
      while (next < COUNT) {
        next++;
        await abortedUpload(service.port, service.token, chunk);
        peak = Math.max(peak, residentBytes(service.pid).rss);
      }
    };
    await Promise.all(Array.from({ length: PARALLEL }, worker));
    // Settled: nothing in flight for a while, then a few idle seconds.
    let quiet = 0;
    while (quiet < 3) {
      await sleep(1000);
      quiet = (await uploadsInFlight(service.baseUrl)) === 0 ? quiet + 1 : 0;
      peak = Math.max(peak, residentBytes(service.pid).rss);
    }
    await sleep(5000);
    const after = residentBytes(service.pid).rss;
    const memoryAfter = await memoryBreakdown(service.baseUrl);
    ctx.log(`  memory before ${JSON.stringify(memoryBefore)}`);
    ctx.log(`  memory after  ${JSON.stringify(memoryAfter)}`);
    const seconds = (performance.now() - started) / 1000;
    ctx.log(
      `  RSS ${(before / 1e6).toFixed(0)} MB before, ${(after / 1e6).toFixed(0)} MB after (peak ${(peak / 1e6).toFixed(0)} MB), ${seconds.toFixed(0)} s`,
    );
    return [
      {
        name: `aborts: ${COUNT} aborted uploads`,
        subject: {
          value: after / 1e6,
          unit: 'MB RSS after',
          loadCpuPercent: null,
          detail: { rssBeforeBytes: before, rssAfterBytes: after, peakRssBytes: peak, seconds, memoryBefore, memoryAfter },
        },
        baselineName: 'the same service before the aborts',
        baseline: { value: before / 1e6, unit: 'MB RSS before', loadCpuPercent: null },
        ratio: null,
        target: `≤ before + ${LIMIT_GROWTH_BYTES / 1e6} MB`,
        pass: after - before <= LIMIT_GROWTH_BYTES,
        note: `each upload declares 64 MiB, sends ${SEND_MIB} MiB and disconnects; ${PARALLEL} clients; peak RSS ${(peak / 1e6).toFixed(0)} MB; measured once no upload was in flight and 5 s later`,
      },
    ];
  } finally {
    await service.stop();
  }
}

export const abortsScenario: Scenario = {
  name: 'aborts',
  description: `RSS of the service before and after ${COUNT} aborted uploads (${SEND_MIB} MiB each of a declared 64 MiB)`,
  notes:
    'An aborted upload must give back everything it held: its file, its buffers (shared with the hashing threads) and its place in the hash queue; the bound is the upload buffer pool (128 MiB) plus slack. On 2026-12-05, on the loaded shared machine, three runs after the fix (commit "Aborted uploads no longer pin memory") left 722, 269 and 701 MB (114–120 MB before), so the target is met only sometimes: how much stays depends on how far the hashing threads fell behind, and the RSS above the pool that stays once they have caught up is not explained yet (the JS heaps are small; candidates are freed 1 MiB blocks glibc keeps in the main heap, and pool overflow buffers that stay allocated until a hashing thread collects its heap). Before the fix the same campaign, run by hand, left about 2 GB (118 MB before). The scenario now logs the service\'s memory by kind from /metrics (modelgate_memory_bytes, modelgate_ingest_buffers): a run of 1000 aborts on 2026-12-05 (loaded machine, load average 10–14) left RSS 286 MB (111 before, pass), the JS heap 37 MB (32 before) and external 20 MB, but array_buffers 457 MB (17 before) with 128 buffers idle in the pool and 729 allocated over the campaign: buffers the pool dropped when it was full (after a peak) stay allocated, shared with a hashing thread, until both threads collect, and the next peak allocates fresh ones. What held memory was therefore pool overflow during peaks, not the heap, file handles or LMDB. Since then at most 128 shared buffers are ever allocated (bytes beyond wait in ordinary memory, their upload paused) and no hash task waits in a queue (a queued task held the buffers of its upload while the uploads holding the threads were paused by them: 2000 aborts 64 at a time stalled for good). 2026-12-06, loaded machine (load average ~20), BENCH_ABORTS=2000 BENCH_ABORTS_PARALLEL=64, one run each: before, RSS 116 -> 523 MB (fail), array_buffers 628 MB, 1320 buffers allocated; after, 113 -> 298 MB (pass), array_buffers 152 MB, 128 allocated.',
  run,
};
