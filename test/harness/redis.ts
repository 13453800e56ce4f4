// Starts a real redis-server as a child process on an ephemeral port, durable (AOF, fsync on every
// write) so that a SIGKILL and a restart keep every acknowledged write, the way an operator must
// run it under several modelgate nodes.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { START_LIMIT_MS } from './limits.js';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

export interface ClientInfo {
  id: string;
  name: string;
  addr: string;
  flags: string;
  [field: string]: string;
}

export interface TestRedis {
  url: string;
  port: number;
  dir: string;
  /** A connection for the test itself (reconnects by itself after a restart). */
  client: Redis;
  /** Everything redis-server printed. */
  output: string[];
  /** Kills the server (SIGKILL by default, like a crash; 'SHUTDOWN' asks it to stop cleanly). */
  stop(how?: 'SIGKILL' | 'SHUTDOWN'): Promise<void>;
  /** Starts it again on the same port and directory; the data is kept. */
  restart(): Promise<void>;
  /** Kills the matching client connections (CLIENT KILL ID); returns how many. */
  killClients(filter: { name?: string } | ((client: ClientInfo) => boolean)): Promise<number>;
  clients(): Promise<ClientInfo[]>;
  /** Stops the server and removes its directory. */
  dispose(): Promise<void>;
}

export function randomPrefix(): string {
  return `t${randomBytes(6).toString('hex')}:`;
}

function assertInstalled(): void {
  const probe = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    throw new Error('redis-server is not installed (or not on PATH): these tests need a real Redis; run "apt-get install redis-server"');
  }
}

/** redis-server on 127.0.0.1:`port` with its data in `dir`: AOF with fsync on every write, as production runs it. */
export function redisServerArgs(port: number, dir: string): string[] {
  const options = {
    port: String(port),
    bind: '127.0.0.1',
    save: '',
    appendonly: 'yes',
    appendfsync: 'always',
    dir,
    daemonize: 'no',
    loglevel: 'warning',
  };
  return Object.entries(options).flatMap(([key, value]) => [`--${key}`, value]);
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** True when the redis-server with this pid answers at the port (not some other process that took it). */
function answers(port: number, pid: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let data = '';
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.on('error', () => done(false));
    socket.on('data', (c) => {
      data += c.toString('latin1');
      if (data.startsWith('-')) return done(false); // e.g. LOADING while it replays the AOF
      const m = /process_id:(\d+)\r\n/.exec(data);
      if (m) done(Number(m[1]) === pid);
    });
    socket.on('connect', () => socket.write('INFO server\r\n'));
  });
}

function parseClientList(text: string): ClientInfo[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .map((line) => {
      const info: Record<string, string> = {};
      for (const part of line.split(' ')) {
        const eq = part.indexOf('=');
        if (eq > 0) info[part.slice(0, eq)] = part.slice(eq + 1);
      }
      return info as ClientInfo;
    });
}

export async function startRedis(): Promise<TestRedis> {
  assertInstalled();
  const dir = await mkdtemp(join(tmpdir(), 'modelgate-redis-'));
  const output: string[] = [];
  let child: ChildProcess | null = null;
  let port = 0;

  const launch = async (fixedPort?: number): Promise<void> => {
    for (let attempt = 0; ; attempt++) {
      const p = fixedPort ?? (await freePort());
      const proc = spawn('redis-server', redisServerArgs(p, dir), { stdio: ['ignore', 'pipe', 'pipe'] });
      proc.stdout!.on('data', (c: Buffer) => output.push(c.toString()));
      proc.stderr!.on('data', (c: Buffer) => output.push(c.toString()));
      let exited = false;
      proc.once('exit', () => (exited = true));
      const deadline = Date.now() + START_LIMIT_MS;
      while (!exited && Date.now() < deadline) {
        if (proc.pid !== undefined && (await answers(p, proc.pid))) {
          child = proc;
          port = p;
          return;
        }
        await new Promise((r) => setTimeout(r, 20));
      }
      if (!exited) proc.kill('SIGKILL');
      // A port taken between the probe and the start: try another one (never for a restart).
      if (fixedPort !== undefined || attempt >= 4) {
        throw new Error(`redis-server did not answer PING on port ${p}:\n${output.join('')}`);
      }
    }
  };

  const killChild = async (signal: NodeJS.Signals): Promise<void> => {
    const proc = child;
    child = null;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      proc.once('exit', () => resolve());
      proc.kill(signal);
    });
  };

  // If the test process dies without disposing (a crash, a runner timeout), take the server down too.
  const onExit = () => {
    child?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', onExit);

  try {
    await launch();
  } catch (err) {
    process.removeListener('exit', onExit);
    onExit();
    throw err;
  }
  const url = `redis://127.0.0.1:${port}`;
  const client = new Redis(url, { retryStrategy: (n) => Math.min(20 * n, 200), maxRetriesPerRequest: 50, connectionName: 'test-harness' });
  client.on('error', () => undefined);

  const clients = async (): Promise<ClientInfo[]> => parseClientList((await client.call('CLIENT', 'LIST')) as string);

  const redis: TestRedis = {
    url,
    port,
    dir,
    client,
    output,
    async stop(how = 'SIGKILL') {
      if (!child) return;
      if (how === 'SHUTDOWN') {
        const proc = child;
        const exited = new Promise<void>((resolve) => (proc.exitCode !== null ? resolve() : proc.once('exit', () => resolve())));
        await client.call('SHUTDOWN').catch(() => undefined);
        await exited;
        child = null;
      } else await killChild('SIGKILL');
    },
    async restart() {
      await redis.stop();
      await launch(port);
      await waitReady(client);
    },
    clients,
    async killClients(filter) {
      const match = typeof filter === 'function' ? filter : (c: ClientInfo) => filter.name === undefined || c.name === filter.name;
      let killed = 0;
      for (const c of await clients()) {
        if (c.name === 'test-harness' || !match(c)) continue;
        killed += Number(await client.call('CLIENT', 'KILL', 'ID', c.id));
      }
      return killed;
    },
    async dispose() {
      process.removeListener('exit', onExit);
      client.disconnect();
      await killChild('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    },
  };
  await waitReady(client);
  return redis;
}

async function waitReady(client: Redis): Promise<void> {
  const deadline = Date.now() + START_LIMIT_MS;
  for (;;) {
    try {
      if ((await client.ping()) === 'PONG') return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Removes every key under the prefix (each test uses its own). */
export async function deletePrefix(client: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await client.del(...keys);
  } while (cursor !== '0');
}
