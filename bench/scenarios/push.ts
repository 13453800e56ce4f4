// `push`: `modelgate push` of a one-file model against `curl -T` (chunked `POST /v1/blobs`, which
// the server verifies) of the same bytes to the same server in the same run, rounds in turn. Each
// command first changes the file's first 8 bytes, so every command stores a new blob (an unchanged
// file would be skipped by the CLI's HEAD check); the source is on tmpfs.
//
// Both commands meet the same server state. Writing 1 GiB of new page cache costs this guest about
// 2.8 s of system CPU, 0.35 s right after files of that size were deleted
// (bench/results/20261206T1330Z-push-profile.md), and the server's CPU is most of each command's
// wall time: whichever command ran right after a deletion (or first on a new server) was the cheap
// one. So before each timed command the blob the previous one stored is removed through the API
// (its version deleted, then a garbage collection with no grace period), outside the timing, and
// the order alternates by round (push first in odd rounds, curl first in even ones).
//
// A second row says what a push can reach here at all, as the pull scenario's floor does: the CPU
// curl -T and the server spent on each round's upload, plus sha256 of as many bytes (a push must
// know the digest of what it sends), spread over every core, and never less than curl -T's time.
// A third command runs in the same turns: curl -T with `openssl dgst -sha256` of the same file
// beside it, the plain tools' answer to "send the file and know its digest" (curl sends with the
// digest the bench computed, as in its own row; openssl pays the hash's CPU at the same time). It
// is the floor measured rather than computed, with both tools' real overlap on the two cores.
import { closeSync, copyFileSync, mkdirSync, openSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { Api } from '../lib/api.js';
import { sha256OfFile, throughputFigure, timeCommand, type TimedRun } from '../lib/cli-transfer.js';
import { processCpuSeconds } from '../lib/cpu.js';
import { floorOfRound, floorRows } from '../lib/floor.js';
import { sha256CpuSeconds } from '../lib/hashers.js';
import { CLI_BIN, startService } from '../lib/service.js';
import { findCurl, findOpenssl } from '../lib/upload-client.js';
import { ensureRandomFile } from '../lib/workfile.js';
import { ratioOf, type Comparison, type Scenario, type ScenarioContext } from './scenario.js';

const MIB = Number(process.env.BENCH_PUSH_MIB ?? 1024);
const ROUNDS = Number(process.env.BENCH_PUSH_ROUNDS ?? 5);
const TMPFS = process.env.BENCH_TMPFS ?? '/dev/shm';
/** DESIGN.md's push target: at least this share of curl -T's throughput. */
const TARGET = 0.8;
const MODEL = 'bench/push';

export const pushScenario: Scenario = {
  name: 'push',
  description: `modelgate push of ${MIB} MiB vs curl -T (chunked POST /v1/blobs) of the same bytes, source on ${TMPFS}`,
  notes:
    'Whole-process wall time of each command (start-up included), median round; the order rotates by round, and the ' +
    'blob the previous command stored is removed (version deleted, gc without grace) before each, so each writes where ' +
    '1 GiB was just freed (new page cache costs this guest 2.8 s system CPU per GiB, 0.35 s after a deletion). The CLI hashes the file, ' +
    'asks whether the server has it (HEAD), sends it in one streamed request and registers the version; curl sends ' +
    'the bytes with the digest the bench computed beforehand (outside the timing). The server verifies both. A third ' +
    'command, curl -T with `openssl dgst -sha256` of the same file running beside it, is what the plain tools take to send ' +
    'a file and know its digest.',
  async run(ctx: ScenarioContext): Promise<Comparison[]> {
    const curl = findCurl();
    if (!curl) throw new Error('push needs curl');
    const file = ensureRandomFile(ctx.workDir, `download-${MIB}m.bin`, MIB, ctx.log);
    // No grace period: the garbage collection between commands removes a blob stored a moment ago.
    const service = await startService({ workDir: ctx.workDir, name: 'push', env: { MODELGATE_GC_GRACE_SECONDS: '0' } });
    const source = join(TMPFS, `modelgate-bench-push-${process.pid}`);
    const model = join(source, 'model.bin');
    try {
      mkdirSync(source, { recursive: true });
      copyFileSync(file.path, model);
      let stamp = 0;
      /** A new first 8 bytes: a blob the server does not have yet. */
      const changeFile = () => {
        const fd = openSync(model, 'r+');
        const head = Buffer.alloc(8);
        head.writeBigUInt64BE(BigInt(Date.now()) * 1000n + BigInt(stamp++));
        writeSync(fd, head, 0, 8, 0);
        closeSync(fd);
      };
      const openssl = findOpenssl();
      if (!openssl) ctx.log('  no openssl: the row of curl -T with a hash beside it is left out');
      const cli: TimedRun[] = [];
      const baseline: TimedRun[] = [];
      const hashedBaseline: TimedRun[] = [];
      const floors: TimedRun[] = [];
      /** The server's CPU for each curl -T upload, and for each push. */
      const serverCpu: number[] = [];
      const pushServerCpu: number[] = [];
      /** Versions the CLI registered and not yet deleted. */
      const versions: number[] = [];
      const api = new Api(service.port, service.token);
      /** The blob the previous command stored goes, so every command writes where one was just freed. */
      const removeStored = async () => {
        for (const version of versions.splice(0)) {
          await api.expect(204, 'DELETE', `/v1/models/${encodeURIComponent(MODEL)}/versions/${version}`, {
            json: { reason: 'bench: the next command writes where this one was' },
          });
        }
        const report = JSON.parse((await api.expect(200, 'POST', '/v1/gc', { json: {} })).body.toString('utf8')) as {
          kept: Record<string, number>;
        };
        if (Object.values(report.kept).some((n) => n > 0))
          throw new Error(`gc kept blobs the bench meant to remove: ${JSON.stringify(report.kept)}`);
      };
      /** Before each command: the previous blob gone, the file new (see the file's comment). */
      const freshFile = async () => {
        await removeStored();
        changeFile();
      };
      const pushOnce = async () => {
        await freshFile();
        const serverBefore = processCpuSeconds(service.pid);
        const pushed = await timeCommand(CLI_BIN, ['push', source, MODEL, '--json'], {
          MODELGATE_URL: service.baseUrl,
          MODELGATE_TOKEN: service.token,
        });
        const result = JSON.parse(pushed.stdout) as { uploaded: number; uploadedBytes: number; version: number };
        if (result.uploaded !== 1 || result.uploadedBytes !== file.size)
          throw new Error(`push uploaded ${result.uploaded} blobs (${result.uploadedBytes} bytes), not the one changed file`);
        versions.push(result.version);
        cli.push(pushed);
        pushServerCpu.push(processCpuSeconds(service.pid) - serverBefore);
        return pushed;
      };
      const curlArgs = (hex: string) => [
        '--silent',
        '--show-error',
        '--fail',
        '--request',
        'POST',
        '--upload-file',
        model,
        '--header',
        'Expect:',
        '--header',
        'Transfer-Encoding: chunked',
        '--header',
        `Authorization: Bearer ${service.token}`,
        '--write-out',
        '\n%{http_code}',
        `${service.baseUrl}/v1/blobs?digest=sha256:${hex}`,
      ];
      /** curl's output ends with the status; the upload must have stored a new blob. */
      const expectStored = (sent: TimedRun) => {
        if (!sent.stdout.trimEnd().endsWith('201')) throw new Error(`curl upload did not store a new blob: ${sent.stdout.slice(0, 300)}`);
      };
      const curlOnce = async () => {
        await freshFile();
        const hex = sha256OfFile(model);
        const serverBefore = processCpuSeconds(service.pid);
        const sent = await timeCommand(curl, curlArgs(hex));
        const serverCpuSeconds = processCpuSeconds(service.pid) - serverBefore;
        expectStored(sent);
        baseline.push(sent);
        // The floor of this round: what curl -T and the server spent on these bytes, plus the sha256
        // a client that knows the digest of what it sends must compute, on every core at once.
        floors.push(floorOfRound(sent, serverCpuSeconds, sha256CpuSeconds(file.size)));
        serverCpu.push(serverCpuSeconds);
        return sent;
      };
      /** curl -T and openssl's sha256 of the same file, started together; timed until both end. */
      const hashedCurlOnce = async () => {
        await freshFile();
        const hex = sha256OfFile(model);
        const quoted = (arg: string) => `'${arg.replaceAll("'", "'\\''")}'`;
        const script =
          `${quoted(openssl!)} dgst -sha256 ${quoted(model)} > /dev/null & ` +
          `${[curl, ...curlArgs(hex)].map(quoted).join(' ')}; status=$?; wait $! || exit 1; exit $status`;
        const sent = await timeCommand('/bin/sh', ['-c', script]);
        expectStored(sent);
        hashedBaseline.push(sent);
        return sent;
      };
      const cpu = (run: TimedRun) => `${run.seconds.toFixed(2)} s (CPU ${run.cpuSeconds.toFixed(2)} s)`;
      // In turns, each command first in some rounds: push, curl, then (with openssl) curl with the hash beside it.
      const commands = [
        { name: 'push', once: pushOnce },
        { name: 'curl', once: curlOnce },
        ...(openssl ? [{ name: 'curl + openssl', once: hashedCurlOnce }] : []),
      ];
      for (let round = 0; round < ROUNDS; round++) {
        const order = commands.map((_, i) => commands[(i + round) % commands.length]!);
        for (const command of order) await command.once();
        const hashed = openssl ? `; curl -T with openssl beside it ${cpu(hashedBaseline.at(-1)!)}` : '';
        ctx.log(
          `  round ${round + 1} (${order[0]!.name} first): modelgate push ${cpu(cli.at(-1)!)}, server ${pushServerCpu.at(-1)!.toFixed(2)} s; curl -T ${cpu(baseline.at(-1)!)}, server ${serverCpu.at(-1)!.toFixed(2)} s; floor ${floors.at(-1)!.seconds.toFixed(2)} s${hashed}`,
        );
      }
      const cpuSeconds = (runs: TimedRun[], server: number[]) => ({
        cpuSeconds: runs.map((r) => Number(r.cpuSeconds.toFixed(2))),
        serverCpuSeconds: server.map((c) => Number(c.toFixed(2))),
      });
      const subject = throughputFigure(file.size, cli, cpuSeconds(cli, pushServerCpu));
      const base = throughputFigure(file.size, baseline, cpuSeconds(baseline, serverCpu));
      const ratio = ratioOf(subject, base);
      const { floorRow, beyondNote } = floorRows({
        label: `push ${MIB} MiB`,
        bytes: file.size,
        subject,
        tool: base,
        toolName: 'curl -T',
        floors,
        target: TARGET,
        what: 'a push',
        serverPart: "the server's CPU for its upload",
        client: 'any client that hashes what it sends',
      });
      const hashed = openssl
        ? throughputFigure(file.size, hashedBaseline, { cpuSeconds: hashedBaseline.map((r) => Number(r.cpuSeconds.toFixed(2))) })
        : null;
      const hashedShare = ratioOf(hashed, base);
      const hashedNote =
        hashedShare === null
          ? undefined
          : `curl -T with openssl's sha256 of the file beside it: ${hashedShare.toFixed(2)}× curl -T alone (the last row)`;
      const hashedRow: Comparison[] = openssl
        ? [
            {
              name: `push ${MIB} MiB vs curl -T hashing beside it`,
              subject,
              baselineName: 'curl -T + openssl dgst -sha256, together',
              baseline: hashed,
              ratio: ratioOf(subject, hashed),
              target: 'informational',
              pass: null,
              note:
                'the plain tools sending the file and computing its sha256 at the same time (sh: openssl dgst in the background, curl -T ' +
                'with the digest the bench computed beforehand, wait for both), timed from start to both exits, in the same turns; ' +
                `${hashedShare === null ? '' : `${hashedShare.toFixed(2)}× curl -T alone`}`,
            },
          ]
        : [];
      return [
        {
          name: `push ${MIB} MiB`,
          subject,
          baselineName: 'curl -T (chunked)',
          baseline: base,
          ratio,
          target: `≥ ${TARGET}×`,
          pass: ratio === null ? null : ratio >= TARGET,
          ...(beyondNote || hashedNote ? { note: [beyondNote, hashedNote].filter(Boolean).join('; ') } : {}),
        },
        floorRow,
        ...hashedRow,
      ];
    } finally {
      rmSync(source, { recursive: true, force: true });
      await service.stop();
    }
  },
};
