// Is the right file already there? A same-size regular file is hashed to be sure; anything else
// (missing, wrong size, a symlink or directory in the way) means it must be written.
import { lstat } from 'node:fs/promises';
import { sha256File } from '../sha256-file.js';

export async function isAlreadyInPlace(path: string, size: number, digestHex: string, signal?: AbortSignal): Promise<boolean> {
  const info = await lstat(path).catch(() => null);
  if (!info?.isFile() || info.size !== size) return false;
  const { hex } = await sha256File(path, undefined, signal);
  return hex === digestHex;
}
