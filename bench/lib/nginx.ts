// nginx as a baseline: a generated config on a loopback port, every path (pid, logs, temp dirs)
// under bench/.work so it runs without touching the system's nginx setup.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { stopChild, track } from './children.js';
import { freePort, waitForHttp } from './net.js';

export const NGINX_MISSING = 'nginx not installed: apt-get install nginx-light (or nginx)';

/**
 * One worker by default: modelgate serves from one event loop, and on a 2-core machine a second
 * nginx worker would mostly take CPU from the load generator. BENCH_NGINX_WORKERS overrides.
 */
export const NGINX_WORKERS = process.env.BENCH_NGINX_WORKERS ?? '1';

export function findNginx(): string | null {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin', '/usr/local/nginx/sbin'];
  for (const dir of dirs) {
    const candidate = join(dir, 'nginx');
    if (dir && existsSync(candidate)) return candidate;
  }
  return null;
}

export function nginxVersion(): string | null {
  const bin = findNginx();
  if (!bin) return null;
  // nginx prints its version on stderr.
  const result = spawnSync(bin, ['-v'], { encoding: 'utf8' });
  const text = `${result.stderr ?? ''}${result.stdout ?? ''}`.trim();
  return text.includes('nginx version') ? text.replace('nginx version: ', '') : null;
}

export interface NginxServer {
  port: number;
  /** The master's pid; its workers are its children (CpuMeter counts the whole tree). */
  pid: number;
  workers: string;
  stop(): Promise<void>;
}

function config(dir: string, root: string, port: number): string {
  return `worker_processes ${NGINX_WORKERS};
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  # The default (1000) would make nginx close load-generator connections that modelgate keeps.
  keepalive_requests 100000000;
  keepalive_timeout 120s;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  types { application/json json; application/octet-stream bin; }
  default_type application/octet-stream;
  server {
    listen 127.0.0.1:${port} reuseport;
    root ${root};
    location / { }
  }
}
`;
}

/** Starts nginx serving `root` (which must be readable by the nobody user when run as root). */
export async function startNginx(opts: { name: string; root: string; workDir: string; probePath: string }): Promise<NginxServer> {
  const bin = findNginx();
  if (!bin) throw new Error(NGINX_MISSING);
  const dir = join(opts.workDir, 'nginx', opts.name);
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const confPath = join(dir, 'nginx.conf');
  writeFileSync(confPath, config(dir, opts.root, port));
  const child = track(
    spawn(bin, ['-p', dir, '-e', join(dir, 'error.log'), '-c', confPath, '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] }),
  );
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code) => reject(new Error(`nginx exited with ${code}: ${stderr.trim()} (see ${dir}/error.log)`))),
  );
  await Promise.race([waitForHttp(port, opts.probePath), exited]);
  // Only a failed start matters; the exit that stop() causes later must not surface as an error.
  exited.catch(() => undefined);
  return {
    port,
    pid: child.pid!,
    workers: NGINX_WORKERS,
    stop: () => stopChild(child, 'SIGTERM'),
  };
}
