// `pull`: `modelgate pull` of one large file against `curl -o` and `aria2c -x16` of the same blob
// from the same server in the same run, rounds in turn, every target on tmpfs (/dev/shm) so the
// disk is not what is measured, and every downloaded file's sha256 checked after its round.
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Api } from '../lib/api.js';
import { findTool, sha256OfFile, throughputFigure, timeCommand, type TimedRun } from '../lib/cli-transfer.js';
import { registerWithAlias } from '../lib/fixtures.js';
import { SERVICE_MAIN, startService } from '../lib/service.js';
import { findCurl, uploadOnce } from '../lib/upload-client.js';
import { ensureRandomFile } from '../lib/workfile.js';
import { ratioOf, type Comparison, type Scenario, type ScenarioContext } from './scenario.js';

const MIB = Number(process.env.BENCH_PULL_MIB ?? 1024);
const ROUNDS = Number(process.env.BENCH_PULL_ROUNDS ?? 5);
const TMPFS = process.env.BENCH_TMPFS ?? '/dev/shm';

export const pullScenario: Scenario = {
  name: 'pull',
  description: `modelgate pull of ${MIB} MiB (verified) vs curl -o and aria2c -x16 of the same blob, targets on ${TMPFS}`,
  notes:
    'Whole-process wall time of each command (start-up included), rounds in turn (CLI, curl, aria2c, …), median round. ' +
    'The CLI verifies every byte (sha256 as the file arrives); curl and aria2c do not. Each round writes a fresh target ' +
    'on tmpfs and the bench checks its sha256 afterwards, outside the timing.',
  async run(ctx: ScenarioContext): Promise<Comparison[]> {
    const curl = findCurl();
    if (!curl) throw new Error('pull needs curl');
    const aria2c = findTool('aria2c');
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

      const contenders: { name: string; run(dir: string): Promise<TimedRun>; output(dir: string): string }[] = [
        {
          name: 'modelgate pull',
          run: (dir) =>
            timeCommand(process.execPath, [SERVICE_MAIN, 'pull', 'bench/pull@production', dir], {
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
      const rounds = new Map<string, TimedRun[]>(contenders.map((c) => [c.name, []]));
      for (let round = 0; round < ROUNDS; round++) {
        for (const c of contenders) {
          const dir = join(scratch, c.name.replace(/\W+/g, '-'));
          rmSync(dir, { recursive: true, force: true });
          mkdirSync(dir, { recursive: true });
          const timed = await c.run(dir);
          const hex = sha256OfFile(c.output(dir));
          if (hex !== file.sha256) throw new Error(`${c.name} wrote bytes hashing to ${hex}, not ${file.sha256}`);
          rmSync(dir, { recursive: true, force: true });
          rounds.get(c.name)!.push(timed);
          ctx.log(`  round ${round + 1}: ${c.name} ${timed.seconds.toFixed(2)} s`);
        }
      }
      const cli = throughputFigure(file.size, rounds.get('modelgate pull')!, { verified: true });
      const curlFigure = throughputFigure(file.size, rounds.get('curl -o')!, { verified: false });
      const ariaFigure = aria2c ? throughputFigure(file.size, rounds.get('aria2c -x16')!, { verified: false }) : null;
      const row = (baselineName: string, baseline: typeof cli, want: number): Comparison => {
        const ratio = ratioOf(cli, baseline);
        return {
          name: `pull ${MIB} MiB, verified`,
          subject: cli,
          baselineName,
          baseline,
          ratio,
          target: `≥ ${want}×`,
          pass: ratio === null ? null : ratio >= want,
          ...(baseline ? {} : { note: `${baselineName} not installed (apt-get install aria2)` }),
        };
      };
      return [row('curl -o', curlFigure, 0.8), row('aria2c -x16', ariaFigure, 1.0)];
    } finally {
      rmSync(scratch, { recursive: true, force: true });
      await service.stop();
    }
  },
};
