// s3rver (the npm devDependency) as the bench's S3 bucket: its own process (so its CPU is its
// own), an ephemeral loopback port, and a fresh directory under bench/.work that is removed when it
// stops. Requests without credentials are served anonymously, so plain HTTP clients can GET objects.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { stopChild, track } from './children.js';

const PROJECT_DIR = fileURLToPath(new URL('../../../', import.meta.url));

// Runs in the child, from the project directory so that require('s3rver') finds node_modules.
const SERVER = `
const S3rver = require('s3rver');
const [directory, bucket] = process.argv.slice(1);
new S3rver({ address: '127.0.0.1', port: 0, directory, silent: true, configureBuckets: [{ name: bucket, configs: [] }] })
  .run()
  .then((addr) => console.log(JSON.stringify({ port: addr.port })), (err) => { console.error(err); process.exit(1); });
`;

export interface BenchS3 {
  port: number;
  pid: number;
  bucket: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  dir: string;
  /** Kills s3rver and removes its directory. */
  stop(): Promise<void>;
}

export async function startS3rver(workDir: string): Promise<BenchS3> {
  const dir = mkdtempSync(join(workDir, 's3rver-'));
  const bucket = `bench-${randomBytes(4).toString('hex')}`;
  const child = track(spawn(process.execPath, ['-e', SERVER, dir, bucket], { cwd: PROJECT_DIR, stdio: ['ignore', 'pipe', 'pipe'] }));
  const output: string[] = [];
  createInterface({ input: child.stderr! }).on('line', (line) => output.push(line));
  try {
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`s3rver did not start within 20 s:\n${output.join('\n')}`)), 20_000);
      createInterface({ input: child.stdout! }).on('line', (line) => {
        output.push(line);
        if (!line.startsWith('{"port"')) return;
        clearTimeout(timer);
        resolve((JSON.parse(line) as { port: number }).port);
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`s3rver exited (${code}) before listening (is the s3rver devDependency installed?):\n${output.join('\n')}`));
      });
    });
    return {
      port,
      pid: child.pid!,
      bucket,
      region: 'us-east-1',
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
      dir,
      async stop() {
        await stopChild(child, 'SIGKILL');
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await stopChild(child, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
