// `pull`: `modelgate pull` of one large file against `curl -o` and `aria2c -x16` of the same blob
// from the same server in the same run, rounds in turn, every target on tmpfs (/dev/shm) so the
// disk is not what is measured, and every downloaded file's sha256 checked after its round. Two
// more rows say what a verified download can reach here at all: the Unix tools' verified download
// (curl | tee | openssl sha256) in the same rounds, and a floor built from parts measured in each round:
// the CPU curl -o and the server spent on the bytes, plus what sha256 of as many bytes costs,
// spread over every core, which no verifying client can beat on this machine. Last, the CLI's
// start-up: from starting `modelgate pull` of a 3-byte file until its first request reaches the
// server (through a TCP proxy that notes the first byte), against `node -e 0`.
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Api } from '../lib/api.js';
import { sha256CpuSeconds } from '../lib/hashers.js';
import { floorOfRound, floorRows } from '../lib/floor.js';
import { findTool, sha256OfFile, throughputFigure, timeCommand, type TimedRun } from '../lib/cli-transfer.js';
import { processCpuSeconds } from '../lib/cpu.js';
import { turnOrder } from '../lib/rounds.js';
import { startCountingProxy } from '../lib/counting-proxy.js';
import { registerWithAlias, uploadRandomFiles } from '../lib/fixtures.js';
import { CLI_BIN, startService, type RunningService } from '../lib/service.js';
import { findCurl, uploadOnce } from '../lib/upload-client.js';
import { median } from '../lib/stats.js';
import { ensureRandomFile } from '../lib/workfile.js';
import { ratioOf, type Comparison, type Scenario, type ScenarioContext } from './scenario.js';

const MIB = Number(process.env.BENCH_PULL_MIB ?? 1024);
const ROUNDS = Number(process.env.BENCH_PULL_ROUNDS ?? 5);
const TMPFS = process.env.BENCH_TMPFS ?? '/dev/shm';
const STARTUP_ROUNDS = Number(process.env.BENCH_PULL_STARTUP_ROUNDS ?? 10);
/** Issue #19: the CLI's first request within 150 ms of its start. */
const STARTUP_TARGET_MS = 150;

/**
 * Milliseconds from starting `modelgate pull` of a 3-byte file until its first request reaches the
 * server (a TCP proxy in this process notes the first byte), against the whole of `node -e 0`.
 */
async function startUp(service: RunningService, api: Api, scratch: string, ctx: ScenarioContext): Promise<Comparison> {
  await registerWithAlias(api, 'bench/pull-start', await uploadRandomFiles(api, [{ path: 'tiny.bin', size: 3 }]), 'production');
  const dir = join(scratch, 'start-up');
  const firstRequest: number[] = [];
  const wholePull: number[] = [];
  const pullCpu: number[] = [];
  const bareNode: number[] = [];
  for (let round = 0; round < STARTUP_ROUNDS; round++) {
    rmSync(dir, { recursive: true, force: true });
    const proxy = await startCountingProxy(service.port);
    try {
      const started = performance.now();
      const timed = await timeCommand(CLI_BIN, ['pull', 'bench/pull-start@production', dir], {
        MODELGATE_URL: `http://127.0.0.1:${proxy.port}`,
        MODELGATE_TOKEN: service.token,
      });
      if (proxy.firstUpAt === null) throw new Error('the pull finished without a request reaching the proxy');
      firstRequest.push(proxy.firstUpAt - started);
      wholePull.push(timed.seconds * 1000);
      pullCpu.push(timed.cpuSeconds);
    } finally {
      await proxy.close();
    }
    bareNode.push((await timeCommand(process.execPath, ['-e', '0'])).seconds * 1000);
    ctx.log(
      `  start-up ${round + 1}: first request after ${firstRequest.at(-1)!.toFixed(1)} ms, pull ${wholePull.at(-1)!.toFixed(1)} ms; node -e 0 ${bareNode.at(-1)!.toFixed(1)} ms`,
    );
  }
  rmSync(dir, { recursive: true, force: true });
  const ms = (values: number[]) => values.map((v) => Number(v.toFixed(1)));
  const first = median(firstRequest);
  return {
    name: 'pull: CLI start-up to the first request',
    subject: {
      value: first,
      unit: 'ms',
      loadCpuPercent: null,
      detail: { firstRequestMs: ms(firstRequest), wholePullMs: ms(wholePull), pullCpuSeconds: pullCpu },
    },
    baselineName: 'node -e 0, whole process',
    baseline: { value: median(bareNode), unit: 'ms', loadCpuPercent: null, detail: { ms: ms(bareNode) } },
    ratio: null,
    target: `< ${STARTUP_TARGET_MS} ms`,
    pass: first < STARTUP_TARGET_MS,
    note:
      `${STARTUP_ROUNDS} rounds, median: from spawning \`modelgate pull\` (bin/modelgate.js through its #! line, as a shell runs it) of a 3-byte file until its first request's first byte ` +
      `reached a TCP proxy in front of the server; the whole pull (resolve, download, verify, exit) ${median(wholePull).toFixed(0)} ms, ` +
      `${median(pullCpu).toFixed(3)} CPU-s; node -e 0 is Node's own start and exit here` +
      (process.env.NODE_EXTRA_CA_CERTS
        ? ' (NODE_EXTRA_CA_CERTS is set on this machine: Node 20 loads those certificates at every start, node -e 0 included; the launcher starts a plain-http command without them)'
        : ''),
  };
}

export const pullScenario: Scenario = {
  name: 'pull',
  description: `modelgate pull of ${MIB} MiB (verified) vs curl -o, aria2c -x16 and curl | tee | openssl sha256 of the same blob, and the verified floor, targets on ${TMPFS}; the CLI's start-up to its first request`,
  notes:
    'Whole-process wall time of each command (start-up included), rounds in turn (CLI, curl, aria2c, …), each round starting with the next command, median round. ' +
    'The CLI verifies every byte (sha256 as the file arrives); curl and aria2c do not. Each round writes a fresh target ' +
    'on tmpfs and the bench checks its sha256 afterwards, outside the timing. CPU of each command (its own and its ' +
    "pipeline's, from the kernel's accounting of reaped children) and of the server during it are in the JSON detail. " +
    "The floor row divides the CPU a verified download cannot avoid (curl -o's, the server's for it, and sha256 of the " +
    'same number of bytes in memory) by the cores: the fastest any verifying client could be on this machine.',
  async run(ctx: ScenarioContext): Promise<Comparison[]> {
    const curl = findCurl();
    if (!curl) throw new Error('pull needs curl');
    const aria2c = findTool('aria2c');
    // The Unix verified download needs pipefail (bash) and a hasher with the SHA extensions (OpenSSL's; coreutils' sha256sum has none here).
    const bash = findTool('bash');
    const openssl = findTool('openssl');
    const file = ensureRandomFile(ctx.workDir, `download-${MIB}m.bin`, MIB, ctx.log);
    const service = await startService({ workDir: ctx.workDir, name: 'pull' });
    const scratch = join(TMPFS, `modelgate-bench-pull-${process.pid}`);
    try {
      const api = new Api(service.port, service.token);
      const stored = await uploadOnce(curl, {
        port: service.port,
        token: service.token,
        path: file.path,
        size: file.size,
        sha256: file.sha256,
      });
      if (stored.status !== 201 && stored.status !== 200) throw new Error(`upload answered ${stored.status}: ${stored.body}`);
      await registerWithAlias(api, 'bench/pull', [{ path: 'model.bin', size: file.size, digest: `sha256:${file.sha256}` }], 'production');
      const url = `${service.baseUrl}/v1/blobs/sha256:${file.sha256}`;
      const auth = `Authorization: Bearer ${service.token}`;

      const contenders: {
        name: string;
        run(dir: string): Promise<TimedRun>;
        output(dir: string): string;
        /** What the command itself says the bytes hash to, when it says. */
        reported?(run: TimedRun): string;
      }[] = [
        {
          name: 'modelgate pull',
          run: (dir) =>
            timeCommand(CLI_BIN, ['pull', 'bench/pull@production', dir], {
              MODELGATE_URL: service.baseUrl,
              MODELGATE_TOKEN: service.token,
            }),
          output: (dir) => join(dir, 'model.bin'),
        },
        {
          name: 'curl -o',
          run: (dir) =>
            timeCommand(curl, ['--silent', '--show-error', '--fail', '--header', auth, '--output', join(dir, 'model.bin'), url]),
          output: (dir) => join(dir, 'model.bin'),
        },
      ];
      if (bash && openssl) {
        contenders.push({
          name: 'curl | tee | openssl sha256',
          run: (dir) =>
            timeCommand(
              bash,
              ['-c', 'set -o pipefail; curl --silent --show-error --fail --header "$AUTH" "$URL" | tee "$OUT" | openssl dgst -sha256 -r'],
              {
                AUTH: auth,
                URL: url,
                OUT: join(dir, 'model.bin'),
              },
            ),
          output: (dir) => join(dir, 'model.bin'),
          reported: (run) => run.stdout.slice(0, 64),
        });
      }
      if (aria2c) {
        contenders.push({
          name: 'aria2c -x16',
          run: (dir) =>
            timeCommand(aria2c, [
              '--quiet=true',
              '-x16',
              '-s16',
              '-k1M',
              '--file-allocation=none',
              '--allow-overwrite=true',
              `--header=${auth}`,
              '-d',
              dir,
              '-o',
              'model.bin',
              url,
            ]),
          output: (dir) => join(dir, 'model.bin'),
        });
      }
      const rounds = new Map<string, (TimedRun & { serverCpuSeconds: number })[]>(contenders.map((c) => [c.name, []]));
      const floors: TimedRun[] = [];
      const hashCpu: number[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        for (const c of turnOrder(contenders, round)) {
          const dir = join(scratch, c.name.replace(/\W+/g, '-'));
          rmSync(dir, { recursive: true, force: true });
          mkdirSync(dir, { recursive: true });
          const serverBefore = processCpuSeconds(service.pid);
          const timed = await c.run(dir);
          const serverCpuSeconds = processCpuSeconds(service.pid) - serverBefore;
          const hex = sha256OfFile(c.output(dir));
          if (hex !== file.sha256) throw new Error(`${c.name} wrote bytes hashing to ${hex}, not ${file.sha256}`);
          if (c.reported && c.reported(timed) !== file.sha256)
            throw new Error(`${c.name} reported ${c.reported(timed)}, not ${file.sha256}`);
          rmSync(dir, { recursive: true, force: true });
          rounds.get(c.name)!.push({ ...timed, serverCpuSeconds });
          ctx.log(
            `  round ${round + 1}: ${c.name} ${timed.seconds.toFixed(2)} s, CPU ${timed.cpuSeconds.toFixed(2)} s, server ${serverCpuSeconds.toFixed(2)} s`,
          );
        }
        // The floor of this round: curl's own CPU and the server's for it, plus sha256 of as many bytes, on every core at once.
        const hashed = sha256CpuSeconds(file.size);
        hashCpu.push(hashed);
        const plain = rounds.get('curl -o')!.at(-1)!;
        floors.push(floorOfRound(plain, plain.serverCpuSeconds, hashed));
        ctx.log(`  round ${round + 1}: sha256 of ${MIB} MiB ${hashed.toFixed(2)} CPU-s; floor ${floors.at(-1)!.seconds.toFixed(2)} s`);
      }
      const cpuDetail = (name: string) => {
        const runs = rounds.get(name)!;
        return {
          verified: name !== 'curl -o' && name !== 'aria2c -x16',
          clientCpuSeconds: median(runs.map((r) => r.cpuSeconds)),
          serverCpuSeconds: median(runs.map((r) => r.serverCpuSeconds)),
        };
      };
      const figure = (name: string) => (rounds.has(name) ? throughputFigure(file.size, rounds.get(name)!, cpuDetail(name)) : null);
      const cli = figure('modelgate pull');
      const curlFigure = figure('curl -o');
      const teeFigure = figure('curl | tee | openssl sha256');
      const ariaFigure = figure('aria2c -x16');
      const label = `pull ${MIB} MiB, verified`;
      const row = (baselineName: string, baseline: typeof cli, want: number, note?: string): Comparison => {
        const ratio = ratioOf(cli, baseline);
        return {
          name: label,
          subject: cli,
          baselineName,
          baseline,
          ratio,
          target: `≥ ${want}×`,
          pass: ratio === null ? null : ratio >= want,
          ...(baseline ? (note ? { note } : {}) : { note: `${baselineName} not installed` }),
        };
      };
      const { floorRow, beyondNote } = floorRows({
        label,
        bytes: file.size,
        subject: cli,
        tool: curlFigure,
        toolName: 'curl -o',
        floors,
        target: 0.8,
        what: 'a verified download',
        serverPart: "the server's CPU for it",
        client: 'any client that verifies',
        detail: { sha256CpuSeconds: median(hashCpu) },
      });
      const startUpRow = await startUp(service, api, scratch, ctx);
      return [
        row('curl -o', curlFigure, 0.8, beyondNote),
        row('aria2c -x16', ariaFigure, 1.0),
        row(
          'curl | tee | openssl sha256',
          teeFigure,
          1.0,
          "the Unix tools' verified download of the same URL: curl to stdout, tee writing the file on tmpfs, openssl dgst -sha256 hashing the stream (three processes, two pipe copies); its printed digest is checked too",
        ),
        floorRow,
        startUpRow,
      ];
    } finally {
      rmSync(scratch, { recursive: true, force: true });
      await service.stop();
    }
  },
};
