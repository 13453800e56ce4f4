// `modelgate push` of many-file directories, one after another, beside a load phase: what a CI
// pipeline pushing a checkpoint does to the resolves a registry serves meanwhile. Every directory
// holds fresh random files (the CLI skips a file the server already has), written to tmpfs before
// the phase so that making them costs the phase nothing.
import { randomFillSync } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { timeCommand } from './cli-transfer.js';
import { CLI_BIN } from './service.js';

export interface PushDirs {
  dirs: string[];
  files: number;
  fileBytes: number;
  remove(): void;
}

/** `count` directories of `files` random files of `fileBytes` each under `root`. */
export function makePushDirs(root: string, count: number, files: number, fileBytes: number): PushDirs {
  const buffer = Buffer.allocUnsafe(fileBytes);
  const dirs: string[] = [];
  for (let d = 0; d < count; d++) {
    const dir = join(root, `push-${d}`);
    mkdirSync(dir, { recursive: true });
    for (let f = 0; f < files; f++) writeFileSync(join(dir, `shard-${f}.safetensors`), randomFillSync(buffer));
    dirs.push(dir);
  }
  return { dirs, files, fileBytes, remove: () => rmSync(root, { recursive: true, force: true }) };
}

export interface LoopPush {
  startedAt: number;
  endedAt: number;
  seconds: number;
}

/**
 * Pushes the directories one after another (each once) until stopped or out of directories;
 * stopping lets the push in flight finish.
 */
export function pushLoop(dirs: PushDirs, target: { baseUrl: string; token: string }, name: string, maxConnections: number) {
  let stopped = false;
  const completed: LoopPush[] = [];
  const failures: string[] = [];
  const loop = (async () => {
    for (const dir of dirs.dirs) {
      if (stopped) break;
      const startedAt = performance.now();
      try {
        const run = await timeCommand(CLI_BIN, ['push', dir, name, '--max-connections', String(maxConnections)], {
          MODELGATE_URL: target.baseUrl,
          MODELGATE_TOKEN: target.token,
        });
        completed.push({ startedAt, endedAt: performance.now(), seconds: run.seconds });
      } catch (err) {
        failures.push((err as Error).message);
      }
    }
  })();
  return {
    async stop(): Promise<{ completed: LoopPush[]; failures: string[] }> {
      stopped = true;
      await loop;
      return { completed, failures };
    },
  };
}
