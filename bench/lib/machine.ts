// What the figures were measured on: they mean little without the cores, CPU and versions.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import os from 'node:os';
import { wrkVersion } from './load.js';
import { nginxVersion } from './nginx.js';

/** dist/bench/lib/ → the project root. */
const PROJECT_DIR = fileURLToPath(new URL('../../../', import.meta.url));

export interface Machine {
  cores: number;
  cpuModel: string;
  /** The CPU features sha256 and blake3 speeds depend on. */
  hashFlags: string[];
  totalMemoryBytes: number;
  kernel: string;
  node: string;
  uWebSocketsJs: string;
  lmdb: string;
  /** The HTTP load generator's version (load.ts). */
  wrk: string | null;
  nginx: string | null;
}

/** Read from node_modules directly: some packages (lmdb) do not export their package.json. */
function packageVersion(name: string): string {
  try {
    const pkg = JSON.parse(readFileSync(join(PROJECT_DIR, 'node_modules', name, 'package.json'), 'utf8')) as {
      name: string;
      version: string;
    };
    return pkg.name === name ? pkg.version : `${pkg.version} (${pkg.name})`;
  } catch {
    return 'not installed';
  }
}

function cpuModel(): string {
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('model name'));
    if (line) return line.slice(line.indexOf(':') + 1).trim();
  } catch {
    // Not Linux: fall through to what Node reports.
  }
  return os.cpus()[0]?.model ?? 'unknown';
}

function hashFlags(): string[] {
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('flags'));
    const flags = new Set(
      (line ?? '')
        .slice((line ?? '').indexOf(':') + 1)
        .trim()
        .split(/\s+/),
    );
    return ['sha_ni', 'avx2', 'avx512f'].filter((f) => flags.has(f));
  } catch {
    return [];
  }
}

export function describeMachine(): Machine {
  return {
    cores: os.cpus().length,
    cpuModel: cpuModel(),
    hashFlags: hashFlags(),
    totalMemoryBytes: os.totalmem(),
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    uWebSocketsJs: packageVersion('uWebSockets.js'),
    lmdb: packageVersion('lmdb'),
    wrk: wrkVersion(),
    nginx: nginxVersion(),
  };
}
