// Is the right file already there? Only a regular file of the right size is worth hashing;
// anything else (missing, wrong size, a symlink or directory in the way) must be written.
import { lstat } from 'node:fs/promises';
import { sha256File } from '../sha256-file.js';

export async function hasExpectedSize(path: string, size: number): Promise<boolean> {
  const info = await lstat(path).catch(() => null);
  return info?.isFile() === true && info.size === size;
}

export async function hasExpectedContent(
  path: string,
  digestHex: string,
  onBytes?: (n: number) => void,
  signal?: AbortSignal,
): Promise<boolean> {
  const { hex } = await sha256File(path, onBytes, signal);
  return hex === digestHex;
}
