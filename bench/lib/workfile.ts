// Large random input files, written once under bench/.work and reused across runs (generating
// 1 GiB costs seconds; random bytes keep the bench honest against any compression or dedup).
import { createHash, randomFillSync } from 'node:crypto';
import {
  closeSync,
  existsSync,
  linkSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { basename, join } from 'node:path';

export interface WorkFile {
  path: string;
  size: number;
  sha256: string;
}

const CHUNK = 1 << 20;

/** bench/.work/<name>, `mib` MiB of random bytes, with its sha256 kept beside it in <name>.sha256. */
export function ensureRandomFile(workDir: string, name: string, mib: number, log: (m: string) => void): WorkFile {
  const path = join(workDir, name);
  const digestPath = `${path}.sha256`;
  const size = mib * CHUNK;
  if (existsSync(path) && existsSync(digestPath) && statSync(path).size === size) {
    return { path, size, sha256: readFileSync(digestPath, 'utf8').trim() };
  }
  log(`  writing ${mib} MiB of random bytes to ${path} (once; reused by later runs)`);
  const partial = `${path}.partial`;
  const fd = openSync(partial, 'w');
  const hash = createHash('sha256');
  const chunk = Buffer.allocUnsafe(CHUNK);
  try {
    for (let i = 0; i < mib; i++) {
      randomFillSync(chunk);
      hash.update(chunk);
      writeSync(fd, chunk);
    }
  } finally {
    closeSync(fd);
  }
  const sha256 = hash.digest('hex');
  renameSync(partial, path);
  writeFileSync(digestPath, `${sha256}\n`);
  return { path, size, sha256 };
}

/**
 * A hard link to `file` inside `dir` (a web root for nginx), so a baseline reads the very bytes
 * modelgate serves from the same disk. Relinked if the input was regenerated since.
 */
export function linkInto(dir: string, file: WorkFile): string {
  mkdirSync(dir, { recursive: true });
  const link = join(dir, basename(file.path));
  if (existsSync(link) && statSync(link).ino !== statSync(file.path).ino) unlinkSync(link);
  if (!existsSync(link)) linkSync(file.path, link);
  return link;
}
