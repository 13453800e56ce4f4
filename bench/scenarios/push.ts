// `push`: `modelgate push` of a one-file model against `curl -T` (chunked `POST /v1/blobs`, which
// the server verifies) of the same bytes to the same server in the same run, rounds in turn. Each
// round first changes the file's first 8 bytes, so every round stores a new blob on both sides
// (an unchanged file would be skipped by the CLI's HEAD check); the source is on tmpfs.
import { closeSync, copyFileSync, mkdirSync, openSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { sha256OfFile, throughputFigure, timeCommand, type TimedRun } from '../lib/cli-transfer.js';
import { CLI_BIN, startService } from '../lib/service.js';
import { findCurl } from '../lib/upload-client.js';
import { ensureRandomFile } from '../lib/workfile.js';
import { ratioOf, type Comparison, type Scenario, type ScenarioContext } from './scenario.js';

const MIB = Number(process.env.BENCH_PUSH_MIB ?? 1024);
const ROUNDS = Number(process.env.BENCH_PUSH_ROUNDS ?? 5);
const TMPFS = process.env.BENCH_TMPFS ?? '/dev/shm';

export const pushScenario: Scenario = {
  name: 'push',
  description: `modelgate push of ${MIB} MiB vs curl -T (chunked POST /v1/blobs) of the same bytes, source on ${TMPFS}`,
  notes:
    'Whole-process wall time of each command (start-up included), rounds in turn, median round. The CLI hashes the file, ' +
    'asks whether the server has it (HEAD), sends it in one streamed request and registers the version; curl sends ' +
    'the bytes with the digest the bench computed beforehand (outside the timing). The server verifies both.',
  async run(ctx: ScenarioContext): Promise<Comparison[]> {
    const curl = findCurl();
    if (!curl) throw new Error('push needs curl');
    const file = ensureRandomFile(ctx.workDir, `download-${MIB}m.bin`, MIB, ctx.log);
    const service = await startService({ workDir: ctx.workDir, name: 'push' });
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
      const cli: TimedRun[] = [];
      const baseline: TimedRun[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        changeFile();
        const pushed = await timeCommand(process.execPath, [CLI_BIN, 'push', source, 'bench/push', '--json'], {
          MODELGATE_URL: service.baseUrl,
          MODELGATE_TOKEN: service.token,
        });
        const result = JSON.parse(pushed.stdout) as { uploaded: number; uploadedBytes: number };
        if (result.uploaded !== 1 || result.uploadedBytes !== file.size)
          throw new Error(`push uploaded ${result.uploaded} blobs (${result.uploadedBytes} bytes), not the one changed file`);
        cli.push(pushed);

        changeFile();
        const hex = sha256OfFile(model);
        const sent = await timeCommand(curl, [
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
        ]);
        if (!sent.stdout.trimEnd().endsWith('201')) throw new Error(`curl upload did not store a new blob: ${sent.stdout.slice(0, 300)}`);
        baseline.push(sent);
        ctx.log(`  round ${round + 1}: modelgate push ${pushed.seconds.toFixed(2)} s, curl -T ${sent.seconds.toFixed(2)} s`);
      }
      const subject = throughputFigure(file.size, cli);
      const base = throughputFigure(file.size, baseline);
      const ratio = ratioOf(subject, base);
      return [
        {
          name: `push ${MIB} MiB`,
          subject,
          baselineName: 'curl -T (chunked)',
          baseline: base,
          ratio,
          target: '≥ 0.8×',
          pass: ratio === null ? null : ratio >= 0.8,
        },
      ];
    } finally {
      rmSync(source, { recursive: true, force: true });
      await service.stop();
    }
  },
};
