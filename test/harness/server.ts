// Starts the real gateway as a child process on an ephemeral port, the way an operator would.
import { spawn, type ChildProcess } from 'node:child_process';
import { SERVE_NODE_FLAGS } from '../../src/cli/serve-node-flags.js';
import { START_LIMIT_MS } from './limits.js';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

// Node 20 sometimes spins at 100% CPU in its exit-time handle cleanup (Environment::CleanupHandles,
// as in nodejs/node#47748: seen with gdb in a blobs-verify test process after every test had
// reported), and the test runner then waits for that file forever. By the 'exit' event every
// report is written and the loop is empty, so end the process there, with the same exit code.
process.once('exit', (code) => process.exit(code));

/** The launcher a user runs (bin/modelgate.js → the bundled CLI in dist/cli/; `serve` in dist/src/). */
export const CLI = fileURLToPath(new URL('../../../bin/modelgate.js', import.meta.url));

export interface TestServer {
  /** Changes after restart(): each start listens on a fresh ephemeral port. */
  url: string;
  port: number;
  token: string;
  dataDir: string;
  /** Everything the process printed, for assertions on logs. */
  output: string[];
  child: ChildProcess;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  restart(): Promise<void>;
  /** Stops the server and removes its data directory (unless it was given by the caller). */
  dispose(): Promise<void>;
}

export interface StartOptions {
  dataDir?: string;
  env?: Record<string, string>;
  args?: string[];
  /** Pass no MODELGATE_ADMIN_TOKEN, to test the first-start bootstrap. */
  noAdminToken?: boolean;
}

export async function startServer(opts: StartOptions = {}): Promise<TestServer> {
  const ownDir = !opts.dataDir;
  const dataDir = opts.dataDir ?? (await mkdtemp(join(tmpdir(), 'modelgate-test-')));
  const token = `test-${randomBytes(16).toString('hex')}`;
  const server = {
    url: '',
    port: 0,
    token,
    dataDir,
    output: [] as string[],
    child: null as unknown as ChildProcess,
  } as TestServer;

  const launch = async () => {
    const { child, port } = await spawnServer(
      dataDir,
      opts.noAdminToken ? undefined : token,
      opts.env ?? {},
      opts.args ?? [],
      server.output,
    );
    server.child = child;
    server.port = port;
    server.url = `http://127.0.0.1:${port}`;
  };
  server.stop = (signal = 'SIGTERM') => stopChild(server.child, signal);
  server.restart = async () => {
    await server.stop();
    await launch();
  };
  server.dispose = async () => {
    await server.stop();
    if (ownDir) {
      await rm(dataDir, { recursive: true, force: true });
      // The checkpoint key a single node generates beside (never inside) its data directory.
      await rm(`${dataDir}.checkpoint-key.pem`, { force: true });
    }
  };
  await launch();
  return server;
}

export function spawnServer(
  dataDir: string,
  token: string | undefined,
  env: Record<string, string>,
  args: string[],
  output: string[],
  /**
   * What runs `serve`: by default `node <SERVE_NODE_FLAGS> bin/modelgate.js`, which the launcher
   * runs in place (so `child` is the server); `[CLI]` runs the launcher through its `#!` line.
   */
  launch: string[] = [process.execPath, ...SERVE_NODE_FLAGS, CLI],
): Promise<{ child: ChildProcess; port: number }> {
  // The start-up rehearsal (control.warmUpChanges) runs short here: every test starts servers, and
  // what it compiles does not matter to a test (test/warm-up.test.ts covers the rehearsal itself).
  const childEnv: NodeJS.ProcessEnv = { ...process.env, MODELGATE_LOG_LEVEL: 'info', MODELGATE_WARM_UP_CHANGES: '20', ...env };
  delete childEnv.MODELGATE_ADMIN_TOKEN;
  if (token) childEnv.MODELGATE_ADMIN_TOKEN = token;
  const [command, ...launchArgs] = launch;
  const child = spawn(command!, [...launchArgs, 'serve', '--host', '127.0.0.1', '--port', '0', '--data-dir', dataDir, ...args], {
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`server did not start within ${START_LIMIT_MS / 1000} s:\n${output.join('\n')}`));
    }, START_LIMIT_MS);
    createInterface({ input: child.stderr! }).on('line', (line) => output.push(line));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      output.push(line);
      if (line.includes('"msg":"listening"')) {
        clearTimeout(timer);
        resolve({ child, port: (JSON.parse(line) as { port: number }).port });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before listening:\n${output.join('\n')}`));
    });
  });
}

export function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => {
    const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.once('exit', (code) => {
      clearTimeout(killer);
      resolve(code);
    });
    child.kill(signal);
  });
}
