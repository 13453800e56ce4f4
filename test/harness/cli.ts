// Running the built `modelgate` CLI as a child process, the way a user does, and the files it reads.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { CLI } from './server.js';

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `modelgate <args>` with MODELGATE_URL and MODELGATE_TOKEN cleared unless `env` sets them. */
export function runCli(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { ...process.env, MODELGATE_URL: '', MODELGATE_TOKEN: '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Asserts the run exited 0 (showing its stderr otherwise) and returns it. */
export function ok(run: CliRun): CliRun {
  assert.equal(run.code, 0, `CLI failed (${run.code}):\n${run.stderr}`);
  return run;
}

/** The JSON a successful run printed. */
export function parseJson(run: CliRun): any {
  return JSON.parse(ok(run).stdout);
}

/** Writes `files` (relative path with `/` → content) under root, creating folders. */
export async function writeTree(root: string, files: Record<string, Buffer | string>): Promise<void> {
  for (const [path, content] of Object.entries(files)) {
    const full = join(root, ...path.split('/'));
    await mkdir(dirname(full), { recursive: true });
    await writeFile(full, content);
  }
}
