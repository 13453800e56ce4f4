// Running the built `modelgate` CLI as a child process, the way a user does, and the files it reads.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before } from 'node:test';
import { sha256Hex } from './http.js';
import { CLI } from './server.js';

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `modelgate <args>` as a user's shell does, through the launcher's `#!` line (which treats
 * NODE_EXTRA_CA_CERTS specially), with MODELGATE_URL and MODELGATE_TOKEN cleared unless `env` sets them.
 */
export function runCli(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(CLI, args, {
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

/**
 * Every entry under root as relative path (with `/`) → sha256 hex of its bytes. Anything that is
 * neither a folder nor a regular file (a symlink, say) is listed as such, so a comparison fails on
 * it, unless `regularOnly` leaves such entries out (a source folder with a link that push skips).
 */
export async function treeDigests(root: string, opts: { regularOnly?: boolean } = {}, prefix = ''): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await readdir(join(root, prefix), { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) Object.assign(out, await treeDigests(root, opts, rel));
    else if (entry.isFile()) out[rel] = sha256Hex(await readFile(join(root, rel)));
    else if (!opts.regularOnly) out[rel] = 'not a regular file';
  }
  return out;
}

export interface ScratchFolder {
  /** The folder; there from the test file's first `before` hook on. */
  readonly path: string;
  /** A new, empty folder inside it, named after `name`. */
  fresh(name: string): Promise<string>;
}

/** A scratch folder for one test file: made before its tests run (a `before` hook), removed after them. */
export function scratchFolder(prefix: string): ScratchFolder {
  let path = '';
  before(async () => {
    path = await mkdtemp(join(tmpdir(), prefix));
  });
  after(async () => {
    if (path) await rm(path, { recursive: true, force: true });
  });
  return {
    get path() {
      assert.ok(path, 'the scratch folder is made in a before hook: use it in a test or a later hook');
      return path;
    },
    fresh: (name) => mkdtemp(join(path, `${name}-`)),
  };
}
