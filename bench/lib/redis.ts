// A redis-server of the bench's own on an ephemeral loopback port, run the way README "Running
// several nodes" asks an operator to run it (AOF, fsync on every write), in a directory that is
// removed when it stops. Tracked, so an interrupted run does not leave it behind.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { stopChild, track } from './children.js';
import { redisServerArgs } from '../../test/harness/redis.js';
import { freePort } from './net.js';

export interface BenchRedis {
  port: number;
  pid: number;
  url: string;
  version: string;
  /** Kills the server and removes its directory. */
  stop(): Promise<void>;
}

export const REDIS_MISSING = 'redis-server not installed (apt-get install redis-server)';

export function redisVersion(): string | null {
  const probe = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) return null;
  return /v=(\S+)/.exec(probe.stdout)?.[1] ?? probe.stdout.trim();
}

/** True once a PING on the port gets +PONG. */
function pong(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('error', () => done(false));
    socket.once('data', (chunk: Buffer) => done(chunk.toString('latin1').startsWith('+PONG')));
    socket.once('connect', () => socket.write('PING\r\n'));
  });
}

export async function startRedis(workDir: string): Promise<BenchRedis> {
  const version = redisVersion();
  if (!version) throw new Error(REDIS_MISSING);
  const dir = mkdtempSync(join(workDir, 'redis-'));
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const output: string[] = [];
    const child = track(spawn('redis-server', redisServerArgs(port, dir), { stdio: ['ignore', 'pipe', 'pipe'] }));
    child.stdout!.on('data', (c: Buffer) => output.push(c.toString()));
    child.stderr!.on('data', (c: Buffer) => output.push(c.toString()));
    const deadline = Date.now() + 10_000;
    while (child.exitCode === null && Date.now() < deadline) {
      if (await pong(port)) {
        return {
          port,
          pid: child.pid!,
          url: `redis://127.0.0.1:${port}`,
          version,
          async stop() {
            await stopChild(child, 'SIGKILL');
            rmSync(dir, { recursive: true, force: true });
          },
        };
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    await stopChild(child, 'SIGKILL');
    // Another process took the port between the probe and the start: try again on a new one.
    if (attempt === 4) {
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`redis-server did not answer on port ${port}:\n${output.join('')}`);
    }
  }
  throw new Error('unreachable');
}
