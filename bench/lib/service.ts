// Starts the real modelgate service (the built CLI, as an operator runs it) in its own process,
// so the load generator and the server never share an event loop.
import { spawn } from 'node:child_process';
import { SERVE_NODE_FLAGS } from '../../src/cli/serve-node-flags.js';
import { randomBytes } from 'node:crypto';
import { appendFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { stopChild, track } from './children.js';

/** dist/bench/lib/service.js → dist/src/cli/main.js */
export const SERVICE_MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
/** dist/bench/lib/service.js → bin/modelgate.js: the command a user runs, executed through its `#!` line as a shell does (the bundled client CLI in dist/cli/). */
export const CLI_BIN = fileURLToPath(new URL('../../../bin/modelgate.js', import.meta.url));

export interface RunningService {
  port: number;
  pid: number;
  token: string;
  dataDir: string;
  baseUrl: string;
  /** SIGTERM, wait for exit, remove the data directory (unless keepData or BENCH_KEEP_DATA=1). */
  stop(opts?: { keepData?: boolean }): Promise<void>;
}

/**
 * Extra node flags for the service, e.g. BENCH_SERVICE_NODE_ARGS="--cpu-prof --cpu-prof-dir=bench/.work/prof"
 * to profile it under the bench's load.
 */
function serviceNodeArgs(): string[] {
  return (process.env.BENCH_SERVICE_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
}

/**
 * BENCH_SERVICE_OUTPUT_DIR=<dir>: every line a node prints (its log, and V8's output of flags such
 * as --trace-opt) is appended to <dir>/<name>.log, prefixed with the wall-clock ms it arrived at,
 * so V8's events can be set beside a MODELGATE_TRACE_FILE timeline.
 */
function outputSink(name: string): ((line: string) => void) | null {
  const dir = process.env.BENCH_SERVICE_OUTPUT_DIR;
  if (!dir) return null;
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}.log`);
  return (line) => appendFileSync(file, `${Date.now()} ${line}\n`);
}

/**
 * The default config guards `production` with approvals and separation of duties, which one
 * admin token cannot satisfy; the bench measures serving, not governance, so its config lifts the
 * gates (a --config file's policy.aliases replaces the default map whole).
 */
const BENCH_CONFIG = `policy:
  aliases: {}
`;

export interface StartOptions {
  workDir: string;
  name: string;
  /** Restart on the data of an earlier run (stopped with keepData), with its token. */
  reuse?: { dataDir: string; token: string };
  /** The admin token to start with (several nodes sharing one Redis share it); random by default. */
  token?: string;
  /** Extra environment (MODELGATE_* settings such as the control and blob backends). */
  env?: Record<string, string>;
  startTimeoutMs?: number;
}

export async function startService(opts: StartOptions): Promise<RunningService> {
  const token = opts.reuse?.token ?? opts.token ?? `mg_bench_${randomBytes(16).toString('hex')}`;
  const dataDir = opts.reuse?.dataDir ?? join(opts.workDir, 'data', `${opts.name}-${process.pid}-${Date.now()}`);
  mkdirSync(dataDir, { recursive: true });
  const configPath = join(opts.workDir, 'service-config.yaml');
  writeFileSync(configPath, BENCH_CONFIG);
  const child = track(
    spawn(
      process.execPath,
      [
        ...SERVE_NODE_FLAGS,
        ...serviceNodeArgs(),
        SERVICE_MAIN,
        'serve',
        '--host',
        '127.0.0.1',
        '--port',
        '0',
        '--data-dir',
        dataDir,
        '--config',
        configPath,
      ],
      {
        env: { ...process.env, ...opts.env, MODELGATE_ADMIN_TOKEN: token },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    ),
  );

  // Keep the last lines for the error message; every line must be read or the pipe fills and
  // the service blocks on its logger.
  const recent: string[] = [];
  const sink = outputSink(opts.name);
  const remember = (line: string) => {
    sink?.(line);
    recent.push(line);
    if (recent.length > 30) recent.shift();
  };
  createInterface({ input: child.stderr! }).on('line', remember);

  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`service did not log "listening" within ${opts.startTimeoutMs ?? 30_000} ms:\n${recent.join('\n')}`));
    }, opts.startTimeoutMs ?? 30_000);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`service exited (${code ?? signal}) before listening:\n${recent.join('\n')}`));
    });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      remember(line);
      if (!line.includes('"listening"')) return;
      try {
        // From the first '{': V8's own output (--trace-opt and the like) shares the pipe and can land at the start of the line.
        const entry = JSON.parse(line.slice(line.indexOf('{'))) as { msg?: string; port?: number };
        if (entry.msg === 'listening' && typeof entry.port === 'number') {
          clearTimeout(timer);
          resolve(entry.port);
        }
      } catch {
        // Not JSON after all: keep waiting for the real line.
      }
    });
  }).catch(async (err: unknown) => {
    await stopChild(child, 'SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
    throw err;
  });

  return {
    port,
    pid: child.pid!,
    token,
    dataDir,
    baseUrl: `http://127.0.0.1:${port}`,
    async stop(stopOpts) {
      await stopChild(child, 'SIGTERM', 20_000);
      if (!stopOpts?.keepData && process.env.BENCH_KEEP_DATA !== '1') rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
